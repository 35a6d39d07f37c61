//! `changeaudit export` and the export download: the header, every event in order as its
//! canonical form and stored hash, and each checkpoint right after the event that completes it
//! (the format is `changeaudit_shared::export`). Events are read in batches, so a trail of any
//! length exports in constant memory.

use std::io::Write;

use changeaudit_shared::export::{FORMAT, Header, VERSION, checkpoint_line, header_line};

use crate::clock::Timestamp;
use crate::db::{Database, DbError};
use crate::trail::audit::{EVENT_COLUMNS, RowParts, canonical_of};
use crate::trail::checkpoints::{self, CheckpointError, Policy};
use crate::trail::key::TrailKey;

const BATCH: i64 = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("writing the export: {0}")]
    Write(#[from] std::io::Error),
}

impl From<sqlx::Error> for ExportError {
    fn from(error: sqlx::Error) -> Self {
        ExportError::Db(DbError::from(error))
    }
}

/// What was written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Exported {
    pub events: u64,
    pub checkpoints: u64,
}

/// Writes the whole trail to `out`, up to the checkpoint it signs first. Events appended while
/// it is written (the server goes on) are left to the next export: the export ends under a
/// signature.
pub async fn export(
    db: &Database,
    key: &TrailKey,
    now: Timestamp,
    out: &mut impl Write,
) -> Result<Exported, ExportError> {
    // The export ends under a signature: what it holds is signed first. A broken chain is not
    // signed over; it is exported as it is, for the verifier to name the fault.
    let everything = Policy {
        every_events: 1,
        every: std::time::Duration::ZERO,
    };
    let signed = match checkpoints::checkpoint_if_due(db, key, everything, now).await {
        Ok(_) => true,
        Err(CheckpointError::Broken(fault)) => {
            tracing::error!(seq = fault.seq, reason = %fault.reason, "exporting a broken trail");
            false
        }
        Err(CheckpointError::Db(error)) => return Err(ExportError::Db(error)),
        Err(CheckpointError::WrongKey(reason)) => {
            tracing::error!(%reason, "exporting without a new checkpoint");
            false
        }
    };
    let header = Header {
        format: FORMAT.to_owned(),
        version: VERSION,
        public_key: key.public_key_hex(),
        key_id: key.id().to_owned(),
        exported_at: now.as_millis(),
    };
    writeln!(out, "{}", header_line(&header))?;
    let checkpoints = checkpoints::all(db).await?;
    // Unsigned, the trail goes out whole for the verifier to name what is wrong.
    let last = match checkpoints.last() {
        Some(checkpoint) if signed => i64::try_from(checkpoint.tree_size).unwrap_or(i64::MAX),
        Some(_) => i64::MAX,
        None if signed => 0,
        None => i64::MAX,
    };
    let mut checkpoints = checkpoints.into_iter().peekable();
    let mut exported = Exported::default();
    let mut canonical = Vec::with_capacity(1024);
    let mut after = 0_i64;
    loop {
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM audit_events WHERE seq > $1 AND seq <= $2
             ORDER BY seq LIMIT $3"
        ))
        .bind(after)
        .bind(last)
        .bind(BATCH)
        .fetch_all(db.pool())
        .await?;
        if rows.is_empty() {
            break;
        }
        for row in rows {
            let RowParts { seq, hash, .. } = canonical_of(&row, &mut canonical)?;
            // The stored hash is written as stored: the verifier decides whether it holds.
            out.write_all(b"{\"event\":")?;
            out.write_all(&canonical)?;
            writeln!(out, ",\"hash\":{}}}", serde_json::Value::from(hash))?;
            exported.events += 1;
            after = seq;
            while let Some(checkpoint) =
                checkpoints.next_if(|checkpoint| checkpoint.tree_size <= exported.events)
            {
                writeln!(out, "{}", checkpoint_line(&checkpoint))?;
                exported.checkpoints += 1;
            }
        }
    }
    // Checkpoints past the last event (events since removed) still go out: the verifier says
    // what they no longer match.
    for checkpoint in checkpoints {
        writeln!(out, "{}", checkpoint_line(&checkpoint))?;
        exported.checkpoints += 1;
    }
    out.flush()?;
    Ok(exported)
}
