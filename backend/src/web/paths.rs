//! What a path of the web app means: a file of the build, or one of the app's own routes; and
//! whether a file's name carries its content's hash.

/// Whether `path` can only mean a file: the build's files sit at the top, under `snippets/` or
/// in the sign-in page's folder, and the app's own top-level routes (`/changes`, `/profile`)
/// hold no dot. Deeper routes take IDs that may (`/changes/CHG-1.2`), so they always get a page.
pub fn asks_for_a_file(path: &str) -> bool {
    let inner = path.trim_start_matches('/');
    (!inner.contains('/') && inner.contains('.'))
        || inner.starts_with("snippets/")
        || inner
            .strip_prefix("sign-in/")
            .is_some_and(|file| file.contains('.'))
}

/// Whether `path` names a file whose name carries its content's hash, as Trunk names the
/// build's wasm, JS and CSS (`app-1f2e3d4c5b6a7980_bg.wasm`): it never changes, so browsers
/// may keep it for good. Trunk writes the hash, a 64-bit number, in hex without its leading
/// zeros: one build in sixteen has 15 digits (`abe7612328af7a1`), fewer than 12 one in a
/// million, which are then only revalidated.
pub fn is_fingerprinted(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or_default();
    let Some((stem, _extension)) = name.split_once('.') else {
        return false;
    };
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-').is_some_and(|(_, hash)| {
        (12..=16).contains(&hash.len()) && hash.bytes().all(|byte| byte.is_ascii_hexdigit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_can_only_be_a_file_is_refused_the_app_s_page() {
        assert!(asks_for_a_file("/favicon.ico"));
        assert!(asks_for_a_file("/robots.txt"));
        assert!(asks_for_a_file("/snippets/x/inline0.js"));
        assert!(asks_for_a_file("/sign-in/style-0123456789abcdef.css"));
        assert!(!asks_for_a_file("/sign-in"));
        assert!(!asks_for_a_file("/sign-in/"));
        assert!(!asks_for_a_file("/changes/CHG-1.2"));
        assert!(!asks_for_a_file("/changes"));
        assert!(!asks_for_a_file("/"));
    }

    #[test]
    fn trunk_s_hashed_names_are_fingerprinted_and_others_not() {
        assert!(is_fingerprinted(
            "/changeaudit-frontend-15c090de6114351e_bg.wasm"
        ));
        assert!(is_fingerprinted(
            "/changeaudit-frontend-15c090de6114351e.js"
        ));
        assert!(is_fingerprinted("/style-0123456789abcdef.css"));
        assert!(is_fingerprinted(
            "/sign-in/changeaudit-sign-in-abe7612328af7a1_bg.wasm"
        ));
        assert!(!is_fingerprinted("/index.html"));
        assert!(!is_fingerprinted("/app-1234.js"));
        assert!(!is_fingerprinted("/changes/CHG-1"));
        assert!(!is_fingerprinted("/xterm-0123456789abcdeg.js"));
        // An app route whose ID ends like a hash is no file.
        assert!(!is_fingerprinted("/changes/CHG-1000000000000000"));
    }
}
