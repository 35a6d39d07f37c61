//! The built single-page app, served from the same origin as the API. A path that names no
//! file and looks like none (no extension) gets `index.html`, so the app's own routes survive a
//! reload; a missing file (`/favicon.ico`) is a plain 404. Files are sent compressed when a
//! `.br` or `.gz` beside them was made at build time and the browser takes it. The app comes
//! from a folder or, in release builds, from the binary itself (`embedded`).

use std::path::{Path, PathBuf};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};

use super::paths::asks_for_a_file;

/// Where the built app comes from: a folder (`static_dir`, for development or an override),
/// or the binary itself when it was built with the app in it.
#[derive(Debug, Clone)]
pub enum WebApp {
    Folder(PathBuf),
    #[cfg(feature = "embedded-web-app")]
    Embedded,
}

impl WebApp {
    /// `static_dir` when set; otherwise the app in the binary, or `frontend/dist` (relative to
    /// the working folder) when the binary holds none.
    pub fn chosen(static_dir: Option<&Path>) -> WebApp {
        match static_dir {
            Some(folder) => WebApp::Folder(folder.to_owned()),
            #[cfg(feature = "embedded-web-app")]
            None => WebApp::Embedded,
            #[cfg(not(feature = "embedded-web-app"))]
            None => WebApp::Folder(PathBuf::from("frontend/dist")),
        }
    }

    /// The built `index.html`, if there is one.
    pub fn index(&self) -> Option<String> {
        match self {
            WebApp::Folder(folder) => std::fs::read_to_string(folder.join("index.html")).ok(),
            #[cfg(feature = "embedded-web-app")]
            WebApp::Embedded => super::embedded::index(),
        }
    }

    /// What answers every path the API does not.
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        if self.index().is_none() {
            tracing::warn!(
                app = ?self,
                "the single-page app is not built; the API works, the pages do not"
            );
        }
        match self {
            WebApp::Folder(folder) => Router::new().fallback_service(
                ServeDir::new(folder)
                    .precompressed_br()
                    .precompressed_gzip()
                    .fallback(get(app_page).with_state(folder.join("index.html"))),
            ),
            #[cfg(feature = "embedded-web-app")]
            WebApp::Embedded => Router::new().fallback(super::embedded::serve),
        }
    }
}

/// The app's page for its own routes; 404 for what asks for a file that is not there.
async fn app_page(State(index): State<PathBuf>, request: Request) -> Response {
    if asks_for_a_file(request.uri().path()) {
        return (StatusCode::NOT_FOUND, "Not Found").into_response();
    }
    match ServeFile::new(index).oneshot(request).await {
        Ok(response) => response.map(Body::new),
        Err(never) => match never {},
    }
}

/// The Content-Security-Policy of the app's pages: scripts only from this origin, plus the
/// inline scripts of the built `index.html` (Trunk's loader and the import map) by their
/// SHA-256, and WebAssembly; no `unsafe-inline` for scripts. Styles allow inline ones: xterm.js
/// and the player set them at run time.
pub fn content_security_policy(app: &WebApp) -> HeaderValue {
    let index = app.index().unwrap_or_default();
    let hashes: Vec<String> = inline_scripts(&index)
        .map(|script| {
            format!(
                "'sha256-{}'",
                STANDARD.encode(Sha256::digest(script.as_bytes()))
            )
        })
        .collect();
    let policy = format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' {}; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
         frame-ancestors 'none'; form-action 'self'",
        hashes.join(" ")
    );
    // Hashes are base64 and the rest is fixed text: always a valid header.
    HeaderValue::from_str(&policy)
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"))
}

/// The text of each `<script>` without a `src`, exactly as the page holds it.
fn inline_scripts(html: &str) -> impl Iterator<Item = &str> {
    html.split("<script").skip(1).filter_map(|rest| {
        let (tag, after) = rest.split_once('>')?;
        let (body, _) = after.split_once("</script>")?;
        (!tag.contains("src=")).then_some(body)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_scripts_are_found_as_written_and_sourced_ones_left_out() {
        let html = "<script type=\"importmap\">{ \"a\": 1 }</script>\n<script src=\"/x.js\"></script><script type=\"module\">\nimport x;\n</script>";
        let found: Vec<&str> = inline_scripts(html).collect();
        assert_eq!(found, ["{ \"a\": 1 }", "\nimport x;\n"]);
    }
}
