//! The HTTP surface: the API under `/api`, the single-page app everywhere else.

pub mod csrf;
mod headers;
mod spa;

use axum::Router;
use axum::middleware;
use axum::routing::{get, post};

use crate::auth::handlers as auth;
use crate::error::AppError;
use crate::health;
use crate::state::AppState;

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/health", get(health::health))
        .route("/session", post(auth::login).delete(auth::logout))
        .route("/me", get(auth::me))
        .fallback(|| async { AppError::NotFound })
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            csrf::refuse_cross_origin,
        ));
    Router::new()
        .nest("/api", api)
        .fallback_service(spa::service(&state.static_dir))
        .layer(middleware::from_fn(headers::protective_headers))
        .layer(middleware::from_fn(headers::log_request))
        .with_state(state)
}
