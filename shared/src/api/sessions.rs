//! Terminal sessions: the credentials a person may open one on (Credentials → All), and the
//! record each session leaves.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::Named;
use super::requests::RequestStatus;
use crate::command::{ExecutedCommand, Finding, HeldCommand};
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
    /// The changes a session on it may be asked for, the soonest first: Start session names
    /// them before it asks.
    #[serde(default)]
    pub changes: Vec<CoveringChange>,
}

/// A change of the person's groups that names the credential's device and is still to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CoveringChange {
    pub id: String,
    pub title: String,
    #[serde(with = "time::serde::rfc3339")]
    pub start_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub due_at: OffsetDateTime,
    /// Its access group wants a justification with each request.
    pub justification_required: bool,
    /// The person's live request to run it with this credential, if any: pending or approved.
    #[serde(default)]
    pub request: Option<LiveRequest>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LiveRequest {
    pub id: i64,
    pub status: RequestStatus,
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
    /// Shell-integration marks its input does not bear out (see `Finding`).
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// Lines held at Enter (never run), in order; given with a session's details, not in lists.
    #[serde(default)]
    pub held: Vec<HeldCommand>,
    /// How many lines were held, in lists too.
    #[serde(default)]
    pub held_lines: u32,
    /// Against the change's script; none for an unplanned session.
    pub score: Option<u8>,
    pub verdict: Option<String>,
}

/// The filters of Change Audit → Audited sessions (`GET /api/terminal-sessions`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(default)]
pub struct SessionFilters {
    /// A change ID, exactly.
    pub change: Option<String>,
    /// A username, exactly.
    pub user: Option<String>,
    /// A device's name, exactly.
    pub device: Option<String>,
    /// Started on or after this day (`YYYY-MM-DD`, UTC).
    pub from: Option<String>,
    /// Started on or before this day (`YYYY-MM-DD`, UTC).
    pub to: Option<String>,
    /// A verdict code, e.g. `correct` or `more_than_necessary`; `unplanned` for sessions
    /// without a change; `with_findings` for sessions whose output held forged marks.
    pub verdict: Option<String>,
    /// Words anywhere in what was typed and shown.
    pub q: Option<String>,
    pub offset: Option<i64>,
    pub limit: Option<i64>,
}

/// Which of a session's audit views is opened (each opening is audited).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AuditView {
    Details,
    Board,
    Logs,
}

impl AuditView {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditView::Details => "details",
            AuditView::Board => "board",
            AuditView::Logs => "logs",
        }
    }
}

/// One approval of the request a session ran under, with its passkey signature checked now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApprovalCheck {
    pub approver: String,
    /// `approved` or `disapproved`.
    pub decision: String,
    pub comment: String,
    #[serde(with = "time::serde::rfc3339")]
    pub decided_at: OffsetDateTime,
    pub signed: bool,
    /// The signature verifies now, against the key the trail registered for the passkey.
    pub verified: bool,
    /// In words: what was checked, or why it fails.
    pub verification: String,
}

/// A session as an auditor reviews it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionAudit {
    pub session: TerminalSession,
    /// The change's script; none for an unplanned session.
    pub script: Option<String>,
    /// The board, the score and the verdict against the script.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub report: Option<crate::report::AuditReport>,
    pub approvals: Vec<ApprovalCheck>,
    /// What the device printed, as text (the logs view only).
    pub transcript: Option<String>,
}
