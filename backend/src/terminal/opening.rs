//! Opening a session, in the order that keeps every promise: the gate first; then the device,
//! with its pinned host key and the vaulted secret; then the recording (nothing may run
//! unrecorded); then the shell; then the session's row and its audit event. Any failure ends
//! here, audited, with words for the person.

use changeaudit_shared::api::Named;
use changeaudit_shared::asciicast::Header;
use changeaudit_shared::board::BenignCommands;
use changeaudit_shared::enforcement::Enforcement;
use changeaudit_shared::script::Script;
use changeaudit_shared::terminal::EndReason;
use russh::Channel;
use russh::client::Msg;
use sqlx::AnyConnection;

use super::gate::{self, Permit};
use super::ssh::{self, Connection, SshError, Target};
use super::store::{self, NewSession};
use crate::approvals::flow::Reach;
use crate::auth::session::SessionKey;
use crate::clock::Timestamp;
use crate::db::DbError;
use crate::recordings::Recorder;
use crate::rules::{self, Compiled};
use crate::state::AppState;
use crate::users::User;
use crate::{approvals, credentials, devices, random};

/// Who asks for a terminal on what, from where, at what size.
#[derive(Debug, Clone)]
pub struct Request {
    pub user: User,
    /// The sign-in the terminal was opened under: the session ends with it.
    pub sign_in: SessionKey,
    pub credential_id: i64,
    pub client_ip: String,
    pub user_agent: String,
    pub cols: u16,
    pub rows: u16,
}

/// A session that did not start, and why.
#[derive(Debug)]
pub struct Failure {
    pub reason: EndReason,
    pub message: String,
}

impl Failure {
    fn new(reason: EndReason, message: impl Into<String>) -> Self {
        Failure {
            reason,
            message: message.into(),
        }
    }

    fn internal(context: &str, error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "{context}");
        Failure::new(
            EndReason::Interrupted,
            "The session could not be started because of an internal error; it has been logged.",
        )
    }
}

/// A session whose shell is open and recorded.
pub struct Opened {
    pub id: i64,
    pub device: Named,
    pub account: String,
    pub change_id: Option<String>,
    /// The approved request it runs under, if planned.
    pub request_id: Option<i64>,
    /// The group it runs through: the change's, or the one that allowed it unplanned.
    pub group_id: i64,
    pub script: Script,
    pub benign: BenignCommands,
    pub enforcement: Enforcement,
    /// The command rules it is held to, in order.
    pub rules: Vec<Compiled>,
    pub closes_at: Timestamp,
    /// Whether `closes_at` is the change's due date, rather than the longest a session lasts.
    pub closes_at_due_date: bool,
    /// The longest this session may last ends then.
    pub longest: Timestamp,
    pub connection: Connection,
    pub recorder: Recorder,
    /// The recording's name in the store.
    pub recording: String,
    /// Handed to the device's shell for its shell-integration marks.
    pub nonce: String,
}

/// Opens the session: its record and the shell's channel.
pub async fn open(state: &AppState, request: &Request) -> Result<(Opened, Channel<Msg>), Failure> {
    let outcome = attempt(state, request).await;
    if let Err(failure) = &outcome {
        let recorded = store::record_refusal(
            &state.db,
            &request.user.username,
            request.credential_id,
            failure.reason,
            &failure.message,
            state.clock.now(),
        )
        .await;
        if let Err(error) = recorded {
            tracing::error!(%error, "recording a refused session in the trail");
        }
    }
    outcome
}

async fn attempt(state: &AppState, request: &Request) -> Result<(Opened, Channel<Msg>), Failure> {
    let now = state.clock.now();
    let Admitted {
        permit,
        account,
        device,
        target,
        rules,
    } = admitted(state, request, now).await?;
    let ssh = connect(&target).await?;
    let longest = now.plus(state.terminal.max_length);
    let due_at = match &permit {
        Permit::Planned { due_at, .. } => Some(*due_at),
        Permit::Unplanned { .. } => None,
    };
    let (closes_at, closes_at_due_date) = closing(due_at, longest);
    let recording = recording_name(now);
    // Marks the device's shell prints carry it; output replayed or printed without it does not.
    let nonce = hex::encode(random::bytes::<16>());
    let started = Started {
        request,
        device: &device,
        permit: &permit,
        nonce: &nonce,
        now,
    };
    let recorder = match start_recording(state, &recording, &started).await {
        Ok(recorder) => recorder,
        Err(failure) => {
            ssh.close().await;
            return Err(failure);
        }
    };
    let channel = match ssh.shell(request.cols, request.rows, &nonce).await {
        Ok(channel) => channel,
        Err(error) => {
            ssh.close().await;
            discard(state, &recording).await;
            return Err(Failure::new(EndReason::Unreachable, error.to_string()));
        }
    };
    let row = Row {
        request,
        account: &account,
        device: &device,
        permit: &permit,
        recording: &recording,
        replica: &state.cluster.replica,
        now,
        stored_at: state.clock.now(),
        closes_at,
    };
    let most = state.terminal.per_person;
    let stored = match store::start(&state.db, &row.new_session(), most).await {
        Ok(Ok(id)) => Ok(id),
        Ok(Err(running)) => Err(too_many(running, most)),
        Err(error) => Err(Failure::internal("storing the session", error)),
    };
    let id = match stored {
        Ok(id) => id,
        Err(failure) => {
            ssh.close().await;
            discard(state, &recording).await;
            return Err(failure);
        }
    };
    let enforcement = permit.enforcement();
    let request_id = permit.request_id();
    let group_id = permit.group_id();
    let (change_id, script, benign) = permit.into_plan();
    let opened = Opened {
        id,
        device,
        account,
        change_id,
        request_id,
        group_id,
        script,
        benign,
        enforcement,
        rules,
        closes_at,
        closes_at_due_date,
        longest,
        connection: ssh,
        recorder,
        recording,
        nonce,
    };
    Ok((opened, channel))
}

