//! Verifying an exported trail with nothing but the export and the trail's public key: the hash
//! chain, the Merkle root under every checkpoint and its signature, and each approval's passkey
//! signature against the key its `passkey.registered` event recorded. Recordings are the
//! caller's to read: when asked to, the verifier names each recording a `session.ended` event
//! sealed, and the caller hands back its digest. The first fault is named by its event.
//!
//! Lines are given one at a time and nothing grows with the trail but two small maps (sessions
//! with recordings, passkeys), so a trail of any length verifies in constant memory.

use std::collections::HashMap;

use ed25519_dalek::VerifyingKey;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::assertion::{StoredAssertion, check_vote};
use super::key_chain::{KeyChain, ROTATION};
use super::keys::checkpoint_signed;
use super::{Fault, Summary};
use crate::export::{Checkpoint, EventFields, FORMAT, Line, VERSION, event_leaf};
use crate::merkle::{Frontier, Hash, parse_hash};
use crate::trail::{GENESIS, hex};

/// A recording a `session.ended` event sealed: the caller reads it and reports its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedRecording {
    pub seq: i64,
    pub name: String,
    /// The SHA-256 sealed when the session ended, hex.
    pub sha256: String,
}

/// Events whose details are checked further: recordings, approval signatures, and the trail
/// key's rotations.
const FACT_ACTIONS: [&str; 5] = [
    "session.started",
    "session.ended",
    "passkey.registered",
    "request.vote",
    ROTATION,
];

pub struct ExportVerifier {
    /// The trail's keys, from the one given on.
    keys: KeyChain,
    /// A checkpoint kept apart from the server earlier: the trail must be its continuation.
    trusted: Option<Checkpoint>,
    /// Whether the caller reads recordings: then each sealed one is named.
    with_recordings: bool,
    line: u64,
    header_seen: bool,
    next_seq: i64,
    previous: Hash,
    /// The previous event's hash as the export wrote it, for the fast path's comparison.
    previous_hex: String,
    frontier: Frontier,
    last_checkpoint: u64,
    canonical: Vec<u8>,
    /// A sealed recording named to the caller and not yet reported back.
    unreported: Option<i64>,
    /// Session object → recording name, from `session.started`.
    sessions: HashMap<String, String>,
    /// Passkey credential ID → who registered it and its public key, from `passkey.registered`.
    passkeys: HashMap<String, (String, Value)>,
    summary: Summary,
}

impl ExportVerifier {
    pub fn new(public_key: VerifyingKey, with_recordings: bool) -> ExportVerifier {
        ExportVerifier {
            keys: KeyChain::new(public_key),
            trusted: None,
            with_recordings,
            line: 0,
            header_seen: false,
            next_seq: 1,
            previous: [0; 32],
            previous_hex: GENESIS.to_owned(),
            frontier: Frontier::default(),
            last_checkpoint: 0,
            canonical: Vec::with_capacity(1024),
            unreported: None,
            sessions: HashMap::new(),
            passkeys: HashMap::new(),
            summary: Summary::default(),
        }
    }

    /// Holds the trail to `checkpoint`, taken earlier and kept apart from the server: the
    /// events up to its size must hash to its root, which a history rewritten and signed again
    /// since cannot.
    pub fn trusting(mut self, checkpoint: Checkpoint) -> ExportVerifier {
        self.trusted = Some(checkpoint);
        self
    }

    fn fault(&self, seq: Option<i64>, reason: impl Into<String>) -> Fault {
        Fault {
            seq,
            line: self.line,
            reason: reason.into(),
        }
    }

