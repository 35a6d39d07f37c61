//! An approval's passkey assertion as stored: everything needed to check it again later without
//! the database. The check recomputes the challenge from the request and the change digest,
//! finds it in the signed client data, checks the relying party and the user-verified flag, and
//! verifies the signature over the authenticator data and the client data's hash with the public
//! key. That key is the one the chained `passkey.registered` event recorded, which is where an
//! offline check should take it from: a rewritten row could bring a key of its own.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use changeaudit_shared::approval;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use webauthn_rs::prelude::COSEKey;

use crate::passkeys::Signed;

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
    pub public_key: COSEKey,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssertionError {
    #[error("{0} is not valid base64url")]
    Encoding(&'static str),
    #[error("the client data is not the JSON of a WebAuthn assertion")]
    ClientData,
    #[error("the signed challenge is not the one of request {request_id} and this change")]
    Challenge { request_id: i64 },
    #[error("the assertion was made for another site than {0}")]
    RelyingParty(String),
    #[error("the authenticator did not verify the user")]
    NotVerified,
    #[error("the signature does not verify with the passkey's public key")]
    Signature,
}

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
    pub fn new(
        rp_id: &str,
        request_id: i64,
        change_digest: &str,
        nonce: &[u8],
        signed: &Signed,
        public_key: &COSEKey,
    ) -> StoredAssertion {
        StoredAssertion {
            request_id,
            rp_id: rp_id.to_owned(),
            change_digest: change_digest.to_owned(),
            nonce: URL_SAFE_NO_PAD.encode(nonce),
            credential_id: URL_SAFE_NO_PAD.encode(&signed.credential_id),
            authenticator_data: URL_SAFE_NO_PAD.encode(&signed.authenticator_data),
            client_data_json: URL_SAFE_NO_PAD.encode(&signed.client_data_json),
            signature: URL_SAFE_NO_PAD.encode(&signed.signature),
            public_key: public_key.clone(),
        }
    }

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
        let origin_host = url::Url::parse(&client.origin)
            .ok()
            .and_then(|origin| origin.host_str().map(str::to_owned));
        let rp_hash = Sha256::digest(self.rp_id.as_bytes());
        if origin_host.as_deref() != Some(self.rp_id.as_str())
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
        match self.public_key.verify_signature(&signature, &message) {
            Ok(true) => Ok(()),
            _ => Err(AssertionError::Signature),
        }
    }
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
    registered: Option<(&str, &serde_json::Value)>,
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
    if serde_json::to_value(&stored.public_key).unwrap_or_default() != *key {
        return Err(
            "its approval carries another public key than its passkey registered".to_owned(),
        );
    }
    stored
        .verify()
        .map_err(|error| format!("its approval's passkey signature fails: {error}"))
}
