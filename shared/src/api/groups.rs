//! Access groups: who may run (executors) and who may approve (approvers) which credentials,
//! and the rules their requests follow.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{FieldErrors, Named};
use crate::board::BenignCommands;
use crate::enforcement::Enforcement;
use crate::problem::FieldError;

pub const MAX_APPROVALS_REQUIRED: i64 = 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccessGroup {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub justification_required: bool,
    pub approvals_required: i64,
    pub passkey_required_to_approve: bool,
    pub unplanned_sessions_allowed: bool,
    pub benign_commands: Vec<String>,
    /// How its change sessions are held to their script.
    pub enforcement: Enforcement,
    pub members: Vec<Member>,
    /// The credentials the group grants, named `account@device`.
    pub credentials: Vec<Named>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Member {
    pub user_id: i64,
    /// Shown, not sent: the server fills it in.
    #[serde(default)]
    pub username: String,
    pub executor: bool,
    pub approver: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct AccessGroupInput {
    pub name: String,
    pub description: String,
    pub justification_required: bool,
    pub approvals_required: i64,
    pub passkey_required_to_approve: bool,
    pub unplanned_sessions_allowed: bool,
    pub benign_commands: Vec<String>,
    pub enforcement: Enforcement,
    pub members: Vec<Member>,
    pub credential_ids: Vec<i64>,
}

impl Default for AccessGroupInput {
    /// A new group as SPEC.md sets it up: one approval, by passkey, no unplanned sessions, and
    /// the usual benign commands.
    fn default() -> Self {
        AccessGroupInput {
            name: String::new(),
            description: String::new(),
            justification_required: false,
            approvals_required: 1,
            passkey_required_to_approve: true,
            unplanned_sessions_allowed: false,
            benign_commands: BenignCommands::DEFAULT.map(str::to_owned).to_vec(),
            enforcement: Enforcement::Off,
            members: Vec::new(),
            credential_ids: Vec::new(),
        }
    }
}

impl AccessGroupInput {
    /// The rules that need nothing but the body; the server adds those that need the database.
    pub fn check(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = FieldErrors::default();
        errors.text("name", &self.name, 100);
        errors.at_most("description", &self.description, 2000);
        if !(1..=MAX_APPROVALS_REQUIRED).contains(&self.approvals_required) {
            errors.add(
                "approvals_required",
                format!("must be between 1 and {MAX_APPROVALS_REQUIRED}"),
            );
        }
        for (index, command) in self.benign_commands.iter().enumerate() {
            if let Some(error) = crate::benign::entry_error(command) {
                errors.add(format!("benign_commands[{index}]"), error);
            }
        }
        for (index, member) in self.members.iter().enumerate() {
            if !member.executor && !member.approver {
                errors.add(
                    format!("members[{index}]"),
                    "must be an executor, an approver or both",
                );
            }
        }
        let users: Vec<i64> = self.members.iter().map(|member| member.user_id).collect();
        errors.unique("members", &users);
        errors.unique("benign_commands", &self.benign_commands);
        errors.unique("credential_ids", &self.credential_ids);
        errors.into_result(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(user_id: i64, executor: bool, approver: bool) -> Member {
        Member {
            user_id,
            username: String::new(),
            executor,
            approver,
        }
    }

    #[test]
    fn defaults_follow_the_specification() {
        let input: AccessGroupInput = serde_json::from_str(r#"{"name":"dba"}"#).unwrap();
        assert_eq!(input.approvals_required, 1);
        assert!(input.passkey_required_to_approve);
        assert!(!input.unplanned_sessions_allowed);
        assert!(!input.justification_required);
        assert_eq!(
            input.benign_commands,
            [
                "ls", "pwd", "clear", "whoami", "id", "date", "history", "exit"
            ]
        );
        assert!(input.check().is_ok());
    }

    #[test]
    fn names_each_faulty_field() {
        let input = AccessGroupInput {
            name: String::new(),
            approvals_required: 0,
            benign_commands: vec!["sudo".into()],
            members: vec![
                member(1, true, false),
                member(2, false, false),
                member(1, false, true),
            ],
            credential_ids: vec![4, 4],
            ..AccessGroupInput::default()
        };
        let fields: Vec<String> = input
            .check()
            .unwrap_err()
            .into_iter()
            .map(|error| error.field)
            .collect();
        assert_eq!(
            fields,
            [
                "name",
                "approvals_required",
                "benign_commands[0]",
                "members[1]",
                "members[2]",
                "credential_ids[1]"
            ]
        );
    }
}
