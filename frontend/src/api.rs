//! Every request the app makes to the server goes through here.

use changeaudit_shared::api::changes::{Change, ChangeInput};
use changeaudit_shared::api::groups::AccessGroup;
use changeaudit_shared::api::{LoginRequest, Me, Page};
use changeaudit_shared::problem::Problem;
use gloo_net::http::{Request, Response};
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

impl ApiError {
    pub fn message(&self) -> String {
        match self {
            ApiError::Refused(problem) => problem.message().to_owned(),
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

    fn status(&self) -> Option<u16> {
        match self {
            ApiError::Refused(problem) => Some(problem.status),
            ApiError::Unreachable(_) | ApiError::Browser(_) => None,
        }
    }
}

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

/// The signed-in person, or `None` when nobody is signed in.
pub async fn me() -> Result<Option<Me>, ApiError> {
    match get("/api/me").await {
        Ok(me) => Ok(Some(me)),
        Err(error) if error.status() == Some(401) => Ok(None),
        Err(error) => Err(error),
    }
}

pub async fn sign_in(request: LoginRequest) -> Result<Me, ApiError> {
    post("/api/session", &request).await
}

pub async fn sign_out() -> Result<(), ApiError> {
    delete("/api/session").await
}

/// A query string from pairs, leaving out empty values.
pub fn query(pairs: &[(&str, String)]) -> String {
    let encoded: Vec<String> = pairs
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(key, value)| format!("{key}={}", js_sys::encode_uri_component(value)))
        .collect();
    if encoded.is_empty() {
        String::new()
    } else {
        format!("?{}", encoded.join("&"))
    }
}

pub async fn get<T: DeserializeOwned>(url: &str) -> Result<T, ApiError> {
    read(Request::get(url).send().await.map_err(unreachable)?).await
}

/// A body that is not JSON (a recording), as text.
pub async fn get_text(url: &str) -> Result<String, ApiError> {
    let response = Request::get(url).send().await.map_err(unreachable)?;
    if response.ok() {
        response.text().await.map_err(unreachable)
    } else {
        Err(refusal(response).await)
    }
}

pub async fn post<B: Serialize, T: DeserializeOwned>(url: &str, body: &B) -> Result<T, ApiError> {
    let request = Request::post(url).json(body).map_err(unreachable)?;
    read(request.send().await.map_err(unreachable)?).await
}

pub async fn put<B: Serialize, T: DeserializeOwned>(url: &str, body: &B) -> Result<T, ApiError> {
    let request = Request::put(url).json(body).map_err(unreachable)?;
    read(request.send().await.map_err(unreachable)?).await
}

fn change_url(id: &str) -> String {
    format!("/api/changes/{}", js_sys::encode_uri_component(id))
}

pub async fn change(id: &str) -> Result<Change, ApiError> {
    get(&change_url(id)).await
}

pub async fn register_change(input: &ChangeInput) -> Result<Change, ApiError> {
    post("/api/changes", input).await
}

pub async fn edit_change(id: &str, input: &ChangeInput) -> Result<Change, ApiError> {
    put(&change_url(id), input).await
}

pub async fn cancel_change(id: &str) -> Result<Change, ApiError> {
    post(&format!("{}/cancel", change_url(id)), &()).await
}

pub async fn access_groups() -> Result<Page<AccessGroup>, ApiError> {
    get("/api/access-groups?limit=200").await
}

pub async fn delete(url: &str) -> Result<(), ApiError> {
    let response = Request::delete(url).send().await.map_err(unreachable)?;
    if response.ok() {
        Ok(())
    } else {
        Err(refusal(response).await)
    }
}
