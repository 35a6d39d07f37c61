//! The credential vault's cryptography: secrets sealed at rest with XChaCha20-Poly1305 under a
//! master key that lives outside the database (a 0600 file in the data folder, or given by
//! configuration). A sealed secret names the key that sealed it and is bound to its context
//! (e.g. the credential it belongs to), so it cannot be moved to another row and still open.

pub mod rotation;

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

use crate::random;
use secrecy::{ExposeSecret, SecretString};

const FORMAT: &str = "v1";
const NONCE_BYTES: usize = 24;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("master key file {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("master key file {}: {reason}", path.display())]
    BadKeyFile { path: PathBuf, reason: String },
    #[error(
        "master key file {}: readable by others (mode {mode:o}); run `chmod 600` on it",
        path.display()
    )]
    TooOpen { path: PathBuf, mode: u32 },
    #[error("the master key (CHANGEAUDIT_MASTER_KEY) must be 32 bytes in base64")]
    BadConfiguredKey,
    #[error("this secret was sealed under master key {found}, not the current key {expected}")]
    WrongKey { expected: String, found: String },
    #[error("a sealed secret is damaged or was moved from where it belongs")]
    Damaged,
}

/// The key that seals every stored secret.
pub struct MasterKey {
    cipher: XChaCha20Poly1305,
    id: String,
    /// Derived from the key, for `recognise`: never used to seal.
    recognition: [u8; 32],
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey {{ id: {}, key: [redacted] }}", self.id)
    }
}

impl MasterKey {
    fn from_bytes(bytes: &[u8; 32]) -> MasterKey {
        // The id names the key without revealing it, so a sealed secret says which key opens it.
        let digest = Sha256::new()
            .chain_update(b"changeaudit master key id\0")
            .chain_update(bytes)
            .finalize();
        let id = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        let recognition = Sha256::new()
            .chain_update(b"changeaudit recognition key\0")
            .chain_update(bytes)
            .finalize()
            .into();
        MasterKey {
            cipher: XChaCha20Poly1305::new(bytes.into()),
            id,
            recognition,
        }
    }

    pub fn generate() -> MasterKey {
        MasterKey::from_bytes(&random::bytes::<32>())
    }

    /// A key given by configuration, as 32 bytes in base64.
    pub fn from_base64(text: &SecretString) -> Result<MasterKey, VaultError> {
        let bytes = STANDARD
            .decode(text.expose_secret().trim())
            .map_err(|_| VaultError::BadConfiguredKey)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| VaultError::BadConfiguredKey)?;
        Ok(MasterKey::from_bytes(&bytes))
    }

    /// Reads the key file, or creates it (mode 0600) with a new key when it does not exist.
    /// Answers the key and whether it was created.
    pub fn load_or_create(path: &Path) -> Result<(MasterKey, bool), VaultError> {
        if path.exists() {
            Ok((MasterKey::load(path)?, false))
        } else {
            Ok((MasterKey::create(path)?, true))
        }
    }

    /// Reads an existing key file, refusing one that others can read.
    pub fn load(path: &Path) -> Result<MasterKey, VaultError> {
        let text = std::fs::read_to_string(path).map_err(|source| VaultError::Io {
            path: path.to_owned(),
            source,
        })?;
        refuse_if_open(path)?;
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| VaultError::BadKeyFile {
                path: path.to_owned(),
                reason: "not base64".to_owned(),
            })?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| VaultError::BadKeyFile {
            path: path.to_owned(),
            reason: "not a 32-byte key".to_owned(),
        })?;
        Ok(MasterKey::from_bytes(&bytes))
    }

    /// Writes a new random key to `path` (mode 0600), which must not exist yet.
    pub fn create(path: &Path) -> Result<MasterKey, VaultError> {
        let bytes = random::bytes::<32>();
        write_private(path, &format!("{}\n", STANDARD.encode(bytes))).map_err(|source| {
            VaultError::Io {
                path: path.to_owned(),
                source,
            }
        })?;
        Ok(MasterKey::from_bytes(&bytes))
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// A keyed digest (HMAC-SHA-256) of `message` for `purpose`: how the server recognises a
    /// value it handed out earlier (a known browser's cookie) without storing it. Another
    /// master key, or another purpose, gives another digest.
    pub fn recognise(&self, purpose: &str, message: &[u8]) -> [u8; 32] {
        use hmac::{Hmac, Mac};
        let Ok(mut mac) = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(&self.recognition) else {
            // HMAC takes a key of any length; a 32-byte key cannot be refused.
            return [0; 32];
        };
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(message);
        mac.finalize().into_bytes().into()
    }

    /// Seals `secret` for `context`: `v1:<key id>:<base64 of nonce and ciphertext>`.
    pub fn seal(&self, secret: &SecretString, context: &str) -> Result<String, VaultError> {
        let nonce = random::bytes::<NONCE_BYTES>();
        let sealed = self
            .cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: secret.expose_secret().as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| VaultError::Damaged)?;
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&sealed);
        Ok(format!("{FORMAT}:{}:{}", self.id, STANDARD.encode(blob)))
    }

    /// Opens a secret sealed for `context` under this key.
    pub fn open(&self, sealed: &str, context: &str) -> Result<SecretString, VaultError> {
        let mut parts = sealed.splitn(3, ':');
        let (Some(FORMAT), Some(key_id), Some(blob)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(VaultError::Damaged);
        };
        if key_id != self.id {
            return Err(VaultError::WrongKey {
                expected: self.id.clone(),
                found: key_id.to_owned(),
            });
        }
        let blob = STANDARD.decode(blob).map_err(|_| VaultError::Damaged)?;
        if blob.len() < NONCE_BYTES {
            return Err(VaultError::Damaged);
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_BYTES);
        let nonce = XNonce::try_from(nonce).map_err(|_| VaultError::Damaged)?;
        let plain = self
            .cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| VaultError::Damaged)?;
        String::from_utf8(plain)
            .map(SecretString::from)
            .map_err(|_| VaultError::Damaged)
    }
}