/// The refusal of a session past the person's limit.
fn too_many(running: u64, most: u64) -> Failure {
    Failure::new(
        EndReason::Refused,
        format!(
            "You have {running} terminal session(s) running, the most one person may ({most}): close one first."
        ),
    )
}

/// Voids request `id`, whose approvals no longer cover what it would run.
async fn void_stale(state: &AppState, id: i64, reason: &str) -> Result<(), Failure> {
    let voided = async {
        let mut tx = state.db.begin_write().await?;
        let now = state.clock.now();
        approvals::flow::void_requests(state, &mut tx, Reach::Request(id), reason, now).await?;
        tx.commit().await.map_err(DbError::from)?;
        Ok::<(), approvals::ApprovalError>(())
    };
    voided
        .await
        .map_err(|error| Failure::internal("voiding a request whose approvals are stale", error))
}

/// What the gate let in, and what it is held to.
struct Admitted {
    permit: Permit,
    account: String,
    device: Named,
    target: Target,
    rules: Vec<Compiled>,
}

/// The gate's permit, then what the session connects with: the credential's account, its
/// device and the SSH target with the vaulted secret opened.
async fn admitted(
    state: &AppState,
    request: &Request,
    now: Timestamp,
) -> Result<Admitted, Failure> {
    let mut connection = state
        .db
        .pool()
        .acquire()
        .await
        .map_err(|error| Failure::internal("database", error))?;
    let permit = gate::judge(&mut connection, request.user.id, request.credential_id, now)
        .await
        .map_err(|error| Failure::internal("session gate", error))?
        .map_err(|refusal| Failure::new(EndReason::Refused, refusal.to_string()))?;
    // Refused early, before connecting; `store::start` counts again where it counts.
    let running = store::running_of(&mut connection, request.user.id, now)
        .await
        .map_err(|error| Failure::internal("counting the person's sessions", error))?;
    let most = state.terminal.per_person;
    if running >= most {
        return Err(too_many(running, most));
    }
    if let Permit::Planned { request_id, .. } = &permit {
        let covered = approvals::digest::approvals_still_cover(&mut connection, *request_id, now)
            .await
            .map_err(|error| Failure::internal("checking what the approvals signed", error))?;
        if !covered {
            // Void it, so Start session asks for approval again instead of opening this.
            let reason = "what it approved has changed since (the change, a device's host, port \
                          or host key, or the credential): ask again";
            void_stale(state, *request_id, reason).await?;
            return Err(Failure::new(
                EndReason::Refused,
                "What was approved has changed since (the change, a device's host, port or host \
                 key, or the credential): ask for approval again.",
            ));
        }
    }
    let credential = credentials::view(&mut connection, request.credential_id)
        .await
        .map_err(|error| Failure::internal("loading the credential", error))?;
    let device = devices::view(&mut connection, credential.device_id)
        .await
        .map_err(|error| Failure::internal("loading the device", error))?;
    let secret = credentials::open(&mut connection, &state.master_key, credential.id)
        .await
        .map_err(|error| Failure::internal("opening the credential", error))?;
    let target = Target {
        host: device.host.clone(),
        port: device.port,
        pinned: device.host_key_fingerprint.clone(),
        account: credential.username.clone(),
        kind: credential.kind,
        secret,
    };
    let rules = session_rules(&mut connection, request, &device.tags)
        .await
        .map_err(|error| Failure::internal("loading the command rules", error))?;
    let named = Named {
        id: device.id,
        name: device.name,
    };
    Ok(Admitted {
        permit,
        account: credential.username,
        device: named,
        target,
        rules,
    })
}

/// The command rules of the session: those of everywhere, of the device's tags, of the
/// credential, and of each group through which the person may use the credential.
async fn session_rules(
    connection: &mut AnyConnection,
    request: &Request,
    tags: &[String],
) -> Result<Vec<Compiled>, DbError> {
    let group_ids: Vec<i64> = sqlx::query_scalar(
        "SELECT g.group_id FROM group_credentials g
         JOIN group_members m ON m.group_id = g.group_id AND m.user_id = $1 AND m.executor
         WHERE g.credential_id = $2",
    )
    .bind(request.user.id)
    .bind(request.credential_id)
    .fetch_all(&mut *connection)
    .await?;
    let session = rules::Session {
        group_ids: &group_ids,
        tags,
        credential_id: request.credential_id,
    };
    rules::for_session(connection, &session).await
}

