//! What keeps a person from voting on a request, and from seeing it at all.

use changeaudit_shared::api::life::RequestLife;
use changeaudit_shared::api::requests::{RequestStatus, RequestSummary};
use changeaudit_shared::role::Role;
use sqlx::AnyConnection;

use super::store::{self, Facts};
use crate::clock::Timestamp;
use crate::db::DbError;
use crate::users::User;

/// What keeps a person from voting on a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Barrier {
    NotApprover { group: String },
    OwnRequest,
    OwnChange { change_id: String },
    EditedChange { change_id: String },
    Closed(RequestStatus),
    AlreadyVoted,
}

impl Barrier {
    pub fn message(&self) -> String {
        match self {
            Barrier::NotApprover { group } => {
                format!("you are not an approver of access group {group}")
            }
            Barrier::OwnRequest => {
                "separation of duties: nobody approves their own request".to_owned()
            }
            Barrier::OwnChange { change_id } => format!(
                "separation of duties: you registered {change_id}, so you do not approve requests to run it"
            ),
            Barrier::EditedChange { change_id } => format!(
                "separation of duties: you edited {change_id}, so you do not approve requests to run it"
            ),
            Barrier::Closed(status) => format!(
                "the request is {} and takes no more votes",
                status.label().to_lowercase()
            ),
            Barrier::AlreadyVoted => "you have already voted on this request".to_owned(),
        }
    }
}

/// What keeps `me` from voting on the request, if anything.
pub async fn barrier(
    connection: &mut AnyConnection,
    me: &User,
    request: &RequestSummary,
    facts: &Facts,
) -> Result<Option<Barrier>, DbError> {
    let approver: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM group_members WHERE group_id = $1 AND user_id = $2 AND approver",
    )
    .bind(facts.group_id)
    .bind(me.id)
    .fetch_one(&mut *connection)
    .await?;
    Ok(if approver == 0 {
        Some(Barrier::NotApprover {
            group: facts.group_name.clone(),
        })
    } else if facts.requester_id == me.id {
        Some(Barrier::OwnRequest)
    } else if facts.change_author_id == me.id {
        Some(Barrier::OwnChange {
            change_id: request.change_id.clone(),
        })
    } else if edited(connection, &request.change_id, me.id).await? {
        Some(Barrier::EditedChange {
            change_id: request.change_id.clone(),
        })
    } else if request.status != RequestStatus::Pending {
        Some(Barrier::Closed(request.status))
    } else if store::has_voted(connection, request.id, me.id).await? {
        Some(Barrier::AlreadyVoted)
    } else {
        None
    })
}

/// Whether `user_id` edited change `change_id` since it was registered.
async fn edited(
    connection: &mut AnyConnection,
    change_id: &str,
    user_id: i64,
) -> Result<bool, DbError> {
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM change_editors WHERE change_id = $1 AND user_id = $2",
    )
    .bind(change_id)
    .bind(user_id)
    .fetch_one(connection)
    .await?;
    Ok(count > 0)
}

/// Whether `me` may see the request at all: its requester, its group's approvers and those who
/// oversee everything do; for anyone else it does not exist.
pub fn may_see(me: &User, facts: &Facts, barrier: Option<&Barrier>) -> bool {
    facts.requester_id == me.id
        || !matches!(barrier, Some(Barrier::NotApprover { .. }))
        || [Role::Admin, Role::Auditor]
            .iter()
            .any(|role| me.roles.contains(role))
}

/// The requests of change `change_id` that `me` may see (`may_see`), newest first, each with
/// its decisions.
pub async fn requests_seen(
    connection: &mut AnyConnection,
    me: &User,
    change_id: &str,
    now: Timestamp,
) -> Result<Vec<RequestLife>, DbError> {
    let mut seen = Vec::new();
    for request in store::of_change(connection, change_id, now).await? {
        let facts = store::facts(connection, request.id).await?;
        let barrier = barrier(connection, me, &request, &facts).await?;
        if may_see(me, &facts, barrier.as_ref()) {
            let decisions = store::decisions(connection, request.id).await?;
            seen.push(RequestLife { request, decisions });
        }
    }
    Ok(seen)
}
