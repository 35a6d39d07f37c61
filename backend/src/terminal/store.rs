//! Terminal sessions in the database: started, kept alive, their commands, ended; and read back.
//! A session's row and the audit events about it are written in one transaction.

use changeaudit_shared::api::Named;
use changeaudit_shared::api::command_rules::CommandRule;
use changeaudit_shared::api::requests::NotificationKind;
use changeaudit_shared::api::sessions::{SessionFilters, SessionState, TerminalSession};
use changeaudit_shared::board::BenignCommands;
use changeaudit_shared::command::{
    ExecutedCommand, Finding, FindingKind, HeldCommand, Recognition,
};
use changeaudit_shared::enforcement::{Enforcement, Held};
use changeaudit_shared::terminal::EndReason;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::time::Duration;

use crate::approvals::store::approvers_of_group;
use crate::changes::life;
use crate::clock::Timestamp;
use crate::db::{Database, DbError, placeholders};
use crate::listing::{Arg, Filter, Paging};
use crate::notifications::{self, Notice, Outbound};
use crate::recordings::recorder::Sealed;
use crate::trail::audit::{self, NewEvent};

/// A running session writes its heartbeat this often; one silent for `STALE_AFTER` was cut
/// off by its server's death and reads as interrupted.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);
pub const STALE_AFTER: Duration = Duration::from_secs(20);
/// Sessions named in one query: well under every backend's limit of bound values.
const IDS_AT_ONCE: usize = 500;

/// How many sessions of `user_id` are running now (their heartbeat fresh).
pub async fn running_of(
    connection: &mut AnyConnection,
    user_id: i64,
    now: Timestamp,
) -> Result<u64, DbError> {
    let count: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM terminal_sessions
         WHERE user_id = $1 AND status = 'running' AND heartbeat_at >= $2",
    )
    .bind(user_id)
    .bind(now.minus(STALE_AFTER).as_millis())
    .fetch_one(connection)
    .await?;
    Ok(u64::try_from(count).unwrap_or(0))
}

pub struct NewSession<'a> {
    pub user_id: i64,
    pub username: &'a str,
    pub credential_id: i64,
    pub device: &'a Named,
    pub account: &'a str,
    pub change_id: Option<&'a str>,
    pub request_id: Option<i64>,
    pub client_ip: &'a str,
    pub user_agent: &'a str,
    pub recording: &'a str,
    /// The replica that runs it, in the cluster's registry.
    pub replica: &'a str,
    pub cols: u16,
    pub rows: u16,
    pub started_at: Timestamp,
    /// When its row is written, its first heartbeat: opening (the device's answer, the shell)
    /// may have taken a while since `started_at`.
    pub stored_at: Timestamp,
    pub closes_at: Timestamp,
    /// The script and benign commands it is held against, as they are now.
    pub script: Option<&'a str>,
    pub benign: &'a BenignCommands,
    pub enforcement: Enforcement,
}

pub fn object(id: i64) -> String {
    format!("terminal_session:{id}")
}

