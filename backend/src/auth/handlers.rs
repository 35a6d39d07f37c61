//! `POST /api/session` (sign in), `DELETE /api/session` (sign out), `GET /api/me`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{AppendHeaders, IntoResponse, Response};
use changeaudit_shared::api::{LoginRequest, Me};
use changeaudit_shared::problem::{FieldError, Problem};

use serde_json::json;

use crate::auth::failures::{self, Attempt};
use crate::auth::known_browser::{self, Account};
use crate::auth::session::{self, NewSession};
use crate::auth::{CurrentUser, password};
use crate::db::DbError;
use crate::error::{ApiJson, AppError};
use crate::state::AppState;
use crate::trail::audit::{self, Actor, NewEvent};
use crate::users;
use crate::web::client_ip::ClientInfo;
use secrecy::SecretString;

pub const MAX_USERNAME_CHARS: usize = 128;
/// Long enough for any passphrase, short enough that hashing it costs nothing unusual.
const MAX_PASSWORD_CHARS: usize = 1024;

fn validate(request: &LoginRequest) -> Result<(), AppError> {
    let mut errors = Vec::new();
    let mut check = |field: &str, value: &str, max: usize| {
        if value.trim().is_empty() {
            errors.push(FieldError {
                field: field.to_owned(),
                detail: "is required".to_owned(),
            });
        } else if value.chars().count() > max {
            errors.push(FieldError {
                field: field.to_owned(),
                detail: format!("must be at most {max} characters"),
            });
        }
    };
    check("username", &request.username, MAX_USERNAME_CHARS);
    check("password", request.password.expose(), MAX_PASSWORD_CHARS);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::Validation(errors))
    }
}

/// Signs in with a username and password; the answer sets the session cookie.
#[utoipa::path(post, path = "/api/session", tag = "session", security(), request_body = LoginRequest,
    responses((status = 200, body = Me), (status = 401, body = Problem), (status = 422, body = Problem),
        (status = 429, body = Problem), (status = 503, body = Problem)))]
pub async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    ApiJson(mut request): ApiJson<LoginRequest>,
) -> Result<Response, AppError> {
    validate(&request)?;
    let username = request.username.trim();
    let record = users::login_record(&state.db, username).await?;
    let known = record.as_ref().and_then(|(id, hash)| {
        let account = Account {
            username,
            id: *id,
            password_hash: hash,
        };
        let policy = state.sessions.for_request(&client);
        known_browser::recognise(
            &state.master_key,
            &headers,
            &policy,
            &account,
            state.clock.now(),
        )
    });
    let attempt = Attempt {
        username,
        method: "password",
        client: &client,
        known,
    };
    let admission = failures::admit(&state, &attempt).await?;

    let (user_id, stored) = match record {
        Some((id, hash)) => (Some(id), Some(hash)),
        None => (None, None),
    };
    let offered = SecretString::from(request.password.take());
    let verified = password::verify(&state.hashing, offered, stored).await;
    let password_ok = match verified {
        Ok(matches) => matches,
        // Not checked (the server is busy): no guess was made, so none is counted.
        Err(error) => {
            failures::withdraw(&state, admission).await?;
            return Err(error.into());
        }
    };
    let Some(user_id) = user_id.filter(|_| password_ok) else {
        let reason = match user_id {
            Some(_) => "wrong password",
            None => "no such enabled account",
        };
        return Err(failures::failed(&state, &attempt, admission, reason).await);
    };
    failures::succeeded(&state, admission).await?;

    open_session(&state, &client, user_id, username, "password").await
}

/// Starts a signed-in session for `user_id` (checked by `method`), audits it, and answers with
/// the session cookie and the person.
pub async fn open_session(
    state: &AppState,
    client: &ClientInfo,
    user_id: i64,
    username: &str,
    method: &str,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    session::delete_expired(&state.db, &state.sessions, now).await?;
    let mut transaction = state.db.begin_write().await?;
    let token = session::create(
        &mut transaction,
        NewSession {
            user_id,
            client_ip: &client.ip,
            user_agent: &client.user_agent,
        },
        now,
    )
    .await?;
    audit::append(
        &mut transaction,
        NewEvent {
            actor: Actor::User(username),
            action: "session.signed_in",
            object: Some(format!("user:{user_id}")),
            details: json!({ "client_ip": client.ip, "user_agent": client.user_agent, "method": method }),
        },
        now,
    )
    .await?;
    transaction.commit().await.map_err(DbError::from)?;
    let me = users::find(&state.db, user_id).await?.me();
    tracing::info!(username, client_ip = %client.ip, method, "signed in");
    let policy = state.sessions.for_request(client);
    let mut cookies = vec![(header::SET_COOKIE, session::set_cookie(&token, &policy))];
    if let Some((id, password_hash)) = users::login_record(&state.db, username).await? {
        let account = Account {
            username,
            id,
            password_hash: &password_hash,
        };
        let known = known_browser::set_cookie(&state.master_key, &account, &policy, now);
        cookies.push((header::SET_COOKIE, known));
    }
    Ok((AppendHeaders(cookies), Json(me)).into_response())
}

/// Signs out: the session ends on every replica.
#[utoipa::path(delete, path = "/api/session", tag = "session", security(),
    responses((status = 204, description = "Signed out, or was not signed in")))]
pub async fn logout(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let policy = state.sessions.for_request(&client);
    if let Some(token) = session::token_from(&headers, &policy) {
        let mut transaction = state.db.begin_write().await?;
        if let Some(user_id) = session::delete(&mut transaction, &token).await? {
            let username: String = sqlx::query_scalar("SELECT username FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_one(&mut *transaction)
                .await
                .map_err(DbError::from)?;
            audit::append(
                &mut transaction,
                NewEvent {
                    actor: Actor::User(&username),
                    action: "session.signed_out",
                    object: Some(format!("user:{user_id}")),
                    details: json!({ "client_ip": client.ip }),
                },
                state.clock.now(),
            )
            .await?;
        }
        transaction.commit().await.map_err(DbError::from)?;
    }
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, session::clear_cookie(&policy))],
    )
        .into_response())
}

/// The person signed in.
#[utoipa::path(get, path = "/api/me", tag = "session",
    responses((status = 200, body = Me), (status = 401, body = Problem)))]
pub async fn me(CurrentUser(user): CurrentUser) -> Json<Me> {
    Json(user.me())
}
