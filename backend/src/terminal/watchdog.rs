//! What a replica asks the database about its running sessions, for all of them at once:
//! whether someone asked to terminate one (every second), whether what let each person in
//! still holds (every two seconds), and, every five, the heartbeat that tells the other
//! replicas they run and the free space left for recordings.
//!
//! A session's own task never waits on any of it: it registers here and is told, through a
//! `watch` channel, when it must end or its change's due date moved. With a thousand sessions
//! that is one query a second for terminations instead of a thousand, and no keystroke queued
//! behind a database answer. The registry holds only this replica's own running sessions;
//! everything another replica needs is still in the database.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Once, PoisonError, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use super::gate::{self, Permit};
use super::store;
use crate::auth::session::{self, SessionKey, SessionPolicy};
use crate::clock::{Clock, Timestamp};
use crate::db::{Database, DbError};
use crate::recordings::RecordingStore;

/// Termination requests are read this often.
const TERMINATIONS_EVERY: Duration = Duration::from_secs(1);
/// Heartbeats and the recordings' free space, in terminations' rounds.
const HEARTBEAT_ROUNDS: u64 = 5;
/// What let each person in is asked again this often, so a session ends within a few seconds
/// of the person's rights.
const RIGHTS_EVERY: Duration = Duration::from_secs(2);
/// A replica whose heartbeat has not reached the database for this long ends its sessions
/// itself: a beat before the others read them as interrupted.
const ALONE_AFTER: Duration = store::STALE_AFTER.saturating_sub(store::HEARTBEAT_EVERY);
/// How long one of the rounds' questions may wait for the database.
const ASK_WITHIN: Duration = Duration::from_secs(4);
/// Sessions whose rights are asked at once. One: a round of a thousand sessions takes about
/// half a second on SQLite, and the pool's other connections stay free for the sessions' own
/// writes (with four at once, a command's save waited behind the round and an echo with it).
const RIGHTS_AT_ONCE: usize = 1;

/// The sessions this replica runs, watched together.
#[derive(Clone)]
pub struct Watchdog {
    inner: Arc<Inner>,
}

struct Inner {
    sessions: Mutex<HashMap<i64, Arc<Entry>>>,
    started: Once,
    db: Database,
    clock: Arc<dyn Clock>,
    policy: SessionPolicy,
    recordings: Arc<dyn RecordingStore>,
    /// Below this many free bytes, sessions are told.
    free_floor: u64,
}

/// Whose session it is, and what it runs under: what is asked again.
#[derive(Debug, Clone)]
pub struct Subject {
    pub sign_in: SessionKey,
    pub user_id: i64,
    pub credential_id: i64,
    /// The change it runs under; `None` for a session outside every change.
    pub change_id: Option<String>,
}

/// What a session is told; it only ever grows more final.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Standing {
    /// Why the session must end, once it must.
    pub end: Option<End>,
    /// Its change's due date, as last read.
    pub due_at: Option<Timestamp>,
    /// The recordings' free bytes, while below the floor.
    pub low_space: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// Someone asked to terminate it.
    Terminated { by: String },
    /// What let the person in no longer holds, for this reason.
    Revoked(String),
    /// Another replica marked it interrupted: this one's heartbeat did not reach the database
    /// for too long.
    MarkedInterrupted,
    /// This replica's heartbeat has not reached the database for `ALONE_AFTER`: the other
    /// replicas are about to mark the session interrupted, so it must not run on unrecorded in
    /// the trail.
    DatabaseLost,
}

struct Entry {
    subject: Subject,
    standing: watch::Sender<Standing>,
    /// The recording's name, and how many bytes of it are written: what a watcher follows.
    recording: String,
    written: watch::Sender<u64>,
    /// The person typed since their sign-in was last counted as used.
    typed: AtomicBool,
}

impl Entry {
    fn end(&self, end: End) {
        self.standing.send_if_modified(|standing| {
            let first = standing.end.is_none();
            if first {
                standing.end = Some(end);
            }
            first
        });
    }
}

/// A session's place in the watchdog: it leaves when this is dropped.
pub struct Watched {
    inner: Arc<Inner>,
    id: i64,
    entry: Arc<Entry>,
    pub standing: watch::Receiver<Standing>,
}

