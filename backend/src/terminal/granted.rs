//! Credentials → All: the credentials a person's access groups grant them as an executor.

use changeaudit_shared::api::Named;
use changeaudit_shared::api::sessions::GrantedCredential;
use sqlx::{AnyConnection, Row};

use crate::db::DbError;
use crate::listing::{Arg, Filter};

pub async fn list(
    connection: &mut AnyConnection,
    user_id: i64,
    q: Option<&str>,
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
        });
    }
    Ok(granted)
}
