//! Requests and decisions as stored, and read back as the API shows them.

use changeaudit_shared::api::Named;
use changeaudit_shared::api::requests::{Decision, RequestStatus, RequestSummary, Vote};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::clock::Timestamp;
use crate::db::DbError;
use crate::listing::{Arg, Filter, Paging};

/// The status as of `?` (now): a request still pending at its change's due date has expired,
/// whether or not the sweeper has written so yet.
const STATUS: &str =
    "(CASE WHEN r.status = 'pending' AND c.due_at <= ? THEN 'expired' ELSE r.status END)";

const FROM: &str = "requests r
     JOIN changes c ON c.id = r.change_id
     JOIN access_groups g ON g.id = c.access_group_id
     JOIN credentials cr ON cr.id = r.credential_id
     JOIN devices d ON d.id = cr.device_id
     JOIN users u ON u.id = r.requester_id";

fn columns(status_placeholder: usize) -> String {
    format!(
        "r.id, r.change_id, c.title, r.credential_id, d.id AS device_id, d.name AS device_name,
         cr.username AS account, u.username AS requester, r.justification,
         {} AS status, r.status_reason, g.approvals_required, c.start_at, c.due_at,
         r.created_at, r.updated_at,
         (SELECT COUNT(*) FROM decisions x WHERE x.request_id = r.id
              AND x.decision = 'approved' AND x.voided_at IS NULL) AS approvals",
        STATUS.replace('?', &format!("${status_placeholder}"))
    )
}

fn decode(message: String) -> DbError {
    DbError::decode(message)
}

fn summary_of(row: &AnyRow) -> Result<RequestSummary, DbError> {
    let status: String = row.try_get("status")?;
    let at = |column: &str| -> Result<time::OffsetDateTime, DbError> {
        Ok(Timestamp::from_millis(row.try_get(column)?).to_datetime())
    };
    let mut reason: String = row.try_get("status_reason")?;
    let status = RequestStatus::parse(&status)
        .ok_or_else(|| decode(format!("unknown request status `{status}`")))?;
    if status == RequestStatus::Expired && reason.is_empty() {
        reason = EXPIRED_REASON.to_owned();
    }
    Ok(RequestSummary {
        id: row.try_get("id")?,
        change_id: row.try_get("change_id")?,
        change_title: row.try_get("title")?,
        credential_id: row.try_get("credential_id")?,
        device: Named {
            id: row.try_get("device_id")?,
            name: row.try_get("device_name")?,
        },
        account: row.try_get("account")?,
        requester: row.try_get("requester")?,
        justification: row.try_get("justification")?,
        status,
        status_reason: reason,
        approvals: row.try_get("approvals")?,
        approvals_required: row.try_get("approvals_required")?,
        start_at: at("start_at")?,
        due_at: at("due_at")?,
        created_at: at("created_at")?,
        updated_at: at("updated_at")?,
    })
}

pub const EXPIRED_REASON: &str = "the change's due date passed before the quorum was reached";
pub const VOIDED_REASON: &str = "the change was edited after the request was made: ask again";

/// Whose requests a list shows.
#[derive(Debug, Clone, Copy)]
pub enum Listing {
    /// My requests.
    MadeBy(i64),
    /// My approvals: requests of the groups this person approves for.
    ToApprove(i64),
}

pub async fn list(
    connection: &mut AnyConnection,
    listing: Listing,
    status: Option<RequestStatus>,
    paging: Paging,
    now: Timestamp,
) -> Result<(Vec<RequestSummary>, i64), DbError> {
    let mut filter = Filter::default();
    match listing {
        Listing::MadeBy(user_id) => filter.and("r.requester_id = ?", [Arg::Int(user_id)]),
        Listing::ToApprove(user_id) => filter.and(
            "c.access_group_id IN (SELECT group_id FROM group_members
                 WHERE user_id = ? AND approver)",
            [Arg::Int(user_id)],
        ),
    }
    if let Some(status) = status {
        filter.and(
            &format!("{STATUS} = ?"),
            [
                Arg::Int(now.as_millis()),
                Arg::Text(status.as_str().to_owned()),
            ],
        );
    }
    let total = filter.count(connection, FROM).await?;
    let next = filter.next_placeholder();
    let sql = format!(
        "SELECT {} FROM {FROM}{} ORDER BY r.id DESC LIMIT ${} OFFSET ${}",
        columns(next),
        filter.where_clause(),
        next + 1,
        next + 2
    );
    let rows = filter
        .bind(sqlx::query(&sql))
        .bind(now.as_millis())
        .bind(paging.limit())
        .bind(paging.offset())
        .fetch_all(&mut *connection)
        .await?;
    let items = rows.iter().map(summary_of).collect::<Result<_, _>>()?;
    Ok((items, total))
}

pub async fn summary(
    connection: &mut AnyConnection,
    id: i64,
    now: Timestamp,
) -> Result<RequestSummary, DbError> {
    let sql = format!("SELECT {} FROM {FROM} WHERE r.id = $2", columns(1));
    let row = sqlx::query(&sql)
        .bind(now.as_millis())
        .bind(id)
        .fetch_one(connection)
        .await?;
    summary_of(&row)
}

/// How many of a change's requests, or sessions, its page shows: the newest.
pub const LIFE_LIMIT: i64 = 200;

