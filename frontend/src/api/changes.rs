//! Changes: read, registered, edited, cancelled.

use changeaudit_shared::api::changes::{Change, ChangeInput};
use changeaudit_shared::api::life::ChangeLife;
use changeaudit_shared::api::routes::changes;

use super::{ApiError, fetch, send};

pub async fn get(id: &str) -> Result<Change, ApiError> {
    fetch(changes::get(id)).await
}

/// Saves a change: a new one without `id`.
pub async fn save(id: Option<&str>, input: &ChangeInput) -> Result<Change, ApiError> {
    match id {
        Some(id) => send(changes::update(id), input).await,
        None => send(changes::create(), input).await,
    }
}

pub async fn cancel(id: &str) -> Result<Change, ApiError> {
    fetch(changes::cancel(id)).await
}

/// What happened to the change: its requests and sessions, as far as the person may see them.
pub async fn life(id: &str) -> Result<ChangeLife, ApiError> {
    fetch(changes::life(id)).await
}
