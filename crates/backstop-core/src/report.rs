//! Delivery figures over a window: how often releases go out, how many of them hurt, how long
//! recovery took. Computed from the release and incident records the engine keeps; the caller picks
//! the records (one app or all) and passes the window and the time now.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How a release ended, as far as is known now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReleaseOutcome {
    /// Went live and stayed (proven, or still serving).
    Succeeded,
    /// Never became healthy, or failed during its soak.
    Failed,
    /// Traffic was moved away from it.
    Reverted,
    /// Still deploying or soaking.
    Pending,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseRecord {
    pub app: String,
    pub revision: u64,
    pub released_at: DateTime<Utc>,
    pub outcome: ReleaseOutcome,
    /// The release is known to have caused an incident.
    pub incident: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentRecord {
    pub app: String,
    /// The revision that caused it, which need not be the one live when it was detected.
    pub revision: u64,
    pub detected_at: DateTime<Utc>,
    pub recovered_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Releases made in the window.
    pub releases: u64,
    /// Releases per day of the window; 0 for an empty window.
    pub per_day: f64,
    /// The share of the window's releases that failed, were reverted or caused an incident; `None`
    /// without releases.
    pub change_failure_rate: Option<f64>,
    /// Detection to recovery of the window's recovered incidents (nearest-rank percentiles).
    pub recovery_median_ms: Option<u64>,
    pub recovery_p90_ms: Option<u64>,
    /// Incidents detected in the window and not recovered by `now`.
    pub open_incidents: u64,
}

/// The figures for records within [`since`, `now`]: releases by their release time, incidents by
/// their detection time. A recovery stamped after `now` (a report of the past) has not happened yet,
/// so its incident counts as open. A release counts as a change failure once, however many of its
/// incidents there are, and a pending release counts in the denominator as the change it is.
pub fn report(
    releases: &[ReleaseRecord],
    incidents: &[IncidentRecord],
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Report {
    let within = |t: DateTime<Utc>| since <= t && t <= now;
    let window: Vec<&ReleaseRecord> = releases.iter().filter(|r| within(r.released_at)).collect();
    let count = window.len() as u64;

    // A release is tied to an incident by the incident's cause, whenever it was detected (up to now).
    let caused: BTreeSet<(&str, u64)> =
        incidents.iter().filter(|i| i.detected_at <= now).map(|i| (i.app.as_str(), i.revision)).collect();
    let failed = window
        .iter()
        .filter(|r| {
            matches!(r.outcome, ReleaseOutcome::Failed | ReleaseOutcome::Reverted)
                || r.incident
                || caused.contains(&(r.app.as_str(), r.revision))
        })
        .count();

    let detected: Vec<&IncidentRecord> = incidents.iter().filter(|i| within(i.detected_at)).collect();
    let mut recoveries: Vec<u64> = detected
        .iter()
        .filter_map(|i| i.recovered_at.filter(|r| *r <= now).map(|r| millis_between(i.detected_at, r)))
        .collect();
    recoveries.sort_unstable();
    let open = detected.len() - recoveries.len();

    let days = (now - since).num_milliseconds() as f64 / 86_400_000.0;
    Report {
        releases: count,
        per_day: if days > 0.0 { count as f64 / days } else { 0.0 },
        change_failure_rate: (count > 0).then(|| failed as f64 / count as f64),
        recovery_median_ms: nearest_rank(&recoveries, 0.5),
        recovery_p90_ms: nearest_rank(&recoveries, 0.9),
        open_incidents: open as u64,
    }
}

/// Milliseconds from `from` to `to`, 0 when `to` is earlier (a clock that went back).
fn millis_between(from: DateTime<Utc>, to: DateTime<Utc>) -> u64 {
    u64::try_from((to - from).num_milliseconds()).unwrap_or(0)
}

/// The nearest-rank `q` quantile of sorted values: always one of them, `None` for none.
fn nearest_rank(sorted: &[u64], q: f64) -> Option<u64> {
    let rank = ((q * sorted.len() as f64).ceil() as usize).max(1);
    sorted.get(rank - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ReleaseOutcome::*;
    use chrono::Duration;

    fn t(hours: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap() + Duration::hours(hours)
    }

    fn release(revision: u64, hour: i64, outcome: ReleaseOutcome) -> ReleaseRecord {
        ReleaseRecord { app: "shop".into(), revision, released_at: t(hour), outcome, incident: false }
    }

    fn incident(revision: u64, hour: i64, recovered_minutes: Option<i64>) -> IncidentRecord {
        IncidentRecord {
            app: "shop".into(),
            revision,
            detected_at: t(hour),
            recovered_at: recovered_minutes.map(|m| t(hour) + Duration::minutes(m)),
        }
    }

    #[test]
    fn nearest_rank_table() {
        let cases: [(&[u64], f64, Option<u64>); 6] = [
            (&[], 0.5, None),
            (&[7], 0.5, Some(7)),
            (&[7], 0.9, Some(7)),
            (&[1, 2, 3, 4], 0.5, Some(2)),
            (&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9, Some(9)),
            (&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 0.9, Some(10)),
        ];
        for (values, q, want) in cases {
            assert_eq!(nearest_rank(values, q), want, "{values:?} q{q}");
        }
    }

    #[test]
    fn report_table() {
        let minutes = |m: u64| Some(m * 60_000);
        // (name, releases, incidents, since, now, releases, per day, cfr, median, p90, open)
        type Case = (
            &'static str,
            Vec<ReleaseRecord>,
            Vec<IncidentRecord>,
            i64,
            i64,
            (u64, f64, Option<f64>, Option<u64>, Option<u64>, u64),
        );
        let cases: Vec<Case> = vec![
            ("nothing at all", vec![], vec![], 0, 48, (0, 0.0, None, None, None, 0)),
            (
                "four good releases over two days",
                (1..=4).map(|r| release(r, r as i64 * 10, Succeeded)).collect(),
                vec![],
                0,
                48,
                (4, 2.0, Some(0.0), None, None, 0),
            ),
            (
                "failed and reverted count against the rate, pending does not",
                vec![release(1, 1, Succeeded), release(2, 2, Failed), release(3, 3, Reverted), release(4, 4, Pending)],
                vec![],
                0,
                24,
                (4, 4.0, Some(0.5), None, None, 0),
            ),
            (
                "the incident flag on the release counts",
                vec![release(1, 1, Succeeded), ReleaseRecord { incident: true, ..release(2, 2, Succeeded) }],
                vec![],
                0,
                24,
                (2, 2.0, Some(0.5), None, None, 0),
            ),
            (
                "an incident counts against the revision that caused it, not the latest",
                vec![release(1, 1, Succeeded), release(2, 2, Succeeded), release(3, 3, Succeeded)],
                vec![incident(1, 5, Some(30))],
                0,
                24,
                (3, 3.0, Some(1.0 / 3.0), minutes(30), minutes(30), 0),
            ),
            (
                "a release with a failure and two incidents counts once",
                vec![release(1, 1, Reverted), release(2, 2, Succeeded)],
                vec![incident(1, 3, Some(10)), incident(1, 4, Some(20))],
                0,
                24,
                (2, 2.0, Some(0.5), minutes(10), minutes(20), 0),
            ),
            (
                "an incident of another app does not count",
                vec![release(1, 1, Succeeded)],
                vec![IncidentRecord { app: "billing".into(), ..incident(1, 2, Some(5)) }],
                0,
                24,
                (1, 1.0, Some(0.0), minutes(5), minutes(5), 0),
            ),
            (
                "unrecovered incidents are open, not in the recovery time",
                vec![release(1, 1, Succeeded), release(2, 2, Succeeded)],
                vec![incident(1, 3, Some(12)), incident(2, 4, None)],
                0,
                24,
                (2, 2.0, Some(1.0), minutes(12), minutes(12), 1),
            ),
            (
                "a recovery after now has not happened yet",
                vec![],
                vec![incident(1, 23, Some(120))],
                0,
                24,
                (0, 0.0, None, None, None, 1),
            ),
            (
                "records outside the window are left out",
                vec![release(1, -5, Failed), release(2, 5, Succeeded), release(3, 30, Failed)],
                vec![incident(9, -1, None), incident(2, 6, Some(45)), incident(3, 31, None)],
                0,
                24,
                (1, 1.0, Some(1.0), minutes(45), minutes(45), 0),
            ),
            (
                "the window's edges are inside",
                vec![release(1, 0, Succeeded), release(2, 24, Failed)],
                vec![incident(7, 0, Some(1)), incident(8, 24, None)],
                0,
                24,
                (2, 2.0, Some(0.5), minutes(1), minutes(1), 1),
            ),
            (
                "percentiles over ten recoveries",
                vec![],
                (1..=10).map(|m| incident(m, m as i64, Some(m as i64))).collect(),
                0,
                24,
                (0, 0.0, None, minutes(5), minutes(9), 0),
            ),
            (
                "an incident of a release before the window: recovery counts, no window release failed",
                vec![release(1, -2, Succeeded), release(2, 2, Succeeded)],
                vec![incident(1, 3, Some(3))],
                0,
                24,
                (1, 1.0, Some(0.0), minutes(3), minutes(3), 0),
            ),
            (
                "an empty window: no rate per day",
                vec![release(1, 0, Succeeded)],
                vec![],
                0,
                0,
                (1, 0.0, Some(0.0), None, None, 0),
            ),
            (
                "a window backwards holds nothing",
                vec![release(1, 5, Succeeded)],
                vec![],
                24,
                0,
                (0, 0.0, None, None, None, 0),
            ),
            (
                "a recovery stamped before its detection counts as instant",
                vec![],
                vec![incident(1, 5, Some(-3))],
                0,
                24,
                (0, 0.0, None, Some(0), Some(0), 0),
            ),
        ];
        for (name, releases, incidents, since, now, want) in cases {
            let r = report(&releases, &incidents, t(since), t(now));
            let got = (
                r.releases,
                r.per_day,
                r.change_failure_rate,
                r.recovery_median_ms,
                r.recovery_p90_ms,
                r.open_incidents,
            );
            assert_eq!(got.0, want.0, "{name}: releases");
            assert!((got.1 - want.1).abs() < 1e-9, "{name}: per day {} vs {}", got.1, want.1);
            match (got.2, want.2) {
                (Some(g), Some(w)) => assert!((g - w).abs() < 1e-9, "{name}: change failure rate {g} vs {w}"),
                (g, w) => assert_eq!(g, w, "{name}: change failure rate"),
            }
            assert_eq!((got.3, got.4, got.5), (want.3, want.4, want.5), "{name}: recovery and open");
        }
    }

    #[test]
    fn records_and_report_serialise() {
        let r = ReleaseRecord { incident: true, ..release(3, 1, Reverted) };
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["outcome"], "reverted");
        assert_eq!(serde_json::from_value::<ReleaseRecord>(json).unwrap(), r);
        let i = incident(3, 2, None);
        assert_eq!(serde_json::from_value::<IncidentRecord>(serde_json::to_value(&i).unwrap()).unwrap(), i);
        let report = report(&[r], &[i], t(0), t(24));
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["releases"], 1);
        assert_eq!(json["change_failure_rate"], 1.0);
        assert_eq!(json["recovery_median_ms"], serde_json::Value::Null);
        assert_eq!(json["open_incidents"], 1);
    }
}
