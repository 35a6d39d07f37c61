//! Sessions cut off by their replica's death. Every replica looks every `SWEEP_EVERY`:
//!
//! - a session still marked running whose heartbeat stopped `STALE_AFTER` ago is marked
//!   interrupted (`session.interrupted`), ended at the time of the last event its recording
//!   holds where it can be read (the segments uploaded so far), else at its last heartbeat;
//! - once the recording of an interrupted session is stored whole (the replica came back and
//!   stored what its spool held, or it was always in a shared folder) and its replica is gone,
//!   its digest is sealed in the trail (`session.recording_recovered`), so `verify` checks it
//!   as it checks every sealed recording.

use std::io;
use std::time::Duration;

use serde_json::json;

use super::store::{self, STALE_AFTER};
use crate::clock::Timestamp;
use crate::cluster::registry::GONE_AFTER;
use crate::db::{Database, DbError};
use crate::recordings::{self, RecordingStore};
use crate::trail::audit::{self, Actor, NewEvent};

pub const SWEEP_EVERY: Duration = Duration::from_secs(5);
/// The tail of a recording read for its last event: lines are far shorter.
const TAIL: u64 = 256 * 1024;
/// How long after its interruption a recording that comes back whole is still sealed: a replica
/// is back within days, or its disk is gone.
const RECOVERED_WITHIN: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// Sessions handled in one sweep, of each kind.
const AT_ONCE: i64 = 100;

/// What one sweep did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub interrupted: usize,
    pub recovered: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("reading recording {name}: {source}")]
    Recording { name: String, source: io::Error },
}

impl From<sqlx::Error> for SweepError {
    fn from(error: sqlx::Error) -> Self {
        SweepError::Db(error.into())
    }
}

/// Marks the sessions that lost their replica, and seals the recordings that came back.
pub async fn sweep(
    db: &Database,
    recordings: &dyn RecordingStore,
    now: Timestamp,
) -> Result<Swept, SweepError> {
    let mut swept = Swept::default();
    for cut in cut_off(db, now).await? {
        let last = last_event_seconds(recordings, &cut.recording).await;
        match mark(db, &cut, last, now).await {
            Ok(marked) => swept.interrupted += usize::from(marked),
            // One session that cannot be marked now is tried at the next sweep; the others go on.
            Err(error) => tracing::warn!(%error, session = cut.id, "marking a session interrupted"),
        }
    }
    for (id, name) in unsealed(db, now).await? {
        match recover(db, recordings, id, &name, now).await {
            Ok(sealed) => swept.recovered += usize::from(sealed),
            Err(error) => tracing::warn!(%error, session = id, "sealing a recovered recording"),
        }
    }
    Ok(swept)
}

/// Seals the recording of interrupted session `id` once it is stored whole.
async fn recover(
    db: &Database,
    recordings: &dyn RecordingStore,
    id: i64,
    name: &str,
    now: Timestamp,
) -> Result<bool, SweepError> {
    let whole = recordings
        .stored_whole(name)
        .await
        .map_err(|source| SweepError::Recording {
            name: name.to_owned(),
            source,
        })?;
    if !whole {
        return Ok(false);
    }
    let (sha256, bytes) = digest_of(recordings, name).await?;
    Ok(seal(db, id, name, &sha256, bytes, now).await?)
}

/// A running session whose heartbeat stopped.
struct CutOff {
    id: i64,
    recording: String,
    started_at: Timestamp,
    heartbeat_at: Timestamp,
}

async fn cut_off(db: &Database, now: Timestamp) -> Result<Vec<CutOff>, DbError> {
    let rows: Vec<(i64, String, i64, i64)> = sqlx::query_as(
        "SELECT id, recording, started_at, heartbeat_at FROM terminal_sessions
         WHERE status = 'running' AND heartbeat_at < $1 ORDER BY id LIMIT $2",
    )
    .bind(now.minus(STALE_AFTER).as_millis())
    .bind(AT_ONCE)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, recording, started_at, heartbeat_at)| CutOff {
            id,
            recording,
            started_at: Timestamp::from_millis(started_at),
            heartbeat_at: Timestamp::from_millis(heartbeat_at),
        })
        .collect())
}

/// Seconds from the recording's start to its last whole event, where it can be read here. A
/// recording that cannot be read leaves the end at the last heartbeat.
async fn last_event_seconds(recordings: &dyn RecordingStore, name: &str) -> Option<f64> {
    let size = match recordings.size(name).await {
        Ok(size) => size?,
        Err(error) => {
            tracing::warn!(%error, recording = name, "sizing the recording of an interrupted session");
            return None;
        }
    };
    let from = size.saturating_sub(TAIL);
    let limit = usize::try_from(size - from).unwrap_or(usize::MAX);
    let tail = recordings
        .read(name, from, limit)
        .await
        .inspect_err(|error| {
            tracing::warn!(%error, recording = name, "reading the recording of an interrupted session");
        })
        .ok()?;
    last_time(&tail)
}

