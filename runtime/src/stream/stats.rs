//! Per-queue statistics: counters and a latency histogram, all atomics (updated by the
//! pipeline without locks or allocation, read at any time by [`super::Queue::stats`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Number of latency buckets: bucket `i` counts latencies in `[2^i, 2^(i+1))` microseconds
/// (bucket 0 also holds everything below 1 µs; the last one everything above).
pub const LATENCY_BUCKETS: usize = 32;

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) completed: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) cancelled: AtomicU64,
    pub(crate) bytes_read: AtomicU64,
    pub(crate) bytes_written: AtomicU64,
    pub(crate) latency: [AtomicU64; LATENCY_BUCKETS],
}

impl Counters {
    pub(crate) fn record_latency(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1);
        let bucket = (63 - us.leading_zeros() as usize).min(LATENCY_BUCKETS - 1);
        self.latency[bucket].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> QueueStats {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        QueueStats {
            completed: load(&self.completed),
            failed: load(&self.failed),
            cancelled: load(&self.cancelled),
            bytes_read: load(&self.bytes_read),
            bytes_written: load(&self.bytes_written),
            latency: LatencyHistogram { buckets: std::array::from_fn(|i| load(&self.latency[i])) },
        }
    }
}

/// A snapshot of a queue's statistics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueStats {
    /// Requests completed successfully.
    pub completed: u64,
    /// Requests that failed (not counting cancellations).
    pub failed: u64,
    /// Requests cancelled.
    pub cancelled: u64,
    /// Bytes read from sources (files and memory), including alignment padding of O_DIRECT
    /// reads and re-reads of a GDeflate header.
    pub bytes_read: u64,
    /// Bytes written into destinations by successful requests.
    pub bytes_written: u64,
    /// Latency from `submit` to completion, of every finished request.
    pub latency: LatencyHistogram,
}

/// Request latencies in power-of-two microsecond buckets (see [`LATENCY_BUCKETS`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatencyHistogram {
    /// `buckets[i]`: latencies in `[2^i, 2^(i+1))` µs.
    pub buckets: [u64; LATENCY_BUCKETS],
}

impl LatencyHistogram {
    /// Number of latencies recorded.
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// Upper bound (exclusive, µs) of the bucket holding quantile `q` (0..=1), `None` when
    /// empty.
    pub fn quantile_upper_us(&self, q: f64) -> Option<u64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let target = ((q.clamp(0.0, 1.0) * n as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &c) in self.buckets.iter().enumerate() {
            seen += c;
            if seen >= target {
                return Some(1u64 << (i + 1).min(63));
            }
        }
        None
    }
}
