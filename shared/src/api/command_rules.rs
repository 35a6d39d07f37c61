//! Command rules: admin-defined patterns checked at each Enter of every session, planned or
//! not, first matching rule first, with what to do about a match.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::FieldErrors;
use crate::problem::FieldError;
use crate::rules::WordPattern;

/// The most blocked tries an `interrupt_after` rule may allow.
pub const MAX_TRIES: i64 = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommandRule {
    pub id: i64,
    /// Its place in the order rules are tried, from 1.
    pub position: i64,
    // The input's fields, written out: a flattened struct is missing from the OpenAPI
    // document the API is held to.
    pub name: String,
    pub pattern_kind: PatternKind,
    pub pattern: String,
    pub action: RuleAction,
    pub tries: Option<i64>,
    pub criticality: Criticality,
    pub scope: RuleScope,
    pub enabled: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct CommandRuleInput {
    pub name: String,
    pub pattern_kind: PatternKind,
    /// Shell words (a program and argument globs) or a regular expression over the line's
    /// words joined by single spaces.
    pub pattern: String,
    pub action: RuleAction,
    /// For `interrupt_after`: the blocked try that closes the session.
    pub tries: Option<i64>,
    pub criticality: Criticality,
    pub scope: RuleScope,
    pub enabled: bool,
}

impl Default for CommandRuleInput {
    fn default() -> Self {
        CommandRuleInput {
            name: String::new(),
            pattern_kind: PatternKind::Words,
            pattern: String::new(),
            action: RuleAction::Block,
            tries: None,
            criticality: Criticality::Medium,
            scope: RuleScope::Everywhere,
            enabled: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PatternKind {
    Words,
    Regex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RuleAction {
    /// Runs; no later rule is tried.
    Allow,
    /// Held at Enter.
    Block,
    /// Runs, and the approvers and the trail are told.
    Alert,
    /// Held at Enter; the `tries`-th held try closes the session.
    InterruptAfter,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Criticality {
    Low,
    Medium,
    High,
}

/// Which sessions a rule applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RuleScope {
    Everywhere,
    /// Sessions of this access group's changes, or opened through it.
    Group {
        group_id: i64,
    },
    /// Sessions on devices with this tag.
    DeviceTag {
        tag: String,
    },
    /// Sessions on this credential.
    Credential {
        credential_id: i64,
    },
}

macro_rules! words_of {
    ($name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            pub fn parse(text: &str) -> Option<$name> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

words_of!(PatternKind { Words => "words", Regex => "regex" });
words_of!(RuleAction {
    Allow => "allow",
    Block => "block",
    Alert => "alert",
    InterruptAfter => "interrupt_after",
});
words_of!(Criticality { Low => "low", Medium => "medium", High => "high" });

impl CommandRuleInput {
    /// The rules that need nothing but the body; the server checks a regular expression and
    /// what the scope names.
    pub fn check(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = FieldErrors::default();
        errors.text("name", &self.name, 100);
        errors.text("pattern", &self.pattern, 1000);
        if self.pattern_kind == PatternKind::Words
            && !self.pattern.trim().is_empty()
            && let Err(reason) = WordPattern::parse(&self.pattern)
        {
            errors.add("pattern", format!("is not shell words: {reason}"));
        }
        match (self.action, self.tries) {
            (RuleAction::InterruptAfter, Some(tries)) if (1..=MAX_TRIES).contains(&tries) => {}
            (RuleAction::InterruptAfter, _) => errors.add(
                "tries",
                format!("is required for interrupt_after: from 1 to {MAX_TRIES}"),
            ),
            (_, Some(_)) => errors.add("tries", "is only for interrupt_after"),
            (_, None) => {}
        }
        if let RuleScope::DeviceTag { tag } = &self.scope {
            super::check_tags(&mut errors, "scope.tag", std::slice::from_ref(tag));
        }
        errors.into_result(())
    }
}

/// `POST /api/command-rules/test`: which rule a line would meet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RuleTest {
    pub line: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RuleTestAnswer {
    /// The first enabled rule the line matches, whatever its scope; none when no rule does.
    pub rule: Option<CommandRule>,
}

/// `PUT /api/command-rules/{id}/position`: where the rule goes in the order rules are tried,
/// from 1; past the last, last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RulePosition {
    pub position: i64,
}
