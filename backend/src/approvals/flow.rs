//! The approval flow's rules, each run inside one write transaction: asking (Start session),
//! voting, cancelling, voiding on an edit of the change, and expiring at the due date. Each step
//! is audited and tells whom it concerns.

use std::collections::BTreeSet;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use changeaudit_shared::api::changes::{Change, ChangeStatus};
use changeaudit_shared::api::requests::{
    CeremonyStart, NotificationKind, RequestStatus, RequestSummary, StartAnswer, StartInput, Vote,
    VoteInput,
};
use changeaudit_shared::approval;
use serde_json::json;
use sqlx::AnyConnection;
use webauthn_rs::prelude::{PasskeyAuthentication, PublicKeyCredential};

use super::assertion::{self, StoredAssertion};
use super::barrier::{barrier, may_see};
use super::covering::{Covering, covering};
use super::digest;
use super::error::ApprovalError;
use super::store::{self, Facts, NewDecision};
use crate::auth::CurrentUser;
use crate::changes::{self, Visibility};
use crate::clock::Timestamp;
use crate::db::DbError;
use crate::notifications::{self, Notice};
use crate::passkeys::ceremony::{self, Ceremony, Purpose};
use crate::passkeys::{self, RelyingParty};
use crate::state::AppState;
use crate::terminal::gate::{self, Refusal};
use crate::trail::audit::{self, Actor, NewEvent};

const MAX_JUSTIFICATION_CHARS: usize = 2000;
const MAX_COMMENT_CHARS: usize = 2000;

/// Start session: open, or ask.
pub async fn start(
    state: &AppState,
    connection: &mut AnyConnection,
    me: &CurrentUser,
    input: &StartInput,
    now: Timestamp,
) -> Result<StartAnswer, ApprovalError> {
    match gate::judge(connection, me.0.id, input.credential_id, now).await? {
        Ok(_) => return Ok(StartAnswer::Open),
        Err(Refusal::NoSuchCredential(_)) => return Err(ApprovalError::NotFound),
        Err(refusal @ Refusal::NotGranted) => {
            return Err(ApprovalError::NotGranted(refusal.to_string()));
        }
        Err(Refusal::NeedsApproval) => {}
    }
    let covering = covering(connection, me.0.id, Some(input.credential_id), now).await?;
    let change = choose(covering, input.change_id.as_deref())?;
    if let Some(request) = live_request(connection, me, &change.id, input, now).await? {
        return Ok(request);
    }
    let justification = input.justification.trim();
    check_justification(justification, &change)?;
    let request = create_request(connection, me, &change.id, input, justification, now).await?;
    let approvers: Vec<i64> = store::approvers_of_group(connection, change.group_id)
        .await?
        .into_iter()
        .filter(|&approver| approver != me.0.id)
        .collect();
    let text = format!(
        "{} asks to run {} on {}",
        me.0.username, request.change_id, request.device.name
    );
    let notice = Notice {
        kind: NotificationKind::RequestCreated,
        request_id: Some(request.id),
        change_id: Some(request.change_id.clone()),
        text,
        credential_id: None,
        session_id: None,
    };
    notifications::post(connection, &state.outbound, &approvers, &notice, now).await?;
    Ok(StartAnswer::Requested { request })
}

/// Sets request `id`'s status as it leaves its course, and takes its question out of the
/// approvers' bells.
async fn closed(
    connection: &mut AnyConnection,
    id: i64,
    status: RequestStatus,
    reason: &str,
    now: Timestamp,
) -> Result<(), DbError> {
    store::set_status(connection, id, status, reason, now).await?;
    notifications::asked_no_more(connection, id, now).await
}

