//! Where session recordings live. A store hands out sinks that a session appends its asciicast
//! lines to and syncs; `LocalFolder` keeps them as files under one folder. Everything else
//! (object storage) fits behind the same two traits.

mod local;
pub mod recorder;
mod store;

use std::io;

pub use local::LocalFolder;
pub use recorder::Recorder;
pub use store::{BoxFuture, RecordingSink, RecordingStore, is_valid_name};

/// Hands each piece of recording `name`, a megabyte at most, to `take`, from its start.
async fn each_piece(
    store: &dyn RecordingStore,
    name: &str,
    mut take: impl FnMut(&[u8]),
) -> io::Result<()> {
    const PIECE: usize = 1 << 20;
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

/// The whole of recording `name`.
pub async fn read_all(store: &dyn RecordingStore, name: &str) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    each_piece(store, name, |piece| bytes.extend_from_slice(piece)).await?;
    Ok(bytes)
}

/// The SHA-256 of recording `name`, hex.
pub async fn digest(store: &dyn RecordingStore, name: &str) -> io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    each_piece(store, name, |piece| hasher.update(piece)).await?;
    Ok(changeaudit_shared::trail::hex(&hasher.finalize()))
}
