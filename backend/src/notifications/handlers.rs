//! The bell: `GET /api/me/notifications` (the latest and the unread count),
//! `POST /api/me/notifications/read`, and `GET /api/me/notifications/stream`, server-sent events
//! that push the inbox whenever it changes. The stream keeps nothing but a cursor: it reads the
//! database once a second, so it works the same behind any replica.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use changeaudit_shared::api::requests::{Inbox, Notification, NotificationKind};
use changeaudit_shared::problem::Problem;
use futures_util::Stream;
use serde::Deserialize;
use sqlx::{AnyConnection, Row};

use crate::auth::CurrentUser;
use crate::clock::Timestamp;
use crate::db::DbError;
use crate::error::{ApiJson, AppError};
use crate::state::AppState;

const INBOX_LENGTH: i64 = 30;
const POLL: Duration = Duration::from_secs(1);

async fn inbox(connection: &mut AnyConnection, user_id: i64) -> Result<Inbox, DbError> {
    let unread: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM notifications WHERE recipient_id = $1 AND read_at IS NULL",
    )
    .bind(user_id)
    .fetch_one(&mut *connection)
    .await?;
    let rows = sqlx::query(
        "SELECT id, kind, payload, created_at,
                CAST(CASE WHEN read_at IS NULL THEN 0 ELSE 1 END AS BIGINT) AS read
         FROM notifications WHERE recipient_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(user_id)
    .bind(INBOX_LENGTH)
    .fetch_all(connection)
    .await?;
    let mut items = Vec::with_capacity(rows.len());
    for row in &rows {
        let kind: String = row.try_get("kind")?;
        let payload: String = row.try_get("payload")?;
        let payload: serde_json::Value = serde_json::from_str(&payload)
            .map_err(|error| DbError::Other(sqlx::Error::Decode(Box::new(error))))?;
        items.push(Notification {
            id: row.try_get("id")?,
            kind: NotificationKind::parse(&kind).ok_or_else(|| {
                DbError::Other(sqlx::Error::Decode(
                    format!("unknown notification kind `{kind}`").into(),
                ))
            })?,
            text: payload["text"].as_str().unwrap_or_default().to_owned(),
            request_id: payload["request_id"].as_i64(),
            change_id: payload["change_id"].as_str().map(str::to_owned),
            read: crate::db::flag(row, "read")?,
            created_at: Timestamp::from_millis(row.try_get("created_at")?).to_datetime(),
        });
    }
    Ok(Inbox { unread, items })
}

#[utoipa::path(get, path = "/api/me/notifications", tag = "notifications",
    responses((status = 200, body = Inbox), (status = 401, body = Problem)))]
pub async fn my_notifications(
    State(state): State<AppState>,
    me: CurrentUser,
) -> Result<Json<Inbox>, AppError> {
    let mut connection = state.db.pool().acquire().await?;
    Ok(Json(inbox(&mut connection, me.0.id).await?))
}

/// Which notifications to mark read: up to and including `up_to`, or all when absent.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct MarkRead {
    pub up_to: Option<i64>,
}

#[utoipa::path(post, path = "/api/me/notifications/read", tag = "notifications", request_body = MarkRead,
    responses((status = 204), (status = 401, body = Problem)))]
pub async fn mark_read(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiJson(body): ApiJson<MarkRead>,
) -> Result<StatusCode, AppError> {
    sqlx::query(
        "UPDATE notifications SET read_at = $3
         WHERE recipient_id = $1 AND read_at IS NULL AND id <= $2",
    )
    .bind(me.0.id)
    .bind(body.up_to.unwrap_or(i64::MAX))
    .bind(state.clock.now().as_millis())
    .execute(state.db.pool())
    .await
    .map_err(DbError::from)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The cursor of a stream: what it last sent.
#[derive(Default, PartialEq, Eq, Clone, Copy)]
struct Seen {
    newest: i64,
    unread: i64,
}

async fn seen(state: &AppState, user_id: i64) -> Result<Seen, DbError> {
    let row = sqlx::query(
        "SELECT COALESCE(MAX(id), 0) AS newest,
                COALESCE(SUM(CASE WHEN read_at IS NULL THEN 1 ELSE 0 END), 0) AS unread
         FROM notifications WHERE recipient_id = $1",
    )
    .bind(user_id)
    .fetch_one(state.db.pool())
    .await?;
    Ok(Seen {
        newest: row.try_get("newest")?,
        unread: row.try_get("unread")?,
    })
}

#[utoipa::path(get, path = "/api/me/notifications/stream", tag = "notifications",
    responses((status = 200, description = "Server-sent events: `inbox`, an Inbox, at once and on every change", content_type = "text/event-stream"),
        (status = 401, body = Problem)))]
pub async fn notification_stream(
    State(state): State<AppState>,
    me: CurrentUser,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let user_id = me.0.id;
    let stream =
        futures_util::stream::unfold((state, None::<Seen>), move |(state, last)| async move {
            let mut wait = last.is_some();
            loop {
                if wait {
                    tokio::time::sleep(POLL).await;
                }
                wait = true;
                let Ok(now) = seen(&state, user_id).await else {
                    continue;
                };
                if last == Some(now) {
                    continue;
                }
                let Ok(mut connection) = state.db.pool().acquire().await else {
                    continue;
                };
                let Ok(inbox) = inbox(&mut connection, user_id).await else {
                    continue;
                };
                let event = Event::default()
                    .event("inbox")
                    .json_data(&inbox)
                    .unwrap_or_else(|_| Event::default().event("inbox"));
                return Some((Ok(event), (state, Some(now))));
            }
        });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
