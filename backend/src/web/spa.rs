//! The built single-page app, served from the same origin as the API. Any path that is not a
//! file gets `index.html`, so the app's own routes survive a reload.

use std::path::Path;

use axum::http::HeaderValue;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use tower_http::services::{ServeDir, ServeFile};

pub type SpaService = ServeDir<ServeFile>;

pub fn service(static_dir: &Path) -> SpaService {
    let index = static_dir.join("index.html");
    if !index.is_file() {
        tracing::warn!(
            path = %index.display(),
            "the single-page app is not built; the API works, the pages do not"
        );
    }
    ServeDir::new(static_dir).fallback(ServeFile::new(index))
}

/// The Content-Security-Policy of the app's pages: scripts only from this origin, plus the
/// inline scripts of the built `index.html` (Trunk's loader and the import map) by their
/// SHA-256, and WebAssembly; no `unsafe-inline` for scripts. Styles allow inline ones: xterm.js
/// and the player set them at run time.
pub fn content_security_policy(static_dir: &Path) -> HeaderValue {
    let index = std::fs::read_to_string(static_dir.join("index.html")).unwrap_or_default();
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
