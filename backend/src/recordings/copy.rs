//! Every recording of one store copied into another (`changeaudit copy-recordings`), a piece at
//! a time, each checked by its SHA-256 on both sides. A target that holds anything the source
//! does not is refused before anything is copied; one that holds copies from an earlier run
//! that stopped is resumed: what is there whole is kept, a partial copy is copied again.

use std::fmt;
use std::io;

use sha2::{Digest, Sha256};

use super::{PIECE, RecordingStore, digest};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    /// Recordings copied by this run.
    pub copied: usize,
    /// Recordings an earlier run had copied whole.
    pub kept: usize,
    pub bytes: u64,
}

impl fmt::Display for Copied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} recordings copied ({} bytes), {} already there; every one's SHA-256 matches",
            self.copied, self.bytes, self.kept
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(
        "the target holds recording {0}, which the source does not: copy into an empty store, or the one an earlier copy stopped in"
    )]
    Foreign(String),
    #[error("recording {name}: {source}")]
    Io { name: String, source: io::Error },
    #[error("recording {0} differs in the target after copying: its SHA-256 does not match")]
    Differs(String),
    #[error("listing the recordings: {0}")]
    Listing(io::Error),
}

/// Copies every recording of `from` that `to` does not hold whole.
pub async fn copy_all(
    from: &dyn RecordingStore,
    to: &dyn RecordingStore,
) -> Result<Copied, CopyError> {
    let mut names = from.names().await.map_err(CopyError::Listing)?;
    names.sort();
    for name in to.names().await.map_err(CopyError::Listing)? {
        if names.binary_search(&name).is_err() {
            return Err(CopyError::Foreign(name));
        }
    }
    let mut copied = Copied::default();
    for name in &names {
        let failed = |source| CopyError::Io {
            name: name.clone(),
            source,
        };
        let size = from.size(name).await.map_err(failed)?;
        let there = to.size(name).await.map_err(failed)?;
        if there.is_some() && there == size && same(from, to, name).await? {
            copied.kept += 1;
            continue;
        }
        if there.is_some() {
            to.remove(name).await.map_err(failed)?;
        }
        let (bytes, sent) = copy_one(from, to, name).await.map_err(failed)?;
        if digest(to, name).await.map_err(failed)? != sent {
            return Err(CopyError::Differs(name.clone()));
        }
        copied.bytes += bytes;
        copied.copied += 1;
    }
    Ok(copied)
}

/// Copies recording `name` a piece at a time; answers its size and the hex SHA-256 of what was
/// read, for the copy to be checked against without reading the source again.
async fn copy_one(
    from: &dyn RecordingStore,
    to: &dyn RecordingStore,
    name: &str,
) -> io::Result<(u64, String)> {
    let mut sink = to.create(name).await?;
    let mut hasher = Sha256::new();
    let mut offset = 0u64;
    loop {
        let piece = from.read(name, offset, PIECE).await?;
        hasher.update(&piece);
        sink.write(&piece).await?;
        offset += piece.len() as u64;
        if piece.len() < PIECE {
            break;
        }
    }
    sink.sync().await?;
    sink.seal().await?;
    Ok((offset, changeaudit_shared::trail::hex(&hasher.finalize())))
}

async fn same(
    from: &dyn RecordingStore,
    to: &dyn RecordingStore,
    name: &str,
) -> Result<bool, CopyError> {
    let failed = |source| CopyError::Io {
        name: name.to_owned(),
        source,
    };
    let source = digest(from, name).await.map_err(failed)?;
    let target = digest(to, name).await.map_err(failed)?;
    Ok(source == target)
}
