//! A change's evidence bundle: everything about one change that `changeaudit verify --bundle`
//! checks alone, with the public key and nothing else. JSON lines:
//!
//! - `{"bundle":{"format":"changeaudit-evidence","version":1,"change_id","public_key","key_id","exported_at"}}`
//! - `{"checkpoint":{…}}`, the signed checkpoint every proof below leads to;
//! - `{"proved":{"event":<canonical form>,"hash","proof":[…]}}` for each of the change's events,
//!   its requests' and sessions' events, and the `passkey.registered` events of the passkeys
//!   that signed its approvals, each with its inclusion proof;
//! - `{"recording":{"session","name","cast"}}` for each session, the recording as text;
//! - `{"board":{"session","report"}}` for each session under the change.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, Write};

use changeaudit_shared::export::{Checkpoint, event_leaf, key_id};
use changeaudit_shared::merkle::{Hash, parse_hash, verify_inclusion};
use changeaudit_shared::report::AuditReport;
use changeaudit_shared::trail::hex;
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::approvals::assertion::{StoredAssertion, check_vote};
use sqlx::Row;

use crate::clock::Timestamp;
use crate::db::placeholders;
use crate::db::{Database, DbError};
use crate::recordings::{RecordingStore, read_all};
use crate::trail::audit::{EVENT_COLUMNS, RowParts, canonical_of};
use crate::trail::checkpoints::{self, Policy};
use crate::trail::key::{TrailKey, checkpoint_signed};
use crate::trail::proofs;
use crate::trail::verify::Fault;

pub const FORMAT: &str = "changeaudit-evidence";
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BundleHeader {
    pub format: String,
    pub version: u32,
    pub change_id: String,
    pub public_key: String,
    pub key_id: String,
    pub exported_at: i64,
    /// The SHA-256 of the list of the bundle's events, `<seq>:<hash>\n` each in order: what
    /// the server put in, so nothing can be left out.
    pub manifest: String,
    /// Ed25519, by the trail's key, over `manifest_text`.
    pub signature: String,
}

/// What a bundle's signature vouches for.
pub fn manifest_text(change_id: &str, tree_size: u64, manifest: &str) -> String {
    format!("changeaudit evidence v1\n{change_id}\n{tree_size}\n{manifest}\n")
}

fn manifest_of<'a>(events: impl IntoIterator<Item = (i64, &'a str)>) -> String {
    let mut hasher = Sha256::new();
    for (seq, hash) in events {
        hasher.update(format!("{seq}:{hash}\n").as_bytes());
    }
    hex(&hasher.finalize())
}

/// One event of the bundle with its proof, as read back.
#[derive(Debug, Deserialize)]
struct Proved<'a> {
    #[serde(borrow)]
    event: &'a serde_json::value::RawValue,
    hash: String,
    proof: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct Recording {
    session: i64,
    name: String,
    cast: String,
}

#[derive(Debug, Deserialize)]
struct BoardOf {
    session: i64,
    report: AuditReport,
}

#[derive(Debug, Deserialize)]
struct BundleLine<'a> {
    #[serde(default)]
    bundle: Option<BundleHeader>,
    #[serde(default)]
    checkpoint: Option<Checkpoint>,
    #[serde(borrow, default)]
    proved: Option<Proved<'a>>,
    #[serde(default)]
    recording: Option<Recording>,
    #[serde(default)]
    board: Option<BoardOf>,
}

/// Writes one line of a bundle.
pub fn write_line(out: &mut impl Write, kind: &str, value: &Value) -> std::io::Result<()> {
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

/// What a bundle was found to hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BundleSummary {
    pub change_id: String,
    pub events: u64,
    pub recordings: u64,
    pub assertions: u64,
    pub boards: u64,
    pub tree_size: u64,
}

impl std::fmt::Display for BundleSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "evidence of {}: {} events proved in the trail of {} events under its signed checkpoint, {} recordings, {} approval signatures, {} boards",
            self.change_id,
            self.events,
            self.tree_size,
            self.recordings,
            self.assertions,
            self.boards
        )
    }
}

