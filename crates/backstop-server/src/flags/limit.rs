//! The OFREP rate limit: a token bucket per presented token, refilled at
//! `rate` requests per second and holding at most `rate` (one second of burst).
//! Only tokens the server accepted reach it, so it holds at most a few buckets.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

#[derive(Debug)]
pub struct RateLimiter {
    /// Requests per second per token; 0 turns the limit off.
    rate: u32,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub fn new(rate: u32) -> RateLimiter {
        RateLimiter { rate, buckets: Mutex::new(HashMap::new()) }
    }

    /// Take one request for `key` at `now`: `Ok` when allowed, else how long
    /// until the next request would be.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), Duration> {
        if self.rate == 0 {
            return Ok(());
        }
        let rate = f64::from(self.rate);
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = match buckets.get_mut(key) {
            Some(b) => b,
            None => buckets.entry(key.to_owned()).or_insert(Bucket { tokens: rate, at: now }),
        };
        let refill = now.saturating_duration_since(bucket.at).as_secs_f64() * rate;
        bucket.tokens = (bucket.tokens + refill).min(rate);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill_per_key() {
        let l = RateLimiter::new(3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(l.check("a", t0), Ok(()));
        }
        let wait = l.check("a", t0).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(334), "{wait:?}");
        assert_eq!(l.check("b", t0), Ok(()), "another token has its own bucket");
        let later = t0 + Duration::from_millis(340);
        assert_eq!(l.check("a", later), Ok(()), "one request back after a third of a second");
        assert!(l.check("a", later).is_err());
        let much_later = later + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(l.check("a", much_later), Ok(()));
        }
        assert!(l.check("a", much_later).is_err(), "the burst is capped at one second");
    }

    #[test]
    fn zero_is_off() {
        let l = RateLimiter::new(0);
        let t0 = Instant::now();
        assert!((0..10_000).all(|_| l.check("a", t0).is_ok()));
    }
}