/// Stores a session that has begun, unless its person already runs `most` sessions: then
/// answers how many. Counted in the same write as the insert, so that sessions opened at once
/// cannot all pass a count taken before any of them was stored.
pub async fn start(
    db: &Database,
    new: &NewSession<'_>,
    most: u64,
) -> Result<Result<i64, u64>, DbError> {
    let mut tx = db.begin_write().await?;
    let running = running_of(&mut tx, new.user_id, new.started_at).await?;
    if running >= most {
        return Ok(Err(running));
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO terminal_sessions (user_id, credential_id, device_id, device_name, account,
             change_id, request_id, client_ip, user_agent, recording, cols, rows, started_at,
             heartbeat_at, closes_at, status, script, benign_commands, replica_id, enforcement)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $18, $14, 'running',
             $15, $16, $17, $19)
         RETURNING id",
    )
    .bind(new.user_id)
    .bind(new.credential_id)
    .bind(new.device.id)
    .bind(&new.device.name)
    .bind(new.account)
    .bind(new.change_id)
    .bind(new.request_id)
    .bind(new.client_ip)
    .bind(new.user_agent)
    .bind(new.recording)
    .bind(i64::from(new.cols))
    .bind(i64::from(new.rows))
    .bind(new.started_at.as_millis())
    .bind(new.closes_at.as_millis())
    .bind(new.script)
    .bind(serde_json::to_string(new.benign).map_err(DbError::encode)?)
    .bind(new.replica)
    .bind(new.stored_at.as_millis())
    .bind(new.enforcement.as_str())
    .fetch_one(&mut *tx)
    .await?;
    audit::append(
        &mut tx,
        NewEvent::by(
            new.username,
            "session.started",
            object(id),
            json!({
                "device": new.device.name,
                "account": new.account,
                "change": new.change_id,
                "request": new.request_id,
                "client_ip": new.client_ip,
                "user_agent": new.user_agent,
                "recording": new.recording,
                "enforcement": new.enforcement.as_str(),
            }),
        ),
        new.started_at,
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(id))
}

/// Keeps sessions `ids` alive: other replicas read a session as running while this is recent.
pub async fn heartbeat(db: &Database, ids: &[i64], now: Timestamp) -> Result<(), DbError> {
    for ids in ids.chunks(IDS_AT_ONCE) {
        let sql = format!(
            "UPDATE terminal_sessions SET heartbeat_at = $1 WHERE id IN ({})",
            placeholders(2, ids.len())
        );
        let mut query = sqlx::query(&sql).bind(now.as_millis());
        for id in ids {
            query = query.bind(id);
        }
        query.execute(db.pool()).await?;
    }
    Ok(())
}

/// Of sessions `ids`, those no longer marked running.
pub async fn ended_among(db: &Database, ids: &[i64]) -> Result<Vec<i64>, DbError> {
    let mut ended = Vec::new();
    for ids in ids.chunks(IDS_AT_ONCE) {
        let sql = format!(
            "SELECT id FROM terminal_sessions WHERE status <> 'running' AND id IN ({})",
            placeholders(1, ids.len())
        );
        let mut query = sqlx::query_scalar::<_, i64>(&sql);
        for id in ids {
            query = query.bind(id);
        }
        ended.extend(query.fetch_all(db.pool()).await?);
    }
    Ok(ended)
}

/// Of sessions `ids`, those someone asked to terminate, with the username of who asked.
pub async fn termination_requests(
    db: &Database,
    ids: &[i64],
) -> Result<Vec<(i64, String)>, DbError> {
    let mut asked = Vec::new();
    for ids in ids.chunks(IDS_AT_ONCE) {
        let sql = format!(
            "SELECT s.id, u.username FROM terminal_sessions s JOIN users u ON u.id = s.terminate_requested_by
             WHERE s.id IN ({})",
            placeholders(1, ids.len())
        );
        let mut query = sqlx::query_as(&sql);
        for id in ids {
            query = query.bind(id);
        }
        asked.extend(query.fetch_all(db.pool()).await?);
    }
    Ok(asked)
}

/// What recognition made of a session so far.
#[derive(Debug, Clone, Copy)]
pub struct Recognised<'a> {
    pub commands: &'a [ExecutedCommand],
    pub findings: &'a [Finding],
}

/// A command line held at Enter, as the trail keeps it.
pub struct Blocked<'a> {
    pub line: &'a str,
    pub held: &'a Held,
    /// The keys that did not reach the device.
    pub keys: &'a str,
    pub allowed_next: &'a [String],
    /// Seconds into the recording.
    pub at: f64,
}

