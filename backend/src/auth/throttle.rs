//! Slows down guessing. Three limits, each a row of `sign_in_limits` in the database, so every
//! replica enforces the same:
//!
//! - **the pair** (method, account, address): a few free failures, then each further failure
//!   blocks that pair for twice as long as the last (1 s up to 15 min). Someone else's failures,
//!   from another address, never block a person, and password failures never block a passkey.
//! - **the address**: many more free failures across accounts (spraying), then the same growth.
//! - **the account**, for passwords from browsers it has not been used in (`known_browser`):
//!   failures from many addresses at once (a botnet on one name) slow down strangers' guesses
//!   on it. A browser the person has signed in with before is held instead to a limit of its
//!   own, **the browser**, so that its cookie, if stolen, is worth a few guesses and no more.
//!
//! An attempt is admitted before its password or passkey is checked, and counted as in flight
//! until it is settled: a parallel burst gets the free allowance and no more, and the rest are
//! refused without any hash being computed.

use std::time::Duration;

use crate::clock::Timestamp;
use crate::db::{Database, DbError};

/// Failures of one pair before any block, so a person who mistypes is never slowed down.
const FREE_PER_PAIR: i64 = 5;
/// Failures from one address, across accounts, before any block.
const FREE_PER_ADDRESS: i64 = 50;
/// Password failures on one account from unknown browsers, across addresses, before any block:
/// six addresses' worth of a pair's free failures.
const FREE_PER_ACCOUNT: i64 = 30;
/// Failures from one known browser, across addresses, before any block.
const FREE_PER_BROWSER: i64 = 10;
const LONGEST_BLOCK: Duration = Duration::from_secs(15 * 60);
/// Failures are forgotten this long after the last one.
const MEMORY: Duration = Duration::from_secs(15 * 60);
/// An attempt in flight for longer is taken as lost (its server stopped midway).
const STALE_PENDING: Duration = Duration::from_secs(60);

/// How long a limit blocks after its `failures`-th failure in a row, `free` of them free.
fn block_after(failures: i64, free: i64) -> Duration {
    let over = failures - free;
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

/// A browser recognised for an account (`known_browser`): its own random ID, which has a
/// limit of its own. Defined here, where it is limited, so that the limits need nothing of the
/// cookie's reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownBrowser(pub String);

/// One limit an attempt is held to.
#[derive(Debug, Clone)]
pub struct Limit {
    scope: &'static str,
    key: String,
    free: i64,
}

/// Where attempts are counted from: an IPv4 address, or an IPv6 address's /64 (one subscriber
/// holds a whole /64, and would otherwise have 2^64 addresses to spend).
fn source(address: &str) -> String {
    match address.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => {
            let [a, b, c, d, ..] = v6.segments();
            format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
        }
        _ => address.to_owned(),
    }
}

/// The limits of a sign-in by `method` as `username` from `address`: its pair, its address,
/// and, for a password, the browser when it is `known` for the account, else the account.
pub fn limits(
    method: &str,
    username: &str,
    address: &str,
    known: Option<&KnownBrowser>,
) -> Vec<Limit> {
    let address = source(address);
    let account = username.to_lowercase();
    let pair = serde_json::json!([method, account, address]).to_string();
    let mut limits = vec![
        Limit {
            scope: "pair",
            key: pair,
            free: FREE_PER_PAIR,
        },
        Limit {
            scope: "address",
            key: address,
            free: FREE_PER_ADDRESS,
        },
    ];
    if method == "password" {
        limits.push(match known {
            Some(KnownBrowser(browser)) => Limit {
                scope: "browser",
                key: browser.clone(),
                free: FREE_PER_BROWSER,
            },
            None => Limit {
                scope: "account",
                key: serde_json::json!([method, account]).to_string(),
                free: FREE_PER_ACCOUNT,
            },
        });
    }
    limits
}

/// Admits an attempt under every limit, counting it in flight, or refuses it with how long to
/// wait. An admitted attempt is settled with `failed` or `succeeded`.
pub async fn admit(db: &Database, limits: &[Limit], now: Timestamp) -> Result<(), ThrottleError> {
    for (index, limit) in limits.iter().enumerate() {
        if let Err(refused) = admit_one(db, limit, now).await {
            // The limits admitted before this one do not keep it in flight.
            for admitted in &limits[..index] {
                release(db, admitted).await?;
            }
            return Err(refused);
        }
    }
    Ok(())
}

