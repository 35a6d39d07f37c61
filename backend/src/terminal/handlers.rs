//! The terminal's routes: Credentials → All (`GET /api/me/credentials`), the terminal itself
//! (`GET /api/credentials/{id}/terminal`, a WebSocket), and the sessions' records, live watching
//! and termination under `/api/terminal-sessions`.

use axum::Json;
use axum::extract::State;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use changeaudit_shared::api::sessions::{GrantedCredential, SessionState, TerminalSession};
use changeaudit_shared::api::{FieldErrors, Page};
use changeaudit_shared::problem::Problem;
use changeaudit_shared::terminal::{MAX_COLS, MAX_ROWS};
use serde::Deserialize;

use super::opening::Request;
use super::socket::{MAX_MESSAGE, MAX_WATCH_MESSAGE, READ_BUFFER};
use super::watch::{OVERSEERS, Watcher};
use super::{broker, granted, store, watch};
use crate::auth::{CurrentUser, SignIn};
use crate::error::{ApiPath, ApiQuery, AppError};
use crate::listing::Paging;
use crate::state::AppState;
use crate::web::client_ip::ClientInfo;
use crate::web::csrf;

/// Filters of `GET /api/me/credentials`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GrantedQuery {
    /// Part of the device's name or host, the account, or a tag.
    pub q: Option<String>,
}

#[utoipa::path(get, path = "/api/me/credentials", tag = "terminal", params(GrantedQuery, Paging),
    responses((status = 200, body = Page<GrantedCredential>), (status = 401, body = Problem)))]
pub async fn my_credentials(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiQuery(query): ApiQuery<GrantedQuery>,
    ApiQuery(paging): ApiQuery<Paging>,
) -> Result<Json<Page<GrantedCredential>>, AppError> {
    let mut connection = state.db.pool().acquire().await?;
    let now = state.clock.now();
    let all = granted::list(&mut connection, me.0.id, query.q.as_deref(), now).await?;
    let total = i64::try_from(all.len()).unwrap_or(i64::MAX);
    let items = all
        .into_iter()
        .skip(usize::try_from(paging.offset()).unwrap_or(0))
        .take(usize::try_from(paging.limit()).unwrap_or(0))
        .collect();
    Ok(Json(paging.page(items, total)))
}

/// The terminal's size when it opens.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TerminalSize {
    pub cols: u16,
    pub rows: u16,
}

#[utoipa::path(get, path = "/api/credentials/{id}/terminal", tag = "terminal",
    params(("id" = i64, Path), TerminalSize),
    description = "Upgrades to a WebSocket carrying the session (messages of `changeaudit_shared::terminal`). \
        Refusals by the session gate, the device or the recording arrive as a `closed` message.",
    responses((status = 101, description = "Switching to the WebSocket"), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn open_terminal(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiPath(credential_id): ApiPath<i64>,
    ApiQuery(size): ApiQuery<TerminalSize>,
    client: ClientInfo,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, AppError> {
    refuse_foreign_origin(&state, &headers)?;
    let SignIn(sign_in) = SignIn::of(&headers, &state.sessions.for_request(&client))?;
    let mut errors = FieldErrors::default();
    for (field, value, max) in [("cols", size.cols, MAX_COLS), ("rows", size.rows, MAX_ROWS)] {
        if !(1..=max).contains(&value) {
            errors.add(field, format!("must be between 1 and {max}"));
        }
    }
    errors.into_result(())?;
    let upgrade = upgrade.map_err(not_a_websocket)?;
    let request = Request {
        user: me.0,
        sign_in,
        credential_id,
        client_ip: client.ip,
        user_agent: client.user_agent,
        cols: size.cols,
        rows: size.rows,
    };
    Ok(upgrade
        .max_message_size(MAX_MESSAGE)
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket| broker::run(state, socket, request)))
}

#[utoipa::path(get, path = "/api/terminal-sessions/{id}", tag = "terminal", params(("id" = i64, Path)),
    responses((status = 200, body = TerminalSession), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn get_session(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<TerminalSession>, AppError> {
    let mut connection = state.db.pool().acquire().await?;
    let stored = store::view(&mut connection, id, state.clock.now()).await?;
    // Someone else's session does not exist for those who may not see it.
    if stored.user_id != me.0.id && !me.has_any(OVERSEERS) {
        return Err(AppError::NotFound);
    }
    Ok(Json(stored.record))
}

#[utoipa::path(get, path = "/api/terminal-sessions/running", tag = "terminal",
    responses((status = 200, body = Vec<TerminalSession>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn running_sessions(
    State(state): State<AppState>,
    me: CurrentUser,
) -> Result<Json<Vec<TerminalSession>>, AppError> {
    require_overseer(&me)?;
    let mut connection = state.db.pool().acquire().await?;
    Ok(Json(
        store::running(&mut connection, state.clock.now()).await?,
    ))
}

#[utoipa::path(post, path = "/api/terminal-sessions/{id}/terminate", tag = "terminal", params(("id" = i64, Path)),
    responses((status = 202, description = "The session's server will close it within a second"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn terminate_session(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, AppError> {
    require_overseer(&me)?;
    let now = state.clock.now();
    let mut connection = state.db.pool().acquire().await?;
    store::view(&mut connection, id, now).await?;
    drop(connection);
    if store::request_termination(&state.db, id, me.0.id, &me.0.username, now).await? {
        Ok(StatusCode::ACCEPTED)
    } else {
        Err(AppError::rule("state", "the session is not running"))
    }
}

#[utoipa::path(get, path = "/api/terminal-sessions/{id}/watch", tag = "terminal", params(("id" = i64, Path)),
    description = "Upgrades to a read-only WebSocket that shows the running session as it happens.",
    responses((status = 101, description = "Switching to the WebSocket"), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn watch_session(
    State(state): State<AppState>,
    me: CurrentUser,
    SignIn(sign_in): SignIn,
    ApiPath(id): ApiPath<i64>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, AppError> {
    require_overseer(&me)?;
    refuse_foreign_origin(&state, &headers)?;
    let mut connection = state.db.pool().acquire().await?;
    let stored = store::view(&mut connection, id, state.clock.now()).await?;
    drop(connection);
    if stored.record.state != SessionState::Running {
        return Err(AppError::rule("state", "the session is not running"));
    }
    let upgrade = upgrade.map_err(not_a_websocket)?;
    store::record_watching(&state.db, id, &me.0.username, state.clock.now()).await?;
    let watcher = Watcher {
        user_id: me.0.id,
        username: me.0.username,
        sign_in,
    };
    Ok(upgrade
        .max_message_size(MAX_WATCH_MESSAGE)
        // A watcher has nothing to say: not even one large frame is read.
        .max_frame_size(MAX_WATCH_MESSAGE)
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket| watch::run(state, socket, stored, watcher)))
}

fn require_overseer(me: &CurrentUser) -> Result<(), AppError> {
    me.require_any(OVERSEERS)
}

/// A page of another site must not open a terminal with the person's cookie: a WebSocket is
/// not held to the same-origin rule, so its Origin is checked here.
fn refuse_foreign_origin(state: &AppState, headers: &HeaderMap) -> Result<(), AppError> {
    if csrf::is_own_or_trusted_origin(headers, &state.trusted_origins) {
        Ok(())
    } else {
        tracing::warn!(origin = ?headers.get(header::ORIGIN), "WebSocket from a foreign origin refused");
        Err(AppError::CrossOrigin)
    }
}

fn not_a_websocket(rejection: WebSocketUpgradeRejection) -> AppError {
    AppError::MalformedQuery(format!("this route speaks WebSocket only: {rejection}"))
}
