//! Per-revision traffic signals, counted on the request path without locks or allocation.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use backstop_core::signals::{BUCKETS, Counts, Histogram, bucket_of};

/// Requests, failures and latencies of one revision, as the proxy saw them.
///
/// A request costs two atomic additions, its latency bucket (the request
/// count is the histogram's total) and the latency sum, and a third one when
/// it failed. Counts
/// only grow; readers take a [`Meter::snapshot`] and subtract an earlier one
/// for a window.
pub struct Meter {
    failures: AtomicU64,
    latency_sum_micros: AtomicU64,
    buckets: [AtomicU64; BUCKETS],
}

impl Default for Meter {
    fn default() -> Self {
        Meter {
            failures: AtomicU64::new(0),
            latency_sum_micros: AtomicU64::new(0),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl Meter {
    /// One request: its latency until the response head (or the proxy's own error answer), and
    /// whether the client saw a failure.
    pub fn record(&self, latency: Duration, failed: bool) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.buckets[bucket_of(micros)].fetch_add(1, Ordering::Relaxed);
        self.latency_sum_micros.fetch_add(micros, Ordering::Relaxed);
        if failed {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The counts so far. Taken without stopping writers, so a request being recorded may show in
    /// its bucket but not yet as a failure; the next snapshot has it.
    pub fn snapshot(&self) -> Counts {
        let buckets: Vec<u64> = self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect();
        let latency = Histogram::from_buckets(&buckets);
        let requests = latency.count();
        let failures = self.failures.load(Ordering::Relaxed).min(requests);
        let latency_sum_micros = self.latency_sum_micros.load(Ordering::Relaxed);
        Counts { requests, failures, latency, latency_sum_micros }
    }
}

impl std::fmt::Debug for Meter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let counts = self.snapshot();
        f.debug_struct("Meter").field("requests", &counts.requests).field("failures", &counts.failures).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_counts_requests_failures_and_latencies() {
        let meter = Meter::default();
        meter.record(Duration::from_millis(2), false);
        meter.record(Duration::from_millis(300), true);
        meter.record(Duration::from_micros(10), false);
        let counts = meter.snapshot();
        assert_eq!((counts.requests, counts.failures), (3, 1));
        assert_eq!(counts.latency.slower_than(Duration::from_millis(100)), 1);
        assert!(counts.latency.quantile(1.0).unwrap() >= Duration::from_millis(300));
    }

    #[test]
    fn concurrent_writers_lose_no_request() {
        let meter = std::sync::Arc::new(Meter::default());
        let writers: Vec<_> = (0..4)
            .map(|i| {
                let meter = meter.clone();
                std::thread::spawn(move || {
                    for n in 0..10_000u64 {
                        meter.record(Duration::from_micros(n * (i + 1)), n % 10 == 0);
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        let counts = meter.snapshot();
        assert_eq!((counts.requests, counts.failures), (40_000, 4_000));
    }
}
