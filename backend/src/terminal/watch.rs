//! Watching a running session, read-only: its recording is followed as it is written
//! (`follow`), so any replica can serve a watcher whichever replica runs the session. The watcher sees what the
//! person sees, from the first byte, until the session ends.

use std::time::Duration;

use tokio::time::Instant;

use axum::extract::ws::{Message, WebSocket};
use changeaudit_shared::api::sessions::{SessionState, TerminalSession};
use changeaudit_shared::asciicast::{Event, EventData, Header};
use changeaudit_shared::board::BenignCommands;
use changeaudit_shared::command::{ExecutedCommand, Finding};
use changeaudit_shared::enforcement::Held;
use changeaudit_shared::report::AuditReport;
use changeaudit_shared::role::Role;
use changeaudit_shared::script::Script;
use changeaudit_shared::terminal::{Checklist, EndReason, ServerMessage};

use super::follow::{Follow, POLL};
use super::review;
use super::socket::{self, close, send};
use super::store::{self, Stored};
use crate::auth::session::{self, SessionKey};
use crate::db::DbError;
use crate::state::AppState;
use crate::users;

/// Auditors and admins oversee every session.
pub const OVERSEERS: &[Role] = &[Role::Auditor, Role::Admin];
/// How often the watcher's sign-in and role are asked again.
const RIGHTS_EVERY: Duration = Duration::from_secs(2);
/// Checks in a row the database may leave unanswered before the watching ends.
const UNANSWERED_CHECKS: u32 = 3;

/// Who watches, under which sign-in: the watching ends with either.
pub struct Watcher {
    pub user_id: i64,
    pub username: String,
    pub sign_in: SessionKey,
}

pub async fn run(state: AppState, mut socket: WebSocket, session: Stored, watcher: Watcher) {
    let id = session.record.id;
    let started = ServerMessage::Started {
        session_id: id,
        device: session.record.device.name.clone(),
        account: session.record.account.clone(),
        change_id: session.record.change_id.clone(),
        closes_at: String::new(),
    };
    if send(&mut socket, started).await.is_err() {
        return;
    }
    let mut follow = Follow::open(&state, &session).await;
    let mut lines = Lines::default();
    let mut rights = RightsCheck::default();
    let mut checklist = ChecklistNews::default();
    // The session's record is looked at once a `POLL` at most, however busy its output.
    let mut looked: Option<Instant> = None;
    loop {
        if let Some(why) = rights.lapsed(&state, &watcher).await {
            revoke(&state, &mut socket, id, &watcher, why).await;
            return;
        }
        let chunk = tokio::select! {
            chunk = follow.more(&*state.recordings) => match chunk {
                Ok(chunk) => chunk,
                Err(error) => {
                    // With recordings on a local folder, only the server holding it can read it.
                    tracing::warn!(%error, session = id, "reading a recording to watch it");
                    let message = "This server cannot read the session's recording, so it cannot \
                        be watched from here.";
                    close(&mut socket, EndReason::Interrupted, message).await;
                    return;
                }
            },
            message = socket.recv() => match message {
                Some(Err(error)) if socket::too_large(&error) => {
                    let words = socket::too_large_words(socket::MAX_WATCH_MESSAGE);
                    close(&mut socket, EndReason::MessageTooLarge, &words).await;
                    return;
                }
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                // Watching is read-only: anything the watcher sends is ignored.
                Some(Ok(_)) => continue,
            },
        };
        for message in lines.take(&chunk) {
            if send(&mut socket, message).await.is_err() {
                return;
            }
        }
        if looked.is_some_and(|at| at.elapsed() < POLL) {
            continue;
        }
        looked = Some(Instant::now());
        let record = current(&state, id).await;
        if let Some(message) = checklist.news(&state, record.as_ref()).await
            && send(&mut socket, message).await.is_err()
        {
            return;
        }
        let Some(record) = record else { continue };
        let ended = record.state == SessionState::Ended;
        follow.session_is(ended);
        // The recording was sealed before the row ended: once nothing more comes from where the
        // watcher is, it has seen everything.
        if ended && follow.settled() && chunk.is_empty() {
            let reason = record.end_reason.unwrap_or(EndReason::Interrupted);
            close(&mut socket, reason, "The session has ended.").await;
            return;
        }
    }
}

