//! Per-revision traffic signals, counted on the request path without locks or allocation.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use backstop_core::signals::{BUCKETS, Counts, Histogram, bucket_of};

/// Shards per meter. Each proxy worker thread writes to its own (workers beyond this share them),
/// so two cores serving the same revision do not bounce one cache line per request between them.
const SHARDS: usize = 8;

thread_local! {
    /// The shard this thread records into; proxy workers each set their own index.
    static SHARD: Cell<usize> = const { Cell::new(0) };
}

/// Makes the calling thread record into shard `index` (modulo the shard count) of every meter.
/// The proxy's worker `index` calls it once when it starts; other threads share shard 0, which is
/// as correct, only slower when they contend.
pub(crate) fn use_shard(index: usize) {
    SHARD.with(|shard| shard.set(index % SHARDS));
}

/// One shard's counts. Aligned to two cache lines so that neighbouring shards, and what the
/// hardware prefetcher pairs with them, never share a line.
#[repr(align(128))]
struct Shard {
    failures: AtomicU64,
    latency_sum_micros: AtomicU64,
    buckets: [AtomicU64; BUCKETS],
}

impl Default for Shard {
    fn default() -> Self {
        Shard {
            failures: AtomicU64::new(0),
            latency_sum_micros: AtomicU64::new(0),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

/// Requests, failures and latencies of one revision, as the proxy saw them.
///
/// A request costs two atomic additions in its worker's shard, its latency bucket (the request
/// count is the histogram's total) and the latency sum, and a third one when it failed. Counts
/// only grow; readers take a [`Meter::snapshot`], which adds the shards up, and subtract an
/// earlier one for a window.
pub struct Meter {
    shards: Box<[Shard]>,
}

impl Default for Meter {
    fn default() -> Self {
        Meter { shards: (0..SHARDS).map(|_| Shard::default()).collect() }
    }
}

impl Meter {
    /// One request: its latency until the response head (or the proxy's own error answer), and
    /// whether the client saw a failure.
    pub fn record(&self, latency: Duration, failed: bool) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        let index = SHARD.with(Cell::get);
        // `use_shard` keeps the index in range; the fallback only guards against a panic.
        let Some(shard) = self.shards.get(index).or_else(|| self.shards.first()) else { return };
        shard.buckets[bucket_of(micros)].fetch_add(1, Ordering::Relaxed);
        shard.latency_sum_micros.fetch_add(micros, Ordering::Relaxed);
        if failed {
            shard.failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The counts so far. Taken without stopping writers, so a request being recorded may show in
    /// its bucket but not yet as a failure; the next snapshot has it.
    pub fn snapshot(&self) -> Counts {
        let mut buckets = [0u64; BUCKETS];
        let (mut failures, mut latency_sum_micros) = (0u64, 0u64);
        for shard in self.shards.iter() {
            for (total, bucket) in buckets.iter_mut().zip(&shard.buckets) {
                *total = total.wrapping_add(bucket.load(Ordering::Relaxed));
            }
            failures = failures.wrapping_add(shard.failures.load(Ordering::Relaxed));
            latency_sum_micros = latency_sum_micros.wrapping_add(shard.latency_sum_micros.load(Ordering::Relaxed));
        }
        let latency = Histogram::from_buckets(&buckets);
        let requests = latency.count();
        Counts { requests, failures: failures.min(requests), latency, latency_sum_micros }
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
        assert_eq!(counts.latency_sum_micros, 302_010);
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

    /// Writers on different shards, some sharing one (more workers than shards), add up to the
    /// same totals as one writer would.
    #[test]
    fn shards_add_up_whatever_the_worker_index() {
        let meter = std::sync::Arc::new(Meter::default());
        let writers: Vec<_> = [0, 1, 2, SHARDS, SHARDS + 1, 3 * SHARDS + 5]
            .into_iter()
            .map(|index| {
                let meter = meter.clone();
                std::thread::spawn(move || {
                    use_shard(index);
                    for n in 0..1_000u64 {
                        meter.record(Duration::from_micros(100 + n), n % 4 == 0);
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        let counts = meter.snapshot();
        assert_eq!((counts.requests, counts.failures), (6_000, 1_500));
        assert_eq!(counts.latency_sum_micros, 6 * (100 * 1_000 + 999 * 1_000 / 2));
        assert_eq!(counts.latency.slower_than(Duration::from_micros(80)), 6_000);
    }
}
