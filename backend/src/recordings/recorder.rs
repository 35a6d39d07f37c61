//! A session's recording as it is made: asciicast v2 lines appended as events flow, the
//! SHA-256 of every byte kept as they go, and everything synced to the store at least once a
//! second.

use std::io;
use std::time::Duration;

use changeaudit_shared::asciicast::{Event, EventData, Header};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::{BoxFuture, RecordingSink};

/// Written events are made durable at least this often.
pub const SYNC_EVERY: Duration = Duration::from_secs(1);

pub struct Recorder {
    sink: Box<dyn RecordingSink>,
    digest: Sha256,
    bytes: u64,
    /// The size and digest at the last sync that held: what a failure is cut back from.
    synced_bytes: u64,
    synced_digest: Sha256,
    started: Instant,
    /// The bytes the last sync begun covers.
    syncing_to: u64,
    /// Why a write or sync failed, if one did: the recording is cut back when sealed.
    failed: Option<String>,
}

/// A sync that completed: whether it held, and the size and digest it covered.
pub struct Synced {
    result: io::Result<()>,
    bytes: u64,
    digest: Sha256,
}

/// A finished recording: its size and the hex SHA-256 of its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub bytes: u64,
    pub sha256: String,
    /// Why it was cut back to its last whole event, when a write failed.
    pub cut: Option<String>,
}

impl Recorder {
    /// Starts the recording with its header, synced: a session is never started on a store
    /// that cannot keep even that.
    pub async fn start(sink: Box<dyn RecordingSink>, header: &Header) -> io::Result<Recorder> {
        let mut recorder = Recorder {
            sink,
            digest: Sha256::new(),
            bytes: 0,
            synced_bytes: 0,
            synced_digest: Sha256::new(),
            started: Instant::now(),
            syncing_to: 0,
            failed: None,
        };
        recorder.append(&header.to_line()).await?;
        recorder.sync().await?;
        recorder.started = Instant::now();
        Ok(recorder)
    }

    /// The bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Seconds since the recording started: the time of an event happening now.
    pub fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    pub async fn record(&mut self, event: &Event) -> io::Result<()> {
        let text = match &event.data {
            EventData::Output(text) | EventData::Input(text) | EventData::Marker(text) => {
                text.len()
            }
            EventData::Resize { .. } => 0,
        };
        // Room for the text, a little escaping and the rest of the line.
        let mut line = Vec::with_capacity(text + text / 8 + 48);
        event.write_line(&mut line);
        self.write(line).await
    }

    async fn append(&mut self, line: &str) -> io::Result<()> {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        self.write(bytes).await
    }

    async fn write(&mut self, bytes: Vec<u8>) -> io::Result<()> {
        if let Err(error) = self.sink.write(&bytes).await {
            self.failed = Some(error.to_string());
            return Err(error);
        }
        self.digest.update(&bytes);
        self.bytes += bytes.len() as u64;
        Ok(())
    }

    /// Makes everything written so far durable, and waits for it.
    pub async fn sync(&mut self) -> io::Result<()> {
        if self.synced_bytes == self.bytes {
            return Ok(());
        }
        let syncing = self.syncing();
        self.synced(syncing.await)
    }

    /// Begins making what was written so far durable, unless a sync already begun covers it.
    /// Writes may go on meanwhile; the answer is handed back to `synced` once it completes.
    pub fn begin_sync(&mut self) -> Option<BoxFuture<'static, Synced>> {
        (self.syncing_to < self.bytes).then(|| self.syncing())
    }

    fn syncing(&mut self) -> BoxFuture<'static, Synced> {
        self.syncing_to = self.bytes;
        let (bytes, digest) = (self.bytes, self.digest.clone());
        let durable = self.sink.sync();
        Box::pin(async move {
            Synced {
                result: durable.await,
                bytes,
                digest,
            }
        })
    }

    /// Takes a completed sync: what it covered is what a later failure is cut back to.
    pub fn synced(&mut self, synced: Synced) -> io::Result<()> {
        match synced.result {
            Ok(()) => {
                if synced.bytes > self.synced_bytes {
                    self.synced_bytes = synced.bytes;
                    self.synced_digest = synced.digest;
                }
                Ok(())
            }
            Err(error) => {
                self.failed = Some(error.to_string());
                Err(error)
            }
        }
    }

    /// Syncs what is left and answers the recording's size and digest. After a failed write,
    /// the recording is first cut back to its last whole event, so its seal is its content.
    pub async fn finish(mut self) -> io::Result<Sealed> {
        // A write's failure may show only now (the file's buffer), as this sync's: cut back then
        // too, so a recording is never left unsealed.
        if self.failed.is_none() {
            // A failure here is kept in `failed`, which the cut below answers.
            self.sync().await.ok();
        }
        if self.failed.is_some() {
            self.cut_back().await?;
        }
        // Whole and durable where it was written, whatever happens to the copy kept for good.
        if let Err(error) = self.sink.seal().await {
            tracing::warn!(%error, "storing a sealed recording: it stays in the spool, to be stored later");
        }
        Ok(Sealed {
            bytes: self.bytes,
            sha256: hex::encode(self.digest.finalize()),
            cut: self.failed,
        })
    }

    /// Keeps what the recording holds after its last good sync up to its last whole line,
    /// hashed again from the file, and cuts off the rest.
    async fn cut_back(&mut self) -> io::Result<()> {
        let tail = self.sink.tail(self.synced_bytes).await?;
        let whole = tail
            .iter()
            .rposition(|byte| *byte == b'\n')
            .map_or(0, |end| end + 1);
        let mut digest = self.synced_digest.clone();
        digest.update(&tail[..whole]);
        let kept = self.synced_bytes + whole as u64;
        self.sink.truncate(kept).await?;
        self.synced_digest = digest.clone();
        self.digest = digest;
        self.bytes = kept;
        self.synced_bytes = kept;
        self.syncing_to = kept;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use changeaudit_shared::asciicast::{Cast, EventData};

    use super::*;
    use crate::recordings::{LocalFolder, RecordingStore};

    #[tokio::test]
    async fn a_recording_reads_back_and_its_digest_is_of_its_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalFolder::new(dir.path().join("recordings"));
        let sink = store.create("one.cast").await.unwrap();
        let mut recorder = Recorder::start(sink, &Header::new(80, 24)).await.unwrap();
        for (time, data) in [
            (0.1, EventData::Output("$ ".into())),
            (0.2, EventData::Input("ls\r".into())),
            (
                0.3,
                EventData::Resize {
                    cols: 100,
                    rows: 30,
                },
            ),
        ] {
            recorder.record(&Event { time, data }).await.unwrap();
        }
        let sealed = recorder.finish().await.unwrap();
        let bytes = store.read("one.cast", 0, usize::MAX).await.unwrap();
        assert_eq!(sealed.bytes, bytes.len() as u64);
        assert_eq!(sealed.sha256, hex::encode(Sha256::digest(&bytes)));
        let cast = Cast::parse(std::str::from_utf8(&bytes).unwrap()).unwrap();
        assert_eq!(cast.header.width, 80);
        assert_eq!(cast.events.len(), 3);
        assert_eq!(
            store.read("one.cast", 5, 3).await.unwrap(),
            bytes[5..8].to_vec()
        );
        // Never overwritten.
        assert!(store.create("one.cast").await.is_err());
    }

    #[tokio::test]
    async fn a_folder_that_cannot_be_made_refuses_at_creation() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "not a folder").unwrap();
        let store = LocalFolder::new(blocker.join("recordings"));
        assert!(store.create("x.cast").await.is_err());
    }
}
