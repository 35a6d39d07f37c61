//! Where session recordings live. A store hands out sinks that a session appends its asciicast
//! lines to and syncs; `LocalFolder` keeps them as files under one folder, `ObjectRecordings`
//! in S3-compatible object storage through a local spool. `open` builds the one the
//! configuration names; everything reads recordings through it.

pub mod copy;
mod local;
mod objects;
pub mod recorder;
mod store;

use std::io;
use std::sync::Arc;

use crate::config::RecordingsAt;

pub use local::LocalFolder;
pub use objects::{ObjectRecordings, SEGMENT_BYTES, SEGMENT_EVERY};
pub use recorder::Recorder;
pub use store::{BoxFuture, RecordingSink, RecordingStore, is_valid_name};

/// The recording store `at` names.
pub fn open(at: &RecordingsAt) -> io::Result<Arc<dyn RecordingStore>> {
    Ok(match at {
        RecordingsAt::Folder(folder) => Arc::new(LocalFolder::new(folder.clone())),
        RecordingsAt::Objects(storage) => Arc::new(ObjectRecordings::open(storage)?),
    })
}

/// How much of a recording is read at a time.
const PIECE: usize = 1 << 20;

/// Hands each piece of recording `name`, a megabyte at most, to `take`, from its start.
async fn each_piece(
    store: &dyn RecordingStore,
    name: &str,
    mut take: impl FnMut(&[u8]),
) -> io::Result<()> {
    let mut offset = 0u64;
    loop {
        let piece = store.read(name, offset, PIECE).await?;
        take(&piece);
        offset += piece.len() as u64;
        if piece.len() < PIECE {
            return Ok(());
        }
    }
}

/// Recording `name` as a stream of pieces (a megabyte at most each), for an answer's body: a
/// recording of any size is served in little memory.
pub fn stream(
    store: Arc<dyn RecordingStore>,
    name: String,
) -> impl futures_util::Stream<Item = io::Result<Vec<u8>>> + Send {
    futures_util::stream::unfold(Some(0u64), move |offset| {
        let store = store.clone();
        let name = name.clone();
        async move {
            let offset = offset?;
            match store.read(&name, offset, PIECE).await {
                Ok(piece) if piece.is_empty() => None,
                Ok(piece) => {
                    let next = (piece.len() == PIECE).then_some(offset + piece.len() as u64);
                    Some((Ok(piece), next))
                }
                Err(error) => Some((Err(error), None)),
            }
        }
    })
}

/// Writes recording `name` to `out` as a JSON string (quoted and escaped), a piece at a time:
/// the recording is never whole in memory. Pieces are cut between characters.
pub async fn write_json_string(
    store: &dyn RecordingStore,
    name: &str,
    out: &mut impl std::io::Write,
) -> io::Result<()> {
    let not_text = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("recording {name} is not text"),
        )
    };
    out.write_all(b"\"")?;
    let mut carried: Vec<u8> = Vec::new();
    let mut offset = 0u64;
    loop {
        let piece = store.read(name, offset, PIECE).await?;
        offset += piece.len() as u64;
        let last = piece.len() < PIECE;
        carried.extend_from_slice(&piece);
        let whole = match std::str::from_utf8(&carried) {
            Ok(text) => text.len(),
            // A character cut at the piece's end waits for the rest of it.
            Err(error) if error.error_len().is_none() && !last => error.valid_up_to(),
            Err(_) => return Err(not_text()),
        };
        let text = std::str::from_utf8(&carried[..whole]).map_err(|_| not_text())?;
        let escaped = serde_json::to_string(text)?;
        out.write_all(&escaped.as_bytes()[1..escaped.len() - 1])?;
        carried.drain(..whole);
        if last {
            break;
        }
    }
    out.write_all(b"\"")
}

/// The SHA-256 of recording `name`, hex.
pub async fn digest(store: &dyn RecordingStore, name: &str) -> io::Result<String> {
    Ok(digest_and_size(store, name).await?.0)
}

/// The SHA-256 of recording `name`, hex, and its size: both from one reading.
pub async fn digest_and_size(store: &dyn RecordingStore, name: &str) -> io::Result<(String, u64)> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    each_piece(store, name, |piece| {
        hasher.update(piece);
        size += piece.len() as u64;
    })
    .await?;
    Ok((changeaudit_shared::trail::hex(&hasher.finalize()), size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_recording_goes_into_json_a_piece_at_a_time_whole() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalFolder::new(dir.path().to_owned());
        // Two-byte characters across the megabyte seams, quotes, controls and a newline.
        // An odd first byte puts a two-byte character across each megabyte seam.
        let text = format!(
            "a{}\"\u{1b}[0m\\\n{}",
            "é".repeat(PIECE),
            "x".repeat(PIECE / 2 + 1)
        );
        let mut sink = store.create("cut-0.cast").await.unwrap();
        sink.write(text.as_bytes()).await.unwrap();
        sink.sync().await.unwrap();
        let mut out = Vec::new();
        write_json_string(&store, "cut-0.cast", &mut out)
            .await
            .unwrap();
        let back: String = serde_json::from_slice(&out).unwrap();
        assert_eq!(back, text);
        let mut pieces = Vec::new();
        let mut streamed = std::pin::pin!(stream(Arc::new(store), "cut-0.cast".to_owned()));
        while let Some(piece) = futures_util::StreamExt::next(&mut streamed).await {
            pieces.extend(piece.unwrap());
        }
        assert_eq!(pieces, text.as_bytes());
    }
}
