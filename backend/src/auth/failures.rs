//! Failed sign-ins and the lockouts they cause, in the trail. The password and the passkey
//! sign-in report each attempt that fails here, so an auditor sees guessing as it happened:
//! which account was tried, how, from where, and when it was locked.

use std::time::Duration;

use serde_json::json;

use super::throttle::{self, ThrottleError};
use crate::error::AppError;
use crate::state::AppState;
use crate::trail::audit::{self, Actor, NewEvent};
use crate::web::client_ip::ClientInfo;

/// A sign-in attempt: the account it names, how, and from where.
pub struct Attempt<'a> {
    pub username: &'a str,
    /// `password` or `passkey`.
    pub method: &'a str,
    pub client: &'a ClientInfo,
}

impl Attempt<'_> {
    fn event(&self, action: &'static str, details: serde_json::Value) -> NewEvent<'static> {
        let mut details = details;
        details["username"] = json!(self.username);
        details["method"] = json!(self.method);
        details["client_ip"] = json!(self.client.ip);
        details["user_agent"] = json!(self.client.user_agent);
        NewEvent {
            actor: Actor::Anonymous,
            action,
            object: None,
            details,
        }
    }
}

impl Attempt<'_> {
    fn limits(&self) -> [throttle::Limit; 2] {
        throttle::limits(self.method, self.username, &self.client.ip)
    }
}

/// Admits the attempt under the sign-in limits, or refuses it with how long to wait. Refusals
/// are logged, not written to the trail (a flood of them writes nothing); the lockouts that
/// cause them are in it (`session.locked_out`).
pub async fn admit(state: &AppState, attempt: &Attempt<'_>) -> Result<(), AppError> {
    let now = state.clock.now();
    match throttle::admit(&state.db, &attempt.limits(), now).await {
        Err(ThrottleError::Blocked { retry_after }) => {
            tracing::info!(
                username = attempt.username,
                client_ip = %attempt.client.ip,
                method = attempt.method,
                "sign-in refused: too many failures from this address"
            );
            Err(ThrottleError::Blocked { retry_after }.into())
        }
        other => Ok(other?),
    }
}

/// Settles an admitted attempt that succeeded: its pair starts afresh.
pub async fn succeeded(state: &AppState, attempt: &Attempt<'_>) -> Result<(), AppError> {
    let now = state.clock.now();
    Ok(throttle::succeeded(&state.db, &attempt.limits(), now).await?)
}

/// Settles an admitted attempt that was not a guess (a passkey challenge handed out).
pub async fn withdraw(state: &AppState, attempt: &Attempt<'_>) -> Result<(), AppError> {
    let now = state.clock.now();
    Ok(throttle::withdraw(&state.db, &attempt.limits(), now).await?)
}

/// Counts an admitted attempt that failed, audits it and the lockout it may start, and
/// answers the refusal to give.
pub async fn failed(state: &AppState, attempt: &Attempt<'_>, reason: &str) -> AppError {
    match record(state, attempt, reason).await {
        Ok(()) => AppError::InvalidCredentials,
        Err(error) => error,
    }
}

/// A passkey sign-in whose challenge is unknown, expired or already used (a replay, say): it
/// names no account, so it is audited and counted against none.
pub async fn stale_challenge(state: &AppState, client: &ClientInfo) -> AppError {
    let reason = "the sign-in challenge is unknown, expired or already used";
    let details = json!({
        "username": null,
        "method": "passkey",
        "reason": reason,
        "client_ip": client.ip,
        "user_agent": client.user_agent,
    });
    let event = NewEvent {
        actor: Actor::Anonymous,
        action: "session.sign_in_failed",
        object: None,
        details,
    };
    match audit::record(&state.db, event, state.clock.now()).await {
        Ok(()) => AppError::InvalidCredentials,
        Err(error) => error.into(),
    }
}

async fn record(state: &AppState, attempt: &Attempt<'_>, reason: &str) -> Result<(), AppError> {
    let now = state.clock.now();
    let block: Option<Duration> = throttle::failed(&state.db, &attempt.limits(), now).await?;
    let event = attempt.event("session.sign_in_failed", json!({ "reason": reason }));
    audit::record(&state.db, event, now).await?;
    if let Some(block) = block {
        let details = json!({ "blocked_seconds": block.as_secs() });
        audit::record(&state.db, attempt.event("session.locked_out", details), now).await?;
    }
    tracing::info!(
        username = attempt.username,
        client_ip = %attempt.client.ip,
        method = attempt.method,
        reason,
        "sign-in refused"
    );
    Ok(())
}
