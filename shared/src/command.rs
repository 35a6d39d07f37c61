//! A command the person ran in a session, as recognised from the session's bytes.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExecutedCommand {
    /// The command line as the shell ran it.
    #[serde(rename = "command")]
    pub text: String,
    /// Seconds from the start of the recording to the moment Enter was pressed.
    pub offset: f64,
    /// The exit status, when the shell announced it.
    pub exit_code: Option<i32>,
    pub source: Recognition,
}

/// How a command was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Recognition {
    /// Announced by the device's shell with OSC 133 / OSC 633 sequences.
    ShellIntegration,
    /// Read off the emulated terminal screen when Enter was pressed.
    Screen,
}

/// A line the broker held at Enter: it never reached the device (the script-only rule or a
/// command rule stopped it). Kept in the trail as `session.command_blocked`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HeldCommand {
    /// The line as the shell would have taken it.
    #[serde(rename = "command")]
    pub text: String,
    /// Seconds from the start of the recording to the held Enter.
    pub offset: f64,
    /// Why it was held, in words.
    pub reason: String,
}

/// Something in a session's output that recognition could not take at its word: the device
/// announced a command or a status that the person's input does not bear out. A session with
/// findings is never "correct".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Finding {
    pub kind: FindingKind,
    /// Seconds from the start of the recording to where the mark was printed.
    pub offset: f64,
    /// What the mark announced: a command line, or `status N`.
    pub mark: String,
    /// Why it was not believed, in words.
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// A shell-integration mark that no keystroke explains, or without the session's nonce: it
    /// was printed by something other than the shell that ran the person's command.
    ForgedMark,
    /// The shell announced a command line other than the one the screen shows was accepted.
    Disagreement,
}

impl FindingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::ForgedMark => "forged_mark",
            FindingKind::Disagreement => "disagreement",
        }
    }

    pub fn parse(text: &str) -> Option<FindingKind> {
        [FindingKind::ForgedMark, FindingKind::Disagreement]
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}
