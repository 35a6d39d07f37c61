//! Every request the app makes to the server goes through here: `fetch` and `send` take a
//! route of the shared route list (`changeaudit_shared::api::routes`), which fixes its method,
//! path and types; one module per resource gives the calls the pages make their names.

pub mod changes;
pub mod command_rules;
pub mod credentials;
pub mod devices;
pub mod groups;
pub mod notifications;
pub mod passkeys;
pub mod requests;
pub mod session;
pub mod sessions;
pub mod trail;
pub mod users;

use changeaudit_shared::api::routes::{Method, Route};
use changeaudit_shared::problem::Problem;
use gloo_net::http::{Request, RequestBuilder, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A request that did not succeed, in words a person can act on.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// The server answered with problem details.
    Refused(Problem),
    /// The server could not be reached, or answered something unreadable.
    Unreachable(String),
    /// The browser itself refused, e.g. a passkey prompt cancelled; the text says why.
    Browser(String),
}

/// `detail` as a sentence: its first letter capital, a full stop at its end.
pub fn sentence(detail: &str) -> String {
    let mut chars = detail.trim().chars();
    let mut text: String = chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    if !text.is_empty() && !text.ends_with(['.', '!', '?']) {
        text.push('.');
    }
    text
}

impl ApiError {
    /// The refusal in words, never a field's name: one field's message as a sentence, or how
    /// many fields need correcting (their messages stand beside them).
    pub fn message(&self) -> String {
        match self {
            ApiError::Refused(problem) => match problem.errors.as_slice() {
                [] => problem.message().to_owned(),
                [only] => sentence(&only.detail),
                many => format!(
                    "{} fields need correcting: each says why beside it.",
                    many.len()
                ),
            },
            ApiError::Unreachable(reason) => format!("The server cannot be reached ({reason})."),
            ApiError::Browser(reason) => reason.clone(),
        }
    }

    pub fn field(&self, field: &str) -> Option<String> {
        match self {
            ApiError::Refused(problem) => problem.field_error(field).map(str::to_owned),
            ApiError::Unreachable(_) | ApiError::Browser(_) => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Refused(problem) => Some(problem.status),
            ApiError::Unreachable(_) | ApiError::Browser(_) => None,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for ApiError {}

fn unreachable(error: gloo_net::Error) -> ApiError {
    ApiError::Unreachable(error.to_string())
}

async fn refusal(response: Response) -> ApiError {
    let status = response.status();
    match response.json::<Problem>().await {
        Ok(problem) => ApiError::Refused(problem),
        Err(_) => ApiError::Unreachable(format!("HTTP {status} {}", response.status_text())),
    }
}

async fn read<T: DeserializeOwned>(response: Response) -> Result<T, ApiError> {
    if response.ok() {
        let text = response.text().await.map_err(unreachable)?;
        // An empty answer (204, 202) satisfies only a caller that expects `()`.
        let json = if text.is_empty() { "null" } else { &text };
        serde_json::from_str(json)
            .map_err(|error| ApiError::Unreachable(format!("unreadable answer: {error}")))
    } else {
        Err(refusal(response).await)
    }
}

fn request(method: Method, path: &str) -> RequestBuilder {
    match method {
        Method::Get => Request::get(path),
        Method::Post => Request::post(path),
        Method::Put => Request::put(path),
        Method::Delete => Request::delete(path),
    }
}

/// Calls a route that takes no body.
pub async fn fetch<A: DeserializeOwned>(route: Route<(), A>) -> Result<A, ApiError> {
    let builder = request(route.method, &route.path);
    let request = if route.method == Method::Get || route.method == Method::Delete {
        builder.build()
    } else {
        builder.json(&())
    };
    read(
        request
            .map_err(unreachable)?
            .send()
            .await
            .map_err(unreachable)?,
    )
    .await
}

/// Calls a route with its body.
pub async fn send<B: Serialize, A: DeserializeOwned>(
    route: Route<B, A>,
    body: &B,
) -> Result<A, ApiError> {
    let request = request(route.method, &route.path)
        .json(body)
        .map_err(unreachable)?;
    read(request.send().await.map_err(unreachable)?).await
}

/// A body that is not JSON (a recording), as text.
pub async fn text<A>(route: Route<(), A>) -> Result<String, ApiError> {
    let response = request(route.method, &route.path)
        .send()
        .await
        .map_err(unreachable)?;
    if response.ok() {
        response.text().await.map_err(unreachable)
    } else {
        Err(refusal(response).await)
    }
}
