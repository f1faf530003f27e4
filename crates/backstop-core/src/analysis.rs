//! Canary analysis: whether a new revision's own traffic shows it worse than allowed, judged by a
//! sequential test that may be looked at after every request.
//!
//! # The test
//!
//! Each check is Wald's sequential probability ratio test on Bernoulli events (a request failed, or
//! a request was slow): H0 "the event rate is at most the ceiling p0" against H1 "it is
//! p1 = min(2·p0, (1+p0)/2)". From the cumulative counts (n requests, k events) the log-likelihood
//! ratio is `k·ln(p1/p0) + (n−k)·ln((1−p1)/(1−p0))`, and a check fails once it reaches
//! `ln(1/α_check)`. There is no lower boundary: a check that has not failed simply goes on.
//!
//! # Why it may be looked at every second
//!
//! Under any rate p ≤ p0 the likelihood ratio is a non-negative supermartingale with expectation at
//! most 1, so by Ville's inequality the chance it *ever* reaches 1/α is at most α, however often and
//! whenever it is looked at. A fixed-sample test (a z-test on the error ratio) looked at every second
//! would raise false alarms far above its nominal level; this one does not, which is what lets the
//! watcher judge from the first requests instead of waiting for a fixed sample.
//!
//! # False-alarm bound
//!
//! α = 0.01 for the whole judgement, split equally (Bonferroni) over the checks the *configuration*
//! can run: the absolute error ratio, the absolute p99 when `max_p99` is set, and the two relative
//! checks when `relative` is on. Splitting by configuration rather than by the checks that have data
//! keeps each threshold fixed as the baseline's traffic arrives, so the bound holds over the whole
//! life of the canary.
//!
//! The relative checks compare against limits derived from the baseline (the revision being
//! replaced): an error ceiling of twice a 99 % upper bound on its error ratio, and a latency limit of
//! twice a 99 % upper bound on its p99. These move as the baseline's counts grow. A higher ceiling or
//! limit only lowers the statistic, so the bound still holds as long as the derived limit stays at or
//! above what the candidate truly does under H0; the upper bounds and the factor of two make that
//! very likely, and the seeded simulations in the tests measure the result.
//!
//! # Measured behaviour (seeded simulations in this module's tests)
//!
//! - 2,000 healthy revisions (true error rate uniform in [0, ceiling/2], baseline at the same rate,
//!   ceilings from 0.1 % to 20 %, a long-tailed latency, a 2 s p99 limit and relative checks on),
//!   judged every 10 requests up to 2,000 requests: none ended as a failure (0.00 %).
//! - 2,000 revisions at exactly the error ceiling, the worst case of H0: 0.05 % ended as a failure.
//! - A revision failing 10 % against a 1 % ceiling fails after a median of 80 requests.
//! - A revision failing every request fails within 9 requests for ceilings up to 1/3 and within 15
//!   at a ceiling of 50 %, with all four checks configured.

use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::signals::Counts;

/// The chance, for one canary over its whole life, that a revision within its ceilings is failed.
pub const FALSE_ALARM_RATE: f64 = 0.01;

/// The normal quantile of the baseline's upper bounds (error ratio, p99): two-sided 99 %.
const BASELINE_Z: f64 = 2.576;

/// The lowest ceiling a relative error check uses: below it a baseline with no failures would make one
/// failure in a few hundred requests look like a regression.
const MIN_RELATIVE_CEILING: f64 = 0.001;

/// The share of requests a p99 limit allows to be slower than it.
const P99_SHARE: f64 = 0.01;

/// What the engine does when a canary fails its analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnFailure {
    /// Move traffic back to the previous revision.
    #[default]
    Revert,
    /// Turn the revision's guard flags off and keep it serving.
    KillSwitch,
    /// Stop the rollout where it is and wait for an operator.
    Pause,
}

impl OnFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            OnFailure::Revert => "revert",
            OnFailure::KillSwitch => "kill-switch",
            OnFailure::Pause => "pause",
        }
    }
}

/// An app's analysis settings, as parsed by the engine from its configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisConfig {
    /// The highest acceptable share of failed requests, in (0, 0.5].
    pub max_error_ratio: f64,
    /// The highest acceptable 99th percentile of latency, if any.
    pub max_p99: Option<Duration>,
    /// Also judge against the previous revision's own traffic.
    pub relative: bool,
    /// Requests a candidate must have served before it can pass.
    pub min_requests: u64,
    pub on_failure: OnFailure,
}

