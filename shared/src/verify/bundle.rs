//! Verifying a change's evidence bundle (`crate::evidence`) with nothing but the trail's public
//! key. Read line by line: the header, the signed checkpoint, each event with the proof that it
//! is in the signed trail, the recordings and the boards. Then, as a whole: the signed list of
//! events matches the events given (nothing added or left out), they are about the change, each
//! approval's passkey signature holds, each recording is the one its session's end sealed, each
//! board gives the score and verdict that end sealed and (from version 2) holds the lines its
//! trail says were held, and nothing rides along unaccounted for.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::BufRead;

use ed25519_dalek::VerifyingKey;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::Fault;
use super::assertion::{StoredAssertion, check_vote};
use super::export::request_of;
use super::keys::{checkpoint_signed, signed};
use crate::evidence::{BundleHeader, BundleSummary, FORMAT, VERSION, manifest_of, manifest_text};
use crate::export::{Checkpoint, event_leaf, key_id};
use crate::merkle::{Hash, parse_hash, verify_inclusion};
use crate::report::AuditReport;
use crate::trail::hex;

/// Verifies the bundle `reader` gives with nothing but `public_key`.
pub fn verify_bundle(
    reader: impl BufRead,
    public_key: &VerifyingKey,
) -> Result<BundleSummary, Fault> {
    let mut bundle = Bundle::default();
    for line in reader.lines() {
        bundle.line += 1;
        let text = line.map_err(|error| bundle.fault(None, format!("cannot be read: {error}")))?;
        if !text.trim().is_empty() {
            bundle.read(&text, public_key)?;
        }
    }
    bundle.check(public_key)
}

#[derive(Deserialize)]
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
    board: Option<Board>,
}

#[derive(Deserialize)]
struct Proved<'a> {
    #[serde(borrow)]
    event: &'a serde_json::value::RawValue,
    hash: String,
    proof: Vec<String>,
}

#[derive(Deserialize)]
struct Recording {
    session: i64,
    name: String,
    cast: String,
}

#[derive(Deserialize)]
struct Board {
    session: i64,
    report: AuditReport,
}

/// A proved event, as the checks of the whole need it.
struct Event {
    line: u64,
    action: String,
    actor: String,
    object: String,
    details: Value,
    hash: String,
}

/// What has been read so far.
#[derive(Default)]
struct Bundle {
    line: u64,
    header: Option<BundleHeader>,
    checkpoint: Option<(Checkpoint, Hash)>,
    /// By seq.
    events: BTreeMap<i64, Event>,
    /// By session: the line, the name, the text.
    recordings: HashMap<i64, (u64, String, String)>,
    /// By session: the line, the report.
    boards: HashMap<i64, (u64, AuditReport)>,
}

impl Bundle {
    fn fault(&self, seq: Option<i64>, reason: impl Into<String>) -> Fault {
        self.fault_at(self.line, seq, reason)
    }

    fn fault_at(&self, line: u64, seq: Option<i64>, reason: impl Into<String>) -> Fault {
        Fault {
            seq,
            line,
            reason: reason.into(),
        }
    }

    /// One line, checked as far as it can be alone.
    fn read(&mut self, text: &str, public_key: &VerifyingKey) -> Result<(), Fault> {
        let parsed: BundleLine = serde_json::from_str(text).map_err(|error| {
            self.fault(
                None,
                format!("is not a line of an evidence bundle: {error}"),
            )
        })?;
        if let Some(header) = parsed.bundle {
            return self.header(header);
        }
        if self.header.is_none() {
            return Err(self.fault(None, "the bundle has no header line"));
        }
        if let Some(checkpoint) = parsed.checkpoint {
            return self.checkpoint(checkpoint, public_key);
        }
        if let Some(proved) = parsed.proved {
            return self.proved(&proved);
        }
        if let Some(recording) = parsed.recording {
            let (session, line) = (recording.session, self.line);
            let entry = (line, recording.name, recording.cast);
            if self.recordings.insert(session, entry).is_some() {
                return Err(self.fault(None, format!("session {session} has two recordings")));
            }
            return Ok(());
        }
        if let Some(board) = parsed.board {
            let (session, line) = (board.session, self.line);
            if self.boards.insert(session, (line, board.report)).is_some() {
                return Err(self.fault(None, format!("session {session} has two boards")));
            }
            return Ok(());
        }
        Err(self.fault(
            None,
            "is neither a checkpoint, an event, a recording nor a board",
        ))
    }

