//! Rotating the trail's signing key. The new key is announced by a `trail.key_rotated` event
//! (its public key, its ID and the ID of the key it follows), a checkpoint of the old key signs
//! that announcement, and only then does the new key sign. A verifier given the first key
//! follows the chain of keys from it (`changeaudit_shared::verify::key_chain`).

use std::path::{Path, PathBuf};

use changeaudit_shared::export::Checkpoint;
use changeaudit_shared::verify::key_chain::ROTATION;
use changeaudit_shared::verify::keys;
use ed25519_dalek::VerifyingKey;
use serde_json::{Value, json};

use super::audit::{self, Actor, NewEvent};
use super::checkpoints::{self, CheckpointError, Policy};
use super::key::TrailKey;
use crate::clock::Timestamp;
use crate::db::{Database, DbError};

/// The trail's first key, which a verification of the whole trail starts from: the key before
/// the first announcement, or `own` when the key never changed.
pub async fn first_key(db: &Database, own: &TrailKey) -> Result<VerifyingKey, DbError> {
    let first: Option<String> = sqlx::query_scalar(
        "SELECT details FROM audit_events WHERE action = $1 ORDER BY seq LIMIT 1",
    )
    .bind(ROTATION)
    .fetch_optional(db.pool())
    .await?;
    let Some(details) = first else {
        return Ok(own.verifying_key());
    };
    let details: Value = serde_json::from_str(&details).map_err(DbError::decode)?;
    keys::public_key(details["previous_public_key"].as_str().unwrap_or_default())
        .map_err(DbError::decode)
}

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error(
        "this server's key {held} is not the trail's key {in_force}: rotate with the key in force"
    )]
    NotInForce { held: String, in_force: String },
    #[error("the announcement of the new key was not signed in by a checkpoint")]
    NotSignedIn,
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Announces `next` as the key after `current` and has `current` sign the announcement in.
/// Answers the checkpoint that did.
pub async fn announce(
    db: &Database,
    current: &TrailKey,
    next: &TrailKey,
    now: Timestamp,
) -> Result<Checkpoint, RotationError> {
    let mut tx = db.begin_write().await?;
    let in_force = checkpoints::key_in_force(&mut tx).await?;
    if in_force.as_deref().is_some_and(|id| id != current.id()) {
        return Err(RotationError::NotInForce {
            held: current.id().to_owned(),
            in_force: in_force.unwrap_or_default(),
        });
    }
    // A rotation interrupted after its announcement only needs it signed in.
    let announced = checkpoints::latest_announcement(&mut tx).await?;
    if announced.is_some_and(|announced| announced.key_id == next.id()) {
        drop(tx);
        return sign_in(db, current, now).await;
    }
    let details = json!({
        "key_id": next.id(),
        "public_key": next.public_key_hex(),
        "previous_key_id": current.id(),
        "previous_public_key": current.public_key_hex(),
    });
    audit::append(
        &mut tx,
        NewEvent {
            actor: Actor::System,
            action: ROTATION,
            object: None,
            details,
        },
        now,
    )
    .await?;
    tx.commit().await.map_err(DbError::from)?;
    sign_in(db, current, now).await
}

/// Has `current` sign a checkpoint over everything so far, the announcement included.
async fn sign_in(
    db: &Database,
    current: &TrailKey,
    now: Timestamp,
) -> Result<Checkpoint, RotationError> {
    let everything = Policy {
        every_events: 1,
        every: std::time::Duration::ZERO,
    };
    if let Some(checkpoint) = checkpoints::checkpoint_if_due(db, current, everything, now).await? {
        return Ok(checkpoint);
    }
    // Nothing was due: another replica with the same key signed the announcement a moment ago.
    let mut connection = db.pool().acquire().await.map_err(DbError::from)?;
    let latest = checkpoints::latest(&mut connection).await?;
    latest
        .map(|stored| stored.checkpoint)
        .ok_or(RotationError::NotSignedIn)
}

/// Where the next key waits while it is announced: beside the key file.
pub fn next_path(key_file: &Path) -> PathBuf {
    let mut name = key_file.as_os_str().to_owned();
    name.push(".next");
    PathBuf::from(name)
}
