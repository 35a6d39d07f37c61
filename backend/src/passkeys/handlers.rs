//! The profile's passkeys — `GET /api/me/passkeys`, `POST /api/me/passkeys/registration` (the
//! first step), `POST /api/me/passkeys` (the second), `DELETE /api/me/passkeys/{id}` — and
//! signing in with one: `POST /api/session/passkey/challenge`, then `POST /api/session/passkey`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use changeaudit_shared::api::Me;
use changeaudit_shared::api::requests::{
    CeremonyStart, PasskeyInfo, PasskeyInput, PasskeySignIn, PasskeySignInStart,
};
use changeaudit_shared::problem::Problem;
use serde_json::json;
use webauthn_rs::prelude::{
    PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
    Uuid,
};

use super::ceremony::{self, Ceremony, Purpose};
use super::store;
use crate::audit::{self, NewEvent};
use crate::auth::handlers::open_session;
use crate::auth::{CurrentUser, throttle};
use crate::error::{ApiJson, ApiPath, AppError};
use crate::state::AppState;
use crate::web::client_ip::ClientInfo;

const MAX_NAME_CHARS: usize = 100;

fn info(key: &store::StoredPasskey) -> PasskeyInfo {
    PasskeyInfo {
        id: key.id,
        name: key.name.clone(),
        created_at: key.created_at.to_datetime(),
        last_used_at: key.last_used_at.map(|at| at.to_datetime()),
    }
}

fn json_state<T: serde::Serialize>(state: &T) -> Result<String, AppError> {
    serde_json::to_string(state)
        .map_err(|error| AppError::internal("keeping a passkey ceremony", error))
}

fn options<T: serde::Serialize>(options: &T) -> Result<serde_json::Value, AppError> {
    serde_json::to_value(options)
        .map_err(|error| AppError::internal("writing passkey options", error))
}

#[utoipa::path(get, path = "/api/me/passkeys", tag = "passkeys",
    responses((status = 200, body = Vec<PasskeyInfo>), (status = 401, body = Problem)))]
pub async fn my_passkeys(
    State(state): State<AppState>,
    me: CurrentUser,
) -> Result<Json<Vec<PasskeyInfo>>, AppError> {
    let mut connection = state.db.pool().acquire().await?;
    let keys = store::passkeys_of(&mut connection, me.0.id).await?;
    Ok(Json(keys.iter().map(info).collect()))
}

#[utoipa::path(post, path = "/api/me/passkeys/registration", tag = "passkeys",
    responses((status = 200, body = CeremonyStart), (status = 401, body = Problem)))]
pub async fn start_registration(
    State(state): State<AppState>,
    me: CurrentUser,
) -> Result<Json<CeremonyStart>, AppError> {
    let now = state.clock.now();
    let mut tx = state.db.begin_write().await?;
    let handle = store::handle_of(&mut tx, me.0.id).await?;
    let handle = Uuid::parse_str(&handle)
        .map_err(|error| AppError::internal("reading a passkey handle", error))?;
    let existing = store::passkeys_of(&mut tx, me.0.id)
        .await?
        .into_iter()
        .map(|key| key.passkey.cred_id().clone())
        .collect();
    let (challenge, registration) = state
        .passkeys
        .start_registration(handle, &me.0.username, &me.0.display_name, existing)
        .map_err(|error| AppError::internal("starting a passkey registration", error))?;
    let id = ceremony::open(
        &mut tx,
        &Ceremony {
            purpose: Purpose::Register,
            user_id: Some(me.0.id),
            request_id: None,
            change_digest: None,
            nonce: None,
            state: json_state(&registration)?,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(CeremonyStart {
        ceremony: id,
        options: options(&challenge)?,
    }))
}

#[utoipa::path(post, path = "/api/me/passkeys", tag = "passkeys", request_body = PasskeyInput,
    responses((status = 201, body = PasskeyInfo), (status = 401, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)))]
