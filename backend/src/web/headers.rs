//! Headers every response carries, and a log line per request.

use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::state::AppState;
use crate::web::client_ip::ClientInfo;
use crate::web::paths;

/// Over https (the server's `public_url`, or a trusted proxy's word when it is believed),
/// browsers are told to come back only that way (HSTS).
pub async fn protective_headers(
    State(state): State<AppState>,
    client: ClientInfo,
    request: Request,
    next: Next,
) -> Response {
    let over_tls = state.sessions.for_request(&client).cookie_secure;
    let is_api = request.uri().path().starts_with("/api/");
    let fingerprinted = !is_api && paths::is_fingerprinted(request.uri().path());
    let mut response = next.run(request).await;
    let ok = response.status() == axum::http::StatusCode::OK;
    let headers = response.headers_mut();
    if over_tls {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    let is_html = headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"text/html"));
    if !is_api && ok {
        // The same path is sent compressed or not as the browser asks: a cache must keep both.
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    if is_api {
        // Answers about people and changes must not linger in shared caches.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    } else if fingerprinted && ok && !is_html {
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        );
    } else if is_html {
        // A page names the hashed wasm and JS of the current build: always revalidate it. Which
        // page a path gets (the app or the sign-in page) depends on the session cookie.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert(
            header::VARY,
            HeaderValue::from_static("accept-encoding, cookie"),
        );
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            state.content_security_policy.clone(),
        );
    }
    response
}

pub async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::debug!(
        %method,
        path,
        status = response.status().as_u16(),
        micros = started.elapsed().as_micros() as u64,
        "request"
    );
    response
}
