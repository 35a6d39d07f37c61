//! Time, injected: production reads the system clock, tests set a clock by hand, so that
//! timeouts and change windows are tested without sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use time::OffsetDateTime;

/// Milliseconds since the Unix epoch, as stored in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_millis(millis: i64) -> Self {
        Timestamp(millis)
    }

    pub const fn as_millis(self) -> i64 {
        self.0
    }

    pub fn plus(self, duration: Duration) -> Self {
        Timestamp(self.0.saturating_add(millis_of(duration)))
    }

    pub fn minus(self, duration: Duration) -> Self {
        Timestamp(self.0.saturating_sub(millis_of(duration)))
    }

    /// How long from `self` until `later`; zero when `later` is not after `self`.
    pub fn until(self, later: Timestamp) -> Duration {
        let millis = later.0.saturating_sub(self.0).max(0);
        Duration::from_millis(u64::try_from(millis).unwrap_or(0))
    }
}

impl Timestamp {
    /// The same moment for the API. Every stored time came through `from_datetime`, so it is
    /// in range; the epoch stands in for one that somehow is not.
    pub fn to_datetime(self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    pub fn from_datetime(at: OffsetDateTime) -> Self {
        let millis = at.unix_timestamp_nanos().div_euclid(1_000_000);
        Timestamp(i64::try_from(millis).unwrap_or(i64::MAX))
    }
}

fn millis_of(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(
        clippy::disallowed_methods,
        reason = "the one place that reads the system clock"
    )]
    fn now(&self) -> Timestamp {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(millis_of(since_epoch))
    }
}

/// A clock that only moves when told to. Clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn at(start: Timestamp) -> Self {
        ManualClock(Arc::new(AtomicI64::new(start.0)))
    }

    pub fn set(&self, now: Timestamp) {
        self.0.store(now.0, Ordering::SeqCst);
    }

    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(millis_of(by), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told_and_clones_share_it() {
        let clock = ManualClock::at(Timestamp::from_millis(1_000));
        let other = clock.clone();
        assert_eq!(clock.now(), Timestamp::from_millis(1_000));
        other.advance(Duration::from_secs(2));
        assert_eq!(clock.now(), Timestamp::from_millis(3_000));
        clock.set(Timestamp::from_millis(10));
        assert_eq!(other.now().as_millis(), 10);
    }

    #[test]
    fn converts_to_and_from_datetimes() {
        let at = Timestamp::from_millis(1_767_225_600_123);
        let datetime = at.to_datetime();
        assert_eq!(datetime.year(), 2026);
        assert_eq!(datetime.millisecond(), 123);
        assert_eq!(Timestamp::from_datetime(datetime), at);
    }

    #[test]
    fn until_is_never_negative() {
        let early = Timestamp::from_millis(1_000);
        let late = early.plus(Duration::from_millis(1_500));
        assert_eq!(early.until(late), Duration::from_millis(1_500));
        assert_eq!(late.until(early), Duration::ZERO);
        assert_eq!(late.minus(Duration::from_millis(1_500)), early);
    }
}
