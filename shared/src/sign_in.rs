//! Where signing in happens and where it leads. The sign-in page is its own small program, served
//! at [`PATH`] and in place of any page asked for without a session; the app sends a person
//! there with the page they were on in `next`.

/// The sign-in page's own path.
pub const PATH: &str = "/sign-in";

/// The query parameter naming the page to return to.
pub const NEXT: &str = "next";

/// The page to open after signing in: `next` when it is a path of this site, else the home page.
/// Anything that could leave the site (`//host`, `https://…`, a backslash browsers read as a
/// slash) or loop back to the sign-in page is refused.
pub fn return_to(next: Option<&str>) -> &str {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains(['\\', '\r', '\n', '\t'])
                && !is_sign_in(path) =>
        {
            path
        }
        _ => "/",
    }
}

/// Whether `path` (with any query) is the sign-in page itself.
pub fn is_sign_in(path: &str) -> bool {
    let bare = path.split(['?', '#']).next().unwrap_or_default();
    bare.trim_end_matches('/') == PATH
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_of_the_site_is_returned_to() {
        assert_eq!(
            return_to(Some("/changes/CHG-1?tab=life")),
            "/changes/CHG-1?tab=life"
        );
        assert_eq!(return_to(Some("/")), "/");
    }

    #[test]
    fn anything_that_could_leave_the_site_or_loop_leads_home() {
        for next in [
            None,
            Some(""),
            Some("changes"),
            Some("//evil.example/x"),
            Some("/\\evil.example"),
            Some("https://evil.example/"),
            Some("/sign-in"),
            Some("/sign-in/?next=/x"),
            Some("/x\n/y"),
        ] {
            assert_eq!(return_to(next), "/", "{next:?}");
        }
    }
}
