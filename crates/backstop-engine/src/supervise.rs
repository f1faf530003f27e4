//! Background supervision: the soak watcher that promotes a revision to
//! known-good or reverts it (judging its traffic too when the app configures analysis, see
//! [`crate::analysis`]), and the reaper that stops warm instances whose
//! keep-warm time is over.

use std::sync::Arc;
use std::time::Duration;

use backstop_core::analysis::{AnalysisConfig, OnFailure, Verdict};
use backstop_core::soak::{self, Observation, SoakState, SoakVerdict};
use backstop_core::{AppName, OperationKind, RevisionStatus};
use backstop_store::{Change, InstanceRole, NewAudit, Operation, StoreError};
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::analysis::{
    ACTOR, AnalysisStart, Judged, KillSwitched, LastAnalysis, SoakEnd, failure_reason, judge_now, soak_end,
};
use crate::engine::{AppRuntime, Begin, Engine, OpLease};
use crate::ops::{Abandon, MoveBack, OpScope};

/// How often a soak watcher with analysis reads the revision's traffic.
const ANALYSIS_TICK: Duration = Duration::from_millis(1);

/// A soak watcher's analysis: its settings, where it started, the last judgement, and the reason
/// recorded once a failure was acted on without moving traffic (after which it judges no more).
struct Watch {
    cfg: AnalysisConfig,
    start: AnalysisStart,
    last: Option<Judged>,
    acted: Option<String>,
}

/// An automatic revert: why (the failed revision's reason), who, and steps recorded first.
struct Revert {
    reason: String,
    actor: &'static str,
    steps: Vec<(String, String)>,
}

impl Revert {
    /// A revert for a failed health check or a death during the soak.
    fn health(reason: &str) -> Revert {
        Revert { reason: reason.to_owned(), actor: "backstop", steps: Vec::new() }
    }
}

impl Engine {
    /// Watch `revision` until `until`: promote it to known-good if it stays
    /// alive and healthy (and, with analysis configured, its own traffic passes), revert to the
    /// previous revision if it does not. Starting a watcher cancels the app's previous one.
    pub(crate) fn start_soak(
        self: &Engine,
        app: &AppName,
        rt: &Arc<AppRuntime>,
        revision: u64,
        until: Option<DateTime<Utc>>,
        start: AnalysisStart,
    ) {
        let generation = rt.next_soak_generation();
        let Some(until) = until else { return };
        let Some(ctx) = self.me() else { return };
        let (app, rt) = (app.clone(), rt.clone());
        tokio::spawn(async move {
            let mut state = SoakState::default();
            let mut watch = rt.config().analysis.clone().map(|cfg| Watch { cfg, start, last: None, acted: None });
            let mut next_probe = tokio::time::Instant::now() + rt.config().health_interval;
            loop {
                // Analysis looks at the traffic every few milliseconds (reading the proxy's counters
                // costs microseconds), so a failing revision is caught within a few of its requests
                // whatever the load; health probes keep their own interval.
                let judging = watch.as_ref().is_some_and(|w| w.acted.is_none());
                let wake =
                    if judging { next_probe.min(tokio::time::Instant::now() + ANALYSIS_TICK) } else { next_probe };
                let end = tokio::time::Instant::now() + remaining(until).max(Duration::from_millis(10));
                tokio::time::sleep_until(wake.min(end)).await;
                if rt.soak_generation() != generation {
                    return;
                }
                let Some(slot) = rt.slot(revision) else { return };
                if let Some(w) = watch.as_mut().filter(|w| w.acted.is_none()) {
                    if !ctx.analyse(&app, &rt, revision, generation, w).await {
                        return;
                    }
                }
                let now = tokio::time::Instant::now();
                if now < next_probe && remaining(until) > Duration::ZERO {
                    continue;
                }
                next_probe = now + rt.config().health_interval;
                let observation = if !slot.running.instance.is_alive() {
                    Observation::Died(slot.running.instance.exit_status().unwrap_or_else(|| "exited".into()))
                } else {
                    match slot.running.instance.probe(&rt.config().health, Duration::from_secs(2)).await {
                        Ok(code) => Observation::Answered(code),
                        Err(e) => Observation::Unreachable(e.to_string()),
                    }
                };
                let verdict = soak::observe(&mut state, observation, rt.config().soak_failures, Utc::now(), until);
                if let SoakVerdict::Revert { reason } = &verdict {
                    ctx.auto_revert(&app, &rt, revision, generation, Revert::health(reason)).await;
                    return;
                }
                if verdict == SoakVerdict::Proven {
                    ctx.end_soak(&app, &rt, revision, generation, watch.as_ref()).await;
                    // Still live and not already acted on: keep watching its traffic.
                    if let Some(w) = watch.filter(|w| w.acted.is_none()) {
                        ctx.watch_live(&app, &rt, revision, generation, w.cfg).await;
                    }
                    return;
                }
            }
        });
    }

