//! The relying party: who passkeys are registered with (the host people reach changeaudit on)
//! and the checks of every registration and assertion.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use webauthn_rs::prelude::{
    AuthenticationResult, CreationChallengeResponse, CredentialID, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, Url, Uuid, WebauthnError,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};

#[derive(Debug, thiserror::Error)]
pub enum RelyingPartyError {
    #[error("public_url (CHANGEAUDIT_PUBLIC_URL): `{0}` is not a URL")]
    NotAUrl(String),
    #[error(
        "public_url (CHANGEAUDIT_PUBLIC_URL): passkeys need a host name, and `{0}` names none \
         (an IP address cannot be a WebAuthn relying party)"
    )]
    NoHostName(String),
    #[error("public_url (CHANGEAUDIT_PUBLIC_URL): {0}")]
    Refused(WebauthnError),
}

/// A checked assertion: whose passkey signed, and what.
#[derive(Debug, Clone)]
pub struct Signed {
    pub credential_id: Vec<u8>,
    pub authenticator_data: Vec<u8>,
    pub client_data_json: Vec<u8>,
    pub signature: Vec<u8>,
}

pub struct RelyingParty {
    webauthn: Webauthn,
    id: String,
}

impl RelyingParty {
    /// The relying party of `public_url`; without one, `localhost` on any port, which is where a
    /// server without a public address is reached from its own machine.
    pub fn new(public_url: Option<&str>) -> Result<RelyingParty, RelyingPartyError> {
        let text = public_url.unwrap_or("http://localhost");
        let origin = Url::parse(text).map_err(|_| RelyingPartyError::NotAUrl(text.to_owned()))?;
        let Some(url::Host::Domain(host)) = origin.host() else {
            return Err(RelyingPartyError::NoHostName(text.to_owned()));
        };
        let host = host.to_owned();
        let webauthn = WebauthnBuilder::new(&host, &origin)
            .map_err(RelyingPartyError::Refused)?
            .rp_name("changeaudit")
            .allow_any_port(public_url.is_none())
            .build()
            .map_err(RelyingPartyError::Refused)?;
        Ok(RelyingParty { webauthn, id: host })
    }

    /// The relying party ID: the host name passkeys are bound to.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn start_registration(
        &self,
        handle: Uuid,
        username: &str,
        display_name: &str,
        existing: Vec<CredentialID>,
    ) -> Result<(CreationChallengeResponse, PasskeyRegistration), WebauthnError> {
        self.webauthn.start_passkey_registration(
            handle,
            username,
            display_name,
            Some(existing).filter(|ids| !ids.is_empty()),
        )
    }

    pub fn finish_registration(
        &self,
        credential: &RegisterPublicKeyCredential,
        state: &PasskeyRegistration,
    ) -> Result<Passkey, WebauthnError> {
        self.webauthn.finish_passkey_registration(credential, state)
    }

    /// Options to sign `challenge` with one of `passkeys`, user verification required. webauthn-rs
    /// draws its own random challenges; an approval's challenge must instead be derived from the
    /// request and the change (see `changeaudit_shared::approval`), so it is put in place of the
    /// random one, in the options and in the state the answer is checked against.
    pub fn start_assertion(
        &self,
        passkeys: &[Passkey],
        challenge: Option<&[u8]>,
    ) -> Result<(RequestChallengeResponse, PasskeyAuthentication), WebauthnError> {
        let (mut options, state) = self.webauthn.start_passkey_authentication(passkeys)?;
        let Some(challenge) = challenge else {
            return Ok((options, state));
        };
        options.public_key.challenge = challenge.to_vec();
        let mut value =
            serde_json::to_value(&state).map_err(|_| WebauthnError::InvalidClientDataType)?;
        let slot = value
            .get_mut("ast")
            .and_then(|ast| ast.get_mut("challenge"))
            .ok_or(WebauthnError::InvalidClientDataType)?;
        *slot = Value::String(URL_SAFE_NO_PAD.encode(challenge));
        let state =
            serde_json::from_value(value).map_err(|_| WebauthnError::InvalidClientDataType)?;
        Ok((options, state))
    }

    /// Checks `credential` against the ceremony's `state`: the challenge, the origin, the
    /// relying party, user verification, the signature and the counter. The result tells the
    /// caller how to update the stored passkey (`Passkey::update_credential`).
    pub fn finish_assertion(
        &self,
        credential: &PublicKeyCredential,
        state: &PasskeyAuthentication,
    ) -> Result<(Signed, AuthenticationResult), WebauthnError> {
        let result = self
            .webauthn
            .finish_passkey_authentication(credential, state)?;
        let signed = Signed {
            credential_id: credential.raw_id.clone(),
            authenticator_data: credential.response.authenticator_data.clone(),
            client_data_json: credential.response.client_data_json.clone(),
            signature: credential.response.signature.clone(),
        };
        Ok((signed, result))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_of_the_public_url_is_the_relying_party() {
        assert!(RelyingParty::new(Some("https://changeaudit.example.com")).is_ok());
        assert!(RelyingParty::new(None).is_ok());
        let ip = RelyingParty::new(Some("http://127.0.0.1:8080"))
            .err()
            .map(|e| e.to_string());
        assert!(ip.is_some_and(|message| message.contains("host name")));
    }
}
