//! Recordings in S3-compatible object storage. A recording is written to a local spool file
//! first, the write-ahead log, synced every second as a folder's recording is; it is uploaded
//! in segments while the session runs (every `SEGMENT_EVERY` or `SEGMENT_BYTES`, whichever
//! comes first) and whole once sealed, and the segments are removed once the whole is up.
//! Losing a replica's disk loses at most what was written since its last segment.
//!
//! Reads take the spool while this replica holds it, else the whole object, else the segments
//! uploaded so far (the recording of a session whose replica was lost).
//!
//! In the bucket, under the prefix: `<name>` for a whole recording and
//! `segments/<name>/<first byte, 16 digits>` for its segments.

use std::collections::HashSet;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{FutureExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, PutPayload, WriteMultipart};
use secrecy::ExposeSecret;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::local::LocalSink;
use super::{BoxFuture, LocalFolder, RecordingSink, RecordingStore, is_valid_name};
use crate::config::ObjectStorage;

/// A running session's recording is uploaded at least this often...
pub const SEGMENT_EVERY: Duration = Duration::from_secs(60);
/// ...and whenever this much more was written.
pub const SEGMENT_BYTES: u64 = 8 << 20;
/// A whole recording is uploaded in parts of this size (S3 wants 5 MiB at least).
const PART_BYTES: usize = 8 << 20;

pub struct ObjectRecordings {
    objects: Arc<dyn ObjectStore>,
    spool: LocalFolder,
    /// Recordings being written on this replica: their spools are not left behind.
    writing: Arc<Mutex<HashSet<String>>>,
}

impl ObjectRecordings {
    /// The bucket `storage` names, reached with its settings over the `AWS_*` variables.
    pub fn open(storage: &ObjectStorage) -> io::Result<ObjectRecordings> {
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(&storage.bucket);
        if let Some(path_style) = storage.path_style {
            builder = builder.with_virtual_hosted_style_request(!path_style);
        }
        if let Some(endpoint) = &storage.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        if let Some(region) = &storage.region {
            builder = builder.with_region(region);
        }
        if let Some(key) = &storage.access_key_id {
            builder = builder.with_access_key_id(key);
        }
        if let Some(secret) = &storage.secret_access_key {
            builder = builder.with_secret_access_key(secret.expose_secret());
        }
        let bucket = builder.build().map_err(io::Error::other)?;
        let objects: Arc<dyn ObjectStore> = if storage.prefix.is_empty() {
            Arc::new(bucket)
        } else {
            Arc::new(PrefixStore::new(bucket, storage.prefix.as_str()))
        };
        Ok(ObjectRecordings {
            objects,
            spool: LocalFolder::new(storage.spool_dir.clone()),
            writing: Arc::default(),
        })
    }