/// The change the person named, or the only one there is.
fn choose(mut covering: Vec<Covering>, wanted: Option<&str>) -> Result<Covering, ApprovalError> {
    if covering.is_empty() {
        return Err(ApprovalError::NoChangeCovers);
    }
    let ids = || covering.iter().map(|change| change.id.clone()).collect();
    let chosen = match wanted.map(str::trim) {
        Some(wanted) if !wanted.is_empty() => covering
            .iter()
            .position(|change| change.id.eq_ignore_ascii_case(wanted))
            .ok_or_else(|| ApprovalError::NotACoveringChange(ids()))?,
        _ if covering.len() == 1 => 0,
        _ => return Err(ApprovalError::SeveralChangesCover(ids())),
    };
    Ok(covering.swap_remove(chosen))
}

/// A live request of this person for this change and credential answers for itself.
async fn live_request(
    connection: &mut AnyConnection,
    me: &CurrentUser,
    change_id: &str,
    input: &StartInput,
    now: Timestamp,
) -> Result<Option<StartAnswer>, ApprovalError> {
    let existing: Option<(i64, String)> = sqlx::query_as(
        "SELECT id, status FROM requests
         WHERE requester_id = $1 AND change_id = $2 AND credential_id = $3
           AND status IN ('pending', 'approved')
         ORDER BY id DESC LIMIT 1",
    )
    .bind(me.0.id)
    .bind(change_id)
    .bind(input.credential_id)
    .fetch_optional(&mut *connection)
    .await?;
    let Some((id, status)) = existing else {
        return Ok(None);
    };
    let request = store::summary(connection, id, now).await?;
    Ok(Some(if status == "approved" {
        StartAnswer::NotYet { request }
    } else {
        StartAnswer::Pending { request }
    }))
}

fn check_justification(justification: &str, change: &Covering) -> Result<(), ApprovalError> {
    if change.justification_required && justification.is_empty() {
        return Err(ApprovalError::JustificationRequired(
            change.group_name.clone(),
        ));
    }
    if justification.chars().count() > MAX_JUSTIFICATION_CHARS {
        return Err(ApprovalError::TooLong {
            field: "justification",
            max: MAX_JUSTIFICATION_CHARS,
        });
    }
    Ok(())
}

/// The request stored and audited.
async fn create_request(
    connection: &mut AnyConnection,
    me: &CurrentUser,
    change_id: &str,
    input: &StartInput,
    justification: &str,
    now: Timestamp,
) -> Result<RequestSummary, ApprovalError> {
    let id = store::insert_request(
        connection,
        change_id,
        input.credential_id,
        me.0.id,
        justification,
        now,
    )
    .await?;
    let request = store::summary(connection, id, now).await?;
    let details = json!({
        "change_id": request.change_id,
        "credential_id": request.credential_id,
        "device": request.device.name,
        "account": request.account,
        "justification": request.justification,
    });
    let event = NewEvent::by(
        &me.0.username,
        "request.created",
        format!("request:{id}"),
        details,
    );
    audit::append(connection, event, now).await?;
    Ok(request)
}

/// Refuses with the rule that keeps `me` from voting (404 to those who may not see it).
async fn require_vote(
    connection: &mut AnyConnection,
    me: &CurrentUser,
    request: &RequestSummary,
    facts: &Facts,
) -> Result<(), ApprovalError> {
    match barrier(connection, &me.0, request, facts).await? {
        None => Ok(()),
        Some(barrier) if !may_see(&me.0, facts, Some(&barrier)) => Err(ApprovalError::NotFound),
        Some(barrier) => Err(ApprovalError::Barred(barrier)),
    }
}

/// The change a request is for, as it is now.
async fn change_of(
    connection: &mut AnyConnection,
    request: &RequestSummary,
    now: Timestamp,
) -> Result<Change, ApprovalError> {
    Ok(changes::view(connection, &request.change_id, Visibility::All, now).await?)
}

