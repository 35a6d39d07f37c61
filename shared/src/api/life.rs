//! What happened to a change (`GET /api/changes/{id}/life`): its requests with their
//! decisions, and the sessions run under it, as its page shows them.

use serde::{Deserialize, Serialize};

use super::requests::{Decision, RequestSummary};
use super::sessions::TerminalSession;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChangeLife {
    /// Newest first.
    pub requests: Vec<RequestLife>,
    /// Newest first, each without its commands (the session's own page lists them).
    pub sessions: Vec<TerminalSession>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RequestLife {
    pub request: RequestSummary,
    /// In the order they were given, voided ones included and marked.
    pub decisions: Vec<Decision>,
}
