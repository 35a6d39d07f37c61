//! Admin → Access groups: `GET/POST /api/access-groups`, `GET/PUT/DELETE /api/access-groups/{id}`.
//! Planners and auditors read them (a change names its group); admins change them.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use changeaudit_shared::api::Page;
use changeaudit_shared::api::groups::{AccessGroup, AccessGroupInput};
use changeaudit_shared::problem::Problem;
use changeaudit_shared::role::Role;
use serde_json::{Value, json};

use super::{GroupQuery, list, save, view};
use crate::auth::CurrentUser;
use crate::error::{ApiJson, ApiPath, ApiQuery, AppError};
use crate::listing::Paging;
use crate::state::AppState;
use crate::trail::audit::{self, NewEvent};

/// What the trail keeps of a group: all of it but its timestamps, which the event has.
fn snapshot(group: &AccessGroup) -> Value {
    let mut value = json!(group);
    if let Some(object) = value.as_object_mut() {
        object.remove("created_at");
        object.remove("updated_at");
    }
    value
}

#[utoipa::path(get, path = "/api/access-groups", tag = "access groups", params(GroupQuery, Paging),
    responses((status = 200, body = Page<AccessGroup>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_groups(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiQuery(query): ApiQuery<GroupQuery>,
    ApiQuery(paging): ApiQuery<Paging>,
) -> Result<Json<Page<AccessGroup>>, AppError> {
    me.require_a_role()?;
    let mut connection = state.db.pool().acquire().await?;
    let (items, total) = list(&mut connection, &query, paging).await?;
    Ok(Json(paging.page(items, total)))
}

#[utoipa::path(get, path = "/api/access-groups/{id}", tag = "access groups", params(("id" = i64, Path)),
    responses((status = 200, body = AccessGroup), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_group(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<AccessGroup>, AppError> {
    me.require_a_role()?;
    let mut connection = state.db.pool().acquire().await?;
    Ok(Json(view(&mut connection, id).await?))
}

#[utoipa::path(post, path = "/api/access-groups", tag = "access groups", request_body = AccessGroupInput,
    responses((status = 201, body = AccessGroup), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_group(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiJson(input): ApiJson<AccessGroupInput>,
) -> Result<(StatusCode, Json<AccessGroup>), AppError> {
    me.require(Role::Admin)?;
    input.check()?;
    let now = state.clock.now();
    let mut tx = state.db.begin_write().await?;
    let id = save(&mut tx, &input, None, now).await?;
    let created = view(&mut tx, id).await?;
    audit::append(
        &mut tx,
        NewEvent::by(
            &me.0.username,
            "access_group.created",
            format!("access_group:{id}"),
            json!({ "after": snapshot(&created) }),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(put, path = "/api/access-groups/{id}", tag = "access groups", params(("id" = i64, Path)), request_body = AccessGroupInput,
    responses((status = 200, body = AccessGroup), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_group(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<AccessGroupInput>,
) -> Result<Json<AccessGroup>, AppError> {
    me.require(Role::Admin)?;
    input.check()?;
    let now = state.clock.now();
    let mut tx = state.db.begin_write().await?;
    let before = view(&mut tx, id).await?;
    save(&mut tx, &input, Some(id), now).await?;
    let after = view(&mut tx, id).await?;
    audit::append(
        &mut tx,
        NewEvent::by(
            &me.0.username,
            "access_group.updated",
            format!("access_group:{id}"),
            json!({ "before": snapshot(&before), "after": snapshot(&after) }),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(after))
}

#[utoipa::path(delete, path = "/api/access-groups/{id}", tag = "access groups", params(("id" = i64, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete_group(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, AppError> {
    me.require(Role::Admin)?;
    let now = state.clock.now();
    let mut tx = state.db.begin_write().await?;
    let before = view(&mut tx, id).await?;
    let changes: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM changes WHERE access_group_id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
    if changes > 0 {
        return Err(AppError::rule(
            "access_group",
            format!(
                "is named by {changes} change(s), whose record must keep it: it cannot be deleted"
            ),
        ));
    }
    sqlx::query("DELETE FROM access_groups WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    audit::append(
        &mut tx,
        NewEvent::by(
            &me.0.username,
            "access_group.deleted",
            format!("access_group:{id}"),
            json!({ "before": snapshot(&before) }),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