/// The first step of signing an approval: a challenge bound to this request and to the digest
/// of the change as it is now.
pub async fn start_signing(
    state: &AppState,
    connection: &mut AnyConnection,
    me: &CurrentUser,
    request_id: i64,
    now: Timestamp,
) -> Result<CeremonyStart, ApprovalError> {
    let request = store::summary(connection, request_id, now).await?;
    let facts = store::facts(connection, request_id).await?;
    require_vote(connection, me, &request, &facts).await?;
    let change = change_of(connection, &request, now).await?;
    let digest = digest::of_request(connection, &request, &change).await?;
    let keys = passkeys::passkeys_of(connection, me.0.id).await?;
    if keys.is_empty() {
        return Err(ApprovalError::NoPasskey);
    }
    let nonce = crate::random::bytes::<16>();
    let challenge = approval::challenge(request_id, &digest, &nonce);
    let passkeys: Vec<_> = keys.into_iter().map(|key| key.passkey).collect();
    let (options, ceremony_state) = state
        .passkeys
        .start_assertion(&passkeys, Some(&challenge))
        .map_err(|error| ApprovalError::internal("starting a passkey assertion", error))?;
    let mut ceremony = Ceremony::new(Purpose::Approve, me.0.id, &ceremony_state)?;
    ceremony.request_id = Some(request_id);
    ceremony.change_digest = Some(digest);
    ceremony.nonce = Some(URL_SAFE_NO_PAD.encode(nonce));
    Ok(ceremony::start(connection, &ceremony, &options, now).await?)
}

/// The passkey assertion offered with a vote: its ceremony, already taken out of the store
/// (`None` when it had expired or was used), and the browser's answer.
pub struct Signature {
    pub ceremony: Option<Ceremony>,
    pub credential: PublicKeyCredential,
}

/// Checks the passkey assertion of an approval and returns it as it will be stored.
async fn signed_approval(
    rp: &RelyingParty,
    connection: &mut AnyConnection,
    me: &CurrentUser,
    request_id: i64,
    digest: &str,
    signature: Option<&Signature>,
    now: Timestamp,
) -> Result<StoredAssertion, ApprovalError> {
    let Some(signature) = signature else {
        return Err(ApprovalError::SignatureMissing);
    };
    let refused = ApprovalError::SignatureRefused;
    let ceremony = signature
        .ceremony
        .as_ref()
        .filter(|ceremony| ceremony.user_id == me.0.id)
        .ok_or_else(|| refused("this signing has expired or was already used: sign again"))?;
    if ceremony.request_id != Some(request_id) {
        return Err(refused("this signature was made for another request"));
    }
    // An edit voids the request, so this holds while it takes votes; checked all the same, as
    // the stored assertion must carry the digest its challenge was made from.
    if ceremony.change_digest.as_deref() != Some(digest) {
        return Err(refused(
            "the change was edited after you started signing: read it again and sign again",
        ));
    }
    let nonce = ceremony
        .nonce
        .as_deref()
        .and_then(|nonce| URL_SAFE_NO_PAD.decode(nonce).ok())
        .ok_or_else(|| refused("this signing is damaged: sign again"))?;
    let ceremony_state: PasskeyAuthentication = ceremony.state()?;
    let (signed, result) = rp
        .finish_assertion(&signature.credential, &ceremony_state)
        .map_err(|error| {
            tracing::info!(username = %me.0.username, request_id, %error, "approval signature refused");
            refused("the passkey signature was refused: sign again with one of your passkeys")
        })?;
    let mut keys = passkeys::passkeys_of(connection, me.0.id).await?;
    let key = keys
        .iter_mut()
        .find(|key| key.passkey.cred_id().as_slice() == signed.credential_id.as_slice())
        .ok_or_else(|| refused("the passkey is not one of yours"))?;
    key.passkey.update_credential(&result);
    passkeys::touch(connection, key.id, &key.passkey, now).await?;
    let stored = assertion::stored(
        rp.id(),
        request_id,
        digest,
        &nonce,
        &signed,
        key.passkey.get_public_key(),
    )
    .map_err(|error| ApprovalError::internal("encoding a passkey's public key", error))?;
    // The same check an auditor runs later, on what is about to be stored.
    stored
        .verify()
        .map_err(|error| ApprovalError::internal("checking a stored assertion", error))?;
    Ok(stored)
}

