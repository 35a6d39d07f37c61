//! Bodies of the JSON API, as both sides see them: one module per kind of object. Times travel
//! as RFC 3339 text.

pub mod changes;
pub mod command_rules;
pub mod credentials;
pub mod devices;
pub mod groups;
pub mod life;
pub mod requests;
pub mod routes;
pub mod secret;
pub mod sessions;
pub mod trail;
pub mod users;

use serde::{Deserialize, Serialize};

use crate::api::secret::SecretText;
use crate::problem::FieldError;
use crate::role::Role;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    pub username: String,
    pub password: SecretText,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Me {
    pub username: String,
    pub display_name: String,
    pub roles: Vec<Role>,
}

impl Me {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    pub status: String,
    pub version: String,
    pub database: String,
}

/// One page of a list: `items` from `offset`, and how many match in all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub offset: i64,
    pub limit: i64,
}

/// Another object named where it is used: its id and a name to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Named {
    pub id: i64,
    pub name: String,
}

/// Field errors gathered while checking a body, so that every fault is reported at once.
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    pub fn add(&mut self, field: impl Into<String>, detail: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            detail: detail.into(),
        });
    }

    /// Adds "is required" when `value` is blank, or a length error past `max` characters.
    pub fn text(&mut self, field: &str, value: &str, max: usize) {
        if value.trim().is_empty() {
            self.add(field, "is required");
        } else {
            self.at_most(field, value, max);
        }
    }

    pub fn at_most(&mut self, field: &str, value: &str, max: usize) {
        if value.chars().count() > max {
            self.add(field, format!("must be at most {max} characters"));
        }
    }

    /// Adds "is listed twice" for each value already seen earlier in `values`.
    pub fn unique<T: PartialEq>(&mut self, field: &str, values: &[T]) {
        for (index, value) in values.iter().enumerate() {
            if values[..index].contains(value) {
                self.add(format!("{field}[{index}]"), "is listed twice");
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }

    /// `Ok(value)` when nothing was added.
    pub fn into_result<T>(self, value: T) -> Result<T, Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self.0)
        }
    }
}

/// Tags: trimmed, unique, in the order given, each a short word.
pub fn check_tags(errors: &mut FieldErrors, field: &str, tags: &[String]) -> Vec<String> {
    let mut kept: Vec<String> = Vec::new();
    for (index, tag) in tags.iter().enumerate() {
        let tag = tag.trim();
        if tag.is_empty() || tag.chars().count() > 64 || tag.chars().any(char::is_whitespace) {
            errors.add(
                format!("{field}[{index}]"),
                "must be one word of at most 64 characters",
            );
        } else if !kept.iter().any(|kept| kept == tag) {
            kept.push(tag.to_owned());
        }
    }
    kept
}
