use axum::Json;
use axum::extract::State;
use changeaudit_shared::api::Health;

use crate::error::AppError;
use crate::state::AppState;

/// `GET /api/health`: answers 200 only when the database answers too.
#[utoipa::path(get, path = "/api/health", tag = "service", security(),
    responses((status = 200, body = Health), (status = 503, body = changeaudit_shared::problem::Problem)))]
pub async fn health(State(state): State<AppState>) -> Result<Json<Health>, AppError> {
    state.db.ping().await.map_err(|error| {
        tracing::error!(%error, "health check: database unreachable");
        AppError::Unavailable {
            context: "database unreachable",
        }
    })?;
    Ok(Json(Health {
        status: "ok".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        database: state.db.backend().name().to_owned(),
    }))
}
