//! Argon2id password hashes, computed on threads of their own (`hashing`) so they never stall
//! the runtime. The checks of sign-ins (anyone may ask for one) go through a `Gate`, a few at a
//! time: each takes 19 MiB and a core for a moment, so a flood of sign-ins queues for a moment
//! and is then answered 503 rather than exhausting the machine.

use std::sync::LazyLock;
use std::time::Duration;

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::hashing::Unanswered;

use argon2::Argon2;
use argon2::PasswordHasher;

use crate::random;
use secrecy::SecretString;

/// A hash that could not be computed: nothing the person can fix.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("password hashing: {0}")]
    Hash(String),
    /// Every hashing place stayed taken for the whole wait.
    #[error("too many passwords are being checked; try again in a moment")]
    Busy,
}

/// Hashes that may run at once, and how long one waits for its turn.
pub struct Gate {
    places: Arc<Semaphore>,
    wait: Duration,
}

impl Gate {
    pub fn new(places: usize, wait: Duration) -> Gate {
        Gate {
            places: Arc::new(Semaphore::new(places)),
            wait,
        }
    }

    /// A place to hash in, waited for at most the gate's wait.
    pub async fn enter(&self) -> Result<OwnedSemaphorePermit, PasswordError> {
        let place = self.places.clone().acquire_owned();
        match tokio::time::timeout(self.wait, place).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(_)) | Err(_) => Err(PasswordError::Busy),
        }
    }
}

impl Gate {
    /// One hash per core (two at least), each waited for up to two seconds. The decoy hash
    /// that unknown usernames are checked against is made now, not in the first sign-in.
    pub fn for_this_machine() -> Gate {
        LazyLock::force(&DECOY);
        let cores = std::thread::available_parallelism().map_or(2, |cores| cores.get());
        Gate::new(cores.max(2), Duration::from_secs(2))
    }
}

/// Hashes `password` with argon2id and its default (OWASP-recommended) parameters.
pub async fn hash(password: SecretString) -> Result<String, PasswordError> {
    super::hashing::hash_password(password)
        .await
        .map_err(PasswordError::from)
}

impl From<Unanswered> for PasswordError {
    fn from(unanswered: Unanswered) -> Self {
        match unanswered {
            Unanswered::Busy => PasswordError::Busy,
            Unanswered::Failed(why) => PasswordError::Hash(why),
        }
    }
}

fn hash_now(password: &str) -> Result<String, PasswordError> {
    Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &random::bytes::<16>())
        .map(|hash| hash.to_string())
        .map_err(|error| PasswordError::Hash(error.to_string()))
}

/// Checks `password` against `stored`. Without a stored hash (unknown user) the same work is
/// done against a throwaway hash, so timing does not tell which usernames exist.
pub async fn verify(
    gate: &Gate,
    password: SecretString,
    stored: Option<String>,
) -> Result<bool, PasswordError> {
    let place = gate.enter().await?;
    let known = stored.is_some();
    let Some(stored) = stored.or_else(|| DECOY.clone()) else {
        return Ok(false);
    };
    let matches = super::hashing::password_matches(password, stored, place).await?;
    Ok(known && matches)
}

static DECOY: LazyLock<Option<String>> =
    LazyLock::new(|| hash_now(&crate::random::readable_password()).ok());

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn a_hash_waits_for_a_place_then_is_refused_as_busy() {
        let gate = Gate::new(1, Duration::from_millis(50));
        let taken = gate.enter().await.unwrap();
        assert!(matches!(gate.enter().await, Err(PasswordError::Busy)));
        drop(taken);
        assert!(gate.enter().await.is_ok());
    }

    use super::*;

    #[tokio::test]
    async fn verifies_the_right_password_only() {
        let stored = hash(SecretString::from("correct horse")).await.unwrap();
        assert!(stored.starts_with("$argon2id$v=19$"));
        assert!(
            verify(
                &Gate::for_this_machine(),
                SecretString::from("correct horse"),
                Some(stored.clone())
            )
            .await
            .unwrap()
        );
        assert!(
            !verify(
                &Gate::for_this_machine(),
                SecretString::from("wrong horse"),
                Some(stored)
            )
            .await
            .unwrap()
        );
        assert!(
            !verify(
                &Gate::for_this_machine(),
                SecretString::from("anything"),
                None
            )
            .await
            .unwrap()
        );
        assert!(
            !verify(
                &Gate::for_this_machine(),
                SecretString::from("x"),
                Some("not a hash".into())
            )
            .await
            .unwrap()
        );
    }
}
