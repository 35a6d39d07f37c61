//! Argon2id password hashes, computed on blocking threads so they never stall the runtime.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::{PasswordHash, PasswordHasher, PasswordVerifier};

use crate::random;
use secrecy::{ExposeSecret, SecretString};

/// A hash that could not be computed: nothing the person can fix.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password hashing task: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("password hashing: {0}")]
    Hash(String),
}

/// Hashes `password` with argon2id and its default (OWASP-recommended) parameters.
pub async fn hash(password: SecretString) -> Result<String, PasswordError> {
    tokio::task::spawn_blocking(move || hash_now(password.expose_secret()))
        .await
        .map_err(PasswordError::Task)?
}

fn hash_now(password: &str) -> Result<String, PasswordError> {
    Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &random::bytes::<16>())
        .map(|hash| hash.to_string())
        .map_err(|error| PasswordError::Hash(error.to_string()))
}

/// Checks `password` against `stored`. Without a stored hash (unknown user) the same work is
/// done against a throwaway hash, so timing does not tell which usernames exist.
pub async fn verify(password: SecretString, stored: Option<String>) -> Result<bool, PasswordError> {
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let Some(stored) = stored.or_else(|| DECOY.clone()) else {
            return false;
        };
        let matches = PasswordHash::new(&stored).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(password.expose_secret().as_bytes(), &parsed)
                .is_ok()
        });
        known && matches
    })
    .await
    .map_err(PasswordError::Task)
}

static DECOY: LazyLock<Option<String>> =
    LazyLock::new(|| hash_now(&crate::random::readable_password()).ok());

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn verifies_the_right_password_only() {
        let stored = hash(SecretString::from("correct horse")).await.unwrap();
        assert!(stored.starts_with("$argon2id$v=19$"));
        assert!(
            verify(SecretString::from("correct horse"), Some(stored.clone()))
                .await
                .unwrap()
        );
        assert!(
            !verify(SecretString::from("wrong horse"), Some(stored))
                .await
                .unwrap()
        );
        assert!(!verify(SecretString::from("anything"), None).await.unwrap());
        assert!(
            !verify(SecretString::from("x"), Some("not a hash".into()))
                .await
                .unwrap()
        );
    }
}
