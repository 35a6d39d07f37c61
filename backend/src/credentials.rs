//! Credentials: an account on a device, with its secret sealed by the vault. Nothing here ever
//! returns a secret to a caller outside the broker.

use sqlx::{AnyConnection, Row};

use crate::clock::Timestamp;
use crate::db::DbError;
use crate::secret::Secret;
use crate::vault::{MasterKey, VaultError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    Password,
    PrivateKey,
}

impl SecretKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SecretKind::Password => "password",
            SecretKind::PrivateKey => "private_key",
        }
    }
}

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
    secret: &Secret<String>,
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

/// The secret of credential `id`, opened for the SSH broker alone.
pub async fn open(
    connection: &mut AnyConnection,
    key: &MasterKey,
    id: i64,
) -> Result<Secret<String>, CredentialError> {
    let sealed: String = sqlx::query_scalar("SELECT secret FROM credentials WHERE id = $1")
        .bind(id)
        .fetch_one(connection)
        .await?;
    key.open(&sealed, &seal_context(id))
        .map_err(|source| CredentialError::Vault { id, source })
}