    fn header(&mut self, header: BundleHeader) -> Result<(), Fault> {
        if self.line != 1 || header.format != FORMAT || !(1..=VERSION).contains(&header.version) {
            return Err(self.fault(
                None,
                format!(
                    "expected the header of a {FORMAT} bundle, version 1 to {VERSION}, as the first line only"
                ),
            ));
        }
        self.header = Some(header);
        Ok(())
    }

    /// The checkpoint every proof leads to: the given key's, and its signature holding.
    fn checkpoint(&mut self, found: Checkpoint, public_key: &VerifyingKey) -> Result<(), Fault> {
        if found.key_id != key_id(&public_key.to_bytes()) {
            return Err(self.fault(
                None,
                format!(
                    "its checkpoint is signed by key {}, not by the given key",
                    found.key_id
                ),
            ));
        }
        if !checkpoint_signed(public_key, &found) {
            return Err(self.fault(None, "its checkpoint's signature does not verify"));
        }
        let root = parse_hash(&found.root)
            .ok_or_else(|| self.fault(None, "its checkpoint's root is not hex"))?;
        self.checkpoint = Some((found, root));
        Ok(())
    }

    /// An event: its content matches its hash, and its proof leads to the signed root.
    fn proved(&mut self, proved: &Proved<'_>) -> Result<(), Fault> {
        let Some((signed, root)) = &self.checkpoint else {
            return Err(self.fault(None, "an event comes before the checkpoint that proves it"));
        };
        let event: Value = serde_json::from_str(proved.event.get())
            .map_err(|_| self.fault(None, "its event is not JSON"))?;
        let seq = event["seq"].as_i64().unwrap_or_default();
        let stored =
            parse_hash(&proved.hash).ok_or_else(|| self.fault(Some(seq), "its hash is not hex"))?;
        // The canonical form as written is what the chain hashed; re-encoded, it is brought
        // back to canonical form first.
        let as_written: Hash = Sha256::digest(proved.event.get().as_bytes()).into();
        let canonical: Hash = Sha256::digest(event.to_string().as_bytes()).into();
        if as_written != stored && canonical != stored {
            return Err(self.fault(Some(seq), "its content does not match its hash"));
        }
        let proof = proved
            .proof
            .iter()
            .map(|hash| parse_hash(hash))
            .collect::<Option<Vec<Hash>>>()
            .ok_or_else(|| self.fault(Some(seq), "its proof is not hex"))?;
        let index = u64::try_from(seq - 1).unwrap_or(u64::MAX);
        verify_inclusion(index, signed.tree_size, &event_leaf(&stored), &proof, root).map_err(
            |error| self.fault(Some(seq), format!("it is not in the signed trail: {error}")),
        )?;
        let text = |key: &str| event[key].as_str().unwrap_or_default().to_owned();
        let kept = Event {
            line: self.line,
            action: text("action"),
            actor: text("actor"),
            object: text("object"),
            details: event["details"].clone(),
            hash: proved.hash.clone(),
        };
        if self.events.insert(seq, kept).is_some() {
            return Err(self.fault(Some(seq), "it is in the bundle twice"));
        }
        Ok(())
    }

    /// The checks of the whole, once every line is read.
    fn check(self, public_key: &VerifyingKey) -> Result<BundleSummary, Fault> {
        let Some(header) = &self.header else {
            return Err(self.fault(None, "the bundle is empty"));
        };
        let Some((signed, _)) = &self.checkpoint else {
            return Err(self.fault(None, "the bundle has no checkpoint"));
        };
        self.signed_list(header, signed.tree_size, public_key)?;
        let change = header.change_id.as_str();
        let mut summary = BundleSummary {
            change_id: change.to_owned(),
            tree_size: signed.tree_size,
            events: self.events.len() as u64,
            ..BundleSummary::default()
        };
        let of_the_change = format!("change:{change}");
        if !self
            .events
            .values()
            .any(|event| event.action.starts_with("change.") && event.object == of_the_change)
        {
            return Err(self.fault_at(0, None, format!("it proves no event of {change}")));
        }
        let ended = self.sessions_and_votes(change, &mut summary)?;
        self.nothing_unaccounted(&ended)?;
        // Boards list held lines since version 2; a version 1 bundle's never did.
        if header.version >= 2 {
            self.held_lines()?;
        }
        Ok(summary)
    }

