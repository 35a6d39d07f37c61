//! Admin → Users: `GET/POST /api/users`, `GET/PUT /api/users/{id}`. Users are disabled rather
//! than deleted, so that what they did keeps a name. A password goes in and is never shown.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use changeaudit_shared::api::Page;
use changeaudit_shared::api::users::{User, UserInput};
use changeaudit_shared::problem::Problem;
use changeaudit_shared::role::Role;
use serde_json::{Value, json};

use super::{UserQuery, list, view};
use crate::auth::{CurrentUser, password};
use crate::db::DbError;
use crate::error::{ApiJson, ApiPath, ApiQuery, AppError};
use crate::listing::Paging;
use crate::state::AppState;
use crate::trail::audit::{self, NewEvent};
use secrecy::SecretString;

/// What the trail keeps of a user: everything but the password.
fn snapshot(user: &User) -> Value {
    json!({
        "username": user.username,
        "display_name": user.display_name,
        "email": user.email,
        "roles": user.roles,
        "enabled": user.enabled,
    })
}

#[utoipa::path(get, path = "/api/users", tag = "users", params(UserQuery, Paging),
    responses((status = 200, body = Page<User>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_users(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiQuery(query): ApiQuery<UserQuery>,
    ApiQuery(paging): ApiQuery<Paging>,
) -> Result<Json<Page<User>>, AppError> {
    me.require(Role::Admin)?;
    let mut connection = state.db.pool().acquire().await?;
    let (items, total) = list(&mut connection, &query, paging).await?;
    Ok(Json(paging.page(items, total)))
}

#[utoipa::path(get, path = "/api/users/{id}", tag = "users", params(("id" = i64, Path)),
    responses((status = 200, body = User), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_user(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<User>, AppError> {
    me.require(Role::Admin)?;
    let mut connection = state.db.pool().acquire().await?;
    Ok(Json(view(&mut connection, id).await?))
}

#[utoipa::path(post, path = "/api/users", tag = "users", request_body = UserInput,
    responses((status = 201, body = User), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_user(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiJson(mut input): ApiJson<UserInput>,
) -> Result<(StatusCode, Json<User>), AppError> {
    me.require(Role::Admin)?;
    input.check(true)?;
    let hash = password::hash(SecretString::from(input.password.take())).await?;
    let now = state.clock.now();
    let mut tx = state.db.begin_write().await?;
    let taken: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE LOWER(username) = LOWER($1)")
            .bind(input.username.trim())
            .fetch_one(&mut *tx)
            .await?;
    if taken > 0 {
        return Err(AppError::field("username", "is already taken"));
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO users (username, display_name, email, password_hash, enabled, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
    )
    .bind(input.username.trim())
    .bind(input.display_name.trim())
    .bind(input.email.trim())
    .bind(hash)
    .bind(input.enabled)
    .bind(now.as_millis())
    .fetch_one(&mut *tx)
    .await?;
    set_roles(&mut tx, id, &input.roles).await?;
    let created = view(&mut tx, id).await?;
    audit::append(
        &mut tx,
        NewEvent::by(
            &me.0.username,
            "user.created",
            format!("user:{id}"),
            json!({ "after": snapshot(&created) }),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(put, path = "/api/users/{id}", tag = "users", params(("id" = i64, Path)), request_body = UserInput,
    responses((status = 200, body = User), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update_user(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(mut input): ApiJson<UserInput>,
) -> Result<Json<User>, AppError> {
    me.require(Role::Admin)?;
    input.check(false)?;
    let hash = if input.password.is_empty() {
        None
    } else {
        Some(password::hash(SecretString::from(input.password.take())).await?)
    };
    let now = state.clock.now();
    let mut tx = state.db.begin_write().await?;
    let before = view(&mut tx, id).await?;
    if !before.username.eq_ignore_ascii_case(input.username.trim()) {
        return Err(AppError::field(
            "username",
            "cannot be changed: the trail names this user by it",
        ));
    }
    let stays_admin = input.enabled && input.roles.contains(&Role::Admin);
    if before.enabled && before.roles.contains(&Role::Admin) && !stays_admin {
        let other_admins: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM users u JOIN user_roles r ON r.user_id = u.id
             WHERE r.role = 'admin' AND u.enabled = TRUE AND u.id <> $1",
        )
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        if other_admins == 0 {
            return Err(AppError::rule(
                "roles",
                "at least one enabled admin must remain",
            ));
        }
    }
    sqlx::query("UPDATE users SET display_name = $2, email = $3, enabled = $4, updated_at = $5 WHERE id = $1")
        .bind(id)
        .bind(input.display_name.trim())
        .bind(input.email.trim())
        .bind(input.enabled)
        .bind(now.as_millis())
        .execute(&mut *tx)
        .await?;
    if let Some(hash) = &hash {
        sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
            .bind(id)
            .bind(hash)
            .execute(&mut *tx)
            .await?;
    }
    set_roles(&mut tx, id, &input.roles).await?;
    // A disabled user, or one whose password an admin reset, is signed out everywhere.
    if !input.enabled || (hash.is_some() && me.0.id != id) {
        sqlx::query("DELETE FROM web_sessions WHERE user_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    let after = view(&mut tx, id).await?;
    audit::append(
        &mut tx,
        NewEvent::by(
            &me.0.username,
            "user.updated",
            format!("user:{id}"),
            json!({
                "before": snapshot(&before),
                "after": snapshot(&after),
                "password_changed": hash.is_some(),
            }),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(after))
}

async fn set_roles(
    connection: &mut sqlx::AnyConnection,
    user_id: i64,
    roles: &[Role],
) -> Result<(), DbError> {
    sqlx::query("DELETE FROM user_roles WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *connection)
        .await?;
    let mut roles = roles.to_vec();
    roles.sort();
    roles.dedup();
    for role in roles {
        sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2)")
            .bind(user_id)
            .bind(role.as_str())
            .execute(&mut *connection)
            .await?;
    }
    Ok(())
}
