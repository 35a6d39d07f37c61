//! The profile's passkeys — `GET /api/me/passkeys`, `POST /api/me/passkeys/registration` (the
//! first step), `POST /api/me/passkeys` (the second), `DELETE /api/me/passkeys/{id}` — and
//! signing in with one: `POST /api/session/passkey/challenge`, then `POST /api/session/passkey`,
//! throttled per username like passwords.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
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
use super::decoy;
use super::store;
use crate::auth::CurrentUser;
use crate::auth::failures::{self, Attempt};
use crate::auth::handlers::MAX_USERNAME_CHARS;
use crate::auth::handlers::open_session;
use crate::db::DbError;
use crate::error::{ApiJson, ApiPath, AppError};
use crate::state::AppState;
use crate::trail::audit::{self, NewEvent};
use crate::users;
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
    let handle = Uuid::parse_str(&handle).map_err(DbError::decode)?;
    let existing = store::passkeys_of(&mut tx, me.0.id)
        .await?
        .into_iter()
        .map(|key| key.passkey.cred_id().clone())
        .collect();
    let (options, registration) = state
        .passkeys
        .start_registration(handle, &me.0.username, &me.0.display_name, existing)
        .map_err(|error| AppError::internal("starting a passkey registration", error))?;
    let ceremony = Ceremony::new(Purpose::Register, me.0.id, &registration)?;
    let started = ceremony::start(&mut tx, &ceremony, &options, now).await?;
    tx.commit().await?;
    Ok(Json(started))
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
        .map_err(|_| AppError::field("credential", "is not a WebAuthn registration"))?;
    let now = state.clock.now();
    // The ceremony is used up by this attempt, whatever comes of it.
    let mut tx = state.db.begin_write().await?;
    let taken = ceremony::take(&mut tx, &input.ceremony, Purpose::Register, now).await?;
    tx.commit().await?;
    let Some(ceremony) = taken.filter(|ceremony| ceremony.user_id == me.0.id) else {
        return Err(AppError::rule(
            "ceremony",
            "this registration has expired or was already used: start again",
        ));
    };
    let registration: PasskeyRegistration = ceremony.state()?;
    let passkey = state
        .passkeys
        .finish_registration(&credential, &registration)
        .map_err(|error| {
            tracing::info!(username = %me.0.username, %error, "passkey registration refused");
            AppError::rule(
                "credential",
                "the authenticator's answer was refused: try again",
            )
        })?;
    let credential_id = URL_SAFE_NO_PAD.encode(passkey.cred_id().as_slice());
    let mut tx = state.db.begin_write().await?;
    let id = match store::insert(&mut tx, me.0.id, &credential_id, name, &passkey, now).await {
        Err(DbError::Conflict { .. }) => {
            return Err(AppError::rule(
                "credential",
                "this passkey is already registered",
            ));
        }
        other => other?,
    };
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
    Ok((
        StatusCode::CREATED,
        Json(PasskeyInfo {
            id,
            name: name.to_owned(),
            created_at: now.to_datetime(),
            last_used_at: None,
        }),
    ))
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
        sqlx::query_scalar("DELETE FROM passkeys WHERE id = $1 AND user_id = $2 RETURNING name")
            .bind(id)
            .bind(me.0.id)
            .fetch_optional(&mut *tx)
            .await?;
    let name = name.ok_or(AppError::NotFound)?;
    // A ceremony started before the removal lists the passkey in its state: end them all.
    ceremony::forget_user(&mut tx, me.0.id).await?;
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
    responses((status = 200, body = CeremonyStart), (status = 401, body = Problem), (status = 422, body = Problem),
        (status = 429, body = Problem)))]
