//! The person's passkeys (Profile).

use changeaudit_shared::api::requests::{CeremonyStart, PasskeyInfo, PasskeyInput};
use changeaudit_shared::api::routes::passkeys;

use super::{ApiError, fetch, send};

pub async fn mine() -> Result<Vec<PasskeyInfo>, ApiError> {
    fetch(passkeys::mine()).await
}

pub async fn start_registration() -> Result<CeremonyStart, ApiError> {
    fetch(passkeys::start_registration()).await
}

pub async fn register(input: &PasskeyInput) -> Result<PasskeyInfo, ApiError> {
    send(passkeys::register(), input).await
}

pub async fn delete(id: i64) -> Result<(), ApiError> {
    fetch(passkeys::delete(id)).await
}
