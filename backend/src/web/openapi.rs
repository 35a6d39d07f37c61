//! `GET /api/openapi.json`: the API described from the handlers themselves (utoipa), rendered
//! once at start-up.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "changeaudit",
        description = "Controlled, audited privileged changes. Every refusal answers RFC 9457 problem details; \
            state-changing requests from browsers must come from changeaudit's own origin.",
    ),
    components(schemas(changeaudit_shared::problem::Problem)),
    modifiers(&SessionCookie),
    security(("session" = [])),
)]
struct ApiDoc;

/// Sign-in (`POST /api/session`) sets the session cookie every other route needs.
struct SessionCookie;

impl utoipa::Modify for SessionCookie {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::auth::session::COOKIE_NAME,
            ))),
        );
    }
}

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The rendered document, shared by every request.
#[derive(Clone)]
pub struct Served(Arc<str>);

impl Served {
    pub fn new(document: &utoipa::openapi::OpenApi) -> Self {
        // Rendering a document of plain data cannot fail; an empty object stands in if it did.
        Served(Arc::from(
            document
                .to_pretty_json()
                .unwrap_or_else(|_| "{}".to_owned()),
        ))
    }
}

pub async fn serve(State(Served(document)): State<Served>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        document.to_string(),
    )
        .into_response()
}
