//! Changes: what will be done (the script), where (devices), when (the window) and by whom (the
//! access group). The rules of SPEC.md flow 1 that need nothing but the body live here, so the
//! browser shows the same errors as the server before anything is sent.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{FieldErrors, Named};
use crate::enforcement::Enforcement;
use crate::problem::FieldError;
use crate::script::Script;

pub const MAX_SCRIPT_CHARS: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChangeStatus {
    WaitingApproval,
    Approved,
    Disapproved,
    Cancelled,
    InProgress,
    Executed,
    PartiallyExecuted,
    /// Reached its due date without being executed.
    Expired,
}

impl ChangeStatus {
    pub const ALL: [ChangeStatus; 8] = [
        ChangeStatus::WaitingApproval,
        ChangeStatus::Approved,
        ChangeStatus::Disapproved,
        ChangeStatus::Cancelled,
        ChangeStatus::InProgress,
        ChangeStatus::Executed,
        ChangeStatus::PartiallyExecuted,
        ChangeStatus::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeStatus::WaitingApproval => "waiting_approval",
            ChangeStatus::Approved => "approved",
            ChangeStatus::Disapproved => "disapproved",
            ChangeStatus::Cancelled => "cancelled",
            ChangeStatus::InProgress => "in_progress",
            ChangeStatus::Executed => "executed",
            ChangeStatus::PartiallyExecuted => "partially_executed",
            ChangeStatus::Expired => "expired",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ChangeStatus::WaitingApproval => "Waiting approval",
            ChangeStatus::Approved => "Approved",
            ChangeStatus::Disapproved => "Disapproved",
            ChangeStatus::Cancelled => "Cancelled",
            ChangeStatus::InProgress => "In progress",
            ChangeStatus::Executed => "Executed",
            ChangeStatus::PartiallyExecuted => "Partially executed",
            ChangeStatus::Expired => "Expired",
        }
    }

    pub fn parse(text: &str) -> Option<ChangeStatus> {
        ChangeStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
    }

    /// Whether the change may still be edited or cancelled: nothing has run and it has not
    /// ended.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            ChangeStatus::WaitingApproval | ChangeStatus::Approved | ChangeStatus::Disapproved
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Change {
    /// Chosen by the planner, such as `CHG-1042`.
    pub id: String,
    pub title: String,
    pub description: String,
    #[serde(with = "time::serde::rfc3339")]
    pub start_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub due_at: OffsetDateTime,
    pub access_group: Named,
    pub devices: Vec<Named>,
    pub script: String,
    /// How its sessions are held to the script, when stricter than its group; none: as its
    /// group.
    #[serde(default)]
    pub enforcement: Option<Enforcement>,
    pub status: ChangeStatus,
    pub author: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Who last edited or cancelled it, when someone has.
    pub updated_by: Option<String>,
}

/// A change as a planner registers or edits it. Every field may be missing, so that each
/// missing one is reported by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct ChangeInput {
    pub id: String,
    pub title: String,
    pub description: String,
    /// RFC 3339, such as `2026-12-01T22:00:00Z`.
    pub start_at: String,
    /// RFC 3339; after `start_at`.
    pub due_at: String,
    pub access_group_id: Option<i64>,
    pub device_ids: Vec<i64>,
    pub script: String,
    /// Stricter than its group's: `script_only` or `script_only_in_order`; none (or `off`)
    /// for as its group. The group's setting is the floor.
    pub enforcement: Option<Enforcement>,
}

/// A change whose body follows every rule; the server still checks what needs the database
/// (a duplicate ID, an unknown group or device).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedChange {
    pub id: String,
    pub title: String,
    pub description: String,
    pub start_at: OffsetDateTime,
    pub due_at: OffsetDateTime,
    pub access_group_id: i64,
    pub device_ids: Vec<i64>,
    pub script: Script,
    pub enforcement: Option<Enforcement>,
}

impl ChangeInput {
    pub fn check(&self) -> Result<CheckedChange, Vec<FieldError>> {
        let mut errors = FieldErrors::default();
        let id = self.id.trim();
        if id.is_empty() {
            errors.add("id", "is required");
        } else if !is_change_id(id) {
            errors.add(
                "id",
                "must be 1 to 64 letters, digits, . - or _, starting with a letter or digit (such as CHG-1042)",
            );
        }
        errors.text("title", &self.title, 200);
        errors.at_most("description", &self.description, 10_000);
        let start_at = time_field(&mut errors, "start_at", &self.start_at);
        let due_at = time_field(&mut errors, "due_at", &self.due_at);
        if let (Some(start), Some(due)) = (start_at, due_at)
            && due <= start
        {
            errors.add("due_at", "must be after the start time");
        }
        if self.access_group_id.is_none() {
            errors.add("access_group_id", "is required");
        }
        if self.device_ids.is_empty() {
            errors.add("device_ids", "add at least one device");
        }
        errors.unique("device_ids", &self.device_ids);
        let script = check_script(&mut errors, &self.script);
        match (start_at, due_at, self.access_group_id, script) {
            (Some(start_at), Some(due_at), Some(access_group_id), Some(script))
                if errors.is_empty() =>
            {
                Ok(CheckedChange {
                    id: id.to_owned(),
                    title: self.title.trim().to_owned(),
                    description: self.description.trim().to_owned(),
                    start_at,
                    due_at,
                    access_group_id,
                    device_ids: self.device_ids.clone(),
                    script,
                    // `off` asks nothing of its own.
                    enforcement: self.enforcement.filter(|mode| *mode != Enforcement::Off),
                })
            }
            _ => Err(errors.into_vec()),
        }
    }
}