    fn writing(&self) -> MutexGuard<'_, HashSet<String>> {
        lock(&self.writing)
    }

    async fn read_stored(&self, name: &str, offset: u64, limit: usize) -> io::Result<Vec<u8>> {
        match self.objects.head(&whole(name)).await {
            Ok(meta) => read_range(&*self.objects, &whole(name), meta.size, offset, limit).await,
            Err(object_store::Error::NotFound { .. }) => {
                read_segments(&*self.objects, name, offset, limit).await
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Stores spool `name`, which no session writes any more.
    async fn store(&self, name: &str) -> io::Result<()> {
        let file = self.spool.open_file(name).await?;
        store_whole(&*self.objects, &self.spool, name, file).await
    }
}

impl RecordingStore for ObjectRecordings {
    fn create<'a>(&'a self, name: &'a str) -> BoxFuture<'a, io::Result<Box<dyn RecordingSink>>> {
        Box::pin(async move {
            // Never overwritten: not every service honours a create-only put, so look first.
            match self.objects.head(&whole(name)).await {
                Ok(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!("recording {name} is stored already"),
                    ));
                }
                Err(object_store::Error::NotFound { .. }) => {}
                Err(error) => return Err(error.into()),
            }
            let local = self.spool.create_file(name).await?;
            self.writing().insert(name.to_owned());
            Ok(Box::new(ObjectSink {
                segments: Segments {
                    objects: Arc::clone(&self.objects),
                    name: name.to_owned(),
                    file: local.file(),
                    written: 0,
                    uploaded: 0,
                    last: Instant::now(),
                    uploading: None,
                },
                local,
                writing: Arc::clone(&self.writing),
                spool: self.spool.clone(),
            }) as Box<dyn RecordingSink>)
        })
    }

    fn remove<'a>(&'a self, name: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            match self.spool.remove(name).await {
                Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
                _ => {}
            }
            match self.objects.delete(&whole(name)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(error) => return Err(error.into()),
            }
            remove_segments(&*self.objects, name).await
        })
    }

    /// The spool's volume: a recording is written there first.
    fn free_bytes(&self) -> BoxFuture<'_, io::Result<Option<u64>>> {
        self.spool.free_bytes()
    }

    fn read<'a>(
        &'a self,
        name: &'a str,
        offset: u64,
        limit: usize,
    ) -> BoxFuture<'a, io::Result<Vec<u8>>> {
        Box::pin(async move {
            if self.spool.holds(name).await? {
                return self.spool.read(name, offset, limit).await;
            }
            self.read_stored(name, offset, limit).await
        })
    }

    fn names(&self) -> BoxFuture<'_, io::Result<Vec<String>>> {
        Box::pin(async move {
            let top = self.objects.list_with_delimiter(None).await?;
            let mut names: Vec<String> = top
                .objects
                .iter()
                .filter_map(|meta| meta.location.filename())
                .filter(|name| is_valid_name(name))
                .map(str::to_owned)
                .collect();
            for name in self.spool.file_names().await? {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
            Ok(names)
        })
    }

    fn size<'a>(&'a self, name: &'a str) -> BoxFuture<'a, io::Result<Option<u64>>> {
        Box::pin(async move {
            if let Some(size) = self.spool.size(name).await? {
                return Ok(Some(size));
            }
            match self.objects.head(&whole(name)).await {
                Ok(meta) => Ok(Some(meta.size)),
                Err(object_store::Error::NotFound { .. }) => {
                    segments_size(&*self.objects, name).await
                }
                Err(error) => Err(error.into()),
            }
        })
    }

    /// The whole object is uploaded once, complete: at its seal, or from a spool its replica
    /// left when it stopped.
    fn stored_whole<'a>(&'a self, name: &'a str) -> BoxFuture<'a, io::Result<bool>> {
        Box::pin(async move {
            if self.spool.holds(name).await? {
                return Ok(false);
            }
            match self.objects.head(&whole(name)).await {
                Ok(_) => Ok(true),
                Err(object_store::Error::NotFound { .. }) => Ok(false),
                Err(error) => Err(error.into()),
            }
        })
    }

    fn store_left_behind(&self) -> BoxFuture<'_, io::Result<usize>> {
        Box::pin(async move {
            let mut stored = 0;
            for name in self.spool.file_names().await? {
                if self.writing().contains(&name) {
                    continue;
                }
                // One that cannot be stored now stays for the next round; the others go on.
                match self.store(&name).await {
                    Ok(()) => {
                        tracing::info!(
                            recording = name,
                            "a recording left in the spool was stored"
                        );
                        stored += 1;
                    }
                    Err(error) => {
                        tracing::warn!(%error, recording = name, "storing a recording left in the spool");
                    }
                }
            }
            Ok(stored)
        })
    }
}

struct ObjectSink {
    local: LocalSink,
    segments: Segments,
    writing: Arc<Mutex<HashSet<String>>>,
    spool: LocalFolder,
}

