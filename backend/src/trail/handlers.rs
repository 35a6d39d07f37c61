//! Admin → Audit trail: the trail's key and latest checkpoint (admins and auditors), an event
//! with its inclusion proof, a consistency proof between two checkpoints, the export download,
//! and a verification run (admins). Downloads and runs are themselves audited.

use std::io::BufWriter;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use changeaudit_shared::api::Page;
use changeaudit_shared::api::trail::{ConsistencyProof, EventProof, TrailStatus, Verification};
use changeaudit_shared::export::Checkpoint;
use changeaudit_shared::problem::Problem;
use changeaudit_shared::role::Role;
use changeaudit_shared::trail::hex;
use changeaudit_shared::verify::Fault;
use serde::Deserialize;
use serde_json::json;

use crate::auth::CurrentUser;
use crate::db::DbError;
use crate::error::{ApiPath, ApiQuery, AppError};
use crate::listing::Paging;
use crate::state::AppState;
use crate::trail::audit::{self, NewEvent};
use crate::trail::verify::{Anchors, verify_export};
use crate::trail::{checkpoints, evidence, export, proofs, rotation};

const READERS: &[Role] = &[Role::Admin, Role::Auditor];

#[utoipa::path(get, path = "/api/trail", tag = "trail",
    responses((status = 200, body = TrailStatus), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn trail_status(
    State(state): State<AppState>,
    me: CurrentUser,
) -> Result<Json<TrailStatus>, AppError> {
    me.require_any(READERS)?;
    let mut connection = state.db.pool().acquire().await?;
    let events: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM audit_events")
        .fetch_one(&mut *connection)
        .await
        .map_err(DbError::from)?;
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM trail_checkpoints")
        .fetch_one(&mut *connection)
        .await
        .map_err(DbError::from)?;
    let latest = checkpoints::latest(&mut connection).await?;
    Ok(Json(TrailStatus {
        events,
        public_key: state.trail_key.public_key_hex(),
        key_id: state.trail_key.id().to_owned(),
        latest_checkpoint: latest.map(|stored| stored.checkpoint),
        checkpoints: count,
    }))
}

#[utoipa::path(get, path = "/api/trail/public-key", tag = "trail",
    description = "The trail's first Ed25519 public key as 64 hex digits and a newline: the file `changeaudit verify --public-key` takes (it follows every rotation announced since).",
    responses((status = 200, body = String, content_type = "text/plain"), (status = 401, body = Problem),
        (status = 403, body = Problem)))]
pub async fn public_key(
    State(state): State<AppState>,
    me: CurrentUser,
) -> Result<Response, AppError> {
    me.require_any(READERS)?;
    // The key an export is verified from: the first, whose rotations the trail announces.
    let first = first_key(&state).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"trail.key.pub\"",
            ),
        ],
        format!("{}\n", hex(&first.to_bytes())),
    )
        .into_response())
}

#[utoipa::path(get, path = "/api/trail/checkpoints", tag = "trail", params(Paging),
    responses((status = 200, body = Page<Checkpoint>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_checkpoints(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiQuery(paging): ApiQuery<Paging>,
) -> Result<Json<Page<Checkpoint>>, AppError> {
    me.require_any(READERS)?;
    let all = checkpoints::all(&state.db).await?;
    let total = i64::try_from(all.len()).unwrap_or(i64::MAX);
    // Newest first: the latest checkpoint is the one people look for.
    let items = all
        .into_iter()
        .rev()
        .skip(usize::try_from(paging.offset()).unwrap_or(usize::MAX))
        .take(usize::try_from(paging.limit()).unwrap_or(0))
        .collect();
    Ok(Json(paging.page(items, total)))
}

#[utoipa::path(get, path = "/api/trail/checkpoints/latest", tag = "trail",
    description = "The latest signed checkpoint as a file, to keep apart from the server: `changeaudit verify --trusted-checkpoint` then proves a later export continues it.",
    responses((status = 200, body = Checkpoint), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn latest_checkpoint(
    State(state): State<AppState>,
    me: CurrentUser,
) -> Result<Response, AppError> {
    me.require_any(READERS)?;
    let mut connection = state.db.pool().acquire().await?;
    let latest = checkpoints::latest(&mut connection).await?;
    drop(connection);
    let checkpoint = latest.ok_or(AppError::NotFound)?.checkpoint;
    let event = NewEvent {
        actor: audit::Actor::User(&me.0.username),
        action: "trail.checkpoint_downloaded",
        object: None,
        details: json!({ "tree_size": checkpoint.tree_size, "root": checkpoint.root }),
    };
    audit::record(&state.db, event, state.clock.now()).await?;
    let disposition = format!(
        "attachment; filename=\"changeaudit-checkpoint-{}.json\"",
        checkpoint.tree_size
    );
    Ok((
        [(header::CONTENT_DISPOSITION, disposition)],
        Json(checkpoint),
    )
        .into_response())
}

#[utoipa::path(get, path = "/api/trail/events/{seq}", tag = "trail", params(("seq" = i64, Path)),
    responses((status = 200, body = EventProof), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem, description = "Not yet under a checkpoint")))]
