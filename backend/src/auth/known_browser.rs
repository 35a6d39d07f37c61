//! A browser that has signed in as someone before. Each sign-in gives the browser a cookie of
//! that account's own (its name carries a tag of the account, so one browser can be known for
//! several): the account's ID, when it was given, a random ID of this browser, and the
//! server's keyed digest of those and of the account's current password hash. The server
//! stores nothing and recognises the cookie again with the master key.
//!
//! What it is for: a flood of wrong passwords for one account from many addresses slows down
//! that account's password sign-ins from browsers it has never been used in (`throttle`'s
//! account limit), and never those from a browser that has signed in as it before. A cookie
//! stops counting when the password changes, after a year, or when the account is made again
//! under the same name; a stolen one signs nobody in, and its browser ID has a limit of its own,
//! so handing it to a botnet buys a few guesses, not the account limit.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::auth::session;
use crate::auth::session::SessionPolicy;
pub use crate::auth::throttle::KnownBrowser;
use crate::clock::Timestamp;
use crate::vault::MasterKey;

const PURPOSE: &str = "changeaudit known browser";
const NAME_PURPOSE: &str = "changeaudit known browser cookie name";
/// A browser stays known while it signs in at least this often.
const LIFETIME: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// The account a cookie is checked against: its ID and its stored password hash.
pub struct Account<'a> {
    pub username: &'a str,
    pub id: i64,
    pub password_hash: &'a str,
}

fn cookie_name(key: &MasterKey, username: &str, policy: &SessionPolicy) -> String {
    let tag = key.recognise(NAME_PURPOSE, username.to_lowercase().as_bytes());
    let tag = hex::encode(&tag[..6]);
    if policy.cookie_secure {
        format!("__Host-changeaudit_known_{tag}")
    } else {
        format!("changeaudit_known_{tag}")
    }
}

/// The digest binding a browser ID and a time to the account as it is now.
fn digest(key: &MasterKey, account: &Account<'_>, issued: i64, browser: &str) -> String {
    let password = hex::encode(Sha256::digest(account.password_hash.as_bytes()));
    let message = format!("{}\0{issued}\0{browser}\0{password}", account.id);
    URL_SAFE_NO_PAD.encode(key.recognise(PURPOSE, message.as_bytes()))
}

/// The `Set-Cookie` that marks this browser as known for `account` from `now`.
pub fn set_cookie(
    key: &MasterKey,
    account: &Account<'_>,
    policy: &SessionPolicy,
    now: Timestamp,
) -> HeaderValue {
    let browser = URL_SAFE_NO_PAD.encode(crate::random::bytes::<16>());
    let issued = now.as_millis();
    let value = format!(
        "{}.{issued}.{browser}.{}",
        account.id,
        digest(key, account, issued, &browser)
    );
    let secure = if policy.cookie_secure { "; Secure" } else { "" };
    let text = format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        cookie_name(key, account.username, policy),
        LIFETIME.as_secs()
    );
    // Digits, base64url and ASCII attributes: always a valid header.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The browser, if the request comes from one that has signed in as `account` as it is now
/// within the last year.
pub fn recognise(
    key: &MasterKey,
    headers: &HeaderMap,
    policy: &SessionPolicy,
    account: &Account<'_>,
    now: Timestamp,
) -> Option<KnownBrowser> {
    let name = cookie_name(key, account.username, policy);
    let presented = session::cookie_value(headers, &name)?;
    let mut parts = presented.splitn(4, '.');
    let (id, issued, browser, mac) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let issued: i64 = issued.parse().ok()?;
    let fresh = now.as_millis().saturating_sub(issued) < LIFETIME.as_millis() as i64;
    let expected = digest(key, account, issued, browser);
    let genuine = id == account.id.to_string()
        && changeaudit_shared::constant_time::equal(mac.as_bytes(), expected.as_bytes());
    (fresh && genuine).then(|| KnownBrowser(browser.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp::from_millis(1_767_225_600_000);

    fn policy() -> SessionPolicy {
        SessionPolicy {
            idle_timeout: Duration::from_secs(60),
            max_lifetime: Duration::from_secs(60),
            cookie_secure: false,
            trust_forwarded_proto: false,
        }
    }

    fn alice() -> Account<'static> {
        Account {
            username: "Alice",
            id: 7,
            password_hash: "$argon2id$one",
        }
    }

    /// The request a browser sends back with `cookies` (and another cookie besides).
    fn request_with(cookies: &[&HeaderValue]) -> HeaderMap {
        let pairs: Vec<String> = cookies
            .iter()
            .filter_map(|cookie| cookie.to_str().ok()?.split(';').next().map(str::to_owned))
            .collect();
        let mut headers = HeaderMap::new();
        let value = format!("other=1; {}", pairs.join("; "));
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(axum::http::header::COOKIE, value);
        }
        headers
    }

    #[test]
    fn a_browser_is_known_for_the_account_it_signed_in_as_while_the_account_is_the_same() {
        let key = MasterKey::generate();
        let cookie = set_cookie(&key, &alice(), &policy(), NOW);
        let headers = request_with(&[&cookie]);
        let known = recognise(&key, &headers, &policy(), &alice(), NOW);
        assert!(known.is_some());
        let lower = Account {
            username: "alice",
            ..alice()
        };
        assert_eq!(recognise(&key, &headers, &policy(), &lower, NOW), known);
        // Its password changed, the account made again under the name, a year gone, another
        // master key: no longer.
        let changed = Account {
            password_hash: "$argon2id$two",
            ..alice()
        };
        let remade = Account { id: 8, ..alice() };
        let later = NOW.plus(LIFETIME);
        assert!(recognise(&key, &headers, &policy(), &changed, NOW).is_none());
        assert!(recognise(&key, &headers, &policy(), &remade, NOW).is_none());
        assert!(recognise(&key, &headers, &policy(), &alice(), later).is_none());
        let other_key = MasterKey::generate();
        assert!(recognise(&other_key, &headers, &policy(), &alice(), NOW).is_none());
    }

    #[test]
    fn one_browser_is_known_for_several_accounts_each_with_its_own_id() {
        let key = MasterKey::generate();
        let bob = Account {
            username: "bob",
            id: 9,
            password_hash: "$argon2id$bob",
        };
        let for_alice = set_cookie(&key, &alice(), &policy(), NOW);
        let for_bob = set_cookie(&key, &bob, &policy(), NOW);
        let headers = request_with(&[&for_alice, &for_bob]);
        let alice_browser = recognise(&key, &headers, &policy(), &alice(), NOW);
        let bob_browser = recognise(&key, &headers, &policy(), &bob, NOW);
        assert!(alice_browser.is_some() && bob_browser.is_some());
        assert_ne!(alice_browser, bob_browser);
        // Bob's cookie, renamed to Alice's, does not pass for her.
        let bobs_value = for_bob
            .to_str()
            .unwrap_or_default()
            .split(';')
            .next()
            .and_then(|pair| pair.split_once('='))
            .map(|(_, value)| value.to_owned())
            .unwrap_or_default();
        let forged = format!("{}={bobs_value}", cookie_name(&key, "alice", &policy()));
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(&forged) {
            headers.insert(axum::http::header::COOKIE, value);
        }
        assert!(recognise(&key, &headers, &policy(), &alice(), NOW).is_none());
    }
}
