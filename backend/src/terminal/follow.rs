//! A running session's recording as it is written, for a watcher. On the replica that runs the
//! session it is read as each event is recorded; from any other, relayed by that replica over
//! the cluster's channel; and when neither can be had (the replica is gone, or unreachable), or
//! once the live source has ended, read from the store every `POLL`.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt};
use tokio::sync::watch;
use tokio::time::Instant;

use super::store::Stored;
use super::watchdog::Recorded;
use crate::cluster::{registry, relay};
use crate::recordings::RecordingStore;
use crate::state::AppState;

/// How long a watcher waits for more before it looks at the session's record again.
pub const POLL: Duration = Duration::from_millis(200);
/// A live source silent this long is checked against the store.
const LIVE_SILENCE: Duration = Duration::from_secs(10);
/// How long a live source may stay open after the session ended.
const LIVE_GRACE: Duration = Duration::from_secs(2);
/// The most read from the store at once.
const CHUNK: usize = 256 * 1024;

/// Where the watcher's bytes come from, and how far it has read.
pub struct Follow {
    source: Source,
    name: String,
    offset: u64,
    /// When the session's record was first seen ended.
    ended_at: Option<Instant>,
    /// When the live source last gave bytes (or was opened).
    heard: Instant,
}

enum Source {
    /// As they are written.
    Live(BoxStream<'static, io::Result<Bytes>>),
    /// The live source ended of itself: the session ended, and every byte came.
    Done,
    /// Read from the store.
    Store,
}

impl Follow {
    /// Follows `session` from its first byte, live when it can be.
    pub async fn open(state: &AppState, session: &Stored) -> Follow {
        let source = match live(state, session).await {
            Some(live) => Source::Live(live),
            None => Source::Store,
        };
        Follow {
            source,
            name: session.recording.clone(),
            offset: 0,
            ended_at: None,
            heard: Instant::now(),
        }
    }

    /// Whether an empty answer from `more` means the watcher has everything there is so far:
    /// no live source still has bytes on their way.
    pub fn settled(&self) -> bool {
        !matches!(self.source, Source::Live(_))
    }

    /// The session's record says whether it ended. A live source still open `LIVE_GRACE`
    /// after the end (its last bytes and its own end are on their way meanwhile), or one that
    /// ended before the session did, gives way to the store.
    pub fn session_is(&mut self, ended: bool) {
        if ended && self.ended_at.is_none() {
            self.ended_at = Some(Instant::now());
        }
        let grace_over = self.ended_at.is_some_and(|at| at.elapsed() >= LIVE_GRACE);
        match self.source {
            Source::Live(_) if grace_over => self.source = Source::Store,
            Source::Done if !ended => self.source = Source::Store,
            _ => {}
        }
    }

    /// More of the recording, once there is some or `POLL` has passed (then empty). Cancelling
    /// it loses nothing.
    pub async fn more(&mut self, store: &dyn RecordingStore) -> io::Result<Vec<u8>> {
        if matches!(self.source, Source::Live(_)) && self.heard.elapsed() >= LIVE_SILENCE {
            self.heard = Instant::now();
            if stalled(store, &self.name, self.offset).await {
                tracing::warn!(
                    recording = self.name,
                    "a live recording stalled: reading the store instead"
                );
                self.source = Source::Store;
            }
        }
        let chunk = match &mut self.source {
            Source::Live(live) => match tokio::time::timeout(POLL, live.next()).await {
                Err(_) => Vec::new(),
                Ok(Some(Ok(bytes))) => bytes.into(),
                Ok(Some(Err(error))) => {
                    tracing::warn!(%error, "following a recording live: reading the store instead");
                    self.source = Source::Store;
                    Vec::new()
                }
                Ok(None) => {
                    self.source = Source::Done;
                    Vec::new()
                }
            },
            Source::Done => {
                pause().await;
                Vec::new()
            }
            Source::Store => {
                let chunk = store.read(&self.name, self.offset, CHUNK).await?;
                if chunk.is_empty() {
                    pause().await;
                }
                chunk
            }
        };
        if !chunk.is_empty() {
            self.heard = Instant::now();
        }
        self.offset += chunk.len() as u64;
        Ok(chunk)
    }
}

/// Whether the store holds more of recording `name` than the `offset` a live source gave: it
/// stalled (a peer that stopped answering without closing), since a quiet session has nothing
/// more anywhere.
async fn stalled(store: &dyn RecordingStore, name: &str, offset: u64) -> bool {
    store
        .size(name)
        .await
        .ok()
        .flatten()
        .is_some_and(|size| size > offset)
}

#[expect(
    clippy::disallowed_methods,
    reason = "a recording read from the store is looked at again after a pause"
)]
async fn pause() {
    tokio::time::sleep(POLL).await;
}

/// The session's recording as it is written: from this replica's own session, or relayed from
/// the replica that runs it.
async fn live(state: &AppState, session: &Stored) -> Option<BoxStream<'static, io::Result<Bytes>>> {
    let id = session.record.id;
    if let Some(recorded) = state.watchdog.recorded(id) {
        return Some(own(Arc::clone(&state.recordings), recorded, 0).boxed());
    }
    let now = state.clock.now();
    let address = registry::holder(&state.db, id, now)
        .await
        .inspect_err(
            |error| tracing::warn!(%error, session = id, "finding the replica running a session"),
        )
        .ok()??;
    relay::follow(&state.cluster, &address, id, 0, now)
        .await
        .inspect_err(|error| {
            tracing::warn!(%error, session = id, %address, "following a session on another replica");
        })
        .ok()
}

/// What is left to read of a recording this replica writes.
struct Own {
    store: Arc<dyn RecordingStore>,
    name: String,
    offset: u64,
    /// Closed once the session has ended: what follows is the rest, then the end.
    written: Option<watch::Receiver<u64>>,
}

/// Recording `recorded` of this replica's session, from byte `from`, each piece as soon as it
/// is written; it ends once the session has ended and everything it recorded was read.
pub fn own(
    store: Arc<dyn RecordingStore>,
    recorded: Recorded,
    from: u64,
) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    let own = Own {
        store,
        name: recorded.name,
        offset: from,
        written: Some(recorded.written),
    };
    futures_util::stream::unfold(Some(own), |own| async move {
        let mut own = own?;
        loop {
            // Read only past where the watcher is: the size is marked seen first, so a write
            // after it wakes the wait below. Once the session has ended, the rest until empty.
            let written = own
                .written
                .as_mut()
                .map(|written| *written.borrow_and_update());
            if written.is_none_or(|written| written > own.offset) {
                let chunk = match own.store.read(&own.name, own.offset, CHUNK).await {
                    Ok(chunk) => chunk,
                    Err(error) => return Some((Err(error), None)),
                };
                if !chunk.is_empty() {
                    own.offset += chunk.len() as u64;
                    return Some((Ok(Bytes::from(chunk)), Some(own)));
                }
                // Ended, and everything read.
                written?;
            }
            if let Some(written) = &mut own.written
                && written.changed().await.is_err()
            {
                own.written = None;
            }
        }
    })
}
