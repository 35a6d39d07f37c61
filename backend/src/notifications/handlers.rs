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
use changeaudit_shared::api::requests::{Inbox, MarkRead, Notification, NotificationKind};
use changeaudit_shared::problem::Problem;
use futures_util::Stream;
use sqlx::{AnyConnection, Row};

use crate::auth::session::{self, SessionKey};
use crate::auth::{CurrentUser, SignIn};
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
        let payload: serde_json::Value = serde_json::from_str(&payload).map_err(DbError::decode)?;
        items.push(Notification {
            id: row.try_get("id")?,
            kind: NotificationKind::parse(&kind)
                .ok_or_else(|| DbError::decode(format!("unknown notification kind `{kind}`")))?,
            text: payload["text"].as_str().unwrap_or_default().to_owned(),
            request_id: payload["request_id"].as_i64(),
            change_id: payload["change_id"].as_str().map(str::to_owned),
            credential_id: payload["credential_id"].as_i64(),
            session_id: payload["session_id"].as_i64(),
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
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The cursor of a stream: what it last sent.
#[derive(Default, PartialEq, Eq, Clone, Copy)]
struct Seen {
    newest: i64,
    unread: i64,
}

impl Seen {
    fn of(inbox: &Inbox) -> Seen {
        Seen {
            newest: inbox.items.first().map_or(0, |item| item.id),
            unread: inbox.unread,
        }
    }
}

/// Polls between checks that the sign-in session is still live.
const POLLS_PER_SESSION_CHECK: u32 = 5;

/// The next event of a stream: its inbox once it differs from what was last sent; `None` when
/// the sign-in session has ended.
async fn next_inbox(
    state: &AppState,
    sign_in: &SessionKey,
    user_id: i64,
    last: Option<Seen>,
) -> Option<(Inbox, Seen)> {
    let mut polls = 0_u32;
    // The first look is at once, unless something was just sent.
    let mut ticks = poll_ticks(if last.is_some() { POLL } else { Duration::ZERO });
    loop {
        ticks.tick().await;
        if polls.is_multiple_of(POLLS_PER_SESSION_CHECK) {
            match session::standing(
                &state.db,
                sign_in,
                user_id,
                &state.sessions,
                state.clock.now(),
            )
            .await
            {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return None,
                Err(error) => {
                    tracing::warn!(%error, "checking the session of a notification stream")
                }
            }
        }
        polls = polls.wrapping_add(1);
        let inbox = match state.db.pool().acquire().await {
            Ok(mut connection) => inbox(&mut connection, user_id).await,
            Err(error) => Err(DbError::from(error)),
        };
        match inbox {
            Ok(inbox) if Some(Seen::of(&inbox)) != last => {
                let seen = Seen::of(&inbox);
                return Some((inbox, seen));
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "reading a notification inbox"),
        }
    }
}

#[utoipa::path(get, path = "/api/me/notifications/stream", tag = "notifications",
    responses((status = 200, description = "Server-sent events: `inbox`, an Inbox, at once and on every change; the stream ends with the sign-in session", content_type = "text/event-stream"),
        (status = 401, body = Problem), (status = 429, body = Problem)))]
pub async fn notification_stream(
    State(state): State<AppState>,
    me: CurrentUser,
    SignIn(sign_in): SignIn,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    let user_id = me.0.id;
    let most = state.streams.per_person();
    let open = state.streams.open(user_id).ok_or_else(|| {
        AppError::Limit(format!(
            "You have {most} live notification streams open here, the most one person may: close a tab or two."
        ))
    })?;
    let stream = futures_util::stream::unfold(None, move |last| {
        // Held as long as the stream: its end makes room for another.
        let _open = &open;
        let state = state.clone();
        let sign_in = sign_in.clone();
        async move {
            let (inbox, seen) = next_inbox(&state, &sign_in, user_id, last).await?;
            let event = Event::default()
                .event("inbox")
                .json_data(&inbox)
                .unwrap_or_else(|_| Event::default().event("inbox"));
            Some((Ok(event), Some(seen)))
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// Ticks every `POLL`, the first after `first`; a late tick delays the next rather than bunching.
fn poll_ticks(first: Duration) -> tokio::time::Interval {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + first, POLL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks
}
