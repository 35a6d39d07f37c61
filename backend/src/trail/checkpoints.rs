//! Signed checkpoints: every `every_events` events, or every `every` when fewer came, a replica
//! extends the Merkle tree over the events since the last checkpoint, checks their chain on the
//! way (it never signs a broken one), stores the new perfect subtrees and signs the tree's size,
//! root and time. Any replica may do it: the write lock makes one of them at a time, and the
//! next finds nothing due.

use std::time::Duration;

use changeaudit_shared::export::{Checkpoint, event_leaf, signed_text};
use changeaudit_shared::merkle::{Frontier, Hash, parse_hash};
use changeaudit_shared::trail::{ChainBreak, GENESIS, hex};
use changeaudit_shared::verify::key_chain::ROTATION;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

use crate::clock::Timestamp;
use crate::db::{Database, DbError};
use crate::trail::audit::{EVENT_COLUMNS, RowParts, canonical_of};
use crate::trail::key::TrailKey;

/// Subtrees below this level are not stored: a proof hashes them from at most 8 events.
pub const STORED_FROM_LEVEL: u32 = 4;
/// Events read from the database at a time while extending the tree.
const BATCH: i64 = 10_000;

/// When a checkpoint is due.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub every_events: u64,
    pub every: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("the trail is broken at event {}: {}; no checkpoint is signed over it", .0.seq, .0.reason)]
    Broken(ChainBreak),
    /// The key is not the one that signed the trail so far: a replica with another key file
    /// must not add checkpoints no verifier will accept.
    #[error("{0}")]
    WrongKey(String),
}

impl From<sqlx::Error> for CheckpointError {
    fn from(error: sqlx::Error) -> Self {
        CheckpointError::Db(DbError::from(error))
    }
}

/// A checkpoint as stored, with the frontier to go on from.
#[derive(Debug, Clone)]
pub struct Stored {
    pub checkpoint: Checkpoint,
    pub frontier: Frontier,
}

fn read(row: &sqlx::any::AnyRow) -> Result<Stored, DbError> {
    let tree_size: i64 = row.try_get("tree_size")?;
    let tree_size = u64::try_from(tree_size).map_err(DbError::decode)?;
    let frontier: Vec<String> =
        serde_json::from_str(&row.try_get::<String, _>("frontier")?).map_err(DbError::decode)?;
    let nodes = frontier
        .iter()
        .map(|text| parse_hash(text))
        .collect::<Option<Vec<Hash>>>()
        .ok_or_else(|| DbError::decode("a checkpoint's frontier is not hex"))?;
    let frontier = Frontier::from_parts(tree_size, nodes)
        .ok_or_else(|| DbError::decode("a checkpoint's frontier does not fit its size"))?;
    Ok(Stored {
        checkpoint: Checkpoint {
            tree_size,
            root: row.try_get("root")?,
            at: row.try_get("at")?,
            key_id: row.try_get("key_id")?,
            signature: row.try_get("signature")?,
        },
        frontier,
    })
}

const COLUMNS: &str = "tree_size, root, at, key_id, signature, frontier";

/// The latest checkpoint, if any.
pub async fn latest(connection: &mut AnyConnection) -> Result<Option<Stored>, DbError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM trail_checkpoints ORDER BY tree_size DESC LIMIT 1"
    ))
    .fetch_optional(&mut *connection)
    .await?;
    row.as_ref().map(read).transpose()
}

/// Every checkpoint, oldest first.
pub async fn all(db: &Database) -> Result<Vec<Checkpoint>, DbError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM trail_checkpoints ORDER BY tree_size"
    ))
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|row| read(row).map(|stored| stored.checkpoint))
        .collect()
}

/// The trail's latest key announcement: its event, the key it names and the key before.
pub struct Announcement {
    pub seq: i64,
    pub key_id: String,
    pub previous_key_id: String,
}

pub async fn latest_announcement(
    connection: &mut AnyConnection,
) -> Result<Option<Announcement>, DbError> {
    let row: Option<(i64, String)> = sqlx::query_as(
        "SELECT seq, details FROM audit_events WHERE action = $1 ORDER BY seq DESC LIMIT 1",
    )
    .bind(ROTATION)
    .fetch_optional(&mut *connection)
    .await?;
    let Some((seq, details)) = row else {
        return Ok(None);
    };
    let details: Value = serde_json::from_str(&details).map_err(DbError::decode)?;
    let text = |field: &str| details[field].as_str().unwrap_or_default().to_owned();
    Ok(Some(Announcement {
        seq,
        key_id: text("key_id"),
        previous_key_id: text("previous_key_id"),
    }))
}