/// The SSH connection, its failure named for the person.
async fn connect(target: &Target) -> Result<Connection, Failure> {
    ssh::connect(target).await.map_err(|error| {
        let reason = match &error {
            SshError::HostKeyMismatch { .. } => EndReason::HostKeyMismatch,
            SshError::AuthenticationFailed { .. } | SshError::UnreadableKey => {
                EndReason::AuthenticationFailed
            }
            SshError::Unreachable { .. } | SshError::NoShell(_) => EndReason::Unreachable,
        };
        Failure::new(reason, error.to_string())
    })
}

/// What the session's row is made of.
struct Row<'a> {
    request: &'a Request,
    account: &'a str,
    device: &'a Named,
    permit: &'a Permit,
    recording: &'a str,
    /// The replica that runs it.
    replica: &'a str,
    now: Timestamp,
    stored_at: Timestamp,
    closes_at: Timestamp,
}

impl Row<'_> {
    fn new_session(&self) -> NewSession<'_> {
        let (request_id, script, benign) = match self.permit {
            Permit::Planned {
                request_id,
                script_text,
                benign,
                ..
            } => (Some(*request_id), Some(script_text.as_str()), benign),
            Permit::Unplanned { benign, .. } => (None, None, benign),
        };
        NewSession {
            user_id: self.request.user.id,
            username: &self.request.user.username,
            credential_id: self.request.credential_id,
            device: self.device,
            account: self.account,
            change_id: self.permit.change_id(),
            request_id,
            client_ip: &self.request.client_ip,
            user_agent: &self.request.user_agent,
            recording: self.recording,
            replica: self.replica,
            cols: self.request.cols,
            rows: self.request.rows,
            started_at: self.now,
            stored_at: self.stored_at,
            closes_at: self.closes_at,
            script,
            benign,
            enforcement: self.permit.enforcement(),
        }
    }
}

/// What a recording's header tells of its session.
struct Started<'a> {
    request: &'a Request,
    device: &'a Named,
    permit: &'a Permit,
    nonce: &'a str,
    now: Timestamp,
}

/// No session starts while the recordings' volume is below its free-space floor: one would
/// soon be closed, its recording cut.
async fn refuse_when_full(state: &AppState) -> Result<(), Failure> {
    let floor = state.terminal.free_floor;
    // A store that cannot say how much room it has is tried: creating the recording tells.
    let free = state.recordings.free_bytes().await.unwrap_or_else(|error| {
        tracing::warn!(%error, "reading the recordings' free space");
        None
    });
    match free {
        Some(free) if free < floor => Err(Failure::new(
            EndReason::RecordingFailed,
            format!(
                "The session was not started: the recordings' volume has {} MiB free, below the floor of {} MiB. Tell an admin.",
                free >> 20,
                floor >> 20
            ),
        )),
        _ => Ok(()),
    }
}

async fn start_recording(
    state: &AppState,
    name: &str,
    started: &Started<'_>,
) -> Result<Recorder, Failure> {
    let Started {
        request,
        device,
        permit,
        nonce,
        now,
    } = *started;
    let refuse = |error: std::io::Error| {
        tracing::error!(%error, recording = name, "the recording cannot be written");
        Failure::new(
            EndReason::RecordingFailed,
            "The session was not started: its recording cannot be written. Tell an admin.",
        )
    };
    refuse_when_full(state).await?;
    let sink = state.recordings.create(name).await.map_err(refuse)?;
    let mut header = Header::new(request.cols, request.rows);
    header.timestamp = Some(now.as_millis().div_euclid(1000));
    header.title = Some(match permit.change_id() {
        Some(change) => format!("{change} on {} by {}", device.name, request.user.username),
        None => format!("{} by {} (unplanned)", device.name, request.user.username),
    });
    header.env.insert("TERM".to_owned(), ssh::TERM.to_owned());
    // Kept so that the recording is recognised again as it was live.
    header
        .env
        .insert(ssh::NONCE_VARIABLE.to_owned(), nonce.to_owned());
    Recorder::start(sink, &header).await.map_err(refuse)
}

/// When a session must close: at the change's due date (`true`), or at the longest a session
/// may last if that comes first or there is no change.
pub fn closing(due_at: Option<Timestamp>, longest: Timestamp) -> (Timestamp, bool) {
    match due_at {
        Some(due_at) if due_at <= longest => (due_at, true),
        _ => (longest, false),
    }
}

/// Removes the recording of a session that did not start: it holds only its header.
async fn discard(state: &AppState, name: &str) {
    if let Err(error) = state.recordings.remove(name).await {
        tracing::warn!(%error, recording = name, "removing the recording of a session that did not start");
    }
}

/// A name no other session has: the day, then random letters.
fn recording_name(now: Timestamp) -> String {
    let day = now.to_datetime().date();
    format!(
        "{:04}{:02}{:02}-{}.cast",
        day.year(),
        u8::from(day.month()),
        day.day(),
        hex::encode(random::bytes::<12>())
    )
}
