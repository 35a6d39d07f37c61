//! `GET /api/openapi.json`: the API described from the handlers themselves (utoipa), rendered
//! once at start-up.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "changeaudit",
        description = "Controlled, audited privileged changes. Every refusal answers RFC 9457 problem details; \
            state-changing requests from browsers must come from changeaudit's own origin.",
    ),
    components(schemas(
        changeaudit_shared::problem::Problem,
        changeaudit_shared::api::sessions::AuditView,
    )),
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
        let mut value = serde_json::to_value(document).unwrap_or_else(|_| json!({}));
        made_true(&mut value);
        super::openapi_links::link_created_things(&mut value);
        Served(Arc::from(
            serde_json::to_string_pretty(&value).unwrap_or_else(|_| "{}".to_owned()),
        ))
    }
}

const PROBLEM: &str = "#/components/schemas/Problem";

/// Says what the server really answers, where the handlers' annotations cannot: refusals go
/// as `application/problem+json`, and any route taking a path, query or body answers 400 when
/// one is malformed.
pub fn made_true(document: &mut Value) {
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for operation in item.values_mut() {
            let takes_input = takes_query_or_body(operation);
            let names_something = has_parameter_in(operation, "path");
            let Some(responses) = operation
                .get_mut("responses")
                .and_then(Value::as_object_mut)
            else {
                continue;
            };
            for (status, response) in responses.iter_mut() {
                problems_as_problem_json(response);
                described(status, response);
            }
            if takes_input && !responses.contains_key("400") {
                responses.insert(
                    "400".to_owned(),
                    json!({
                        "description": "A malformed path, query or body",
                        "content": { "application/problem+json": { "schema": { "$ref": PROBLEM } } },
                    }),
                );
            }
            if !responses.contains_key("503") {
                responses.insert(
                    "503".to_owned(),
                    json!({
                        "description": "Not answered within the server's deadline, or too busy; see Retry-After",
                        "content": { "application/problem+json": { "schema": { "$ref": PROBLEM } } },
                    }),
                );
            }
            if names_something && !responses.contains_key("404") {
                responses.insert(
                    "404".to_owned(),
                    json!({
                        "description": "Nothing has that ID, or the ID is malformed",
                        "content": { "application/problem+json": { "schema": { "$ref": PROBLEM } } },
                    }),
                );
            }
        }
    }
}

/// Whether `operation` reads a query or a body, which answer 400 when malformed (a malformed
/// path names nothing: 404).
fn takes_query_or_body(operation: &Value) -> bool {
    has_parameter_in(operation, "query") || operation.get("requestBody").is_some()
}

fn has_parameter_in(operation: &Value, place: &str) -> bool {
    operation["parameters"]
        .as_array()
        .is_some_and(|parameters| parameters.iter().any(|parameter| parameter["in"] == place))
}

/// OpenAPI requires every response to say what it is; where a handler did not, its status's
/// reason phrase does.
fn described(status: &str, response: &mut Value) {
    let Some(response) = response.as_object_mut() else {
        return;
    };
    if response.contains_key("description") {
        return;
    }
    let reason = status
        .parse::<u16>()
        .ok()
        .and_then(|code| axum::http::StatusCode::from_u16(code).ok())
        .and_then(|code| code.canonical_reason())
        .unwrap_or("An answer");
    response.insert("description".to_owned(), Value::from(reason));
}

/// A response whose body is a `Problem` is documented with the media type it is sent as.
fn problems_as_problem_json(response: &mut Value) {
    let Some(content) = response.get_mut("content").and_then(Value::as_object_mut) else {
        return;
    };
    let is_problem = content
        .get("application/json")
        .is_some_and(|media| media["schema"]["$ref"] == PROBLEM);
    if is_problem && let Some(media) = content.remove("application/json") {
        content.insert("application/problem+json".to_owned(), media);
    }
}

pub async fn serve(State(Served(document)): State<Served>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        document.to_string(),
    )
        .into_response()
}
