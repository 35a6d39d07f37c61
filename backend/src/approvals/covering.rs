//! Which changes a session on a credential may be asked for: those of the person's access
//! groups (as an executor, granting the credential) that name its device and are still to be
//! run. Start session chooses among them; Credentials → All shows them before asking.

use sqlx::{AnyConnection, Row};

use crate::clock::Timestamp;
use crate::db::DbError;

/// A change a session on a credential may be asked for.
#[derive(Debug, Clone)]
pub struct Covering {
    pub credential_id: i64,
    pub id: String,
    pub title: String,
    pub start_at: Timestamp,
    pub due_at: Timestamp,
    pub group_id: i64,
    pub group_name: String,
    pub justification_required: bool,
}

/// The changes covering `credential` (every credential granted to the person when `None`)
/// whose due date is still to come, the soonest first.
pub async fn covering(
    connection: &mut AnyConnection,
    user_id: i64,
    credential: Option<i64>,
    now: Timestamp,
) -> Result<Vec<Covering>, DbError> {
    let rows = sqlx::query(
        "SELECT DISTINCT gc.credential_id, c.id, c.title, c.start_at, c.due_at,
                g.id AS group_id, g.name AS group_name,
                CAST(CASE WHEN g.justification_required THEN 1 ELSE 0 END AS BIGINT) AS justify
         FROM changes c
         JOIN access_groups g ON g.id = c.access_group_id
         JOIN group_members m ON m.group_id = g.id AND m.user_id = $1 AND m.executor
         JOIN group_credentials gc ON gc.group_id = g.id
         JOIN credentials cr ON cr.id = gc.credential_id
         JOIN change_devices cd ON cd.change_id = c.id AND cd.device_id = cr.device_id
         WHERE c.status IN ('waiting_approval', 'approved') AND c.due_at > $3
           AND ($2 IS NULL OR gc.credential_id = $2)
         ORDER BY c.start_at, c.id, gc.credential_id",
    )
    .bind(user_id)
    .bind(credential)
    .bind(now.as_millis())
    .fetch_all(&mut *connection)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Covering {
                credential_id: row.try_get("credential_id")?,
                id: row.try_get("id")?,
                title: row.try_get("title")?,
                start_at: Timestamp::from_millis(row.try_get("start_at")?),
                due_at: Timestamp::from_millis(row.try_get("due_at")?),
                group_id: row.try_get("group_id")?,
                group_name: row.try_get("group_name")?,
                justification_required: crate::db::flag(row, "justify")?,
            })
        })
        .collect()
}
