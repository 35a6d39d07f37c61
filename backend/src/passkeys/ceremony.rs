//! WebAuthn ceremonies between their two requests. The server's half (webauthn-rs's state, and
//! for an approval what it binds) is kept in the database, not in memory, so the finish may reach
//! any replica; a ceremony is used once and lasts five minutes.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use changeaudit_shared::api::requests::CeremonyStart;
use serde::Serialize;
use serde::de::DeserializeOwned;
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
    pub user_id: i64,
    pub request_id: Option<i64>,
    pub change_digest: Option<String>,
    /// Base64url.
    pub nonce: Option<String>,
    /// webauthn-rs's state, as JSON.
    state: String,
}

impl Ceremony {
    /// A ceremony of `purpose` for `user_id`, keeping webauthn-rs's `state`.
    pub fn new(
        purpose: Purpose,
        user_id: i64,
        state: &impl Serialize,
    ) -> Result<Ceremony, DbError> {
        Ok(Ceremony {
            purpose,
            user_id,
            request_id: None,
            change_digest: None,
            nonce: None,
            state: serde_json::to_string(state).map_err(DbError::encode)?,
        })
    }

    /// webauthn-rs's state, read back.
    pub fn state<T: DeserializeOwned>(&self) -> Result<T, DbError> {
        serde_json::from_str(&self.state).map_err(DbError::decode)
    }
}

/// Stores `ceremony` and answers its first step: its ID and the browser's `options`. Ceremonies
/// past their time are removed on the way.
pub async fn start(
    connection: &mut AnyConnection,
    ceremony: &Ceremony,
    options: &impl Serialize,
    now: Timestamp,
) -> Result<CeremonyStart, DbError> {
    let options = serde_json::to_value(options).map_err(DbError::encode)?;
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
    Ok(CeremonyStart {
        ceremony: id,
        options,
    })
}

/// Takes ceremony `id` out of the store: it is deleted whether or not it fits, so an answer can
/// be tried once. `None` when there is no such ceremony for this purpose, or it is past its time;
/// the caller checks whose it is.
pub async fn take(
    connection: &mut AnyConnection,
    id: &str,
    purpose: Purpose,
    now: Timestamp,
) -> Result<Option<Ceremony>, DbError> {
    let row = sqlx::query(
        "DELETE FROM webauthn_ceremonies WHERE id = $1
         RETURNING user_id, purpose, request_id, change_digest, nonce, state, expires_at",
    )
    .bind(id)
    .fetch_optional(connection)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let stored_purpose: String = row.try_get("purpose")?;
    let expires_at: i64 = row.try_get("expires_at")?;
    let user_id: Option<i64> = row.try_get("user_id")?;
    let (Some(user_id), true) = (
        user_id,
        stored_purpose == purpose.as_str() && now.as_millis() < expires_at,
    ) else {
        return Ok(None);
    };
    Ok(Some(Ceremony {
        purpose,
        user_id,
        request_id: row.try_get("request_id")?,
        change_digest: row.try_get("change_digest")?,
        nonce: row.try_get("nonce")?,
        state: row.try_get("state")?,
    }))
}

/// Drops every ceremony of `user_id` still open, so a passkey removed cannot finish one.
pub async fn forget_user(connection: &mut AnyConnection, user_id: i64) -> Result<(), DbError> {
    sqlx::query("DELETE FROM webauthn_ceremonies WHERE user_id = $1")
        .bind(user_id)
        .execute(connection)
        .await?;
    Ok(())
}
