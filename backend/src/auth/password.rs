//! Argon2id password hashes, computed on blocking threads so they never stall the runtime.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::{PasswordHash, PasswordHasher, PasswordVerifier};

use crate::error::AppError;
use crate::random;
use secrecy::{ExposeSecret, SecretString};

/// Hashes `password` with argon2id and its default (OWASP-recommended) parameters.
pub async fn hash(password: SecretString) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || hash_now(password.expose_secret()))
        .await
        .map_err(|error| AppError::internal("password hashing task", error))?
}

fn hash_now(password: &str) -> Result<String, AppError> {
    Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &random::bytes::<16>())
        .map(|hash| hash.to_string())
        .map_err(|error| AppError::internal("password hashing", error.to_string()))
}

/// Checks `password` against `stored`. Without a stored hash (unknown user) the same work is
/// done against a throwaway hash, so timing does not tell which usernames exist.
pub async fn verify(password: SecretString, stored: Option<String>) -> Result<bool, AppError> {
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
    .map_err(|error| AppError::internal("password verification task", error))
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
