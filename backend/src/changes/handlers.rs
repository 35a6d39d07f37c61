//! Change Audit → Changes: `GET/POST /api/changes`, `GET/PUT /api/changes/{id}`,
//! `GET /api/changes/{id}/life` and `POST /api/changes/{id}/cancel`. Planners register, edit
//! and cancel; everyone with a global role reads them all, and others read the changes of
//! their access groups.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use changeaudit_shared::api::changes::{Change, ChangeInput, ChangeStatus};
use changeaudit_shared::api::life::ChangeLife;
use changeaudit_shared::api::{FieldErrors, Page};
use changeaudit_shared::enforcement::Enforcement;
use changeaudit_shared::problem::Problem;
use changeaudit_shared::role::Role;
use serde_json::{Value, json};
use sqlx::AnyConnection;

use super::{ChangeQuery, Visibility, insert, list, set_status, update, view};
use crate::approvals;
use crate::approvals::flow::Reach;
use crate::auth::CurrentUser;
use crate::clock::Timestamp;
use crate::db::missing_ids;
use crate::error::{ApiJson, ApiPath, ApiQuery, AppError};
use crate::listing::Paging;
use crate::state::AppState;
use crate::terminal;
use crate::trail::audit::{self, NewEvent};

/// What the trail keeps of a change: all of it but the timestamps, which the event has.
fn snapshot(change: &Change) -> Value {
    let mut value = json!(change);
    if let Some(object) = value.as_object_mut() {
        object.remove("created_at");
        object.remove("updated_at");
        object.remove("updated_by");
    }
    value
}

fn visibility(me: &CurrentUser) -> Visibility {
    if me.has_a_role() {
        Visibility::All
    } else {
        Visibility::MemberOf(me.0.id)
    }
}

/// Every rule of a change body, those of the shared checker and those that need the database,
/// reported together.
async fn check(
    connection: &mut AnyConnection,
    input: &ChangeInput,
    editing: Option<&str>,
    now: Timestamp,
) -> Result<changeaudit_shared::api::changes::CheckedChange, AppError> {
    let checked = input.check();
    let mut errors = FieldErrors::default();
    let id = input.id.trim();
    match editing {
        Some(stored) if !stored.eq_ignore_ascii_case(id) => {
            errors.add("id", "cannot be changed once the change is registered");
        }
        Some(_) => {}
        None if !id.is_empty() => {
            let taken: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM changes WHERE LOWER(id) = LOWER($1)")
                    .bind(id)
                    .fetch_one(&mut *connection)
                    .await?;
            if taken > 0 {
                errors.add("id", format!("{id} is already registered"));
            }
        }
        None => {}
    }
    if let Some(group) = input.access_group_id
        && !missing_ids(connection, "access_groups", &[group])
            .await?
            .is_empty()
    {
        errors.add("access_group_id", "no such access group");
    } else if let (Some(group), Some(asked)) = (input.access_group_id, input.enforcement)
        && asked != Enforcement::Off
    {
        let floor = crate::groups::enforcement(connection, group).await?;
        if asked < floor {
            errors.add(
                "enforcement",
                format!(
                    "is less strict than its access group's ({}): a change may only hold its sessions more strictly",
                    floor.as_str().replace('_', " ")
                ),
            );
        }
    }
    for index in missing_ids(connection, "devices", &input.device_ids).await? {
        errors.add(format!("device_ids[{index}]"), "no such device");
    }
    if let Ok(change) = &checked
        && Timestamp::from_datetime(change.due_at) <= now
    {
        errors.add("due_at", "is already past");
    }
    match checked {
        Ok(change) if errors.is_empty() => Ok(change),
        Ok(_) => Err(AppError::Validation(errors.into_vec())),
        Err(mut body) => {
            body.extend(errors.into_vec());
            Err(AppError::Validation(body))
        }
    }
}

#[utoipa::path(get, path = "/api/changes", tag = "changes", params(ChangeQuery, Paging),
    responses((status = 200, body = Page<Change>), (status = 401, body = Problem)))]
pub async fn list_changes(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiQuery(query): ApiQuery<ChangeQuery>,
    ApiQuery(paging): ApiQuery<Paging>,
) -> Result<Json<Page<Change>>, AppError> {
    let mut connection = state.db.pool().acquire().await?;
    let (items, total) = list(
        &mut connection,
        &query,
        visibility(&me),
        paging,
        state.clock.now(),
    )
    .await?;
    Ok(Json(paging.page(items, total)))
}