async fn admit_one(db: &Database, limit: &Limit, now: Timestamp) -> Result<(), ThrottleError> {
    sqlx::query(
        "INSERT INTO sign_in_limits (scope, key, failures, last_failure_at, blocked_until, pending, pending_at)
         VALUES ($1, $2, 0, 0, 0, 0, $3) ON CONFLICT (scope, key) DO NOTHING",
    )
    .bind(limit.scope)
    .bind(&limit.key)
    // Touched now, so the clean-up of quiet rows cannot take it before the update below.
    .bind(now.as_millis())
    .execute(db.pool())
    .await
    .map_err(DbError::from)?;
    // One statement, so two replicas cannot both take the last free place. Failures long past
    // are forgotten and attempts lost in flight dropped on the way.
    let admitted = sqlx::query(
        "UPDATE sign_in_limits SET
             failures = CASE WHEN last_failure_at < $4 THEN 0 ELSE failures END,
             pending = CASE WHEN pending_at < $5 THEN 1 ELSE pending + 1 END,
             pending_at = $3
         WHERE scope = $1 AND key = $2 AND blocked_until <= $3
           AND ((CASE WHEN last_failure_at < $4 THEN 0 ELSE failures END)
                + (CASE WHEN pending_at < $5 THEN 0 ELSE pending END) < $6
                OR (CASE WHEN pending_at < $5 THEN 0 ELSE pending END) = 0)",
    )
    .bind(limit.scope)
    .bind(&limit.key)
    .bind(now.as_millis())
    .bind(now.minus(MEMORY).as_millis())
    .bind(now.minus(STALE_PENDING).as_millis())
    .bind(limit.free)
    .execute(db.pool())
    .await
    .map_err(DbError::from)?;
    if admitted.rows_affected() == 1 {
        return Ok(());
    }
    let blocked_until: i64 = sqlx::query_scalar(
        "SELECT blocked_until FROM sign_in_limits WHERE scope = $1 AND key = $2",
    )
    .bind(limit.scope)
    .bind(&limit.key)
    .fetch_one(db.pool())
    .await
    .map_err(DbError::from)?;
    // Blocked, or past the allowance with attempts still in flight: try again in a moment.
    let retry_after = now
        .until(Timestamp::from_millis(blocked_until))
        .max(Duration::from_secs(1));
    Err(ThrottleError::Blocked { retry_after })
}

/// Takes admitted attempts out of flight without counting them: a passkey challenge handed out
/// is no guess yet.
pub async fn withdraw(db: &Database, limits: &[Limit]) -> Result<(), DbError> {
    for limit in limits {
        release(db, limit).await?;
    }
    Ok(())
}