    /// Judge the soaking revision once and act on a failure. False when the watch is over (the
    /// revision was reverted, or traffic left it).
    async fn analyse(
        &self,
        app: &AppName,
        rt: &Arc<AppRuntime>,
        revision: u64,
        generation: u64,
        w: &mut Watch,
    ) -> bool {
        let judged = judge_now(&w.cfg, &rt.traffic.signals(), revision, &w.start);
        let failed = judged.judgement.verdict == Verdict::Fail;
        let mut last = LastAnalysis {
            revision,
            judgement: judged.judgement.clone(),
            requests: judged.candidate.requests,
            failures: judged.candidate.failures,
            action: None,
            at: Utc::now(),
        };
        if failed {
            last.action = Some(w.cfg.on_failure);
        }
        rt.set_last_analysis(last);
        w.last = Some(judged.clone());
        if !failed {
            return true;
        }
        let reason = failure_reason(&judged.judgement);
        let evidence = ("analysis-failed".to_owned(), judged.evidence(revision).to_string());
        match w.cfg.on_failure {
            OnFailure::Revert => {
                self.brake(app, rt, revision).await;
                let revert = Revert { reason, actor: ACTOR, steps: vec![evidence] };
                self.auto_revert(app, rt, revision, generation, revert).await;
                false
            }
            OnFailure::KillSwitch => match self.analysis_kill_switch(app, rt, revision, generation, &judged).await {
                KillSwitched::FlagsOff(flags) => {
                    w.acted = Some(format!("{reason}; kill switch turned off {}", flags.join(", ")));
                    true
                }
                KillSwitched::Fallback(why) => {
                    tracing::warn!(app = %app, revision, why, "kill switch unavailable; reverting instead");
                    let unavailable = ("kill-switch-unavailable".to_owned(), format!("{why}; reverting instead"));
                    let revert = Revert { reason, actor: ACTOR, steps: vec![evidence, unavailable] };
                    self.auto_revert(app, rt, revision, generation, revert).await;
                    false
                }
                KillSwitched::Gone => false,
            },
            OnFailure::Pause => {
                self.pause_on_failure(app, revision, &judged).await;
                w.acted = Some(format!("{reason}; paused for an operator"));
                true
            }
        }
    }

    /// Stop the harm before the paperwork: point traffic at the warm revision the revert will go back
    /// to at once, in memory, unless an operation holds the app. The journaled revert that follows
    /// makes the same switch and records it; the ledger is not touched here, so a crash in between
    /// restarts onto the failing revision, whose soak (and analysis) starts again.
    async fn brake(&self, app: &AppName, rt: &Arc<AppRuntime>, revision: u64) {
        let Ok(_guard) = rt.ops.try_lock() else { return };
        let Ok(revisions) = self.store.revisions(app).await else { return };
        let Ok(target) = backstop_core::rollback::choose_target(&revisions, Some(revision), None) else { return };
        let Some(slot) = rt.slot(target.revision) else { return };
        if slot.running.instance.is_alive() && rt.traffic.current().is_some_and(|c| c.revision == revision) {
            match rt.traffic.switch(Some(&slot.running.endpoint)).await {
                Ok(_) => {
                    tracing::warn!(app = %app, from = revision, to = target.revision, "analysis failed: traffic moved back at once")
                }
                Err(e) => tracing::error!(app = %app, error = %e, "analysis failed: cannot move traffic back yet"),
            }
        }
    }

