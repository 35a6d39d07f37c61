//! The answer to a passkey challenge for a username with no passkey (or no account): shaped as
//! a real one, with a credential ID of its own that stays the same for that username, so the
//! challenge route does not tell who exists or who has a passkey. Its ceremony is kept nowhere,
//! so its answer fails as a wrong signature does.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use changeaudit_shared::api::requests::CeremonyStart;
use sha2::{Digest, Sha256};
use webauthn_rs::prelude::Passkey;

use super::RelyingParty;
use crate::trail::key::TrailKey;

/// A passkey as webauthn-rs keeps one, its credential ID to be replaced: only the ID reaches
/// the challenge's answer.
const TEMPLATE: &str = r#"{"cred":{"cred_id":"","cred":{"type_":"ES256","key":{"EC_EC2":{"curve":"SECP256R1","x":"anL87sEUbnzo2qEApSGj1v0XUGROI52OrmwCwG-5xhc","y":"3M4cuuNfMD3E0CYWw0JeMT0NQ0hp_amV8Xq1ovavO9s"}}},"counter":0,"transports":null,"user_verified":true,"backup_eligible":false,"backup_state":false,"registration_policy":"required","extensions":{"cred_protect":"Ignored","hmac_create_secret":"NotRequested","appid":"NotRequested","cred_props":"Ignored"},"attestation":{"data":"None","metadata":"None"},"attestation_format":"none"}}"#;

/// The credential ID `username`'s decoy names: the same every time, and unforeseeable without
/// the server's key (from its deterministic Ed25519 signature).
fn credential_id(key: &TrailKey, username: &str) -> String {
    let signed = key.sign(&format!(
        "changeaudit passkey decoy\n{}",
        username.to_lowercase()
    ));
    URL_SAFE_NO_PAD.encode(Sha256::digest(signed.as_bytes()))
}

/// A challenge's answer for `username`, who has no passkey to sign with.
pub fn challenge(
    relying_party: &RelyingParty,
    key: &TrailKey,
    username: &str,
) -> Result<CeremonyStart, String> {
    let mut template: serde_json::Value =
        serde_json::from_str(TEMPLATE).map_err(|error| error.to_string())?;
    template["cred"]["cred_id"] = credential_id(key, username).into();
    let decoy: Passkey = serde_json::from_value(template).map_err(|error| error.to_string())?;
    let (options, _) = relying_party
        .start_assertion(&[decoy], None)
        .map_err(|error| error.to_string())?;
    Ok(CeremonyStart {
        ceremony: URL_SAFE_NO_PAD.encode(crate::random::bytes::<18>()),
        options: serde_json::to_value(options).map_err(|error| error.to_string())?,
    })
}