/// A session's recording as it is written, for whoever watches it: the receiver sees each
/// new size (what a watcher may read up to), and is closed once the session has ended and its
/// recording is sealed.
pub struct Recorded {
    pub name: String,
    pub written: watch::Receiver<u64>,
}

impl Watched {
    /// The recording holds `bytes` now.
    pub fn recorded(&self, bytes: u64) {
        self.entry.written.send_replace(bytes);
    }

    /// The person typed: their sign-in is in use.
    pub fn typed(&self) {
        self.entry.typed.store(true, Ordering::Relaxed);
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.inner.sessions().remove(&self.id);
    }
}

impl Watchdog {
    pub fn new(
        db: Database,
        clock: Arc<dyn Clock>,
        policy: SessionPolicy,
        recordings: Arc<dyn RecordingStore>,
        free_floor: u64,
    ) -> Watchdog {
        Watchdog {
            inner: Arc::new(Inner {
                sessions: Mutex::new(HashMap::new()),
                started: Once::new(),
                db,
                clock,
                policy,
                recordings,
                free_floor,
            }),
        }
    }

    /// Watches session `id` until the answer is dropped. The rounds start with the first
    /// session and end with the watchdog.
    pub fn watch(&self, id: i64, subject: Subject, recording: String) -> Watched {
        let (sender, standing) = watch::channel(Standing::default());
        let entry = Arc::new(Entry {
            subject,
            standing: sender,
            recording,
            written: watch::Sender::new(0),
            typed: AtomicBool::new(false),
        });
        self.inner.sessions().insert(id, Arc::clone(&entry));
        self.inner.started.call_once(|| {
            tokio::spawn(terminations_and_heartbeats(Arc::downgrade(&self.inner)));
            tokio::spawn(rights(Arc::downgrade(&self.inner)));
        });
        Watched {
            inner: Arc::clone(&self.inner),
            id,
            entry,
            standing,
        }
    }

    /// The recording of session `id`, while it runs on this replica.
    pub fn recorded(&self, id: i64) -> Option<Recorded> {
        let entry = Arc::clone(self.inner.sessions().get(&id)?);
        Some(Recorded {
            name: entry.recording.clone(),
            written: entry.written.subscribe(),
        })
    }
}