    /// Verifies the next line of the export. When it ends a session whose recording is to be
    /// checked, answers which; the caller reports its digest with `recording` before going on.
    pub fn line(&mut self, text: &str) -> Result<Option<SealedRecording>, Fault> {
        self.reported()?;
        self.line += 1;
        if text.trim().is_empty() {
            return Ok(None);
        }
        if self.header_seen
            && let Some(event) = Exact::of(text)
            && self.exact(&event)
        {
            self.at_trusted()?;
            return Ok(None);
        }
        let line: Line = serde_json::from_str(text).map_err(|error| {
            self.fault(None, format!("is not a line of a trail export: {error}"))
        })?;
        if let Some(header) = line.header {
            if self.line != 1 || header.format != FORMAT || header.version != VERSION {
                return Err(self.fault(
                    None,
                    format!("expected the header of a {FORMAT} export, version {VERSION}, as the first line only"),
                ));
            }
            self.header_seen = true;
            return Ok(None);
        }
        if !self.header_seen {
            return Err(self.fault(None, "the export has no header line"));
        }
        if let Some(checkpoint) = line.checkpoint {
            self.checkpoint(&checkpoint)?;
            return Ok(None);
        }
        match (line.event, line.hash) {
            (Some(event), Some(hash)) => {
                let sealed = self.event(&event, hash)?;
                self.at_trusted()?;
                Ok(sealed)
            }
            _ => Err(self.fault(None, "is neither an event with its hash nor a checkpoint")),
        }
    }

    /// At the trusted checkpoint's size: its signature under the key then in force, and the
    /// root of the events so far against the one it signed.
    fn at_trusted(&mut self) -> Result<(), Fault> {
        let Some(trusted) = &self.trusted else {
            return Ok(());
        };
        let size = trusted.tree_size;
        if self.frontier.size() != size {
            return Ok(());
        }
        let seq = i64::try_from(size).unwrap_or(i64::MAX);
        let signed = self
            .keys
            .known(&trusted.key_id)
            .is_some_and(|key| checkpoint_signed(key, trusted));
        if !signed {
            return Err(self.fault(
                Some(seq),
                format!(
                    "the trusted checkpoint of {size} events is not signed by a key of this trail (it names key {})",
                    trusted.key_id
                ),
            ));
        }
        if hex(&self.frontier.root()) != trusted.root {
            return Err(self.fault(
                Some(seq),
                format!(
                    "the trusted checkpoint of {size} events (root {}) is not a past state of this trail: events up to {size} were rewritten since it was taken",
                    trusted.root
                ),
            ));
        }
        self.summary.trusted_checkpoint = Some(size);
        Ok(())
    }

    /// An event the full way: its place in the chain, its hash, then what it says.
    fn event(
        &mut self,
        event: &EventFields<'_>,
        hash: &str,
    ) -> Result<Option<SealedRecording>, Fault> {
        let seq = event.seq;
        if seq != self.next_seq {
            return Err(self.fault(
                Some(seq),
                format!(
                    "expected event {} here (one is missing or out of order)",
                    self.next_seq
                ),
            ));
        }
        let previous = parse_hash(event.prev_hash);
        let expected_previous = if seq == 1 {
            parse_hash(GENESIS)
        } else {
            Some(self.previous)
        };
        if previous.is_none() || previous != expected_previous {
            return Err(self.fault(
                Some(seq),
                "its previous-event hash does not match the event before it",
            ));
        }
        let stored =
            parse_hash(hash).ok_or_else(|| self.fault(Some(seq), "its hash is not hex"))?;
        event.canonical_into(&mut self.canonical);
        let computed: Hash = Sha256::digest(&self.canonical).into();
        if computed != stored && !matches_reformatted(event, &stored) {
            return Err(self.fault(Some(seq), "its content does not match its hash"));
        }
        self.chain(stored, None);
        let action: &str = &event.action;
        if !FACT_ACTIONS.contains(&action) {
            return Ok(None);
        }
        let details: Value = serde_json::from_str(event.details.get())
            .map_err(|_| self.fault(Some(seq), "its details are not JSON"))?;
        let object = event.object.as_deref().unwrap_or_default();
        self.facts(seq, action, &event.actor, object, &details)
    }

    /// Takes an event whose hash holds into the chain and the tree.
    fn chain(&mut self, hash: Hash, written: Option<&str>) {
        self.frontier.push(event_leaf(&hash), |_, _, _| {});
        self.previous = hash;
        self.previous_hex.clear();
        match written {
            Some(text) => self.previous_hex.push_str(text),
            None => self.previous_hex.push_str(&hex(&hash)),
        }
        self.next_seq += 1;
        self.summary.events += 1;
    }

