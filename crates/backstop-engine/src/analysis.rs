//! Automated analysis during a soak: the soak watcher judges the revision's own traffic with
//! [`backstop_core::analysis::judge`] on every tick, and acts on a failure as the app's
//! `on_failure` says.
//!
//! The counts judged are cumulative from the switch: the candidate's counts at the moment traffic
//! moved to it are subtracted (a revision may have served before, and an undo can bring it back),
//! because the sequential test's false-alarm bound holds for counts that only grow from the start
//! of the canary, not for sliding windows. The baseline is the revision that served before the
//! switch, with everything the traffic layer has seen of it.
//!
//! What a failure does:
//! - `revert`: the automatic revert, whose operation records the evidence; the revision is failed
//!   with the judgement's summary as its reason.
//! - `kill-switch`: a `kill-switch` operation turns each of the revision's `--guarded-by` flags
//!   off; traffic stays on it, and it ends its soak `live`, never known-good. A revision without
//!   guard flags (or a control plane without a flag service) is reverted instead, and the revert's
//!   record says why.
//! - `pause`: an audit entry and a warning; the revision ends its soak `live`, never known-good.
//!
//! With analysis configured, a revision becomes known-good only when its soak ended and its last
//! judgement passed; too little traffic leaves it `live`, saying how much was missing.

use std::sync::Arc;

use backstop_core::analysis::{AnalysisConfig, Judgement, OnFailure, Verdict, judge};
use backstop_core::signals::Counts;
use backstop_core::{AppName, OperationKind, OperationState};
use backstop_store::{Change, NewAudit};
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::engine::{AppRuntime, Begin, Engine};

/// The actor of what the analysis does.
pub const ACTOR: &str = "backstop:analysis";

/// The app's last judgement, as `status` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct LastAnalysis {
    pub revision: u64,
    pub judgement: Judgement,
    /// The candidate's requests and failures since traffic moved to it: what was judged.
    pub requests: u64,
    pub failures: u64,
    /// What was done about a failure, once done.
    pub action: Option<OnFailure>,
    pub at: DateTime<Utc>,
}

/// Where a soaking revision's analysis starts: the revision that served before it (the baseline)
/// and its own cumulative counts when traffic moved to it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AnalysisStart {
    pub baseline: Option<u64>,
    pub counts_at_switch: Counts,
}

impl AnalysisStart {
    /// Read from the traffic layer now, just before traffic moves to `revision` from `baseline`.
    pub fn now(rt: &AppRuntime, revision: u64, baseline: Option<u64>) -> AnalysisStart {
        let signals = rt.traffic.signals();
        AnalysisStart {
            baseline: baseline.filter(|b| *b != revision),
            counts_at_switch: counts_of(&signals, revision).unwrap_or_default(),
        }
    }
}

/// One revision's cumulative counts among the traffic layer's.
pub fn counts_of(signals: &[(u64, Counts)], revision: u64) -> Option<Counts> {
    signals.iter().find(|(r, _)| *r == revision).map(|(_, c)| c.clone())
}

/// One judgement with the counts it judged.
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    pub candidate: Counts,
    pub baseline: Option<(u64, Counts)>,
    pub judgement: Judgement,
}

/// Judge `revision` from the traffic layer's cumulative counts: its own since `start`, the
/// baseline's whole.
pub fn judge_now(cfg: &AnalysisConfig, signals: &[(u64, Counts)], revision: u64, start: &AnalysisStart) -> Judged {
    let candidate = counts_of(signals, revision).unwrap_or_default().since(&start.counts_at_switch);
    let baseline = start.baseline.and_then(|b| counts_of(signals, b).map(|c| (b, c)));
    let judgement = judge(cfg, &candidate, baseline.as_ref().map(|(_, c)| c));
    Judged { candidate, baseline, judgement }
}

impl Judged {
    /// The evidence as an operation step or audit detail: the counts, the verdict, every check's
    /// statistic and threshold.
    pub fn evidence(&self, revision: u64) -> serde_json::Value {
        json!({
            "revision": revision,
            "requests": self.candidate.requests,
            "failures": self.candidate.failures,
            "baseline": self.baseline.as_ref().map(|(b, c)| json!({
                "revision": b, "requests": c.requests, "failures": c.failures,
            })),
            "verdict": self.judgement.verdict,
            "summary": self.judgement.summary(),
            "evidence": self.judgement.evidence,
        })
    }
}

/// "analysis failed: error ratio 30.0% over 40 requests, ...": the reason a failed revision carries.
pub fn failure_reason(judgement: &Judgement) -> String {
    format!("analysis failed: {}", judgement.summary())
}

/// What the end of a soak makes of a revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SoakEnd {
    KnownGood,
    /// Serving but never proven (`live`), for this reason.
    Unproven {
        reason: String,
    },
}