/// The requests of change `change_id` (as stored), newest first.
pub async fn of_change(
    connection: &mut AnyConnection,
    change_id: &str,
    now: Timestamp,
) -> Result<Vec<RequestSummary>, DbError> {
    let sql = format!(
        "SELECT {} FROM {FROM} WHERE r.change_id = $2 ORDER BY r.id DESC LIMIT $3",
        columns(1)
    );
    let rows = sqlx::query(&sql)
        .bind(now.as_millis())
        .bind(change_id)
        .bind(LIFE_LIMIT)
        .fetch_all(connection)
        .await?;
    rows.iter().map(summary_of).collect()
}

/// What the rules of a request need beyond its summary.
#[derive(Debug, Clone)]
pub struct Facts {
    pub requester_id: i64,
    pub change_author_id: i64,
    pub group_id: i64,
    pub group_name: String,
    pub passkey_required: bool,
}

pub async fn facts(connection: &mut AnyConnection, id: i64) -> Result<Facts, DbError> {
    let row = sqlx::query(
        "SELECT r.requester_id, c.author_id, g.id AS group_id, g.name AS group_name,
                CAST(CASE WHEN g.passkey_required_to_approve THEN 1 ELSE 0 END AS BIGINT) AS passkey
         FROM requests r JOIN changes c ON c.id = r.change_id
         JOIN access_groups g ON g.id = c.access_group_id
         WHERE r.id = $1",
    )
    .bind(id)
    .fetch_one(connection)
    .await?;
    Ok(Facts {
        requester_id: row.try_get("requester_id")?,
        change_author_id: row.try_get("author_id")?,
        group_id: row.try_get("group_id")?,
        group_name: row.try_get("group_name")?,
        passkey_required: crate::db::flag(&row, "passkey")?,
    })
}

pub async fn decisions(
    connection: &mut AnyConnection,
    request_id: i64,
) -> Result<Vec<Decision>, DbError> {
    let rows = sqlx::query(
        "SELECT u.username, x.decision, x.comment, x.decided_at,
                CAST(CASE WHEN x.assertion IS NULL THEN 0 ELSE 1 END AS BIGINT) AS signed,
                CAST(CASE WHEN x.voided_at IS NULL THEN 0 ELSE 1 END AS BIGINT) AS voided
         FROM decisions x JOIN users u ON u.id = x.approver_id
         WHERE x.request_id = $1 ORDER BY x.decided_at, x.id",
    )
    .bind(request_id)
    .fetch_all(connection)
    .await?;
    rows.iter()
        .map(|row| {
            let decision: String = row.try_get("decision")?;
            Ok(Decision {
                approver: row.try_get("username")?,
                decision: Vote::parse(&decision)
                    .ok_or_else(|| decode(format!("unknown decision `{decision}`")))?,
                comment: row.try_get("comment")?,
                decided_at: Timestamp::from_millis(row.try_get("decided_at")?).to_datetime(),
                signed: crate::db::flag(row, "signed")?,
                voided: crate::db::flag(row, "voided")?,
            })
        })
        .collect()
}

pub async fn insert_request(
    connection: &mut AnyConnection,
    change_id: &str,
    credential_id: i64,
    requester_id: i64,
    justification: &str,
    now: Timestamp,
) -> Result<i64, DbError> {
    let id = sqlx::query_scalar(
        "INSERT INTO requests (change_id, credential_id, requester_id, justification, status,
             created_at, updated_at)
         VALUES ($1, $2, $3, $4, 'pending', $5, $5) RETURNING id",
    )
    .bind(change_id)
    .bind(credential_id)
    .bind(requester_id)
    .bind(justification)
    .bind(now.as_millis())
    .fetch_one(connection)
    .await?;
    Ok(id)
}

pub async fn set_status(
    connection: &mut AnyConnection,
    id: i64,
    status: RequestStatus,
    reason: &str,
    now: Timestamp,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE requests SET status = $2, status_reason = $3, updated_at = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(reason)
    .bind(now.as_millis())
    .execute(connection)
    .await?;
    Ok(())
}

pub struct NewDecision<'a> {
    pub request_id: i64,
    pub approver_id: i64,
    pub vote: Vote,
    pub comment: &'a str,
    pub change_digest: &'a str,
    /// The stored assertion as JSON, when signed.
    pub assertion: Option<String>,
}

pub async fn insert_decision(
    connection: &mut AnyConnection,
    decision: &NewDecision<'_>,
    now: Timestamp,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO decisions (request_id, approver_id, decision, comment, change_digest,
             assertion, decided_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(decision.request_id)
    .bind(decision.approver_id)
    .bind(decision.vote.as_str())
    .bind(decision.comment)
    .bind(decision.change_digest)
    .bind(&decision.assertion)
    .bind(now.as_millis())
    .execute(connection)
    .await?;
    Ok(())
}

/// Whether `approver_id` has already voted on `request_id`.
pub async fn has_voted(
    connection: &mut AnyConnection,
    request_id: i64,
    approver_id: i64,
) -> Result<bool, DbError> {
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM decisions WHERE request_id = $1 AND approver_id = $2",
    )
    .bind(request_id)
    .bind(approver_id)
    .fetch_one(connection)
    .await?;
    Ok(count > 0)
}

/// The person's groups' approvers of a request's group, for telling them of it.
pub async fn approvers_of_group(
    connection: &mut AnyConnection,
    group_id: i64,
) -> Result<Vec<i64>, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT m.user_id FROM group_members m JOIN users u ON u.id = m.user_id
         WHERE m.group_id = $1 AND m.approver AND u.enabled ORDER BY m.user_id",
    )
    .bind(group_id)
    .fetch_all(connection)
    .await?)
}
