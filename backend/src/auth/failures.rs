//! Failed sign-ins and the lockouts they cause, in the trail. The password and the passkey
//! sign-in report each attempt that fails here, so an auditor sees guessing as it happened:
//! which account was tried, how, from where, and when it was locked.

use serde_json::json;

use super::throttle::{self, KnownBrowser, ThrottleError};
use crate::db::Database;
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
    /// The browser, when it has signed in as this account before (`known_browser`).
    pub known: Option<KnownBrowser>,
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
    fn limits(&self) -> Vec<throttle::Limit> {
        throttle::limits(
            self.method,
            self.username,
            &self.client.ip,
            self.known.as_ref(),
        )
    }
}

/// An attempt admitted and not yet settled. Dropped unsettled (an error on the way, a client
/// gone mid-check), it is taken out of flight all the same, so nothing leaks into the counts.
pub struct Admission {
    db: Database,
    limits: Vec<throttle::Limit>,
    settled: bool,
}

impl Admission {
    fn settle(mut self) -> Vec<throttle::Limit> {
        self.settled = true;
        self.limits.clone()
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let (db, limits) = (self.db.clone(), self.limits.clone());
        tokio::spawn(async move {
            if let Err(error) = throttle::withdraw(&db, &limits).await {
                tracing::warn!(%error, "taking an unsettled sign-in out of flight");
            }
        });
    }
}

/// Admits the attempt under the sign-in limits, or refuses it with how long to wait. Refusals
/// are logged, not written to the trail (a flood of them writes nothing); the lockouts that
/// cause them are in it (`session.locked_out`).
pub async fn admit(state: &AppState, attempt: &Attempt<'_>) -> Result<Admission, AppError> {
    let now = state.clock.now();
    let limits = attempt.limits();
    match throttle::admit(&state.db, &limits, now).await {
        Ok(()) => Ok(Admission {
            db: state.db.clone(),
            limits,
            settled: false,
        }),
        Err(ThrottleError::Blocked { retry_after }) => {
            tracing::info!(
                username = attempt.username,
                client_ip = %attempt.client.ip,
                method = attempt.method,
                "sign-in refused: too many failures"
            );
            Err(ThrottleError::Blocked { retry_after }.into())
        }
        Err(other) => Err(other.into()),
    }
}

/// Settles an admitted attempt that succeeded: its pair starts afresh.
pub async fn succeeded(state: &AppState, admission: Admission) -> Result<(), AppError> {
    Ok(throttle::succeeded(&state.db, &admission.settle()).await?)
}

/// Settles an admitted attempt that was not a guess (a passkey challenge handed out).
pub async fn withdraw(state: &AppState, admission: Admission) -> Result<(), AppError> {
    Ok(throttle::withdraw(&state.db, &admission.settle()).await?)
}

/// Audits an admitted attempt as failed without counting it, and takes it out of flight: a
/// passkey challenge for a name with no passkey must count, for every limit, as one for a name
/// with one does.
pub async fn audited_only(
    state: &AppState,
    attempt: &Attempt<'_>,
    admission: Admission,
    reason: &str,
) -> Result<(), AppError> {
    withdraw(state, admission).await?;
    let event = attempt.event("session.sign_in_failed", json!({ "reason": reason }));
    audit::record(&state.db, event, state.clock.now()).await?;
    Ok(())
}

/// Counts an admitted attempt that failed, audits it and the lockout it may start, and
/// answers the refusal to give.
pub async fn failed(
    state: &AppState,
    attempt: &Attempt<'_>,
    admission: Admission,
    reason: &str,
) -> AppError {
    match record(state, attempt, admission, reason).await {
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

async fn record(
    state: &AppState,
    attempt: &Attempt<'_>,
    admission: Admission,
    reason: &str,
) -> Result<(), AppError> {
    let now = state.clock.now();
    let limits = admission.settle();
    let blocks = throttle::failed(&state.db, &limits, now).await?;
    let event = attempt.event("session.sign_in_failed", json!({ "reason": reason }));
    audit::record(&state.db, event, now).await?;
    // The pair's lockout, and the address's when its spraying is held too.
    for (scope, block) in blocks {
        let details = json!({ "scope": scope, "blocked_seconds": block.as_secs() });
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
