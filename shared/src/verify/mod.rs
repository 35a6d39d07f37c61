//! The offline verifier: what an auditor runs to check the trail without trusting the server.
//! It is pure (no files, no network, no clock), so the same code runs in `changeaudit verify`,
//! behind Admin → Audit trail, and in the browser on the Verify a bundle page.
//!
//! - `export`: a whole trail export, line by line: the hash chain, every checkpoint's Merkle
//!   root and signature, approvals' passkey signatures, and (read by the caller) recordings.
//! - `bundle`: one change's evidence bundle: each event proved in the signed trail, the signed
//!   list of its events, its approvals, recordings and boards.
//! - `assertion` and `cose`: an approval's passkey signature, checked with the key its
//!   registration recorded in the trail.
//! - `keys`: the trail's Ed25519 public key and its signatures; `key_chain`: the keys that
//!   follow the first, each announced in the trail and signed in by the key before it.
//! - `rfc6962`: the published Merkle vectors, and the verifier's check of itself against them.
//!
//! The Merkle tree (RFC 6962) and the canonical form of events are in `crate::merkle` and
//! `crate::export`, shared with the server that writes them.

pub mod assertion;
pub mod bundle;
mod cose;
pub mod export;
pub mod key_chain;
pub mod keys;
pub mod rfc6962;

use std::fmt;

pub use bundle::verify_bundle;
pub use export::{ExportVerifier, SealedRecording};

/// The first thing found wrong, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The event at fault (for a checkpoint, the last event it covers); `None` for the file
    /// itself.
    pub seq: Option<i64>,
    /// The line of the file, from 1; 0 when the fault is of the whole.
    pub line: u64,
    pub reason: String,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.seq, self.line) {
            (Some(seq), 0) => write!(f, "event {seq}: {}", self.reason),
            (Some(seq), line) => write!(f, "event {seq} (line {line}): {}", self.reason),
            (None, 0) => f.write_str(&self.reason),
            (None, line) => write!(f, "line {line}: {}", self.reason),
        }
    }
}

/// What a verification of an export found when nothing was wrong.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub events: u64,
    pub checkpoints: u64,
    pub recordings: u64,
    pub assertions: u64,
    pub root: String,
    /// How many times the trail's key changed, each announced by the key before.
    pub key_rotations: u64,
    /// The ID of the key in force at the end.
    pub key_id: String,
    /// The size of the trusted checkpoint the trail was found to continue, when one was given.
    pub trusted_checkpoint: Option<u64>,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let root = if self.root.is_empty() {
            "none"
        } else {
            &self.root
        };
        write!(
            f,
            "{} events verified: the chain, {} signed checkpoints (root {root}), {} recordings, {} approval signatures",
            self.events, self.checkpoints, self.recordings, self.assertions
        )?;
        if self.key_rotations > 0 {
            write!(
                f,
                "; the trail's key changed {} times, each announced by the key before",
                self.key_rotations
            )?;
        }
        if let Some(size) = self.trusted_checkpoint {
            write!(f, "; it continues the trusted checkpoint of {size} events")?;
        }
        Ok(())
    }
}
