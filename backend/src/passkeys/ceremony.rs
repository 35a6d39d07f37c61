//! WebAuthn ceremonies between their two requests. The server's half (webauthn-rs's state, and
//! for an approval what it binds) is kept in the database, not in memory, so the finish may reach
//! any replica; a ceremony is used once and lasts five minutes.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sqlx::{AnyConnection, Row};

use crate::clock::Timestamp;
use crate::db::DbError;

const LIFETIME: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Register,
    SignIn,
    Approve,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Register => "register",
            Purpose::SignIn => "sign_in",
            Purpose::Approve => "approve",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Ceremony {
    pub purpose: Purpose,
    pub user_id: Option<i64>,
    pub request_id: Option<i64>,
    pub change_digest: Option<String>,
    /// Base64url.
    pub nonce: Option<String>,
    /// webauthn-rs's state, as JSON.
    pub state: String,
}

/// Stores `ceremony` and returns its ID; ceremonies past their time are removed on the way.
pub async fn open(
    connection: &mut AnyConnection,
    ceremony: &Ceremony,
    now: Timestamp,
) -> Result<String, DbError> {
    sqlx::query("DELETE FROM webauthn_ceremonies WHERE expires_at <= $1")
        .bind(now.as_millis())
        .execute(&mut *connection)
        .await?;
    let id = URL_SAFE_NO_PAD.encode(crate::random::bytes::<18>());
    sqlx::query(
        "INSERT INTO webauthn_ceremonies (id, user_id, purpose, request_id, change_digest, nonce,
             state, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(ceremony.user_id)
    .bind(ceremony.purpose.as_str())
    .bind(ceremony.request_id)
    .bind(&ceremony.change_digest)
    .bind(&ceremony.nonce)
    .bind(&ceremony.state)
    .bind(now.plus(LIFETIME).as_millis())
    .execute(connection)
    .await?;
    Ok(id)
}

/// Takes ceremony `id` out of the store: it is deleted whether or not it fits, so an answer can
/// be tried once. `None` when there is no such ceremony for this purpose and person, or it is
/// past its time.
pub async fn take(
    connection: &mut AnyConnection,
    id: &str,
    purpose: Purpose,
    user_id: Option<i64>,
    now: Timestamp,
) -> Result<Option<Ceremony>, DbError> {
    let row = sqlx::query(
        "SELECT user_id, purpose, request_id, change_digest, nonce, state, expires_at
         FROM webauthn_ceremonies WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *connection)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    sqlx::query("DELETE FROM webauthn_ceremonies WHERE id = $1")
        .bind(id)
        .execute(&mut *connection)
        .await?;
    let stored_purpose: String = row.try_get("purpose")?;
    let stored_user: Option<i64> = row.try_get("user_id")?;
    let expires_at: i64 = row.try_get("expires_at")?;
    if stored_purpose != purpose.as_str() || stored_user != user_id || expires_at <= now.as_millis()
    {
        return Ok(None);
    }
    Ok(Some(Ceremony {
        purpose,
        user_id: stored_user,
        request_id: row.try_get("request_id")?,
        change_digest: row.try_get("change_digest")?,
        nonce: row.try_get("nonce")?,
        state: row.try_get("state")?,
    }))
}