impl Default for AnalysisConfig {
    /// 1 % errors, no latency limit, relative checks on, 100 requests, revert.
    fn default() -> Self {
        AnalysisConfig {
            max_error_ratio: 0.01,
            max_p99: None,
            relative: true,
            min_requests: 100,
            on_failure: OnFailure::Revert,
        }
    }
}

impl AnalysisConfig {
    /// Check the ranges the test relies on; the message names the key at fault.
    pub fn validate(&self) -> Result<(), String> {
        // Written so that NaN fails too.
        if !(self.max_error_ratio > 0.0 && self.max_error_ratio <= 0.5) {
            return Err(format!("max_error_ratio must be above 0 and at most 0.5, got {}", self.max_error_ratio));
        }
        if !(1..=1_000_000).contains(&self.min_requests) {
            return Err(format!("min_requests must be between 1 and 1000000, got {}", self.min_requests));
        }
        if let Some(p99) = self.max_p99 {
            if p99 < Duration::from_millis(1) || p99 > Duration::from_secs(600) {
                return Err(format!("max_p99 must be between 1ms and 10min, got {p99:?}"));
            }
        }
        Ok(())
    }

    /// How many checks this configuration can run: the false-alarm rate is split over them.
    fn configured_checks(&self) -> u32 {
        1 + u32::from(self.max_p99.is_some()) + if self.relative { 2 } else { 0 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// No check failed and the candidate served at least `min_requests`.
    Pass,
    /// A check's statistic reached its threshold.
    Fail,
    /// No check failed yet, but too little traffic to pass: never promotes.
    Inconclusive,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// One check's numbers at the time of judgement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// `error-ratio`, `error-ratio-relative`, `p99` or `p99-relative`.
    pub check: String,
    /// Requests (for latency checks: latency samples) the check saw.
    pub requests: u64,
    /// Failures, or requests slower than the limit.
    pub events: u64,
    /// The log-likelihood ratio of H1 against H0.
    pub statistic: f64,
    /// The statistic at which the check fails, `ln(1/α_check)`.
    pub threshold: f64,
    /// The H0 rate of events.
    pub ceiling: f64,
    /// For latency checks: the limit a request had to exceed to count as slow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_limit_ms: Option<u64>,
    pub failed: bool,
}

/// The verdict and the evidence of every check that ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Judgement {
    pub verdict: Verdict,
    pub evidence: Vec<Evidence>,
}

impl Judgement {
    /// One line for humans: the failed checks when the verdict is a failure, every check otherwise.
    pub fn summary(&self) -> String {
        let failed: Vec<&Evidence> = self.evidence.iter().filter(|e| e.failed).collect();
        let shown: Vec<&Evidence> = if failed.is_empty() { self.evidence.iter().collect() } else { failed };
        let mut line = String::new();
        if self.verdict == Verdict::Inconclusive {
            line.push_str("too little traffic to pass yet: ");
        }
        if shown.is_empty() {
            line.push_str("no checks ran");
        }
        for (i, e) in shown.iter().enumerate() {
            if i > 0 {
                line.push_str("; ");
            }
            line.push_str(&describe(e));
        }
        line
    }
}

/// "error ratio 30.0% over 40 requests, log-likelihood ratio 8.0 ≥ 5.3 (ceiling 1.0%)".
fn describe(e: &Evidence) -> String {
    let label = match (e.check.as_str(), e.latency_limit_ms) {
        ("error-ratio", _) => "error ratio".to_owned(),
        ("error-ratio-relative", _) => "error ratio against the baseline".to_owned(),
        ("p99", Some(ms)) => format!("share slower than {ms} ms"),
        ("p99-relative", Some(ms)) => format!("share slower than twice the baseline's p99 ({ms} ms)"),
        (other, _) => other.to_owned(),
    };
    let share = if e.requests == 0 { 0.0 } else { e.events as f64 / e.requests as f64 };
    let mut s = format!("{label} {} over {} requests", percent(share), e.requests);
    if e.failed {
        let _ = write!(s, ", log-likelihood ratio {:.1} ≥ {:.1}", e.statistic, e.threshold);
    }
    let _ = write!(s, " (ceiling {})", percent(e.ceiling));
    s
}

/// A ratio as a percentage: one decimal from 1 % up, up to two (trailing zeros dropped) below.
fn percent(ratio: f64) -> String {
    let pct = ratio * 100.0;
    if pct >= 1.0 {
        return format!("{pct:.1}%");
    }
    let s = format!("{pct:.2}");
    let s = s.strip_suffix('0').unwrap_or(&s);
    format!("{s}%")
}

/// The alternative rate the test is tuned to detect: double the ceiling, or halfway to 1.
pub fn alternative(p0: f64) -> f64 {
    (2.0 * p0).min((1.0 + p0) / 2.0)
}

/// The log-likelihood ratio of `events` in `n` trials under rate `alternative(p0)` against `p0`.
/// `events` above `n` counts as `n`; `p0` is kept inside (0, 1) so the result is always finite.
pub fn log_likelihood_ratio(n: u64, events: u64, p0: f64) -> f64 {
    let p0 = if p0.is_nan() { 0.5 } else { p0.clamp(1e-9, 0.5) };
    let p1 = alternative(p0);
    let k = events.min(n) as f64;
    let n = n as f64;
    k * (p1 / p0).ln() + (n - k) * ((1.0 - p1) / (1.0 - p0)).ln()
}

/// The Wilson score upper bound on a rate from `events` in `n` trials at z = 2.576 (99 %); 1 without
/// trials. Wilson rather than Clopper-Pearson: it needs no inverse beta function, and it stays above
/// zero when no events were seen (z²/(n+z²)), which is what a ceiling derived from it needs.
pub fn wilson_upper(n: u64, events: u64) -> f64 {
    if n == 0 {
        return 1.0;
    }
    let p = events.min(n) as f64 / n as f64;
    let n = n as f64;
    let z2 = BASELINE_Z * BASELINE_Z;
    let centre = p + z2 / (2.0 * n);
    let spread = BASELINE_Z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre + spread) / (1.0 + z2 / n)).min(1.0)
}

