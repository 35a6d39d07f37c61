//! Passkeys through the browser's WebAuthn API (`passkey.js`): the server's ceremony options in,
//! the authenticator's answer out, both as JSON.

use changeaudit_shared::api::requests::CeremonyStart;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/passkey.js")]
extern "C" {
    #[wasm_bindgen(catch, js_name = createPasskey)]
    async fn create_passkey(options: String) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(catch, js_name = signWithPasskey)]
    async fn sign_with_passkey(options: String) -> Result<JsValue, JsValue>;
}

fn answer(result: Result<JsValue, JsValue>) -> Result<serde_json::Value, String> {
    let text = result
        .map_err(|error| {
            // The browser says why: the person cancelled, no authenticator, timed out.
            let message = js_sys::Reflect::get(&error, &JsValue::from_str("message"))
                .ok()
                .and_then(|message| message.as_string())
                .unwrap_or_else(|| "the passkey was not used".to_owned());
            format!("The passkey was not used: {message}")
        })?
        .as_string()
        .ok_or("The browser gave no answer.")?;
    serde_json::from_str(&text)
        .map_err(|error| format!("The browser's answer is unreadable: {error}"))
}

/// Makes a new passkey with the options of a registration ceremony.
pub async fn create(start: &CeremonyStart) -> Result<serde_json::Value, String> {
    answer(create_passkey(start.options.to_string()).await)
}

/// Signs the challenge of an assertion ceremony with one of the person's passkeys.
pub async fn sign(start: &CeremonyStart) -> Result<serde_json::Value, String> {
    answer(sign_with_passkey(start.options.to_string()).await)
}
