//! The trail's signing key: Ed25519, its 32-byte seed in hex in a file readable by its owner
//! only (`trail.key` in the data folder unless configured), with the public key beside it in
//! `<file>.pub` for anyone who verifies. Every replica must be given the same file.

use std::path::{Path, PathBuf};

use changeaudit_shared::export::key_id;
use changeaudit_shared::trail::hex;
use changeaudit_shared::verify::keys;
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};

use crate::random;
use crate::vault::{refuse_if_open, write_private};

#[derive(Debug, thiserror::Error)]
pub enum TrailKeyError {
    #[error("trail key {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("trail key {}: {reason}", path.display())]
    Bad { path: PathBuf, reason: String },
    #[error(transparent)]
    Vault(#[from] crate::vault::VaultError),
}

pub struct TrailKey {
    signing: SigningKey,
    id: String,
}

impl std::fmt::Debug for TrailKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the seed.
        f.debug_struct("TrailKey").field("id", &self.id).finish()
    }
}

impl TrailKey {
    pub fn from_seed(seed: &[u8; 32]) -> TrailKey {
        let signing = SigningKey::from_bytes(seed);
        let id = key_id(&signing.verifying_key().to_bytes());
        TrailKey { signing, id }
    }

    /// Reads the key file, or creates it (mode 0600, and its `.pub`) when it does not exist.
    /// Answers the key and whether it was created.
    pub fn load_or_create(path: &Path) -> Result<(TrailKey, bool), TrailKeyError> {
        if !path.exists() {
            let key = TrailKey::create(path)?;
            key.write_public(&public_path(path))?;
            key.write_public(&first_public_path(path))?;
            return Ok((key, true));
        }
        Ok((TrailKey::load(path)?, false))
    }

    /// A new key, its seed written to `path` (mode 0600), which must not exist.
    pub fn create(path: &Path) -> Result<TrailKey, TrailKeyError> {
        let seed = random::bytes::<32>();
        write_private(path, &format!("{}\n", hex(&seed))).map_err(|source| TrailKeyError::Io {
            path: path.to_owned(),
            source,
        })?;
        Ok(TrailKey::from_seed(&seed))
    }

    /// Writes the public key, in hex, to `path`.
    pub fn write_public(&self, path: &Path) -> Result<(), TrailKeyError> {
        std::fs::write(path, format!("{}\n", self.public_key_hex())).map_err(|source| {
            TrailKeyError::Io {
                path: path.to_owned(),
                source,
            }
        })
    }

    /// Reads an existing key file, refusing one that others can read; never makes one.
    pub fn load(path: &Path) -> Result<TrailKey, TrailKeyError> {
        let io = |source| TrailKeyError::Io {
            path: path.to_owned(),
            source,
        };
        refuse_if_open(path)?;
        let text = std::fs::read_to_string(path).map_err(io)?;
        let seed = hex::decode(text.trim())
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .ok_or_else(|| TrailKeyError::Bad {
                path: path.to_owned(),
                reason: "not 64 hex digits (an Ed25519 seed)".to_owned(),
            })?;
        Ok(TrailKey::from_seed(&seed))
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }

    pub fn public_key_hex(&self) -> String {
        hex(&self.verifying_key().to_bytes())
    }

    /// The signature of `text`, hex.
    pub fn sign(&self, text: &str) -> String {
        hex(&self.signing.sign(text.as_bytes()).to_bytes())
    }
}

/// Where the public key is written beside the key file.
pub fn public_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

/// Where the trail's first public key is kept beside the key file (`<file>.first.pub`): the
/// key a verification of the whole trail starts from, whatever rotations came since.
pub fn first_public_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".first.pub");
    PathBuf::from(name)
}

/// Reads a public key file (64 hex digits), as `changeaudit verify --public-key` takes it.
pub fn read_public_key(path: &Path) -> Result<VerifyingKey, TrailKeyError> {
    let text = std::fs::read_to_string(path).map_err(|source| TrailKeyError::Io {
        path: path.to_owned(),
        source,
    })?;
    keys::public_key(&text).map_err(|reason| TrailKeyError::Bad {
        path: path.to_owned(),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_is_private_and_its_public_half_is_published_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trail.key");
        let (key, created) = TrailKey::load_or_create(&path).unwrap();
        assert!(created);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (again, created) = TrailKey::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(again.id(), key.id());
        let public = read_public_key(&public_path(&path)).unwrap();
        assert_eq!(public, key.verifying_key());

        let signature = hex::decode(key.sign("hello")).unwrap();
        let signature = ed25519_dalek::Signature::from_bytes(&signature.try_into().unwrap());
        public.verify_strict(b"hello", &signature).unwrap();
        assert!(public.verify_strict(b"hellO", &signature).is_err());
    }

    #[test]
    fn a_key_file_others_can_read_or_that_is_not_a_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trail.key");
        std::fs::write(&path, "not hex\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(TrailKey::load_or_create(&path).is_err());
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let error = TrailKey::load_or_create(&path).unwrap_err().to_string();
        assert!(error.contains("64 hex digits"), "{error}");
    }
}
