//! A change's life: its status follows what happens to it, not what anyone sets.
//!
//! - **In progress** while a session of it runs. Read from the sessions' heartbeats, never
//!   stored, so a replica that dies mid-session cannot leave a change in progress for ever.
//! - **Executed** once every one of its devices has had a session that ran every planned line
//!   of its current script: stored, and audited, in the transaction that ends that session.
//! - **Partially executed** or **Expired** once its window closes: read from the due date at
//!   once, never stored; the sweep every replica runs audits it once (`closed_at`).

use changeaudit_shared::api::changes::ChangeStatus;
use serde_json::json;
use sqlx::{AnyConnection, Row};

use crate::clock::Timestamp;
use crate::db::{Database, DbError};
use crate::listing::Arg;
use crate::trail::audit::{self, Actor, NewEvent};

/// Statuses a change is stored in while its life still runs.
const LIVING: &str = "('waiting_approval', 'approved')";

/// Whether change `c` has a session running, its heartbeat no older than `fresh` (a
/// placeholder).
fn running(fresh: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM terminal_sessions s WHERE s.change_id = c.id \
         AND s.status = 'running' AND s.heartbeat_at >= {fresh})"
    )
}

/// Whether any session of change `c` ran a command.
const RAN: &str = "EXISTS (SELECT 1 FROM terminal_sessions s \
     JOIN session_commands sc ON sc.session_id = s.id WHERE s.change_id = c.id)";

/// The status of change `c` as of `now`, with running sessions' heartbeats fresh since
/// `fresh` (both placeholders; `fresh` comes first in the text): what is stored, unless a
/// session runs or the window has closed since.
pub fn status_sql(now: &str, fresh: &str) -> String {
    format!(
        "(CASE WHEN c.status IN {LIVING} THEN \
             CASE WHEN {running} THEN 'in_progress' \
                  WHEN c.due_at <= {now} THEN \
                      CASE WHEN {RAN} THEN 'partially_executed' ELSE 'expired' END \
                  ELSE c.status END \
         ELSE c.status END)",
        running = running(fresh)
    )
}

/// The listing condition "change `c` reads as `status`".
pub fn status_is(status: ChangeStatus, now: Timestamp, fresh: Timestamp) -> (String, [Arg; 3]) {
    let condition = format!("{} = ?", status_sql("?", "?"));
    let args = [
        Arg::Int(fresh.as_millis()),
        Arg::Int(now.as_millis()),
        Arg::Text(status.as_str().to_owned()),
    ];
    (condition, args)
}

/// Whether a session's verdict says it ran every planned line, none failing, and its output
/// held no forged mark: only then does it count towards executing the change. A failed line
/// leaves the change open to be run again; a session with findings vouches for nothing.
pub fn ran_every_line(verdict: &str) -> bool {
    matches!(verdict, "correct" | "more_than_necessary")
}

/// Called as session `session_id` of change `change_id` ends, in its transaction: marks the
/// change executed when every device of it has now had a session that ran every line of the
/// script it has now.
pub async fn on_session_end(
    connection: &mut AnyConnection,
    change_id: &str,
    session_id: i64,
    now: Timestamp,
) -> Result<(), DbError> {
    let devices: Vec<(i64, String)> = sqlx::query_as(
        "SELECT d.id, d.name FROM change_devices cd JOIN devices d ON d.id = cd.device_id
         WHERE cd.change_id = $1 ORDER BY cd.position",
    )
    .bind(change_id)
    .fetch_all(&mut *connection)
    .await?;
    let rows = sqlx::query(
        "SELECT s.id, s.device_id, s.verdict FROM terminal_sessions s
         JOIN changes c ON c.id = s.change_id
         WHERE s.change_id = $1 AND s.status = 'ended' AND s.verdict IS NOT NULL
           AND s.script = c.script
         ORDER BY s.id",
    )
    .bind(change_id)
    .fetch_all(&mut *connection)
    .await?;
    let mut done: Vec<(i64, i64)> = Vec::new();
    for row in &rows {
        let verdict: String = row.try_get("verdict")?;
        if ran_every_line(&verdict) {
            done.push((row.try_get("device_id")?, row.try_get("id")?));
        }
    }
    let session_of = |device: i64| {
        done.iter()
            .find(|(of, _)| *of == device)
            .map(|(_, session)| *session)
    };
    if devices.is_empty() || devices.iter().any(|(id, _)| session_of(*id).is_none()) {
        return Ok(());
    }
    let updated = sqlx::query(&format!(
        "UPDATE changes SET status = $2, updated_at = $3 WHERE id = $1 AND status IN {LIVING}"
    ))
    .bind(change_id)
    .bind(ChangeStatus::Executed.as_str())
    .bind(now.as_millis())
    .execute(&mut *connection)
    .await?
    .rows_affected();
    if updated == 0 {
        return Ok(());
    }
    let sessions: Vec<_> = devices
        .iter()
        .map(|(id, name)| json!({ "device": name, "session": session_of(*id) }))
        .collect();
    audit::append(
        connection,
        NewEvent {
            actor: Actor::System,
            action: "change.executed",
            object: Some(format!("change:{change_id}")),
            details: json!({ "last_session": session_id, "sessions": sessions }),
        },
        now,
    )
    .await?;
    Ok(())
}

/// Audits the end of every change whose window has closed with no session running, once:
/// partially executed when a session of it ran a command, expired otherwise. Answers how
/// many it audited.
pub async fn close_due(db: &Database, now: Timestamp, fresh: Timestamp) -> Result<usize, DbError> {
    let due = format!(
        "SELECT c.id, CAST(CASE WHEN {RAN} THEN 1 ELSE 0 END AS BIGINT) AS ran
         FROM changes c WHERE c.status IN {LIVING} AND c.due_at <= $1 AND c.closed_at IS NULL
           AND NOT {}
         ORDER BY c.id",
        running("$2")
    );
    // Looked at without the write lock first: most sweeps find nothing.
    let any = sqlx::query(&due)
        .bind(now.as_millis())
        .bind(fresh.as_millis())
        .fetch_optional(db.pool())
        .await?;
    if any.is_none() {
        return Ok(0);
    }
    let mut tx = db.begin_write().await?;
    let rows = sqlx::query(&due)
        .bind(now.as_millis())
        .bind(fresh.as_millis())
        .fetch_all(&mut *tx)
        .await?;
    for row in &rows {
        let id: String = row.try_get("id")?;
        let ran: i64 = row.try_get("ran")?;
        sqlx::query("UPDATE changes SET closed_at = $2 WHERE id = $1")
            .bind(&id)
            .bind(now.as_millis())
            .execute(&mut *tx)
            .await?;
        let event = NewEvent {
            actor: Actor::System,
            action: if ran == 1 {
                "change.partially_executed"
            } else {
                "change.expired"
            },
            object: Some(format!("change:{id}")),
            details: json!({ "reason": "its due date passed" }),
        };
        audit::append(&mut tx, event, now).await?;
    }
    tx.commit().await?;
    Ok(rows.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_clean_whole_run_counts_towards_executing_a_change() {
        assert!(ran_every_line("correct"));
        assert!(ran_every_line("more_than_necessary"));
        assert!(!ran_every_line("correct_with_failures"));
        assert!(!ran_every_line("more_than_necessary_with_failures"));
        assert!(!ran_every_line("more_than_necessary_with_findings"));
        assert!(!ran_every_line("incomplete"));
        assert!(!ran_every_line("not_executed"));
    }
}
