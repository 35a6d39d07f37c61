//! Requests to run a change on a device, the approvers' decisions on them, and the passkeys
//! that sign those decisions (Change Audit → My requests and My approvals; the profile).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::Named;
use super::changes::Change;
use crate::enforcement::Enforcement;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    Pending,
    Approved,
    Disapproved,
    Expired,
    Cancelled,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Pending => "pending",
            RequestStatus::Approved => "approved",
            RequestStatus::Disapproved => "disapproved",
            RequestStatus::Expired => "expired",
            RequestStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<RequestStatus> {
        [
            RequestStatus::Pending,
            RequestStatus::Approved,
            RequestStatus::Disapproved,
            RequestStatus::Expired,
            RequestStatus::Cancelled,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }

    pub fn label(self) -> &'static str {
        match self {
            RequestStatus::Pending => "Pending",
            RequestStatus::Approved => "Approved",
            RequestStatus::Disapproved => "Disapproved",
            RequestStatus::Expired => "Expired",
            RequestStatus::Cancelled => "Cancelled",
        }
    }

    /// Still waiting for votes, or approved and usable.
    pub fn is_live(self) -> bool {
        matches!(self, RequestStatus::Pending | RequestStatus::Approved)
    }
}

/// Start session on a credential: what the person asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct StartInput {
    pub credential_id: i64,
    /// Needed only when more than one change of the person's groups covers the device.
    pub change_id: Option<String>,
    /// Why; required when the change's access group requires it.
    pub justification: String,
}

/// What Start session leads to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum StartAnswer {
    /// An approved request (or a group allowing unplanned sessions) covers the person, the device
    /// and the present: the terminal may open.
    Open,
    /// A new request was made; the approvers have been told.
    Requested { request: RequestSummary },
    /// A request for this change and credential is already waiting for votes.
    Pending { request: RequestSummary },
    /// The request is approved, but the change's window has not opened yet.
    NotYet { request: RequestSummary },
}

/// A request as listed in My requests and My approvals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RequestSummary {
    pub id: i64,
    pub change_id: String,
    pub change_title: String,
    pub credential_id: i64,
    pub device: Named,
    pub account: String,
    pub requester: String,
    pub justification: String,
    pub status: RequestStatus,
    /// Why the request left its course when nobody's decision says it: "the due date passed",
    /// "the change was edited".
    pub status_reason: String,
    /// Approvals counted so far, and how many the group requires.
    pub approvals: i64,
    pub approvals_required: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub start_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub due_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Vote {
    Approved,
    Disapproved,
}

impl Vote {
    pub fn as_str(self) -> &'static str {
        match self {
            Vote::Approved => "approved",
            Vote::Disapproved => "disapproved",
        }
    }

    pub fn parse(text: &str) -> Option<Vote> {
        match text {
            "approved" => Some(Vote::Approved),
            "disapproved" => Some(Vote::Disapproved),
            _ => None,
        }
    }
}

/// One approver's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Decision {
    pub approver: String,
    pub decision: Vote,
    pub comment: String,
    #[serde(with = "time::serde::rfc3339")]
    pub decided_at: OffsetDateTime,
    /// Signed with a passkey.
    pub signed: bool,
    /// Voided by an edit of the change.
    pub voided: bool,
}

/// A request with everything an approver weighs: the change in full, the requester, the
/// justification and the votes so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RequestDetail {
    pub request: RequestSummary,
    pub change: Change,
    pub decisions: Vec<Decision>,
    /// Whether approving needs a passkey signature.
    pub passkey_required: bool,
    /// The digest an approval signs (`v2:` and a hex SHA-256): the change's ID, window, script
    /// and devices with their hosts, ports and host keys, and this request's credential; `v3:`
    /// when it also covers how the sessions are held to the script.
    pub change_digest: String,
    /// How the sessions are held to the script: the stricter of the group's setting and the
    /// change's own.
    #[serde(default)]
    pub enforcement: Enforcement,
    /// Why the person asking may not vote on it, if they may not.
    pub cannot_vote: Option<String>,
    /// Who edited the change since it was registered: like its author and the requester, none
    /// of them may approve (separation of duties).
    #[serde(default)]
    pub change_editors: Vec<String>,
    pub can_cancel: bool,
}

/// An approver's vote. `ceremony` and `credential` carry the passkey assertion that signs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VoteInput {
    pub decision: Vote,
    #[serde(default)]
    pub comment: String,
    #[serde(default)]
    pub ceremony: Option<String>,
    /// The browser's `PublicKeyCredential`, as JSON with base64url fields.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub credential: Option<serde_json::Value>,
}

/// The first step of a WebAuthn ceremony: options for `navigator.credentials`, and the ID the
/// second step names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CeremonyStart {
    pub ceremony: String,
    /// `publicKey` options as JSON with base64url fields.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub options: serde_json::Value,
}

/// A registered passkey, as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasskeyInfo {
    pub id: i64,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
}

/// The second step of registering a passkey.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasskeyInput {
    pub ceremony: String,
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub credential: serde_json::Value,
}

/// Signing in with a passkey, first step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasskeySignInStart {
    pub username: String,
}

/// Signing in with a passkey, second step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasskeySignIn {
    pub ceremony: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub credential: serde_json::Value,
}

/// Something a person is told in the app (the bell).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Notification {
    pub id: i64,
    pub kind: NotificationKind,
    /// One line for the bell's list.
    pub text: String,
    pub request_id: Option<i64>,
    pub change_id: Option<String>,
    /// On an approved request's notice: the credential its terminal opens on (Connect).
    #[serde(default)]
    pub credential_id: Option<i64>,
    /// On a held command line's notice: the session it was typed in.
    #[serde(default)]
    pub session_id: Option<i64>,
    pub read: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// To approvers: a request waits for their vote.
    RequestCreated,
    /// To the requester: the quorum is reached.
    RequestApproved,
    /// To the requester: an approver disapproved.
    RequestDisapproved,
    /// To the requester: the change was edited, the approvals are void.
    RequestVoided,
    /// To the requester: the due date passed before the quorum.
    RequestExpired,
    /// To the approvers: a command line was held in a session of their group.
    CommandBlocked,
}

impl NotificationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::RequestCreated => "request_created",
            NotificationKind::RequestApproved => "request_approved",
            NotificationKind::RequestDisapproved => "request_disapproved",
            NotificationKind::RequestVoided => "request_voided",
            NotificationKind::RequestExpired => "request_expired",
            NotificationKind::CommandBlocked => "command_blocked",
        }
    }

    pub fn parse(text: &str) -> Option<NotificationKind> {
        [
            NotificationKind::RequestCreated,
            NotificationKind::RequestApproved,
            NotificationKind::RequestDisapproved,
            NotificationKind::RequestVoided,
            NotificationKind::RequestExpired,
            NotificationKind::CommandBlocked,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == text)
    }
}

/// The bell: the latest notifications and how many are unread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Inbox {
    pub unread: i64,
    pub items: Vec<Notification>,
}

/// Which notifications to mark read: up to and including `up_to`, or all when absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct MarkRead {
    pub up_to: Option<i64>,
}
