//! An approval's passkey assertion as stored: everything needed to check it again later without
//! the database. The check recomputes the challenge from the request and the change digest,
//! finds it in the signed client data, checks the relying party and the user-verified flag, and
//! verifies the signature over the authenticator data and the client data's hash with the public
//! key. That key is the one the chained `passkey.registered` event recorded, which is where an
//! offline check takes it from: a rewritten row could bring a key of its own.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::cose;
use crate::approval;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredAssertion {
    pub request_id: i64,
    /// The relying party the passkey belongs to (the host of changeaudit's public URL).
    pub rp_id: String,
    /// Hex SHA-256 of the change content approved.
    pub change_digest: String,
    /// The rest are base64url.
    pub nonce: String,
    pub credential_id: String,
    pub authenticator_data: String,
    pub client_data_json: String,
    pub signature: String,
    /// The passkey's public key as a COSE key (webauthn-rs's JSON form).
    pub public_key: Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssertionError {
    Encoding(&'static str),
    ClientData,
    Challenge { request_id: i64 },
    RelyingParty(String),
    NotVerified,
    Signature(String),
}

impl std::fmt::Display for AssertionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AssertionError::Encoding(name) => write!(f, "{name} is not valid base64url"),
            AssertionError::ClientData => {
                f.write_str("the client data is not the JSON of a WebAuthn assertion")
            }
            AssertionError::Challenge { request_id } => write!(
                f,
                "the signed challenge is not the one of request {request_id} and this change"
            ),
            AssertionError::RelyingParty(rp) => {
                write!(f, "the assertion was made for another site than {rp}")
            }
            AssertionError::NotVerified => f.write_str("the authenticator did not verify the user"),
            AssertionError::Signature(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for AssertionError {}

#[derive(Deserialize)]
struct ClientData {
    #[serde(rename = "type")]
    kind: String,
    challenge: String,
    origin: String,
}

/// User present and user verified, in the authenticator data's flags byte.
const UP_UV: u8 = 0x01 | 0x04;

impl StoredAssertion {
    /// Checks the assertion on its own terms.
    pub fn verify(&self) -> Result<(), AssertionError> {
        let bytes = |name: &'static str, text: &str| {
            URL_SAFE_NO_PAD
                .decode(text)
                .map_err(|_| AssertionError::Encoding(name))
        };
        let nonce = bytes("nonce", &self.nonce)?;
        let authenticator_data = bytes("authenticator_data", &self.authenticator_data)?;
        let client_data_json = bytes("client_data_json", &self.client_data_json)?;
        let signature = bytes("signature", &self.signature)?;

        let client: ClientData =
            serde_json::from_slice(&client_data_json).map_err(|_| AssertionError::ClientData)?;
        if client.kind != "webauthn.get" {
            return Err(AssertionError::ClientData);
        }
        let expected = approval::challenge(self.request_id, &self.change_digest, &nonce);
        let signed = URL_SAFE_NO_PAD
            .decode(client.challenge.trim_end_matches('='))
            .map_err(|_| AssertionError::ClientData)?;
        if signed != expected {
            return Err(AssertionError::Challenge {
                request_id: self.request_id,
            });
        }
        let rp_hash = Sha256::digest(self.rp_id.as_bytes());
        if origin_host(&client.origin).as_deref() != Some(self.rp_id.as_str())
            || authenticator_data.get(..32) != Some(rp_hash.as_slice())
        {
            return Err(AssertionError::RelyingParty(self.rp_id.clone()));
        }
        // Flags sit after the 32-byte relying-party hash.
        if authenticator_data
            .get(32)
            .is_none_or(|flags| flags & UP_UV != UP_UV)
        {
            return Err(AssertionError::NotVerified);
        }
        let mut message = authenticator_data;
        message.extend_from_slice(&Sha256::digest(&client_data_json));
        cose::verify(&self.public_key, &message, &signature).map_err(AssertionError::Signature)
    }
}

/// The host of a web origin (`https://host[:port]`), lowercase; `None` for anything else (a
/// user part, a port that is not a number, a path, query or fragment).
fn origin_host(origin: &str) -> Option<String> {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))?;
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains(['@', '/', '?', '#', '[']) {
        return None;
    }
    let host = match authority.split_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => host,
        Some(_) => return None,
        None => authority,
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// A vote's assertion checked as the trail records it: for this vote's request and change
/// digest, by a passkey that the voter registered, with the key that registration recorded,
/// and its signature holding. `registered` is the voter name and the public key of the
/// `passkey.registered` event of the assertion's credential, when there is one. Answers why
/// it does not hold.
pub fn check_vote(
    stored: &StoredAssertion,
    request_id: i64,
    change_digest: &str,
    voter: &str,
    registered: Option<(&str, &Value)>,
) -> Result<(), String> {
    if stored.request_id != request_id {
        return Err(format!(
            "its approval was signed for request {}, not this vote's request {request_id}",
            stored.request_id
        ));
    }
    if stored.change_digest != change_digest {
        return Err("its approval was signed for another content of the change".to_owned());
    }
    let Some((owner, key)) = registered else {
        return Err("its approval was signed with a passkey the trail never registered".to_owned());
    };
    if owner != voter {
        return Err(format!(
            "its approval was signed with {owner}'s passkey, not {voter}'s"
        ));
    }
    if stored.public_key != *key {
        return Err(
            "its approval carries another public key than its passkey registered".to_owned(),
        );
    }
    stored
        .verify()
        .map_err(|error| format!("its approval's passkey signature fails: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_of_an_origin() {
        let host = |origin| origin_host(origin);
        assert_eq!(host("https://ca.example").as_deref(), Some("ca.example"));
        assert_eq!(host("http://localhost:8080").as_deref(), Some("localhost"));
        assert_eq!(host("https://ca.example/").as_deref(), Some("ca.example"));
        assert_eq!(host("https://CA.Example").as_deref(), Some("ca.example"));
        for refused in [
            "ftp://ca.example",
            "https://",
            "https://user@evil.example",
            "https://ca.example:x@evil.example",
            "https://ca.example:notaport",
            "https://ca.example/path",
            "https://ca.example?x",
        ] {
            assert_eq!(host(refused), None, "{refused}");
        }
    }
}
