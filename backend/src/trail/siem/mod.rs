//! The trail streamed to a SIEM: every event, in order, and every signed checkpoint right after
//! the event it completes, as syslog (RFC 5424 over TCP, framed by octet counting as RFC 6587
//! says) and/or as JSON over HTTP. The checkpoints anchor the trail outside the server: one
//! taken from the SIEM is what `verify --trusted-checkpoint` holds a later export to. Each sink has a cursor in the
//! database; a replica leases it under the write lock, sends the next batch, and moves it on,
//! or, when the SIEM is away, keeps it and tries again after a pause (30 s doubling to an hour).
//! Nothing else waits for it.

use std::time::Duration;

mod message;

use changeaudit_shared::export::Checkpoint;
use changeaudit_shared::trail::AuditEvent;
use reqwest::header::AUTHORIZATION;
use secrecy::{ExposeSecret, SecretString};
use sqlx::Row;
use tokio::io::AsyncWriteExt;

use crate::clock::Timestamp;
use crate::db::{Database, DbError};
use crate::endpoint;
use crate::trail::{audit, checkpoints};
use message::Batch;
pub use message::{checkpoint_message, syslog_message};

/// Events per batch.
const BATCH: i64 = 500;
/// How long a lease keeps other replicas off a sink.
const LEASE: Duration = Duration::from_secs(60);
const FIRST_PAUSE: Duration = Duration::from_secs(30);
const LONGEST_PAUSE: Duration = Duration::from_secs(3600);
const SEND_TIMEOUT: Duration = Duration::from_secs(20);

/// Where the trail goes.
#[derive(Debug, Clone)]
pub enum Sink {
    /// `host:port`, syslog over TCP.
    Syslog(String),
    /// An `http(s)://` URL taking `{"events":[…]}`, with the `Authorization` header to send.
    Http {
        url: SecretString,
        authorization: Option<SecretString>,
    },
}

impl Sink {
    fn name(&self) -> &'static str {
        match self {
            Sink::Syslog(_) => "syslog",
            Sink::Http { .. } => "http",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SiemError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("{0}")]
    Send(String),
}

impl From<sqlx::Error> for SiemError {
    fn from(error: sqlx::Error) -> Self {
        SiemError::Db(DbError::from(error))
    }
}

async fn send(sink: &Sink, http: &reqwest::Client, lease: &Lease) -> Result<(), String> {
    match sink {
        Sink::Syslog(address) => {
            let frames = message::frames(&lease.events, &lease.checkpoints)?;
            let write = async {
                let mut stream = tokio::net::TcpStream::connect(address).await?;
                stream.write_all(&frames).await?;
                stream.shutdown().await
            };
            tokio::time::timeout(SEND_TIMEOUT, write)
                .await
                .map_err(|_| format!("{address}: no answer within {}s", SEND_TIMEOUT.as_secs()))?
                .map_err(|error| format!("{address}: {error}"))
        }
        Sink::Http { url, authorization } => {
            // Only the endpoint is ever named: the URL and the header may hold a key.
            let shown = endpoint::shown(url.expose_secret());
            let mut request = http
                .post(url.expose_secret())
                .timeout(SEND_TIMEOUT)
                .json(&Batch::of(&lease.events, &lease.checkpoints));
            if let Some(header) = authorization {
                request = request.header(AUTHORIZATION, header.expose_secret());
            }
            let response = request
                .send()
                .await
                .map_err(|error| format!("{shown}: {}", error.without_url()))?;
            if response.status().is_success() {
                Ok(())
            } else {
                Err(format!("{shown}: answered {}", response.status()))
            }
        }
    }
}