pub async fn event_proof(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiPath(seq): ApiPath<i64>,
) -> Result<Json<EventProof>, AppError> {
    me.require_any(READERS)?;
    let mut connection = state.db.pool().acquire().await?;
    let row = sqlx::query(
        "SELECT seq, at, actor, action, object, details, prev_hash, hash FROM audit_events WHERE seq = $1",
    )
    .bind(seq)
    .fetch_optional(&mut *connection)
    .await
    .map_err(DbError::from)?
    .ok_or(AppError::NotFound)?;
    let (event, hash) = audit::event_of(&row)?;
    let latest = checkpoints::latest(&mut connection)
        .await?
        .map(|stored| stored.checkpoint)
        .filter(|checkpoint| u64::try_from(seq).is_ok_and(|seq| seq <= checkpoint.tree_size))
        .ok_or_else(|| {
            AppError::rule(
                "seq",
                format!("event {seq} is not yet under a checkpoint; one is signed within a minute"),
            )
        })?;
    let leaf_index = u64::try_from(seq - 1).unwrap_or(0);
    let proof = proofs::inclusion(&mut connection, leaf_index + 1, latest.tree_size).await?;
    Ok(Json(EventProof {
        event,
        hash,
        leaf_index,
        checkpoint: latest,
        proof: proof.iter().map(|hash| hex(hash)).collect(),
    }))
}

/// The two checkpoints of `GET /api/trail/consistency`, by tree size.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Between {
    pub from: u64,
    pub to: u64,
}

#[utoipa::path(get, path = "/api/trail/consistency", tag = "trail", params(Between),
    responses((status = 200, body = ConsistencyProof), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn consistency_proof(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiQuery(between): ApiQuery<Between>,
) -> Result<Json<ConsistencyProof>, AppError> {
    me.require_any(READERS)?;
    if between.from == 0 || between.from > between.to {
        return Err(AppError::field(
            "from",
            "must be the size of a checkpoint no later than `to`",
        ));
    }
    let all = checkpoints::all(&state.db).await?;
    let find = |size: u64| {
        all.iter()
            .find(|checkpoint| checkpoint.tree_size == size)
            .cloned()
            .ok_or(AppError::NotFound)
    };
    let (from, to) = (find(between.from)?, find(between.to)?);
    let mut connection = state.db.pool().acquire().await?;
    let proof = proofs::consistency(&mut connection, from.tree_size, to.tree_size).await?;
    Ok(Json(ConsistencyProof {
        from,
        to,
        proof: proof.iter().map(|hash| hex(hash)).collect(),
    }))
}

#[utoipa::path(get, path = "/api/trail/export", tag = "trail",
    description = "The whole trail with its checkpoints as JSON lines, for `changeaudit verify`.",
    responses((status = 200, body = String, content_type = "application/jsonl"), (status = 401, body = Problem),
        (status = 403, body = Problem)))]
pub async fn download_export(
    State(state): State<AppState>,
    me: CurrentUser,
) -> Result<Response, AppError> {
    me.require_any(READERS)?;
    let now = state.clock.now();
    let file = Spool::new()?;
    let exported = export::export(&state.db, &state.trail_key, now, &mut file.writer()?)
        .await
        .map_err(|error| AppError::internal("exporting the trail", error))?;
    audit::record(
        &state.db,
        NewEvent {
            actor: audit::Actor::User(&me.0.username),
            action: "trail.exported",
            object: None,
            details: json!({ "events": exported.events, "checkpoints": exported.checkpoints }),
        },
        now,
    )
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/jsonl"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"changeaudit-trail.jsonl\"",
            ),
        ],
        file.body().await?,
    )
        .into_response())
}

