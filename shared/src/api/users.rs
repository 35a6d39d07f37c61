//! People: what admins see and send in Admin → Users. A password goes in, never out.

use crate::api::secret::SecretText;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::FieldErrors;
use crate::problem::FieldError;
use crate::role::Role;

pub const MIN_PASSWORD_CHARS: usize = 12;
pub const MAX_PASSWORD_CHARS: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub email: String,
    pub roles: Vec<Role>,
    pub enabled: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// A new user, or (with `password` left empty to keep it) an update of one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct UserInput {
    /// Fixed once the user exists.
    pub username: String,
    pub display_name: String,
    pub email: String,
    pub roles: Vec<Role>,
    pub enabled: bool,
    /// Required for a new user; empty keeps the current one on update.
    pub password: SecretText,
}

/// The trail's actors that are not people.
pub const RESERVED_USERNAMES: [&str; 2] = ["system", "anonymous"];

impl Default for UserInput {
    /// Enabled unless said otherwise: a body that leaves `enabled` out never locks someone out.
    fn default() -> Self {
        UserInput {
            username: String::new(),
            display_name: String::new(),
            email: String::new(),
            roles: Vec::new(),
            enabled: true,
            password: SecretText::default(),
        }
    }
}

impl UserInput {
    pub fn check(&self, creating: bool) -> Result<(), Vec<FieldError>> {
        let mut errors = FieldErrors::default();
        errors.text("username", &self.username, 64);
        if !self
            .username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@'))
        {
            errors.add("username", "may hold only letters, digits and . - _ @");
        }
        // The trail names the server and people not signed in so: no person may look like them.
        if RESERVED_USERNAMES.contains(&self.username.to_ascii_lowercase().as_str()) {
            errors.add("username", "is reserved for the trail's own actors");
        }
        errors.text("display_name", &self.display_name, 128);
        errors.at_most("email", &self.email, 254);
        if !self.email.is_empty() && !is_plausible_email(&self.email) {
            errors.add("email", "is not an e-mail address");
        }
        let length = self.password.expose().chars().count();
        if creating || length > 0 {
            if length < MIN_PASSWORD_CHARS {
                errors.add(
                    "password",
                    format!("must be at least {MIN_PASSWORD_CHARS} characters"),
                );
            } else if length > MAX_PASSWORD_CHARS {
                errors.add(
                    "password",
                    format!("must be at most {MAX_PASSWORD_CHARS} characters"),
                );
            }
        }
        errors.into_result(())
    }
}

fn is_plausible_email(text: &str) -> bool {
    match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !text.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> UserInput {
        UserInput {
            username: "grace".into(),
            display_name: "Grace Hopper".into(),
            email: "grace@example.org".into(),
            roles: vec![Role::Planner],
            enabled: true,
            password: "a long enough secret".into(),
        }
    }

    fn fields(input: &UserInput, creating: bool) -> Vec<String> {
        input
            .check(creating)
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|error| error.field)
            .collect()
    }

    #[test]
    fn names_each_faulty_field() {
        assert!(valid().check(true).is_ok());
        let bad = UserInput {
            username: "grace hopper".into(),
            display_name: " ".into(),
            email: "grace".into(),
            password: "short".into(),
            ..valid()
        };
        assert_eq!(
            fields(&bad, true),
            ["username", "display_name", "email", "password"]
        );
    }

    #[test]
    fn nobody_may_be_named_as_the_trail_names_the_server_or_a_stranger() {
        for name in ["system", "anonymous", "System"] {
            let taken = UserInput {
                username: name.into(),
                ..valid()
            };
            assert_eq!(fields(&taken, true), ["username"], "{name}");
        }
    }

    #[test]
    fn a_body_without_enabled_keeps_the_user_enabled() {
        let input: UserInput = serde_json::from_str(r#"{"username":"grace"}"#).unwrap();
        assert!(input.enabled);
    }

    #[test]
    fn a_password_is_needed_to_create_but_not_to_update() {
        let keep = UserInput {
            password: SecretText::default(),
            ..valid()
        };
        assert_eq!(fields(&keep, true), ["password"]);
        assert!(keep.check(false).is_ok());
    }
}
