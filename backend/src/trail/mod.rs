//! The trail's proof on top of the hash chain (`audit`): a Merkle tree over every event
//! (RFC 6962), checkpoints of it signed with the trail's Ed25519 key, exports, and verification
//! of an export with nothing but the public key.

pub mod activity;
pub mod audit;
pub mod checkpoints;
pub mod evidence;
pub mod export;
pub mod handlers;
pub mod key;
pub mod proofs;
pub mod rotation;
pub mod siem;
pub mod verify;
