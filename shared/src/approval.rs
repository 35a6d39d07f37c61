//! What an approval signs. The approver's passkey signs a WebAuthn challenge derived from the
//! request and a digest of the change's content, so a stored assertion proves, on its own, which
//! request and which exact change it approved: recompute the challenge, compare it with the one
//! in the signed client data, check the signature with the public key.

use sha2::{Digest, Sha256};

use crate::trail::hex;

/// Separates these hashes from every other SHA-256 the product computes.
const DIGEST_DOMAIN: &str = "changeaudit change content v1";
const CHALLENGE_DOMAIN: &[u8] = b"changeaudit approval challenge v1\0";

/// The parts of a change an approval covers: its ID, window, devices and script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeContent<'a> {
    pub id: &'a str,
    /// Milliseconds since the Unix epoch, as stored.
    pub start_at_ms: i64,
    pub due_at_ms: i64,
    /// Device IDs and names in the change's order.
    pub devices: Vec<(i64, &'a str)>,
    pub script: &'a str,
}

impl ChangeContent<'_> {
    /// Hex SHA-256 over an unambiguous encoding: each part is length-prefixed, so no two
    /// different changes encode alike.
    pub fn digest(&self) -> String {
        let mut hash = Sha256::new();
        let mut part = |bytes: &[u8]| {
            hash.update((bytes.len() as u64).to_be_bytes());
            hash.update(bytes);
        };
        part(DIGEST_DOMAIN.as_bytes());
        part(self.id.as_bytes());
        part(&self.start_at_ms.to_be_bytes());
        part(&self.due_at_ms.to_be_bytes());
        part(&(self.devices.len() as u64).to_be_bytes());
        for (id, name) in &self.devices {
            part(&id.to_be_bytes());
            part(name.as_bytes());
        }
        part(self.script.as_bytes());
        hex(&hash.finalize())
    }
}

/// The WebAuthn challenge for approving request `request_id` of the change whose digest is
/// `change_digest`; `nonce` makes every ceremony's challenge new.
pub fn challenge(request_id: i64, change_digest: &str, nonce: &[u8]) -> [u8; 32] {
    let mut hash = Sha256::new();
    hash.update(CHALLENGE_DOMAIN);
    hash.update(request_id.to_be_bytes());
    hash.update((change_digest.len() as u64).to_be_bytes());
    hash.update(change_digest.as_bytes());
    hash.update(nonce);
    hash.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content() -> ChangeContent<'static> {
        ChangeContent {
            id: "CHG-1",
            start_at_ms: 1_000,
            due_at_ms: 2_000,
            devices: vec![(1, "db-1"), (2, "db-2")],
            script: "echo one\necho two\n",
        }
    }

    #[test]
    fn every_part_of_the_content_changes_the_digest() {
        let base = content().digest();
        assert_eq!(base.len(), 64);
        assert_eq!(base, content().digest());
        let variants = [
            ChangeContent {
                id: "CHG-2",
                ..content()
            },
            ChangeContent {
                start_at_ms: 1_001,
                ..content()
            },
            ChangeContent {
                due_at_ms: 2_001,
                ..content()
            },
            ChangeContent {
                devices: vec![(2, "db-2"), (1, "db-1")],
                ..content()
            },
            ChangeContent {
                devices: vec![(1, "db-1")],
                ..content()
            },
            ChangeContent {
                script: "echo one\n",
                ..content()
            },
        ];
        for variant in variants {
            assert_ne!(variant.digest(), base, "{variant:?}");
        }
    }

    #[test]
    fn parts_cannot_run_into_one_another() {
        let a = ChangeContent {
            devices: vec![(1, "ab")],
            script: "c",
            ..content()
        };
        let b = ChangeContent {
            devices: vec![(1, "a")],
            script: "bc",
            ..content()
        };
        assert_ne!(a.digest(), b.digest());
    }

    #[test]
    fn the_challenge_binds_request_digest_and_nonce() {
        let digest = content().digest();
        let base = challenge(7, &digest, b"nonce");
        assert_eq!(base, challenge(7, &digest, b"nonce"));
        assert_ne!(base, challenge(8, &digest, b"nonce"));
        assert_ne!(
            base,
            challenge(
                7,
                &ChangeContent {
                    script: "x",
                    ..content()
                }
                .digest(),
                b"nonce"
            )
        );
        assert_ne!(base, challenge(7, &digest, b"other"));
    }
}
