// Passkeys in the browser: the server's options (JSON, binary fields in base64url) to
// navigator.credentials, and the authenticator's answer back to JSON of the same kind.

const bytes = (text) => {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const padded = base64 + "===".slice((base64.length + 3) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
};

const text = (buffer) =>
  btoa(String.fromCharCode(...new Uint8Array(buffer)))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");

const withIds = (list) => (list || []).map((c) => ({ ...c, id: bytes(c.id) }));

export async function createPasskey(optionsJson) {
  const options = JSON.parse(optionsJson).publicKey;
  options.challenge = bytes(options.challenge);
  options.user.id = bytes(options.user.id);
  options.excludeCredentials = withIds(options.excludeCredentials);
  const credential = await navigator.credentials.create({ publicKey: options });
  return JSON.stringify({
    id: credential.id,
    rawId: text(credential.rawId),
    type: credential.type,
    extensions: credential.getClientExtensionResults(),
    response: {
      attestationObject: text(credential.response.attestationObject),
      clientDataJSON: text(credential.response.clientDataJSON),
      transports: credential.response.getTransports ? credential.response.getTransports() : [],
    },
  });
}

export async function signWithPasskey(optionsJson) {
  const options = JSON.parse(optionsJson).publicKey;
  options.challenge = bytes(options.challenge);
  options.allowCredentials = withIds(options.allowCredentials);
  const credential = await navigator.credentials.get({ publicKey: options });
  const response = credential.response;
  return JSON.stringify({
    id: credential.id,
    rawId: text(credential.rawId),
    type: credential.type,
    extensions: credential.getClientExtensionResults(),
    response: {
      authenticatorData: text(response.authenticatorData),
      clientDataJSON: text(response.clientDataJSON),
      signature: text(response.signature),
      userHandle: response.userHandle ? text(response.userHandle) : null,
    },
  });
}