/// Takes an admitted attempt out of flight without counting it.
async fn release(db: &Database, limit: &Limit) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE sign_in_limits SET pending = CASE WHEN pending > 0 THEN pending - 1 ELSE 0 END
         WHERE scope = $1 AND key = $2",
    )
    .bind(limit.scope)
    .bind(&limit.key)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Settles an admitted attempt that failed; answers the limits it blocks now (scope and how
/// long).
pub async fn failed(
    db: &Database,
    limits: &[Limit],
    now: Timestamp,
) -> Result<Vec<(&'static str, Duration)>, DbError> {
    let mut blocks = Vec::new();
    for limit in limits {
        // Counted first, still in flight: until the block below is written, no other attempt
        // is admitted in its place.
        let counted: Option<i64> = sqlx::query_scalar(
            "UPDATE sign_in_limits SET failures = failures + 1, last_failure_at = $3
             WHERE scope = $1 AND key = $2 RETURNING failures",
        )
        .bind(limit.scope)
        .bind(&limit.key)
        .bind(now.as_millis())
        .fetch_optional(db.pool())
        .await?;
        // Admitted attempts always have their row; none means nothing to count against.
        let Some(failures) = counted else {
            continue;
        };
        let block = block_after(failures, limit.free);
        // Out of flight and blocked at once; a longer block already there is kept.
        sqlx::query(
            "UPDATE sign_in_limits SET
                 blocked_until = CASE WHEN blocked_until < $3 THEN $3 ELSE blocked_until END,
                 pending = CASE WHEN pending > 0 THEN pending - 1 ELSE 0 END
             WHERE scope = $1 AND key = $2",
        )
        .bind(limit.scope)
        .bind(&limit.key)
        .bind(now.plus(block).as_millis())
        .execute(db.pool())
        .await?;
        if !block.is_zero() {
            blocks.push((limit.scope, block));
        }
    }
    forget_quiet(db, now).await?;
    Ok(blocks)
}

/// Settles an admitted attempt that succeeded: its pair starts afresh.
pub async fn succeeded(db: &Database, limits: &[Limit]) -> Result<(), DbError> {
    for limit in limits {
        match limit.scope {
            "pair" => {
                sqlx::query("DELETE FROM sign_in_limits WHERE scope = $1 AND key = $2")
                    .bind(limit.scope)
                    .bind(&limit.key)
                    .execute(db.pool())
                    .await?;
            }
            _ => release(db, limit).await?,
        }
    }
    Ok(())
}

/// Rows nobody has failed on lately would otherwise pile up.
async fn forget_quiet(db: &Database, now: Timestamp) -> Result<(), DbError> {
    sqlx::query(
        "DELETE FROM sign_in_limits
         WHERE last_failure_at < $1 AND blocked_until < $2 AND pending_at < $3",
    )
    .bind(now.minus(MEMORY).as_millis())
    .bind(now.as_millis())
    .bind(now.minus(STALE_PENDING).as_millis())
    .execute(db.pool())
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_double_after_the_free_failures_up_to_a_quarter_hour() {
        assert_eq!(block_after(5, 5), Duration::ZERO);
        assert_eq!(block_after(6, 5), Duration::from_secs(1));
        assert_eq!(block_after(7, 5), Duration::from_secs(2));
        assert_eq!(block_after(15, 5), Duration::from_secs(512));
        assert_eq!(block_after(16, 5), LONGEST_BLOCK);
        assert_eq!(block_after(500, 5), LONGEST_BLOCK);
    }

    fn keys(limits: &[Limit]) -> Vec<(&str, &str)> {
        limits
            .iter()
            .map(|limit| (limit.scope, limit.key.as_str()))
            .collect()
    }

    #[test]
    fn a_pair_names_the_method_the_account_and_the_address() {
        let password = limits("password", "Admin", "10.0.0.1", None);
        let passkey = limits("passkey", "admin", "10.0.0.1", None);
        let elsewhere = limits("password", "admin", "10.0.0.2", None);
        assert_ne!(password[0].key, passkey[0].key);
        assert_ne!(password[0].key, elsewhere[0].key);
        assert_eq!(elsewhere[1].key, "10.0.0.2");
        assert_eq!(
            limits("password", "ADMIN", "10.0.0.1", None)[0].key,
            password[0].key
        );
    }

    #[test]
    fn passwords_count_against_the_account_or_the_known_browser() {
        let known = KnownBrowser("browser-1".to_owned());
        let stranger = limits("password", "Admin", "10.0.0.1", None);
        assert_eq!(keys(&stranger)[2], ("account", r#"["password","admin"]"#));
        // The same account from elsewhere shares that limit.
        assert_eq!(
            limits("password", "admin", "10.9.9.9", None)[2].key,
            stranger[2].key
        );
        assert_eq!(
            keys(&limits("password", "admin", "10.0.0.1", Some(&known)))[2],
            ("browser", "browser-1")
        );
        assert_eq!(keys(&limits("passkey", "admin", "10.0.0.1", None)).len(), 2);
    }

    #[test]
    fn an_ipv6_address_counts_as_its_slash_64() {
        let known = KnownBrowser("browser-1".to_owned());
        let one = limits("password", "admin", "2001:db8:1:2::1", Some(&known));
        let other = limits("password", "admin", "2001:db8:1:2:ffff::9", Some(&known));
        let elsewhere = limits("password", "admin", "2001:db8:1:3::1", Some(&known));
        assert_eq!(one[1].key, "2001:db8:1:2::/64");
        assert_eq!(one[1].key, other[1].key);
        assert_ne!(one[1].key, elsewhere[1].key);
    }
}
