//! The built web app: where it comes from (a folder, or in release builds the binary itself,
//! `embedded`), its two pages, and the Content-Security-Policy they are sent with. How paths
//! are answered is `pages`.

use std::path::{Path, PathBuf};

use axum::http::HeaderValue;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

/// The two pages the build holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    /// The app, for a signed-in person.
    App,
    /// The sign-in page.
    SignIn,
}

impl Document {
    pub const ALL: [Document; 2] = [Document::App, Document::SignIn];

    /// Its file in the build.
    pub fn file(self) -> &'static str {
        match self {
            Document::App => "index.html",
            Document::SignIn => "sign-in/index.html",
        }
    }
}

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

    /// One of the built pages, read as a request is answered: from a folder without holding up
    /// the runtime, and read each time, so a folder rebuilt in development is served as it is.
    pub async fn read(&self, document: Document) -> Option<String> {
        match self {
            WebApp::Folder(folder) => tokio::fs::read_to_string(folder.join(document.file()))
                .await
                .ok(),
            #[cfg(feature = "embedded-web-app")]
            WebApp::Embedded => super::embedded::text(document.file()),
        }
    }

    /// One of the built pages, if the build holds it (at start-up).
    pub fn document(&self, document: Document) -> Option<String> {
        match self {
            WebApp::Folder(folder) => std::fs::read_to_string(folder.join(document.file())).ok(),
            #[cfg(feature = "embedded-web-app")]
            WebApp::Embedded => super::embedded::text(document.file()),
        }
    }
}

/// The Content-Security-Policy of the app's pages: scripts only from this origin, plus the
/// inline scripts of the built pages (Trunk's loaders and the import map) by their SHA-256, and
/// WebAssembly; no `unsafe-inline` for scripts. Styles allow inline ones: xterm.js and the
/// player set them at run time.
pub fn content_security_policy(app: &WebApp) -> HeaderValue {
    let pages: Vec<String> = Document::ALL
        .into_iter()
        .filter_map(|document| app.document(document))
        .collect();
    let hashes: Vec<String> = pages
        .iter()
        .flat_map(|html| inline_scripts(html))
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
