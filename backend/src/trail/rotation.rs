//! Rotating the trail's signing key. The new key is announced by a `trail.key_rotated` event
//! (its public key, its ID and the ID of the key it follows), a checkpoint of the old key signs
//! that announcement, and only then does the new key sign. A verifier given the first key
//! follows the chain of keys from it (`changeaudit_shared::verify::key_chain`).

use std::path::{Path, PathBuf};

use changeaudit_shared::export::Checkpoint;
use changeaudit_shared::verify::key_chain::ROTATION;
use ed25519_dalek::VerifyingKey;
use serde_json::json;

use super::audit::{self, Actor, NewEvent};
use super::checkpoints::{self, CheckpointError};
use super::key::{TrailKey, TrailKeyError, first_public_path, read_public_key};
use crate::clock::Timestamp;
use crate::db::{Database, DbError};

#[derive(Debug, thiserror::Error)]
pub enum FirstKeyError {
    #[error(
        "{}: the trail's key was rotated, and its first public key is missing: copy this file from where the key was first made",
        .0.display()
    )]
    Missing(PathBuf),
    #[error(transparent)]
    Key(#[from] TrailKeyError),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// The trail's first public key, from `first_public_path(key_file)`: the key a verification
/// of the whole trail starts from, never read from the database, which whoever holds it could
/// fill with announcements of their own. A trail never rotated has `own`
/// as its first key, and the file is written then; after a rotation a missing file is an error.
pub async fn first_key(
    key_file: &Path,
    own: &TrailKey,
    db: &Database,
) -> Result<VerifyingKey, FirstKeyError> {
    let path = first_public_path(key_file);
    if path.exists() {
        return Ok(read_public_key(&path)?);
    }
    let rotated: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE action = $1")
        .bind(ROTATION)
        .fetch_one(db.pool())
        .await
        .map_err(DbError::from)?;
    if rotated > 0 {
        return Err(FirstKeyError::Missing(path));
    }
    own.write_public(&path)?;
    Ok(own.verifying_key())
}

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error(
        "this server's key {held} is not the trail's key {in_force}: rotate with the key in force"
    )]
    NotInForce { held: String, in_force: String },
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Announces `next` as the key after `current` and has `current` sign the announcement in, in
/// one transaction, so no announcement ever waits unsigned. Answers the checkpoint that did.
/// Run again after it committed (the key file not yet replaced), it answers that checkpoint.
pub async fn announce(
    db: &Database,
    current: &TrailKey,
    next: &TrailKey,
    now: Timestamp,
) -> Result<Checkpoint, RotationError> {
    let mut tx = db.begin_write().await?;
    let in_force = checkpoints::key_in_force(&mut tx).await?;
    if in_force.as_deref() == Some(next.id()) {
        let latest = checkpoints::latest(&mut tx).await?;
        if let Some(stored) = latest {
            return Ok(stored.checkpoint);
        }
    }
    if in_force.as_deref().is_some_and(|id| id != current.id()) {
        return Err(RotationError::NotInForce {
            held: current.id().to_owned(),
            in_force: in_force.unwrap_or_default(),
        });
    }
    let details = json!({
        "key_id": next.id(),
        "public_key": next.public_key_hex(),
        "previous_key_id": current.id(),
        "previous_public_key": current.public_key_hex(),
    });
    let event = NewEvent {
        actor: Actor::System,
        action: ROTATION,
        object: None,
        details,
    };
    audit::append(&mut tx, event, now).await?;
    let checkpoint = checkpoints::sign(&mut tx, current, now, Some(next.id())).await?;
    tx.commit().await.map_err(DbError::from)?;
    Ok(checkpoint)
}

/// Where the next key waits while it is announced: beside the key file.
pub fn next_path(key_file: &Path) -> PathBuf {
    let mut name = key_file.as_os_str().to_owned();
    name.push(".next");
    PathBuf::from(name)
}
