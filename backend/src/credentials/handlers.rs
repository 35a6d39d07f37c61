//! Admin → Credentials: `GET/POST /api/credentials`, `GET/DELETE /api/credentials/{id}`, and
//! `PUT /api/credentials/{id}/secret` to rotate a secret. A secret is accepted, sealed and
//! forgotten: no route answers it, and the trail only says that it changed.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use changeaudit_shared::api::Page;
use changeaudit_shared::api::credentials::{Credential, NewCredential, SecretKind, SecretUpdate};
use changeaudit_shared::problem::Problem;
use changeaudit_shared::role::Role;
use serde_json::{Value, json};

use super::{
    CredentialError, CredentialQuery, check_private_key, list, replace_secret, store, view,
};
use crate::approvals;
use crate::approvals::flow::Reach;
use crate::auth::CurrentUser;
use crate::db::DbError;
use crate::error::{ApiJson, ApiPath, ApiQuery, AppError};
use crate::listing::Paging;
use crate::state::AppState;
use crate::trail::audit::{self, NewEvent};
use secrecy::SecretString;

fn snapshot(credential: &Credential) -> Value {
    json!({
        "device_id": credential.device_id,
        "device": credential.device_name,
        "username": credential.username,
        "kind": credential.kind,
    })
}

fn check_kind(kind: SecretKind, secret: &str) -> Result<(), AppError> {
    if kind == SecretKind::PrivateKey {
        check_private_key(secret).map_err(|rule| AppError::field("secret", rule))?;
    }
    Ok(())
}

impl From<CredentialError> for AppError {
    fn from(error: CredentialError) -> Self {
        match error {
            CredentialError::Db(error) => error.into(),
            vault @ CredentialError::Vault { .. } => AppError::internal("the vault", vault),
        }
    }
}

#[utoipa::path(get, path = "/api/credentials", tag = "credentials", params(CredentialQuery, Paging),
    responses((status = 200, body = Page<Credential>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_credentials(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiQuery(query): ApiQuery<CredentialQuery>,
    ApiQuery(paging): ApiQuery<Paging>,
) -> Result<Json<Page<Credential>>, AppError> {
    me.require(Role::Admin)?;
    let mut connection = state.db.pool().acquire().await?;
    let (items, total) = list(&mut connection, &query, paging).await?;
    Ok(Json(paging.page(items, total)))
}

#[utoipa::path(get, path = "/api/credentials/{id}", tag = "credentials", params(("id" = i64, Path)),
    responses((status = 200, body = Credential), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_credential(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Credential>, AppError> {
    me.require(Role::Admin)?;
    let mut connection = state.db.pool().acquire().await?;
    Ok(Json(view(&mut connection, id).await?))
}

#[utoipa::path(post, path = "/api/credentials", tag = "credentials", request_body = NewCredential,
    responses((status = 201, body = Credential), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_credential(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiJson(mut input): ApiJson<NewCredential>,
) -> Result<(StatusCode, Json<Credential>), AppError> {
    me.require(Role::Admin)?;
    input.check()?;
    check_kind(input.kind, input.secret.expose())?;
    let now = state.clock.now();
    let mut tx = state.db.begin_write().await?;
    let (devices, taken): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM devices WHERE id = $1),
                (SELECT COUNT(*) FROM credentials WHERE device_id = $1 AND username = $2)",
    )
    .bind(input.device_id)
    .bind(input.username.trim())
    .fetch_one(&mut *tx)
    .await?;
    if devices == 0 {
        return Err(AppError::field("device_id", "no such device"));
    }
    if taken > 0 {
        return Err(AppError::field(
            "username",
            "this device already has a credential for this account: rotate its secret instead",
        ));
    }
    let secret = SecretString::from(input.secret.take());
    let id = store(
        &mut tx,
        &state.master_key,
        input.device_id,
        input.username.trim(),
        input.kind,
        &secret,
        now,
    )
    .await?;
    let created = view(&mut tx, id).await?;
    audit::append(
        &mut tx,
        NewEvent::by(
            &me.0.username,
            "credential.created",
            format!("credential:{id}"),
            json!({ "after": snapshot(&created), "key_id": state.master_key.id() }),
        ),
        now,
    )
    .await?;
    tx.commit().await.map_err(DbError::from)?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(put, path = "/api/credentials/{id}/secret", tag = "credentials", params(("id" = i64, Path)), request_body = SecretUpdate,
    responses((status = 200, body = Credential), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(mut input): ApiJson<SecretUpdate>,
) -> Result<Json<Credential>, AppError> {
    me.require(Role::Admin)?;
    input.check()?;
    check_kind(input.kind, input.secret.expose())?;
    let now = state.clock.now();
    let mut tx = state.db.begin_write().await?;
    let before = view(&mut tx, id).await?;
    let secret = SecretString::from(input.secret.take());
    replace_secret(&mut tx, &state.master_key, id, input.kind, &secret, now).await?;
    let after = view(&mut tx, id).await?;
    audit::append(
        &mut tx,
        NewEvent::by(
            &me.0.username,
            "credential.secret_rotated",
            format!("credential:{id}"),
            json!({
                "before": snapshot(&before),
                "after": snapshot(&after),
                "key_id": state.master_key.id(),
            }),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(after))
}

#[utoipa::path(delete, path = "/api/credentials/{id}", tag = "credentials", params(("id" = i64, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_credential(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, AppError> {
    me.require(Role::Admin)?;
    let now = state.clock.now();
    let mut tx = state.db.begin_write().await?;
    let before = view(&mut tx, id).await?;
    // Groups stop granting it with it (ON DELETE CASCADE); the event says which did.
    let groups: Vec<i64> = sqlx::query_scalar(
        "SELECT group_id FROM group_credentials WHERE credential_id = $1 ORDER BY group_id",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    // Requests to run with it are void: the requesters are told, and a session on it ends.
    let reason = format!(
        "the credential {}@{} was deleted",
        before.username, before.device_name
    );
    approvals::flow::void_requests(&state, &mut tx, Reach::Credential(id), &reason, now).await?;
    sqlx::query("DELETE FROM credentials WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    audit::append(
        &mut tx,
        NewEvent::by(
            &me.0.username,
            "credential.deleted",
            format!("credential:{id}"),
            json!({ "before": snapshot(&before), "granted_by_groups": groups }),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
