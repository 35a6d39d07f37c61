//! The audit trail's store: events appended in the same transaction as the change they record,
//! each chained to the one before (see `changeaudit_shared::trail`). The database refuses to
//! update or delete them (triggers in the migrations).

use changeaudit_shared::export::canonical_into;
use changeaudit_shared::trail::{AuditEvent, ChainBreak, GENESIS, verify_chain};
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::clock::Timestamp;
use crate::db::{Database, DbError};

#[derive(Debug, Clone, Copy)]
pub enum Actor<'a> {
    System,
    User(&'a str),
    /// Someone not signed in: a failed sign-in names the account it tried in its details,
    /// never as the actor.
    Anonymous,
}

impl Actor<'_> {
    fn name(&self) -> &str {
        match self {
            Actor::System => "system",
            Actor::User(username) => username,
            Actor::Anonymous => "anonymous",
        }
    }
}

pub struct NewEvent<'a> {
    pub actor: Actor<'a>,
    pub action: &'a str,
    pub object: Option<String>,
    /// Facts of the event: before and after, never a secret.
    pub details: Value,
}

impl<'a> NewEvent<'a> {
    /// An event of something `username` did to `object`.
    pub fn by(username: &'a str, action: &'a str, object: String, details: Value) -> Self {
        NewEvent {
            actor: Actor::User(username),
            action,
            object: Some(object),
            details,
        }
    }
}

/// Appends `event` inside the caller's transaction, which must come from
/// `Database::begin_write`: its write lock keeps appends from every replica in one line, and the
/// event exists exactly when the change it records does.
pub async fn append(
    connection: &mut AnyConnection,
    event: NewEvent<'_>,
    at: Timestamp,
) -> Result<AuditEvent, DbError> {
    let last: Option<(i64, String)> =
        sqlx::query_as("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *connection)
            .await?;
    let (seq, prev_hash) = last.map_or((1, GENESIS.to_owned()), |(seq, hash)| (seq + 1, hash));
    let stored = AuditEvent {
        seq,
        at: at.as_millis(),
        actor: event.actor.name().to_owned(),
        action: event.action.to_owned(),
        object: event.object,
        details: event.details,
        prev_hash,
    };
    sqlx::query(
        "INSERT INTO audit_events (seq, at, actor, action, object, details, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(stored.seq)
    .bind(stored.at)
    .bind(&stored.actor)
    .bind(&stored.action)
    .bind(&stored.object)
    .bind(stored.details.to_string())
    .bind(&stored.prev_hash)
    .bind(stored.hash())
    .execute(&mut *connection)
    .await?;
    Ok(stored)
}

/// Appends `event` alone, in a write transaction of its own: for events that record no other
/// change (a refusal, a viewing).
pub async fn record(db: &Database, event: NewEvent<'_>, at: Timestamp) -> Result<(), DbError> {
    let mut tx = db.begin_write().await?;
    append(&mut tx, event, at).await?;
    tx.commit().await?;
    Ok(())
}

/// Every event in order, with the hash stored beside it. A row whose details are not JSON is
/// reported as a break rather than skipped.
pub async fn load(db: &Database) -> Result<Result<Vec<(AuditEvent, String)>, ChainBreak>, DbError> {
    let rows = sqlx::query(
        "SELECT seq, at, actor, action, object, details, prev_hash, hash FROM audit_events ORDER BY seq",
    )
    .fetch_all(db.pool())
    .await?;
    let mut events = Vec::with_capacity(rows.len());
    for row in rows {
        match event_of(&row) {
            Ok(event) => events.push(event),
            // Details that are not JSON break the chain where they stand; anything else is the
            // database's failure.
            Err(error) => {
                let details: String = row.try_get("details")?;
                if serde_json::from_str::<serde_json::Value>(&details).is_ok() {
                    return Err(error);
                }
                return Ok(Err(ChainBreak {
                    seq: row.try_get("seq")?,
                    reason: "its details are not valid JSON".to_owned(),
                }));
            }
        }
    }
    Ok(Ok(events))
}

/// An event row (`seq, at, actor, action, object, details, prev_hash, hash`) with its hash.
pub fn event_of(row: &AnyRow) -> Result<(AuditEvent, String), DbError> {
    let details: String = row.try_get("details")?;
    let event = AuditEvent {
        seq: row.try_get("seq")?,
        at: row.try_get("at")?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        object: row.try_get("object")?,
        details: serde_json::from_str(&details).map_err(DbError::decode)?,
        prev_hash: row.try_get("prev_hash")?,
    };
    Ok((event, row.try_get("hash")?))
}

/// Verifies the whole chain as stored: the number of events, or the first one at fault.
pub async fn verify(db: &Database) -> Result<Result<usize, ChainBreak>, DbError> {
    Ok(load(db)
        .await?
        .and_then(|events| verify_chain(events.iter().map(|(event, hash)| (event, hash.as_str())))))
}

/// An event row's columns, as `canonical_of` reads them.
pub const EVENT_COLUMNS: &str = "seq, at, actor, action, object, details, prev_hash, hash";

/// What `canonical_of` answers besides the canonical form.
pub struct RowParts {
    pub seq: i64,
    pub prev_hash: String,
    /// The hash stored beside the event, as stored.
    pub hash: String,
}

/// Writes a stored event's canonical form into `out`, its details taken as stored (canonical
/// when the server wrote them), without parsing them.
pub fn canonical_of(row: &AnyRow, out: &mut Vec<u8>) -> Result<RowParts, sqlx::Error> {
    let parts = RowParts {
        seq: row.try_get("seq")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    };
    let object: Option<String> = row.try_get("object")?;
    canonical_into(
        out,
        &row.try_get::<String, _>("action")?,
        &row.try_get::<String, _>("actor")?,
        row.try_get("at")?,
        &row.try_get::<String, _>("details")?,
        object.as_deref(),
        &parts.prev_hash,
        parts.seq,
    );
    Ok(parts)
}
