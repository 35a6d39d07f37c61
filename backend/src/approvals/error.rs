//! Why the approval flow refuses or fails, in its own words; `crate::error` turns each into
//! problem details.

use changeaudit_shared::api::requests::RequestStatus;

use crate::db::DbError;

use super::barrier::Barrier;

#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    /// The request, change or credential does not exist, or not for this person.
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    NotGranted(String),
    #[error(
        "no open change of your access groups covers this device before its due date (executed \
         and cancelled changes run no more), and your group does not allow sessions outside a \
         change"
    )]
    NoChangeCovers,
    #[error("must be one of the changes covering this device: {}", .0.join(", "))]
    NotACoveringChange(Vec<String>),
    #[error("several changes cover this device: choose one of {}", .0.join(", "))]
    SeveralChangesCover(Vec<String>),
    #[error("is required by access group {0}")]
    JustificationRequired(String),
    #[error("must be at most {max} characters")]
    TooLong { field: &'static str, max: usize },
    #[error("{}", .0.message())]
    Barred(Barrier),
    #[error("only the requester cancels a request")]
    NotTheRequester,
    #[error("the request is already {}", .0.label().to_lowercase())]
    AlreadyClosed(RequestStatus),
    #[error("say why the request is disapproved")]
    DisapprovalWithoutReason,
    #[error("approving needs your passkey: register one in your profile first")]
    NoPasskey,
    #[error("approving this request needs your passkey's signature")]
    SignatureMissing,
    /// The signature offered does not hold; says what to do.
    #[error("{0}")]
    SignatureRefused(&'static str),
    #[error("{context}: {source}")]
    Internal {
        context: &'static str,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(transparent)]
    Db(#[from] DbError),
}

impl ApprovalError {
    pub fn internal(
        context: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        ApprovalError::Internal {
            context,
            source: source.into(),
        }
    }
}

impl From<sqlx::Error> for ApprovalError {
    fn from(error: sqlx::Error) -> Self {
        ApprovalError::Db(error.into())
    }
}
