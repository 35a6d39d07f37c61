//! Admin → Devices: `GET/POST /api/devices`, `GET/PUT/DELETE /api/devices/{id}`, and
//! `POST /api/devices/host-key-scan`, which reports a device's host key for a person to confirm.
//! Nothing pins a key without that person sending it back.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use changeaudit_shared::api::Page;
use changeaudit_shared::api::devices::{Device, DeviceInput, HostKeyScan, HostKeyScanRequest};
use changeaudit_shared::problem::Problem;
use changeaudit_shared::role::Role;
use serde_json::{Value, json};

use super::{DeviceQuery, insert, list, name_taken, scan, update, view};
use crate::approvals;
use crate::approvals::flow::Reach;
use crate::auth::CurrentUser;
use crate::error::{ApiJson, ApiPath, ApiQuery, AppError};
use crate::listing::Paging;
use crate::state::AppState;
use crate::trail::audit::{self, NewEvent};

fn snapshot(device: &Device) -> Value {
    json!({
        "name": device.name,
        "host": device.host,
        "port": device.port,
        "tags": device.tags,
        "host_key_fingerprint": device.host_key_fingerprint,
    })
}

#[utoipa::path(get, path = "/api/devices", tag = "devices", params(DeviceQuery, Paging),
    responses((status = 200, body = Page<Device>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_devices(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiQuery(query): ApiQuery<DeviceQuery>,
    ApiQuery(paging): ApiQuery<Paging>,
) -> Result<Json<Page<Device>>, AppError> {
    me.require_a_role()?;
    let mut connection = state.db.pool().acquire().await?;
    let (items, total) = list(&mut connection, &query, paging).await?;
    Ok(Json(paging.page(items, total)))
}

#[utoipa::path(get, path = "/api/devices/{id}", tag = "devices", params(("id" = i64, Path)),
    responses((status = 200, body = Device), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_device(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Device>, AppError> {
    me.require_a_role()?;
    let mut connection = state.db.pool().acquire().await?;
    Ok(Json(view(&mut connection, id).await?))
}

#[utoipa::path(post, path = "/api/devices", tag = "devices", request_body = DeviceInput,
    responses((status = 201, body = Device), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_device(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiJson(input): ApiJson<DeviceInput>,
) -> Result<(StatusCode, Json<Device>), AppError> {
    me.require(Role::Admin)?;
    let device = input.check()?;
    let now = state.clock.now();
    let mut tx = state.db.begin_write().await?;
    if name_taken(&mut tx, &device.name, None).await? {
        return Err(AppError::field(
            "name",
            "is already taken by another device",
        ));
    }
    let id = insert(&mut tx, &device, now).await?;
    let created = view(&mut tx, id).await?;
    audit::append(
        &mut tx,
        NewEvent::by(
            &me.0.username,
            "device.created",
            format!("device:{id}"),
            json!({ "after": snapshot(&created) }),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(put, path = "/api/devices/{id}", tag = "devices", params(("id" = i64, Path)), request_body = DeviceInput,
    responses((status = 200, body = Device), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_device(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<DeviceInput>,
) -> Result<Json<Device>, AppError> {
    me.require(Role::Admin)?;
    let device = input.check()?;
    let now = state.clock.now();
    let mut tx = state.db.begin_write().await?;
    let before = view(&mut tx, id).await?;
    if name_taken(&mut tx, &device.name, Some(id)).await? {
        return Err(AppError::field(
            "name",
            "is already taken by another device",
        ));
    }
    update(&mut tx, id, &device, now).await?;
    let after = view(&mut tx, id).await?;
    if target_of(&after) != target_of(&before) {
        // Approvals name where their sessions go: they do not follow a device elsewhere.
        let reason = format!(
            "device {} was changed (name, host, port or host key) after the request was made: ask again",
            before.name
        );
        approvals::flow::void_requests(&state, &mut tx, Reach::Device(id), &reason, now).await?;
    }
    audit::append(
        &mut tx,
        NewEvent::by(
            &me.0.username,
            "device.updated",
            format!("device:{id}"),
            json!({ "before": snapshot(&before), "after": snapshot(&after) }),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(after))
}

/// What of a device an approval covers.
fn target_of(device: &Device) -> (&str, &str, u16, &str) {
    (
        &device.name,
        &device.host,
        device.port,
        &device.host_key_fingerprint,
    )
}

#[utoipa::path(delete, path = "/api/devices/{id}", tag = "devices", params(("id" = i64, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete_device(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, AppError> {
    me.require(Role::Admin)?;
    let now = state.clock.now();
    let mut tx = state.db.begin_write().await?;
    let before = view(&mut tx, id).await?;
    let (changes, credentials, sessions): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM change_devices WHERE device_id = $1),
                (SELECT COUNT(*) FROM credentials WHERE device_id = $1),
                (SELECT COUNT(*) FROM terminal_sessions WHERE device_id = $1)",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    if changes > 0 {
        return Err(AppError::rule(
            "device",
            format!(
                "is named by {changes} change(s), whose record must keep it: it cannot be deleted"
            ),
        ));
    }
    if sessions > 0 {
        return Err(AppError::rule(
            "device",
            format!(
                "has {sessions} recorded session(s), whose record must keep it: it cannot be deleted"
            ),
        ));
    }
    if credentials > 0 {
        return Err(AppError::rule(
            "device",
            format!("has {credentials} credential(s): delete them first"),
        ));
    }
    sqlx::query("DELETE FROM devices WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    audit::append(
        &mut tx,
        NewEvent::by(
            &me.0.username,
            "device.deleted",
            format!("device:{id}"),
            json!({ "before": snapshot(&before) }),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/devices/host-key-scan", tag = "devices", request_body = HostKeyScanRequest,
    responses((status = 200, body = HostKeyScan), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem, description = "Bad address, or the device could not be reached")))]
pub async fn scan_host_key(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiJson(request): ApiJson<HostKeyScanRequest>,
) -> Result<Json<HostKeyScan>, AppError> {
    me.require(Role::Admin)?;
    let (host, port) = request.check()?;
    let scanned = scan::fetch_host_key(host, port).await;
    // Which key a device presented, and to whom, is evidence for the pin made from it.
    let details = match &scanned {
        Ok(scan) => json!({ "host": host, "port": port, "fingerprint": scan.fingerprint }),
        Err(error) => json!({ "host": host, "port": port, "error": error.to_string() }),
    };
    let event = NewEvent {
        actor: audit::Actor::User(&me.0.username),
        action: "device.host_key_scanned",
        object: None,
        details,
    };
    audit::record(&state.db, event, state.clock.now()).await?;
    scanned
        .map(Json)
        .map_err(|error| AppError::field("host", error.to_string()))
}
