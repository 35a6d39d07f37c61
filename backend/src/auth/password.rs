//! Argon2id password hashes, computed on blocking threads so they never stall the runtime.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::{PasswordHash, PasswordHasher, PasswordVerifier};

use crate::error::AppError;
use crate::random;
use crate::secret::Secret;

/// Hashes `password` with argon2id and its default (OWASP-recommended) parameters.
pub async fn hash(password: Secret<String>) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || hash_now(password.expose()))
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
pub async fn verify(password: Secret<String>, stored: Option<String>) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let Some(stored) = stored.or_else(|| DECOY.clone()) else {
            return false;
        };
        let matches = PasswordHash::new(&stored).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(password.expose().as_bytes(), &parsed)
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
        let stored = hash(Secret::new("correct horse".into())).await.unwrap();
        assert!(stored.starts_with("$argon2id$v=19$"));
        assert!(
            verify(Secret::new("correct horse".into()), Some(stored.clone()))
                .await
                .unwrap()
        );
        assert!(
            !verify(Secret::new("wrong horse".into()), Some(stored))
                .await
                .unwrap()
        );
        assert!(!verify(Secret::new("anything".into()), None).await.unwrap());
        assert!(
            !verify(Secret::new("x".into()), Some("not a hash".into()))
                .await
                .unwrap()
        );
    }
}