/// Verifies a bundle with nothing but `public_key`.
pub fn verify_bundle(
    reader: impl BufRead,
    public_key: &VerifyingKey,
) -> Result<BundleSummary, Fault> {
    let mut line_number = 0_u64;
    let fault = |line: u64, seq: Option<i64>, reason: String| Fault { seq, line, reason };
    let mut header: Option<BundleHeader> = None;
    let mut checkpoint: Option<(Checkpoint, Hash)> = None;
    // Proven events by seq.
    let mut events: BTreeMap<i64, ProvedEvent> = BTreeMap::new();
    let mut recordings: HashMap<i64, (u64, String, String)> = HashMap::new();
    let mut boards: HashMap<i64, (u64, BoardOf)> = HashMap::new();
    for line in reader.lines() {
        line_number += 1;
        let text =
            line.map_err(|error| fault(line_number, None, format!("cannot be read: {error}")))?;
        if text.trim().is_empty() {
            continue;
        }
        let parsed: BundleLine = serde_json::from_str(&text).map_err(|error| {
            fault(
                line_number,
                None,
                format!("is not a line of an evidence bundle: {error}"),
            )
        })?;
        if let Some(found) = parsed.bundle {
            if line_number != 1 || found.format != FORMAT || found.version != VERSION {
                return Err(fault(
                    line_number,
                    None,
                    format!(
                        "expected the header of a {FORMAT} bundle, version {VERSION}, as the first line only"
                    ),
                ));
            }
            header = Some(found);
            continue;
        }
        if header.is_none() {
            return Err(fault(
                line_number,
                None,
                "the bundle has no header line".to_owned(),
            ));
        };
        if let Some(found) = parsed.checkpoint {
            if found.key_id != key_id(&public_key.to_bytes()) {
                return Err(fault(
                    line_number,
                    None,
                    format!(
                        "its checkpoint is signed by key {}, not by the given key",
                        found.key_id
                    ),
                ));
            }
            if !checkpoint_signed(public_key, &found) {
                return Err(fault(
                    line_number,
                    None,
                    "its checkpoint's signature does not verify".to_owned(),
                ));
            }
            let root = parse_hash(&found.root).ok_or_else(|| {
                fault(
                    line_number,
                    None,
                    "its checkpoint's root is not hex".to_owned(),
                )
            })?;
            checkpoint = Some((found, root));
            continue;
        }
        if let Some(proved) = parsed.proved {
            let Some((signed, root)) = &checkpoint else {
                return Err(fault(
                    line_number,
                    None,
                    "an event comes before the checkpoint that proves it".to_owned(),
                ));
            };
            let event: Value = serde_json::from_str(proved.event.get())
                .map_err(|_| fault(line_number, None, "its event is not JSON".to_owned()))?;
            let seq = event["seq"].as_i64().unwrap_or_default();
            let stored = parse_hash(&proved.hash)
                .ok_or_else(|| fault(line_number, Some(seq), "its hash is not hex".to_owned()))?;
            // The canonical form as written is what the chain hashed; re-encoded, it is
            // brought back to canonical form first.
            let computed: Hash = Sha256::digest(proved.event.get().as_bytes()).into();
            let canonical: Hash = Sha256::digest(event.to_string().as_bytes()).into();
            if computed != stored && canonical != stored {
                return Err(fault(
                    line_number,
                    Some(seq),
                    "its content does not match its hash".to_owned(),
                ));
            }
            let proof = proved
                .proof
                .iter()
                .map(|hash| parse_hash(hash))
                .collect::<Option<Vec<Hash>>>()
                .ok_or_else(|| fault(line_number, Some(seq), "its proof is not hex".to_owned()))?;
            let index = u64::try_from(seq - 1).unwrap_or(u64::MAX);
            verify_inclusion(index, signed.tree_size, &event_leaf(&stored), &proof, root).map_err(
                |error| {
                    fault(
                        line_number,
                        Some(seq),
                        format!("it is not in the signed trail: {error}"),
                    )
                },
            )?;
            let duplicate = events.insert(
                seq,
                ProvedEvent {
                    action: event["action"].as_str().unwrap_or_default().to_owned(),
                    actor: event["actor"].as_str().unwrap_or_default().to_owned(),
                    object: event["object"].as_str().unwrap_or_default().to_owned(),
                    details: event["details"].clone(),
                    hash: proved.hash.clone(),
                },
            );
            if duplicate.is_some() {
                return Err(fault(
                    line_number,
                    Some(seq),
                    "it is in the bundle twice".to_owned(),
                ));
            }
            continue;
        }
        if let Some(recording) = parsed.recording {
            let session = recording.session;
            if recordings
                .insert(session, (line_number, recording.name, recording.cast))
                .is_some()
            {
                return Err(fault(
                    line_number,
                    None,
                    format!("session {session} has two recordings"),
                ));
            }
            continue;
        }
        if let Some(board) = parsed.board {
            let session = board.session;
            if boards.insert(session, (line_number, board)).is_some() {
                return Err(fault(
                    line_number,
                    None,
                    format!("session {session} has two boards"),
                ));
            }
            continue;
        }
        return Err(fault(
            line_number,
            None,
            "is neither a checkpoint, an event, a recording nor a board".to_owned(),
        ));
    }
    let Some(header) = header else {
        return Err(fault(line_number, None, "the bundle is empty".to_owned()));
    };
    let Some((signed, _)) = checkpoint else {
        return Err(fault(
            line_number,
            None,
            "the bundle has no checkpoint".to_owned(),
        ));
    };
    let change = header.change_id.clone();
    // Complete: the server signed the list of what it put in.
    let manifest = manifest_of(
        events
            .iter()
            .map(|(seq, event)| (*seq, event.hash.as_str())),
    );
    let signed_manifest = hex::decode(&header.signature)
        .ok()
        .and_then(|bytes| <[u8; 64]>::try_from(bytes).ok())
        .map(|bytes| ed25519_dalek::Signature::from_bytes(&bytes))
        .is_some_and(|signature| {
            public_key
                .verify_strict(
                    manifest_text(&change, signed.tree_size, &header.manifest).as_bytes(),
                    &signature,
                )
                .is_ok()
        });
    if !signed_manifest {
        return Err(fault(
            1,
            None,
            "the bundle's list of events is not signed by the given key".to_owned(),
        ));
    }
    if manifest != header.manifest {
        return Err(fault(1, None, "the bundle's events are not the ones its signed list names: one was added, changed or left out".to_owned()));
    }
    let mut summary = BundleSummary {
        change_id: change.clone(),
        tree_size: signed.tree_size,
        events: events.len() as u64,
        ..BundleSummary::default()
    };
    if !events.values().any(|event| {
        event.action.starts_with("change.") && event.object == format!("change:{change}")
    }) {
        return Err(fault(0, None, format!("it proves no event of {change}")));
    }
    let passkeys: HashMap<String, (String, Value)> = events
        .values()
        .filter(|event| event.action == "passkey.registered")
        .filter_map(|event| {
            Some((
                event.details["credential_id"].as_str()?.to_owned(),
                (event.actor.clone(), event.details["public_key"].clone()),
            ))
        })
        .collect();
    // Session → recording name, from its proved start, which must be of this change.
    let mut started: HashMap<i64, String> = HashMap::new();
    let mut ended: BTreeSet<i64> = BTreeSet::new();
    let session_of = |object: &str| {
        object
            .strip_prefix("terminal_session:")
            .and_then(|id| id.parse::<i64>().ok())
            .unwrap_or_default()
    };
    for (seq, event) in &events {
        let at = Some(*seq);
        match event.action.as_str() {
            "session.started" => {
                if event.details["change"].as_str() != Some(change.as_str()) {
                    return Err(fault(
                        0,
                        at,
                        format!("its session ran under another change than {change}"),
                    ));
                }
                started.insert(
                    session_of(&event.object),
                    event.details["recording"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                );
            }
            "request.vote" => {
                if event.details["change_id"].as_str() != Some(change.as_str()) {
                    return Err(fault(
                        0,
                        at,
                        format!("its vote is on another change than {change}"),
                    ));
                }
                if event.details["assertion"].is_null() {
                    continue;
                }
                let stored: StoredAssertion =
                    serde_json::from_value(event.details["assertion"].clone()).map_err(|_| {
                        fault(0, at, "its approval's assertion is unreadable".to_owned())
                    })?;
                let request_id = event
                    .object
                    .strip_prefix("request:")
                    .and_then(|id| id.parse::<i64>().ok())
                    .unwrap_or_default();
                check_vote(
                    &stored,
                    request_id,
                    event.details["change_digest"].as_str().unwrap_or_default(),
                    &event.actor,
                    passkeys
                        .get(&stored.credential_id)
                        .map(|(owner, key)| (owner.as_str(), key)),
                )
                .map_err(|reason| fault(0, at, reason))?;
                summary.assertions += 1;
            }
            "session.ended" => {
                let session = session_of(&event.object);
                ended.insert(session);
                let Some(sealed) = event.details["recording_sha256"].as_str() else {
                    continue;
                };
                let (_, name, cast) = recordings.get(&session).ok_or_else(|| {
                    fault(
                        0,
                        at,
                        format!("the recording of session {session} is not in the bundle"),
                    )
                })?;
                if started.get(&session) != Some(name) {
                    return Err(fault(
                        0,
                        at,
                        format!("recording {name} is not the one session {session} started"),
                    ));
                }
                let digest = hex(&Sha256::digest(cast.as_bytes()));
                if digest != sealed {
                    return Err(fault(
                        0,
                        at,
                        format!(
                            "its recording {name} has SHA-256 {digest}, not the {sealed} sealed when the session ended"
                        ),
                    ));
                }
                summary.recordings += 1;
                if let Some((line, board)) = boards.get(&session) {
                    if Some(u64::from(board.report.score)) != event.details["score"].as_u64()
                        || Some(board.report.verdict.as_str()) != event.details["verdict"].as_str()
                    {
                        return Err(fault(
                            *line,
                            at,
                            format!(
                                "the board of session {session} does not give the score and verdict its end sealed"
                            ),
                        ));
                    }
                    summary.boards += 1;
                }
            }
            _ => {}
        }
    }
    // Nothing rides along that no proved session accounts for.
    for (session, (line, name, _)) in &recordings {
        if !ended.contains(session) {
            return Err(fault(
                *line,
                None,
                format!("recording {name} belongs to no session the bundle proves ended"),
            ));
        }
    }
    for (session, (line, _)) in &boards {
        if !ended.contains(session) {
            return Err(fault(
                *line,
                None,
                format!(
                    "the board of session {session} belongs to no session the bundle proves ended"
                ),
            ));
        }
    }
    Ok(summary)
}

/// A proved event of a bundle, as the checks need it.
struct ProvedEvent {
    action: String,
    actor: String,
    object: String,
    details: Value,
    hash: String,
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
    let size = i64::try_from(signed.tree_size).unwrap_or(i64::MAX);

    let requests: Vec<i64> = sqlx::query_scalar("SELECT id FROM requests WHERE change_id = $1")
        .bind(change_id)
        .fetch_all(&mut *connection)
        .await?;
    let sessions: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, recording FROM terminal_sessions WHERE change_id = $1 ORDER BY id",
    )
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
    // The passkeys that signed its approvals: their registrations, from the trail.
    let mut credentials = BTreeSet::new();
    for row in &rows {
        if row.try_get::<String, _>("action")? == "request.vote" {
            let details: Value = serde_json::from_str(&row.try_get::<String, _>("details")?)
                .map_err(DbError::decode)?;
            if let Some(id) = details["assertion"]["credential_id"].as_str() {
                credentials.insert(id.to_owned());
            }
        }
    }
    for credential in credentials {
        let pattern = format!(
            "%\"credential_id\":\"{}\"%",
            crate::listing::escape_like(&credential)
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
            let details: Value = serde_json::from_str(&row.try_get::<String, _>("details")?)
                .map_err(DbError::decode)?;
            if details["credential_id"] == credential.as_str() {
                rows.push(row);
                break;
            }
        }
    }
    let mut ordered: Vec<(i64, sqlx::any::AnyRow)> = rows
        .into_iter()
        .map(|row| Ok::<_, sqlx::Error>((row.try_get("seq")?, row)))
        .collect::<Result<_, _>>()?;
    ordered.sort_by_key(|(seq, _)| *seq);

    let hashes: Vec<(i64, String)> = ordered
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
        signature: key.sign(&manifest_text(change_id, signed.tree_size, &manifest)),
        manifest,
    };
    write_line(
        out,
        "bundle",
        &serde_json::to_value(&header).unwrap_or_default(),
    )?;
    write_line(
        out,
        "checkpoint",
        &serde_json::to_value(&signed).unwrap_or_default(),
    )?;
    let mut summary = BundleSummary {
        change_id: change_id.to_owned(),
        tree_size: signed.tree_size,
        ..BundleSummary::default()
    };
    let mut canonical = Vec::with_capacity(1024);
    for (seq, row) in &ordered {
        let RowParts { hash, .. } = canonical_of(row, &mut canonical)?;
        let proof = proofs::inclusion(
            &mut connection,
            u64::try_from(*seq).unwrap_or(0),
            signed.tree_size,
        )
        .await?;
        let text = String::from_utf8_lossy(&canonical);
        write_proved(out, &text, &hash, &proof)?;
        summary.events += 1;
    }
    drop(connection);
    for (session, name) in &sessions {
        let bytes = read_all(store, name).await.map_err(BundleError::Write)?;
        let cast = String::from_utf8(bytes)
            .map_err(|_| BundleError::Other(format!("recording {name} is not text")))?;
        write_line(
            out,
            "recording",
            &json!({ "session": session, "name": name, "cast": cast }),
        )?;
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
    out.flush()?;
    Ok(summary)
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