pub async fn register_passkey(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiJson(input): ApiJson<PasskeyInput>,
) -> Result<(StatusCode, Json<PasskeyInfo>), AppError> {
    let name = input.name.trim();
    if name.is_empty() {
        return Err(AppError::field(
            "name",
            "is required: name the device holding the passkey",
        ));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(AppError::field(
            "name",
            format!("must be at most {MAX_NAME_CHARS} characters"),
        ));
    }
    let credential: RegisterPublicKeyCredential = serde_json::from_value(input.credential)
        .map_err(|error| {
            AppError::field(
                "credential",
                format!("is not a WebAuthn registration: {error}"),
            )
        })?;
    let now = state.clock.now();
    let mut tx = state.db.begin_write().await?;
    let Some(ceremony) = ceremony::take(
        &mut tx,
        &input.ceremony,
        Purpose::Register,
        Some(me.0.id),
        now,
    )
    .await?
    else {
        tx.commit().await?;
        return Err(AppError::rule(
            "ceremony",
            "this registration has expired or was already used: start again",
        ));
    };
    let registration: PasskeyRegistration = serde_json::from_str(&ceremony.state)
        .map_err(|error| AppError::internal("reading a passkey ceremony", error))?;
    let passkey = match state
        .passkeys
        .finish_registration(&credential, &registration)
    {
        Ok(passkey) => passkey,
        Err(error) => {
            tx.commit().await?;
            return Err(AppError::rule(
                "credential",
                format!("the passkey was refused ({error})"),
            ));
        }
    };
    let credential_id = URL_SAFE_NO_PAD.encode(passkey.cred_id().as_slice());
    let taken: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM passkeys WHERE credential_id = $1")
        .bind(&credential_id)
        .fetch_one(&mut *tx)
        .await?;
    if taken > 0 {
        tx.commit().await?;
        return Err(AppError::rule(
            "credential",
            "this passkey is already registered",
        ));
    }
    let id = store::insert(&mut tx, me.0.id, &credential_id, name, &passkey, now).await?;
    audit::append(
        &mut tx,
        NewEvent::by(
            &me.0.username,
            "passkey.registered",
            format!("user:{}", me.0.id),
            json!({ "passkey_id": id, "name": name, "credential_id": credential_id,
                    "public_key": passkey.get_public_key() }),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    let mut connection = state.db.pool().acquire().await?;
    let keys = store::passkeys_of(&mut connection, me.0.id).await?;
    let key = keys
        .iter()
        .find(|key| key.id == id)
        .ok_or(AppError::NotFound)?;
    Ok((StatusCode::CREATED, Json(info(key))))
}

#[utoipa::path(delete, path = "/api/me/passkeys/{id}", tag = "passkeys", params(("id" = i64, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_passkey(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, AppError> {
    let now = state.clock.now();
    let mut tx = state.db.begin_write().await?;
    let name: Option<String> =
        sqlx::query_scalar("SELECT name FROM passkeys WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(me.0.id)
            .fetch_optional(&mut *tx)
            .await?;
    let name = name.ok_or(AppError::NotFound)?;
    sqlx::query("DELETE FROM passkeys WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    audit::append(
        &mut tx,
        NewEvent::by(
            &me.0.username,
            "passkey.removed",
            format!("user:{}", me.0.id),
            json!({ "passkey_id": id, "name": name }),
        ),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/session/passkey/challenge", tag = "session", security(), request_body = PasskeySignInStart,
    responses((status = 200, body = CeremonyStart), (status = 401, body = Problem), (status = 429, body = Problem)))]
pub async fn start_sign_in(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<PasskeySignInStart>,
) -> Result<Json<CeremonyStart>, AppError> {
    let username = input.username.trim();
    if username.is_empty() {
        return Err(AppError::field("username", "is required"));
    }
    let now = state.clock.now();
    throttle::check(&state.db, username, now).await?;
    let mut tx = state.db.begin_write().await?;
    let user: Option<i64> =
        sqlx::query_scalar("SELECT id FROM users WHERE username = $1 AND enabled = TRUE")
            .bind(username)
            .fetch_optional(&mut *tx)
            .await?;
    let keys = match user {
        Some(user_id) => store::passkeys_of(&mut tx, user_id).await?,
        None => Vec::new(),
    };
    let (Some(user_id), false) = (user, keys.is_empty()) else {
        return Err(AppError::InvalidCredentials);
    };
    let passkeys: Vec<_> = keys.into_iter().map(|key| key.passkey).collect();
    let (challenge, authentication) = state
        .passkeys
        .start_assertion(&passkeys, None)
        .map_err(|error| AppError::internal("starting a passkey sign-in", error))?;
    let id = ceremony::open(
        &mut tx,
        &Ceremony {
            purpose: Purpose::SignIn,
            user_id: Some(user_id),
            request_id: None,
            change_digest: None,
            nonce: None,
            state: json_state(&authentication)?,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(CeremonyStart {
        ceremony: id,
        options: options(&challenge)?,
    }))
}

#[utoipa::path(post, path = "/api/session/passkey", tag = "session", security(), request_body = PasskeySignIn,
    responses((status = 200, body = Me), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn sign_in(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(input): ApiJson<PasskeySignIn>,
) -> Result<Response, AppError> {
    let credential: PublicKeyCredential =
        serde_json::from_value(input.credential).map_err(|error| {
            AppError::field(
                "credential",
                format!("is not a WebAuthn assertion: {error}"),
            )
        })?;
    let now = state.clock.now();
    let mut tx = state.db.begin_write().await?;
    let found =
        sqlx::query_scalar::<_, i64>("SELECT user_id FROM webauthn_ceremonies WHERE id = $1")
            .bind(&input.ceremony)
            .fetch_optional(&mut *tx)
            .await?;
    let ceremony = match found {
        Some(user_id) => {
            ceremony::take(
                &mut tx,
                &input.ceremony,
                Purpose::SignIn,
                Some(user_id),
                now,
            )
            .await?
        }
        None => None,
    };
    let Some(ceremony) = ceremony else {
        tx.commit().await?;
        return Err(AppError::InvalidCredentials);
    };
    let user_id = ceremony.user_id.ok_or(AppError::InvalidCredentials)?;
    let authentication: PasskeyAuthentication = serde_json::from_str(&ceremony.state)
        .map_err(|error| AppError::internal("reading a passkey ceremony", error))?;
    let checked = state
        .passkeys
        .finish_assertion(&credential, &authentication);
    let username: String =
        sqlx::query_scalar("SELECT username FROM users WHERE id = $1 AND enabled = TRUE")
            .bind(user_id)
            .fetch_one(&mut *tx)
            .await?;
    let Ok((signed, result)) = checked else {
        tx.commit().await?;
        throttle::record_failure(&state.db, &username, now).await?;
        tracing::info!(username, client_ip = %client.ip, "passkey sign-in refused");
        return Err(AppError::InvalidCredentials);
    };
    let mut keys = store::passkeys_of(&mut tx, user_id).await?;
    if let Some(key) = keys
        .iter_mut()
        .find(|key| key.passkey.cred_id().as_slice() == signed.credential_id.as_slice())
    {
        key.passkey.update_credential(&result);
        store::touch(&mut tx, key.id, &key.passkey, now).await?;
    }
    tx.commit().await?;
    open_session(&state, &client, user_id, &username, "passkey").await
}