/// The id of the key a sealed secret names, to find secrets still under an old key.
pub fn sealed_key_id(sealed: &str) -> Option<&str> {
    let mut parts = sealed.splitn(3, ':');
    match (parts.next(), parts.next()) {
        (Some(FORMAT), Some(id)) => Some(id),
        _ => None,
    }
}

/// Creates `path` readable and writable by its owner only, refusing to replace a file.
pub(crate) fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(unix)]
pub(crate) fn refuse_if_open(path: &Path) -> Result<(), VaultError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|source| VaultError::Io {
            path: path.to_owned(),
            source,
        })?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(VaultError::TooOpen {
            path: path.to_owned(),
            mode: mode & 0o777,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
pub(crate) fn refuse_if_open(_: &Path) -> Result<(), VaultError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(text: &str) -> SecretString {
        SecretString::from(text.to_owned())
    }

    #[test]
    fn opens_what_it_sealed_only_in_the_same_context() {
        let key = MasterKey::generate();
        let sealed = key
            .seal(&secret("s3cr3t-password"), "credential:7")
            .unwrap();
        assert!(sealed.starts_with(&format!("v1:{}:", key.id())));
        assert!(!sealed.contains("s3cr3t"));
        assert_eq!(
            key.open(&sealed, "credential:7").unwrap().expose_secret(),
            "s3cr3t-password"
        );
        assert!(matches!(
            key.open(&sealed, "credential:8"),
            Err(VaultError::Damaged)
        ));
        assert_ne!(
            sealed,
            key.seal(&secret("s3cr3t-password"), "credential:7")
                .unwrap(),
            "fresh nonce each time"
        );
    }

    #[test]
    fn another_key_or_a_damaged_seal_does_not_open() {
        let key = MasterKey::generate();
        let other = MasterKey::generate();
        let sealed = key.seal(&secret("x"), "c").unwrap();
        assert!(matches!(
            other.open(&sealed, "c"),
            Err(VaultError::WrongKey { .. })
        ));
        let mut damaged = sealed.clone();
        let last = damaged.pop().unwrap();
        damaged.push(if last == 'A' { 'B' } else { 'A' });
        assert!(matches!(key.open(&damaged, "c"), Err(VaultError::Damaged)));
        assert!(matches!(key.open("garbage", "c"), Err(VaultError::Damaged)));
        assert_eq!(sealed_key_id(&sealed), Some(key.id()));
    }

    #[test]
    fn the_key_file_is_created_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let (created, was_created) = MasterKey::load_or_create(&path).unwrap();
        assert!(was_created);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let (loaded, was_created) = MasterKey::load_or_create(&path).unwrap();
        assert!(!was_created);
        assert_eq!(loaded.id(), created.id());
        let sealed = created.seal(&secret("kept"), "c").unwrap();
        assert_eq!(loaded.open(&sealed, "c").unwrap().expose_secret(), "kept");
        assert!(
            !format!("{loaded:?}")
                .contains(&std::fs::read_to_string(&path).unwrap().trim().to_owned())
        );
    }

    #[test]
    fn bad_or_exposed_key_files_are_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        write_private(&path, "not base64!\n").unwrap();
        let error = MasterKey::load_or_create(&path).unwrap_err().to_string();
        assert!(
            error.contains("master.key") && error.contains("not base64"),
            "{error}"
        );

        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let open = dir.path().join("open.key");
            std::fs::write(&open, format!("{}\n", STANDARD.encode([7u8; 32]))).unwrap();
            std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o644)).unwrap();
            let error = MasterKey::load_or_create(&open).unwrap_err().to_string();
            assert!(error.contains("chmod 600"), "{error}");
        }
        assert!(MasterKey::from_base64(&secret("c2hvcnQ=")).is_err());
        assert!(MasterKey::from_base64(&secret(&STANDARD.encode([1u8; 32]))).is_ok());
    }
}
