//! The built single-page app, served from the same origin as the API. Any path that is not a
//! file gets `index.html`, so the app's own routes survive a reload.

use std::path::Path;

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
