//! Admin → Credentials.

use changeaudit_shared::api::Page;
use changeaudit_shared::api::credentials::{Credential, NewCredential, SecretUpdate};
use changeaudit_shared::api::routes::credentials;

use super::{ApiError, fetch, send};

pub async fn create(input: &NewCredential) -> Result<Credential, ApiError> {
    send(credentials::create(), input).await
}

pub async fn rotate_secret(id: i64, update: &SecretUpdate) -> Result<Credential, ApiError> {
    send(credentials::rotate_secret(id), update).await
}

pub async fn delete(id: i64) -> Result<(), ApiError> {
    fetch(credentials::delete(id)).await
}

/// The credentials whose account, device or host contains `search`, the first `limit`.
pub async fn search(search: &str, limit: u32) -> Result<Page<Credential>, ApiError> {
    let limit = limit.to_string();
    fetch(credentials::list().with_query(&[("q", search), ("limit", &limit)])).await
}
