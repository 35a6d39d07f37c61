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

/// The filters of Admin → Activity (`GET /api/trail/activity` and its CSV).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct ActivityFilters {
    /// Who did it: a username, exactly, or `system`.
    pub actor: Option<String>,
    /// What happened: an action (`change.executed`) or its kind (`change`).
    pub action: Option<String>,
    /// What it happened to: an object (`change:CHG-42`) or its kind (`change`).
    pub object: Option<String>,
    /// On or after this day (`YYYY-MM-DD`, UTC).
    pub from: Option<String>,
    /// On or before this day (`YYYY-MM-DD`, UTC).
    pub to: Option<String>,
    /// Words anywhere in the event: actor, action, object or details.
    pub q: Option<String>,
    pub offset: Option<i64>,
    pub limit: Option<i64>,
}

/// One event of the trail as the activity log lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActivityEvent {
    pub seq: i64,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub object: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub details: serde_json::Value,
}

impl ActivityFilters {
    /// The filters as query pairs, the empty ones left out.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let text = [
            ("actor", &self.actor),
            ("action", &self.action),
            ("object", &self.object),
            ("from", &self.from),
            ("to", &self.to),
            ("q", &self.q),
        ];
        let mut pairs: Vec<(&'static str, String)> = text
            .into_iter()
            .filter_map(|(key, value)| {
                value
                    .as_deref()
                    .map(str::trim)
                    .filter(|value| !value.is_empty())
                    .map(|value| (key, value.to_owned()))
            })
            .collect();
        let paging = [("offset", self.offset), ("limit", self.limit)];
        pairs.extend(
            paging
                .into_iter()
                .filter_map(|(key, value)| value.map(|value| (key, value.to_string()))),
        );
        pairs
    }
}

impl EventProof {
    /// Checks what the proof itself can show, with no other help: the event's content hashes to
    /// its chain hash, and that hash is leaf `leaf_index` of the checkpoint's tree. Whether the
    /// checkpoint's signature is the trail's is the verifier's question (its key comes from
    /// elsewhere).
    pub fn check(&self) -> Result<(), String> {
        use crate::export::event_leaf;
        use crate::merkle::{parse_hash, verify_inclusion};
        if self.event.hash() != self.hash {
            return Err("the event's content does not match its hash".to_owned());
        }
        let unreadable = || "the proof holds a malformed hash".to_owned();
        let leaf = event_leaf(&parse_hash(&self.hash).ok_or_else(unreadable)?);
        let root = parse_hash(&self.checkpoint.root).ok_or_else(unreadable)?;
        let path = self
            .proof
            .iter()
            .map(|hash| parse_hash(hash).ok_or_else(unreadable))
            .collect::<Result<Vec<_>, _>>()?;
        verify_inclusion(
            self.leaf_index,
            self.checkpoint.tree_size,
            &leaf,
            &path,
            &root,
        )
        .map_err(|error| format!("the inclusion proof fails: {error}"))
    }
}