#[utoipa::path(get, path = "/api/changes/{id}", tag = "changes", params(("id" = String, Path)),
    responses((status = 200, body = Change), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn get_change(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Change>, AppError> {
    let mut connection = state.db.pool().acquire().await?;
    Ok(Json(
        view(&mut connection, &id, visibility(&me), state.clock.now()).await?,
    ))
}

#[utoipa::path(get, path = "/api/changes/{id}/life", tag = "changes", params(("id" = String, Path)),
    responses((status = 200, body = ChangeLife), (status = 401, body = Problem), (status = 404, body = Problem)))]
/// What happened to a change: its requests with their decisions and its sessions, the newest
/// 200 of each, as far as the person may see them elsewhere: requests as on their own page,
/// sessions to auditors and admins, and each person's own.
pub async fn change_life(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ChangeLife>, AppError> {
    let now = state.clock.now();
    let mut connection = state.db.pool().acquire().await?;
    let change = view(&mut connection, &id, visibility(&me), now).await?;
    let requests =
        approvals::barrier::requests_seen(&mut connection, &me.0, &change.id, now).await?;
    let only = (!me.has_any(terminal::watch::OVERSEERS)).then_some(me.0.id);
    let limit = approvals::store::LIFE_LIMIT;
    let sessions =
        terminal::store::of_change(&mut connection, &change.id, only, limit, now).await?;
    Ok(Json(ChangeLife { requests, sessions }))
}

#[utoipa::path(post, path = "/api/changes", tag = "changes", request_body = ChangeInput,
    responses((status = 201, body = Change), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_change(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiJson(input): ApiJson<ChangeInput>,
) -> Result<(StatusCode, Json<Change>), AppError> {
    me.require(Role::Planner)?;
    let now = state.clock.now();
    let mut tx = state.db.begin_write().await?;
    let change = check(&mut tx, &input, None, now).await?;
    insert(&mut tx, &change, &input.script, me.0.id, now).await?;
    let created = view(&mut tx, &change.id, Visibility::All, now).await?;
    audit::append(
        &mut tx,
        NewEvent::by(
            &me.0.username,
            "change.registered",
            format!("change:{}", created.id),
            json!({ "after": snapshot(&created) }),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(created)))
}

fn refuse_unless_open(change: &Change, doing: &str) -> Result<(), AppError> {
    if change.status.is_open() {
        Ok(())
    } else {
        Err(AppError::rule(
            "status",
            format!(
                "the change is {}: it can no longer be {doing}",
                change.status.label().to_lowercase()
            ),
        ))
    }
}

#[utoipa::path(put, path = "/api/changes/{id}", tag = "changes", params(("id" = String, Path)), request_body = ChangeInput,
    responses((status = 200, body = Change), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update_change(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<ChangeInput>,
) -> Result<Json<Change>, AppError> {
    me.require(Role::Planner)?;
    let now = state.clock.now();
    let mut tx = state.db.begin_write().await?;
    let before = view(&mut tx, &id, Visibility::All, now).await?;
    refuse_unless_open(&before, "edited")?;
    let change = check(&mut tx, &input, Some(&before.id), now).await?;
    update(&mut tx, &before.id, &change, &input.script, me.0.id, now).await?;
    approvals::flow::void_requests(
        &state,
        &mut tx,
        Reach::Change(&before.id),
        approvals::store::VOIDED_REASON,
        now,
    )
    .await?;
    let after = view(&mut tx, &before.id, Visibility::All, now).await?;
    audit::append(
        &mut tx,
        NewEvent::by(
            &me.0.username,
            "change.edited",
            format!("change:{}", before.id),
            json!({ "before": snapshot(&before), "after": snapshot(&after) }),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(after))
}

#[utoipa::path(post, path = "/api/changes/{id}/cancel", tag = "changes", params(("id" = String, Path)),
    responses((status = 200, body = Change), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn cancel_change(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Change>, AppError> {
    me.require(Role::Planner)?;
    let now = state.clock.now();
    let mut tx = state.db.begin_write().await?;
    let before = view(&mut tx, &id, Visibility::All, now).await?;
    refuse_unless_open(&before, "cancelled")?;
    set_status(&mut tx, &before.id, ChangeStatus::Cancelled, me.0.id, now).await?;
    let reach = Reach::Change(&before.id);
    approvals::flow::void_requests(&state, &mut tx, reach, "the change was cancelled", now).await?;
    let after = view(&mut tx, &before.id, Visibility::All, now).await?;
    audit::append(
        &mut tx,
        NewEvent::by(
            &me.0.username,
            "change.cancelled",
            format!("change:{}", before.id),
            json!({ "before": { "status": before.status }, "after": { "status": after.status } }),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(after))
}
