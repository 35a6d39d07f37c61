//! The audit trail's events and their hash chain. Each event carries the SHA-256 of the one
//! before it; an event's hash covers its canonical form (JSON with sorted keys and no spaces),
//! so the server, the offline verifier and the browser all compute the same hash.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// 1, 2, 3… with no gap.
    pub seq: i64,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    /// Who did it: a username, or `system`.
    pub actor: String,
    /// What happened, e.g. `user.created`.
    pub action: String,
    /// What it happened to, e.g. `user:1`.
    pub object: Option<String>,
    /// Before and after, or other facts of the event; never a secret.
    pub details: serde_json::Value,
    pub prev_hash: String,
}

impl AuditEvent {
    /// The bytes that are hashed: the event as JSON with keys in order and no whitespace.
    pub fn canonical(&self) -> String {
        // serde_json's maps keep keys sorted, so `details` is canonical too.
        serde_json::to_value(self)
            .map(|value| value.to_string())
            .unwrap_or_default()
    }

    pub fn hash(&self) -> String {
        hex(&Sha256::digest(self.canonical().as_bytes()))
    }
}

/// Lowercase hex, as every digest the product shows.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why a chain does not verify, naming the first event at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    pub seq: i64,
    pub reason: String,
}

/// Checks events in order: sequence without gaps from 1, each `prev_hash` the hash of the event
/// before, and each stored hash the hash of the event's content.
pub fn verify_chain<'a>(
    events: impl IntoIterator<Item = (&'a AuditEvent, &'a str)>,
) -> Result<usize, ChainBreak> {
    let mut expected_prev = GENESIS.to_owned();
    let mut count = 0usize;
    for (event, stored_hash) in events {
        let expected_seq = i64::try_from(count).unwrap_or(i64::MAX) + 1;
        let fail = |reason: String| ChainBreak {
            seq: event.seq,
            reason,
        };
        if event.seq != expected_seq {
            return Err(fail(format!(
                "expected event {expected_seq} here (one is missing or out of order)"
            )));
        }
        if event.prev_hash != expected_prev {
            return Err(fail(
                "its previous-event hash does not match the event before it".to_owned(),
            ));
        }
        let hash = event.hash();
        if hash != stored_hash {
            return Err(fail("its content does not match its hash".to_owned()));
        }
        expected_prev = hash;
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<(AuditEvent, String)> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let event = AuditEvent {
                    seq,
                    at: 1_000 * seq,
                    actor: "admin".into(),
                    action: "user.created".into(),
                    object: Some(format!("user:{seq}")),
                    details: serde_json::json!({"z": 1, "a": {"y": true, "b": "x"}}),
                    prev_hash: prev.clone(),
                };
                let hash = event.hash();
                prev = hash.clone();
                (event, hash)
            })
            .collect()
    }

    fn verify(events: &[(AuditEvent, String)]) -> Result<usize, ChainBreak> {
        verify_chain(events.iter().map(|(event, hash)| (event, hash.as_str())))
    }

    #[test]
    fn the_canonical_form_has_sorted_keys_and_no_spaces() {
        let (event, _) = &chain(1)[0];
        assert_eq!(
            event.canonical(),
            format!(
                "{{\"action\":\"user.created\",\"actor\":\"admin\",\"at\":1000,\"details\":{{\"a\":{{\"b\":\"x\",\"y\":true}},\"z\":1}},\"object\":\"user:1\",\"prev_hash\":\"{GENESIS}\",\"seq\":1}}"
            )
        );
    }

    #[test]
    fn an_untouched_chain_verifies() {
        assert_eq!(verify(&chain(5)), Ok(5));
        assert_eq!(verify(&[]), Ok(0));
    }

    #[test]
    fn each_kind_of_tampering_names_the_first_event_at_fault() {
        let mut changed = chain(5);
        changed[2].0.details = serde_json::json!({"z": 2});
        assert_eq!(verify(&changed).unwrap_err().seq, 3);

        let mut removed = chain(5);
        removed.remove(1);
        let broken = verify(&removed).unwrap_err();
        assert_eq!(broken.seq, 3);
        assert!(
            broken.reason.contains("expected event 2"),
            "{}",
            broken.reason
        );

        let mut swapped = chain(5);
        swapped.swap(1, 2);
        assert_eq!(verify(&swapped).unwrap_err().seq, 3);

        let mut rehashed = chain(5);
        rehashed[3].0.actor = "mallory".into();
        rehashed[3].1 = rehashed[3].0.hash();
        let broken = verify(&rehashed).unwrap_err();
        assert_eq!(
            broken.seq, 5,
            "re-hashing one event breaks the link from the next"
        );
    }
}
