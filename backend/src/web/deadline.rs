//! A deadline for every API answer: a request still unanswered after `answer_deadline`
//! (a database held by a flood, a device that never replies) is abandoned with 503 and
//! `Retry-After`, so that no request holds a connection and its memory for ever.
//!
//! Abandoning drops the handler where it waits. What it changed is in a transaction not yet
//! committed, which rolls back, so nothing half-done reaches the database or the trail. A
//! stream's deadline is for its head: the body (a recording, an export, events) goes on.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

/// What a person is told to wait before trying again.
const RETRY_AFTER: Duration = Duration::from_secs(5);

pub async fn within_deadline(
    State(deadline): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    match tokio::time::timeout(deadline, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(%path, ?deadline, "an answer took longer than its deadline");
            AppError::Overdue {
                retry_after: RETRY_AFTER,
            }
            .into_response()
        }
    }
}
