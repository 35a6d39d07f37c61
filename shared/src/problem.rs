//! Problem details (RFC 9457): the one shape of every refused or failed API request.

use serde::{Deserialize, Serialize};

/// The media type of a problem details body.
pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    /// A URI reference naming the kind of problem; `about:blank` when the status says it all.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// One entry per refused field, so a form can show each message next to its field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    /// The field's name as it appears in the request body.
    pub field: String,
    pub detail: String,
}

impl Problem {
    /// The message to show next to `field`, if the problem names it.
    pub fn field_error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|error| error.field == field)
            .map(|error| error.detail.as_str())
    }

    /// The sentence to show a person: the detail when there is one, else the title.
    pub fn message(&self) -> &str {
        self.detail.as_deref().unwrap_or(&self.title)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_rfc_9457_with_field_errors() {
        let problem = Problem {
            kind: "/problems/validation".into(),
            title: "Invalid request".into(),
            status: 422,
            detail: None,
            errors: vec![FieldError {
                field: "username".into(),
                detail: "must not be empty".into(),
            }],
        };
        let json = serde_json::to_value(&problem).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "type": "/problems/validation",
                "title": "Invalid request",
                "status": 422,
                "errors": [{"field": "username", "detail": "must not be empty"}],
            })
        );
        assert_eq!(problem.field_error("username"), Some("must not be empty"));
        assert_eq!(problem.field_error("password"), None);
        assert_eq!(problem.message(), "Invalid request");
    }
}
