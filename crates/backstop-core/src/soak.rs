//! The soak verdict: from one health observation of a soaking revision, whether it goes on soaking,
//! is reverted, or has proven itself.

use chrono::{DateTime, Utc};

/// What one look at the soaking instance found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observation {
    /// The instance is gone (`exited with status 1`, `killed by SIGKILL`).
    Died(String),
    /// Its health path answered this HTTP status.
    Answered(u16),
    /// Its health path could not be reached.
    Unreachable(String),
}

/// Consecutive failures so far and the last one's description.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SoakState {
    pub failures: u32,
    pub last_error: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SoakVerdict {
    Continue,
    /// Too many failures in a row (or the instance died): revert, for this reason.
    Revert {
        reason: String,
    },
    /// The soak is over without reaching the failure limit: known-good.
    Proven,
}

/// Fold one observation into `state` and decide. A death counts as reaching the limit at once; a
/// 2xx answer resets the count. Failure is checked before the end of the soak.
pub fn observe(
    state: &mut SoakState,
    observation: Observation,
    max_failures: u32,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> SoakVerdict {
    match observation {
        Observation::Died(status) => {
            state.last_error = format!("instance died during soak ({status})");
            state.failures = max_failures;
        }
        Observation::Answered(code) if (200..300).contains(&code) => state.failures = 0,
        Observation::Answered(code) => {
            state.failures = state.failures.saturating_add(1);
            state.last_error = format!("health check answered {code} during soak");
        }
        Observation::Unreachable(e) => {
            state.failures = state.failures.saturating_add(1);
            state.last_error = format!("health check failed during soak: {e}");
        }
    }
    if state.failures >= max_failures {
        SoakVerdict::Revert { reason: state.last_error.clone() }
    } else if now >= until {
        SoakVerdict::Proven
    } else {
        SoakVerdict::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let t0 = DateTime::from_timestamp(1_000_000, 0).unwrap();
        let end = t0 + chrono::Duration::seconds(30);
        let revert = |r: &str| SoakVerdict::Revert { reason: r.into() };
        // (name, failures before, observation, limit, now, verdict, failures after)
        let cases = [
            ("healthy inside the soak", 0, Observation::Answered(200), 3, t0, SoakVerdict::Continue, 0),
            ("healthy resets the count", 2, Observation::Answered(204), 3, t0, SoakVerdict::Continue, 0),
            ("healthy at the end is proven", 0, Observation::Answered(200), 3, end, SoakVerdict::Proven, 0),
            ("one 500 is tolerated", 0, Observation::Answered(500), 3, t0, SoakVerdict::Continue, 1),
            (
                "the limit of 500s reverts",
                2,
                Observation::Answered(503),
                3,
                t0,
                revert("health check answered 503 during soak"),
                3,
            ),
            (
                "failure wins over the end of the soak",
                0,
                Observation::Unreachable("connection refused".into()),
                1,
                end,
                revert("health check failed during soak: connection refused"),
                1,
            ),
            (
                "death reverts at once",
                0,
                Observation::Died("exited with status 1".into()),
                5,
                t0,
                revert("instance died during soak (exited with status 1)"),
                5,
            ),
            ("a redirect is a failure", 0, Observation::Answered(302), 3, end, SoakVerdict::Proven, 1),
        ];
        for (name, before, obs, limit, now, want, after) in cases {
            let mut state = SoakState { failures: before, last_error: String::new() };
            assert_eq!(observe(&mut state, obs, limit, now, end), want, "{name}");
            assert_eq!(state.failures, after, "{name}");
        }
    }
}