/// An approver's vote; the quorum approves, one disapproval disapproves.
pub async fn vote(
    state: &AppState,
    connection: &mut AnyConnection,
    me: &CurrentUser,
    request_id: i64,
    input: &VoteInput,
    signature: Option<&Signature>,
    now: Timestamp,
) -> Result<RequestSummary, ApprovalError> {
    let request = store::summary(connection, request_id, now).await?;
    let facts = store::facts(connection, request_id).await?;
    require_vote(connection, me, &request, &facts).await?;
    let comment = checked_comment(input)?;
    let change = change_of(connection, &request, now).await?;
    let digest = digest::of_request(connection, &request, &change).await?;
    let assertion = if input.decision == Vote::Approved && facts.passkey_required {
        let rp = &state.passkeys;
        Some(signed_approval(rp, connection, me, request_id, &digest, signature, now).await?)
    } else {
        None
    };
    let assertion_json = assertion
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(DbError::encode)?;
    store::insert_decision(
        connection,
        &NewDecision {
            request_id,
            approver_id: me.0.id,
            vote: input.decision,
            comment,
            change_digest: &digest,
            assertion: assertion_json,
        },
        now,
    )
    .await?;
    audit::append(
        connection,
        NewEvent::by(
            &me.0.username,
            "request.vote",
            format!("request:{request_id}"),
            json!({
                "decision": input.decision,
                "comment": comment,
                "change_id": request.change_id,
                "change_digest": digest,
                "assertion": assertion,
            }),
        ),
        now,
    )
    .await?;

    let approvals = request.approvals + i64::from(input.decision == Vote::Approved);
    if let Some((status, kind)) = outcome(input.decision, approvals, &request) {
        settle(
            state, connection, me, &request, &facts, status, kind, approvals, now,
        )
        .await?;
    }
    Ok(store::summary(connection, request_id, now).await?)
}

/// A vote's comment, trimmed: required to disapprove, and not too long.
fn checked_comment(input: &VoteInput) -> Result<&str, ApprovalError> {
    let comment = input.comment.trim();
    if input.decision == Vote::Disapproved && comment.is_empty() {
        return Err(ApprovalError::DisapprovalWithoutReason);
    }
    if comment.chars().count() > MAX_COMMENT_CHARS {
        return Err(ApprovalError::TooLong {
            field: "comment",
            max: MAX_COMMENT_CHARS,
        });
    }
    Ok(comment)
}

/// What a vote decides: one disapproval disapproves, the quorum approves, else nothing yet.
fn outcome(
    vote: Vote,
    approvals: i64,
    request: &RequestSummary,
) -> Option<(RequestStatus, NotificationKind)> {
    match vote {
        Vote::Disapproved => Some((
            RequestStatus::Disapproved,
            NotificationKind::RequestDisapproved,
        )),
        Vote::Approved if approvals >= request.approvals_required => {
            Some((RequestStatus::Approved, NotificationKind::RequestApproved))
        }
        Vote::Approved => None,
    }
}

