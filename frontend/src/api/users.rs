//! Admin → Users.

use changeaudit_shared::api::routes::users;
use changeaudit_shared::api::users::{User, UserInput};

use super::{ApiError, send};

/// Saves a person: a new one without `id`.
pub async fn save(id: Option<i64>, input: &UserInput) -> Result<User, ApiError> {
    match id {
        Some(id) => send(users::update(id), input).await,
        None => send(users::create(), input).await,
    }
}

/// The people whose username or name contains `search`, the first `limit`.
pub async fn search(
    search: &str,
    limit: u32,
) -> Result<changeaudit_shared::api::Page<User>, ApiError> {
    let limit = limit.to_string();
    super::fetch(users::list().with_query(&[("q", search), ("limit", &limit)])).await
}
