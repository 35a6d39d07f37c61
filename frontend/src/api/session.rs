//! Signing in and out, and who is signed in.

use changeaudit_shared::api::requests::{CeremonyStart, PasskeySignIn, PasskeySignInStart};
use changeaudit_shared::api::routes::session;
use changeaudit_shared::api::{LoginRequest, Me};

use super::{ApiError, fetch, send};

/// The signed-in person, or `None` when nobody is signed in.
pub async fn me() -> Result<Option<Me>, ApiError> {
    match fetch(session::me()).await {
        Ok(me) => Ok(Some(me)),
        Err(error) if error.status() == Some(401) => Ok(None),
        Err(error) => Err(error),
    }
}

pub async fn sign_in(request: &LoginRequest) -> Result<Me, ApiError> {
    send(session::sign_in(), request).await
}

pub async fn sign_out() -> Result<(), ApiError> {
    fetch(session::sign_out()).await
}

pub async fn passkey_challenge(start: &PasskeySignInStart) -> Result<CeremonyStart, ApiError> {
    send(session::passkey_challenge(), start).await
}

pub async fn passkey_sign_in(answer: &PasskeySignIn) -> Result<Me, ApiError> {
    send(session::passkey_sign_in(), answer).await
}