/// The quantile to read as a 99 % upper confidence bound on the p99 of `n` samples: the normal
/// approximation of the binomial order statistic, 0.99 + z·√(0.99·0.01/n). With few samples it is
/// the slowest one; a point estimate instead would, for a baseline of a hundred requests, often land
/// below the true p99 and make a candidate just like it look slow.
fn p99_upper_rank(n: u64) -> f64 {
    if n == 0 {
        return 1.0;
    }
    (0.99 + BASELINE_Z * (0.99 * 0.01 / n as f64).sqrt()).min(1.0)
}

fn run_check(check: &str, n: u64, events: u64, ceiling: f64, threshold: f64, limit: Option<Duration>) -> Evidence {
    let statistic = log_likelihood_ratio(n, events, ceiling);
    Evidence {
        check: check.to_owned(),
        requests: n,
        events: events.min(n),
        statistic,
        threshold,
        ceiling,
        latency_limit_ms: limit.map(|l| u64::try_from(l.as_millis()).unwrap_or(u64::MAX)),
        failed: statistic >= threshold,
    }
}

/// Judge a candidate from its cumulative counts, and the baseline's (the revision it replaces) when
/// there is one. A check fails at any amount of traffic, so a revision failing every request fails
/// within its first twenty; passing needs `min_requests`.
pub fn judge(cfg: &AnalysisConfig, candidate: &Counts, baseline: Option<&Counts>) -> Judgement {
    let alpha = FALSE_ALARM_RATE / f64::from(cfg.configured_checks());
    let threshold = (1.0 / alpha).ln();
    let ceiling = if cfg.max_error_ratio.is_nan() { 0.5 } else { cfg.max_error_ratio.clamp(1e-9, 0.5) };
    let latency_n = candidate.latency.count();
    let mut evidence = vec![run_check("error-ratio", candidate.requests, candidate.failures, ceiling, threshold, None)];

    let usable_baseline = baseline.filter(|_| cfg.relative);
    if let Some(base) = usable_baseline.filter(|b| b.requests >= cfg.min_requests) {
        let relative = (2.0 * wilson_upper(base.requests, base.failures)).max(MIN_RELATIVE_CEILING);
        if relative < ceiling {
            let e =
                run_check("error-ratio-relative", candidate.requests, candidate.failures, relative, threshold, None);
            evidence.push(e);
        }
    }
    if let Some(limit) = cfg.max_p99 {
        let slow = candidate.latency.slower_than(limit);
        evidence.push(run_check("p99", latency_n, slow, P99_SHARE, threshold, Some(limit)));
    }
    if let Some(base) = usable_baseline.filter(|b| b.latency.count() >= cfg.min_requests) {
        if let Some(base_p99) = base.latency.quantile(p99_upper_rank(base.latency.count())) {
            let limit = base_p99.saturating_mul(2);
            // With an absolute limit at or under this one the absolute check is the stricter: skip.
            if cfg.max_p99.is_none_or(|max| limit < max) {
                let slow = candidate.latency.slower_than(limit);
                evidence.push(run_check("p99-relative", latency_n, slow, P99_SHARE, threshold, Some(limit)));
            }
        }
    }

    let verdict = if evidence.iter().any(|e| e.failed) {
        Verdict::Fail
    } else if candidate.requests >= cfg.min_requests.max(1) {
        Verdict::Pass
    } else {
        Verdict::Inconclusive
    };
    Judgement { verdict, evidence }
}

