//! The approval flow (Change Audit → My requests and My approvals): requests made by Start
//! session, approvers' votes signed with a passkey, the quorum, cancellation, expiry at the due
//! date and voiding when the change is edited. `flow` holds the rules, `store` the rows,
//! `assertion` what a signed approval keeps, `handlers` the API.

pub mod assertion;
pub mod barrier;
pub mod checks;
pub mod covering;
pub mod digest;
mod error;
pub mod flow;
pub mod handlers;
pub mod store;

pub use error::ApprovalError;
