//! Requests between replicas carry `X-Changeaudit-Peer: <unix milliseconds>.<hex HMAC-SHA256>`
//! of the time and the request's path and query, under the cluster secret. A peer takes only
//! requests signed within `FRESH_FOR` of its own clock: the secret never travels, and a request
//! seen on the wire is no good for long, nor for another path.

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use crate::clock::Timestamp;

pub const HEADER: &str = "x-changeaudit-peer";
/// How far a signature's time may be from the checking replica's clock, either way.
const FRESH_FOR: Duration = Duration::from_secs(30);

/// Why a peer's request is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refusal {
    #[error("this replica takes no peer requests: it has no cluster secret")]
    NoSecret,
    #[error("the request is not signed as `<milliseconds>.<hex signature>`")]
    Unsigned,
    #[error("the request was signed too long ago, or too far ahead")]
    Stale,
    #[error("the signature does not match: not signed with this cluster's secret")]
    Forged,
}

/// The MAC of a request; HMAC takes keys of any length, so it is always made.
fn mac(secret: &SecretString, at: i64, path: &str) -> Option<Hmac<Sha256>> {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret.expose_secret().as_bytes()).ok()?;
    mac.update(at.to_string().as_bytes());
    mac.update(b"\n");
    mac.update(path.as_bytes());
    Some(mac)
}

/// The header value for a request to `path` (with its query) made `at`.
pub fn sign(secret: &SecretString, at: Timestamp, path: &str) -> Option<String> {
    let at = at.as_millis();
    let signature = mac(secret, at, path)?.finalize().into_bytes();
    Some(format!("{at}.{}", hex::encode(signature)))
}

/// Whether `header` signs `path` under `secret`, within `FRESH_FOR` of `now`.
pub fn check(
    secret: Option<&SecretString>,
    header: Option<&str>,
    path: &str,
    now: Timestamp,
) -> Result<(), Refusal> {
    let secret = secret.ok_or(Refusal::NoSecret)?;
    let (at, signature) = header
        .and_then(|header| header.split_once('.'))
        .ok_or(Refusal::Unsigned)?;
    let at: i64 = at.parse().map_err(|_| Refusal::Unsigned)?;
    let signature = hex::decode(signature).map_err(|_| Refusal::Unsigned)?;
    let fresh = u64::try_from(FRESH_FOR.as_millis()).unwrap_or(u64::MAX);
    if now.as_millis().abs_diff(at) > fresh {
        return Err(Refusal::Stale);
    }
    mac(secret, at, path)
        .ok_or(Refusal::Forged)?
        .verify_slice(&signature)
        .map_err(|_| Refusal::Forged)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(text: &str) -> SecretString {
        SecretString::from(text.to_owned())
    }

    #[test]
    fn a_signed_request_is_taken_only_for_its_path_its_secret_and_its_moment() {
        let key = secret("a cluster secret of enough characters");
        let now = Timestamp::from_millis(1_700_000_000_000);
        let path = "/cluster/v1/sessions/7/recording?from=0";
        let header = sign(&key, now, path).unwrap();
        assert_eq!(check(Some(&key), Some(&header), path, now), Ok(()));
        let later = Timestamp::from_millis(now.as_millis() + 29_000);
        assert_eq!(check(Some(&key), Some(&header), path, later), Ok(()));

        let other_path = "/cluster/v1/sessions/8/recording?from=0";
        assert_eq!(
            check(Some(&key), Some(&header), other_path, now),
            Err(Refusal::Forged)
        );
        let other_key = secret("another secret, also long enough....");
        assert_eq!(
            check(Some(&other_key), Some(&header), path, now),
            Err(Refusal::Forged)
        );
        let too_late = Timestamp::from_millis(now.as_millis() + 31_000);
        assert_eq!(
            check(Some(&key), Some(&header), path, too_late),
            Err(Refusal::Stale)
        );
        assert_eq!(
            check(None, Some(&header), path, now),
            Err(Refusal::NoSecret)
        );
        assert_eq!(check(Some(&key), None, path, now), Err(Refusal::Unsigned));
        assert_eq!(
            check(Some(&key), Some("12.zz"), path, now),
            Err(Refusal::Unsigned)
        );
    }
}