    /// The fast path: an event line exactly as the exporter writes it, whose canonical bytes
    /// are hashed as they stand. Answers whether it was accepted; anything else (a fault, an
    /// event whose details are checked, a line re-encoded) goes the full way, which also gives
    /// the fault its words.
    fn exact(&mut self, event: &Exact<'_>) -> bool {
        if event.seq != self.next_seq
            || event.prev_hash != self.previous_hex
            || FACT_ACTIONS.contains(&event.action)
        {
            return false;
        }
        let Some(stored) = parse_hash(event.hash) else {
            return false;
        };
        if <Hash>::from(Sha256::digest(event.canonical.as_bytes())) != stored {
            return false;
        }
        self.chain(stored, Some(event.hash));
        true
    }

    /// The checks that follow from what an event says.
    fn facts(
        &mut self,
        seq: i64,
        action: &str,
        actor: &str,
        object: &str,
        details: &Value,
    ) -> Result<Option<SealedRecording>, Fault> {
        match action {
            "session.started" => {
                if let Some(name) = details["recording"].as_str() {
                    self.sessions.insert(object.to_owned(), name.to_owned());
                }
            }
            // A recording sealed at the session's end, or recovered whole after its replica died.
            "session.ended" | "session.recording_recovered" => {
                return self.sealed(seq, object, details);
            }
            "passkey.registered" => {
                if let Some(id) = details["credential_id"].as_str() {
                    let registered = (actor.to_owned(), details["public_key"].clone());
                    self.passkeys.insert(id.to_owned(), registered);
                }
            }
            "request.vote" => self.vote(seq, actor, object, details)?,
            ROTATION => self
                .keys
                .announce(seq, details)
                .map_err(|reason| self.fault(Some(seq), reason))?,
            _ => {}
        }
        Ok(None)
    }

    /// The recording a session's end sealed, when recordings are checked.
    fn sealed(
        &mut self,
        seq: i64,
        object: &str,
        details: &Value,
    ) -> Result<Option<SealedRecording>, Fault> {
        let Some(sealed) = details["recording_sha256"].as_str() else {
            return Ok(None);
        };
        if !self.with_recordings {
            return Ok(None);
        }
        let Some(name) = self.sessions.get(object) else {
            return Err(self.fault(
                Some(seq),
                format!("{object} ended, but the trail never saw it start"),
            ));
        };
        self.unreported = Some(seq);
        Ok(Some(SealedRecording {
            seq,
            name: name.clone(),
            sha256: sealed.to_owned(),
        }))
    }

    /// The digest the caller found for a sealed recording (or why it could not be read).
    pub fn recording(
        &mut self,
        sealed: &SealedRecording,
        digest: Result<String, String>,
    ) -> Result<(), Fault> {
        self.unreported = None;
        let name = &sealed.name;
        let digest = digest.map_err(|error| {
            self.fault(
                Some(sealed.seq),
                format!("its recording {name} cannot be read: {error}"),
            )
        })?;
        if digest != sealed.sha256 {
            return Err(self.fault(
                Some(sealed.seq),
                format!(
                    "its recording {name} has SHA-256 {digest}, not the {} sealed when the session ended",
                    sealed.sha256
                ),
            ));
        }
        self.summary.recordings += 1;
        Ok(())
    }

    fn vote(&mut self, seq: i64, actor: &str, object: &str, details: &Value) -> Result<(), Fault> {
        let assertion = &details["assertion"];
        if assertion.is_null() {
            return Ok(());
        }
        let stored: StoredAssertion = serde_json::from_value(assertion.clone())
            .map_err(|_| self.fault(Some(seq), "its approval's assertion is unreadable"))?;
        let registered = self
            .passkeys
            .get(&stored.credential_id)
            .map(|(owner, key)| (owner.as_str(), key));
        check_vote(
            &stored,
            request_of(object),
            details["change_digest"].as_str().unwrap_or_default(),
            actor,
            registered,
        )
        .map_err(|reason| self.fault(Some(seq), reason))?;
        self.summary.assertions += 1;
        Ok(())
    }

