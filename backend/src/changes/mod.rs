//! Changes: the store, and Change Audit → Changes' API in `handlers`.

pub mod handlers;
pub mod life;

use changeaudit_shared::api::Named;
use changeaudit_shared::api::changes::{Change, ChangeStatus, CheckedChange};
use changeaudit_shared::enforcement::Enforcement;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::clock::Timestamp;
use crate::db::DbError;
use crate::db::placeholders;
use crate::listing::{Arg, Filter, Paging};
use crate::terminal::store::STALE_AFTER;

const FROM: &str = "changes c JOIN access_groups g ON g.id = c.access_group_id \
     JOIN users a ON a.id = c.author_id LEFT JOIN users e ON e.id = c.updated_by";

/// The columns of a change, its status as of `$now`, running sessions' heartbeats fresh since
/// `$now + 1` (see `life::status_sql`).
fn columns(now: usize) -> String {
    format!(
        "c.id, c.title, c.description, c.start_at, c.due_at, c.access_group_id, g.name AS group_name,
         c.script, c.enforcement, {} AS status, a.username AS author, c.created_at, c.updated_at, e.username AS editor",
        life::status_sql(&format!("${now}"), &format!("${}", now + 1))
    )
}

/// When a running session's heartbeat must be from for it to count as running at `now`.
fn fresh(now: Timestamp) -> Timestamp {
    now.minus(STALE_AFTER)
}

fn change_of(row: &AnyRow) -> Result<Change, DbError> {
    let status: String = row.try_get("status")?;
    Ok(Change {
        id: row.try_get("id")?,
        title: row.try_get("title")?,
        description: row.try_get("description")?,
        start_at: Timestamp::from_millis(row.try_get("start_at")?).to_datetime(),
        due_at: Timestamp::from_millis(row.try_get("due_at")?).to_datetime(),
        access_group: Named {
            id: row.try_get("access_group_id")?,
            name: row.try_get("group_name")?,
        },
        devices: Vec::new(),
        script: row.try_get("script")?,
        enforcement: row
            .try_get::<Option<String>, _>("enforcement")?
            .as_deref()
            .map(Enforcement::stored),
        status: ChangeStatus::parse(&status).ok_or_else(|| {
            DbError::Other(sqlx::Error::Decode(
                format!("unknown change status `{status}`").into(),
            ))
        })?,
        author: row.try_get("author")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?).to_datetime(),
        updated_at: Timestamp::from_millis(row.try_get("updated_at")?).to_datetime(),
        updated_by: row.try_get("editor")?,
    })
}

async fn with_devices(
    connection: &mut AnyConnection,
    mut changes: Vec<Change>,
) -> Result<Vec<Change>, DbError> {
    if changes.is_empty() {
        return Ok(changes);
    }
    let sql = format!(
        "SELECT cd.change_id, d.id, d.name FROM change_devices cd JOIN devices d ON d.id = cd.device_id
         WHERE cd.change_id IN ({}) ORDER BY cd.position",
        placeholders(1, changes.len())
    );
    let mut query = sqlx::query(&sql);
    for change in &changes {
        query = query.bind(change.id.clone());
    }
    for row in query.fetch_all(&mut *connection).await? {
        let change_id: String = row.try_get("change_id")?;
        if let Some(change) = changes.iter_mut().find(|change| change.id == change_id) {
            change.devices.push(Named {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
            });
        }
    }
    Ok(changes)
}

/// Filters of `GET /api/changes`.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChangeQuery {
    /// Part of the ID or title.
    pub q: Option<String>,
    /// Only changes in this status.
    pub status: Option<ChangeStatus>,
    pub access_group_id: Option<i64>,
    /// Only changes on this device.
    pub device_id: Option<i64>,
    /// Only changes registered by this username.
    pub author: Option<String>,
    /// Only changes whose window ends after this time (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub from: Option<time::OffsetDateTime>,
    /// Only changes whose window starts before this time (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub to: Option<time::OffsetDateTime>,
}

/// Who sees which changes: everyone holding a global role sees all, others those of the groups
/// they belong to.
#[derive(Debug, Clone, Copy)]
pub enum Visibility {
    All,
    MemberOf(i64),
}

impl Visibility {
    fn restrict(self, filter: &mut Filter) {
        if let Visibility::MemberOf(user_id) = self {
            filter.and(
                "c.access_group_id IN (SELECT group_id FROM group_members WHERE user_id = ?)",
                [Arg::Int(user_id)],
            );
        }
    }
}

pub async fn list(
    connection: &mut AnyConnection,
    query: &ChangeQuery,
    visibility: Visibility,
    paging: Paging,
    now: Timestamp,
) -> Result<(Vec<Change>, i64), DbError> {
    let mut filter = Filter::default();
    visibility.restrict(&mut filter);
    if let Some(q) = query.q.as_deref().filter(|q| !q.trim().is_empty()) {
        filter.contains(&["c.id", "c.title"], q.trim());
    }
    if let Some(status) = query.status {
        let (condition, args) = life::status_is(status, now, fresh(now));
        filter.and(&condition, args);
    }
    if let Some(group) = query.access_group_id {
        filter.and("c.access_group_id = ?", [Arg::Int(group)]);
    }
    if let Some(device) = query.device_id {
        filter.and(
            "c.id IN (SELECT change_id FROM change_devices WHERE device_id = ?)",
            [Arg::Int(device)],
        );
    }
    if let Some(author) = query.author.as_deref().filter(|a| !a.is_empty()) {
        filter.and(
            "LOWER(a.username) = LOWER(?)",
            [Arg::Text(author.to_owned())],
        );
    }
    if let Some(from) = query.from {
        filter.and(
            "c.due_at > ?",
            [Arg::Int(Timestamp::from_datetime(from).as_millis())],
        );
    }
    if let Some(to) = query.to {
        filter.and(
            "c.start_at < ?",
            [Arg::Int(Timestamp::from_datetime(to).as_millis())],
        );
    }
    let total = filter.count(connection, FROM).await?;
    let next = filter.next_placeholder();
    let sql = format!(
        "SELECT {} FROM {FROM}{} ORDER BY c.start_at DESC, c.id LIMIT ${} OFFSET ${}",
        columns(next),
        filter.where_clause(),
        next + 2,
        next + 3
    );
    let rows = filter
        .bind(sqlx::query(&sql))
        .bind(now.as_millis())
        .bind(fresh(now).as_millis())
        .bind(paging.limit())
        .bind(paging.offset())
        .fetch_all(&mut *connection)
        .await?;
    let changes = rows.iter().map(change_of).collect::<Result<Vec<_>, _>>()?;
    Ok((with_devices(connection, changes).await?, total))
}

