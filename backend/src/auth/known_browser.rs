//! A browser that has signed in as someone before. After each sign-in the browser is given a
//! cookie that names the account and carries the server's keyed digest of that name; the
//! server stores nothing and recognises the cookie again with the master key.
//!
//! What it is for: a flood of wrong passwords for one account from many addresses slows down
//! that account's password sign-ins from browsers it has never been used in (`throttle`'s
//! account limit), and never those from a browser that has signed in as it before. A stolen
//! cookie gives nothing but that: it is no sign-in, and the per-address limits still hold.

use axum::http::{HeaderMap, HeaderValue};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::auth::session;
use crate::state::SessionPolicy;
use crate::vault::MasterKey;

const COOKIE_NAME: &str = "changeaudit_known";
const SECURE_COOKIE_NAME: &str = "__Host-changeaudit_known";
const PURPOSE: &str = "changeaudit known browser";
/// A year: a browser stays known while it is used at least that often.
const MAX_AGE_SECONDS: u64 = 365 * 24 * 60 * 60;

fn cookie_name(policy: &SessionPolicy) -> &'static str {
    if policy.cookie_secure {
        SECURE_COOKIE_NAME
    } else {
        COOKIE_NAME
    }
}

/// The cookie's value for `username`: the name and its digest, both base64url.
fn value(key: &MasterKey, username: &str) -> String {
    let name = username.to_lowercase();
    let digest = key.recognise(PURPOSE, name.as_bytes());
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(name.as_bytes()),
        URL_SAFE_NO_PAD.encode(digest)
    )
}

/// The `Set-Cookie` that marks this browser as known for `username`.
pub fn set_cookie(key: &MasterKey, username: &str, policy: &SessionPolicy) -> HeaderValue {
    let name = cookie_name(policy);
    let secure = if policy.cookie_secure { "; Secure" } else { "" };
    let text = format!(
        "{name}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={MAX_AGE_SECONDS}{secure}",
        value(key, username)
    );
    // base64url and ASCII attributes: always a valid header.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Whether the request comes from a browser that has signed in as `username` before.
pub fn vouches_for(
    key: &MasterKey,
    headers: &HeaderMap,
    policy: &SessionPolicy,
    username: &str,
) -> bool {
    let Some(presented) = session::cookie_value(headers, cookie_name(policy)) else {
        return false;
    };
    let expected = value(key, username);
    // Both are public-length strings; compared in constant time all the same.
    presented.len() == expected.len()
        && presented
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |differ, (a, b)| differ | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> SessionPolicy {
        SessionPolicy {
            idle_timeout: std::time::Duration::from_secs(60),
            max_lifetime: std::time::Duration::from_secs(60),
            cookie_secure: false,
            trust_forwarded_proto: false,
        }
    }

    fn request_with(cookie: &HeaderValue) -> HeaderMap {
        let pair = cookie
            .to_str()
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .to_owned();
        let mut headers = HeaderMap::new();
        headers.insert(
            axum::http::header::COOKIE,
            HeaderValue::from_str(&format!("other=1; {pair}"))
                .unwrap_or(HeaderValue::from_static("")),
        );
        headers
    }

    #[test]
    fn a_browser_is_known_for_the_account_it_signed_in_as_only() {
        let key = MasterKey::generate();
        let headers = request_with(&set_cookie(&key, "Alice", &policy()));
        assert!(vouches_for(&key, &headers, &policy(), "alice"));
        assert!(vouches_for(&key, &headers, &policy(), "ALICE"));
        assert!(!vouches_for(&key, &headers, &policy(), "bob"));
        // Another master key does not recognise it, and no cookie vouches for nobody.
        assert!(!vouches_for(
            &MasterKey::generate(),
            &headers,
            &policy(),
            "alice"
        ));
        assert!(!vouches_for(&key, &HeaderMap::new(), &policy(), "alice"));
    }

    #[test]
    fn a_cookie_made_for_another_name_does_not_pass_for_this_one() {
        let key = MasterKey::generate();
        // The name part swapped, the digest kept: refused.
        let made = value(&key, "mallory");
        let (_, digest) = made.split_once('.').unwrap_or_default();
        let forged = format!("{}.{digest}", URL_SAFE_NO_PAD.encode("alice"));
        let mut headers = HeaderMap::new();
        headers.insert(
            axum::http::header::COOKIE,
            HeaderValue::from_str(&format!("{COOKIE_NAME}={forged}"))
                .unwrap_or(HeaderValue::from_static("")),
        );
        assert!(!vouches_for(&key, &headers, &policy(), "alice"));
    }
}