impl RecordingSink for ObjectSink {
    fn write<'a>(&'a mut self, bytes: &'a [u8]) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            self.local.write(bytes).await?;
            self.segments.written += bytes.len() as u64;
            // Saturating: a recording cut back may have sent a segment past its new end.
            if self.segments.written.saturating_sub(self.segments.uploaded) >= SEGMENT_BYTES {
                self.segments.upload_next();
            }
            Ok(())
        })
    }

    fn sync(&mut self) -> BoxFuture<'static, io::Result<()>> {
        if self.segments.last.elapsed() >= SEGMENT_EVERY {
            self.segments.upload_next();
        }
        self.local.sync()
    }

    fn tail(&mut self, from: u64) -> BoxFuture<'_, io::Result<Vec<u8>>> {
        self.local.tail(from)
    }

    fn truncate(&mut self, len: u64) -> BoxFuture<'_, io::Result<()>> {
        Box::pin(async move {
            self.local.truncate(len).await?;
            self.segments.written = len;
            Ok(())
        })
    }

    fn seal(&mut self) -> BoxFuture<'_, io::Result<()>> {
        Box::pin(async move {
            // A segment on its way is let finish: it is removed with the others.
            if let Some(uploading) = self.segments.uploading.take() {
                uploading.await.ok();
            }
            let (objects, name) = (&*self.segments.objects, &self.segments.name);
            let stored = store_whole(objects, &self.spool, name, self.local.file()).await;
            lock(&self.writing).remove(name);
            stored
        })
    }
}

impl Drop for ObjectSink {
    fn drop(&mut self) {
        // Unsealed (a session that never started): the spool is removed by the store, or left
        // behind to be stored.
        lock(&self.writing).remove(&self.segments.name);
    }
}

/// A running recording's segments: what was written, what is uploaded, and the upload on its
/// way, which never holds up a write.
struct Segments {
    objects: Arc<dyn ObjectStore>,
    name: String,
    file: Arc<std::fs::File>,
    written: u64,
    uploaded: u64,
    last: Instant,
    uploading: Option<JoinHandle<io::Result<u64>>>,
}

impl Segments {
    /// Starts uploading what was written since the last segment, unless one is on its way.
    fn upload_next(&mut self) {
        if let Some(uploading) = self.uploading.take_if(|uploading| uploading.is_finished()) {
            match uploading.now_or_never() {
                Some(Ok(Ok(to))) => self.uploaded = to,
                Some(Ok(Err(error))) => {
                    tracing::warn!(%error, recording = self.name, "uploading a segment; tried again later");
                }
                Some(Err(_)) | None => {}
            }
        }
        if self.uploading.is_some() || self.written <= self.uploaded {
            return;
        }
        let (from, to) = (self.uploaded, self.written);
        let (objects, file) = (Arc::clone(&self.objects), Arc::clone(&self.file));
        let path = segment(&self.name, from);
        self.last = Instant::now();
        self.uploading = Some(tokio::spawn(async move {
            let bytes = read_at(file, from, to - from).await?;
            objects.put(&path, PutPayload::from(bytes)).await?;
            Ok(to)
        }));
    }
}

/// The names being written on this replica.
fn lock(writing: &Mutex<HashSet<String>>) -> MutexGuard<'_, HashSet<String>> {
    // A set of names is whole after any panic: every change to it is one call.
    writing.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Uploads `file`, spool `name`'s, as the whole recording, then removes its segments and the
/// spool: in this order, so the recording is readable somewhere at every moment.
async fn store_whole(
    objects: &dyn ObjectStore,
    spool: &LocalFolder,
    name: &str,
    file: Arc<std::fs::File>,
) -> io::Result<()> {
    upload_whole(objects, name, file).await?;
    remove_segments(objects, name).await?;
    spool.remove(name).await
}

fn whole(name: &str) -> Path {
    Path::from(name)
}

fn segments_of(name: &str) -> Path {
    Path::from(format!("segments/{name}"))
}

fn segment(name: &str, first_byte: u64) -> Path {
    Path::from(format!("segments/{name}/{first_byte:016}"))
}

