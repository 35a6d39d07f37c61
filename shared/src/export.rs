//! The trail as exported: JSON lines, one header, then every event in order with each signed
//! checkpoint right after the event that completes it. What is hashed and what is signed is
//! defined here, so the server that writes and the verifier that reads agree byte for byte.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::merkle::{Hash, leaf_hash};

/// The first line's `format`.
pub const FORMAT: &str = "changeaudit-trail";
pub const VERSION: u32 = 1;

/// The export's first line: what it is, and the key its checkpoints claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub version: u32,
    /// The Ed25519 public key of the checkpoints, hex; a verifier trusts its own copy instead.
    pub public_key: String,
    pub key_id: String,
    /// Milliseconds since the Unix epoch.
    pub exported_at: i64,
}

/// A signed statement of the trail's Merkle tree: its first `tree_size` events hash to `root`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Checkpoint {
    pub tree_size: u64,
    /// The RFC 6962 root, hex.
    pub root: String,
    /// When it was made, milliseconds since the Unix epoch.
    pub at: i64,
    /// The signing key's ID (`key_id`).
    pub key_id: String,
    /// Ed25519 over `signed_text()`, hex.
    pub signature: String,
}

impl Checkpoint {
    /// The exact bytes signed: four lines, so a person can read what a signature vouches for.
    pub fn signed_text(&self) -> String {
        signed_text(self.tree_size, &self.root, self.at)
    }
}

/// What a checkpoint of `tree_size` events with `root` made at `at` signs.
pub fn signed_text(tree_size: u64, root: &str, at: i64) -> String {
    format!("changeaudit checkpoint v1\n{tree_size}\n{root}\n{at}\n")
}

/// A key's ID: the first 16 hex digits of the SHA-256 of its 32 public-key bytes.
pub fn key_id(public_key: &[u8; 32]) -> String {
    crate::trail::hex(&Sha256::digest(public_key)[..8])
}

/// An event's leaf in the Merkle tree: its chain hash (32 bytes) as the leaf's data.
pub fn event_leaf(hash: &Hash) -> Hash {
    leaf_hash(hash)
}

/// One line of an export.
#[derive(Debug, Deserialize)]
pub struct Line<'a> {
    #[serde(borrow, default)]
    pub event: Option<EventFields<'a>>,
    #[serde(default)]
    pub hash: Option<&'a str>,
    #[serde(default)]
    pub checkpoint: Option<Checkpoint>,
    #[serde(default)]
    pub header: Option<Header>,
}

/// An event as read from an export, its details left as written: the canonical text is
/// rebuilt from these parts without parsing the details.
#[derive(Debug, Deserialize)]
pub struct EventFields<'a> {
    pub seq: i64,
    pub at: i64,
    #[serde(borrow)]
    pub actor: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    pub action: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    pub object: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    pub details: &'a RawValue,
    pub prev_hash: &'a str,
}

impl EventFields<'_> {
    /// Writes the canonical form (see `trail::AuditEvent::canonical`) into `out`, taking the
    /// details as they are written; they are canonical when the server wrote them.
    pub fn canonical_into(&self, out: &mut Vec<u8>) {
        canonical_into(
            out,
            &self.action,
            &self.actor,
            self.at,
            self.details.get(),
            self.object.as_deref(),
            self.prev_hash,
            self.seq,
        );
    }
}

/// The canonical form of an event from its parts, `details` being JSON text already in
/// canonical form (sorted keys, no whitespace) as the database keeps it.
#[allow(clippy::too_many_arguments)] // the seven fields of an event, in canonical order
pub fn canonical_into(
    out: &mut Vec<u8>,
    action: &str,
    actor: &str,
    at: i64,
    details: &str,
    object: Option<&str>,
    prev_hash: &str,
    seq: i64,
) {
    // Writing JSON into a Vec cannot fail.
    let string = |out: &mut Vec<u8>, text: &str| {
        let _ = serde_json::to_writer(&mut *out, text);
    };
    out.clear();
    out.extend_from_slice(b"{\"action\":");
    string(out, action);
    out.extend_from_slice(b",\"actor\":");
    string(out, actor);
    out.extend_from_slice(b",\"at\":");
    number(out, at);
    out.extend_from_slice(b",\"details\":");
    out.extend_from_slice(details.as_bytes());
    out.extend_from_slice(b",\"object\":");
    match object {
        Some(object) => string(out, object),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"prev_hash\":");
    string(out, prev_hash);
    out.extend_from_slice(b",\"seq\":");
    number(out, seq);
    out.push(b'}');
}

/// Writes `value` in decimal, as JSON writes an integer.
fn number(out: &mut Vec<u8>, value: i64) {
    use std::io::Write;
    // Writing into a Vec cannot fail.
    let _ = write!(out, "{value}");
}

/// An event's line: `{"event":<canonical form>,"hash":"<hex>"}`.
pub fn event_line(canonical: &str, hash: &str) -> String {
    format!("{{\"event\":{canonical},\"hash\":\"{hash}\"}}")
}

/// A checkpoint's line.
pub fn checkpoint_line(checkpoint: &Checkpoint) -> String {
    serde_json::json!({ "checkpoint": checkpoint }).to_string()
}

/// The header line.
pub fn header_line(header: &Header) -> String {
    serde_json::json!({ "header": header }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trail::{AuditEvent, GENESIS};

    fn event() -> AuditEvent {
        AuditEvent {
            seq: 7,
            at: 1_700_000_000_123,
            actor: "ädmin \"quoted\"".into(),
            action: "user.created".into(),
            object: Some("user:7".into()),
            details: serde_json::json!({"z": [1, 2.5, null], "a": {"y": "\u{1}", "b": "é"}}),
            prev_hash: GENESIS.into(),
        }
    }

    #[test]
    fn the_rebuilt_canonical_form_is_the_one_the_chain_hashes() {
        let event = event();
        let line = event_line(&event.canonical(), &event.hash());
        let parsed: Line = serde_json::from_str(&line).unwrap();
        let fields = parsed.event.unwrap();
        let mut rebuilt = Vec::new();
        fields.canonical_into(&mut rebuilt);
        assert_eq!(
            String::from_utf8(rebuilt.clone()).unwrap(),
            event.canonical()
        );
        assert_eq!(parsed.hash, Some(event.hash().as_str()));

        let mut without_object = event.clone();
        without_object.object = None;
        let line = event_line(&without_object.canonical(), &without_object.hash());
        let parsed: Line = serde_json::from_str(&line).unwrap();
        parsed.event.unwrap().canonical_into(&mut rebuilt);
        assert_eq!(
            String::from_utf8(rebuilt).unwrap(),
            without_object.canonical()
        );
    }

    #[test]
    fn a_checkpoint_signs_four_readable_lines_and_round_trips() {
        let checkpoint = Checkpoint {
            tree_size: 3,
            root: "ab".repeat(32),
            at: 5,
            key_id: key_id(&[7; 32]),
            signature: "00".repeat(64),
        };
        assert_eq!(
            checkpoint.signed_text(),
            format!("changeaudit checkpoint v1\n3\n{}\n5\n", "ab".repeat(32))
        );
        let line = checkpoint_line(&checkpoint);
        let parsed: Line = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed.checkpoint, Some(checkpoint));
        assert!(parsed.event.is_none());
        assert_eq!(key_id(&[7; 32]).len(), 16);
    }
}