impl Inner {
    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Arc<Entry>>> {
        // The map is whole after any panic: every change to it is one call.
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn entries(&self) -> Vec<(i64, Arc<Entry>)> {
        let sessions = self.sessions();
        sessions
            .iter()
            .map(|(id, entry)| (*id, Arc::clone(entry)))
            .collect()
    }

    async fn terminations(&self, entries: &[(i64, Arc<Entry>)]) -> Result<(), DbError> {
        let ids: Vec<i64> = entries.iter().map(|(id, _)| *id).collect();
        let asked: HashMap<i64, String> = store::termination_requests(&self.db, &ids)
            .await?
            .into_iter()
            .collect();
        for (id, entry) in entries {
            if let Some(by) = asked.get(id) {
                entry.end(End::Terminated { by: by.clone() });
            }
        }
        Ok(())
    }

    /// Beats for every session, and ends those another replica already marked interrupted:
    /// the trail says they ended, so they must not run on.
    async fn heartbeat(&self, entries: &[(i64, Arc<Entry>)]) -> Result<(), DbError> {
        let ids: Vec<i64> = entries.iter().map(|(id, _)| *id).collect();
        store::heartbeat(&self.db, &ids, self.clock.now()).await?;
        let ended = store::ended_among(&self.db, &ids).await?;
        for (id, entry) in entries {
            if ended.contains(id) {
                entry.end(End::MarkedInterrupted);
            }
        }
        Ok(())
    }

    async fn space(&self, entries: &[(i64, Arc<Entry>)]) -> std::io::Result<()> {
        let Some(free) = self.recordings.free_bytes().await? else {
            return Ok(());
        };
        let low_space = (free < self.free_floor).then_some(free);
        for (_, entry) in entries {
            entry.standing.send_if_modified(|standing| {
                let changed = standing.low_space != low_space;
                standing.low_space = low_space;
                changed
            });
        }
        Ok(())
    }

    /// Asks again what let the person in: a session lasts only while their sign-in and the
    /// gate hold. A due date moved is passed on; signing out, a sign-in expired, an account
    /// disabled, a change cancelled, a request withdrawn or a membership removed ends it. A
    /// database that does not answer ends nothing: the missing heartbeat tells the other
    /// replicas.
    async fn judge_again(&self, id: i64, entry: &Entry) {
        let subject = &entry.subject;
        let now = self.clock.now();
        let standing = session::standing(
            &self.db,
            &subject.sign_in,
            subject.user_id,
            &self.policy,
            now,
        )
        .await;
        match standing {
            Ok(Ok(())) => {
                // Typing in the terminal is using the sign-in: it does not go idle under them.
                if entry.typed.swap(false, Ordering::Relaxed)
                    && let Err(error) = session::touch(&self.db, &subject.sign_in, now).await
                {
                    tracing::warn!(%error, session = id, "counting the sign-in as used");
                }
            }
            Ok(Err(lapse)) => return entry.end(End::Revoked(lapse.words().to_owned())),
            Err(error) => {
                return tracing::warn!(%error, session = id, "checking the sign-in again");
            }
        }
        let judged = match self.db.pool().acquire().await {
            Ok(mut connection) => {
                gate::judge(&mut connection, subject.user_id, subject.credential_id, now).await
            }
            Err(error) => Err(error.into()),
        };
        match judged {
            Err(error) => tracing::warn!(%error, session = id, "asking the gate again"),
            Ok(Err(refusal)) => entry.end(End::Revoked(refusal.to_string())),
            Ok(Ok(Permit::Planned {
                change_id, due_at, ..
            })) if subject.change_id.as_deref() == Some(change_id.as_str()) => {
                entry.standing.send_if_modified(|standing| {
                    let moved = standing.due_at != Some(due_at);
                    standing.due_at = Some(due_at);
                    moved
                });
            }
            Ok(Ok(Permit::Unplanned { .. })) if subject.change_id.is_none() => {}
            Ok(Ok(_)) => entry.end(End::Revoked(
                "The approval it ran under no longer holds.".to_owned(),
            )),
        }
    }
}

/// Every second, terminations; every fifth, heartbeats and free space. Ends with the watchdog.
async fn terminations_and_heartbeats(inner: Weak<Inner>) {
    let mut ticks = tokio::time::interval(TERMINATIONS_EVERY);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut round: u64 = 0;
    // When a heartbeat last reached the database (or there was none to send).
    let mut beaten = tokio::time::Instant::now();
    loop {
        ticks.tick().await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let entries = inner.entries();
        if entries.is_empty() {
            beaten = tokio::time::Instant::now();
            continue;
        }
        if beaten.elapsed() >= ALONE_AFTER {
            tracing::error!(
                sessions = entries.len(),
                "the database has not taken a heartbeat for {ALONE_AFTER:?}: ending this replica's sessions"
            );
            for (_, entry) in &entries {
                entry.end(End::DatabaseLost);
            }
        }
        round += 1;
        // A database that hangs rather than fails must not hold up the check above.
        match tokio::time::timeout(ASK_WITHIN, inner.terminations(&entries)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "reading termination requests"),
            Err(_) => tracing::warn!("reading termination requests: no answer in {ASK_WITHIN:?}"),
        }
        if round.is_multiple_of(HEARTBEAT_ROUNDS) {
            match tokio::time::timeout(ASK_WITHIN, inner.heartbeat(&entries)).await {
                Ok(Ok(())) => beaten = tokio::time::Instant::now(),
                Ok(Err(error)) => tracing::warn!(%error, "sessions' heartbeat"),
                Err(_) => tracing::warn!("sessions' heartbeat: no answer in {ASK_WITHIN:?}"),
            }
            if let Err(error) = inner.space(&entries).await {
                tracing::warn!(%error, "reading the recordings' free space");
            }
        }
    }
}

/// Every `RIGHTS_EVERY`, each session's rights, a few at a time. Ends with the watchdog.
async fn rights(inner: Weak<Inner>) {
    let mut ticks = tokio::time::interval(RIGHTS_EVERY);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let entries = inner.entries();
        futures_util::stream::iter(&entries)
            .for_each_concurrent(RIGHTS_AT_ONCE, |(id, entry)| inner.judge_again(*id, entry))
            .await;
    }
}
