//! An approval's passkey assertion as it is stored, made from a signature the relying party
//! has just accepted. Its check, the one an auditor runs later, is the shared verifier's
//! (`changeaudit_shared::verify::assertion`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
pub use changeaudit_shared::verify::assertion::{StoredAssertion, check_vote};
use webauthn_rs::prelude::COSEKey;

use crate::passkeys::Signed;

/// The assertion to store for `signed`, made with the passkey whose key is `public_key`.
pub fn stored(
    rp_id: &str,
    request_id: i64,
    change_digest: &str,
    nonce: &[u8],
    signed: &Signed,
    public_key: &COSEKey,
) -> serde_json::Result<StoredAssertion> {
    Ok(StoredAssertion {
        request_id,
        rp_id: rp_id.to_owned(),
        change_digest: change_digest.to_owned(),
        nonce: URL_SAFE_NO_PAD.encode(nonce),
        credential_id: URL_SAFE_NO_PAD.encode(&signed.credential_id),
        authenticator_data: URL_SAFE_NO_PAD.encode(&signed.authenticator_data),
        client_data_json: URL_SAFE_NO_PAD.encode(&signed.client_data_json),
        signature: URL_SAFE_NO_PAD.encode(&signed.signature),
        public_key: serde_json::to_value(public_key)?,
    })
}
