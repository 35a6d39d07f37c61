//! The replicas in the database: each beats every `BEAT_EVERY`; one silent for `GONE_AFTER` is
//! gone, and its sessions are no longer relayed from it.

use std::time::Duration;

use crate::clock::Timestamp;
use crate::db::{Database, DbError};

pub const BEAT_EVERY: Duration = Duration::from_secs(5);
pub const GONE_AFTER: Duration = Duration::from_secs(15);
/// A replica gone this long leaves the registry.
const FORGOTTEN_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// Registers replica `id` (reached at `address`, when peers can reach it) or keeps it alive,
/// and forgets replicas long gone.
pub async fn beat(
    db: &Database,
    id: &str,
    address: Option<&str>,
    now: Timestamp,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO replicas (id, address, started_at, heartbeat_at) VALUES ($1, $2, $3, $3)
         ON CONFLICT (id) DO UPDATE SET heartbeat_at = $3",
    )
    .bind(id)
    .bind(address)
    .bind(now.as_millis())
    .execute(db.pool())
    .await?;
    sqlx::query("DELETE FROM replicas WHERE heartbeat_at < $1")
        .bind(now.minus(FORGOTTEN_AFTER).as_millis())
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Where the replica running session `session` is reached, while it runs there and the replica
/// is alive and reachable.
pub async fn holder(
    db: &Database,
    session: i64,
    now: Timestamp,
) -> Result<Option<String>, DbError> {
    let address: Option<Option<String>> = sqlx::query_scalar(
        "SELECT r.address FROM terminal_sessions s JOIN replicas r ON r.id = s.replica_id
         WHERE s.id = $1 AND s.status = 'running' AND r.heartbeat_at >= $2",
    )
    .bind(session)
    .bind(now.minus(GONE_AFTER).as_millis())
    .fetch_optional(db.pool())
    .await?;
    Ok(address.flatten())
}