fn is_change_id(id: &str) -> bool {
    id.len() <= 64
        && id.starts_with(|c: char| c.is_ascii_alphanumeric())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

fn time_field(errors: &mut FieldErrors, field: &str, text: &str) -> Option<OffsetDateTime> {
    if text.trim().is_empty() {
        errors.add(field, "is required");
        return None;
    }
    match OffsetDateTime::parse(text.trim(), &Rfc3339) {
        Ok(at) => Some(at),
        Err(_) => {
            errors.add(
                field,
                "must be a date and time in RFC 3339, such as 2026-12-01T22:00:00Z",
            );
            None
        }
    }
}

/// The script, parsed; its errors name the line.
pub fn check_script(errors: &mut FieldErrors, text: &str) -> Option<Script> {
    if text.chars().count() > MAX_SCRIPT_CHARS {
        errors.add(
            "script",
            format!("must be at most {MAX_SCRIPT_CHARS} characters"),
        );
        return None;
    }
    match Script::parse(text) {
        Ok(script) if script.is_empty() => {
            errors.add("script", "is empty: write at least one command");
            None
        }
        Ok(script) => Some(script),
        Err(error) => {
            errors.add("script", error.to_string());
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> ChangeInput {
        ChangeInput {
            id: "CHG-1042".into(),
            title: "Rotate the web certificates".into(),
            description: String::new(),
            start_at: "2026-12-01T22:00:00Z".into(),
            due_at: "2026-12-01T23:30:00+01:00".into(),
            access_group_id: Some(1),
            device_ids: vec![3, 4],
            script: "systemctl reload nginx\n# then\ncurl -sI https://example.org\n".into(),
            enforcement: None,
        }
    }

    fn errors(input: &ChangeInput) -> Vec<(String, String)> {
        input
            .check()
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|error| (error.field, error.detail))
            .collect()
    }

    #[test]
    fn a_valid_change_is_parsed() {
        let change = valid().check().unwrap();
        assert_eq!(change.script.len(), 2);
        // 23:30 at +01:00 is 22:30 UTC: the offset is kept, not dropped.
        assert_eq!(
            change.due_at.unix_timestamp() - change.start_at.unix_timestamp(),
            30 * 60
        );
    }

    #[test]
    fn an_empty_body_names_every_required_field() {
        let fields: Vec<String> = errors(&ChangeInput::default())
            .into_iter()
            .map(|(field, _)| field)
            .collect();
        assert_eq!(
            fields,
            [
                "id",
                "title",
                "start_at",
                "due_at",
                "access_group_id",
                "device_ids",
                "script"
            ]
        );
    }

    #[test]
    fn each_rule_names_its_field() {
        let cases = [
            (
                ChangeInput {
                    id: "CHG 1".into(),
                    ..valid()
                },
                "id",
            ),
            (
                ChangeInput {
                    title: "  ".into(),
                    ..valid()
                },
                "title",
            ),
            (
                ChangeInput {
                    start_at: "tomorrow".into(),
                    ..valid()
                },
                "start_at",
            ),
            (
                ChangeInput {
                    due_at: "2026-12-01T21:00:00Z".into(),
                    ..valid()
                },
                "due_at",
            ),
            (
                ChangeInput {
                    due_at: "2026-12-01T22:00:00Z".into(),
                    ..valid()
                },
                "due_at",
            ),
            (
                ChangeInput {
                    device_ids: vec![],
                    ..valid()
                },
                "device_ids",
            ),
            (
                ChangeInput {
                    device_ids: vec![3, 3],
                    ..valid()
                },
                "device_ids[1]",
            ),
            (
                ChangeInput {
                    script: "# nothing\n\n".into(),
                    ..valid()
                },
                "script",
            ),
            (
                ChangeInput {
                    script: "ls\necho 'open\n".into(),
                    ..valid()
                },
                "script",
            ),
        ];
        for (input, field) in cases {
            let found = errors(&input);
            assert_eq!(found.len(), 1, "{input:?}: {found:?}");
            assert_eq!(found[0].0, field, "{input:?}");
        }
    }

    #[test]
    fn script_errors_name_the_line() {
        let found = errors(&ChangeInput {
            script: "ls\necho 'open\n".into(),
            ..valid()
        });
        assert!(found[0].1.starts_with("line 2:"), "{found:?}");
    }

    #[test]
    fn statuses_round_trip() {
        for status in ChangeStatus::ALL {
            assert_eq!(ChangeStatus::parse(status.as_str()), Some(status));
            assert_eq!(
                serde_json::to_string(&status).unwrap(),
                format!("\"{}\"", status.as_str())
            );
        }
    }
}
