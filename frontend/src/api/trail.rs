//! Admin → Audit trail.

use changeaudit_shared::api::routes::trail;
use changeaudit_shared::api::trail::{TrailStatus, Verification};

use super::{ApiError, fetch};

pub async fn status() -> Result<TrailStatus, ApiError> {
    fetch(trail::status()).await
}

pub async fn verify() -> Result<Verification, ApiError> {
    fetch(trail::verify()).await
}
