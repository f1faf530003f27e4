//! What the proxy saw of one revision's traffic: requests, failures and a latency histogram.
//!
//! The histogram has fixed log-linear buckets: four per power of two of
//! microseconds, from 64 µs to about two minutes, so a bucket is at most 25 % wide
//! and finding one is a few bit operations (the proxy does it per request).
//! Counts only grow; a window is the difference of two snapshots
//! ([`Counts::since`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Number of latency buckets.
pub const BUCKETS: usize = 84;

/// log2 of the lower bound of bucket 1 in microseconds: everything under 80 µs is bucket 0.
const FIRST_OCTAVE: u32 = 6;

/// The bucket a latency of `micros` falls in.
pub fn bucket_of(micros: u64) -> usize {
    let v = micros.max(1 << FIRST_OCTAVE);
    let octave = 63 - v.leading_zeros();
    let sub = (v >> (octave - 2)) & 3;
    let index = (octave - FIRST_OCTAVE) as usize * 4 + sub as usize;
    index.min(BUCKETS - 1)
}

/// The exclusive upper bound of bucket `i` in microseconds; `None` for the last, which has none.
pub fn upper_bound_micros(i: usize) -> Option<u64> {
    if i + 1 >= BUCKETS {
        return None;
    }
    let octave = (i / 4) as u32 + FIRST_OCTAVE;
    let sub = (i % 4) as u64;
    let quarter = 1u64 << (octave - 2);
    Some((4 + sub + 1) * quarter)
}

/// A latency histogram with [`BUCKETS`] buckets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Histogram {
    buckets: Vec<u64>,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram { buckets: vec![0; BUCKETS] }
    }
}

impl Histogram {
    /// From per-bucket counts (missing buckets count zero, extra ones go to the last).
    pub fn from_buckets(counts: &[u64]) -> Histogram {
        let mut h = Histogram::default();
        for (i, &c) in counts.iter().enumerate() {
            h.buckets[i.min(BUCKETS - 1)] += c;
        }
        h
    }

    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.buckets[bucket_of(micros)] += 1;
    }

    pub fn buckets(&self) -> &[u64] {
        &self.buckets
    }

    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// The upper bound of the bucket holding quantile `q` (0 < q ≤ 1), so never an underestimate;
    /// `None` without samples. Latencies past the last bound read as that bound.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &c) in self.buckets.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let bound = upper_bound_micros(i).unwrap_or_else(|| upper_bound_micros(BUCKETS - 2).unwrap_or(0));
                return Some(Duration::from_micros(bound));
            }
        }
        None
    }

    /// Samples certainly slower than `limit`: those in buckets wholly at or above it.
    pub fn slower_than(&self, limit: Duration) -> u64 {
        let limit = u64::try_from(limit.as_micros()).unwrap_or(u64::MAX);
        let mut slower = 0;
        for (i, &c) in self.buckets.iter().enumerate() {
            let lower = if i == 0 { 0 } else { upper_bound_micros(i - 1).unwrap_or(u64::MAX) };
            if lower >= limit {
                slower += c;
            }
        }
        slower
    }

    /// This histogram minus an earlier snapshot of the same one.
    pub fn since(&self, earlier: &Histogram) -> Histogram {
        let buckets = self.buckets.iter().zip(&earlier.buckets).map(|(now, then)| now.saturating_sub(*then)).collect();
        Histogram { buckets }
    }
}

/// Requests to one revision, failures among them (what the client saw as a failure: a 5xx answer,
/// or no answer because the instance refused, reset or timed out) and their latency until the
/// response head.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub requests: u64,
    pub failures: u64,
    pub latency: Histogram,
    /// The sum of all latencies, in microseconds.
    #[serde(default)]
    pub latency_sum_micros: u64,
}

impl Counts {
    /// What happened between `earlier` and this snapshot.
    pub fn since(&self, earlier: &Counts) -> Counts {
        Counts {
            requests: self.requests.saturating_sub(earlier.requests),
            failures: self.failures.saturating_sub(earlier.failures),
            latency: self.latency.since(&earlier.latency),
            latency_sum_micros: self.latency_sum_micros.saturating_sub(earlier.latency_sum_micros),
        }
    }

    /// Failures over requests; `None` without requests.
    pub fn error_ratio(&self) -> Option<f64> {
        (self.requests > 0).then(|| self.failures as f64 / self.requests as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_latencies_in_order() {
        let cases: [(u64, usize); 9] =
            [(0, 0), (63, 0), (64, 0), (79, 0), (80, 1), (96, 2), (112, 3), (128, 4), (u64::MAX, BUCKETS - 1)];
        for (micros, bucket) in cases {
            assert_eq!(bucket_of(micros), bucket, "{micros} µs");
        }
        // Each value lies under its bucket's bound and at or over the previous one's.
        for micros in (0..200_000).step_by(7).chain([1_000_000, 10_000_000, 60_000_000]) {
            let i = bucket_of(micros);
            if let Some(upper) = upper_bound_micros(i) {
                assert!(micros < upper, "{micros} µs in bucket {i} bounded by {upper}");
            }
            if i > 0 {
                assert!(micros >= upper_bound_micros(i - 1).unwrap(), "{micros} µs in bucket {i}");
            }
        }
        assert_eq!(upper_bound_micros(BUCKETS - 1), None);
        assert!(upper_bound_micros(BUCKETS - 2).unwrap() > 60_000_000, "the bounded buckets reach past a minute");
    }

    #[test]
    fn quantiles_never_underestimate_and_stay_within_a_bucket() {
        let mut h = Histogram::default();
        for ms in 1..=100u64 {
            h.record(Duration::from_millis(ms));
        }
        let cases = [(0.5, 50u64), (0.99, 99), (1.0, 100), (0.01, 1)];
        for (q, exact_ms) in cases {
            let got = h.quantile(q).unwrap();
            let exact = Duration::from_millis(exact_ms);
            assert!(got >= exact, "q{q}: {got:?} under {exact:?}");
            assert!(got.as_secs_f64() <= exact.as_secs_f64() * 1.25 + 1e-9, "q{q}: {got:?} too far over {exact:?}");
        }
        assert_eq!(Histogram::default().quantile(0.5), None);
    }

    #[test]
    fn slower_than_counts_only_buckets_wholly_past_the_limit() {
        let mut h = Histogram::default();
        for ms in [1, 2, 3, 600, 700, 2000] {
            h.record(Duration::from_millis(ms));
        }
        assert_eq!(h.slower_than(Duration::from_millis(500)), 3);
        assert_eq!(h.slower_than(Duration::from_millis(1)), 5, "the 1 ms sample shares a bucket with the limit");
        assert_eq!(h.slower_than(Duration::from_secs(100)), 0);
    }

    #[test]
    fn a_window_is_the_difference_of_two_snapshots() {
        let mut earlier = Counts { requests: 10, failures: 1, ..Counts::default() };
        earlier.latency.record(Duration::from_millis(5));
        let mut now = earlier.clone();
        now.requests = 15;
        now.failures = 4;
        now.latency.record(Duration::from_millis(50));
        let window = now.since(&earlier);
        assert_eq!((window.requests, window.failures), (5, 3));
        assert_eq!(window.latency.count(), 1);
        assert_eq!(window.error_ratio(), Some(0.6));
        assert_eq!(Counts::default().error_ratio(), None);
        // A counter that went back (a restarted meter) gives zero, not a wrap.
        assert_eq!(earlier.since(&now).requests, 0);
    }
}
