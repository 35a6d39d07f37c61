//! Recordings as files in one local folder, created with mode 0600.

use std::io::{self, SeekFrom};
use std::path::PathBuf;

use tokio::fs::{File, OpenOptions};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::{BoxFuture, RecordingSink, RecordingStore, is_valid_name};

#[derive(Debug, Clone)]
pub struct LocalFolder {
    dir: PathBuf,
}

impl LocalFolder {
    pub fn new(dir: PathBuf) -> Self {
        LocalFolder { dir }
    }

    fn path(&self, name: &str) -> io::Result<PathBuf> {
        if is_valid_name(name) {
            Ok(self.dir.join(name))
        } else {
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("`{name}` is not a recording name"),
            ))
        }
    }
}

impl RecordingStore for LocalFolder {
    fn create<'a>(&'a self, name: &'a str) -> BoxFuture<'a, io::Result<Box<dyn RecordingSink>>> {
        Box::pin(async move {
            let path = self.path(name)?;
            tokio::fs::create_dir_all(&self.dir).await?;
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .await?;
            Ok(Box::new(LocalSink { file }) as Box<dyn RecordingSink>)
        })
    }

    fn free_bytes(&self) -> BoxFuture<'_, io::Result<Option<u64>>> {
        Box::pin(async move {
            let dir = self.dir.clone();
            let stats = tokio::task::spawn_blocking(move || {
                std::fs::create_dir_all(&dir)?;
                rustix::fs::statvfs(&dir).map_err(io::Error::from)
            })
            .await
            .map_err(io::Error::other)??;
            Ok(Some(stats.f_bavail.saturating_mul(stats.f_frsize)))
        })
    }

    fn remove<'a>(&'a self, name: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move { tokio::fs::remove_file(self.path(name)?).await })
    }

    fn read<'a>(
        &'a self,
        name: &'a str,
        offset: u64,
        limit: usize,
    ) -> BoxFuture<'a, io::Result<Vec<u8>>> {
        Box::pin(async move {
            let mut file = File::open(self.path(name)?).await?;
            file.seek(SeekFrom::Start(offset)).await?;
            let mut bytes = Vec::new();
            file.take(limit as u64).read_to_end(&mut bytes).await?;
            Ok(bytes)
        })
    }
}

/// Each event is written to the file at once (no buffer in the process): a crash of the server
/// loses nothing that was passed on; `sync` makes it survive a crash of the machine.
struct LocalSink {
    file: File,
}

impl RecordingSink for LocalSink {
    fn write<'a>(&'a mut self, bytes: &'a [u8]) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(self.file.write_all(bytes))
    }

    fn sync(&mut self) -> BoxFuture<'_, io::Result<()>> {
        Box::pin(async move {
            self.file.flush().await?;
            self.file.sync_data().await
        })
    }

    fn tail(&mut self, from: u64) -> BoxFuture<'_, io::Result<Vec<u8>>> {
        Box::pin(async move {
            // What a failed write left in the process's buffer is dropped, not retried.
            let _ = self.file.flush().await;
            let mut file = self.file.try_clone().await?;
            file.seek(SeekFrom::Start(from)).await?;
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes).await?;
            Ok(bytes)
        })
    }

    fn truncate(&mut self, len: u64) -> BoxFuture<'_, io::Result<()>> {
        Box::pin(async move {
            self.file.set_len(len).await?;
            self.file.sync_all().await
        })
    }
}
