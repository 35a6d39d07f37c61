//! Credentials → All: the credentials a person's access groups grant them as an executor.

use changeaudit_shared::api::Named;
use changeaudit_shared::api::requests::RequestStatus;
use changeaudit_shared::api::sessions::{CoveringChange, GrantedCredential, LiveRequest};
use sqlx::{AnyConnection, Row};

use crate::approvals::covering::covering;
use crate::clock::Timestamp;
use crate::db::DbError;
use crate::listing::{Arg, Filter};

/// The credentials granted to `user_id` (matching `q`), each with the changes covering it as
/// of `now`.
pub async fn list(
    connection: &mut AnyConnection,
    user_id: i64,
    q: Option<&str>,
    now: Timestamp,
) -> Result<Vec<GrantedCredential>, DbError> {
    let mut filter = Filter::default();
    filter.and("m.user_id = ?", [Arg::Int(user_id)]);
    if let Some(q) = q.map(str::trim).filter(|q| !q.is_empty()) {
        filter.contains(&["d.name", "d.host", "c.username", "d.tags"], q);
    }
    let sql = format!(
        "SELECT c.id, c.username, d.id AS device_id, d.name AS device_name, d.host, d.tags,
                g.id AS group_id, g.name AS group_name
         FROM credentials c
         JOIN devices d ON d.id = c.device_id
         JOIN group_credentials gc ON gc.credential_id = c.id
         JOIN access_groups g ON g.id = gc.group_id
         JOIN group_members m ON m.group_id = g.id AND m.executor
         {}
         ORDER BY d.name, c.username, c.id, g.name",
        filter.where_clause()
    );
    let rows = filter
        .bind(sqlx::query(&sql))
        .fetch_all(&mut *connection)
        .await?;
    let mut granted: Vec<GrantedCredential> = Vec::new();
    for row in &rows {
        let id: i64 = row.try_get("id")?;
        let group = Named {
            id: row.try_get("group_id")?,
            name: row.try_get("group_name")?,
        };
        if let Some(last) = granted.last_mut()
            && last.credential_id == id
        {
            last.groups.push(group);
            continue;
        }
        let tags: String = row.try_get("tags")?;
        granted.push(GrantedCredential {
            credential_id: id,
            device: Named {
                id: row.try_get("device_id")?,
                name: row.try_get("device_name")?,
            },
            host: row.try_get("host")?,
            account: row.try_get("username")?,
            tags: serde_json::from_str(&tags)
                .map_err(|error| DbError::Other(sqlx::Error::Decode(Box::new(error))))?,
            groups: vec![group],
            changes: Vec::new(),
        });
    }
    let live = live_requests(connection, user_id).await?;
    for change in covering(connection, user_id, None, now).await? {
        if let Some(credential) = granted
            .iter_mut()
            .find(|credential| credential.credential_id == change.credential_id)
            && !credential.changes.iter().any(|known| known.id == change.id)
        {
            let request = live
                .iter()
                .find(|(change_id, credential_id, _)| {
                    *change_id == change.id && *credential_id == change.credential_id
                })
                .map(|(.., request)| *request);
            credential.changes.push(CoveringChange {
                id: change.id,
                title: change.title,
                start_at: change.start_at.to_datetime(),
                due_at: change.due_at.to_datetime(),
                justification_required: change.justification_required,
                request,
            });
        }
    }
    Ok(granted)
}

/// The person's pending and approved requests, as (change, credential, request), newest first.
async fn live_requests(
    connection: &mut AnyConnection,
    user_id: i64,
) -> Result<Vec<(String, i64, LiveRequest)>, DbError> {
    let rows: Vec<(String, i64, i64, String)> = sqlx::query_as(
        "SELECT change_id, credential_id, id, status FROM requests
         WHERE requester_id = $1 AND status IN ('pending', 'approved') ORDER BY id DESC",
    )
    .bind(user_id)
    .fetch_all(connection)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(change, credential, id, status)| {
            let status = RequestStatus::parse(&status)?;
            Some((change, credential, LiveRequest { id, status }))
        })
        .collect())
}