/// Who is told of a held line, besides the trail: the approvers of the change's group, or of
/// the group that allowed an unplanned session.
pub struct Telling<'a> {
    pub outbound: &'a Outbound,
    /// The group whose approvers are told, and the person they are told of (never told).
    pub group_id: i64,
    pub person: i64,
    /// The change and request the session runs under; none for an unplanned session.
    pub change: Option<(&'a str, i64)>,
    pub device: &'a str,
}

impl Telling<'_> {
    /// Where, in a notice's words: `db-1 (CHG-7)`, or `db-1 (an unplanned session)`.
    fn place(&self) -> String {
        match self.change {
            Some((change_id, _)) => format!("{} ({change_id})", self.device),
            None => format!("{} (an unplanned session)", self.device),
        }
    }
}

/// Audits a line held at Enter in session `id`, and tells the approvers when `telling`.
pub async fn command_blocked(
    db: &Database,
    id: i64,
    username: &str,
    blocked: &Blocked<'_>,
    telling: Option<Telling<'_>>,
    now: Timestamp,
) -> Result<(), DbError> {
    let mut details = json!({
        "line": blocked.line,
        "words": blocked.held.words(),
        "keys": blocked.keys,
        "allowed_next": blocked.allowed_next,
        "at": blocked.at,
    });
    // The reason's code and its facts (`reason`, and `line` or `next` where it has them).
    if let (Some(details), Ok(serde_json::Value::Object(reason))) =
        (details.as_object_mut(), serde_json::to_value(blocked.held))
    {
        for (key, value) in reason {
            let key = if key == "line" {
                "script_line".to_owned()
            } else {
                key
            };
            details.insert(key, value);
        }
    }
    let mut tx = db.begin_write().await?;
    audit::append(
        &mut tx,
        NewEvent::by(username, "session.command_blocked", object(id), details),
        now,
    )
    .await?;
    if let Some(telling) = telling {
        let text = format!(
            "{username} was stopped from running `{}` on {}",
            shortened(blocked.line),
            telling.place()
        );
        tell_approvers(&mut tx, id, &telling, text, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A line an `alert` rule matched, as the trail keeps it.
pub struct Alert<'a> {
    pub line: &'a str,
    pub rule: &'a CommandRule,
    /// Seconds into the recording.
    pub at: f64,
}

/// Audits a line an `alert` rule matched in session `id` (it runs), and tells the approvers
/// when `telling`.
pub async fn command_alerted(
    db: &Database,
    id: i64,
    username: &str,
    alert: &Alert<'_>,
    telling: Option<Telling<'_>>,
    now: Timestamp,
) -> Result<(), DbError> {
    let details = json!({
        "line": alert.line,
        "rule_id": alert.rule.id,
        "rule": alert.rule.name,
        "criticality": alert.rule.criticality.as_str(),
        "at": alert.at,
    });
    let mut tx = db.begin_write().await?;
    audit::append(
        &mut tx,
        NewEvent::by(username, "session.command_alerted", object(id), details),
        now,
    )
    .await?;
    if let Some(telling) = telling {
        let text = format!(
            "{username} ran `{}` on {}, which command rule “{}” watches",
            shortened(alert.line),
            telling.place(),
            alert.rule.name
        );
        tell_approvers(&mut tx, id, &telling, text, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Tells the approvers of `telling`'s group, but not `username`, of something in session `id`.
async fn tell_approvers(
    tx: &mut AnyConnection,
    id: i64,
    telling: &Telling<'_>,
    text: String,
    now: Timestamp,
) -> Result<(), DbError> {
    let approvers: Vec<i64> = approvers_of_group(tx, telling.group_id)
        .await?
        .into_iter()
        .filter(|&approver| approver != telling.person)
        .collect();
    let notice = Notice {
        kind: NotificationKind::CommandBlocked,
        request_id: telling.change.map(|(_, request)| request),
        change_id: telling.change.map(|(change, _)| change.to_owned()),
        text,
        credential_id: None,
        session_id: Some(id),
    };
    notifications::post(tx, telling.outbound, &approvers, &notice, now).await
}

/// A line as a notice's one line shows it: its first line, at most 80 characters.
fn shortened(line: &str) -> String {
    let first = line.lines().next().unwrap_or_default();
    let mut shown: String = first.chars().take(80).collect();
    if shown.len() < line.len() {
        shown.push('…');
    }
    shown
}

/// Brings the stored commands and findings of session `id` to `now_known`: new ones are
/// inserted (each one audited), changed commands (an exit status learnt later, the exact line
/// the shell announced) updated. `stored` is what was stored.
pub async fn save_recognised(
    db: &Database,
    id: i64,
    username: &str,
    stored: Recognised<'_>,
    now_known: Recognised<'_>,
    now: Timestamp,
) -> Result<(), DbError> {
    let mut tx = db.begin_write().await?;
    save_commands(
        &mut tx,
        id,
        username,
        stored.commands,
        now_known.commands,
        now,
    )
    .await?;
    for (seq, finding) in now_known
        .findings
        .iter()
        .enumerate()
        .skip(stored.findings.len())
    {
        sqlx::query(
            "INSERT INTO session_findings (session_id, seq, kind, offset_us, mark, detail)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(i64::try_from(seq).unwrap_or(i64::MAX))
        .bind(finding.kind.as_str())
        .bind(micros(finding.offset))
        .bind(&finding.mark)
        .bind(&finding.detail)
        .execute(&mut *tx)
        .await?;
        audit::append(
            &mut tx,
            NewEvent::by(
                username,
                "session.finding",
                object(id),
                json!({
                    "seq": seq,
                    "kind": finding.kind.as_str(),
                    "offset": finding.offset,
                    "mark": finding.mark,
                    "detail": finding.detail,
                }),
            ),
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// What the trail keeps of a recognised command.
fn command_facts(command: &ExecutedCommand) -> serde_json::Value {
    json!({
        "command": command.text,
        "offset": command.offset,
        "exit_code": command.exit_code,
        "source": source_code(command.source),
    })
}

async fn save_commands(
    tx: &mut AnyConnection,
    id: i64,
    username: &str,
    stored: &[ExecutedCommand],
    commands: &[ExecutedCommand],
    now: Timestamp,
) -> Result<(), DbError> {
    for (seq, command) in commands.iter().enumerate() {
        let seq_value = i64::try_from(seq).unwrap_or(i64::MAX);
        match stored.get(seq) {
            Some(old) if old == command => {}
            Some(old) => {
                sqlx::query(
                    "UPDATE session_commands SET command = $3, offset_us = $4, exit_code = $5,
                         source = $6
                     WHERE session_id = $1 AND seq = $2",
                )
                .bind(id)
                .bind(seq_value)
                .bind(&command.text)
                .bind(micros(command.offset))
                .bind(command.exit_code.map(i64::from))
                .bind(source_code(command.source))
                .execute(&mut *tx)
                .await?;
                // An exit code arriving, or a line read again, is evidence like the first.
                let details = json!({
                    "seq": seq,
                    "before": command_facts(old),
                    "after": command_facts(command),
                });
                let event = NewEvent::by(username, "session.command_updated", object(id), details);
                audit::append(tx, event, now).await?;
            }
            None => {
                sqlx::query(
                    "INSERT INTO session_commands (session_id, seq, command, offset_us, exit_code,
                         source)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(id)
                .bind(seq_value)
                .bind(&command.text)
                .bind(micros(command.offset))
                .bind(command.exit_code.map(i64::from))
                .bind(source_code(command.source))
                .execute(&mut *tx)
                .await?;
                audit::append(
                    tx,
                    NewEvent::by(username, "session.command", object(id), {
                        let mut facts = command_facts(command);
                        facts["seq"] = json!(seq);
                        facts
                    }),
                    now,
                )
                .await?;
            }
        }
    }
    Ok(())
}

pub struct Ending<'a> {
    pub reason: EndReason,
    /// What the person was told, in words.
    pub message: &'a str,
    /// Who ended it, when it was not the person running it (a termination).
    pub by: Option<&'a str>,
    pub at: Timestamp,
    pub recording: Option<&'a Sealed>,
    pub score: Option<u8>,
    pub verdict: Option<&'a str>,
    pub commands: usize,
    /// What the device printed, as text.
    pub transcript: &'a str,
}

pub async fn end(
    db: &Database,
    id: i64,
    username: &str,
    ending: &Ending<'_>,
) -> Result<(), DbError> {
    let mut tx = db.begin_write().await?;
    let (started_at, change_id): (i64, Option<String>) =
        sqlx::query_as("SELECT started_at, change_id FROM terminal_sessions WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
    sqlx::query(
        "UPDATE terminal_sessions SET status = 'ended', ended_at = $2, end_reason = $3,
             recording_sha256 = $4, recording_bytes = $5, score = $6, verdict = $7,
             heartbeat_at = $2, transcript = $8
         WHERE id = $1",
    )
    .bind(id)
    .bind(ending.at.as_millis())
    .bind(ending.reason.as_str())
    .bind(ending.recording.map(|sealed| sealed.sha256.clone()))
    .bind(
        ending
            .recording
            .map(|sealed| i64::try_from(sealed.bytes).unwrap_or(i64::MAX)),
    )
    .bind(ending.score.map(i64::from))
    .bind(ending.verdict)
    .bind(ending.transcript)
    .execute(&mut *tx)
    .await?;
    let duration = Timestamp::from_millis(started_at).until(ending.at);
    audit::append(
        &mut tx,
        NewEvent::by(
            ending.by.unwrap_or(username),
            "session.ended",
            object(id),
            json!({
                "reason": ending.reason.as_str(),
                "message": ending.message,
                "duration_seconds": duration.as_secs_f64(),
                "recording_sha256": ending.recording.map(|sealed| &sealed.sha256),
                "recording_bytes": ending.recording.map(|sealed| sealed.bytes),
                // A recording cut back to its last whole event after a write failed says why.
                "recording_cut": ending.recording.and_then(|sealed| sealed.cut.as_deref()),
                "commands": ending.commands,
                "score": ending.score,
                "verdict": ending.verdict,
            }),
        ),
        ending.at,
    )
    .await?;
    if let Some(change_id) = change_id {
        life::on_session_end(&mut tx, &change_id, id, ending.at).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Records a session that never started (refused, or the device or the recording failed).
pub async fn record_refusal(
    db: &Database,
    username: &str,
    credential_id: i64,
    reason: EndReason,
    message: &str,
    at: Timestamp,
) -> Result<(), DbError> {
    let details = json!({ "reason": reason.as_str(), "message": message });
    let object = format!("credential:{credential_id}");
    audit::record(
        db,
        NewEvent::by(username, "session.refused", object, details),
        at,
    )
    .await
}

fn micros(seconds: f64) -> i64 {
    // Offsets are seconds into a recording: far inside i64 microseconds.
    (seconds * 1_000_000.0).round() as i64
}

fn seconds(micros: i64) -> f64 {
    micros as f64 / 1_000_000.0
}

fn source_code(source: Recognition) -> &'static str {
    match source {
        Recognition::ShellIntegration => "shell_integration",
        Recognition::Screen => "screen",
    }
}

const COLUMNS: &str = "s.id, u.username, s.device_id, s.device_name, s.account, s.change_id,
    s.request_id, s.client_ip, s.user_agent, s.started_at, s.heartbeat_at, s.status, s.ended_at,
    s.end_reason, s.recording_sha256, s.recording_bytes, s.score, s.verdict, s.user_id,
    s.recording, (SELECT COUNT(*) FROM audit_events e
        WHERE e.object = 'terminal_session:' || s.id AND e.action = 'session.command_blocked')
        AS held_lines";

/// A stored session, with what only the server needs besides the record.
pub struct Stored {
    pub record: TerminalSession,
    pub user_id: i64,
    pub recording: String,
}

fn session_of(row: &AnyRow, now: Timestamp) -> Result<Stored, DbError> {
    let started_at = Timestamp::from_millis(row.try_get("started_at")?);
    let heartbeat_at = Timestamp::from_millis(row.try_get("heartbeat_at")?);
    let ended_at: Option<i64> = row.try_get("ended_at")?;
    let status: String = row.try_get("status")?;
    let end_reason: Option<String> = row.try_get("end_reason")?;
    let (state, ended_at, end_reason) = if status == "running" {
        if heartbeat_at.until(now) > STALE_AFTER {
            // Its server stopped without ending it: it ended, at the latest, at its last beat.
            (
                SessionState::Ended,
                Some(heartbeat_at),
                Some(EndReason::Interrupted),
            )
        } else {
            (SessionState::Running, None, None)
        }
    } else {
        (
            SessionState::Ended,
            ended_at.map(Timestamp::from_millis),
            end_reason.as_deref().and_then(EndReason::parse),
        )
    };
    let score: Option<i64> = row.try_get("score")?;
    Ok(Stored {
        record: TerminalSession {
            id: row.try_get("id")?,
            username: row.try_get("username")?,
            device: Named {
                id: row.try_get("device_id")?,
                name: row.try_get("device_name")?,
            },
            account: row.try_get("account")?,
            change_id: row.try_get("change_id")?,
            request_id: row.try_get("request_id")?,
            client_ip: row.try_get("client_ip")?,
            user_agent: row.try_get("user_agent")?,
            started_at: started_at.to_datetime(),
            ended_at: ended_at.map(Timestamp::to_datetime),
            duration_seconds: started_at.until(ended_at.unwrap_or(now)).as_secs_f64(),
            state,
            end_reason,
            recording_sha256: row.try_get("recording_sha256")?,
            recording_bytes: row.try_get("recording_bytes")?,
            commands: Vec::new(),
            findings: Vec::new(),
            held: Vec::new(),
            held_lines: u32::try_from(row.try_get::<i64, _>("held_lines")?).unwrap_or(u32::MAX),
            score: score.and_then(|score| u8::try_from(score).ok()),
            verdict: row.try_get("verdict")?,
        },
        user_id: row.try_get("user_id")?,
        recording: row.try_get("recording")?,
    })
}

pub async fn view(
    connection: &mut AnyConnection,
    id: i64,
    now: Timestamp,
) -> Result<Stored, DbError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM terminal_sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id = $1"
    ))
    .bind(id)
    .fetch_one(&mut *connection)
    .await?;
    let mut stored = session_of(&row, now)?;
    stored.record.commands = commands(connection, id).await?;
    stored.record.findings = findings(connection, id).await?;
    stored.record.held = held(connection, id).await?;
    Ok(stored)
}

/// The sessions of change `change_id` (as stored; only those of `user_id` when given), newest
/// first, without their commands; at most `limit`.
pub async fn of_change(
    connection: &mut AnyConnection,
    change_id: &str,
    user_id: Option<i64>,
    limit: i64,
    now: Timestamp,
) -> Result<Vec<TerminalSession>, DbError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM terminal_sessions s JOIN users u ON u.id = s.user_id
         WHERE s.change_id = $1 AND ($2 IS NULL OR s.user_id = $2)
         ORDER BY s.started_at DESC, s.id DESC LIMIT $3"
    ))
    .bind(change_id)
    .bind(user_id)
    .bind(limit)
    .fetch_all(&mut *connection)
    .await?;
    rows.iter()
        .map(|row| session_of(row, now).map(|stored| stored.record))
        .collect()
}

/// Sessions still running, newest first.
pub async fn running(
    connection: &mut AnyConnection,
    now: Timestamp,
) -> Result<Vec<TerminalSession>, DbError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM terminal_sessions s JOIN users u ON u.id = s.user_id
         WHERE s.status = 'running' AND s.heartbeat_at >= $1
         ORDER BY s.started_at DESC, s.id DESC"
    ))
    .bind(now.minus(STALE_AFTER).as_millis())
    .fetch_all(&mut *connection)
    .await?;
    rows.iter()
        .map(|row| session_of(row, now).map(|stored| stored.record))
        .collect()
}

async fn commands(
    connection: &mut AnyConnection,
    id: i64,
) -> Result<Vec<ExecutedCommand>, DbError> {
    let rows = sqlx::query(
        "SELECT command, offset_us, exit_code, source FROM session_commands
         WHERE session_id = $1 ORDER BY seq",
    )
    .bind(id)
    .fetch_all(connection)
    .await?;
    rows.iter()
        .map(|row| {
            let offset: i64 = row.try_get("offset_us")?;
            let exit_code: Option<i64> = row.try_get("exit_code")?;
            let source: String = row.try_get("source")?;
            Ok(ExecutedCommand {
                text: row.try_get("command")?,
                offset: seconds(offset),
                exit_code: exit_code.and_then(|code| i32::try_from(code).ok()),
                source: if source == "shell_integration" {
                    Recognition::ShellIntegration
                } else {
                    Recognition::Screen
                },
            })
        })
        .collect()
}

async fn findings(connection: &mut AnyConnection, id: i64) -> Result<Vec<Finding>, DbError> {
    let rows = sqlx::query(
        "SELECT kind, offset_us, mark, detail FROM session_findings
         WHERE session_id = $1 ORDER BY seq",
    )
    .bind(id)
    .fetch_all(connection)
    .await?;
    rows.iter()
        .map(|row| {
            let kind: String = row.try_get("kind")?;
            let offset: i64 = row.try_get("offset_us")?;
            let kind = FindingKind::parse(&kind)
                .ok_or_else(|| DbError::decode(format!("unknown finding kind `{kind}`")))?;
            Ok(Finding {
                kind,
                offset: seconds(offset),
                mark: row.try_get("mark")?,
                detail: row.try_get("detail")?,
            })
        })
        .collect()
}

/// The lines session `id` held, from its `session.command_blocked` events: the trail is where
/// they are kept, so the board and an evidence bundle cannot disagree on them.
async fn held(connection: &mut AnyConnection, id: i64) -> Result<Vec<HeldCommand>, DbError> {
    let details: Vec<String> = sqlx::query_scalar(
        "SELECT details FROM audit_events WHERE object = $1 AND action = 'session.command_blocked'
         ORDER BY seq",
    )
    .bind(object(id))
    .fetch_all(connection)
    .await?;
    details
        .iter()
        .map(|details| {
            let blocked: BlockedEvent = serde_json::from_str(details).map_err(DbError::decode)?;
            Ok(HeldCommand {
                text: blocked.line,
                offset: blocked.at,
                reason: blocked.words,
            })
        })
        .collect()
}

/// What the board takes of a `session.command_blocked` event; one without it is damage.
#[derive(serde::Deserialize)]
struct BlockedEvent {
    line: String,
    at: f64,
    words: String,
}

/// Asks the server running session `id` to end it; answers false when it is not running.
pub async fn request_termination(
    db: &Database,
    id: i64,
    by_id: i64,
    by: &str,
    now: Timestamp,
) -> Result<bool, DbError> {
    let mut tx = db.begin_write().await?;
    let updated = sqlx::query(
        "UPDATE terminal_sessions SET terminate_requested_by = $2
         WHERE id = $1 AND status = 'running' AND heartbeat_at >= $3",
    )
    .bind(id)
    .bind(by_id)
    .bind(now.minus(STALE_AFTER).as_millis())
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Ok(false);
    }
    audit::append(
        &mut tx,
        NewEvent::by(by, "session.termination_requested", object(id), json!({})),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Records that `by` opened session `id` to watch it live.
pub async fn record_watching(
    db: &Database,
    id: i64,
    by: &str,
    now: Timestamp,
) -> Result<(), DbError> {
    let event = NewEvent::by(by, "session.watched", object(id), json!({ "live": true }));
    audit::record(db, event, now).await
}

/// A watching of session `id` closed because the watcher may no longer watch.
pub async fn record_watching_revoked(
    db: &Database,
    id: i64,
    by: &str,
    message: &str,
    now: Timestamp,
) -> Result<(), DbError> {
    let details = json!({ "reason": EndReason::Revoked.as_str(), "message": message });
    let event = NewEvent::by(by, "session.watching_revoked", object(id), details);
    audit::record(db, event, now).await
}

/// Why sessions cannot be listed; `crate::error` turns each into problem details.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("must be a day as YYYY-MM-DD")]
    NotADay { field: &'static str },
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Audited sessions: finished and running, newest first, filtered; with the total matching.
pub async fn list(
    connection: &mut AnyConnection,
    filters: &SessionFilters,
    paging: Paging,
    now: Timestamp,
) -> Result<(Vec<TerminalSession>, i64), ListError> {
    let mut filter = Filter::default();
    let text = crate::listing::given;
    if let Some(change) = text(&filters.change) {
        filter.and("s.change_id = ?", [Arg::Text(change)]);
    }
    if let Some(user) = text(&filters.user) {
        filter.and("u.username = ?", [Arg::Text(user)]);
    }
    if let Some(device) = text(&filters.device) {
        filter.and("s.device_name = ?", [Arg::Text(device)]);
    }
    if let Some(from) = text(&filters.from) {
        filter.and("s.started_at >= ?", [Arg::Int(day_start("from", &from)?)]);
    }
    if let Some(to) = text(&filters.to) {
        let end = day_start("to", &to)?.saturating_add(24 * 3600 * 1000);
        filter.and("s.started_at < ?", [Arg::Int(end)]);
    }
    match text(&filters.verdict).as_deref() {
        None => {}
        Some("unplanned") => filter.and("s.change_id IS NULL", []),
        Some("with_findings") => filter.and(
            "EXISTS (SELECT 1 FROM session_findings f WHERE f.session_id = s.id)",
            [],
        ),
        Some(verdict) => filter.and("s.verdict = ?", [Arg::Text(verdict.to_owned())]),
    }
    if let Some(q) = text(&filters.q) {
        filter.contains(&["s.transcript"], &q);
    }
    const FROM: &str = "terminal_sessions s JOIN users u ON u.id = s.user_id";
    let total = filter.count(connection, FROM).await?;
    let next = filter.next_placeholder();
    let sql = format!(
        "SELECT {COLUMNS} FROM {FROM}{} ORDER BY s.started_at DESC, s.id DESC LIMIT ${next} OFFSET ${}",
        filter.where_clause(),
        next + 1
    );
    let rows = filter
        .bind(sqlx::query(&sql))
        .bind(paging.limit())
        .bind(paging.offset())
        .fetch_all(&mut *connection)
        .await
        .map_err(DbError::from)?;
    let sessions = rows
        .iter()
        .map(|row| session_of(row, now).map(|stored| stored.record))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((sessions, total))
}

/// Midnight UTC of `day` (`YYYY-MM-DD`), in milliseconds; refused in words for `field`.
fn day_start(field: &'static str, day: &str) -> Result<i64, ListError> {
    crate::listing::day_start(day).ok_or(ListError::NotADay { field })
}

/// The session's text as stored when it ended.
pub async fn transcript(connection: &mut AnyConnection, id: i64) -> Result<String, DbError> {
    Ok(
        sqlx::query_scalar("SELECT transcript FROM terminal_sessions WHERE id = $1")
            .bind(id)
            .fetch_one(connection)
            .await?,
    )
}