    fn checkpoint(&mut self, checkpoint: &Checkpoint) -> Result<(), Fault> {
        let covered = i64::try_from(checkpoint.tree_size).unwrap_or(i64::MAX);
        if checkpoint.tree_size != self.frontier.size() {
            return Err(self.fault(
                Some(covered),
                format!(
                    "a checkpoint of {} events stands after event {}",
                    checkpoint.tree_size,
                    self.frontier.size()
                ),
            ));
        }
        if let Err(reason) = self.keys.checkpoint(checkpoint) {
            return Err(self.fault(Some(covered), reason));
        }
        let root = hex(&self.frontier.root());
        if root != checkpoint.root {
            return Err(self.fault(Some(covered), format!(
                "the events up to it do not have the root its checkpoint signed: one of events {} to {covered} was changed, removed or reordered",
                self.last_checkpoint + 1
            )));
        }
        self.last_checkpoint = checkpoint.tree_size;
        self.summary.checkpoints += 1;
        self.summary.key_rotations = self.keys.rotations();
        self.summary.key_id = self.keys.current_id().to_owned();
        self.summary.root = root;
        Ok(())
    }

    /// A recording named to the caller is reported back before anything else is verified:
    /// one left unchecked would otherwise pass unnoticed.
    fn reported(&self) -> Result<(), Fault> {
        match self.unreported {
            Some(seq) => Err(self.fault(Some(seq), "its recording was never checked")),
            None => Ok(()),
        }
    }

    pub fn finish(self) -> Result<Summary, Fault> {
        self.reported()?;
        if !self.header_seen {
            return Err(self.fault(None, "the export is empty"));
        }
        if self.frontier.size() == 0 {
            return Err(self.fault(None, "the export holds no event"));
        }
        if let Some(trusted) = &self.trusted
            && self.frontier.size() < trusted.tree_size
        {
            return Err(self.fault(
                None,
                format!(
                    "the export holds {} events, fewer than the {} of the trusted checkpoint: events were removed since it was taken",
                    self.frontier.size(),
                    trusted.tree_size
                ),
            ));
        }
        // An export ends with a checkpoint over all it holds: events after the last signature
        // could have been added, and events cut off after it would go unnoticed otherwise.
        let unsigned = self.frontier.size() - self.last_checkpoint;
        if unsigned > 0 {
            let first = i64::try_from(self.last_checkpoint).unwrap_or(i64::MAX) + 1;
            return Err(self.fault(
                Some(first),
                format!(
                    "the last {unsigned} events, from this one on, are under no signed checkpoint"
                ),
            ));
        }
        Ok(self.summary)
    }
}

/// The request a vote's object names (`request:<id>`).
pub(super) fn request_of(object: &str) -> i64 {
    object
        .strip_prefix("request:")
        .and_then(|id| id.parse().ok())
        .unwrap_or_default()
}

/// The same event with its details brought to canonical form, for an export whose JSON was
/// re-encoded (its keys reordered or spaced) without changing what it says.
fn matches_reformatted(event: &EventFields<'_>, stored: &Hash) -> bool {
    let Ok(details) = serde_json::from_str::<Value>(event.details.get()) else {
        return false;
    };
    let mut canonical = Vec::new();
    crate::export::canonical_into(
        &mut canonical,
        &event.action,
        &event.actor,
        event.at,
        &details.to_string(),
        event.object.as_deref(),
        event.prev_hash,
        event.seq,
    );
    <Hash>::from(Sha256::digest(&canonical)) == *stored
}

/// An event line in the exporter's exact shape:
/// `{"event":{"action":"…",…,"prev_hash":"<64 hex>","seq":N},"hash":"<64 hex>"}`. In the
/// canonical form `prev_hash` and `seq` are always the last two keys, so they are read from
/// the end, where nothing in the details can reach.
struct Exact<'a> {
    canonical: &'a str,
    hash: &'a str,
    action: &'a str,
    prev_hash: &'a str,
    seq: i64,
}