    /// The soak is over: known-good, or (under analysis that did not pass) `live`, never proven.
    async fn end_soak(
        &self,
        app: &AppName,
        rt: &Arc<AppRuntime>,
        revision: u64,
        generation: u64,
        watch: Option<&Watch>,
    ) {
        let _guard = rt.ops.lock().await;
        if rt.soak_generation() != generation {
            return;
        }
        let end = match watch {
            None => SoakEnd::KnownGood,
            Some(w) => match &w.last {
                Some(last) => soak_end(&w.cfg, last, w.acted.as_deref()),
                // The soak ended before the first judgement: judge what there is.
                None => soak_end(&w.cfg, &judge_now(&w.cfg, &rt.traffic.signals(), revision, &w.start), None),
            },
        };
        let analysis = watch.and_then(|w| w.last.as_ref()).map(|j| j.evidence(revision));
        let changes = match &end {
            SoakEnd::KnownGood => vec![
                Change::KnownGood { revision },
                Change::Audit(NewAudit {
                    actor: "backstop".into(),
                    action: "known-good".into(),
                    outcome: "succeeded".into(),
                    detail: match &analysis {
                        // Without analysis configured, the entry is as it always was.
                        None => json!({ "revision": revision }),
                        Some(a) => json!({ "revision": revision, "analysis": a }),
                    },
                }),
            ],
            SoakEnd::Unproven { reason } => vec![
                Change::Status { revision, status: RevisionStatus::Live, reason: Some(reason.clone()) },
                Change::SoakUntil { revision, until: None },
                Change::Audit(NewAudit {
                    actor: ACTOR.into(),
                    action: "soak-ended".into(),
                    outcome: "unproven".into(),
                    detail: json!({ "revision": revision, "reason": reason, "analysis": analysis }),
                }),
            ],
        };
        if let Err(e) = self.store.apply(app, changes).await {
            tracing::error!(app = %app, revision, error = %e, "could not record the end of a soak");
            return;
        }
        match end {
            SoakEnd::Unproven { reason } => {
                tracing::warn!(app = %app, revision, reason, "soak over, revision not proven: live");
            }
            SoakEnd::KnownGood => {
                tracing::info!(app = %app, revision, "revision survived its soak: known-good");
                if rt.config().database.as_ref().is_some_and(|d| d.auto_contract) {
                    // After the lock is released: the contract takes it itself.
                    if let Some(ctx) = self.me() {
                        let app = app.clone();
                        tokio::spawn(async move { ctx.auto_contract(&app, revision).await });
                    }
                }
            }
        }
    }

    /// Begin an operation the engine starts itself on the revision `begin.from_revision`: wait for
    /// any operator operation to finish, and begin unless the watch was cancelled or traffic
    /// already left the revision.
    pub(crate) async fn begin_automatic(
        &self,
        rt: &Arc<AppRuntime>,
        generation: u64,
        begin: Begin,
    ) -> Option<(Operation, OpLease)> {
        let app = &begin.app;
        for _ in 0..600 {
            if rt.soak_generation() != generation {
                return None;
            }
            let live = match self.store.app(app).await {
                Ok(a) => a.live_revision,
                Err(e) => {
                    tracing::error!(app = %app, error = %e, "cannot read app state");
                    return None;
                }
            };
            if live.is_none() || live != begin.from_revision {
                return None;
            }
            match self.begin(rt, begin.clone()).await {
                Ok(started) => return Some(started),
                Err(StoreError::Busy { .. }) => tokio::time::sleep(Duration::from_millis(100)).await,
                Err(e) => {
                    tracing::error!(app = %app, error = %e, kind = %begin.kind, "cannot start an automatic operation");
                    return None;
                }
            }
        }
        None
    }

