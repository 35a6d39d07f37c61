//! The shared verifier (`changeaudit_shared::verify`) driven over an export: its lines read from
//! a file or the server's spool, the recordings it names read from the recording store. A
//! long trail keeps the verifier busy, so it lets other tasks run every few thousand lines.

use std::path::Path;

use changeaudit_shared::export::Checkpoint;
use changeaudit_shared::verify::{ExportVerifier, Fault, Summary};
use ed25519_dalek::VerifyingKey;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use crate::recordings::{RecordingStore, digest};

const LINES_BETWEEN_YIELDS: u64 = 4096;

/// What an export is verified against: the trail's first key, and a checkpoint kept apart that
/// it must continue, if any.
pub struct Anchors {
    pub first_key: VerifyingKey,
    pub trusted: Option<Checkpoint>,
}

/// Verifies the export `reader` gives; with `store`, each sealed recording too.
pub async fn verify_export(
    mut reader: impl AsyncBufRead + Unpin,
    anchors: Anchors,
    store: Option<&dyn RecordingStore>,
) -> Result<Summary, Fault> {
    let mut verifier = ExportVerifier::new(anchors.first_key, store.is_some());
    if let Some(trusted) = anchors.trusted {
        verifier = verifier.trusting(trusted);
    }
    let mut text = String::new();
    for number in 1.. {
        text.clear();
        let read = reader.read_line(&mut text).await.map_err(|error| Fault {
            seq: None,
            line: number,
            reason: format!("cannot be read: {error}"),
        })?;
        if read == 0 {
            break;
        }
        let sealed = verifier.line(text.trim_end_matches(['\n', '\r']))?;
        if let (Some(sealed), Some(store)) = (sealed, store) {
            let found = digest(store, &sealed.name).await;
            verifier.recording(&sealed, found.map_err(|error| error.to_string()))?;
        }
        if number % LINES_BETWEEN_YIELDS == 0 {
            tokio::task::yield_now().await;
        }
    }
    verifier.finish()
}

/// Verifies the export at `path`.
pub async fn verify_file(
    path: &Path,
    anchors: Anchors,
    store: Option<&dyn RecordingStore>,
) -> Result<Summary, Fault> {
    let file = tokio::fs::File::open(path).await.map_err(|error| Fault {
        seq: None,
        line: 0,
        reason: format!("{} cannot be opened: {error}", path.display()),
    })?;
    let reader = tokio::io::BufReader::with_capacity(1 << 20, file);
    verify_export(reader, anchors, store).await
}