impl<'a> Exact<'a> {
    fn of(line: &'a str) -> Option<Exact<'a>> {
        let rest = line.strip_prefix("{\"event\":")?;
        let (canonical, hash) = rest.split_at_checked(rest.len().checked_sub(75)?)?;
        let hash = hash.strip_prefix(",\"hash\":\"")?.strip_suffix("\"}")?;
        let body = canonical.strip_suffix('}')?;
        // Read from the end by position: `…,"prev_hash":"<64 hex>","seq":<digits>`.
        let digits = body.len() - body.bytes().rev().take_while(u8::is_ascii_digit).count();
        let (before_seq, seq) = body.split_at(digits);
        if seq.is_empty() || seq.len() > 18 {
            return None;
        }
        let before_hash = before_seq.strip_suffix("\",\"seq\":")?;
        let (before_prev, prev_hash) =
            before_hash.split_at_checked(before_hash.len().checked_sub(64)?)?;
        before_prev.strip_suffix(",\"prev_hash\":\"")?;
        let action = canonical.strip_prefix("{\"action\":\"")?;
        let action = &action[..action.find('"')?];
        if action.contains('\\') {
            return None;
        }
        Some(Exact {
            canonical,
            hash,
            action,
            prev_hash,
            seq: seq.parse().ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signer, SigningKey};

    use super::*;
    use crate::export::{
        Header, canonical_into, checkpoint_line, event_line, header_line, key_id, signed_text,
    };

    /// An export of `n` events with a checkpoint after the last, as the server writes it.
    fn export(key: &SigningKey, n: i64) -> Vec<String> {
        let header = Header {
            format: FORMAT.to_owned(),
            version: VERSION,
            public_key: hex(&key.verifying_key().to_bytes()),
            key_id: key_id(&key.verifying_key().to_bytes()),
            exported_at: 0,
        };
        let mut lines = vec![header_line(&header)];
        let (mut previous, mut frontier, mut canonical) =
            (GENESIS.to_owned(), Frontier::default(), Vec::new());
        for seq in 1..=n {
            let details = format!("{{\"a\":{seq},\"b\":{{\"c\":\"d e\"}}}}");
            canonical_into(
                &mut canonical,
                "user.updated",
                "admin",
                seq,
                &details,
                None,
                &previous,
                seq,
            );
            let hash: Hash = Sha256::digest(&canonical).into();
            lines.push(event_line(
                std::str::from_utf8(&canonical).unwrap(),
                &hex(&hash),
            ));
            frontier.push(event_leaf(&hash), |_, _, _| {});
            previous = hex(&hash);
        }
        let root = hex(&frontier.root());
        let size = u64::try_from(n).unwrap();
        lines.push(checkpoint_line(&Checkpoint {
            tree_size: size,
            signature: hex(&key.sign(signed_text(size, &root, 9).as_bytes()).to_bytes()),
            root,
            at: 9,
            key_id: key_id(&key.verifying_key().to_bytes()),
        }));
        lines
    }

    fn verify(key: &SigningKey, lines: &[String]) -> Result<Summary, Fault> {
        let mut verifier = ExportVerifier::new(key.verifying_key(), false);
        for line in lines {
            assert_eq!(verifier.line(line)?, None);
        }
        verifier.finish()
    }

    #[test]
    fn an_export_re_encoded_without_changing_what_it_says_still_verifies() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let mut lines = export(&key, 5);
        assert_eq!(verify(&key, &lines).unwrap().checkpoints, 1);
        // Pretty-printed, its keys in another order: the fast path declines, the full one agrees.
        for line in &mut lines[1..6] {
            let value: Value = serde_json::from_str(line).unwrap();
            *line = format!(
                "{{ \"hash\": {}, \"event\": {} }}",
                value["hash"],
                serde_json::to_string_pretty(&value["event"])
                    .unwrap()
                    .replace('\n', " ")
            );
        }
        let summary = verify(&key, &lines).unwrap();
        assert_eq!((summary.events, summary.checkpoints), (5, 1));
    }

    #[test]
    fn the_fast_path_and_the_full_one_name_the_same_fault() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let lines = export(&key, 5);
        let mut changed = lines.clone();
        changed[3] = changed[3].replace("\"d e\"", "\"d f\"");
        let fault = verify(&key, &changed).unwrap_err();
        assert_eq!((fault.seq, fault.line), (Some(3), 4));
        assert_eq!(fault.reason, "its content does not match its hash");

        let mut missing = lines.clone();
        missing.remove(2);
        let fault = verify(&key, &missing).unwrap_err();
        assert_eq!(fault.seq, Some(3));
        assert!(fault.reason.contains("expected event 2"), "{fault}");

        let mut headless = lines;
        headless.remove(0);
        assert!(
            verify(&key, &headless)
                .unwrap_err()
                .reason
                .contains("no header")
        );
    }

    #[test]
    fn a_recording_named_to_the_caller_must_be_reported_before_going_on() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let lines = export(&key, 2);
        let mut verifier = ExportVerifier::new(key.verifying_key(), true);
        verifier.line(&lines[0]).unwrap();
        verifier.unreported = Some(7);
        let fault = verifier.line(&lines[1]).unwrap_err();
        assert_eq!(fault.seq, Some(7));
        assert!(fault.reason.contains("never checked"), "{fault}");
        let fault = verifier.finish().unwrap_err();
        assert!(fault.reason.contains("never checked"), "{fault}");
    }

