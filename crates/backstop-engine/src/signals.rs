//! The traffic signals of each app's revisions, sampled from its [`backstop_driver::Traffic`]:
//! cumulative counts since the proxy first routed to a revision, and windows over the last minute
//! from a short history of samples kept in memory.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use backstop_core::AppName;
use backstop_core::signals::Counts;

use crate::engine::{AppRuntime, Engine};
use crate::error::OpError;

/// The window of "recent" signals.
pub const WINDOW: Duration = Duration::from_secs(60);

/// How long samples are kept: the window and a little more, so one exists at its start.
const KEEP: Duration = Duration::from_secs(70);

/// Samples of one app's cumulative counts per revision.
#[derive(Default)]
pub struct SignalHistory {
    samples: Mutex<VecDeque<(Instant, BTreeMap<u64, Counts>)>>,
}

impl SignalHistory {
    fn samples(&self) -> std::sync::MutexGuard<'_, VecDeque<(Instant, BTreeMap<u64, Counts>)>> {
        self.samples.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps one sample taken at `at`, forgetting those older than needed.
    pub fn push(&self, at: Instant, counts: BTreeMap<u64, Counts>) {
        let mut samples = self.samples();
        samples.push_back((at, counts));
        while samples.front().is_some_and(|(t, _)| at.saturating_duration_since(*t) > KEEP) {
            samples.pop_front();
        }
    }

    /// The newest sample taken at least `ago` before `now`, or else the oldest one kept.
    pub fn at_or_before(&self, now: Instant, ago: Duration) -> Option<BTreeMap<u64, Counts>> {
        let samples = self.samples();
        samples
            .iter()
            .rev()
            .find(|(t, _)| now.saturating_duration_since(*t) >= ago)
            .or_else(|| samples.front())
            .map(|(_, c)| c.clone())
    }
}

/// One revision's signals: since the proxy first routed to it, and over the last minute.
#[derive(Debug, Clone, PartialEq)]
pub struct RevisionSignals {
    pub revision: u64,
    pub total: Counts,
    pub last_minute: Counts,
}

impl Engine {
    /// Takes one sample of every app's signals (the server calls it every tick).
    pub fn sample_signals(&self) {
        let now = Instant::now();
        for rt in self.apps().values() {
            rt.signals.push(now, rt.traffic.signals().into_iter().collect());
        }
    }

    /// The signals of every revision the app's traffic layer has routed to, newest first.
    pub fn signals(&self, app: &AppName) -> Result<Vec<RevisionSignals>, OpError> {
        let (_, rt) = self.app(app.as_str())?;
        Ok(revision_signals(&rt))
    }
}

/// Cumulative counts now and the last minute's difference, per revision, newest first.
pub fn revision_signals(rt: &AppRuntime) -> Vec<RevisionSignals> {
    let now = Instant::now();
    let earlier = rt.signals.at_or_before(now, WINDOW).unwrap_or_default();
    let mut out: Vec<RevisionSignals> = rt
        .traffic
        .signals()
        .into_iter()
        .map(|(revision, total)| {
            let last_minute = earlier.get(&revision).map_or_else(|| total.clone(), |then| total.since(then));
            RevisionSignals { revision, total, last_minute }
        })
        .collect();
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(requests: u64) -> BTreeMap<u64, Counts> {
        BTreeMap::from([(1, Counts { requests, ..Counts::default() })])
    }

    #[test]
    fn the_window_starts_at_the_newest_sample_a_minute_old() {
        let history = SignalHistory::default();
        let start = Instant::now();
        for s in 0..=75u64 {
            history.push(start + Duration::from_secs(s), counts(s * 10));
        }
        let now = start + Duration::from_secs(75);
        let then = history.at_or_before(now, WINDOW).unwrap();
        assert_eq!(then[&1].requests, 150, "the sample taken 60 s before the newest");
        // Samples older than needed are gone: the oldest left is at most 70 s old.
        let oldest = history.at_or_before(now, Duration::from_secs(3600)).unwrap();
        assert_eq!(oldest[&1].requests, 50);
    }

    #[test]
    fn a_young_history_gives_its_oldest_sample() {
        let history = SignalHistory::default();
        let start = Instant::now();
        history.push(start, counts(3));
        history.push(start + Duration::from_secs(5), counts(9));
        assert_eq!(history.at_or_before(start + Duration::from_secs(5), WINDOW).unwrap()[&1].requests, 3);
        assert!(SignalHistory::default().at_or_before(start, WINDOW).is_none());
    }
}