/// The alarm level of the watch after the soak: about one false alarm per million requests of a
/// revision at its ceiling (Page's bound on the average run length is e^h).
pub const WATCH_THRESHOLD: f64 = 13.815_510_557_964_274; // ln(10⁶)

/// One step of the watch that follows a live revision after its soak: Page's CUSUM on the error
/// ratio against `cfg.max_error_ratio`, fed the requests since the last step. The sequential test
/// of the soak has no lower boundary, so after hours of healthy traffic it would take as long to
/// notice a regression; the CUSUM forgets healthy history (it never goes below zero) and so reacts
/// to a change at any time. Returns the new statistic; it alarms at [`WATCH_THRESHOLD`].
pub fn watch_step(cfg: &AnalysisConfig, statistic: f64, since_last: &Counts) -> f64 {
    let step = log_likelihood_ratio(since_last.requests, since_last.failures, cfg.max_error_ratio);
    (statistic + step).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::Histogram;

    fn counts(requests: u64, failures: u64) -> Counts {
        Counts { requests, failures, latency: Histogram::default(), latency_sum_micros: 0 }
    }

    /// `requests` requests of which `failures` failed and `slow` took `slow_ms`, the rest 10 ms.
    fn timed(requests: u64, failures: u64, slow: u64, slow_ms: u64) -> Counts {
        let mut c = counts(requests, failures);
        for i in 0..requests {
            let ms = if i < slow { slow_ms } else { 10 };
            c.latency.record(Duration::from_millis(ms));
        }
        c
    }

    fn cfg(max_error_ratio: f64) -> AnalysisConfig {
        AnalysisConfig { max_error_ratio, relative: false, ..AnalysisConfig::default() }
    }

    /// Requests until the first failing judgement when every request fails, judged after each one.
    fn requests_to_fail(cfg: &AnalysisConfig, baseline: Option<&Counts>, limit: u64) -> Option<u64> {
        (1..=limit).find(|&n| judge(cfg, &counts(n, n), baseline).verdict == Verdict::Fail)
    }

    #[test]
    fn validate_names_the_bad_key() {
        let ok = AnalysisConfig { max_p99: Some(Duration::from_millis(250)), ..AnalysisConfig::default() };
        assert_eq!(ok.validate(), Ok(()));
        let cases: Vec<(&str, AnalysisConfig)> = vec![
            ("max_error_ratio", AnalysisConfig { max_error_ratio: 0.0, ..ok.clone() }),
            ("max_error_ratio", AnalysisConfig { max_error_ratio: 0.6, ..ok.clone() }),
            ("max_error_ratio", AnalysisConfig { max_error_ratio: f64::NAN, ..ok.clone() }),
            ("max_error_ratio", AnalysisConfig { max_error_ratio: -0.1, ..ok.clone() }),
            ("min_requests", AnalysisConfig { min_requests: 0, ..ok.clone() }),
            ("min_requests", AnalysisConfig { min_requests: 1_000_001, ..ok.clone() }),
            ("max_p99", AnalysisConfig { max_p99: Some(Duration::from_micros(999)), ..ok.clone() }),
            ("max_p99", AnalysisConfig { max_p99: Some(Duration::from_secs(601)), ..ok.clone() }),
        ];
        for (key, c) in cases {
            let err = c.validate().expect_err(key);
            assert!(err.starts_with(key), "{err}");
        }
        let edges = [
            AnalysisConfig { max_error_ratio: 0.5, min_requests: 1, ..ok.clone() },
            AnalysisConfig { min_requests: 1_000_000, max_p99: Some(Duration::from_millis(1)), ..ok.clone() },
            AnalysisConfig { max_p99: Some(Duration::from_secs(600)), ..ok.clone() },
        ];
        for c in edges {
            assert_eq!(c.validate(), Ok(()), "{c:?}");
        }
    }

    #[test]
    fn names_serialise_in_kebab_case() {
        let cases =
            [(OnFailure::Revert, "revert"), (OnFailure::KillSwitch, "kill-switch"), (OnFailure::Pause, "pause")];
        for (v, name) in cases {
            assert_eq!(serde_json::to_value(v).unwrap(), name);
            assert_eq!(v.as_str(), name);
            assert_eq!(serde_json::from_value::<OnFailure>(name.into()).unwrap(), v);
        }
        for (v, name) in [(Verdict::Pass, "pass"), (Verdict::Fail, "fail"), (Verdict::Inconclusive, "inconclusive")] {
            assert_eq!(serde_json::to_value(v).unwrap(), name);
            assert_eq!(v.as_str(), name);
        }
    }

    #[test]
    fn alternative_doubles_small_ceilings_and_stays_below_one() {
        let cases = [(0.001, 0.002), (0.01, 0.02), (0.2, 0.4), (1.0 / 3.0, 2.0 / 3.0), (0.4, 0.7), (0.5, 0.75)];
        for (p0, p1) in cases {
            assert!((alternative(p0) - p1).abs() < 1e-12, "{p0}");
        }
    }

    #[test]
    fn log_likelihood_ratio_table() {
        let (up, down) = (2f64.ln(), (0.98f64 / 0.99).ln());
        // (n, events, p0, expected)
        let cases = [
            (0, 0, 0.01, 0.0),
            (1, 1, 0.01, up),
            (40, 12, 0.01, 12.0 * up + 28.0 * down),
            (100, 0, 0.01, 100.0 * down),
            (10, 20, 0.01, 10.0 * up), // more events than trials counts as all of them
            (4, 4, 0.5, 4.0 * 1.5f64.ln()),
        ];
        for (n, k, p0, want) in cases {
            let got = log_likelihood_ratio(n, k, p0);
            assert!((got - want).abs() < 1e-9, "n={n} k={k} p0={p0}: {got} vs {want}");
        }
        for p0 in [0.0, -1.0, 1.0, f64::NAN, f64::INFINITY] {
            assert!(log_likelihood_ratio(1000, 10, p0).is_finite(), "{p0}");
        }
    }

    #[test]
    fn wilson_upper_table() {
        // (n, events, low, high): the bound lies above the observed ratio and narrows with n.
        let cases = [
            (0, 0, 1.0, 1.0),
            (100, 0, 0.06, 0.07), // z²/(n+z²)
            (10_000, 10, 0.0021, 0.0023),
            (1_000, 500, 0.54, 0.55),
            (10, 10, 1.0, 1.0),
        ];
        for (n, k, low, high) in cases {
            let got = wilson_upper(n, k);
            assert!(got >= low && got <= high, "n={n} k={k}: {got}");
        }
    }

    #[test]
    fn p99_upper_rank_table() {
        // (samples, quantile read): the slowest sample when few, approaching 0.99 with many.
        let cases = [(0, 1.0), (1, 1.0), (100, 1.0), (1_000, 0.998_105), (10_000, 0.992_563), (1_000_000, 0.990_256)];
        for (n, want) in cases {
            assert!((p99_upper_rank(n) - want).abs() < 1e-6, "{n}: {}", p99_upper_rank(n));
        }
    }

    #[test]
    fn every_request_failing_fails_within_twenty_requests() {
        let baseline = timed(1_000, 1, 0, 0);
        for ceiling in [0.001, 0.005, 0.01, 0.05, 0.1, 0.2, 1.0 / 3.0, 0.4, 0.5] {
            let configs = [
                cfg(ceiling),
                AnalysisConfig {
                    max_error_ratio: ceiling,
                    max_p99: Some(Duration::from_millis(100)),
                    relative: true,
                    min_requests: 1000,
                    on_failure: OnFailure::Pause,
                },
            ];
            for c in configs {
                let n = requests_to_fail(&c, Some(&baseline), 20);
                assert!(n.is_some(), "ceiling {ceiling}, {} checks: not failed in 20", c.configured_checks());
                // Not on the very first request either: one failure is no evidence.
                assert!(n > Some(3), "ceiling {ceiling}: failed after {n:?}");
            }
        }
    }

    #[test]
    fn judgement_table() {
        let slow_base = timed(1_000, 1, 0, 0);
        // (name, config, candidate, baseline, verdict, failed checks)
        type Case = (&'static str, AnalysisConfig, Counts, Option<Counts>, Verdict, Vec<&'static str>);
        let with_p99 = AnalysisConfig { max_p99: Some(Duration::from_millis(200)), ..cfg(0.01) };
        let relative = AnalysisConfig { relative: true, ..cfg(0.2) };
        let cases: Vec<Case> = vec![
            ("30% failing against 1%", cfg(0.01), counts(40, 12), None, Verdict::Fail, vec!["error-ratio"]),
            ("healthy with enough traffic", cfg(0.01), counts(500, 1), None, Verdict::Pass, vec![]),
            ("exactly at the ceiling passes", cfg(0.01), counts(1000, 10), None, Verdict::Pass, vec![]),
            ("too little traffic", cfg(0.01), counts(20, 0), None, Verdict::Inconclusive, vec![]),
            ("one early failure is not enough", cfg(0.01), counts(3, 1), None, Verdict::Inconclusive, vec![]),
            ("no traffic at all", cfg(0.01), counts(0, 0), None, Verdict::Inconclusive, vec![]),
            (
                "no traffic never passes, even with an invalid minimum",
                AnalysisConfig { min_requests: 0, ..cfg(0.01) },
                counts(0, 0),
                None,
                Verdict::Inconclusive,
                vec![],
            ),
            (
                "failures above requests do not panic",
                cfg(0.01),
                counts(10, 50),
                None,
                Verdict::Fail,
                vec!["error-ratio"],
            ),
            (
                "5% passes an absolute 20% ceiling without relative checks",
                cfg(0.2),
                counts(2000, 100),
                Some(counts(10_000, 10)),
                Verdict::Pass,
                vec![],
            ),
            (
                "relative catches 5% against a 0.1% baseline under a 20% ceiling",
                relative.clone(),
                counts(2000, 100),
                Some(counts(10_000, 10)),
                Verdict::Fail,
                vec!["error-ratio-relative"],
            ),
            (
                "relative passes a candidate like its baseline",
                relative.clone(),
                counts(2000, 2),
                Some(counts(10_000, 10)),
                Verdict::Pass,
                vec![],
            ),
            (
                "relative waits for the baseline's minimum",
                relative.clone(),
                counts(2000, 100),
                Some(counts(99, 0)),
                Verdict::Pass,
                vec![],
            ),
            ("relative without a baseline", relative.clone(), counts(2000, 100), None, Verdict::Pass, vec![]),
            ("p99 over its limit", with_p99.clone(), timed(300, 0, 30, 500), None, Verdict::Fail, vec!["p99"]),
            ("p99 within its limit", with_p99.clone(), timed(300, 0, 1, 500), None, Verdict::Pass, vec![]),
            (
                "relative p99: ten times slower than the baseline",
                AnalysisConfig { relative: true, ..cfg(0.01) },
                timed(300, 0, 300, 100),
                Some(slow_base.clone()),
                Verdict::Fail,
                vec!["p99-relative"],
            ),
            (
                "errors and latency fail together",
                with_p99.clone(),
                timed(100, 50, 100, 900),
                None,
                Verdict::Fail,
                vec!["error-ratio", "p99"],
            ),
        ];
        for (name, c, candidate, baseline, verdict, failed) in cases {
            let j = judge(&c, &candidate, baseline.as_ref());
            assert_eq!(j.verdict, verdict, "{name}: {}", j.summary());
            let got: Vec<&str> = j.evidence.iter().filter(|e| e.failed).map(|e| e.check.as_str()).collect();
            assert_eq!(got, failed, "{name}");
        }
    }

    #[test]
    fn checks_run_only_when_configured_and_stricter() {
        let base = timed(1_000, 1, 0, 0); // p99 10 ms: twice that is 25 ms as a bucket bound or less
        let all = AnalysisConfig { max_p99: Some(Duration::from_millis(500)), relative: true, ..cfg(0.05) };
        // (name, config, baseline, checks)
        let cases: Vec<(&str, AnalysisConfig, Option<&Counts>, Vec<&str>)> = vec![
            ("absolute only", cfg(0.05), Some(&base), vec!["error-ratio"]),
            ("all four", all.clone(), Some(&base), vec!["error-ratio", "error-ratio-relative", "p99", "p99-relative"]),
            ("no baseline", all.clone(), None, vec!["error-ratio", "p99"]),
            (
                "baseline ceiling above the absolute one",
                AnalysisConfig { max_error_ratio: 0.001, ..all.clone() },
                Some(&base),
                vec!["error-ratio", "p99", "p99-relative"],
            ),
            (
                "absolute p99 stricter than twice the baseline's",
                AnalysisConfig { max_p99: Some(Duration::from_millis(5)), ..all.clone() },
                Some(&base),
                vec!["error-ratio", "error-ratio-relative", "p99"],
            ),
        ];
        for (name, c, baseline, want) in cases {
            let j = judge(&c, &timed(50, 0, 0, 0), baseline);
            let got: Vec<&str> = j.evidence.iter().map(|e| e.check.as_str()).collect();
            assert_eq!(got, want, "{name}");
            // The threshold depends on the configuration only, not on which checks had data.
            let expected = (f64::from(c.configured_checks()) / FALSE_ALARM_RATE).ln();
            assert!(j.evidence.iter().all(|e| (e.threshold - expected).abs() < 1e-12), "{name}");
        }
    }

    #[test]
    fn evidence_records_the_numbers_and_serialises() {
        let c = AnalysisConfig { max_p99: Some(Duration::from_millis(200)), ..cfg(0.01) };
        let j = judge(&c, &timed(40, 12, 2, 900), None);
        assert_eq!(j.verdict, Verdict::Fail);
        let e = &j.evidence[0];
        assert_eq!((e.check.as_str(), e.requests, e.events, e.ceiling, e.failed), ("error-ratio", 40, 12, 0.01, true));
        assert!((e.statistic - log_likelihood_ratio(40, 12, 0.01)).abs() < 1e-12);
        assert!((e.threshold - 200f64.ln()).abs() < 1e-12, "two checks split α = 0.01");
        assert_eq!(e.latency_limit_ms, None);
        let p = &j.evidence[1];
        assert_eq!((p.check.as_str(), p.requests, p.events, p.ceiling), ("p99", 40, 2, 0.01));
        assert_eq!(p.latency_limit_ms, Some(200));
        assert!(!p.failed);

        let json = serde_json::to_value(&j).unwrap();
        assert_eq!(json["verdict"], "fail");
        assert_eq!(json["evidence"][0]["check"], "error-ratio");
        assert_eq!(json["evidence"][0]["events"], 12);
        assert!(json["evidence"][0].get("latency_limit_ms").is_none());
        assert_eq!(json["evidence"][1]["latency_limit_ms"], 200);
        let back: Judgement = serde_json::from_value(json).unwrap();
        assert_eq!(back, j);
    }

    #[test]
    fn summary_table() {
        let p99 = AnalysisConfig { max_p99: Some(Duration::from_millis(250)), ..cfg(0.01) };
        let cases = [
            (
                judge(&cfg(0.01), &counts(40, 12), None),
                "error ratio 30.0% over 40 requests, log-likelihood ratio 8.0 ≥ 4.6 (ceiling 1.0%)",
            ),
            (judge(&cfg(0.001), &counts(500, 0), None), "error ratio 0.0% over 500 requests (ceiling 0.1%)"),
            (
                judge(&cfg(0.01), &counts(20, 0), None),
                "too little traffic to pass yet: error ratio 0.0% over 20 requests (ceiling 1.0%)",
            ),
            (
                judge(&p99, &timed(200, 1, 0, 0), None),
                "error ratio 0.5% over 200 requests (ceiling 1.0%); share slower than 250 ms 0.0% over 200 requests (ceiling 1.0%)",
            ),
            (
                judge(&p99, &timed(200, 0, 20, 900), None),
                "share slower than 250 ms 10.0% over 200 requests, log-likelihood ratio 12.0 ≥ 5.3 (ceiling 1.0%)",
            ),
            (
                Judgement { verdict: Verdict::Inconclusive, evidence: vec![] },
                "too little traffic to pass yet: no checks ran",
            ),
        ];
        for (j, want) in cases {
            assert_eq!(j.summary(), want);
        }
    }

    /// splitmix64: a tiny seeded generator, enough for simulations.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        /// Uniform in [0, 1).
        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }

        fn chance(&mut self, p: f64) -> bool {
            self.unit() < p
        }

        /// A latency with a long tail: 5 to 50 ms mostly, one in fifty up to 20 times more.
        fn latency(&mut self) -> Duration {
            let base = 5.0 + 45.0 * self.unit();
            let factor = if self.chance(0.02) { 1.0 + 19.0 * self.unit() } else { 1.0 };
            Duration::from_micros((base * factor * 1000.0) as u64)
        }
    }

    fn request(c: &mut Counts, rng: &mut Rng, error_rate: f64) {
        c.requests += 1;
        c.failures += u64::from(rng.chance(error_rate));
        c.latency.record(rng.latency());
    }

    const CEILINGS: [f64; 5] = [0.001, 0.01, 0.05, 0.1, 0.2];

    /// Run `revisions` canaries at rates from `rate`, judging every 10 requests up to 2,000 with a
    /// baseline that sees twice the traffic at the same rate; the share that ever failed.
    fn simulate_false_alarms(seed: u64, revisions: u32, rate: impl Fn(&mut Rng, f64) -> f64) -> f64 {
        let mut rng = Rng(seed);
        let mut alarms = 0;
        for i in 0..revisions {
            let ceiling = CEILINGS[i as usize % CEILINGS.len()];
            let c = AnalysisConfig {
                max_error_ratio: ceiling,
                max_p99: Some(Duration::from_millis(2_000)),
                relative: true,
                min_requests: 100,
                on_failure: OnFailure::Revert,
            };
            let p = rate(&mut rng, ceiling);
            let (mut candidate, mut baseline) = (Counts::default(), Counts::default());
            for n in 1..=2_000 {
                request(&mut candidate, &mut rng, p);
                request(&mut baseline, &mut rng, p);
                request(&mut baseline, &mut rng, p);
                if n % 10 == 0 && judge(&c, &candidate, Some(&baseline)).verdict == Verdict::Fail {
                    alarms += 1;
                    break;
                }
            }
        }
        f64::from(alarms) / f64::from(revisions)
    }

    #[test]
    fn simulated_healthy_revisions_rarely_fail() {
        let rate = simulate_false_alarms(0x5eed_0001, 2_000, |rng, ceiling| rng.unit() * 0.5 * ceiling);
        println!("healthy revisions failed: {:.2}%", rate * 100.0);
        assert!(rate <= FALSE_ALARM_RATE, "{rate}");
    }

    #[test]
    fn simulated_revisions_exactly_at_the_ceiling_rarely_fail() {
        let rate = simulate_false_alarms(0x5eed_0002, 2_000, |_, ceiling| ceiling);
        println!("revisions at the ceiling failed: {:.2}%", rate * 100.0);
        assert!(rate <= FALSE_ALARM_RATE, "{rate}");
    }

    #[test]
    fn simulated_ten_percent_failures_fail_fast_against_one_percent() {
        let mut rng = Rng(0x5eed_0003);
        let c = cfg(0.01);
        let mut needed: Vec<u64> = (0..501)
            .map(|_| {
                let mut candidate = Counts::default();
                for n in 1..=2_000u64 {
                    request(&mut candidate, &mut rng, 0.10);
                    if n % 10 == 0 && judge(&c, &candidate, None).verdict == Verdict::Fail {
                        return n;
                    }
                }
                u64::MAX
            })
            .collect();
        needed.sort_unstable();
        let median = needed[needed.len() / 2];
        println!("10% failures against a 1% ceiling: failed after a median of {median} requests");
        assert!(median <= 100, "{median}");
        assert!(needed[needed.len() * 99 / 100] <= 500, "the slowest 1% still fail within 500 requests");
    }

    /// The watch after the soak: a healthy revision at its ceiling's half stays quiet over a million
    /// requests, and one that starts failing every request after all that history alarms within a
    /// few dozen.
    #[test]
    fn the_watch_after_the_soak_forgets_healthy_history() {
        let cfg = AnalysisConfig::default();
        let mut alarms = 0;
        for seed in 0..20u64 {
            let mut rng = Rng(seed);
            let mut s = 0.0;
            for _ in 0..20_000 {
                let failures = (0..50).filter(|_| rng.chance(cfg.max_error_ratio / 2.0)).count() as u64;
                s = watch_step(&cfg, s, &counts(50, failures));
                if s >= WATCH_THRESHOLD {
                    alarms += 1;
                    break;
                }
            }
            // Then it breaks: every request fails, ten at a time.
            let mut failed = 0;
            while s < WATCH_THRESHOLD {
                s = watch_step(&cfg, s, &counts(10, 10));
                failed += 10;
            }
            assert!(failed <= 30, "seed {seed}: {failed} failed requests before the alarm");
        }
        assert_eq!(alarms, 0, "healthy revisions alarmed over a million requests each");
        // A revision exactly at its ceiling drifts down: the statistic stays near zero.
        let at_ceiling = watch_step(&cfg, 0.0, &counts(100_000, 1_000));
        assert_eq!(at_ceiling, 0.0);
    }
}
