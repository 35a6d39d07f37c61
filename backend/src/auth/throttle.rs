//! Slows down password guessing: after a few failures for one username, each further failure
//! blocks that username for twice as long as the last. Kept in the database so every replica
//! enforces the same block.

use std::time::Duration;

use crate::clock::Timestamp;
use crate::db::{Database, DbError};

/// Failures allowed before any block, so a person who mistypes is never slowed down.
const FREE_FAILURES: i64 = 5;
const LONGEST_BLOCK: Duration = Duration::from_secs(15 * 60);
/// Failures are forgotten this long after the last one.
const MEMORY: Duration = Duration::from_secs(15 * 60);

/// How long a username is blocked after its `failures`-th failure in a row.
fn block_after(failures: i64) -> Duration {
    let over = failures - FREE_FAILURES;
    if over <= 0 {
        return Duration::ZERO;
    }
    let seconds = 1u64.checked_shl(u32::try_from(over - 1).unwrap_or(u32::MAX));
    seconds.map_or(LONGEST_BLOCK, |s| Duration::from_secs(s).min(LONGEST_BLOCK))
}

#[derive(Debug, thiserror::Error)]
pub enum ThrottleError {
    #[error("too many failed sign-ins")]
    Blocked { retry_after: Duration },
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Refuses at once, before any password is checked, while `username` is blocked.
pub async fn check(db: &Database, username: &str, now: Timestamp) -> Result<(), ThrottleError> {
    let blocked_until: Option<i64> =
        sqlx::query_scalar("SELECT blocked_until FROM login_throttle WHERE username = $1")
            .bind(username)
            .fetch_optional(db.pool())
            .await
            .map_err(DbError::from)?;
    match blocked_until.map(Timestamp::from_millis) {
        Some(until) if until > now => Err(ThrottleError::Blocked {
            retry_after: now.until(until),
        }),
        _ => Ok(()),
    }
}

/// Counts a failed sign-in of `username`; answers how long this failure blocks it, if it does.
pub async fn record_failure(
    db: &Database,
    username: &str,
    now: Timestamp,
) -> Result<Option<Duration>, DbError> {
    let forget_before = now.minus(MEMORY).as_millis();
    let failures: i64 = sqlx::query_scalar(
        "INSERT INTO login_throttle (username, failures, last_failure_at, blocked_until)
         VALUES ($1, 1, $2, 0)
         ON CONFLICT (username) DO UPDATE SET
             failures = CASE WHEN login_throttle.last_failure_at < $3 THEN 1
                             ELSE login_throttle.failures + 1 END,
             last_failure_at = $2
         RETURNING failures",
    )
    .bind(username)
    .bind(now.as_millis())
    .bind(forget_before)
    .fetch_one(db.pool())
    .await?;
    let block = block_after(failures);
    if !block.is_zero() {
        sqlx::query("UPDATE login_throttle SET blocked_until = $2 WHERE username = $1")
            .bind(username)
            .bind(now.plus(block).as_millis())
            .execute(db.pool())
            .await?;
    }
    // Rows for names nobody has tried lately would otherwise pile up.
    sqlx::query("DELETE FROM login_throttle WHERE last_failure_at < $1 AND blocked_until < $2")
        .bind(forget_before)
        .bind(now.as_millis())
        .execute(db.pool())
        .await?;
    Ok(Some(block).filter(|block| !block.is_zero()))
}

pub async fn clear(db: &Database, username: &str) -> Result<(), DbError> {
    sqlx::query("DELETE FROM login_throttle WHERE username = $1")
        .bind(username)
        .execute(db.pool())
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_double_after_the_free_failures_up_to_a_cap() {
        let blocks: Vec<u64> = (1..=8).map(|n| block_after(n).as_secs()).collect();
        assert_eq!(blocks, vec![0, 0, 0, 0, 0, 1, 2, 4]);
        assert_eq!(block_after(20), Duration::from_secs(900));
        assert_eq!(block_after(1_000), LONGEST_BLOCK);
    }
}
