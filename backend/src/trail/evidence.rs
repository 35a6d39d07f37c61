//! Writing a change's evidence bundle (its format is `changeaudit_shared::evidence`, its
//! verifier `changeaudit_shared::verify::bundle`): the change's events, its requests' and
//! sessions', and the registrations of the passkeys that signed its approvals, each with its
//! inclusion proof against a signed checkpoint; then the recordings and the boards.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;

use changeaudit_shared::evidence::{
    BundleHeader, BundleSummary, FORMAT, VERSION, manifest_of, manifest_text,
};
use changeaudit_shared::merkle::Hash;
use changeaudit_shared::report::AuditReport;
use changeaudit_shared::trail::hex;
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::clock::Timestamp;
use crate::db::placeholders;
use crate::db::{Database, DbError};
use crate::recordings::{RecordingStore, write_json_string};
use crate::trail::audit::{EVENT_COLUMNS, RowParts, canonical_of};
use crate::trail::checkpoints::{self, Policy};
use crate::trail::key::TrailKey;
use crate::trail::proofs;

/// Writes one line of a bundle.
pub fn write_line(out: &mut impl Write, kind: &str, value: &impl Serialize) -> std::io::Result<()> {
    let value = serde_json::to_value(value)?;
    writeln!(out, "{}", json!({ kind: value }))
}

/// A proved event's line: its canonical form is written as it is, since that is what the
/// chain hashed.
pub fn write_proved(
    out: &mut impl Write,
    canonical: &str,
    hash: &str,
    proof: &[Hash],
) -> std::io::Result<()> {
    let proof: Vec<String> = proof.iter().map(|hash| hex(hash)).collect();
    writeln!(
        out,
        "{{\"proved\":{{\"event\":{canonical},\"hash\":{},\"proof\":{}}}}}",
        Value::from(hash),
        Value::from(proof)
    )
}

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Checkpoint(#[from] checkpoints::CheckpointError),
    #[error("{0}")]
    Other(String),
    #[error("writing the bundle: {0}")]
    Write(#[from] std::io::Error),
}

impl From<sqlx::Error> for BundleError {
    fn from(error: sqlx::Error) -> Self {
        BundleError::Db(DbError::from(error))
    }
}

/// Writes the evidence bundle of `change_id`. A checkpoint is signed first when events are not
/// yet under one, so every event of the change can be proved.
#[allow(clippy::too_many_arguments)] // what a bundle gathers, from where
pub async fn write_bundle(
    db: &Database,
    store: &dyn RecordingStore,
    key: &TrailKey,
    change_id: &str,
    reports: &HashMap<i64, AuditReport>,
    now: Timestamp,
    out: &mut impl Write,
) -> Result<BundleSummary, BundleError> {
    let everything = Policy {
        every_events: 1,
        every: std::time::Duration::ZERO,
    };
    checkpoints::checkpoint_if_due(db, key, everything, now).await?;
    let mut connection = db.pool().acquire().await?;
    let signed = checkpoints::latest(&mut connection)
        .await?
        .ok_or_else(|| BundleError::Other("the trail has no checkpoint".to_owned()))?
        .checkpoint;
    let sessions: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, recording FROM terminal_sessions WHERE change_id = $1 ORDER BY id",
    )
    .bind(change_id)
    .fetch_all(&mut *connection)
    .await?;
    let events = events_of(&mut connection, change_id, &sessions, signed.tree_size).await?;

    let hashes: Vec<(i64, String)> = events
        .iter()
        .map(|(seq, row)| Ok::<_, sqlx::Error>((*seq, row.try_get::<String, _>("hash")?)))
        .collect::<Result<_, _>>()?;
    let manifest = manifest_of(hashes.iter().map(|(seq, hash)| (*seq, hash.as_str())));
    let header = BundleHeader {
        format: FORMAT.to_owned(),
        version: VERSION,
        change_id: change_id.to_owned(),
        public_key: key.public_key_hex(),
        key_id: key.id().to_owned(),
        exported_at: now.as_millis(),
        signature: key.sign(&manifest_text(
            VERSION,
            change_id,
            signed.tree_size,
            &manifest,
        )),
        manifest,
    };
    write_line(out, "bundle", &header)?;
    write_line(out, "checkpoint", &signed)?;
    let mut summary = BundleSummary {
        change_id: change_id.to_owned(),
        tree_size: signed.tree_size,
        ..BundleSummary::default()
    };
    let mut canonical = Vec::with_capacity(1024);
    for (seq, row) in &events {
        let RowParts { hash, .. } = canonical_of(row, &mut canonical)?;
        let index = u64::try_from(*seq).unwrap_or(0);
        let proof = proofs::inclusion(&mut connection, index, signed.tree_size).await?;
        write_proved(out, &String::from_utf8_lossy(&canonical), &hash, &proof)?;
        summary.events += 1;
    }
    drop(connection);
    write_sessions(store, &sessions, reports, out, &mut summary).await?;
    out.flush()?;
    Ok(summary)
}

