//! The two traits every recording store implements, and the names recordings may have.

use std::future::Future;
use std::io;
use std::pin::Pin;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub trait RecordingStore: Send + Sync {
    /// Creates the recording `name`; one that exists already is an error, never overwritten.
    fn create<'a>(&'a self, name: &'a str) -> BoxFuture<'a, io::Result<Box<dyn RecordingSink>>>;

    /// Removes a recording of a session that never started (nothing of the device is in it).
    fn remove<'a>(&'a self, name: &'a str) -> BoxFuture<'a, io::Result<()>>;

    /// The bytes free for recordings, when the store can tell.
    fn free_bytes(&self) -> BoxFuture<'_, io::Result<Option<u64>>>;

    /// Up to `limit` bytes of recording `name` from `offset` on; fewer at its end.
    fn read<'a>(
        &'a self,
        name: &'a str,
        offset: u64,
        limit: usize,
    ) -> BoxFuture<'a, io::Result<Vec<u8>>>;

    /// The names of the recordings the store holds (with a spool, those still in it too).
    fn names(&self) -> BoxFuture<'_, io::Result<Vec<String>>>;

    /// The size of recording `name`, or `None` when the store does not hold it.
    fn size<'a>(&'a self, name: &'a str) -> BoxFuture<'a, io::Result<Option<u64>>>;

    /// Whether recording `name` is stored whole and for good: written once, complete, never to
    /// grow. Only then is the recording of an interrupted session sealed as recovered. A store
    /// that writes in place (a folder) never says so: a replica that only seemed dead (its
    /// database away) may still be appending, and a seal of part of it would then not verify.
    fn stored_whole<'a>(&'a self, name: &'a str) -> BoxFuture<'a, io::Result<bool>> {
        let _ = name;
        Box::pin(std::future::ready(Ok(false)))
    }

    /// Puts where they belong the recordings this replica wrote but did not finish storing (a
    /// store that writes through a spool: after a failed upload, or a crash); answers how many.
    fn store_left_behind(&self) -> BoxFuture<'_, io::Result<usize>> {
        Box::pin(std::future::ready(Ok(0)))
    }
}

/// A recording being written.
pub trait RecordingSink: Send {
    /// Hands `bytes` to the store: once this returns, a crash of the server does not lose them.
    fn write<'a>(&'a mut self, bytes: &'a [u8]) -> BoxFuture<'a, io::Result<()>>;

    /// Makes everything written so far durable. The answer does not hold the sink: writes may
    /// go on while it is awaited, and whether it covers them is left open.
    fn sync(&mut self) -> BoxFuture<'static, io::Result<()>>;

    /// What the recording holds from byte `from` on, as it stands (after a failed write).
    fn tail(&mut self, from: u64) -> BoxFuture<'_, io::Result<Vec<u8>>>;

    /// Cuts the recording to its first `len` bytes, durably.
    fn truncate(&mut self, len: u64) -> BoxFuture<'_, io::Result<()>>;

    /// The recording is whole: puts it where it is kept for good, when that is elsewhere than
    /// where it was written. A failure leaves it where it was written, whole, for
    /// `RecordingStore::store_left_behind`.
    fn seal(&mut self) -> BoxFuture<'_, io::Result<()>> {
        Box::pin(std::future::ready(Ok(())))
    }
}

/// A recording's name in the store: letters, digits, `-`, `_` and one `.cast`, nothing that
/// could climb out of a folder or a bucket prefix.
pub fn is_valid_name(name: &str) -> bool {
    name.strip_suffix(".cast").is_some_and(|stem| {
        !stem.is_empty()
            && stem
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_inside_the_store() {
        assert!(is_valid_name("20260102-0a1b2c.cast"));
        for bad in ["../x.cast", "x.cast.cast", ".cast", "a/b.cast", "x.txt", ""] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }
}
