//! Change Audit → Audited sessions, for auditors and admins: the sessions, finished and
//! running, filtered and searched; each one's details (with its approvals' signatures checked
//! now), board and logs; and its recording for the player or to download. Every opening is an
//! audit event (`session.viewed`): auditors are audited.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use changeaudit_shared::api::Page;
use changeaudit_shared::api::sessions::{AuditView, SessionAudit, SessionFilters, TerminalSession};
use changeaudit_shared::board::BenignCommands;
use changeaudit_shared::problem::Problem;
use changeaudit_shared::report::AuditReport;
use changeaudit_shared::role::Role;
use changeaudit_shared::script::Script;
use serde::Deserialize;
use serde_json::json;
use sqlx::Row;

use super::store;
use crate::approvals::checks::approvals_of;
use crate::auth::CurrentUser;
use crate::db::DbError;
use crate::error::{ApiPath, ApiQuery, AppError};
use crate::listing::Paging;
use crate::recordings;
use crate::state::AppState;
use crate::trail::audit::{self, NewEvent};

const OVERSEERS: &[Role] = &[Role::Auditor, Role::Admin];

#[utoipa::path(get, path = "/api/terminal-sessions", tag = "terminal", params(SessionFilters),
    responses((status = 200, body = Page<TerminalSession>), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
pub async fn list_sessions(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiQuery(filters): ApiQuery<SessionFilters>,
) -> Result<Json<Page<TerminalSession>>, AppError> {
    me.require_any(OVERSEERS)?;
    let paging = Paging {
        offset: filters.offset,
        limit: filters.limit,
    };
    let mut connection = state.db.pool().acquire().await?;
    let (sessions, total) =
        store::list(&mut connection, &filters, paging, state.clock.now()).await?;
    Ok(Json(paging.page(sessions, total)))
}

/// Which view of `GET /api/terminal-sessions/{id}/audit`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ViewQuery {
    pub view: AuditView,
}

#[utoipa::path(get, path = "/api/terminal-sessions/{id}/audit", tag = "terminal", params(("id" = i64, Path), ViewQuery),
    responses((status = 200, body = SessionAudit), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn session_audit(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<ViewQuery>,
) -> Result<Json<SessionAudit>, AppError> {
    me.require_any(OVERSEERS)?;
    let now = state.clock.now();
    let mut connection = state.db.pool().acquire().await?;
    let session = store::view(&mut connection, id, now).await?.record;
    let (script, report) = report_of(&mut connection, &session).await?;
    let approvals = match session.request_id {
        Some(request) if query.view == AuditView::Details => {
            approvals_of(&mut connection, request).await?
        }
        _ => Vec::new(),
    };
    let transcript = match query.view {
        AuditView::Logs => Some(store::transcript(&mut connection, id).await?),
        _ => None,
    };
    drop(connection);
    viewed(&state, &me, id, query.view.as_str()).await?;
    Ok(Json(SessionAudit {
        session,
        script,
        report,
        approvals,
        transcript,
    }))
}

/// The script `session` was held against and its board against it, with the group's benign
/// commands, both as they were when it started; none for an unplanned session.
pub async fn report_of(
    connection: &mut sqlx::AnyConnection,
    session: &TerminalSession,
) -> Result<(Option<String>, Option<AuditReport>), AppError> {
    let Some(change_id) = &session.change_id else {
        return Ok((None, None));
    };
    // As kept when the session started; sessions from before that was kept take the change's
    // current script.
    let row = sqlx::query(
        "SELECT COALESCE(s.script, c.script) AS script,
                COALESCE(s.benign_commands, g.benign_commands) AS benign_commands
         FROM terminal_sessions s JOIN changes c ON c.id = $2
         JOIN access_groups g ON g.id = c.access_group_id WHERE s.id = $1",
    )
    .bind(session.id)
    .bind(change_id)
    .fetch_one(&mut *connection)
    .await
    .map_err(DbError::from)?;
    let text: String = row.try_get("script").map_err(DbError::from)?;
    let benign: Vec<String> = serde_json::from_str(
        &row.try_get::<String, _>("benign_commands")
            .map_err(DbError::from)?,
    )
    .map_err(DbError::decode)?;
    let parsed = Script::parse(&text)
        .map_err(|error| AppError::internal("reading a stored script", error.to_string()))?;
    let report = AuditReport::new(
        &parsed,
        session.commands.clone(),
        &BenignCommands::new(benign),
        session.findings.clone(),
    )
    .with_held(&session.held);
    Ok((Some(text), Some(report)))
}

/// Why the recording is fetched.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecordingQuery {
    /// `true` to save it as a file; otherwise it is for the player.
    #[serde(default)]
    pub download: bool,
}

#[utoipa::path(get, path = "/api/terminal-sessions/{id}/recording", tag = "terminal",
    params(("id" = i64, Path), RecordingQuery),
    description = "The session's recording, asciicast v2, for the player or to download.",
    responses((status = 200, body = String, content_type = "application/x-asciicast"), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn session_recording(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<RecordingQuery>,
) -> Result<Response, AppError> {
    me.require_any(OVERSEERS)?;
    let mut connection = state.db.pool().acquire().await?;
    let stored = store::view(&mut connection, id, state.clock.now()).await?;
    drop(connection);
    // Streamed from the store: a recording of any size is served in little memory.
    // Readable before anything is answered: a missing file is an error, not a cut-short 200.
    state
        .recordings
        .read(&stored.recording, 0, 1)
        .await
        .map_err(|error| AppError::internal("reading a recording", error))?;
    let pieces = recordings::stream(state.recordings.clone(), stored.recording.clone());
    viewed(
        &state,
        &me,
        id,
        if query.download {
            "recording_download"
        } else {
            "video"
        },
    )
    .await?;
    let disposition = if query.download {
        format!("attachment; filename=\"session-{id}.cast\"")
    } else {
        "inline".to_owned()
    };
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-asciicast".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from_stream(pieces),
    )
        .into_response())
}

async fn viewed(state: &AppState, me: &CurrentUser, id: i64, view: &str) -> Result<(), AppError> {
    audit::record(
        &state.db,
        NewEvent::by(
            &me.0.username,
            "session.viewed",
            store::object(id),
            json!({ "view": view }),
        ),
        state.clock.now(),
    )
    .await?;
    Ok(())
}
