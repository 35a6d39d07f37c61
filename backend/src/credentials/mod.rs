//! Credentials: an account on a device, with its secret sealed by the vault. Nothing here ever
//! returns a secret to a caller outside the broker; Admin → Credentials' API is in `handlers`.

pub mod handlers;
mod private_key;

pub use changeaudit_shared::api::credentials::SecretKind;
pub use private_key::check_private_key;

use changeaudit_shared::api::credentials::Credential;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::clock::Timestamp;
use crate::db::DbError;
use crate::listing::{Arg, Filter, Paging};
use crate::vault::{MasterKey, VaultError};
use secrecy::SecretString;

/// What a sealed secret is bound to: its own row.
pub fn seal_context(credential_id: i64) -> String {
    format!("credential:{credential_id}")
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("credential {id}: {source}")]
    Vault { id: i64, source: VaultError },
}

impl From<sqlx::Error> for CredentialError {
    fn from(error: sqlx::Error) -> Self {
        CredentialError::Db(error.into())
    }
}

/// Stores a credential with its secret sealed under `key`; answers its id.
pub async fn store(
    connection: &mut AnyConnection,
    key: &MasterKey,
    device_id: i64,
    username: &str,
    kind: SecretKind,
    secret: &SecretString,
    now: Timestamp,
) -> Result<i64, CredentialError> {
    // The row's id is part of what the secret is sealed to, so it is sealed once the id exists.
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO credentials (device_id, username, kind, secret, key_id, created_at, updated_at)
         VALUES ($1, $2, $3, '', $4, $5, $5) RETURNING id",
    )
    .bind(device_id)
    .bind(username)
    .bind(kind.as_str())
    .bind(key.id())
    .bind(now.as_millis())
    .fetch_one(&mut *connection)
    .await?;
    let sealed = key
        .seal(secret, &seal_context(id))
        .map_err(|source| CredentialError::Vault { id, source })?;
    sqlx::query("UPDATE credentials SET secret = $2 WHERE id = $1")
        .bind(id)
        .bind(sealed)
        .execute(&mut *connection)
        .await?;
    Ok(id)
}

/// Every credential's id and sealed secret, for rotation and start-up checks.
pub async fn sealed(connection: &mut AnyConnection) -> Result<Vec<(i64, String)>, DbError> {
    let rows = sqlx::query("SELECT id, secret FROM credentials ORDER BY id")
        .fetch_all(connection)
        .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("id")?, row.try_get("secret")?)))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DbError::from)
}

/// Seals `secret` anew for credential `id` under `key`.
pub async fn replace_secret(
    connection: &mut AnyConnection,
    key: &MasterKey,
    id: i64,
    kind: SecretKind,
    secret: &SecretString,
    now: Timestamp,
) -> Result<(), CredentialError> {
    let sealed = key
        .seal(secret, &seal_context(id))
        .map_err(|source| CredentialError::Vault { id, source })?;
    sqlx::query(
        "UPDATE credentials SET kind = $2, secret = $3, key_id = $4, updated_at = $5 WHERE id = $1",
    )
    .bind(id)
    .bind(kind.as_str())
    .bind(sealed)
    .bind(key.id())
    .bind(now.as_millis())
    .execute(&mut *connection)
    .await?;
    Ok(())
}

const COLUMNS: &str =
    "c.id, c.device_id, d.name AS device_name, c.username, c.kind, c.created_at, c.updated_at";
const FROM: &str = "credentials c JOIN devices d ON d.id = c.device_id";

fn credential_of(row: &AnyRow) -> Result<Credential, DbError> {
    let kind: String = row.try_get("kind")?;
    Ok(Credential {
        id: row.try_get("id")?,
        device_id: row.try_get("device_id")?,
        device_name: row.try_get("device_name")?,
        username: row.try_get("username")?,
        // The schema admits the two kinds only.
        kind: SecretKind::parse(&kind).unwrap_or(SecretKind::Password),
        secret_set_at: Timestamp::from_millis(row.try_get("updated_at")?).to_datetime(),
        created_at: Timestamp::from_millis(row.try_get("created_at")?).to_datetime(),
    })
}

/// Filters of `GET /api/credentials`.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CredentialQuery {
    /// Part of the account or the device's name.
    pub q: Option<String>,
    /// Only the credentials of this device.
    pub device_id: Option<i64>,
}

pub async fn list(
    connection: &mut AnyConnection,
    query: &CredentialQuery,
    paging: Paging,
) -> Result<(Vec<Credential>, i64), DbError> {
    let mut filter = Filter::default();
    if let Some(q) = query.q.as_deref().filter(|q| !q.trim().is_empty()) {
        filter.contains(&["c.username", "d.name"], q.trim());
    }
    if let Some(device_id) = query.device_id {
        filter.and("c.device_id = ?", [Arg::Int(device_id)]);
    }
    let total = filter.count(connection, FROM).await?;
    let next = filter.next_placeholder();
    let sql = format!(
        "SELECT {COLUMNS} FROM {FROM}{} ORDER BY d.name, c.username LIMIT ${next} OFFSET ${}",
        filter.where_clause(),
        next + 1
    );
    let rows = filter
        .bind(sqlx::query(&sql))
        .bind(paging.limit())
        .bind(paging.offset())
        .fetch_all(&mut *connection)
        .await?;
    Ok((
        rows.iter()
            .map(credential_of)
            .collect::<Result<Vec<_>, _>>()?,
        total,
    ))
}

pub async fn view(connection: &mut AnyConnection, id: i64) -> Result<Credential, DbError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM {FROM} WHERE c.id = $1"))
        .bind(id)
        .fetch_one(connection)
        .await?;
    credential_of(&row)
}

/// The secret of credential `id`, opened for the SSH broker alone.
pub async fn open(
    connection: &mut AnyConnection,
    key: &MasterKey,
    id: i64,
) -> Result<SecretString, CredentialError> {
    let sealed: String = sqlx::query_scalar("SELECT secret FROM credentials WHERE id = $1")
        .bind(id)
        .fetch_one(connection)
        .await?;
    key.open(&sealed, &seal_context(id))
        .map_err(|source| CredentialError::Vault { id, source })
}
