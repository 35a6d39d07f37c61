//! A change's evidence bundle, as written and as read: everything about one change that a
//! verifier checks alone, with the trail's public key and nothing else. JSON lines:
//!
//! - `{"bundle":{"format":"changeaudit-evidence","version":2,"change_id",…,"manifest","signature"}}`
//! - `{"checkpoint":{…}}`, the signed checkpoint every proof below leads to;
//! - `{"proved":{"event":<canonical form>,"hash","proof":[…]}}` for each of the change's events,
//!   its requests' and sessions' events, and the `passkey.registered` events of the passkeys
//!   that signed its approvals, each with its inclusion proof;
//! - `{"recording":{"session","name","cast"}}` for each session, the recording as text;
//! - `{"board":{"session","report"}}` for each session under the change.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::trail::hex;

pub const FORMAT: &str = "changeaudit-evidence";
/// Version 2 boards list the lines held at Enter (`"status":"held"`); verifiers read 1 and 2.
pub const VERSION: u32 = 2;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BundleHeader {
    pub format: String,
    pub version: u32,
    pub change_id: String,
    pub public_key: String,
    pub key_id: String,
    pub exported_at: i64,
    /// The SHA-256 of the list of the bundle's events, `<seq>:<hash>\n` each in order: what
    /// the server put in, so nothing can be left out.
    pub manifest: String,
    /// Ed25519, by the trail's key, over `manifest_text`.
    pub signature: String,
}

/// What a bundle's signature vouches for, its version included: a bundle cannot be passed off
/// as of an earlier version, checked less.
pub fn manifest_text(version: u32, change_id: &str, tree_size: u64, manifest: &str) -> String {
    format!("changeaudit evidence v{version}\n{change_id}\n{tree_size}\n{manifest}\n")
}

/// The digest of the list of events, `(seq, hash)` in order.
pub fn manifest_of<'a>(events: impl IntoIterator<Item = (i64, &'a str)>) -> String {
    let mut hasher = Sha256::new();
    for (seq, hash) in events {
        hasher.update(format!("{seq}:{hash}\n").as_bytes());
    }
    hex(&hasher.finalize())
}

/// What a bundle was found to hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BundleSummary {
    pub change_id: String,
    pub events: u64,
    pub recordings: u64,
    pub assertions: u64,
    pub boards: u64,
    pub tree_size: u64,
}

impl std::fmt::Display for BundleSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "evidence of {}: {} events proved in the trail of {} events under its signed checkpoint, {} recordings, {} approval signatures, {} boards",
            self.change_id,
            self.events,
            self.tree_size,
            self.recordings,
            self.assertions,
            self.boards
        )
    }
}
