//! Terminal sessions: the credentials a person may open one on (Credentials → All), and the
//! record each session leaves.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::Named;
use crate::command::ExecutedCommand;
use crate::terminal::EndReason;

/// A credential granted to the person asking, with what they need to choose it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GrantedCredential {
    pub credential_id: i64,
    pub device: Named,
    pub host: String,
    pub account: String,
    pub tags: Vec<String>,
    /// The access groups that grant it to this person.
    pub groups: Vec<Named>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    Running,
    Ended,
}

/// What a session leaves behind: who, from where, when, on what, and what ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TerminalSession {
    pub id: i64,
    pub username: String,
    pub device: Named,
    pub account: String,
    /// The change it ran under; none for an unplanned session.
    pub change_id: Option<String>,
    pub request_id: Option<i64>,
    pub client_ip: String,
    pub user_agent: String,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub ended_at: Option<OffsetDateTime>,
    /// Seconds from start to end; for a running session, so far.
    pub duration_seconds: f64,
    pub state: SessionState,
    pub end_reason: Option<EndReason>,
    /// Hex SHA-256 of the recording, set when it is sealed at the end.
    pub recording_sha256: Option<String>,
    pub recording_bytes: Option<i64>,
    pub commands: Vec<ExecutedCommand>,
    /// Against the change's script; none for an unplanned session.
    pub score: Option<u8>,
    pub verdict: Option<String>,
}