/// The change `id` (whatever its case) if `visibility` lets it be seen.
pub async fn view(
    connection: &mut AnyConnection,
    id: &str,
    visibility: Visibility,
    now: Timestamp,
) -> Result<Change, DbError> {
    let mut filter = Filter::default();
    filter.and("LOWER(c.id) = LOWER(?)", [Arg::Text(id.to_owned())]);
    visibility.restrict(&mut filter);
    let sql = format!(
        "SELECT {} FROM {FROM}{}",
        columns(filter.next_placeholder()),
        filter.where_clause()
    );
    let row = filter
        .bind(sqlx::query(&sql))
        .bind(now.as_millis())
        .bind(fresh(now).as_millis())
        .fetch_one(&mut *connection)
        .await?;
    let change = change_of(&row)?;
    with_devices(connection, vec![change])
        .await?
        .pop()
        .ok_or(DbError::NotFound)
}

pub async fn insert(
    connection: &mut AnyConnection,
    change: &CheckedChange,
    script: &str,
    author_id: i64,
    now: Timestamp,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO changes (id, title, description, start_at, due_at, access_group_id, script,
         status, author_id, created_at, updated_at, enforcement)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'waiting_approval', $8, $9, $9, $10)",
    )
    .bind(&change.id)
    .bind(&change.title)
    .bind(&change.description)
    .bind(Timestamp::from_datetime(change.start_at).as_millis())
    .bind(Timestamp::from_datetime(change.due_at).as_millis())
    .bind(change.access_group_id)
    .bind(script)
    .bind(author_id)
    .bind(now.as_millis())
    .bind(change.enforcement.map(Enforcement::as_str))
    .execute(&mut *connection)
    .await?;
    set_devices(connection, &change.id, &change.device_ids).await
}

pub async fn update(
    connection: &mut AnyConnection,
    stored_id: &str,
    change: &CheckedChange,
    script: &str,
    editor_id: i64,
    now: Timestamp,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE changes SET title = $2, description = $3, start_at = $4, due_at = $5,
         access_group_id = $6, script = $7, updated_at = $8, updated_by = $9, enforcement = $10
         WHERE id = $1",
    )
    .bind(stored_id)
    .bind(&change.title)
    .bind(&change.description)
    .bind(Timestamp::from_datetime(change.start_at).as_millis())
    .bind(Timestamp::from_datetime(change.due_at).as_millis())
    .bind(change.access_group_id)
    .bind(script)
    .bind(now.as_millis())
    .bind(editor_id)
    .bind(change.enforcement.map(Enforcement::as_str))
    .execute(&mut *connection)
    .await?;
    // Whoever edits a change may not approve it: remembered for as long as the change lives.
    sqlx::query(
        "INSERT INTO change_editors (change_id, user_id) VALUES ($1, $2)
         ON CONFLICT (change_id, user_id) DO NOTHING",
    )
    .bind(stored_id)
    .bind(editor_id)
    .execute(&mut *connection)
    .await?;
    set_devices(connection, stored_id, &change.device_ids).await
}

/// The usernames of those who edited change `id` since it was registered, by name.
pub async fn editors(connection: &mut AnyConnection, id: &str) -> Result<Vec<String>, DbError> {
    Ok(sqlx::query_scalar(
        "SELECT u.username FROM change_editors e JOIN users u ON u.id = e.user_id
         WHERE e.change_id = $1 ORDER BY u.username",
    )
    .bind(id)
    .fetch_all(connection)
    .await?)
}

pub async fn set_status(
    connection: &mut AnyConnection,
    stored_id: &str,
    status: ChangeStatus,
    editor_id: i64,
    now: Timestamp,
) -> Result<(), DbError> {
    sqlx::query("UPDATE changes SET status = $2, updated_at = $3, updated_by = $4 WHERE id = $1")
        .bind(stored_id)
        .bind(status.as_str())
        .bind(now.as_millis())
        .bind(editor_id)
        .execute(connection)
        .await?;
    Ok(())
}

async fn set_devices(
    connection: &mut AnyConnection,
    change_id: &str,
    device_ids: &[i64],
) -> Result<(), DbError> {
    sqlx::query("DELETE FROM change_devices WHERE change_id = $1")
        .bind(change_id)
        .execute(&mut *connection)
        .await?;
    for (position, device_id) in (0_i64..).zip(device_ids) {
        sqlx::query(
            "INSERT INTO change_devices (change_id, device_id, position) VALUES ($1, $2, $3)",
        )
        .bind(change_id)
        .bind(device_id)
        .bind(position)
        .execute(&mut *connection)
        .await?;
    }
    Ok(())
}