    /// Complete: the server signed the list of what it put in.
    fn signed_list(
        &self,
        header: &BundleHeader,
        tree_size: u64,
        public_key: &VerifyingKey,
    ) -> Result<(), Fault> {
        let text = manifest_text(
            header.version,
            &header.change_id,
            tree_size,
            &header.manifest,
        );
        if !signed(public_key, &text, &header.signature) {
            return Err(self.fault_at(
                1,
                None,
                "the bundle's list of events is not signed by the given key",
            ));
        }
        let given = self
            .events
            .iter()
            .map(|(seq, event)| (*seq, event.hash.as_str()));
        if manifest_of(given) != header.manifest {
            return Err(self.fault_at(
                1,
                None,
                "the bundle's events are not the ones its signed list names: one was added, changed or left out",
            ));
        }
        Ok(())
    }

    /// Each event checked for what it says, in order; answers the sessions proved ended.
    fn sessions_and_votes(
        &self,
        change: &str,
        summary: &mut BundleSummary,
    ) -> Result<BTreeSet<i64>, Fault> {
        let passkeys = self.passkeys();
        // Session → recording name, from its proved start, which must be of this change.
        let mut started: HashMap<i64, String> = HashMap::new();
        let mut ended = BTreeSet::new();
        for (&seq, event) in &self.events {
            let at_fault = |reason: String| self.fault_at(event.line, Some(seq), reason);
            match event.action.as_str() {
                "session.started" => {
                    if event.details["change"].as_str() != Some(change) {
                        return Err(at_fault(format!(
                            "its session ran under another change than {change}"
                        )));
                    }
                    let name = event.details["recording"].as_str().unwrap_or_default();
                    started.insert(session_of(&event.object), name.to_owned());
                }
                "request.vote" => {
                    if event.details["change_id"].as_str() != Some(change) {
                        return Err(at_fault(format!(
                            "its vote is on another change than {change}"
                        )));
                    }
                    if vote(event, &passkeys).map_err(at_fault)? {
                        summary.assertions += 1;
                    }
                }
                "session.ended" => {
                    let session = session_of(&event.object);
                    ended.insert(session);
                    self.ended(seq, event, session, &started, summary)?;
                }
                // Marked by another replica after its own died: no board is sealed with it.
                "session.interrupted" => {
                    ended.insert(session_of(&event.object));
                }
                "session.recording_recovered" => {
                    let session = session_of(&event.object);
                    self.recording_sealed(seq, event, session, &started, summary)?;
                }
                _ => {}
            }
        }
        Ok(ended)
    }

    /// Credential ID → who registered it and its public key, from the proved registrations.
    fn passkeys(&self) -> HashMap<&str, (&str, &Value)> {
        self.events
            .values()
            .filter(|event| event.action == "passkey.registered")
            .filter_map(|event| {
                let id = event.details["credential_id"].as_str()?;
                Some((id, (event.actor.as_str(), &event.details["public_key"])))
            })
            .collect()
    }

    /// A session's end: its recording is the one it started and sealed, its board what it sealed.
    fn ended(
        &self,
        seq: i64,
        event: &Event,
        session: i64,
        started: &HashMap<i64, String>,
        summary: &mut BundleSummary,
    ) -> Result<(), Fault> {
        if !self.recording_sealed(seq, event, session, started, summary)? {
            return Ok(());
        }
        let Some((line, report)) = self.boards.get(&session) else {
            return Ok(());
        };
        if Some(u64::from(report.score)) != event.details["score"].as_u64()
            || Some(report.verdict.as_str()) != event.details["verdict"].as_str()
        {
            return Err(self.fault_at(
                *line,
                Some(seq),
                format!(
                    "the board of session {session} does not give the score and verdict its end sealed"
                ),
            ));
        }
        summary.boards += 1;
        Ok(())
    }