/// The events a bundle proves, by seq, up to the signed tree's size: those of the change, its
/// requests and its sessions, and the registrations of the passkeys that signed its votes.
async fn events_of(
    connection: &mut AnyConnection,
    change_id: &str,
    sessions: &[(i64, String)],
    tree_size: u64,
) -> Result<Vec<(i64, AnyRow)>, BundleError> {
    let size = i64::try_from(tree_size).unwrap_or(i64::MAX);
    let requests: Vec<i64> = sqlx::query_scalar("SELECT id FROM requests WHERE change_id = $1")
        .bind(change_id)
        .fetch_all(&mut *connection)
        .await?;
    let mut objects = vec![format!("change:{change_id}")];
    objects.extend(requests.iter().map(|id| format!("request:{id}")));
    objects.extend(
        sessions
            .iter()
            .map(|(id, _)| format!("terminal_session:{id}")),
    );
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM audit_events WHERE seq <= $1 AND object IN ({}) ORDER BY seq",
        placeholders(2, objects.len())
    );
    let mut query = sqlx::query(&sql).bind(size);
    for object in &objects {
        query = query.bind(object);
    }
    let mut rows = query.fetch_all(&mut *connection).await?;
    let mut credentials = BTreeSet::new();
    for row in &rows {
        if row.try_get::<String, _>("action")? == "request.vote" {
            let details = details_of(row)?;
            if let Some(id) = details["assertion"]["credential_id"].as_str() {
                credentials.insert(id.to_owned());
            }
        }
    }
    for credential in credentials {
        rows.extend(registration_of(connection, &credential, size).await?);
    }
    let mut ordered: Vec<(i64, AnyRow)> = rows
        .into_iter()
        .map(|row| Ok::<_, sqlx::Error>((row.try_get("seq")?, row)))
        .collect::<Result<_, _>>()?;
    ordered.sort_by_key(|(seq, _)| *seq);
    Ok(ordered)
}

fn details_of(row: &AnyRow) -> Result<Value, BundleError> {
    let text: String = row.try_get("details")?;
    Ok(serde_json::from_str(&text).map_err(DbError::decode)?)
}

/// The `passkey.registered` event of `credential`, from the trail.
async fn registration_of(
    connection: &mut AnyConnection,
    credential: &str,
    size: i64,
) -> Result<Option<AnyRow>, BundleError> {
    let pattern = format!(
        "%\"credential_id\":\"{}\"%",
        crate::listing::escape_like(credential)
    );
    let registered = sqlx::query(&format!(
        "SELECT {EVENT_COLUMNS} FROM audit_events
         WHERE seq <= $1 AND action = 'passkey.registered' AND details LIKE $2 ESCAPE '\\'
         ORDER BY seq"
    ))
    .bind(size)
    .bind(pattern)
    .fetch_all(&mut *connection)
    .await?;
    // `LIKE` ignores case on SQLite; credential IDs do not.
    for row in registered {
        if details_of(&row)?["credential_id"] == credential {
            return Ok(Some(row));
        }
    }
    Ok(None)
}

/// Each session's recording, and its board when it has one.
async fn write_sessions(
    store: &dyn RecordingStore,
    sessions: &[(i64, String)],
    reports: &HashMap<i64, AuditReport>,
    out: &mut impl Write,
    summary: &mut BundleSummary,
) -> Result<(), BundleError> {
    for (session, name) in sessions {
        // The cast goes straight from the store into the line, never whole in memory.
        write!(
            out,
            "{{\"recording\":{{\"session\":{session},\"name\":{},\"cast\":",
            serde_json::Value::from(name.as_str())
        )
        .map_err(BundleError::Write)?;
        write_json_string(store, name, out)
            .await
            .map_err(BundleError::Write)?;
        writeln!(out, "}}}}").map_err(BundleError::Write)?;
        summary.recordings += 1;
        if let Some(report) = reports.get(session) {
            write_line(
                out,
                "board",
                &json!({ "session": session, "report": report }),
            )?;
            summary.boards += 1;
        }
    }
    Ok(())
}

/// The bundle of `change_id` with its sessions' boards, as `GET /api/changes/{id}/evidence`
/// and `changeaudit export --change` give it.
pub async fn bundle_of(
    db: &Database,
    store: &dyn RecordingStore,
    key: &TrailKey,
    change_id: &str,
    now: Timestamp,
    out: &mut impl Write,
) -> Result<BundleSummary, BundleError> {
    let mut connection = db.pool().acquire().await?;
    let exists: Option<String> = sqlx::query_scalar("SELECT id FROM changes WHERE id = $1")
        .bind(change_id)
        .fetch_optional(&mut *connection)
        .await?;
    if exists.is_none() {
        return Err(BundleError::Db(DbError::NotFound));
    }
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM terminal_sessions WHERE change_id = $1 AND status = 'ended'",
    )
    .bind(change_id)
    .fetch_all(&mut *connection)
    .await?;
    let mut reports = HashMap::new();
    for id in ids {
        let session = crate::terminal::store::view(&mut connection, id, now)
            .await?
            .record;
        let (_, report) = crate::terminal::review::report_of(&mut connection, &session)
            .await
            .map_err(|error| BundleError::Other(error.to_string()))?;
        if let Some(report) = report {
            reports.insert(id, report);
        }
    }
    drop(connection);
    write_bundle(db, store, key, change_id, &reports, now, out).await
}