/// The watcher's rights, asked again every `RIGHTS_EVERY`.
struct RightsCheck {
    asked: tokio::time::Instant,
    /// Checks in a row the database left unanswered.
    unanswered: u32,
}

impl Default for RightsCheck {
    fn default() -> Self {
        RightsCheck {
            asked: tokio::time::Instant::now(),
            unanswered: 0,
        }
    }
}

impl RightsCheck {
    /// Why the watching must end, when a check is due and finds so. A moment without the
    /// database ends nothing; a longer one ends the watching.
    async fn lapsed(&mut self, state: &AppState, watcher: &Watcher) -> Option<&'static str> {
        if self.asked.elapsed() < RIGHTS_EVERY {
            return None;
        }
        self.asked = tokio::time::Instant::now();
        match rights(state, watcher).await {
            Rights::Hold => {
                self.unanswered = 0;
                None
            }
            Rights::Lapsed(why) => Some(why),
            Rights::Unknown => {
                self.unanswered += 1;
                (self.unanswered >= UNANSWERED_CHECKS)
                    .then_some("Your rights could not be checked for several seconds.")
            }
        }
    }
}

/// What a check of the watcher's rights found.
enum Rights {
    Hold,
    /// Their sign-in has lapsed or they no longer oversee sessions, for this reason.
    Lapsed(&'static str),
    /// The database did not answer.
    Unknown,
}

/// Whether the watcher may still watch.
async fn rights(state: &AppState, watcher: &Watcher) -> Rights {
    let now = state.clock.now();
    let user_id = watcher.user_id;
    match session::standing(&state.db, &watcher.sign_in, user_id, &state.sessions, now).await {
        Ok(Ok(())) => {}
        Ok(Err(lapse)) => return Rights::Lapsed(lapse.words()),
        Err(error) => {
            tracing::warn!(%error, "checking a watcher's sign-in again");
            return Rights::Unknown;
        }
    }
    match users::find(&state.db, user_id).await {
        Ok(user) if user.roles.iter().any(|role| OVERSEERS.contains(role)) => Rights::Hold,
        Ok(_) => Rights::Lapsed("You no longer hold the auditor or admin role."),
        Err(error) => {
            tracing::warn!(%error, "checking a watcher's roles again");
            Rights::Unknown
        }
    }
}

/// Ends the watching, audited, telling the watcher why.
async fn revoke(state: &AppState, socket: &mut WebSocket, id: i64, watcher: &Watcher, why: &str) {
    let message = format!("The watching was closed: it is no longer allowed. {why}");
    if let Err(error) = store::record_watching_revoked(
        &state.db,
        id,
        &watcher.username,
        &message,
        state.clock.now(),
    )
    .await
    {
        tracing::error!(%error, session = id, "auditing the end of a watching");
    }
    close(socket, EndReason::Revoked, &message).await;
}

/// The recording's lines as they arrive: only whole lines are events; the rest waits for its
/// end. The first line is the header, whose size the watcher's terminal takes.
#[derive(Default)]
struct Lines {
    partial: Vec<u8>,
    header_seen: bool,
}

impl Lines {
    fn take(&mut self, chunk: &[u8]) -> Vec<ServerMessage> {
        self.partial.extend_from_slice(chunk);
        let Some(end) = self.partial.iter().rposition(|byte| *byte == b'\n') else {
            return Vec::new();
        };
        let whole: Vec<u8> = self.partial.drain(..=end).collect();
        String::from_utf8_lossy(&whole)
            .lines()
            .filter_map(|line| {
                if self.header_seen {
                    return Event::parse_line(line).ok().and_then(shown);
                }
                self.header_seen = true;
                serde_json::from_str::<Header>(line)
                    .ok()
                    .map(|header| ServerMessage::Resize {
                        cols: header.width,
                        rows: header.height,
                    })
            })
            .collect()
    }
}

/// The session's record as it stands. A database that does not answer for a moment does not
/// end the watching.
async fn current(state: &AppState, id: i64) -> Option<TerminalSession> {
    let record = match state.db.pool().acquire().await {
        Ok(mut connection) => store::view(&mut connection, id, state.clock.now())
            .await
            .map(|stored| stored.record),
        Err(error) => Err(error.into()),
    };
    record
        .inspect_err(|error| tracing::warn!(%error, session = id, "reading a watched session"))
        .ok()
}

/// The session's report as the broker makes it: against its script, or, unplanned, with no
/// script and the benign commands it was held to.
async fn scored(
    connection: &mut sqlx::AnyConnection,
    record: &TerminalSession,
) -> Result<AuditReport, crate::error::AppError> {
    if let (_, Some(report)) = review::report_of(connection, record).await? {
        return Ok(report);
    }
    let benign: String =
        sqlx::query_scalar("SELECT benign_commands FROM terminal_sessions WHERE id = $1")
            .bind(record.id)
            .fetch_one(&mut *connection)
            .await
            .map_err(DbError::from)?;
    let benign: Vec<String> = serde_json::from_str(&benign).map_err(DbError::decode)?;
    Ok(AuditReport::new(
        &Script::default(),
        record.commands.clone(),
        &BenignCommands::new(benign),
        record.findings.clone(),
    )
    .with_held(&record.held))
}

/// The checklist and score as the watcher last saw them: sent again when the session's
/// stored commands or findings change, from the script the session is held against.
#[derive(Default)]
struct ChecklistNews {
    /// The commands, findings and number of held lines the watcher was last sent.
    shown: Option<(Vec<ExecutedCommand>, Vec<Finding>, usize)>,
}

impl ChecklistNews {
    async fn news(
        &mut self,
        state: &AppState,
        record: Option<&TerminalSession>,
    ) -> Option<ServerMessage> {
        let record = record?;
        let now = (
            record.commands.clone(),
            record.findings.clone(),
            record.held.len(),
        );
        if self.shown.as_ref() == Some(&now) {
            return None;
        }
        let mut connection = state.db.pool().acquire().await.ok()?;
        // Scored once, whatever comes of it: a failure is logged once, not at every look.
        self.shown = Some(now);
        let report = match scored(&mut connection, record).await {
            Ok(report) => report,
            Err(error) => {
                tracing::warn!(%error, session = record.id, "scoring a watched session");
                return None;
            }
        };
        Some(ServerMessage::Checklist(Checklist {
            lines: report.board,
            score: report.score,
            verdict: report.verdict,
            findings: report.findings,
        }))
    }
}

/// What a watcher is shown of an event: the output, the size and each line held at Enter,
/// never the keystrokes (the screen shows what they did).
fn shown(event: Event) -> Option<ServerMessage> {
    match event.data {
        EventData::Output(data) => Some(ServerMessage::Output { data }),
        EventData::Resize { cols, rows } => Some(ServerMessage::Resize { cols, rows }),
        EventData::Marker(marker) => held(&marker),
        EventData::Input(_) => None,
    }
}

/// A held line, from the marker the broker records for it.
fn held(marker: &str) -> Option<ServerMessage> {
    let marker: serde_json::Value = serde_json::from_str(marker).ok()?;
    let reason: Held = serde_json::from_value(marker.get("held")?.clone()).ok()?;
    Some(ServerMessage::Held {
        line: marker["line"].as_str()?.to_owned(),
        reason: reason.words(),
        allowed_next: Vec::new(),
    })
}
