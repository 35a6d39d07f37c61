use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use changeaudit_shared::role::Role;

use crate::auth::session;
use crate::auth::session::SessionPolicy;
use crate::error::AppError;
use crate::state::AppState;
use crate::users::{self, User};
use crate::web::client_ip::ClientInfo;

/// The signed-in person making the request; extracting it refuses anyone else with 401.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub User);

impl CurrentUser {
    /// Refuses with 403 unless the person holds `role`.
    pub fn require(&self, role: Role) -> Result<(), AppError> {
        if self.0.roles.contains(&role) {
            Ok(())
        } else {
            Err(AppError::Forbidden(
                format!("This needs the {role} role.").into(),
            ))
        }
    }

    /// Whether the person holds one of `roles`.
    pub fn has_any(&self, roles: &[Role]) -> bool {
        roles.iter().any(|role| self.0.roles.contains(role))
    }

    /// Refuses with 403 unless the person holds one of `roles`.
    pub fn require_any(&self, roles: &[Role]) -> Result<(), AppError> {
        if self.has_any(roles) {
            return Ok(());
        }
        let names: Vec<String> = roles.iter().map(ToString::to_string).collect();
        Err(AppError::Forbidden(
            format!("This needs one of the roles: {}.", names.join(", ")).into(),
        ))
    }

    /// Whether the person holds any global role: those read every change, group and device.
    pub fn has_a_role(&self) -> bool {
        !self.0.roles.is_empty()
    }

    /// Refuses with 403 unless the person holds a global role.
    pub fn require_a_role(&self) -> Result<(), AppError> {
        if self.has_a_role() {
            Ok(())
        } else {
            Err(AppError::Forbidden(
                "This needs a global role: admin, planner or auditor.".into(),
            ))
        }
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let policy = request_policy(parts, state).await;
        let token =
            session::token_from(&parts.headers, &policy).ok_or(AppError::Unauthenticated)?;
        let user_id = session::user_of(&state.db, &token, &state.sessions, state.clock.now())
            .await?
            .ok_or(AppError::Unauthenticated)?;
        Ok(CurrentUser(users::find(&state.db, user_id).await?))
    }
}

/// The sign-in a request is made under, by its key: a socket or stream that outlives the
/// request re-checks it, so it ends when the sign-in does.
#[derive(Debug, Clone)]
pub struct SignIn(pub session::SessionKey);

impl FromRequestParts<AppState> for SignIn {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let policy = request_policy(parts, state).await;
        SignIn::of(&parts.headers, &policy)
    }
}

impl SignIn {
    /// The sign-in whose cookie `headers` carry.
    pub fn of(headers: &HeaderMap, policy: &SessionPolicy) -> Result<SignIn, AppError> {
        let token = session::token_from(headers, policy).ok_or(AppError::Unauthenticated)?;
        Ok(SignIn(session::SessionKey::of(&token)))
    }
}

/// The session policy for this request (over TLS or not: a trusted proxy may say).
async fn request_policy(parts: &mut Parts, state: &AppState) -> SessionPolicy {
    let client = match ClientInfo::from_request_parts(parts, state).await {
        Ok(client) => client,
        Err(never) => match never {},
    };
    state.sessions.for_request(&client)
}