/// The end of a soak under analysis: known-good only when the last judgement passed and no
/// failure was acted on; otherwise `live`, saying why. `failed` is the reason recorded when a
/// failure was acted on without moving traffic (kill switch, pause).
pub fn soak_end(cfg: &AnalysisConfig, last: &Judged, failed: Option<&str>) -> SoakEnd {
    if let Some(reason) = failed {
        return SoakEnd::Unproven { reason: reason.to_owned() };
    }
    match last.judgement.verdict {
        Verdict::Pass => SoakEnd::KnownGood,
        Verdict::Inconclusive => SoakEnd::Unproven {
            reason: format!(
                "analysis inconclusive: {} of the {} requests needed",
                last.candidate.requests, cfg.min_requests
            ),
        },
        Verdict::Fail => SoakEnd::Unproven { reason: failure_reason(&last.judgement) },
    }
}

/// How a kill switch ended.
pub(crate) enum KillSwitched {
    /// The guard flags are off (named); traffic stays on the revision.
    FlagsOff(Vec<String>),
    /// It could not act, for this reason: the caller reverts instead.
    Fallback(String),
    /// Traffic already left the revision, or a newer soak took over: nothing to do.
    Gone,
}

impl Engine {
    /// Turn the guard flags of `revision` off as a journaled `kill-switch` operation carrying the
    /// evidence.
    pub(crate) async fn analysis_kill_switch(
        &self,
        app: &AppName,
        rt: &Arc<AppRuntime>,
        revision: u64,
        generation: u64,
        judged: &Judged,
    ) -> KillSwitched {
        let guarded_by = match self.store.revision(app, revision).await {
            Ok(rev) => rev.guarded_by,
            Err(e) => return KillSwitched::Fallback(format!("cannot read revision {revision}: {e}")),
        };
        if guarded_by.is_empty() {
            return KillSwitched::Fallback(format!(
                "revision {revision} was released without --guarded-by flags: no kill switch to turn off"
            ));
        }
        let flags = self.flag_switch.clone();
        let begin = Begin {
            app: app.clone(),
            kind: OperationKind::KillSwitch,
            actor: ACTOR.into(),
            target_revision: Some(revision),
            from_revision: Some(revision),
        };
        let Some((op, _lease)) = self.begin_automatic(rt, generation, begin).await else {
            return KillSwitched::Gone;
        };
        let evidence = judged.evidence(revision);
        let step =
            |name: &str, detail: String| Change::Step { operation: op.id, step: name.into(), detail: Some(detail) };
        if let Err(e) = self.apply_op(app, &op, vec![step("analysis-failed", evidence.to_string())]).await {
            tracing::error!(app = %app, operation = op.id, error = %e, "cannot record the analysis evidence");
        }
        let reason = failure_reason(&judged.judgement);
        let mut off = Vec::new();
        let mut errors = Vec::new();
        for key in &guarded_by {
            let result = flags.turn_off(key, ACTOR, &reason).await;
            let change = match result {
                Ok(true) => {
                    off.push(key.clone());
                    step("flag-off", format!("`{key}` turned off"))
                }
                Ok(false) => {
                    off.push(key.clone());
                    step("flag-off", format!("`{key}` was already off"))
                }
                Err(e) => {
                    errors.push(format!("`{key}`: {e}"));
                    step("flag-off-failed", format!("`{key}`: {e}"))
                }
            };
            if let Err(e) = self.apply_op(app, &op, vec![change]).await {
                tracing::error!(app = %app, operation = op.id, error = %e, "cannot record a kill-switch step");
            }
        }
        let (state, error, outcome) = if errors.is_empty() {
            (OperationState::Succeeded, None, "succeeded")
        } else {
            (OperationState::Failed, Some(format!("could not turn off {}", errors.join("; "))), "failed")
        };
        let changes = vec![
            Change::Finish { operation: op.id, state, error: error.clone() },
            Change::Audit(NewAudit {
                actor: ACTOR.into(),
                action: OperationKind::KillSwitch.as_str().into(),
                outcome: outcome.into(),
                detail: json!({
                    "operation": op.id, "revision": revision, "flags_off": off, "error": error, "analysis": evidence,
                }),
            }),
        ];
        if let Err(e) = self.apply_op(app, &op, changes).await {
            tracing::error!(app = %app, operation = op.id, error = %e, "cannot record the end of a kill switch");
        }
        match error {
            None => {
                tracing::warn!(app = %app, revision, flags = ?off, "analysis failed: guard flags turned off");
                KillSwitched::FlagsOff(off)
            }
            Some(e) => KillSwitched::Fallback(format!("the kill switch failed ({e})")),
        }
    }

