//! The HTTP surface: the API under `/api`, described by the OpenAPI document it is built with,
//! and the single-page app everywhere else.

pub mod client_ip;
pub mod connections;
pub mod csrf;
mod deadline;
#[cfg(feature = "embedded-web-app")]
mod embedded;
mod headers;
mod openapi;
mod openapi_links;
mod pages;
mod paths;
pub mod spa;

use axum::Router;
use axum::middleware;
use axum::routing::{any, get};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::handlers as auth;
use crate::error::AppError;
use crate::state::AppState;
use crate::{
    approvals, changes, credentials, devices, groups, health, notifications, passkeys, rules,
    terminal, trail, users,
};

/// Every API route, each registered with its OpenAPI description so the two cannot drift.
pub fn api_routes() -> OpenApiRouter<AppState> {
    bounded_routes().merge(unbounded_routes())
}

/// The API, every answer but the unbounded ones held to the server's deadline.
fn api_with_deadlines(state: &AppState) -> OpenApiRouter<AppState> {
    bounded_routes()
        .layer(middleware::from_fn_with_state(
            state.answer_deadline,
            deadline::within_deadline,
        ))
        .merge(unbounded_routes())
}

/// The routes that answer within the server's deadline.
fn bounded_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::document())
        .routes(routes!(health::health))
        .routes(routes!(auth::login, auth::logout))
        .routes(routes!(auth::me))
        .routes(routes!(
            users::handlers::list_users,
            users::handlers::create_user
        ))
        .routes(routes!(
            users::handlers::get_user,
            users::handlers::update_user
        ))
        .routes(routes!(
            groups::handlers::list_groups,
            groups::handlers::create_group
        ))
        .routes(routes!(
            groups::handlers::get_group,
            groups::handlers::update_group,
            groups::handlers::delete_group
        ))
        .routes(routes!(
            devices::handlers::list_devices,
            devices::handlers::create_device
        ))
        .routes(routes!(devices::handlers::scan_host_key))
        .routes(routes!(
            devices::handlers::get_device,
            devices::handlers::update_device,
            devices::handlers::delete_device
        ))
        .routes(routes!(
            credentials::handlers::list_credentials,
            credentials::handlers::create_credential
        ))
        .routes(routes!(
            credentials::handlers::get_credential,
            credentials::handlers::delete_credential
        ))
        .routes(routes!(credentials::handlers::rotate_secret))
        .routes(routes!(
            changes::handlers::list_changes,
            changes::handlers::create_change
        ))
        .routes(routes!(
            changes::handlers::get_change,
            changes::handlers::update_change
        ))
        .routes(routes!(
            rules::handlers::list_rules,
            rules::handlers::create_rule
        ))
        .routes(routes!(
            rules::handlers::update_rule,
            rules::handlers::delete_rule
        ))
        .routes(routes!(rules::handlers::move_rule))
        .routes(routes!(rules::handlers::test_rules))
        .routes(routes!(changes::handlers::cancel_change))
        .routes(routes!(changes::handlers::change_life))
        .merge(session_routes())
}

/// Terminal sessions, approvals, passkeys, notifications and the trail.
fn session_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(terminal::handlers::my_credentials))
        .routes(routes!(terminal::handlers::open_terminal))
        .routes(routes!(terminal::handlers::running_sessions))
        .routes(routes!(terminal::review::list_sessions))
        .routes(routes!(terminal::review::session_audit))
        .routes(routes!(terminal::review::session_recording))
        .routes(routes!(terminal::handlers::get_session))
        .routes(routes!(terminal::handlers::terminate_session))
        .routes(routes!(terminal::handlers::watch_session))
        .routes(routes!(approvals::handlers::start_session))
        .routes(routes!(approvals::handlers::my_requests))
        .routes(routes!(approvals::handlers::requests_to_approve))
        .routes(routes!(approvals::handlers::get_request))
        .routes(routes!(approvals::handlers::start_signing))
        .routes(routes!(approvals::handlers::vote))
        .routes(routes!(approvals::handlers::cancel_request))
        .routes(routes!(
            passkeys::handlers::my_passkeys,
            passkeys::handlers::register_passkey
        ))
        .routes(routes!(passkeys::handlers::start_registration))
        .routes(routes!(passkeys::handlers::delete_passkey))
        .routes(routes!(passkeys::handlers::start_sign_in))
        .routes(routes!(passkeys::handlers::sign_in))
        .routes(routes!(notifications::handlers::my_notifications))
        .routes(routes!(notifications::handlers::mark_read))
        .routes(routes!(notifications::handlers::notification_stream))
        .routes(routes!(trail::handlers::trail_status))
        .routes(routes!(trail::handlers::public_key))
        .routes(routes!(trail::handlers::list_checkpoints))
        .routes(routes!(trail::handlers::latest_checkpoint))
        .routes(routes!(trail::handlers::event_proof))
        .routes(routes!(trail::handlers::consistency_proof))
        .routes(routes!(trail::activity::activity))
        .routes(routes!(trail::activity::activity_csv))
}

/// Routes whose work is as long as what they read, which no fixed deadline fits: verifying the
/// whole trail hashes every recording, and an export or a change's evidence bundle is written
/// whole (recordings included) before its first byte is sent.
fn unbounded_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(trail::handlers::run_verification))
        .routes(routes!(trail::handlers::download_export))
        .routes(routes!(trail::handlers::change_evidence))
}

pub fn router(state: AppState) -> Router {
    let (api, document) = api_with_deadlines(&state).split_for_parts();
    let document = openapi::Served::new(&document);
    let api = api
        .route(
            "/api/openapi.json",
            get(openapi::serve).with_state(document),
        )
        .route("/api/{*unknown}", any(|| async { AppError::NotFound }))
        .method_not_allowed_fallback(|| async { AppError::MethodNotAllowed })
        .layer(middleware::from_fn_with_state(
            state.trusted_origins.clone(),
            csrf::refuse_cross_origin,
        ));
    Router::new()
        .merge(api)
        .merge(pages::router(&state))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            headers::protective_headers,
        ))
        .layer(middleware::from_fn(headers::log_request))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use changeaudit_shared::api::routes::{self, Method};

    use super::*;

    /// The routes the web app may call (declared once, in the shared crate) are exactly the
    /// routes this server serves and documents.
    #[test]
    fn the_document_and_the_shared_routes_name_the_same_routes() {
        let (_, document) = api_routes().split_for_parts();
        let mut served = Vec::new();
        for (path, item) in &document.paths.paths {
            let methods = [
                (Method::Get, item.get.is_some()),
                (Method::Post, item.post.is_some()),
                (Method::Put, item.put.is_some()),
                (Method::Delete, item.delete.is_some()),
            ];
            for (method, present) in methods {
                if present {
                    served.push((method, path.clone()));
                }
            }
        }
        served.sort();
        let mut shared: Vec<(Method, String)> = routes::all()
            .into_iter()
            .map(|(method, path)| (method, path.to_owned()))
            .collect();
        shared.sort();
        assert_eq!(served, shared);
    }
}