/// Sends what `sink` has not had yet, if its turn has come; answers how many events went.
pub async fn ship(
    db: &Database,
    http: &reqwest::Client,
    sink: &Sink,
    now: Timestamp,
) -> Result<usize, SiemError> {
    let name = sink.name();
    if nothing_due(db, name, now).await? {
        return Ok(0);
    }
    let Some(lease) = take_lease(db, name, now).await? else {
        return Ok(0);
    };
    let last = lease
        .events
        .last()
        .map_or(lease.last_seq, |(event, _)| event.seq);
    let last_checkpoint = lease
        .checkpoints
        .last()
        .map_or(lease.last_checkpoint, |checkpoint| {
            i64::try_from(checkpoint.tree_size).unwrap_or(i64::MAX)
        });
    let outcome = send(sink, http, &lease).await;
    let mut tx = db.begin_write().await?;
    match &outcome {
        Ok(()) => {
            // Only forward: a replica whose lease ran out meanwhile never moves it back.
            sqlx::query(
                "UPDATE siem_cursors SET last_seq = $2, last_checkpoint = $4, attempts = 0,
                     next_attempt_at = 0, last_error = '' WHERE sink = $1 AND last_seq = $3",
            )
            .bind(name)
            .bind(last)
            .bind(lease.last_seq)
            .bind(last_checkpoint)
            .execute(&mut *tx)
            .await?;
        }
        Err(error) => {
            sqlx::query(
                "UPDATE siem_cursors SET attempts = attempts + 1, next_attempt_at = $2,
                     last_error = $3 WHERE sink = $1 AND last_seq = $4",
            )
            .bind(name)
            .bind(now.plus(pause_after(lease.attempts)).as_millis())
            .bind(error)
            .bind(lease.last_seq)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    // A failure is logged by the worker that called; the cursor waits for the next attempt.
    outcome.map(|()| lease.events.len()).map_err(|error| {
        SiemError::Send(format!(
            "{error}; trying again in {}s",
            pause_after(lease.attempts).as_secs()
        ))
    })
}

/// Looked at without the write lock first: most ticks find nothing to send.
async fn nothing_due(db: &Database, name: &str, now: Timestamp) -> Result<bool, SiemError> {
    let waiting: Option<(i64, i64, i64)> = sqlx::query_as(
        "SELECT last_seq, last_checkpoint, next_attempt_at FROM siem_cursors WHERE sink = $1",
    )
    .bind(name)
    .fetch_optional(db.pool())
    .await?;
    let Some((last_seq, last_checkpoint, next)) = waiting else {
        return Ok(false);
    };
    let (newest, signed): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COALESCE(MAX(seq), 0) FROM audit_events),
                (SELECT COALESCE(MAX(tree_size), 0) FROM trail_checkpoints)",
    )
    .fetch_one(db.pool())
    .await?;
    Ok(next > now.as_millis() || (newest <= last_seq && signed <= last_checkpoint))
}

/// A batch to send, leased to this replica for `LEASE`.
struct Lease {
    last_seq: i64,
    last_checkpoint: i64,
    attempts: i64,
    events: Vec<(AuditEvent, String)>,
    /// The checkpoints not sent yet over events sent before or in this batch.
    checkpoints: Vec<Checkpoint>,
}

/// The lease: one replica at a time, and none before the pause after a failure ends.
async fn take_lease(db: &Database, name: &str, now: Timestamp) -> Result<Option<Lease>, SiemError> {
    let mut tx = db.begin_write().await?;
    let cursor = sqlx::query(
        "SELECT last_seq, last_checkpoint, attempts, next_attempt_at FROM siem_cursors
         WHERE sink = $1",
    )
    .bind(name)
    .fetch_optional(&mut *tx)
    .await?;
    let (last_seq, last_checkpoint, attempts) = match cursor {
        None => {
            sqlx::query(
                "INSERT INTO siem_cursors (sink, last_seq, attempts, next_attempt_at, last_error)
                 VALUES ($1, 0, 0, 0, '')",
            )
            .bind(name)
            .execute(&mut *tx)
            .await?;
            (0_i64, 0_i64, 0_i64)
        }
        Some(row) => {
            let next: i64 = row.try_get("next_attempt_at")?;
            if next > now.as_millis() {
                return Ok(None);
            }
            (
                row.try_get("last_seq")?,
                row.try_get("last_checkpoint")?,
                row.try_get("attempts")?,
            )
        }
    };
    let rows = sqlx::query(
        "SELECT seq, at, actor, action, object, details, prev_hash, hash FROM audit_events
         WHERE seq > $1 ORDER BY seq LIMIT $2",
    )
    .bind(last_seq)
    .bind(BATCH)
    .fetch_all(&mut *tx)
    .await?;
    let events: Vec<(AuditEvent, String)> =
        rows.iter().map(audit::event_of).collect::<Result<_, _>>()?;
    let through = events.last().map_or(last_seq, |(event, _)| event.seq);
    let checkpoints = checkpoints::between(&mut tx, last_checkpoint, through, BATCH).await?;
    if events.is_empty() && checkpoints.is_empty() {
        return Ok(None);
    }
    sqlx::query("UPDATE siem_cursors SET next_attempt_at = $2 WHERE sink = $1")
        .bind(name)
        .bind(now.plus(LEASE).as_millis())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Some(Lease {
        last_seq,
        last_checkpoint,
        attempts,
        events,
        checkpoints,
    }))
}

fn pause_after(attempts: i64) -> Duration {
    FIRST_PAUSE
        .saturating_mul(1 << attempts.clamp(0, 7))
        .min(LONGEST_PAUSE)
}