/// The ID of the key that must sign the next checkpoint; `None` before the first.
pub async fn key_in_force(connection: &mut AnyConnection) -> Result<Option<String>, DbError> {
    let last = latest(connection).await?;
    let announced = latest_announcement(connection).await?;
    Ok(match (announced, last) {
        // The old key signs the announcement in; the new one signs after.
        (Some(next), Some(last))
            if next.seq <= i64::try_from(last.checkpoint.tree_size).unwrap_or(i64::MAX) =>
        {
            Some(next.key_id)
        }
        (Some(next), _) => Some(next.previous_key_id),
        (None, last) => last.map(|stored| stored.checkpoint.key_id),
    })
}

/// Up to `limit` checkpoints over more than `after` events and at most `through`, oldest
/// first.
pub async fn between(
    connection: &mut AnyConnection,
    after: i64,
    through: i64,
    limit: i64,
) -> Result<Vec<Checkpoint>, DbError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM trail_checkpoints WHERE tree_size > $1 AND tree_size <= $2
         ORDER BY tree_size LIMIT $3"
    ))
    .bind(after)
    .bind(through)
    .bind(limit)
    .fetch_all(&mut *connection)
    .await?;
    rows.iter()
        .map(|row| read(row).map(|stored| stored.checkpoint))
        .collect()
}

async fn event_count(connection: &mut AnyConnection) -> Result<u64, DbError> {
    let count: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM audit_events")
        .fetch_one(&mut *connection)
        .await?;
    Ok(u64::try_from(count).unwrap_or(0))
}

/// Whether `policy` calls for a checkpoint now: enough new events, or any once long enough
/// has passed since the last.
async fn due(
    connection: &mut AnyConnection,
    policy: Policy,
    now: Timestamp,
) -> Result<bool, DbError> {
    let last: Option<(i64, i64)> = sqlx::query_as(
        "SELECT tree_size, at FROM trail_checkpoints ORDER BY tree_size DESC LIMIT 1",
    )
    .fetch_optional(&mut *connection)
    .await?;
    let (signed, last_at) = last.map_or((0, None), |(size, at)| (size, Some(at)));
    let new = event_count(connection)
        .await?
        .saturating_sub(u64::try_from(signed).unwrap_or(0));
    let waited = last_at.is_none_or(|at| {
        now.as_millis().saturating_sub(at)
            >= i64::try_from(policy.every.as_millis()).unwrap_or(i64::MAX)
    });
    Ok(new > 0 && (new >= policy.every_events || waited))
}

/// Signs a checkpoint when one is due; answers it, or `None` when none was.
pub async fn checkpoint_if_due(
    db: &Database,
    key: &TrailKey,
    policy: Policy,
    now: Timestamp,
) -> Result<Option<Checkpoint>, CheckpointError> {
    // Looked at without the write lock first: most ticks, on every replica, find nothing due.
    {
        let mut connection = db.pool().acquire().await?;
        if !due(&mut connection, policy, now).await? {
            return Ok(None);
        }
    }
    let mut tx = db.begin_write().await?;
    if !due(&mut tx, policy, now).await? {
        return Ok(None);
    }
    let checkpoint = sign(&mut tx, key, now, None).await?;
    tx.commit().await?;
    tracing::debug!(tree_size = checkpoint.tree_size, root = %checkpoint.root, "trail checkpoint signed");
    Ok(Some(checkpoint))
}

/// Refuses to sign with a key that is not in force, or over a key announcement that its own
/// rotation (`announcing`) did not make: an announcement is only ever appended together with
/// the checkpoint that signs it in, so one found waiting was written behind the server's back.
async fn check_key(
    tx: &mut AnyConnection,
    key: &TrailKey,
    announcing: Option<&str>,
) -> Result<(), CheckpointError> {
    let signed = latest(tx)
        .await?
        .map_or(0, |stored| stored.checkpoint.tree_size);
    if let Some(pending) = latest_announcement(tx).await?
        && u64::try_from(pending.seq).is_ok_and(|seq| seq > signed)
        && announcing != Some(pending.key_id.as_str())
    {
        return Err(CheckpointError::WrongKey(format!(
            "event {} announces key {}, which no rotation of this server signed in: not signing over it",
            pending.seq, pending.key_id
        )));
    }
    match key_in_force(tx).await? {
        Some(in_force) if in_force != key.id() => Err(CheckpointError::WrongKey(format!(
            "the trail's key is {in_force}, and this server holds key {}: check trail_key_file (after rotate-trail-key, every replica needs the new key file)",
            key.id()
        ))),
        _ => Ok(()),
    }
}

