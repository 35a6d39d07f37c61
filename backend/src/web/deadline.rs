//! A deadline for every API answer: a request still unanswered after `answer_deadline` (a
//! database held by a flood, a device that never replies) is answered 503 with `Retry-After`,
//! so that no client waits for ever.
//!
//! The deadline never cuts a handler short. Its work runs to its end in a task of its own,
//! because a handler dropped where it waits could leave evidence half-written: a change
//! committed whose audit event is not, a failure counted and not audited. So the answer says
//! that what was asked may still be done. What bounds the work itself is inside it: the
//! database pool's timeouts, the scan's and the SSH connection's, the sign-in gate's. The body
//! is read first, within the deadline, and there a slow client is cut off.

use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

/// What a person is told to wait before trying again.
const RETRY_AFTER: Duration = Duration::from_secs(5);
/// The largest body read: axum's own limit for JSON bodies.
const MAX_BODY: usize = 2 * 1024 * 1024;

pub async fn within_deadline(
    State(deadline): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    let (parts, body) = request.into_parts();
    let body = match tokio::time::timeout(deadline, to_bytes(body, MAX_BODY)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(_)) => {
            let why = format!("the body could not be read whole (at most {MAX_BODY} bytes)");
            return AppError::MalformedBody(why).into_response();
        }
        Err(_) => return overdue(&path, deadline),
    };
    let request = Request::from_parts(parts, Body::from(body));
    let work = tokio::spawn(next.run(request));
    match tokio::time::timeout(deadline, work).await {
        Ok(Ok(response)) => response,
        // A panic in the handler: logged where the error becomes an answer.
        Ok(Err(error)) => AppError::internal("the request's handler", error).into_response(),
        Err(_) => overdue(&path, deadline),
    }
}

fn overdue(path: &str, deadline: Duration) -> Response {
    tracing::warn!(%path, ?deadline, "an answer took longer than its deadline");
    AppError::Overdue {
        retry_after: RETRY_AFTER,
    }
    .into_response()
}