    /// A trail written event by event, its checkpoints signed by whichever key a test says.
    #[derive(Clone)]
    struct Trail {
        lines: Vec<String>,
        previous: String,
        frontier: Frontier,
        seq: i64,
    }

    impl Trail {
        fn new(key: &SigningKey) -> Trail {
            let mut lines = export(key, 0);
            lines.truncate(1);
            Trail {
                lines,
                previous: GENESIS.to_owned(),
                frontier: Frontier::default(),
                seq: 0,
            }
        }

        fn event(&mut self, action: &str, details: &str) {
            self.seq += 1;
            let mut canonical = Vec::new();
            let (seq, previous) = (self.seq, self.previous.clone());
            canonical_into(
                &mut canonical,
                action,
                "system",
                seq,
                details,
                None,
                &previous,
                seq,
            );
            let hash: Hash = Sha256::digest(&canonical).into();
            self.lines.push(event_line(
                std::str::from_utf8(&canonical).unwrap(),
                &hex(&hash),
            ));
            self.frontier.push(event_leaf(&hash), |_, _, _| {});
            self.previous = hex(&hash);
        }

        fn events(&mut self, count: usize) {
            for n in 0..count {
                self.event("user.updated", &format!("{{\"n\":{n}}}"));
            }
        }

        /// Announces `next` as the key after `current`.
        fn rotate(&mut self, current: &SigningKey, next: &SigningKey) {
            let id = |key: &SigningKey| key_id(&key.verifying_key().to_bytes());
            let details = serde_json::json!({
                "key_id": id(next),
                "previous_key_id": id(current),
                "previous_public_key": hex(&current.verifying_key().to_bytes()),
                "public_key": hex(&next.verifying_key().to_bytes()),
            });
            self.event(ROTATION, &details.to_string());
        }

        fn checkpoint(&mut self, key: &SigningKey) -> Checkpoint {
            let root = hex(&self.frontier.root());
            let size = self.frontier.size();
            let checkpoint = Checkpoint {
                tree_size: size,
                signature: hex(&key.sign(signed_text(size, &root, 9).as_bytes()).to_bytes()),
                root,
                at: 9,
                key_id: key_id(&key.verifying_key().to_bytes()),
            };
            self.lines.push(checkpoint_line(&checkpoint));
            checkpoint
        }
    }

    fn verify_trusting(
        key: &SigningKey,
        lines: &[String],
        trusted: Checkpoint,
    ) -> Result<Summary, Fault> {
        let mut verifier = ExportVerifier::new(key.verifying_key(), false).trusting(trusted);
        for line in lines {
            verifier.line(line)?;
        }
        verifier.finish()
    }

