//! Sign-in sessions: a random token in an HttpOnly cookie; the database keeps only its SHA-256,
//! so a copy of the database opens no session.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::clock::Timestamp;
use sqlx::AnyConnection;

use crate::db::{Database, DbError};
use crate::random;
use crate::web::client_ip::ClientInfo;
use secrecy::{ExposeSecret, SecretString};

#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// A session unused for this long ends.
    pub idle_timeout: Duration,
    /// A session ends this long after sign-in, however busy.
    pub max_lifetime: Duration,
    pub cookie_secure: bool,
    /// Whether a trusted proxy's `X-Forwarded-Proto: https` makes a request one over TLS.
    pub trust_forwarded_proto: bool,
}

impl SessionPolicy {
    /// The policy for a request from `client`: over TLS when the server is reached over https,
    /// or when a trusted proxy says so and the configuration believes it.
    pub fn for_request(&self, client: &ClientInfo) -> SessionPolicy {
        SessionPolicy {
            cookie_secure: self.cookie_secure
                || (self.trust_forwarded_proto && client.forwarded_https),
            ..*self
        }
    }
}

pub const COOKIE_NAME: &str = "changeaudit_session";
/// The name over https: a `__Host-` cookie is only taken when it is `Secure`, for the exact
/// host and path `/`, so no other site of the domain can set or shadow it.
pub const SECURE_COOKIE_NAME: &str = "__Host-changeaudit_session";

/// The session cookie's name under `policy`.
pub fn cookie_name(policy: &SessionPolicy) -> &'static str {
    if policy.cookie_secure {
        SECURE_COOKIE_NAME
    } else {
        COOKIE_NAME
    }
}

/// A session's row is only rewritten when it was last seen longer ago than this, so reading
/// pages does not turn into a write per request.
const TOUCH_INTERVAL_MS: i64 = 60_000;

pub fn new_token() -> SecretString {
    SecretString::from(URL_SAFE_NO_PAD.encode(random::bytes::<32>()))
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The session token sent by the browser, if any.
pub fn token_from(headers: &HeaderMap, policy: &SessionPolicy) -> Option<SecretString> {
    cookie_value(headers, cookie_name(policy)).map(|value| SecretString::from(value.to_owned()))
}

/// The value of the cookie `name` the browser sent, if any.
pub fn cookie_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(found, _)| *found == name)
        .map(|(_, value)| value)
}

pub fn set_cookie(token: &SecretString, policy: &SessionPolicy) -> HeaderValue {
    cookie(token.expose_secret(), policy.max_lifetime.as_secs(), policy)
}

pub fn clear_cookie(policy: &SessionPolicy) -> HeaderValue {
    cookie("", 0, policy)
}

fn cookie(value: &str, max_age: u64, policy: &SessionPolicy) -> HeaderValue {
    let name = cookie_name(policy);
    let secure = if policy.cookie_secure { "; Secure" } else { "" };
    let text =
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}");
    // The token is base64url, so the value is always a valid header.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

pub struct NewSession<'a> {
    pub user_id: i64,
    pub client_ip: &'a str,
    pub user_agent: &'a str,
}

pub async fn create(
    connection: &mut AnyConnection,
    session: NewSession<'_>,
    now: Timestamp,
) -> Result<SecretString, DbError> {
    let token = new_token();
    sqlx::query(
        "INSERT INTO web_sessions (token_hash, user_id, created_at, last_seen_at, client_ip, user_agent)
         VALUES ($1, $2, $3, $3, $4, $5)",
    )
    .bind(token_hash(token.expose_secret()))
    .bind(session.user_id)
    .bind(now.as_millis())
    .bind(session.client_ip)
    .bind(session.user_agent)
    .execute(connection)
    .await?;
    Ok(token)
}

/// A sign-in session as the database names it: the SHA-256 of its token. It opens nothing, so
/// a long-lived socket or stream holds this rather than the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionKey(String);

impl SessionKey {
    pub fn of(token: &SecretString) -> SessionKey {
        SessionKey(token_hash(token.expose_secret()))
    }
}

/// Why a sign-in no longer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lapse {
    /// The sign-in is gone: the person signed out, or an admin reset their password.
    SignedOut,
    /// Idle too long, or past its absolute lifetime.
    Expired,
    /// The person's account was disabled (or removed).
    Disabled,
}

impl Lapse {
    pub fn as_str(self) -> &'static str {
        match self {
            Lapse::SignedOut => "signed_out",
            Lapse::Expired => "expired",
            Lapse::Disabled => "disabled",
        }
    }

    /// The reason in words, for the person whose session it was.
    pub fn words(self) -> &'static str {
        match self {
            Lapse::SignedOut => "You signed out, or your sign-in was ended.",
            Lapse::Expired => "Your sign-in expired.",
            Lapse::Disabled => "Your account was disabled.",
        }
    }
}

/// Whether a sign-in created and last used at these times still holds at `now`.
fn within(policy: &SessionPolicy, created_at: i64, last_seen_at: i64, now: Timestamp) -> bool {
    now < Timestamp::from_millis(last_seen_at).plus(policy.idle_timeout)
        && now < Timestamp::from_millis(created_at).plus(policy.max_lifetime)
}

