//! Recordings as files in one local folder, created with mode 0600.

use std::io::{self, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::fs::{File, OpenOptions};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

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

impl LocalFolder {
    /// Creates recording `name`, which must not exist yet, and opens it for writing.
    pub(super) async fn create_file(&self, name: &str) -> io::Result<LocalSink> {
        let path = self.path(name)?;
        tokio::fs::create_dir_all(&self.dir).await?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .await?
            .into_std()
            .await;
        Ok(LocalSink {
            file: Arc::new(file),
        })
    }

    /// Whether recording `name` is in the folder.
    pub(super) async fn holds(&self, name: &str) -> io::Result<bool> {
        tokio::fs::try_exists(self.path(name)?).await
    }

    /// The names of the recordings in the folder (none when it does not exist yet).
    pub(super) async fn file_names(&self) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        let mut entries = match tokio::fs::read_dir(&self.dir).await {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(names),
            Err(error) => return Err(error),
        };
        while let Some(entry) = entries.next_entry().await? {
            if let Some(name) = entry
                .file_name()
                .to_str()
                .filter(|name| is_valid_name(name))
            {
                names.push(name.to_owned());
            }
        }
        Ok(names)
    }

    /// Opens recording `name` to read it whole, a piece at a time.
    pub(super) async fn open_file(&self, name: &str) -> io::Result<Arc<std::fs::File>> {
        let file = File::open(self.path(name)?).await?.into_std().await;
        Ok(Arc::new(file))
    }
}

impl RecordingStore for LocalFolder {
    fn create<'a>(&'a self, name: &'a str) -> BoxFuture<'a, io::Result<Box<dyn RecordingSink>>> {
        Box::pin(async move {
            let sink = self.create_file(name).await?;
            Ok(Box::new(sink) as Box<dyn RecordingSink>)
        })
    }

    fn names(&self) -> BoxFuture<'_, io::Result<Vec<String>>> {
        Box::pin(self.file_names())
    }

    fn size<'a>(&'a self, name: &'a str) -> BoxFuture<'a, io::Result<Option<u64>>> {
        Box::pin(async move {
            match tokio::fs::metadata(self.path(name)?).await {
                Ok(meta) => Ok(Some(meta.len())),
                Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(error) => Err(error),
            }
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

/// Each event is written to the file at once, in the session's own task: once `write` returns,
/// the kernel holds it, so a crash of the server loses nothing that was passed on, and `sync`
/// makes it survive a crash of the machine. A write of a few KB to the page cache takes
/// microseconds; handing each to the blocking pool (as `tokio::fs` does) cost more than the
/// write itself, a thread switch per chunk of output. Syncs, which wait on the disk, still go
/// to the blocking pool.
pub(super) struct LocalSink {
    file: Arc<std::fs::File>,
}

impl LocalSink {
    /// The file, for reading what was written while writes go on.
    pub(super) fn file(&self) -> Arc<std::fs::File> {
        Arc::clone(&self.file)
    }

    /// Runs `work` on the file in the blocking pool; the answer does not hold the sink.
    fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&std::fs::File) -> io::Result<T> + Send + 'static,
    ) -> BoxFuture<'static, io::Result<T>> {
        let file = Arc::clone(&self.file);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || work(&file))
                .await
                .map_err(io::Error::other)?
        })
    }
}

impl RecordingSink for LocalSink {
    fn write<'a>(&'a mut self, bytes: &'a [u8]) -> BoxFuture<'a, io::Result<()>> {
        let written = (&*self.file).write_all(bytes);
        Box::pin(std::future::ready(written))
    }

    fn sync(&mut self) -> BoxFuture<'static, io::Result<()>> {
        self.blocking(std::fs::File::sync_data)
    }

    fn tail(&mut self, from: u64) -> BoxFuture<'_, io::Result<Vec<u8>>> {
        // Read at an offset: the file's own position stays where the writes left it.
        self.blocking(move |file| {
            let mut bytes = Vec::new();
            let mut buffer = vec![0; 64 << 10];
            loop {
                let read = file.read_at(&mut buffer, from + bytes.len() as u64)?;
                if read == 0 {
                    return Ok(bytes);
                }
                bytes.extend_from_slice(&buffer[..read]);
            }
        })
    }

    fn truncate(&mut self, len: u64) -> BoxFuture<'_, io::Result<()>> {
        self.blocking(move |file| {
            file.set_len(len)?;
            file.sync_all()
        })
    }
}