#[utoipa::path(post, path = "/api/trail/verification", tag = "trail",
    description = "Exports the trail and verifies it as `changeaudit verify` would, recordings included.",
    responses((status = 200, body = Verification), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn run_verification(
    State(state): State<AppState>,
    me: CurrentUser,
) -> Result<Json<Verification>, AppError> {
    me.require(Role::Admin)?;
    let now = state.clock.now();
    let file = Spool::new()?;
    export::export(&state.db, &state.trail_key, now, &mut file.writer()?)
        .await
        .map_err(|error| AppError::internal("exporting the trail", error))?;
    // From the trail's first key, through every rotation since.
    let anchors = Anchors {
        first_key: first_key(&state).await?,
        trusted: None,
    };
    let result = match file.async_reader().await {
        Ok(read) => verify_export(read, anchors, Some(state.recordings.as_ref())).await,
        Err(error) => Err(Fault {
            seq: None,
            line: 0,
            reason: format!("the export cannot be read back: {error}"),
        }),
    };
    // The chain of keys must end at this server's own: one ending elsewhere was announced
    // behind its back.
    let own = state.trail_key.id();
    let result = result.and_then(|summary| match summary.key_id == own {
        true => Ok(summary),
        false => Err(Fault {
            seq: None,
            line: 0,
            reason: format!(
                "the trail's keys lead to key {}, not to this server's key {own}",
                summary.key_id
            ),
        }),
    });
    let verification = match result {
        Ok(summary) => Verification {
            ok: true,
            summary: summary.to_string(),
            failed_seq: None,
            events: summary.events,
            checkpoints: summary.checkpoints,
            recordings: summary.recordings,
            assertions: summary.assertions,
        },
        Err(fault) => Verification {
            ok: false,
            summary: fault.to_string(),
            failed_seq: fault.seq,
            events: 0,
            checkpoints: 0,
            recordings: 0,
            assertions: 0,
        },
    };
    audit::record(
        &state.db,
        NewEvent {
            actor: audit::Actor::User(&me.0.username),
            action: "trail.verified",
            object: None,
            details: json!({ "ok": verification.ok, "summary": verification.summary }),
        },
        state.clock.now(),
    )
    .await?;
    Ok(Json(verification))
}

#[utoipa::path(get, path = "/api/changes/{id}/evidence", tag = "trail", params(("id" = String, Path)),
    description = "The change's evidence bundle (JSON lines): its events, its requests' and sessions', with inclusion proofs against a signed checkpoint, the recordings and the boards; `changeaudit verify --bundle` checks it alone.",
    responses((status = 200, body = String, content_type = "application/jsonl"), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn change_evidence(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, AppError> {
    me.require_any(READERS)?;
    let now = state.clock.now();
    let file = Spool::new()?;
    let summary = evidence::bundle_of(
        &state.db,
        state.recordings.as_ref(),
        &state.trail_key,
        &id,
        now,
        &mut file.writer()?,
    )
    .await
    .map_err(|error| match error {
        evidence::BundleError::Db(DbError::NotFound) => AppError::NotFound,
        other => AppError::internal("writing an evidence bundle", other),
    })?;
    audit::record(
        &state.db,
        NewEvent::by(
            &me.0.username,
            "change.evidence_exported",
            format!("change:{id}"),
            json!({ "events": summary.events, "recordings": summary.recordings, "tree_size": summary.tree_size }),
        ),
        state.clock.now(),
    )
    .await?;
    let disposition = format!(
        "attachment; filename=\"evidence-{}.jsonl\"",
        id.replace('"', "")
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/jsonl".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        file.body().await?,
    )
        .into_response())
}

/// An export or a bundle written to a temporary file rather than to memory, then read back by
/// the verifier or streamed to the browser: a trail of any length costs no more memory.
struct Spool(tempfile::NamedTempFile);

impl Spool {
    fn new() -> Result<Spool, AppError> {
        tempfile::NamedTempFile::new()
            .map(Spool)
            .map_err(|error| AppError::internal("making a temporary file", error))
    }

    fn writer(&self) -> Result<BufWriter<std::fs::File>, AppError> {
        self.0
            .reopen()
            .map(|file| BufWriter::with_capacity(1 << 16, file))
            .map_err(|error| AppError::internal("writing a temporary file", error))
    }

    async fn async_reader(&self) -> std::io::Result<tokio::io::BufReader<tokio::fs::File>> {
        let file = tokio::fs::File::open(self.0.path()).await?;
        Ok(tokio::io::BufReader::with_capacity(1 << 20, file))
    }

    /// The file as a response body. The open file is read to its end even though the name is
    /// removed when this returns.
    async fn body(self) -> Result<axum::body::Body, AppError> {
        let file = tokio::fs::File::open(self.0.path())
            .await
            .map_err(|error| AppError::internal("reading a temporary file", error))?;
        Ok(axum::body::Body::from_stream(
            tokio_util::io::ReaderStream::new(file),
        ))
    }
}

/// The trail's first public key, kept beside the key file.
async fn first_key(state: &AppState) -> Result<ed25519_dalek::VerifyingKey, AppError> {
    rotation::first_key(&state.trail_key_file, &state.trail_key, &state.db)
        .await
        .map_err(|error| AppError::internal("reading the trail's first public key", error))
}