/// The request decided: its status, the change approved with its first approved request, the
/// trail, and the requester told.
#[allow(clippy::too_many_arguments)]
async fn settle(
    state: &AppState,
    connection: &mut AnyConnection,
    me: &CurrentUser,
    request: &RequestSummary,
    facts: &Facts,
    status: RequestStatus,
    kind: NotificationKind,
    approvals: i64,
    now: Timestamp,
) -> Result<(), ApprovalError> {
    closed(connection, request.id, status, "", now).await?;
    let verb = if status == RequestStatus::Approved {
        sqlx::query(
            "UPDATE changes SET status = 'approved', updated_at = $2
             WHERE id = $1 AND status = 'waiting_approval'",
        )
        .bind(&request.change_id)
        .bind(now.as_millis())
        .execute(&mut *connection)
        .await?;
        "approved"
    } else {
        "disapproved"
    };
    audit::append(
        connection,
        NewEvent {
            actor: Actor::System,
            action: if verb == "approved" {
                "request.approved"
            } else {
                "request.disapproved"
            },
            object: Some(format!("request:{}", request.id)),
            details: json!({
                "change_id": request.change_id,
                "approvals": approvals,
                "approvals_required": request.approvals_required,
                "decided_by": me.0.username,
            }),
        },
        now,
    )
    .await?;
    notifications::post(
        connection,
        &state.outbound,
        &[facts.requester_id],
        &Notice {
            kind,
            request_id: Some(request.id),
            change_id: Some(request.change_id.clone()),
            text: format!(
                "Your request to run {} on {} is {verb}",
                request.change_id, request.device.name
            ),
            credential_id: (status == RequestStatus::Approved).then_some(request.credential_id),
            session_id: None,
        },
        now,
    )
    .await?;
    Ok(())
}

/// The requester withdraws a request still pending or approved.
pub async fn cancel(
    connection: &mut AnyConnection,
    me: &CurrentUser,
    request_id: i64,
    now: Timestamp,
) -> Result<RequestSummary, ApprovalError> {
    let request = store::summary(connection, request_id, now).await?;
    let facts = store::facts(connection, request_id).await?;
    if facts.requester_id != me.0.id {
        let barrier = barrier(connection, &me.0, &request, &facts).await?;
        return Err(if may_see(&me.0, &facts, barrier.as_ref()) {
            ApprovalError::NotTheRequester
        } else {
            ApprovalError::NotFound
        });
    }
    if !request.status.is_live() {
        return Err(ApprovalError::AlreadyClosed(request.status));
    }
    closed(connection, request_id, RequestStatus::Cancelled, "", now).await?;
    let before = request.status;
    let after = RequestSummary {
        status: RequestStatus::Cancelled,
        updated_at: now.to_datetime(),
        ..request
    };
    audit::append(
        connection,
        NewEvent::by(
            &me.0.username,
            "request.cancelled",
            format!("request:{request_id}"),
            json!({ "change_id": after.change_id, "before": { "status": before } }),
        ),
        now,
    )
    .await?;
    Ok(after)
}

/// The live (pending or approved) requests a voiding reaches.
#[derive(Debug, Clone, Copy)]
pub enum Reach<'a> {
    /// Those of a change.
    Change(&'a str),
    /// Those of every change that includes a device.
    Device(i64),
    /// Those that would run with a credential.
    Credential(i64),
    /// One request.
    Request(i64),
}

/// Voids the live requests `reach` names: their votes no longer count, each is cancelled with
/// `reason`, audited and its requester told; an approved change waits for approval again.
pub async fn void_requests(
    state: &AppState,
    connection: &mut AnyConnection,
    reach: Reach<'_>,
    reason: &str,
    now: Timestamp,
) -> Result<(), ApprovalError> {
    let filter = match reach {
        Reach::Change(_) => "change_id = $1",
        Reach::Device(_) => {
            "(change_id IN (SELECT change_id FROM change_devices WHERE device_id = $1)
              OR credential_id IN (SELECT id FROM credentials WHERE device_id = $1))"
        }
        Reach::Credential(_) => "credential_id = $1",
        Reach::Request(_) => "id = $1",
    };
    let sql = format!(
        "SELECT id, requester_id, change_id FROM requests
         WHERE {filter} AND status IN ('pending', 'approved') ORDER BY id"
    );
    let query = sqlx::query_as(&sql);
    let query = match reach {
        Reach::Change(id) => query.bind(id),
        Reach::Device(id) | Reach::Credential(id) | Reach::Request(id) => query.bind(id),
    };
    let live: Vec<(i64, i64, String)> = query.fetch_all(&mut *connection).await?;
    let mut touched: BTreeSet<String> = live.iter().map(|(.., change)| change.clone()).collect();
    if let Reach::Change(id) = reach {
        touched.insert(id.to_owned());
    }
    for (id, requester, change_id) in live {
        void_one(state, connection, (id, requester, &change_id), reason, now).await?;
    }
    for change_id in touched {
        sqlx::query(
            "UPDATE changes SET status = 'waiting_approval', updated_at = $3
             WHERE id = $1 AND status = $2",
        )
        .bind(&change_id)
        .bind(ChangeStatus::Approved.as_str())
        .bind(now.as_millis())
        .execute(&mut *connection)
        .await?;
    }
    Ok(())
}

