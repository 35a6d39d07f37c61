//! A process's resident memory, read from `/proc`: what the memory tests and benchmarks
//! measure the real binary by.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The resident memory of process `pid` now, in bytes (0 once it is gone).
pub fn resident(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// The highest resident memory of a process, sampled every 10 ms while this lives.
pub struct PeakMemory {
    peak: Arc<AtomicU64>,
}

impl PeakMemory {
    pub fn watch(pid: u32) -> PeakMemory {
        let peak = Arc::new(AtomicU64::new(resident(pid)));
        let seen = Arc::downgrade(&peak);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis(10));
            while let Some(peak) = seen.upgrade() {
                peak.fetch_max(resident(pid), Ordering::Relaxed);
                drop(peak);
                every.tick().await;
            }
        });
        PeakMemory { peak }
    }

    /// The highest seen so far, in bytes.
    pub fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }
}
