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
