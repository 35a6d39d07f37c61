//! Admin → Access groups, and the groups a change may belong to.

use changeaudit_shared::api::Page;
use changeaudit_shared::api::groups::{AccessGroup, AccessGroupInput};
use changeaudit_shared::api::routes::groups;

use super::{ApiError, fetch, send};

/// Saves a group: a new one without `id`.
pub async fn save(id: Option<i64>, input: &AccessGroupInput) -> Result<AccessGroup, ApiError> {
    match id {
        Some(id) => send(groups::update(id), input).await,
        None => send(groups::create(), input).await,
    }
}

pub async fn delete(id: i64) -> Result<(), ApiError> {
    fetch(groups::delete(id)).await
}

/// The groups whose names contain `search`, the first `limit`.
pub async fn search(search: &str, limit: u32) -> Result<Page<AccessGroup>, ApiError> {
    let limit = limit.to_string();
    fetch(groups::list().with_query(&[("q", search), ("limit", &limit)])).await
}
