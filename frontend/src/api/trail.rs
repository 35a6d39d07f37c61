//! Admin → Audit trail.

use changeaudit_shared::api::routes::trail;
use changeaudit_shared::api::trail::{EventProof, TrailStatus, Verification};

use super::{ApiError, fetch};

pub async fn status() -> Result<TrailStatus, ApiError> {
    fetch(trail::status()).await
}

pub async fn verify() -> Result<Verification, ApiError> {
    fetch(trail::verify()).await
}

/// An event with the proof that it is in the latest checkpoint's tree.
pub async fn event_proof(seq: i64) -> Result<EventProof, ApiError> {
    fetch(trail::event_proof(seq)).await
}