pub async fn start_sign_in(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(input): ApiJson<PasskeySignInStart>,
) -> Result<Json<CeremonyStart>, AppError> {
    let username = input.username.trim();
    if username.is_empty() {
        return Err(AppError::field("username", "is required"));
    }
    if username.chars().count() > MAX_USERNAME_CHARS {
        let detail = format!("must be at most {MAX_USERNAME_CHARS} characters");
        return Err(AppError::field("username", detail));
    }
    let now = state.clock.now();
    let attempt = Attempt {
        username,
        method: "passkey",
        client: &client,
        // Passkeys cannot be guessed: no account limit to be spared from.
        known: None,
    };
    let admission = failures::admit(&state, &attempt).await?;
    let Some((user_id, _)) = users::login_record(&state.db, username).await? else {
        return decoy(&state, &attempt, admission, "no such enabled account").await;
    };
    let mut connection = state.db.pool().acquire().await?;
    let passkeys: Vec<_> = store::passkeys_of(&mut connection, user_id)
        .await?
        .into_iter()
        .map(|key| key.passkey)
        .collect();
    drop(connection);
    if passkeys.is_empty() {
        return decoy(&state, &attempt, admission, "the account has no passkey").await;
    }
    let (options, authentication) = state
        .passkeys
        .start_assertion(&passkeys, None)
        .map_err(|error| AppError::internal("starting a passkey sign-in", error))?;
    let ceremony = Ceremony::new(Purpose::SignIn, user_id, &authentication)?;
    // Before anyone signs in: no global write lock (the ceremony is in no order with the trail).
    let mut tx = state.db.begin_local().await?;
    let started = ceremony::start(&mut tx, &ceremony, &options, now).await?;
    tx.commit().await?;
    // A challenge handed out is no guess yet: its answer is counted when it comes back.
    failures::withdraw(&state, admission).await?;
    Ok(Json(started))
}

/// Audits the attempt as failed for `reason`, counted as a real challenge is (not at all), and
/// answers as for any account: the challenge route tells nobody who exists or who has a passkey.
async fn decoy(
    state: &AppState,
    attempt: &Attempt<'_>,
    admission: failures::Admission,
    reason: &str,
) -> Result<Json<CeremonyStart>, AppError> {
    failures::audited_only(state, attempt, admission, reason).await?;
    let answer = decoy::challenge(&state.passkeys, &state.trail_key, attempt.username)
        .map_err(|error| AppError::internal("answering a passkey challenge", error))?;
    Ok(Json(answer))
}

#[utoipa::path(post, path = "/api/session/passkey", tag = "session", security(), request_body = PasskeySignIn,
    responses((status = 200, body = changeaudit_shared::api::Me), (status = 401, body = Problem),
        (status = 422, body = Problem), (status = 429, body = Problem)))]
pub async fn sign_in(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(input): ApiJson<PasskeySignIn>,
) -> Result<Response, AppError> {
    let credential: PublicKeyCredential = serde_json::from_value(input.credential)
        .map_err(|_| AppError::field("credential", "is not a WebAuthn assertion"))?;
    let now = state.clock.now();
    let mut tx = state.db.begin_local().await?;
    let taken = ceremony::take(&mut tx, &input.ceremony, Purpose::SignIn, now).await?;
    tx.commit().await?;
    let Some(ceremony) = taken else {
        return Err(failures::stale_challenge(&state, &client).await);
    };
    // The user may have been disabled since the challenge.
    let (username, enabled): (String, i64) = sqlx::query_as(
        "SELECT username, CAST(CASE WHEN enabled THEN 1 ELSE 0 END AS BIGINT)
         FROM users WHERE id = $1",
    )
    .bind(ceremony.user_id)
    .fetch_one(state.db.pool())
    .await
    .map_err(DbError::from)?;
    let attempt = Attempt {
        username: &username,
        method: "passkey",
        client: &client,
        // Passkeys cannot be guessed: no account limit to be spared from.
        known: None,
    };
    let admission = failures::admit(&state, &attempt).await?;
    if enabled == 0 {
        let reason = "the account is disabled";
        return Err(failures::failed(&state, &attempt, admission, reason).await);
    }
    let authentication: PasskeyAuthentication = ceremony.state()?;
    let checked = state
        .passkeys
        .finish_assertion(&credential, &authentication);
    let mut tx = state.db.begin_write().await?;
    let mut keys = store::passkeys_of(&mut tx, ceremony.user_id).await?;
    // The passkey must still be registered: one removed since the challenge signs nothing in.
    let signed = checked.ok().and_then(|(signed, result)| {
        let key = keys
            .iter_mut()
            .find(|key| key.passkey.cred_id().as_slice() == signed.credential_id.as_slice())?;
        key.passkey.update_credential(&result);
        Some(key)
    });
    let Some(key) = signed else {
        tx.commit().await?;
        let reason = "the passkey's signature was refused";
        return Err(failures::failed(&state, &attempt, admission, reason).await);
    };
    store::touch(&mut tx, key.id, &key.passkey, now).await?;
    tx.commit().await?;
    failures::succeeded(&state, admission).await?;
    open_session(&state, &client, ceremony.user_id, &username, "passkey").await
}
