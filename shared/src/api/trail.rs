//! Admin → Audit trail: the trail's key and latest checkpoint, proofs, and verification runs.

use serde::{Deserialize, Serialize};

use crate::export::Checkpoint;
use crate::trail::AuditEvent;

/// The trail at a glance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrailStatus {
    pub events: i64,
    /// The Ed25519 public key that verifies checkpoints, 64 hex digits.
    pub public_key: String,
    pub key_id: String,
    pub latest_checkpoint: Option<Checkpoint>,
    pub checkpoints: i64,
}

/// One event with the proof that it is in the tree of the latest checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventProof {
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub event: AuditEvent,
    /// The event's chain hash; its leaf is `SHA-256(0x00 ‖ these 32 bytes)`.
    pub hash: String,
    /// Its place among the leaves: `seq - 1`.
    pub leaf_index: u64,
    pub checkpoint: Checkpoint,
    /// The audit path (RFC 6962 `PATH`), from the leaf up, hex.
    pub proof: Vec<String>,
}

/// The proof that an older checkpoint's tree is a prefix of a newer one's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConsistencyProof {
    pub from: Checkpoint,
    pub to: Checkpoint,
    /// RFC 6962 `PROOF`, hex.
    pub proof: Vec<String>,
}

/// What a verification run found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Verification {
    pub ok: bool,
    /// In words: what was verified, or the first fault.
    pub summary: String,
    /// The event at fault, when one is.
    pub failed_seq: Option<i64>,
    pub events: u64,
    pub checkpoints: u64,
    pub recordings: u64,
    pub assertions: u64,
}