    /// Record a failed analysis the app's configuration only pauses on: an audit entry and a warning.
    pub(crate) async fn pause_on_failure(&self, app: &AppName, revision: u64, judged: &Judged) {
        tracing::warn!(
            app = %app, revision, summary = %judged.judgement.summary(),
            "analysis failed; paused: the revision keeps serving, unproven, until an operator acts"
        );
        let audit = Change::Audit(NewAudit {
            actor: ACTOR.into(),
            action: "analysis".into(),
            outcome: "paused".into(),
            detail: judged.evidence(revision),
        });
        if let Err(e) = self.store.apply(app, vec![audit]).await {
            tracing::error!(app = %app, revision, error = %e, "cannot record a failed analysis");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(requests: u64, failures: u64) -> Counts {
        Counts { requests, failures, ..Counts::default() }
    }

    fn cfg() -> AnalysisConfig {
        AnalysisConfig { max_error_ratio: 0.01, min_requests: 50, ..AnalysisConfig::default() }
    }

    #[test]
    fn the_candidate_is_judged_from_the_switch_and_the_baseline_whole() {
        let signals = vec![(1, counts(1_000, 2)), (2, counts(130, 40))];
        // (name, start, candidate requests and failures judged, baseline judged, verdict)
        let cases = [
            (
                "first time live",
                AnalysisStart { baseline: Some(1), counts_at_switch: Counts::default() },
                (130, 40),
                Some(1),
                Verdict::Fail,
            ),
            (
                "back after an undo: its earlier failures do not count",
                AnalysisStart { baseline: Some(1), counts_at_switch: counts(100, 40) },
                (30, 0),
                Some(1),
                Verdict::Inconclusive,
            ),
            (
                "no baseline",
                AnalysisStart { baseline: None, counts_at_switch: counts(60, 0) },
                (70, 40),
                None,
                Verdict::Fail,
            ),
            (
                "a baseline the traffic layer never saw",
                AnalysisStart { baseline: Some(7), counts_at_switch: Counts::default() },
                (130, 40),
                None,
                Verdict::Fail,
            ),
        ];
        for (name, start, (requests, failures), baseline, verdict) in cases {
            let j = judge_now(&cfg(), &signals, 2, &start);
            assert_eq!((j.candidate.requests, j.candidate.failures), (requests, failures), "{name}");
            assert_eq!(j.baseline.as_ref().map(|(b, _)| *b), baseline, "{name}");
            assert_eq!(j.judgement.verdict, verdict, "{name}");
        }
        // A revision the traffic layer has not seen at all: nothing judged, never a pass.
        let j = judge_now(&cfg(), &[], 2, &AnalysisStart::default());
        assert_eq!((j.candidate.requests, j.judgement.verdict), (0, Verdict::Inconclusive));
    }

    #[test]
    fn the_end_of_a_soak_promotes_only_a_pass() {
        let judged =
            |requests, failures| judge_now(&cfg(), &[(2, counts(requests, failures))], 2, &AnalysisStart::default());
        // (name, judged, failure acted on, end)
        let cases = [
            ("passed", judged(500, 0), None, SoakEnd::KnownGood),
            (
                "too little traffic",
                judged(12, 0),
                None,
                SoakEnd::Unproven { reason: "analysis inconclusive: 12 of the 50 requests needed".into() },
            ),
            (
                "no traffic",
                judged(0, 0),
                None,
                SoakEnd::Unproven { reason: "analysis inconclusive: 0 of the 50 requests needed".into() },
            ),
            (
                "a failure acted on without moving traffic",
                judged(500, 0),
                Some("analysis failed, kill switch"),
                SoakEnd::Unproven { reason: "analysis failed, kill switch".into() },
            ),
            (
                "failing at the very end",
                judged(100, 40),
                None,
                SoakEnd::Unproven { reason: failure_reason(&judged(100, 40).judgement) },
            ),
        ];
        for (name, j, failed, want) in cases {
            assert_eq!(soak_end(&cfg(), &j, failed), want, "{name}");
        }
    }

    #[test]
    fn the_evidence_carries_counts_statistic_and_threshold() {
        let signals = vec![(1, counts(300, 0)), (2, counts(40, 12))];
        let j =
            judge_now(&cfg(), &signals, 2, &AnalysisStart { baseline: Some(1), counts_at_switch: Counts::default() });
        let e = j.evidence(2);
        assert_eq!(
            (e["revision"].clone(), e["requests"].clone(), e["failures"].clone()),
            (json!(2), json!(40), json!(12))
        );
        assert_eq!(e["baseline"], json!({"revision": 1, "requests": 300, "failures": 0}));
        assert_eq!(e["verdict"], "fail");
        let check = &e["evidence"][0];
        assert_eq!(check["check"], "error-ratio");
        assert!(check["statistic"].as_f64().unwrap() >= check["threshold"].as_f64().unwrap(), "{e}");
        assert!(failure_reason(&j.judgement).starts_with("analysis failed: error ratio 30.0% over 40 requests"));
    }
}
