//! `POST /api/requests` (Start session), `GET /api/requests/mine`, `GET /api/requests/to-approve`,
//! `GET /api/requests/{id}`, `POST /api/requests/{id}/signing` (a passkey challenge for the
//! vote), `POST /api/requests/{id}/decisions` and `POST /api/requests/{id}/cancel`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use changeaudit_shared::api::Page;
use changeaudit_shared::api::requests::{
    CeremonyStart, RequestDetail, RequestStatus, RequestSummary, StartAnswer, StartInput, VoteInput,
};
use changeaudit_shared::problem::Problem;
use serde::Deserialize;
use serde_json::json;
use webauthn_rs::prelude::PublicKeyCredential;

use super::store::{self, Listing};
use super::{ApprovalError, barrier, digest, flow};
use crate::auth::CurrentUser;
use crate::changes::{self, Visibility};
use crate::error::{ApiJson, ApiPath, ApiQuery, AppError};
use crate::listing::Paging;
use crate::passkeys::ceremony::{self, Purpose};
use crate::state::AppState;
use crate::trail::audit::{self, NewEvent};

#[utoipa::path(post, path = "/api/requests", tag = "requests", request_body = StartInput,
    responses((status = 200, body = StartAnswer, description = "The terminal may open, or a request already answers"),
        (status = 201, body = StartAnswer, description = "A request was made"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn start_session(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiJson(input): ApiJson<StartInput>,
) -> Result<(StatusCode, Json<StartAnswer>), AppError> {
    let now = state.clock.now();
    let mut tx = state.db.begin_write().await?;
    let answer = flow::start(&state, &mut tx, &me, &input, now).await?;
    tx.commit().await?;
    let status = match answer {
        StartAnswer::Requested { .. } => StatusCode::CREATED,
        _ => StatusCode::OK,
    };
    Ok((status, Json(answer)))
}

/// `?status=`: only requests in this status.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RequestQuery {
    pub status: Option<RequestStatus>,
}

async fn listed(
    state: &AppState,
    listing: Listing,
    query: RequestQuery,
    paging: Paging,
) -> Result<Json<Page<RequestSummary>>, AppError> {
    let mut connection = state.db.pool().acquire().await?;
    let now = state.clock.now();
    let (items, total) = store::list(&mut connection, listing, query.status, paging, now).await?;
    Ok(Json(paging.page(items, total)))
}

#[utoipa::path(get, path = "/api/requests/mine", tag = "requests", params(RequestQuery, Paging),
    responses((status = 200, body = Page<RequestSummary>), (status = 401, body = Problem)))]
pub async fn my_requests(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiQuery(query): ApiQuery<RequestQuery>,
    ApiQuery(paging): ApiQuery<Paging>,
) -> Result<Json<Page<RequestSummary>>, AppError> {
    listed(&state, Listing::MadeBy(me.0.id), query, paging).await
}

#[utoipa::path(get, path = "/api/requests/to-approve", tag = "requests", params(RequestQuery, Paging),
    responses((status = 200, body = Page<RequestSummary>), (status = 401, body = Problem)))]
pub async fn requests_to_approve(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiQuery(query): ApiQuery<RequestQuery>,
    ApiQuery(paging): ApiQuery<Paging>,
) -> Result<Json<Page<RequestSummary>>, AppError> {
    listed(&state, Listing::ToApprove(me.0.id), query, paging).await
}

#[utoipa::path(get, path = "/api/requests/{id}", tag = "requests", params(("id" = i64, Path)),
    responses((status = 200, body = RequestDetail), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn get_request(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<RequestDetail>, AppError> {
    let now = state.clock.now();
    let mut connection = state.db.pool().acquire().await?;
    let request = store::summary(&mut connection, id, now).await?;
    let facts = store::facts(&mut connection, id).await?;
    let barrier = barrier::barrier(&mut connection, &me.0, &request, &facts).await?;
    if !barrier::may_see(&me.0, &facts, barrier.as_ref()) {
        return Err(AppError::NotFound);
    }
    let change = changes::view(&mut connection, &request.change_id, Visibility::All, now).await?;
    Ok(Json(RequestDetail {
        change_digest: digest::of_request(&mut connection, &request, &change).await?,
        enforcement: digest::enforcement_of(&mut connection, &change).await?,
        decisions: store::decisions(&mut connection, id).await?,
        passkey_required: facts.passkey_required,
        cannot_vote: barrier.map(|barrier| barrier.message()),
        change_editors: changes::editors(&mut connection, &request.change_id).await?,
        can_cancel: facts.requester_id == me.0.id && request.status.is_live(),
        request,
        change,
    }))
}

#[utoipa::path(post, path = "/api/requests/{id}/signing", tag = "requests", params(("id" = i64, Path)),
    responses((status = 200, body = CeremonyStart), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn start_signing(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<CeremonyStart>, AppError> {
    let now = state.clock.now();
    let mut tx = state.db.begin_write().await?;
    let started = flow::start_signing(&state, &mut tx, &me, id, now).await?;
    tx.commit().await?;
    Ok(Json(started))
}

#[utoipa::path(post, path = "/api/requests/{id}/decisions", tag = "requests", params(("id" = i64, Path)),
    request_body = VoteInput,
    responses((status = 200, body = RequestSummary), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn vote(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<VoteInput>,
) -> Result<Json<RequestSummary>, AppError> {
    let credential = input
        .credential
        .clone()
        .map(serde_json::from_value::<PublicKeyCredential>)
        .transpose()
        .map_err(|_| AppError::field("credential", "is not a WebAuthn assertion"))?;
    let now = state.clock.now();
    // The signing ceremony is used up by this attempt, whatever comes of the vote.
    let signature = match (input.ceremony.as_deref(), credential) {
        (Some(ceremony), Some(credential)) => {
            let mut tx = state.db.begin_write().await?;
            let ceremony = ceremony::take(&mut tx, ceremony, Purpose::Approve, now).await?;
            tx.commit().await?;
            Some(flow::Signature {
                ceremony,
                credential,
            })
        }
        _ => None,
    };
    let mut tx = state.db.begin_write().await?;
    let voted = flow::vote(&state, &mut tx, &me, id, &input, signature.as_ref(), now).await;
    match voted {
        Ok(request) => {
            tx.commit().await?;
            Ok(Json(request))
        }
        Err(error) => {
            drop(tx);
            if let ApprovalError::SignatureRefused(reason) = &error {
                // The vote's transaction is undone; the refusal is kept in one of its own.
                let credential = signature
                    .as_ref()
                    .map(|signed| signed.credential.id.clone());
                let details = json!({
                    "decision": input.decision,
                    "reason": reason,
                    "credential_id": credential,
                });
                let event = NewEvent::by(
                    &me.0.username,
                    "request.signature_refused",
                    format!("request:{id}"),
                    details,
                );
                if let Err(failed) = audit::record(&state.db, event, now).await {
                    tracing::error!(error = %failed, request = id, "auditing a refused signature");
                }
            }
            Err(error.into())
        }
    }
}

#[utoipa::path(post, path = "/api/requests/{id}/cancel", tag = "requests", params(("id" = i64, Path)),
    responses((status = 200, body = RequestSummary), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn cancel_request(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<RequestSummary>, AppError> {
    let now = state.clock.now();
    let mut tx = state.db.begin_write().await?;
    let request = flow::cancel(&mut tx, &me, id, now).await?;
    tx.commit().await?;
    Ok(Json(request))
}
