//! Requests: asking to run a change, reading one, voting, cancelling.

use changeaudit_shared::api::requests::{
    CeremonyStart, RequestDetail, RequestSummary, StartAnswer, StartInput, VoteInput,
};
use changeaudit_shared::api::routes::requests;

use super::{ApiError, fetch, send};

pub async fn start_session(input: &StartInput) -> Result<StartAnswer, ApiError> {
    send(requests::start_session(), input).await
}

pub async fn get(id: i64) -> Result<RequestDetail, ApiError> {
    fetch(requests::get(id)).await
}

pub async fn start_signing(id: i64) -> Result<CeremonyStart, ApiError> {
    fetch(requests::start_signing(id)).await
}

pub async fn vote(id: i64, vote: &VoteInput) -> Result<RequestSummary, ApiError> {
    send(requests::vote(id), vote).await
}

pub async fn cancel(id: i64) -> Result<RequestSummary, ApiError> {
    fetch(requests::cancel(id)).await
}
