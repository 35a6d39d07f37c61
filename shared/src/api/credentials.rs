//! Credentials: an account on a device. The secret goes in (when set or rotated) and never
//! comes out: these types have no field that could carry it back.

use crate::api::secret::SecretText;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::FieldErrors;
use crate::problem::FieldError;

pub const MAX_SECRET_CHARS: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SecretKind {
    Password,
    /// An OpenSSH or PEM private key without a passphrase: the vault protects it instead.
    PrivateKey,
}

impl SecretKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SecretKind::Password => "password",
            SecretKind::PrivateKey => "private_key",
        }
    }

    pub fn parse(text: &str) -> Option<SecretKind> {
        match text {
            "password" => Some(SecretKind::Password),
            "private_key" => Some(SecretKind::PrivateKey),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Credential {
    pub id: i64,
    pub device_id: i64,
    pub device_name: String,
    pub username: String,
    pub kind: SecretKind,
    /// When the secret was last set: the only thing anyone learns of it.
    #[serde(with = "time::serde::rfc3339")]
    pub secret_set_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewCredential {
    pub device_id: i64,
    #[serde(default)]
    pub username: String,
    pub kind: SecretKind,
    #[serde(default)]
    pub secret: SecretText,
}

/// A new secret for an existing credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SecretUpdate {
    pub kind: SecretKind,
    #[serde(default)]
    pub secret: SecretText,
}

impl NewCredential {
    pub fn check(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = FieldErrors::default();
        errors.text("username", &self.username, 64);
        if self.username.starts_with('-') || self.username.chars().any(char::is_whitespace) {
            errors.add("username", "must be one word not starting with -");
        }
        check_secret(&mut errors, self.secret.expose());
        errors.into_result(())
    }
}

impl SecretUpdate {
    pub fn check(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = FieldErrors::default();
        check_secret(&mut errors, self.secret.expose());
        errors.into_result(())
    }
}

/// Only the shape is checked here; the server also reads a private key to be sure it is one.
fn check_secret(errors: &mut FieldErrors, secret: &str) {
    if secret.is_empty() {
        errors.add("secret", "is required");
    } else if secret.chars().count() > MAX_SECRET_CHARS {
        errors.add(
            "secret",
            format!("must be at most {MAX_SECRET_CHARS} characters"),
        );
    }
}
