//! Passkeys (WebAuthn through webauthn-rs): the relying party, each person's registered keys,
//! and the ceremonies between a start and a finish. `handlers` serves the profile's passkeys and
//! signing in with one; approvals sign with them in `approvals`.

pub mod ceremony;
mod decoy;
pub mod handlers;
mod relying_party;
mod store;

pub use relying_party::{RelyingParty, RelyingPartyError, Signed};
pub use store::{StoredPasskey, passkeys_of, touch};