    /// The recording `event` seals, when it seals one, is in the bundle, is the one the session
    /// started, and has the digest sealed; answers whether it sealed one.
    fn recording_sealed(
        &self,
        seq: i64,
        event: &Event,
        session: i64,
        started: &HashMap<i64, String>,
        summary: &mut BundleSummary,
    ) -> Result<bool, Fault> {
        let Some(sealed) = event.details["recording_sha256"].as_str() else {
            return Ok(false);
        };
        let Some((line, name, cast)) = self.recordings.get(&session) else {
            return Err(self.fault_at(
                event.line,
                Some(seq),
                format!("the recording of session {session} is not in the bundle"),
            ));
        };
        if started.get(&session) != Some(name) {
            return Err(self.fault_at(
                *line,
                Some(seq),
                format!("recording {name} is not the one session {session} started"),
            ));
        }
        let digest = hex(&Sha256::digest(cast.as_bytes()));
        if digest != sealed {
            return Err(self.fault_at(
                *line,
                Some(seq),
                format!(
                    "its recording {name} has SHA-256 {digest}, not the {sealed} sealed in the trail"
                ),
            ));
        }
        summary.recordings += 1;
        Ok(true)
    }

    /// Every board, however its session ended, holds exactly the lines its session's proved
    /// `session.command_blocked` events say were held: each line and when, in order.
    fn held_lines(&self) -> Result<(), Fault> {
        let mut held: HashMap<i64, Vec<(&str, Option<f64>)>> = HashMap::new();
        for (&seq, event) in &self.events {
            if event.action == "session.command_blocked" {
                let Some(line) = event.details["line"].as_str() else {
                    return Err(self.fault_at(event.line, Some(seq), "its held line is missing"));
                };
                let at = event.details["at"].as_f64();
                held.entry(session_of(&event.object))
                    .or_default()
                    .push((line, at));
            }
        }
        for (session, (line, report)) in &self.boards {
            let proved = held.get(session).map(Vec::as_slice).unwrap_or_default();
            let shown = report
                .held()
                .map(|entered| (entered.command.as_str(), entered.offset));
            if !shown.eq(proved.iter().copied()) {
                return Err(self.fault_at(
                    *line,
                    None,
                    format!(
                        "the board of session {session} does not hold the {} lines its trail says were held",
                        proved.len()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Nothing rides along that no proved session accounts for.
    fn nothing_unaccounted(&self, ended: &BTreeSet<i64>) -> Result<(), Fault> {
        for (session, (line, name, _)) in &self.recordings {
            if !ended.contains(session) {
                return Err(self.fault_at(
                    *line,
                    None,
                    format!("recording {name} belongs to no session the bundle proves ended"),
                ));
            }
        }
        for (session, (line, _)) in &self.boards {
            if !ended.contains(session) {
                return Err(self.fault_at(
                    *line,
                    None,
                    format!(
                        "the board of session {session} belongs to no session the bundle proves ended"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// A vote's passkey signature, when it carries one: answers whether it did.
fn vote(event: &Event, passkeys: &HashMap<&str, (&str, &Value)>) -> Result<bool, String> {
    let assertion = &event.details["assertion"];
    if assertion.is_null() {
        return Ok(false);
    }
    let stored: StoredAssertion = serde_json::from_value(assertion.clone())
        .map_err(|_| "its approval's assertion is unreadable".to_owned())?;
    check_vote(
        &stored,
        request_of(&event.object),
        event.details["change_digest"].as_str().unwrap_or_default(),
        &event.actor,
        passkeys.get(stored.credential_id.as_str()).copied(),
    )?;
    Ok(true)
}

/// The session a `terminal_session:<id>` object names.
fn session_of(object: &str) -> i64 {
    object
        .strip_prefix("terminal_session:")
        .and_then(|id| id.parse().ok())
        .unwrap_or_default()
}
