//! Registered passkeys. webauthn-rs's `Passkey` is kept as JSON: its public key and counter.

use sqlx::{AnyConnection, Row};
use webauthn_rs::prelude::Passkey;

use crate::clock::Timestamp;
use crate::db::DbError;

pub struct StoredPasskey {
    pub id: i64,
    pub name: String,
    pub passkey: Passkey,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

fn decode(text: &str) -> Result<Passkey, DbError> {
    serde_json::from_str(text).map_err(DbError::decode)
}

pub async fn passkeys_of(
    connection: &mut AnyConnection,
    user_id: i64,
) -> Result<Vec<StoredPasskey>, DbError> {
    let rows = sqlx::query(
        "SELECT id, name, passkey, created_at, last_used_at FROM passkeys WHERE user_id = $1
         ORDER BY id",
    )
    .bind(user_id)
    .fetch_all(connection)
    .await?;
    rows.iter()
        .map(|row| {
            let text: String = row.try_get("passkey")?;
            Ok(StoredPasskey {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                passkey: decode(&text)?,
                created_at: Timestamp::from_millis(row.try_get("created_at")?),
                last_used_at: row
                    .try_get::<Option<i64>, _>("last_used_at")?
                    .map(Timestamp::from_millis),
            })
        })
        .collect()
}

/// Stores the passkey after a use: its counter moved, and when it was used.
pub async fn touch(
    connection: &mut AnyConnection,
    id: i64,
    passkey: &Passkey,
    now: Timestamp,
) -> Result<(), DbError> {
    let text = serde_json::to_string(passkey).map_err(DbError::encode)?;
    sqlx::query("UPDATE passkeys SET passkey = $2, last_used_at = $3 WHERE id = $1")
        .bind(id)
        .bind(text)
        .bind(now.as_millis())
        .execute(connection)
        .await?;
    Ok(())
}

pub async fn insert(
    connection: &mut AnyConnection,
    user_id: i64,
    credential_id: &str,
    name: &str,
    passkey: &Passkey,
    now: Timestamp,
) -> Result<i64, DbError> {
    let text = serde_json::to_string(passkey).map_err(DbError::encode)?;
    let id = sqlx::query_scalar(
        "INSERT INTO passkeys (user_id, credential_id, name, passkey, created_at)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(user_id)
    .bind(credential_id)
    .bind(name)
    .bind(text)
    .bind(now.as_millis())
    .fetch_one(connection)
    .await?;
    Ok(id)
}

/// The handle a person's passkeys are registered under, made on first use.
pub async fn handle_of(connection: &mut AnyConnection, user_id: i64) -> Result<String, DbError> {
    let stored: Option<String> =
        sqlx::query_scalar("SELECT passkey_handle FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_one(&mut *connection)
            .await?;
    if let Some(handle) = stored {
        return Ok(handle);
    }
    let handle = webauthn_rs::prelude::Uuid::from_bytes(crate::random::bytes()).to_string();
    sqlx::query("UPDATE users SET passkey_handle = $2 WHERE id = $1")
        .bind(user_id)
        .bind(&handle)
        .execute(connection)
        .await?;
    Ok(handle)
}
