//! How the web app's paths are answered. A file of the build is sent as it is (compressed when
//! a `.br` or `.gz` beside it was made at build time and the browser takes it). A path that
//! names no file and looks like none is a page: the app when the request carries a session, and
//! the sign-in page in its place when not, so a first visit loads only what signing in needs
//! and the address survives signing in. A missing file (`/favicon.ico`) is a plain 404.

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use changeaudit_shared::sign_in;
use tower_http::services::ServeDir;

use super::paths::asks_for_a_file;
use super::spa::{Document, WebApp};
use crate::auth::CurrentUser;
use crate::state::AppState;

/// What answers every path the API does not.
pub fn router(state: &AppState) -> Router<AppState> {
    let app = &state.web_app;
    for document in Document::ALL {
        if app.document(document).is_none() {
            tracing::warn!(
                ?app,
                file = document.file(),
                "the web app is not built; the API works, the pages do not"
            );
        }
    }
    match app {
        // Folders are pages, not listings: they fall through to `page`.
        WebApp::Folder(folder) => Router::new().fallback_service(
            ServeDir::new(folder)
                .append_index_html_on_directories(false)
                .precompressed_br()
                .precompressed_gzip()
                .fallback(get(page).with_state(state.clone())),
        ),
        #[cfg(feature = "embedded-web-app")]
        WebApp::Embedded => Router::new().fallback(embedded_file_or_page),
    }
}

#[cfg(feature = "embedded-web-app")]
async fn embedded_file_or_page(state: State<AppState>, request: Request) -> Response {
    use axum::http::Method;
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    match super::embedded::file(&request) {
        Some(file) => file,
        None => page(state, request).await,
    }
}

/// The page for one of the app's routes: the app with a session, the sign-in page without
/// (or when it is asked for by name); 404 for what asks for a file that is not there.
async fn page(State(state): State<AppState>, request: Request) -> Response {
    let path = request.uri().path();
    if asks_for_a_file(path) {
        return (StatusCode::NOT_FOUND, "Not Found").into_response();
    }
    let document = if sign_in::is_sign_in(path) {
        Document::SignIn
    } else {
        let (mut parts, _body) = request.into_parts();
        // The same check every API call makes, so the app is never sent to someone the API
        // would then refuse (which would send them here again).
        match CurrentUser::from_request_parts(&mut parts, &state).await {
            Ok(_) => Document::App,
            Err(_) => Document::SignIn,
        }
    };
    match state.web_app.read(document).await {
        Some(html) => Html(html).into_response(),
        None => (StatusCode::NOT_FOUND, "The web app is not built.").into_response(),
    }
}
