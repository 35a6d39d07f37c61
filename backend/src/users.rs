//! People who sign in, and their global roles.

use changeaudit_shared::api::Me;
use changeaudit_shared::role::Role;
use sqlx::Row;

use serde_json::json;

use crate::audit::{self, Actor, NewEvent};
use crate::clock::Timestamp;
use crate::db::{Database, DbError};

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
        db.backend(),
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
