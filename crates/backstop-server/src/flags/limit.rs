//! The OFREP rate limit: `rate` requests per second per presented token, with a burst of one
//! second's worth. `governor`'s keyed GCRA limiter does the accounting (a lock-free cell per key,
//! exact refill without floating point). Only tokens the server accepted reach it, so it holds at
//! most a few keys.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::Quota;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;

type Keyed<C> = governor::RateLimiter<String, DashMapStateStore<String>, C, NoOpMiddleware<<C as Clock>::Instant>>;

pub struct RateLimiter<C: Clock = DefaultClock> {
    /// `None` when the rate is 0: no limit.
    limiter: Option<(Keyed<C>, C)>,
}

impl<C: Clock> std::fmt::Debug for RateLimiter<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter").field("on", &self.limiter.is_some()).finish()
    }
}

impl RateLimiter {
    /// Requests per second per token; 0 turns the limit off.
    pub fn new(rate: u32) -> RateLimiter {
        RateLimiter::with_clock(rate, DefaultClock::default())
    }
}

impl<C: Clock + Clone> RateLimiter<C> {
    pub fn with_clock(rate: u32, clock: C) -> RateLimiter<C> {
        let limiter =
            NonZeroU32::new(rate).map(|r| (Keyed::dashmap_with_clock(Quota::per_second(r), clock.clone()), clock));
        RateLimiter { limiter }
    }

    /// Take one request for `key`: `Ok` when allowed, else how long until the next would be.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let Some((limiter, clock)) = &self.limiter else {
            return Ok(());
        };
        limiter.check_key(&key.to_owned()).map_err(|not_until| not_until.wait_time_from(clock.now()))
    }
}

#[cfg(test)]
mod tests {
    use governor::clock::FakeRelativeClock;

    use super::*;

    #[test]
    fn burst_then_refill_per_key() {
        let clock = FakeRelativeClock::default();
        let l = RateLimiter::with_clock(3, clock.clone());
        for _ in 0..3 {
            assert_eq!(l.check("a"), Ok(()));
        }
        let wait = l.check("a").unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(334), "{wait:?}");
        assert_eq!(l.check("b"), Ok(()), "another token has its own bucket");
        clock.advance(Duration::from_millis(340));
        assert_eq!(l.check("a"), Ok(()), "one request back after a third of a second");
        assert!(l.check("a").is_err());
        clock.advance(Duration::from_secs(60));
        for _ in 0..3 {
            assert_eq!(l.check("a"), Ok(()));
        }
        assert!(l.check("a").is_err(), "the burst is capped at one second");
    }

    #[test]
    fn zero_is_off() {
        let l = RateLimiter::new(0);
        assert!((0..10_000).all(|_| l.check("a").is_ok()));
    }
}
