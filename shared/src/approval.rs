//! What an approval signs. The approver's passkey signs a WebAuthn challenge derived from the
//! request and a digest of what it approves (the change's content, where its devices are, and
//! the request's credential), so a stored assertion proves, on its own, which request and which
//! exact content it approved: recompute the challenge, compare it with the one in the signed
//! client data, check the signature with the public key.

use sha2::{Digest, Sha256};

use crate::enforcement::Enforcement;
use crate::trail::hex;

/// Separates these hashes from every other SHA-256 the product computes.
const DIGEST_DOMAIN: &str = "changeaudit approved content v2";
const CHALLENGE_DOMAIN: &[u8] = b"changeaudit approval challenge v1\0";
/// Marks a digest as this version's. Version 1 digests (bare hex) covered the change's ID,
/// window, device IDs and names, and script only; signatures over them still verify, since a
/// signature is checked against the digest it signed, as the trail recorded it.
const DIGEST_VERSION: &str = "v2:";
/// A change whose sessions are held to its script also covers how (version 2 and the
/// setting); one whose sessions run anything keeps its version 2 digest.
const DIGEST_VERSION_ENFORCED: &str = "v3:";

/// A device as an approval covers it: where the session goes, not only its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceTarget<'a> {
    pub id: i64,
    pub name: &'a str,
    pub host: &'a str,
    pub port: u16,
    /// The pinned host key's fingerprint (`SHA256:…`).
    pub host_key_fingerprint: &'a str,
}

/// What an approval of a request covers: the change's ID, window, devices (with their
/// targets) and script, and the credential the request runs it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovedContent<'a> {
    pub id: &'a str,
    /// Milliseconds since the Unix epoch, as stored.
    pub start_at_ms: i64,
    pub due_at_ms: i64,
    /// The change's devices, in its order.
    pub devices: Vec<DeviceTarget<'a>>,
    pub script: &'a str,
    /// The request's credential: the device it opens and the account it signs in as.
    pub credential_device_id: i64,
    pub account: &'a str,
    /// How its sessions are held to the script (the stricter of its group's setting and its
    /// own), when they are.
    pub enforcement: Option<Enforcement>,
}

impl ApprovedContent<'_> {
    /// `v2:` and the hex SHA-256 over an unambiguous encoding: each part is length-prefixed,
    /// so no two different contents encode alike.
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
        for device in &self.devices {
            part(&device.id.to_be_bytes());
            part(device.name.as_bytes());
            part(device.host.as_bytes());
            part(&device.port.to_be_bytes());
            part(device.host_key_fingerprint.as_bytes());
        }
        part(self.script.as_bytes());
        part(&self.credential_device_id.to_be_bytes());
        part(self.account.as_bytes());
        let version = match self.enforcement {
            Some(enforcement) => {
                part(enforcement.as_str().as_bytes());
                DIGEST_VERSION_ENFORCED
            }
            None => DIGEST_VERSION,
        };
        format!("{version}{}", hex(&hash.finalize()))
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

    fn device(id: i64, name: &'static str) -> DeviceTarget<'static> {
        DeviceTarget {
            id,
            name,
            host: "10.0.0.1",
            port: 22,
            host_key_fingerprint: "SHA256:abc",
        }
    }

    fn content() -> ApprovedContent<'static> {
        ApprovedContent {
            id: "CHG-1",
            start_at_ms: 1_000,
            due_at_ms: 2_000,
            devices: vec![device(1, "db-1"), device(2, "db-2")],
            script: "echo one\necho two\n",
            credential_device_id: 1,
            account: "postgres",
            enforcement: None,
        }
    }

    #[test]
    fn every_part_of_the_content_changes_the_digest() {
        let base = content().digest();
        assert!(base.starts_with("v2:"), "{base}");
        assert_eq!(base.len(), 3 + 64);
        assert_eq!(base, content().digest());
        let moved = |edit: fn(&mut DeviceTarget<'static>)| {
            let mut devices = content().devices;
            edit(&mut devices[0]);
            ApprovedContent {
                devices,
                ..content()
            }
        };
        let variants = [
            ApprovedContent {
                id: "CHG-2",
                ..content()
            },
            ApprovedContent {
                start_at_ms: 1_001,
                ..content()
            },
            ApprovedContent {
                due_at_ms: 2_001,
                ..content()
            },
            ApprovedContent {
                devices: vec![device(2, "db-2"), device(1, "db-1")],
                ..content()
            },
            ApprovedContent {
                devices: vec![device(1, "db-1")],
                ..content()
            },
            moved(|d| d.name = "db-9"),
            moved(|d| d.host = "10.0.0.2"),
            moved(|d| d.port = 2222),
            moved(|d| d.host_key_fingerprint = "SHA256:abd"),
            ApprovedContent {
                script: "echo one\n",
                ..content()
            },
            ApprovedContent {
                credential_device_id: 2,
                ..content()
            },
            ApprovedContent {
                account: "root",
                ..content()
            },
            ApprovedContent {
                enforcement: Some(Enforcement::ScriptOnly),
                ..content()
            },
            ApprovedContent {
                enforcement: Some(Enforcement::ScriptOnlyInOrder),
                ..content()
            },
        ];
        let mut seen = std::collections::HashSet::new();
        for variant in variants {
            assert_ne!(variant.digest(), base, "{variant:?}");
            assert!(seen.insert(variant.digest()), "{variant:?}");
        }
        // A change without its own enforcement keeps the version 2 digest its approvals signed.
        assert!(base.starts_with("v2:"));
        let enforced = ApprovedContent {
            enforcement: Some(Enforcement::ScriptOnly),
            ..content()
        };
        assert!(enforced.digest().starts_with("v3:"));
    }

    #[test]
    fn parts_cannot_run_into_one_another() {
        let a = ApprovedContent {
            script: "c",
            account: "ab",
            ..content()
        };
        let b = ApprovedContent {
            script: "ca",
            account: "b",
            ..content()
        };
        assert_ne!(a.digest(), b.digest());
        let mut c = content();
        c.devices[0].host = "10.0.0.1:2";
        c.devices[0].host_key_fingerprint = "2SHA256:abc";
        assert_ne!(c.digest(), content().digest());
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
                &ApprovedContent {
                    script: "x",
                    ..content()
                }
                .digest(),
                b"nonce"
            )
        );
        assert_ne!(base, challenge(7, &digest, b"other"));
    }

    #[test]
    fn a_version_1_digest_still_makes_the_challenge_it_made() {
        // A bare-hex digest of the first version, as older trails hold it: its challenge is
        // the same function of the same text, so the signatures over it still verify.
        let v1 = "4f9c2a0e1b7d3c5a6e8f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5";
        let expected = {
            let mut hash = Sha256::new();
            hash.update(CHALLENGE_DOMAIN);
            hash.update(7_i64.to_be_bytes());
            hash.update((v1.len() as u64).to_be_bytes());
            hash.update(v1.as_bytes());
            hash.update(b"nonce");
            <[u8; 32]>::from(hash.finalize())
        };
        assert_eq!(challenge(7, v1, b"nonce"), expected);
    }
}
