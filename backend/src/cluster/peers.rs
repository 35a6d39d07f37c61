//! What a replica answers its peers, on the cluster listener only (never on the public one):
//! the live recording of a session it runs, to a request signed with the cluster secret.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::signing;
use crate::state::AppState;
use crate::terminal::follow;

/// The routes of the cluster listener.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/cluster/v1/sessions/{id}/recording", get(recording))
        .with_state(state)
}

#[derive(Deserialize)]
struct Start {
    from: u64,
}

/// Session `id`'s recording from byte `from`, each piece as it is written, until the session
/// ends; 404 when it does not run here (the peer then reads the store).
async fn recording(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(start): Query<Start>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let path = uri.path_and_query().map_or("", |path| path.as_str());
    let signature = headers
        .get(signing::HEADER)
        .and_then(|value| value.to_str().ok());
    if let Err(refusal) = signing::check(state.cluster.secret(), signature, path, state.clock.now())
    {
        tracing::warn!(%refusal, path, "a peer's request refused");
        return (StatusCode::UNAUTHORIZED, refusal.to_string()).into_response();
    }
    let Some(recorded) = state.watchdog.recorded(id) else {
        return (
            StatusCode::NOT_FOUND,
            "the session does not run on this replica",
        )
            .into_response();
    };
    let live = follow::own(Arc::clone(&state.recordings), recorded, start.from);
    (
        [(header::CONTENT_TYPE, "application/octet-stream")],
        Body::from_stream(live),
    )
        .into_response()
}