/// `len` bytes of `file` from `offset`, read in the blocking pool.
async fn read_at(file: Arc<std::fs::File>, offset: u64, len: u64) -> io::Result<Bytes> {
    tokio::task::spawn_blocking(move || {
        let mut bytes = vec![0; usize::try_from(len).map_err(io::Error::other)?];
        file.read_exact_at(&mut bytes, offset)?;
        Ok(Bytes::from(bytes))
    })
    .await
    .map_err(io::Error::other)?
}

/// Uploads `file` as recording `name`, in parts, never whole in memory.
async fn upload_whole(
    objects: &dyn ObjectStore,
    name: &str,
    file: Arc<std::fs::File>,
) -> io::Result<()> {
    let size = file.metadata()?.len();
    let mut upload =
        WriteMultipart::new_with_chunk_size(objects.put_multipart(&whole(name)).await?, PART_BYTES);
    let mut offset = 0;
    while offset < size {
        let len = (size - offset).min(PART_BYTES as u64);
        upload.wait_for_capacity(2).await?;
        upload.put(read_at(Arc::clone(&file), offset, len).await?);
        offset += len;
    }
    upload.finish().await?;
    Ok(())
}

/// Removes recording `name`'s segments.
async fn remove_segments(objects: &dyn ObjectStore, name: &str) -> io::Result<()> {
    let paths: Vec<Path> = objects
        .list(Some(&segments_of(name)))
        .map_ok(|meta| meta.location)
        .try_collect()
        .await?;
    for path in paths {
        match objects.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(())
}

/// Up to `limit` bytes from `offset` of the object at `path`, `size` bytes long.
async fn read_range(
    objects: &dyn ObjectStore,
    path: &Path,
    size: u64,
    offset: u64,
    limit: usize,
) -> io::Result<Vec<u8>> {
    let end = size.min(offset.saturating_add(limit as u64));
    if offset >= end {
        return Ok(Vec::new());
    }
    Ok(objects.get_range(path, offset..end).await?.to_vec())
}

/// Recording `name`'s segments, in order: the first byte of each, its size and where it is.
async fn segments(objects: &dyn ObjectStore, name: &str) -> io::Result<Vec<(u64, u64, Path)>> {
    let mut segments: Vec<(u64, u64, Path)> = objects
        .list(Some(&segments_of(name)))
        .try_filter_map(|meta| async move {
            let first = meta.location.filename().and_then(|name| name.parse().ok());
            Ok(first.map(|first| (first, meta.size, meta.location)))
        })
        .try_collect()
        .await?;
    segments.sort_by_key(|segment| segment.0);
    Ok(segments)
}

/// How much of recording `name` its segments hold from its start without a gap; `None`
/// without a segment.
async fn segments_size(objects: &dyn ObjectStore, name: &str) -> io::Result<Option<u64>> {
    let segments = segments(objects, name).await?;
    if segments.is_empty() {
        return Ok(None);
    }
    let mut end = 0;
    for (first, size, _) in segments {
        if first > end {
            break;
        }
        end = end.max(first + size);
    }
    Ok(Some(end))
}

/// Up to `limit` bytes from `offset` of what recording `name`'s segments hold, in order; they
/// end where the last one uploaded ends. A recording with no segment is not found.
async fn read_segments(
    objects: &dyn ObjectStore,
    name: &str,
    offset: u64,
    limit: usize,
) -> io::Result<Vec<u8>> {
    let segments = segments(objects, name).await?;
    if segments.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("recording {name} is not stored"),
        ));
    }
    let mut bytes = Vec::new();
    for (first, size, path) in segments {
        let at = offset + bytes.len() as u64;
        if bytes.len() >= limit || first > at {
            break;
        }
        if first + size <= at {
            continue;
        }
        let piece = read_range(objects, &path, size, at - first, limit - bytes.len()).await?;
        bytes.extend_from_slice(&piece);
    }
    Ok(bytes)
}
