//! Access groups: the store, and Admin → Access groups' API in `handlers`.

pub mod handlers;

use changeaudit_shared::api::Named;
use changeaudit_shared::api::groups::{AccessGroup, AccessGroupInput, Member};
use changeaudit_shared::enforcement::Enforcement;
use changeaudit_shared::problem::FieldError;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::clock::Timestamp;
use crate::db::placeholders;
use crate::db::{DbError, flag, missing_ids};
use crate::listing::{Filter, Paging};

/// Why a group is not saved; `crate::error` turns each into problem details.
#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    #[error("invalid fields")]
    Invalid(Vec<FieldError>),
    #[error("encoding benign commands: {0}")]
    Encode(serde_json::Error),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for GroupError {
    fn from(error: sqlx::Error) -> Self {
        GroupError::Db(error.into())
    }
}

const COLUMNS: &str = "id, name, description, \
     CAST(CASE WHEN justification_required THEN 1 ELSE 0 END AS BIGINT) AS justification_required, \
     approvals_required, \
     CAST(CASE WHEN passkey_required_to_approve THEN 1 ELSE 0 END AS BIGINT) AS passkey_required_to_approve, \
     CAST(CASE WHEN unplanned_sessions_allowed THEN 1 ELSE 0 END AS BIGINT) AS unplanned_sessions_allowed, \
     benign_commands, enforcement, created_at, updated_at";

fn group_of(row: &AnyRow) -> Result<AccessGroup, DbError> {
    let benign: String = row.try_get("benign_commands")?;
    Ok(AccessGroup {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        justification_required: flag(row, "justification_required")?,
        approvals_required: row.try_get("approvals_required")?,
        passkey_required_to_approve: flag(row, "passkey_required_to_approve")?,
        unplanned_sessions_allowed: flag(row, "unplanned_sessions_allowed")?,
        // Written by this module from a `Vec<String>`; anything else is damage, reported as such.
        benign_commands: serde_json::from_str(&benign)
            .map_err(|error| DbError::Other(sqlx::Error::Decode(Box::new(error))))?,
        enforcement: enforcement_of(row)?,
        members: Vec::new(),
        credentials: Vec::new(),
        created_at: Timestamp::from_millis(row.try_get("created_at")?).to_datetime(),
        updated_at: Timestamp::from_millis(row.try_get("updated_at")?).to_datetime(),
    })
}

/// How group `id` holds its change sessions to their scripts.
pub async fn enforcement(connection: &mut AnyConnection, id: i64) -> Result<Enforcement, DbError> {
    let row = sqlx::query("SELECT enforcement FROM access_groups WHERE id = $1")
        .bind(id)
        .fetch_one(connection)
        .await?;
    enforcement_of(&row)
}

fn enforcement_of(row: &AnyRow) -> Result<Enforcement, DbError> {
    let text: String = row.try_get("enforcement")?;
    Enforcement::parse(&text).ok_or_else(|| {
        DbError::Other(sqlx::Error::Decode(
            format!("an access group's enforcement is `{text}`").into(),
        ))
    })
}

/// Fills in members and granted credentials.
async fn complete(
    connection: &mut AnyConnection,
    mut groups: Vec<AccessGroup>,
) -> Result<Vec<AccessGroup>, DbError> {
    if groups.is_empty() {
        return Ok(groups);
    }
    let ids = placeholders(1, groups.len());
    let sql = format!(
        "SELECT m.group_id, m.user_id, u.username,
         CAST(CASE WHEN m.executor THEN 1 ELSE 0 END AS BIGINT) AS executor,
         CAST(CASE WHEN m.approver THEN 1 ELSE 0 END AS BIGINT) AS approver
         FROM group_members m JOIN users u ON u.id = m.user_id
         WHERE m.group_id IN ({ids}) ORDER BY u.username"
    );
    let mut query = sqlx::query(&sql);
    for group in &groups {
        query = query.bind(group.id);
    }
    for row in query.fetch_all(&mut *connection).await? {
        let group_id: i64 = row.try_get("group_id")?;
        if let Some(group) = groups.iter_mut().find(|group| group.id == group_id) {
            group.members.push(Member {
                user_id: row.try_get("user_id")?,
                username: row.try_get("username")?,
                executor: flag(&row, "executor")?,
                approver: flag(&row, "approver")?,
            });
        }
    }
    let sql = format!(
        "SELECT g.group_id, c.id, c.username, d.name AS device
         FROM group_credentials g JOIN credentials c ON c.id = g.credential_id
         JOIN devices d ON d.id = c.device_id
         WHERE g.group_id IN ({ids}) ORDER BY d.name, c.username"
    );
    let mut query = sqlx::query(&sql);
    for group in &groups {
        query = query.bind(group.id);
    }
    for row in query.fetch_all(&mut *connection).await? {
        let group_id: i64 = row.try_get("group_id")?;
        if let Some(group) = groups.iter_mut().find(|group| group.id == group_id) {
            let account: String = row.try_get("username")?;
            let device: String = row.try_get("device")?;
            group.credentials.push(Named {
                id: row.try_get("id")?,
                name: format!("{account}@{device}"),
            });
        }
    }
    Ok(groups)
}

/// Filters of `GET /api/access-groups`.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GroupQuery {
    /// Part of the name.
    pub q: Option<String>,
    /// Only groups this user belongs to.
    pub member: Option<i64>,
}

