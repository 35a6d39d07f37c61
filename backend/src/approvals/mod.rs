//! The approval flow (Change Audit → My requests and My approvals): requests made by Start
//! session, approvers' votes signed with a passkey, the quorum, cancellation, expiry at the due
//! date and voiding when the change is edited. `flow` holds the rules, `store` the rows,
//! `assertion` what a signed approval keeps, `handlers` the API.

pub mod assertion;
pub mod flow;
pub mod handlers;
pub mod store;

use std::time::Duration;

use crate::state::AppState;

/// Expires due requests every `period` until the process ends.
pub async fn run_expiry(state: AppState, period: Duration) {
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Err(error) = flow::expire_due(&state).await {
            tracing::warn!(%error, "expiring requests");
        }
    }
}
