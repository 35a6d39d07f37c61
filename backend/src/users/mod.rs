//! People who sign in, and their global roles: the store, and Admin → Users' API in `handlers`.

pub mod handlers;

use changeaudit_shared::api::Me;
use changeaudit_shared::api::users::User as UserView;
use changeaudit_shared::role::Role;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use serde_json::json;

use crate::clock::Timestamp;
use crate::db::placeholders;
use crate::db::{Database, DbError};
use crate::listing::{Filter, Paging};
use crate::trail::audit::{self, Actor, NewEvent};

pub const FIRST_ADMIN_USERNAME: &str = "admin";

#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub roles: Vec<Role>,
}

impl User {
    pub fn me(&self) -> Me {
        Me {
            username: self.username.clone(),
            display_name: self.display_name.clone(),
            roles: self.roles.clone(),
        }
    }
}

/// What sign-in needs: the id and password hash of an enabled user.
pub async fn login_record(db: &Database, username: &str) -> Result<Option<(i64, String)>, DbError> {
    let row =
        sqlx::query("SELECT id, password_hash FROM users WHERE username = $1 AND enabled = TRUE")
            .bind(username)
            .fetch_optional(db.pool())
            .await?;
    Ok(row.map(|row| (row.get("id"), row.get("password_hash"))))
}

pub async fn find(db: &Database, id: i64) -> Result<User, DbError> {
    let (username, display_name): (String, String) =
        sqlx::query_as("SELECT username, display_name FROM users WHERE id = $1")
            .bind(id)
            .fetch_one(db.pool())
            .await?;
    let names: Vec<String> =
        sqlx::query_scalar("SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role")
            .bind(id)
            .fetch_all(db.pool())
            .await?;
    // The schema only admits known roles; anything else is skipped rather than trusted.
    let roles = names.iter().filter_map(|name| name.parse().ok()).collect();
    Ok(User {
        id,
        username,
        display_name,
        roles,
    })
}

/// Creates the first admin when there are no users at all; `false` when someone exists already
/// (another replica may have won the race: the unique username settles it).
pub async fn create_first_admin(
    db: &Database,
    password_hash: &str,
    now: Timestamp,
) -> Result<bool, DbError> {
    let mut tx = db.begin_write().await?;
    let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&mut *tx)
        .await?;
    if existing > 0 {
        return Ok(false);
    }
    let inserted = sqlx::query_scalar::<_, i64>(
        "INSERT INTO users (username, display_name, password_hash, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $4)
         RETURNING id",
    )
    .bind(FIRST_ADMIN_USERNAME)
    .bind("Administrator")
    .bind(password_hash)
    .bind(now.as_millis())
    .fetch_one(&mut *tx)
    .await;
    let id = match inserted.map_err(DbError::from) {
        Ok(id) => id,
        Err(DbError::Conflict { .. }) => return Ok(false),
        Err(other) => return Err(other),
    };
    sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2)")
        .bind(id)
        .bind(Role::Admin.as_str())
        .execute(&mut *tx)
        .await?;
    audit::append(
        &mut tx,
        NewEvent {
            actor: Actor::System,
            action: "user.created",
            object: Some(format!("user:{id}")),
            details: json!({
                "after": {
                    "username": FIRST_ADMIN_USERNAME,
                    "display_name": "Administrator",
                    "roles": [Role::Admin.as_str()],
                    "enabled": true,
                }
            }),
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Count of users, for readiness checks and start-up.
pub async fn count(db: &Database) -> Result<i64, DbError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(db.pool())
        .await?)
}

/// The columns `view_of` reads.
pub const VIEW_COLUMNS: &str = "id, username, display_name, email, \
     CAST(CASE WHEN enabled THEN 1 ELSE 0 END AS BIGINT) AS enabled, created_at, updated_at";

/// A user as the API shows it, roles left for `with_roles` to fill.
fn view_of(row: &AnyRow) -> Result<UserView, sqlx::Error> {
    Ok(UserView {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        display_name: row.try_get("display_name")?,
        email: row.try_get("email")?,
        roles: Vec::new(),
        enabled: crate::db::flag(row, "enabled")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?).to_datetime(),
        updated_at: Timestamp::from_millis(row.try_get("updated_at")?).to_datetime(),
    })
}

async fn with_roles(
    connection: &mut AnyConnection,
    mut users: Vec<UserView>,
) -> Result<Vec<UserView>, DbError> {
    if users.is_empty() {
        return Ok(users);
    }
    let sql = format!(
        "SELECT user_id, role FROM user_roles WHERE user_id IN ({}) ORDER BY role",
        placeholders(1, users.len())
    );
    let mut query = sqlx::query_as::<_, (i64, String)>(&sql);
    for user in &users {
        query = query.bind(user.id);
    }
    for (user_id, role) in query.fetch_all(connection).await? {
        if let (Some(user), Ok(role)) = (
            users.iter_mut().find(|user| user.id == user_id),
            role.parse::<Role>(),
        ) {
            user.roles.push(role);
        }
    }
    Ok(users)
}

/// Filters of `GET /api/users`.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// Part of the username, display name or e-mail.
    pub q: Option<String>,
    /// Only holders of this role.
    pub role: Option<Role>,
    /// Only enabled (true) or disabled (false) users.
    pub enabled: Option<bool>,
}

pub async fn list(
    connection: &mut AnyConnection,
    query: &UserQuery,
    paging: Paging,
) -> Result<(Vec<UserView>, i64), DbError> {
    let mut filter = Filter::default();
    if let Some(q) = query.q.as_deref().filter(|q| !q.trim().is_empty()) {
        filter.contains(&["username", "display_name", "email"], q.trim());
    }
    if let Some(role) = query.role {
        filter.and(
            "id IN (SELECT user_id FROM user_roles WHERE role = ?)",
            [crate::listing::Arg::Text(role.as_str().to_owned())],
        );
    }
    if let Some(enabled) = query.enabled {
        filter.and(
            if enabled {
                "enabled = TRUE"
            } else {
                "enabled = FALSE"
            },
            [],
        );
    }
    let total = filter.count(connection, "users").await?;
    let next = filter.next_placeholder();
    let sql = format!(
        "SELECT {VIEW_COLUMNS} FROM users{} ORDER BY username LIMIT ${next} OFFSET ${}",
        filter.where_clause(),
        next + 1
    );
    let rows = filter
        .bind(sqlx::query(&sql))
        .bind(paging.limit())
        .bind(paging.offset())
        .fetch_all(&mut *connection)
        .await?;
    let users = rows.iter().map(view_of).collect::<Result<Vec<_>, _>>()?;
    Ok((with_roles(connection, users).await?, total))
}

pub async fn view(connection: &mut AnyConnection, id: i64) -> Result<UserView, DbError> {
    let row = sqlx::query(&format!("SELECT {VIEW_COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_one(&mut *connection)
        .await?;
    let user = view_of(&row)?;
    let mut users = with_roles(connection, vec![user]).await?;
    users.pop().ok_or(DbError::NotFound)
}