/// The user whose live session `token` opens, which counts as a use of it; an expired session
/// is removed.
pub async fn user_of(
    db: &Database,
    token: &SecretString,
    policy: &SessionPolicy,
    now: Timestamp,
) -> Result<Option<i64>, DbError> {
    let key = SessionKey::of(token);
    let row: Option<(i64, i64, i64)> = sqlx::query_as(
        "SELECT s.user_id, s.created_at, s.last_seen_at
         FROM web_sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = $1 AND u.enabled = TRUE",
    )
    .bind(&key.0)
    .fetch_optional(db.pool())
    .await?;
    let Some((user_id, created_at, last_seen_at)) = row else {
        return Ok(None);
    };
    if !within(policy, created_at, last_seen_at, now) {
        delete_by_hash(db, &key.0).await?;
        return Ok(None);
    }
    if now.as_millis() - last_seen_at >= TOUCH_INTERVAL_MS {
        sqlx::query("UPDATE web_sessions SET last_seen_at = $2 WHERE token_hash = $1")
            .bind(&key.0)
            .bind(now.as_millis())
            .execute(db.pool())
            .await?;
    }
    Ok(Some(user_id))
}

/// Whether `user_id`'s sign-in `key` still holds, without counting as a use: a long-lived
/// socket or stream asks this so it ends with its sign-in, yet does not keep it alive. An
/// expired sign-in is removed.
pub async fn standing(
    db: &Database,
    key: &SessionKey,
    user_id: i64,
    policy: &SessionPolicy,
    now: Timestamp,
) -> Result<Result<(), Lapse>, DbError> {
    let row: Option<(i64, Option<i64>, Option<i64>)> = sqlx::query_as(
        "SELECT CAST(CASE WHEN u.enabled THEN 1 ELSE 0 END AS BIGINT), s.created_at, s.last_seen_at
         FROM users u LEFT JOIN web_sessions s ON s.user_id = u.id AND s.token_hash = $1
         WHERE u.id = $2",
    )
    .bind(&key.0)
    .bind(user_id)
    .fetch_optional(db.pool())
    .await?;
    Ok(match row {
        None => Err(Lapse::Disabled),
        Some((0, _, _)) => Err(Lapse::Disabled),
        Some((_, Some(created_at), Some(last_seen_at))) => {
            if within(policy, created_at, last_seen_at, now) {
                Ok(())
            } else {
                delete_by_hash(db, &key.0).await?;
                Err(Lapse::Expired)
            }
        }
        Some(_) => Err(Lapse::SignedOut),
    })
}

/// Counts the sign-in `key` names as used now (at most once per `TOUCH_INTERVAL_MS`): a person
/// typing in a terminal is using it, though no page asks the server anything meanwhile.
pub async fn touch(db: &Database, key: &SessionKey, now: Timestamp) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE web_sessions SET last_seen_at = $2 WHERE token_hash = $1 AND last_seen_at <= $3",
    )
    .bind(&key.0)
    .bind(now.as_millis())
    .bind(now.as_millis() - TOUCH_INTERVAL_MS)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Ends the session `token` opens; answers whose it was, if it was anyone's.
pub async fn delete(
    connection: &mut AnyConnection,
    token: &SecretString,
) -> Result<Option<i64>, DbError> {
    Ok(
        sqlx::query_scalar("DELETE FROM web_sessions WHERE token_hash = $1 RETURNING user_id")
            .bind(token_hash(token.expose_secret()))
            .fetch_optional(connection)
            .await?,
    )
}

async fn delete_by_hash(db: &Database, hash: &str) -> Result<(), DbError> {
    sqlx::query("DELETE FROM web_sessions WHERE token_hash = $1")
        .bind(hash)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Removes every session past its idle or absolute timeout.
pub async fn delete_expired(
    db: &Database,
    policy: &SessionPolicy,
    now: Timestamp,
) -> Result<(), DbError> {
    sqlx::query("DELETE FROM web_sessions WHERE last_seen_at <= $1 OR created_at <= $2")
        .bind(now.minus(policy.idle_timeout).as_millis())
        .bind(now.minus(policy.max_lifetime).as_millis())
        .execute(db.pool())
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn policy(secure: bool) -> SessionPolicy {
        SessionPolicy {
            idle_timeout: Duration::from_secs(60),
            max_lifetime: Duration::from_secs(3600),
            cookie_secure: secure,
            trust_forwarded_proto: false,
        }
    }

    #[test]
    fn cookie_is_http_only_strict_and_secure_only_over_tls() {
        let token = SecretString::from("abc".to_owned());
        assert_eq!(
            set_cookie(&token, &policy(false)),
            "changeaudit_session=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=3600"
        );
        assert_eq!(
            set_cookie(&token, &policy(true)),
            "__Host-changeaudit_session=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=3600; Secure"
        );
        assert!(
            clear_cookie(&policy(false))
                .to_str()
                .unwrap()
                .contains("Max-Age=0")
        );
    }

    #[test]
    fn finds_the_token_among_other_cookies() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; changeaudit_session=tok; x=y"),
        );
        assert_eq!(
            token_from(&headers, &policy(false))
                .unwrap()
                .expose_secret(),
            "tok"
        );
        // Over https only the `__Host-` cookie counts: another site of the domain could set
        // the plain one.
        assert!(token_from(&headers, &policy(true)).is_none());
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("changeaudit_sessionx=no"),
        );
        assert!(token_from(&headers, &policy(false)).is_none());
    }

    #[test]
    fn tokens_are_long_random_and_stored_only_as_digests() {
        let token = new_token();
        assert_eq!(token.expose_secret().len(), 43);
        assert_ne!(token.expose_secret(), new_token().expose_secret());
        let hash = token_hash(token.expose_secret());
        assert_eq!(hash.len(), 64);
        assert!(!hash.contains(token.expose_secret()));
    }
}