/// Voids request `id` of `requester` for `change_id`.
async fn void_one(
    state: &AppState,
    connection: &mut AnyConnection,
    (id, requester, change_id): (i64, i64, &str),
    reason: &str,
    now: Timestamp,
) -> Result<(), ApprovalError> {
    let before = store::summary(connection, id, now).await?;
    sqlx::query("UPDATE decisions SET voided_at = $2 WHERE request_id = $1 AND voided_at IS NULL")
        .bind(id)
        .bind(now.as_millis())
        .execute(&mut *connection)
        .await?;
    closed(connection, id, RequestStatus::Cancelled, reason, now).await?;
    audit::append(
        connection,
        NewEvent {
            actor: Actor::System,
            action: "request.voided",
            object: Some(format!("request:{id}")),
            details: json!({
                "change_id": change_id,
                "reason": reason,
                "before": { "status": before.status, "approvals": before.approvals },
            }),
        },
        now,
    )
    .await?;
    notifications::post(
        connection,
        &state.outbound,
        &[requester],
        &Notice {
            kind: NotificationKind::RequestVoided,
            request_id: Some(id),
            change_id: Some(change_id.to_owned()),
            text: format!("Your request to run {change_id} is void: {reason}"),
            credential_id: None,
            session_id: None,
        },
        now,
    )
    .await?;
    Ok(())
}

/// Marks the pending requests whose change's due date has passed as expired, audits and tells
/// each requester. Any replica may run it: it works under the write lock, and a request expires
/// once.
pub async fn expire_due(state: &AppState) -> Result<usize, ApprovalError> {
    let now = state.clock.now();
    const DUE: &str =
        "SELECT r.id, r.requester_id FROM requests r JOIN changes c ON c.id = r.change_id
         WHERE r.status = 'pending' AND c.due_at <= $1 ORDER BY r.id";
    // Looked at without the write lock first: most sweeps find nothing.
    let any: Option<(i64, i64)> = sqlx::query_as(DUE)
        .bind(now.as_millis())
        .fetch_optional(state.db.pool())
        .await
        .map_err(DbError::from)?;
    if any.is_none() {
        return Ok(0);
    }
    let mut tx = state.db.begin_write().await?;
    let due: Vec<(i64, i64)> = sqlx::query_as(DUE)
        .bind(now.as_millis())
        .fetch_all(&mut *tx)
        .await?;
    for &(id, requester) in &due {
        let request = store::summary(&mut tx, id, now).await?;
        closed(
            &mut tx,
            id,
            RequestStatus::Expired,
            store::EXPIRED_REASON,
            now,
        )
        .await?;
        audit::append(
            &mut tx,
            NewEvent {
                actor: Actor::System,
                action: "request.expired",
                object: Some(format!("request:{id}")),
                details: json!({
                    "change_id": request.change_id,
                    "approvals": request.approvals,
                    "approvals_required": request.approvals_required,
                }),
            },
            now,
        )
        .await?;
        notifications::post(
            &mut tx,
            &state.outbound,
            &[requester],
            &Notice {
                kind: NotificationKind::RequestExpired,
                request_id: Some(id),
                change_id: Some(request.change_id.clone()),
                text: format!(
                    "Your request to run {} on {} expired at its due date",
                    request.change_id, request.device.name
                ),
                credential_id: None,
                session_id: None,
            },
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(due.len())
}
