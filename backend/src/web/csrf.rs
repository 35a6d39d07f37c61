//! Cross-site request forgery protection by origin, the way browsers now make possible: a
//! state-changing request is refused when the browser says it comes from another site. Same
//! rules as Go's `net/http.CrossOriginProtection`.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

/// Origins, besides the server's own, whose pages may send state-changing requests.
#[derive(Debug, Clone, Default)]
pub struct TrustedOrigins(Vec<String>);

impl TrustedOrigins {
    pub fn new(origins: impl IntoIterator<Item = String>) -> Self {
        TrustedOrigins(
            origins
                .into_iter()
                .map(|origin| origin.trim_end_matches('/').to_ascii_lowercase())
                .collect(),
        )
    }

    fn contains(&self, origin: &str) -> bool {
        self.0
            .iter()
            .any(|trusted| trusted.eq_ignore_ascii_case(origin))
    }
}

pub async fn refuse_cross_origin(
    State(trusted): State<Arc<TrustedOrigins>>,
    request: Request,
    next: Next,
) -> Response {
    if is_allowed(request.method(), request.headers(), &trusted) {
        next.run(request).await
    } else {
        tracing::warn!(
            method = %request.method(),
            path = request.uri().path(),
            origin = ?request.headers().get(header::ORIGIN),
            "cross-origin request refused"
        );
        AppError::CrossOrigin.into_response()
    }
}

pub fn is_allowed(method: &Method, headers: &HeaderMap, trusted: &TrustedOrigins) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return true;
    }
    let text = |name| headers.get(name).and_then(|value| value.to_str().ok());
    let origin = text(header::ORIGIN);
    if origin.is_some_and(|origin| trusted.contains(origin)) {
        return true;
    }
    match text(header::HeaderName::from_static("sec-fetch-site")) {
        Some("same-origin" | "none") => true,
        Some(_) => false,
        // Neither header: not a browser, so no ambient cookie to abuse.
        None => match origin {
            None => true,
            Some(origin) => {
                text(header::HOST).is_some_and(|host| origin_host(origin) == Some(host))
            }
        },
    }
}

/// For a WebSocket: the request must name its origin, and it must be this server (by the Host
/// it was sent to) or a trusted one.
pub fn is_own_or_trusted_origin(headers: &HeaderMap, trusted: &TrustedOrigins) -> bool {
    let text = |name| headers.get(name).and_then(|value| value.to_str().ok());
    match text(header::ORIGIN) {
        None => false,
        Some(origin) => {
            trusted.contains(origin)
                || text(header::HOST).is_some_and(|host| origin_host(origin) == Some(host))
        }
    }
}

fn origin_host(origin: &str) -> Option<&str> {
    origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    header::HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                )
            })
            .collect()
    }

    fn allowed(pairs: &[(&'static str, &'static str)]) -> bool {
        let trusted = TrustedOrigins::new(["https://portal.example".to_owned()]);
        is_allowed(&Method::POST, &headers(pairs), &trusted)
    }

    #[test]
    fn safe_methods_always_pass() {
        let cross = headers(&[("sec-fetch-site", "cross-site")]);
        assert!(is_allowed(&Method::GET, &cross, &TrustedOrigins::default()));
    }

    #[test]
    fn browsers_are_judged_by_sec_fetch_site() {
        assert!(allowed(&[("sec-fetch-site", "same-origin")]));
        assert!(allowed(&[("sec-fetch-site", "none")]));
        assert!(!allowed(&[("sec-fetch-site", "same-site")]));
        assert!(!allowed(&[
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://evil.example")
        ]));
        assert!(allowed(&[
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://portal.example")
        ]));
    }

    #[test]
    fn older_browsers_are_judged_by_origin_against_host() {
        assert!(allowed(&[
            ("origin", "http://localhost:8080"),
            ("host", "localhost:8080")
        ]));
        assert!(!allowed(&[
            ("origin", "http://evil.example"),
            ("host", "localhost:8080")
        ]));
        assert!(!allowed(&[("origin", "null"), ("host", "localhost:8080")]));
    }

    #[test]
    fn websockets_must_come_from_this_server_or_a_trusted_origin() {
        let trusted = TrustedOrigins::new(["https://portal.example".to_owned()]);
        let judge = |pairs: &[(&'static str, &'static str)]| {
            is_own_or_trusted_origin(&headers(pairs), &trusted)
        };
        assert!(judge(&[
            ("origin", "http://localhost:8080"),
            ("host", "localhost:8080")
        ]));
        assert!(judge(&[
            ("origin", "https://portal.example"),
            ("host", "10.0.0.1")
        ]));
        assert!(!judge(&[
            ("origin", "http://evil.example"),
            ("host", "localhost:8080")
        ]));
        assert!(!judge(&[("host", "localhost:8080")]));
    }

    #[test]
    fn clients_without_browser_headers_pass() {
        assert!(allowed(&[("host", "localhost:8080")]));
    }
}
