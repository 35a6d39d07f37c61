//! The web app built into the binary (the `embedded-web-app` feature, which release builds
//! and the package use): `frontend/dist` as Trunk and `scripts/dev` left it, with the `.br` and
//! `.gz` made beside each file, so an installed binary serves its pages from any folder.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::{Embed, EmbeddedFile};

#[derive(Embed)]
#[folder = "../frontend/dist/"]
struct Built;

/// A text file of the build (one of its pages), if the binary holds it.
pub fn text(name: &str) -> Option<String> {
    Built::get(name).map(|file| String::from_utf8_lossy(&file.data).into_owned())
}

/// A file of the build, compressed when the browser takes it; `None` when the path names none
/// (a page, or a missing file: `pages` answers those).
pub fn file(request: &Request) -> Option<Response> {
    let name = request.uri().path().trim_start_matches('/');
    let file = Built::get(name).filter(|_| !name.is_empty())?;
    let (coding, sent) = compressed(name, request.headers()).unwrap_or((None, file.clone()));
    let tag = etag(&sent);
    if request
        .headers()
        .get(header::IF_NONE_MATCH)
        .is_some_and(|seen| seen.as_bytes() == tag.as_bytes())
    {
        return Some((StatusCode::NOT_MODIFIED, [(header::ETAG, tag)]).into_response());
    }
    // HEAD gets the body too: hyper sends its length and drops it.
    // The embedded bytes are sent as they are, not copied for each request.
    let mut response = Response::new(Body::from(sent.data));
    let headers = response.headers_mut();
    if let Ok(kind) = HeaderValue::from_str(file.metadata.mimetype()) {
        headers.insert(header::CONTENT_TYPE, kind);
    }
    if let Some(coding) = coding {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
    }
    if let Ok(tag) = HeaderValue::from_str(&tag) {
        headers.insert(header::ETAG, tag);
    }
    Some(response)
}

/// The `.br` or `.gz` made beside `name`, when the browser takes that coding.
fn compressed(name: &str, headers: &HeaderMap) -> Option<(Option<&'static str>, EmbeddedFile)> {
    let accepted = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    [("br", "br"), ("gzip", "gz")]
        .into_iter()
        .filter(|(coding, _)| takes(accepted, coding))
        .find_map(|(coding, suffix)| {
            Built::get(&format!("{name}.{suffix}")).map(|file| (Some(coding), file))
        })
}

/// Whether an `Accept-Encoding` value takes `coding` (named, and not with `q=0`).
fn takes(accepted: &str, coding: &str) -> bool {
    accepted.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        parts
            .next()
            .is_some_and(|name| name.eq_ignore_ascii_case(coding))
            && !parts.any(|parameter| {
                parameter
                    .strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            })
    })
}

fn etag(file: &EmbeddedFile) -> String {
    let hash = file.metadata.sha256_hash();
    format!("\"{}\"", changeaudit_shared::trail::hex(&hash[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_encoding_is_taken_when_named_without_a_zero_weight() {
        assert!(takes("gzip, deflate, br, zstd", "br"));
        assert!(takes("br;q=0.5, gzip", "br"));
        assert!(!takes("gzip", "br"));
        assert!(!takes("br;q=0, gzip", "br"));
        assert!(!takes("", "gzip"));
    }
}