/// Extends the tree over every event and signs it with `key`, in `tx`; answers the checkpoint.
/// `announcing` is the key a rotation is announcing in the same transaction, if any.
pub async fn sign(
    tx: &mut AnyConnection,
    key: &TrailKey,
    now: Timestamp,
    announcing: Option<&str>,
) -> Result<Checkpoint, CheckpointError> {
    check_key(tx, key, announcing).await?;
    let last = latest(tx).await?;
    let count = event_count(tx).await?;
    let mut frontier = last.map_or_else(Frontier::default, |stored| stored.frontier);
    let nodes = extend(tx, &mut frontier, count).await?;
    for (level, index, hash) in nodes {
        sqlx::query("INSERT INTO trail_nodes (level, idx, hash) VALUES ($1, $2, $3)")
            .bind(i64::from(level))
            .bind(i64::try_from(index).unwrap_or(i64::MAX))
            .bind(hex(&hash))
            .execute(&mut *tx)
            .await?;
    }
    let root = hex(&frontier.root());
    let at = now.as_millis();
    let checkpoint = Checkpoint {
        tree_size: frontier.size(),
        signature: key.sign(&signed_text(frontier.size(), &root, at)),
        root,
        at,
        key_id: key.id().to_owned(),
    };
    let edge: Vec<String> = frontier.nodes().iter().map(|hash| hex(hash)).collect();
    sqlx::query(&format!(
        "INSERT INTO trail_checkpoints ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
    ))
    .bind(i64::try_from(checkpoint.tree_size).unwrap_or(i64::MAX))
    .bind(&checkpoint.root)
    .bind(checkpoint.at)
    .bind(&checkpoint.key_id)
    .bind(&checkpoint.signature)
    .bind(serde_json::Value::from(edge).to_string())
    .execute(&mut *tx)
    .await?;
    Ok(checkpoint)
}

/// Takes the events after the frontier into it, each checked against the chain on the way, up
/// to `count`; answers the perfect subtrees completed that are kept in `trail_nodes`.
async fn extend(
    connection: &mut AnyConnection,
    frontier: &mut Frontier,
    count: u64,
) -> Result<Vec<(u32, u64, Hash)>, CheckpointError> {
    let mut previous = match frontier.size() {
        0 => GENESIS.to_owned(),
        size => {
            sqlx::query_scalar("SELECT hash FROM audit_events WHERE seq = $1")
                .bind(i64::try_from(size).unwrap_or(i64::MAX))
                .fetch_one(&mut *connection)
                .await?
        }
    };
    let mut nodes: Vec<(u32, u64, Hash)> = Vec::new();
    let mut canonical = Vec::with_capacity(1024);
    while frontier.size() < count {
        let from = i64::try_from(frontier.size()).unwrap_or(i64::MAX);
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2"
        ))
        .bind(from)
        .bind(BATCH)
        .fetch_all(&mut *connection)
        .await?;
        if rows.is_empty() {
            break;
        }
        for row in rows {
            let parts = canonical_of(&row, &mut canonical)?;
            let stored = chained(&parts, &previous, frontier.size(), &canonical)?;
            frontier.push(event_leaf(&stored), |level, index, hash| {
                if level >= STORED_FROM_LEVEL {
                    nodes.push((level, index, *hash));
                }
            });
            previous = parts.hash;
        }
    }
    Ok(nodes)
}

/// The event's hash, once it is the next in the chain and its content matches it.
fn chained(
    parts: &RowParts,
    previous: &str,
    size: u64,
    canonical: &[u8],
) -> Result<Hash, CheckpointError> {
    let broken = |reason: &str| {
        CheckpointError::Broken(ChainBreak {
            seq: parts.seq,
            reason: reason.to_owned(),
        })
    };
    if parts.seq != i64::try_from(size).unwrap_or(i64::MAX) + 1 {
        return Err(broken("an event is missing before it"));
    }
    if parts.prev_hash != previous {
        return Err(broken(
            "its previous-event hash does not match the event before it",
        ));
    }
    let stored = parse_hash(&parts.hash).ok_or_else(|| broken("its hash is not hex"))?;
    if <Hash>::from(Sha256::digest(canonical)) != stored {
        return Err(broken("its content does not match its hash"));
    }
    Ok(stored)
}