pub async fn list(
    connection: &mut AnyConnection,
    query: &GroupQuery,
    paging: Paging,
) -> Result<(Vec<AccessGroup>, i64), DbError> {
    let mut filter = Filter::default();
    if let Some(q) = query.q.as_deref().filter(|q| !q.trim().is_empty()) {
        filter.contains(&["name"], q.trim());
    }
    if let Some(user_id) = query.member {
        filter.and(
            "id IN (SELECT group_id FROM group_members WHERE user_id = ?)",
            [crate::listing::Arg::Int(user_id)],
        );
    }
    let total = filter.count(connection, "access_groups").await?;
    let next = filter.next_placeholder();
    let sql = format!(
        "SELECT {COLUMNS} FROM access_groups{} ORDER BY name LIMIT ${next} OFFSET ${}",
        filter.where_clause(),
        next + 1
    );
    let rows = filter
        .bind(sqlx::query(&sql))
        .bind(paging.limit())
        .bind(paging.offset())
        .fetch_all(&mut *connection)
        .await?;
    let groups = rows.iter().map(group_of).collect::<Result<Vec<_>, _>>()?;
    Ok((complete(connection, groups).await?, total))
}

pub async fn view(connection: &mut AnyConnection, id: i64) -> Result<AccessGroup, DbError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM access_groups WHERE id = $1"
    ))
    .bind(id)
    .fetch_one(&mut *connection)
    .await?;
    let group = group_of(&row)?;
    complete(connection, vec![group])
        .await?
        .pop()
        .ok_or(DbError::NotFound)
}

/// The rules that need the database: a free name, known users and credentials.
async fn check_references(
    connection: &mut AnyConnection,
    input: &AccessGroupInput,
    id: Option<i64>,
) -> Result<(), GroupError> {
    let mut errors = changeaudit_shared::api::FieldErrors::default();
    let taken: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM access_groups WHERE LOWER(name) = LOWER($1) AND id <> $2",
    )
    .bind(input.name.trim())
    .bind(id.unwrap_or(-1))
    .fetch_one(&mut *connection)
    .await?;
    if taken > 0 {
        errors.add("name", "is already taken by another access group");
    }
    let users: Vec<i64> = input.members.iter().map(|member| member.user_id).collect();
    for index in missing_ids(connection, "users", &users).await? {
        errors.add(format!("members[{index}]"), "no such user");
    }
    for index in missing_ids(connection, "credentials", &input.credential_ids).await? {
        errors.add(format!("credential_ids[{index}]"), "no such credential");
    }
    errors.into_result(()).map_err(GroupError::Invalid)
}

/// Writes the group's settings, members and credentials; answers its id.
async fn save(
    connection: &mut AnyConnection,
    input: &AccessGroupInput,
    id: Option<i64>,
    now: Timestamp,
) -> Result<i64, GroupError> {
    check_references(connection, input, id).await?;
    let benign = serde_json::to_string(&input.benign_commands).map_err(GroupError::Encode)?;
    let id = match id {
        Some(id) => {
            sqlx::query(
                "UPDATE access_groups SET name = $2, description = $3, justification_required = $4,
                 approvals_required = $5, passkey_required_to_approve = $6,
                 unplanned_sessions_allowed = $7, benign_commands = $8, updated_at = $9,
                 enforcement = $10
                 WHERE id = $1",
            )
            .bind(id)
            .bind(input.name.trim())
            .bind(input.description.trim())
            .bind(input.justification_required)
            .bind(input.approvals_required)
            .bind(input.passkey_required_to_approve)
            .bind(input.unplanned_sessions_allowed)
            .bind(&benign)
            .bind(now.as_millis())
            .bind(input.enforcement.as_str())
            .execute(&mut *connection)
            .await?;
            id
        }
        None => {
            sqlx::query_scalar(
                "INSERT INTO access_groups (name, description, justification_required,
                 approvals_required, passkey_required_to_approve, unplanned_sessions_allowed,
                 benign_commands, created_at, updated_at, enforcement)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9) RETURNING id",
            )
            .bind(input.name.trim())
            .bind(input.description.trim())
            .bind(input.justification_required)
            .bind(input.approvals_required)
            .bind(input.passkey_required_to_approve)
            .bind(input.unplanned_sessions_allowed)
            .bind(&benign)
            .bind(now.as_millis())
            .bind(input.enforcement.as_str())
            .fetch_one(&mut *connection)
            .await?
        }
    };
    sqlx::query("DELETE FROM group_members WHERE group_id = $1")
        .bind(id)
        .execute(&mut *connection)
        .await?;
    for member in &input.members {
        sqlx::query(
            "INSERT INTO group_members (group_id, user_id, executor, approver) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(member.user_id)
        .bind(member.executor)
        .bind(member.approver)
        .execute(&mut *connection)
        .await?;
    }
    sqlx::query("DELETE FROM group_credentials WHERE group_id = $1")
        .bind(id)
        .execute(&mut *connection)
        .await?;
    for credential_id in &input.credential_ids {
        sqlx::query("INSERT INTO group_credentials (group_id, credential_id) VALUES ($1, $2)")
            .bind(id)
            .bind(credential_id)
            .execute(&mut *connection)
            .await?;
    }
    Ok(id)
}