    #[test]
    fn a_rotated_key_verifies_once_the_key_before_signed_its_announcement() {
        let (first, second) = (
            SigningKey::from_bytes(&[1; 32]),
            SigningKey::from_bytes(&[2; 32]),
        );
        let mut trail = Trail::new(&first);
        trail.events(3);
        trail.checkpoint(&first);
        trail.rotate(&first, &second);
        trail.checkpoint(&first);
        trail.events(2);
        trail.checkpoint(&second);
        let summary = verify(&first, &trail.lines).unwrap();
        assert_eq!((summary.checkpoints, summary.key_rotations), (3, 1));
        assert!(
            summary.to_string().contains("key changed 1 times"),
            "{summary}"
        );

        // After the rotation, the old key signs nothing more.
        let mut old_again = trail.clone();
        old_again.events(1);
        old_again.checkpoint(&first);
        let fault = verify(&first, &old_again.lines).unwrap_err();
        assert!(
            fault.reason.contains("which no key before it announced"),
            "{fault}"
        );
    }

    #[test]
    fn a_key_its_predecessor_did_not_announce_is_refused() {
        let (first, stranger) = (
            SigningKey::from_bytes(&[1; 32]),
            SigningKey::from_bytes(&[7; 32]),
        );
        let mut trail = Trail::new(&first);
        trail.events(3);
        trail.checkpoint(&first);
        trail.events(2);
        trail.checkpoint(&stranger);
        let fault = verify(&first, &trail.lines).unwrap_err();
        assert_eq!(fault.seq, Some(5));
        assert!(fault.reason.contains("not by the given key"), "{fault}");

        // Announced, but used before the key in force signed the announcement.
        let mut early = Trail::new(&first);
        early.events(2);
        early.rotate(&first, &stranger);
        early.checkpoint(&stranger);
        let fault = verify(&first, &early.lines).unwrap_err();
        assert!(
            fault.reason.contains("before a checkpoint of key"),
            "{fault}"
        );

        // An announcement that names another key than the one in force is refused where it stands.
        let mut crossed = Trail::new(&first);
        crossed.events(2);
        crossed.rotate(&stranger, &first);
        let fault = verify(&first, &crossed.lines).unwrap_err();
        assert_eq!(fault.seq, Some(3));
        assert!(fault.reason.contains("but the trail's key is"), "{fault}");
    }

    #[test]
    fn a_history_rewritten_and_signed_again_does_not_continue_a_trusted_checkpoint() {
        let key = SigningKey::from_bytes(&[1; 32]);
        let mut trail = Trail::new(&key);
        trail.events(5);
        let trusted = trail.checkpoint(&key);
        trail.events(3);
        trail.checkpoint(&key);
        let summary = verify_trusting(&key, &trail.lines, trusted.clone()).unwrap();
        assert_eq!(summary.trusted_checkpoint, Some(5));

        // Someone with the key rewrites event 3 and signs the whole again: alone it verifies.
        let mut forged = Trail::new(&key);
        forged.events(2);
        forged.event("user.updated", "{\"n\":\"rewritten\"}");
        forged.events(2);
        forged.checkpoint(&key);
        forged.events(3);
        forged.checkpoint(&key);
        verify(&key, &forged.lines).unwrap();
        let fault = verify_trusting(&key, &forged.lines, trusted.clone()).unwrap_err();
        assert_eq!(fault.seq, Some(5));
        assert!(
            fault.reason.contains("the trusted checkpoint of 5 events"),
            "{fault}"
        );
        assert!(
            fault.reason.contains("not a past state of this trail"),
            "{fault}"
        );

        // Cut short before it, the trail is caught too.
        let mut short = Trail::new(&key);
        short.events(3);
        short.checkpoint(&key);
        let fault = verify_trusting(&key, &short.lines, trusted.clone()).unwrap_err();
        assert!(
            fault
                .reason
                .contains("fewer than the 5 of the trusted checkpoint"),
            "{fault}"
        );

        // A trusted checkpoint whose signature was made up is no anchor.
        let mut made_up = trusted;
        made_up.signature = "00".repeat(64);
        let fault = verify_trusting(&key, &trail.lines, made_up).unwrap_err();
        assert!(
            fault.reason.contains("not signed by a key of this trail"),
            "{fault}"
        );
    }
}