    async fn auto_revert(&self, app: &AppName, rt: &Arc<AppRuntime>, revision: u64, generation: u64, revert: Revert) {
        let Revert { reason, actor, steps } = revert;
        tracing::warn!(app = %app, revision, reason, "revision failed its soak; reverting");
        let begin = Begin {
            app: app.clone(),
            kind: OperationKind::AutoRevert,
            actor: actor.into(),
            target_revision: None,
            from_revision: Some(revision),
        };
        let Some((op, _lease)) = self.begin_automatic(rt, generation, begin).await else { return };
        if !steps.is_empty() {
            let changes = steps
                .into_iter()
                .map(|(step, detail)| Change::Step { operation: op.id, step, detail: Some(detail) })
                .collect();
            if let Err(e) = self.apply_op(app, &op, changes).await {
                tracing::error!(app = %app, operation = op.id, error = %e, "cannot record why the revert runs");
            }
        }
        let abandon = Abandon::Failed { reason: reason.clone() };
        let at = OpScope { app, rt, op: &op, actor };
        let back = MoveBack { requested: None, live: Some(revision), abandon, force: false };
        match self.move_back(at, back).await {
            Ok(o) => tracing::warn!(app = %app, from = revision, to = o.revision, "reverted"),
            Err(e) => {
                tracing::error!(app = %app, revision, error = %e, "automatic revert failed");
                // Record the failure on the revision even with nowhere to go back to.
                let _ = self
                    .store
                    .apply(
                        app,
                        vec![Change::Status {
                            revision,
                            status: backstop_core::RevisionStatus::Failed,
                            reason: Some(format!("{reason}; no revision to revert to: {e}")),
                        }],
                    )
                    .await;
            }
        }
    }

    /// Restart the live revision of any app whose serving instance exited
    /// outside an operation (a soaking revision is the soak watcher's job).
    pub async fn watch_serving(&self) {
        for (app, rt) in self.apps().iter() {
            // Memory first: the store is read only when a serving instance has died.
            let dead_serving: Vec<(u64, String)> = rt
                .slots()
                .iter()
                .filter(|(_, s)| s.role == InstanceRole::Serving && !s.running.instance.is_alive())
                .map(|(r, s)| (*r, s.running.instance.exit_status().unwrap_or_else(|| "exited".into())))
                .collect();
            if dead_serving.is_empty() {
                continue;
            }
            let dead = {
                let Ok(_guard) = rt.ops.try_lock() else { continue };
                let Ok(record) = self.store.app(app).await else { continue };
                let Some(live) = record.live_revision else { continue };
                match dead_serving.into_iter().find(|(r, _)| *r == live) {
                    Some((live, status)) => {
                        let soaking =
                            self.store.revision(app, live).await.is_ok_and(|r| r.status == RevisionStatus::Soaking);
                        (!soaking).then_some((live, status))
                    }
                    None => None,
                }
            };
            if let Some((live, status)) = dead {
                let why = format!("its serving instance {status}");
                if let Err(e) = self.restart_live(app, rt, live, &why).await {
                    tracing::error!(app = %app, error = %e, "restarting the live revision failed");
                }
            }
        }
    }

    /// Stop warm instances whose keep-warm time is over, after their in-flight requests drain.
    pub async fn reap_expired(&self) {
        let now = Utc::now();
        for (app, rt) in self.apps().iter() {
            let Ok(_guard) = rt.ops.try_lock() else { continue };
            let expired: Vec<u64> = rt
                .slots()
                .iter()
                .filter(|(_, s)| s.role == InstanceRole::Warm && s.warm_until.is_some_and(|t| t <= now))
                .map(|(r, _)| *r)
                .collect();
            for revision in expired {
                let Some(slot) = rt.slot(revision) else { continue };
                // On the books as `stopping` until it is gone.
                let stopping = slot.running.record(app, self.driver_for(rt).name(), InstanceRole::Stopping, None);
                if let Err(e) = self.store.apply(app, vec![Change::PutInstance(stopping)]).await {
                    tracing::error!(app = %app, revision, error = %e, "cannot record the end of a warm instance");
                    continue;
                }
                let Some(slot) = rt.take_slot(revision) else { continue };
                tracing::info!(app = %app, revision, "keep-warm time over: stopping instance");
                self.retire(app, rt, slot.running);
            }
        }
    }
}

fn remaining(until: DateTime<Utc>) -> Duration {
    (until - Utc::now()).to_std().unwrap_or(Duration::ZERO)
}