/// The time of the last whole event line in `tail` (which may begin mid-line).
fn last_time(tail: &[u8]) -> Option<f64> {
    let text = String::from_utf8_lossy(tail);
    text.lines()
        .rev()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find_map(|value| value.as_array()?.first()?.as_f64())
}

/// Marks `cut` interrupted, unless another replica did first.
async fn mark(
    db: &Database,
    cut: &CutOff,
    last_event: Option<f64>,
    now: Timestamp,
) -> Result<bool, DbError> {
    let (ended_at, from) = match last_event {
        Some(seconds) => {
            let after = Duration::try_from_secs_f64(seconds).unwrap_or_default();
            // An event cannot come after the sweep that reads it.
            (cut.started_at.plus(after).min(now), "recording")
        }
        None => (cut.heartbeat_at, "heartbeat"),
    };
    let mut tx = db.begin_write().await?;
    let marked = sqlx::query(
        "UPDATE terminal_sessions SET status = 'ended', end_reason = 'interrupted', ended_at = $2
         WHERE id = $1 AND status = 'running' AND heartbeat_at < $3",
    )
    .bind(cut.id)
    .bind(ended_at.as_millis())
    .bind(now.minus(STALE_AFTER).as_millis())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if marked != 1 {
        return Ok(false);
    }
    let details = json!({
        "reason": "interrupted",
        "message": "The server running the session stopped without ending it.",
        "ended_at_from": from,
        "duration_seconds": cut.started_at.until(ended_at).as_secs_f64(),
        "last_heartbeat_at": cut.heartbeat_at.as_millis(),
    });
    let event = NewEvent {
        actor: Actor::System,
        action: "session.interrupted",
        object: Some(store::object(cut.id)),
        details,
    };
    audit::append(&mut tx, event, now).await?;
    tx.commit().await?;
    Ok(true)
}

/// Interrupted sessions of the last `RECOVERED_WITHIN` without a sealed recording whose replica
/// is gone (or unknown): their recording will not grow any more. Newest first, so that old ones
/// whose recording never comes back do not crowd out the rest.
async fn unsealed(db: &Database, now: Timestamp) -> Result<Vec<(i64, String)>, DbError> {
    Ok(sqlx::query_as(
        "SELECT s.id, s.recording FROM terminal_sessions s
         LEFT JOIN replicas r ON r.id = s.replica_id
         WHERE s.status = 'ended' AND s.end_reason = 'interrupted'
           AND s.recording_sha256 IS NULL AND s.ended_at >= $3
           AND (r.id IS NULL OR r.heartbeat_at < $1)
         ORDER BY s.id DESC LIMIT $2",
    )
    .bind(now.minus(GONE_AFTER).as_millis())
    .bind(AT_ONCE)
    .bind(now.minus(RECOVERED_WITHIN).as_millis())
    .fetch_all(db.pool())
    .await?)
}

async fn digest_of(
    recordings: &dyn RecordingStore,
    name: &str,
) -> Result<(String, u64), SweepError> {
    let failed = |source| SweepError::Recording {
        name: name.to_owned(),
        source,
    };
    recordings::digest_and_size(recordings, name)
        .await
        .map_err(failed)
}

/// Seals the recovered recording of session `id`, unless another replica did first.
async fn seal(
    db: &Database,
    id: i64,
    name: &str,
    sha256: &str,
    bytes: u64,
    now: Timestamp,
) -> Result<bool, DbError> {
    let mut tx = db.begin_write().await?;
    let sealed = sqlx::query(
        "UPDATE terminal_sessions SET recording_sha256 = $2, recording_bytes = $3
         WHERE id = $1 AND recording_sha256 IS NULL",
    )
    .bind(id)
    .bind(sha256)
    .bind(i64::try_from(bytes).unwrap_or(i64::MAX))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if sealed != 1 {
        return Ok(false);
    }
    let event = NewEvent {
        actor: Actor::System,
        action: "session.recording_recovered",
        object: Some(store::object(id)),
        details: json!({
            "recording": name,
            "recording_sha256": sha256,
            "recording_bytes": bytes,
        }),
    };
    audit::append(&mut tx, event, now).await?;
    tx.commit().await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_whole_event_gives_the_time_whatever_the_tail_begins_or_ends_with() {
        let tail =
            b"5, \"o\", \"cut\"]\n[1.5, \"o\", \"a\"]\n[2.25, \"i\", \"b\"]\n[3.0, \"o\", \"tor";
        assert_eq!(last_time(tail), Some(2.25));
        assert_eq!(last_time(b"{\"version\":2,\"width\":80}\n"), None);
        assert_eq!(last_time(b""), None);
    }
}
