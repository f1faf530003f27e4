//! Incidents: the recovery ladder decided from facts read off the real system, taken as one
//! journaled step, and its timeline recorded until the signals are healthy again.
//!
//! Gathering the facts is the only I/O here; the decision is `backstop_core::incident::decide`.
//! `execute` takes the first rung that is available and safe, never an unsafe one: the kill switch
//! turns the live revision's guard flags off through the flag service, the traffic swap and the
//! redeploy are an undo to the target (which re-checks the schema and the artifact digest itself and
//! refuses rather than land old code on a schema it cannot read), and roll forward is only
//! recorded, with the commands to start it.

use std::sync::Arc;
use std::time::Duration;

use backstop_core::analysis::{AnalysisConfig, Verdict, WATCH_THRESHOLD, judge, watch_step};
use backstop_core::incident::{ArtifactState, Decision, Facts, GuardFlag, Rung, SchemaState, decide};
use backstop_core::report::{IncidentRecord, ReleaseOutcome, ReleaseRecord, Report, report};
use backstop_core::rollback::choose_target;
use backstop_core::signals::Counts;
use backstop_core::{AppName, OperationKind, OperationState};
use backstop_store::{Change, Incident, IncidentUpdate, InstanceRole, NewAudit, NewIncident};
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::engine::{AppRuntime, Begin, Engine};
use crate::error::OpError;
use crate::ops::UndoRequest;

/// How long an incident's recovery is watched for before it is left to the operator.
const RECOVERY_WATCH: Duration = Duration::from_secs(30 * 60);
/// How often the recovery watch looks at the signals.
const RECOVERY_TICK: Duration = Duration::from_millis(250);

/// What `incident APP` answers: the facts, the decision, and the incident when one was recorded.
#[derive(Debug, Clone)]
pub struct Assessment {
    pub facts: Facts,
    pub decision: Decision,
    pub incident: Option<Incident>,
    /// The rung `execute` took, if it moved anything.
    pub taken: Option<Rung>,
}

impl Engine {
    /// The facts the ladder is decided from, each read from the system as it is now.
    pub async fn incident_facts(&self, app: &AppName, rt: &Arc<AppRuntime>) -> Result<Facts, OpError> {
        let record = self.store.app(app).await?;
        let revisions = self.store.revisions(app).await?;
        let live = record.live_revision.and_then(|n| revisions.iter().find(|r| r.revision == n));
        let guard_flags = live
            .map(|r| {
                r.guarded_by
                    .iter()
                    .map(|key| {
                        let state = self.flag_switch.enabled(key);
                        GuardFlag { key: key.clone(), exists: state.is_some(), on: state == Some(true) }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let (target_revision, target_refusal) = match choose_target(&revisions, record.live_revision, None) {
            Ok(t) => (Some(t.revision), None),
            Err(refusal) => (None, Some(refusal.to_string())),
        };
        let target = target_revision.and_then(|n| revisions.iter().find(|r| r.revision == n));
        let target_warm = target_revision.is_some_and(|n| {
            rt.slot(n).is_some_and(|s| {
                matches!(s.role, InstanceRole::Warm | InstanceRole::Serving) && s.running.instance.is_alive()
            })
        });
        let target_artifact = match target {
            None => ArtifactState::Missing,
            Some(t) => match self.artifacts.verify(&t.digest) {
                Ok(_) => ArtifactState::Verified,
                Err(backstop_artifacts::ArtifactError::Missing { .. }) => ArtifactState::Missing,
                Err(e) => ArtifactState::Tampered { detail: e.to_string() },
            },
        };
        let target_schema = match target_revision {
            None => SchemaState::Unknown,
            Some(n) => match self.check_rollback(app, rt, n, record.live_revision).await {
                Ok(check) if !check.safe => SchemaState::Incompatible {
                    reason: format!("revision {n} cannot run on today's schema: {}", check.summary()),
                },
                Ok(check) if check.mode == crate::migrations::CheckMode::Unchecked => SchemaState::Unknown,
                Ok(_) => SchemaState::Compatible,
                // Not known to be safe: the ladder treats it as a locked door, with the reason.
                Err(e) => SchemaState::Incompatible { reason: format!("the schema could not be checked: {e}") },
            },
        };
        let target_cold_start_ms = match target_revision {
            Some(_) => self.last_cold_start(app).await,
            None => None,
        };
        Ok(Facts {
            app: app.to_string(),
            live_revision: record.live_revision,
            live_analysis: rt
                .last_analysis()
                .filter(|a| Some(a.revision) == record.live_revision)
                .map(|a| a.judgement.verdict),
            guard_flags,
            target_revision,
            target_refusal,
            target_warm,
            target_artifact,
            target_schema,
            target_cold_start_ms,
            live_git_commit: live.and_then(|r| r.git_commit.clone()),
        })
    }

    /// The cold start measured by the app's latest redeploy drill.
    pub(crate) async fn last_cold_start(&self, app: &AppName) -> Option<u64> {
        let drills = self.store.drills(Some(app), 20).await.ok()?;
        drills
            .iter()
            .filter(|d| d.rung == Rung::Redeploy.as_str() && d.outcome == "succeeded")
            .find_map(|d| d.figures.iter().find(|(phase, _)| phase == "cold-start").map(|(_, ms)| *ms))
    }

    /// What `incident APP` answers without `--execute`: nothing is recorded or moved.
    pub async fn incident_assess(&self, app_name: &str) -> Result<Assessment, OpError> {
        let (app, rt) = self.app(app_name)?;
        let facts = self.incident_facts(&app, &rt).await?;
        let decision = decide(&facts);
        Ok(Assessment { facts, decision, incident: None, taken: None })
    }

    /// `incident APP --execute`: record an incident, take the first available and safe rung, and
    /// watch for recovery. `detected_at` is when the trouble was noticed (now, for an operator).
    pub async fn incident_execute(
        &self,
        app_name: &str,
        actor: &str,
        detected_at: DateTime<Utc>,
    ) -> Result<Assessment, OpError> {
        let (app, rt) = self.app(app_name)?;
        let (facts, decision, incident) = self.open_incident(&app, &rt, actor, detected_at, None).await?;
        let rung = decision.recommended;
        let baseline = live_counts(&rt, facts.live_revision);
        let taken = match rung {
            Rung::KillSwitch => {
                let keys: Vec<String> =
                    facts.guard_flags.iter().filter(|f| f.exists && f.on).map(|f| f.key.clone()).collect();
                let reason = format!("incident {}", incident.id);
                let op = self.kill_switch(&app, &rt, facts.live_revision, &keys, actor, &reason).await?;
                Some((Some(op), facts.live_revision))
            }
            Rung::TrafficSwap | Rung::Redeploy => {
                let undo = UndoRequest { to_revision: facts.target_revision, force: false };
                let outcome = self.undo(app.as_str(), undo, actor).await?;
                Some((Some(outcome.operation), Some(outcome.revision)))
            }
            Rung::RollForward => None,
        };
        let incident = match taken {
            Some((operation, now_live)) => {
                let at = Utc::now();
                let update = IncidentUpdate::Mitigated { rung: rung.as_str().into(), operation, at };
                let incident = self.store.update_incident(incident.id, update).await?;
                // The revision serving now, counted from the moment of mitigation.
                let from = if now_live == facts.live_revision { baseline } else { live_counts(&rt, now_live) };
                self.watch_recovery(&app, &rt, incident.id, now_live, from);
                incident
            }
            None => {
                let update = IncidentUpdate::Decided { rung: rung.as_str().into(), at: Utc::now() };
                self.store.update_incident(incident.id, update).await?
            }
        };
        Ok(Assessment { facts, decision, incident: Some(incident), taken: taken.map(|_| rung) })
    }

    /// Record an incident from the facts now, with the decision and, when analysis opened it, its
    /// evidence; nothing is moved.
    pub async fn open_incident(
        &self,
        app: &AppName,
        rt: &Arc<AppRuntime>,
        opened_by: &str,
        detected_at: DateTime<Utc>,
        evidence: Option<serde_json::Value>,
    ) -> Result<(Facts, Decision, Incident), OpError> {
        let facts = self.incident_facts(app, rt).await?;
        let decision = decide(&facts);
        let mut facts_json = serde_json::to_value(&facts).unwrap_or_default();
        if let (Some(evidence), Some(map)) = (evidence, facts_json.as_object_mut()) {
            map.insert("analysis".into(), evidence);
        }
        let incident = self
            .store
            .open_incident(NewIncident {
                app: app.clone(),
                revision: facts.live_revision,
                opened_by: opened_by.to_owned(),
                facts: facts_json,
                decision: serde_json::to_value(&decision).unwrap_or_default(),
                detected_at,
                decided_at: Some(Utc::now()),
            })
            .await?;
        Ok((facts, decision, incident))
    }

    /// After its soak, keep watching the live revision's error ratio (`watch_step`, a CUSUM that
    /// forgets healthy history); when it alarms, open an incident for an operator instead of acting
    /// alone. Ends when the app's next switch starts another watcher.
    pub(crate) async fn watch_live(
        &self,
        app: &AppName,
        rt: &Arc<AppRuntime>,
        revision: u64,
        generation: u64,
        cfg: AnalysisConfig,
    ) {
        let mut last = live_counts(rt, Some(revision));
        let mut statistic = 0.0;
        loop {
            tokio::time::sleep(rt.config().health_interval).await;
            if rt.soak_generation() != generation {
                return;
            }
            let now = live_counts(rt, Some(revision));
            let step = now.since(&last);
            statistic = watch_step(&cfg, statistic, &step);
            last = now;
            if statistic < WATCH_THRESHOLD {
                continue;
            }
            let evidence = json!({
                "check": "error-ratio-after-soak",
                "statistic": statistic,
                "threshold": WATCH_THRESHOLD,
                "ceiling": cfg.max_error_ratio,
                "last_step": { "requests": step.requests, "failures": step.failures },
            });
            tracing::warn!(app = %app, revision, statistic, "the live revision's error ratio rose after its soak");
            match self.open_incident(app, rt, crate::analysis::ACTOR, Utc::now(), Some(evidence)).await {
                Ok((_, decision, incident)) => tracing::warn!(
                    app = %app, incident = incident.id, recommended = decision.recommended.as_str(),
                    "incident opened by analysis; `backstop incident {app} --execute` takes the recommended rung"
                ),
                Err(e) => tracing::error!(app = %app, error = %e, "cannot open an incident"),
            }
            return;
        }
    }

    /// Record `recovered_at` once the revision serving after mitigation is healthy: its analysis
    /// (the app's, or the default ceiling of 1 % failures) passes on the requests since mitigation.
    fn watch_recovery(&self, app: &AppName, rt: &Arc<AppRuntime>, id: u64, revision: Option<u64>, from: Counts) {
        let (Some(me), Some(revision)) = (self.me(), revision) else { return };
        let (app, rt) = (app.clone(), rt.clone());
        tokio::spawn(async move {
            // Recovery is judged on its own numbers, not against an earlier revision.
            let cfg = AnalysisConfig { relative: false, ..rt.config().analysis.clone().unwrap_or_default() };
            let deadline = tokio::time::Instant::now() + RECOVERY_WATCH;
            while tokio::time::Instant::now() < deadline {
                tokio::time::sleep(RECOVERY_TICK).await;
                let now = live_counts(&rt, Some(revision));
                if judge(&cfg, &now.since(&from), None).verdict == Verdict::Pass {
                    let update = IncidentUpdate::Recovered { at: Utc::now() };
                    if let Err(e) = me.store.update_incident(id, update).await {
                        tracing::error!(app = %app, incident = id, error = %e, "cannot record recovery");
                    }
                    tracing::info!(app = %app, incident = id, "signals healthy again: recovered");
                    return;
                }
            }
            tracing::warn!(app = %app, incident = id, "no recovery seen within the watch; left open");
        });
    }

    /// Turn `keys` off as one journaled operation (the flag writes are audited each on their own);
    /// returns the operation's id. Used by an incident's first rung and by analysis.
    pub async fn kill_switch(
        &self,
        app: &AppName,
        rt: &Arc<AppRuntime>,
        revision: Option<u64>,
        keys: &[String],
        actor: &str,
        why: &str,
    ) -> Result<u64, OpError> {
        let begin = Begin {
            app: app.clone(),
            kind: OperationKind::KillSwitch,
            actor: actor.into(),
            target_revision: revision,
            from_revision: revision,
        };
        let (op, _lease) = self.begin(rt, begin).await?;
        let mut turned = Vec::new();
        for key in keys {
            let reason = format!("{why}: kill switch of revision {}", revision.map_or("-".into(), |r| r.to_string()));
            match self.flag_switch.turn_off(key, actor, &reason).await {
                Ok(_) => turned.push(key.clone()),
                Err(message) => {
                    self.finish_failed(app, &op, actor, "kill-switch", revision, &message).await;
                    return Err(OpError::BadRequest { message });
                }
            }
        }
        let detail = json!({ "operation": op.id, "revision": revision, "flags": turned, "why": why });
        self.apply_op(
            app,
            &op,
            vec![
                Change::Step { operation: op.id, step: "flags-off".into(), detail: Some(turned.join(", ")) },
                Change::Finish { operation: op.id, state: OperationState::Succeeded, error: None },
                Change::Audit(NewAudit {
                    actor: actor.into(),
                    action: "kill-switch".into(),
                    outcome: "succeeded".into(),
                    detail,
                }),
            ],
        )
        .await?;
        Ok(op.id)
    }

    pub async fn close_incident(&self, id: u64, actor: &str, note: &str) -> Result<Incident, OpError> {
        if note.trim().is_empty() {
            return Err(OpError::BadRequest { message: "closing an incident needs a note".into() });
        }
        let update = IncidentUpdate::Closed { actor: actor.to_owned(), note: note.to_owned(), at: Utc::now() };
        Ok(self.store.update_incident(id, update).await?)
    }
}

/// The cumulative counts of `revision` as the traffic layer sees them now.
fn live_counts(rt: &AppRuntime, revision: Option<u64>) -> Counts {
    revision.and_then(|r| crate::analysis::counts_of(&rt.traffic.signals(), r)).unwrap_or_default()
}

/// How a release ended, read from its revision's status.
fn outcome_of(status: backstop_core::RevisionStatus) -> ReleaseOutcome {
    use backstop_core::RevisionStatus as S;
    match status {
        S::KnownGood | S::Permanent | S::Superseded | S::Live => ReleaseOutcome::Succeeded,
        S::Failed => ReleaseOutcome::Failed,
        S::RolledBack => ReleaseOutcome::Reverted,
        S::Deploying | S::Soaking => ReleaseOutcome::Pending,
    }
}

impl Engine {
    /// Delivery figures since `since` for one app (or all): releases from the ledger, incidents
    /// tied to the revision that caused them.
    pub async fn delivery_report(&self, app: Option<&str>, since: DateTime<Utc>) -> Result<Report, OpError> {
        let apps: Vec<AppName> = match app {
            Some(name) => vec![self.app(name)?.0],
            None => self.apps().keys().cloned().collect(),
        };
        let mut releases = Vec::new();
        let mut incidents = Vec::new();
        for app in &apps {
            let recorded = self.store.incidents(Some(app), 100_000).await?;
            for i in &recorded {
                if let Some(revision) = i.revision {
                    incidents.push(IncidentRecord {
                        app: app.to_string(),
                        revision,
                        detected_at: i.detected_at,
                        recovered_at: i.recovered_at,
                    });
                }
            }
            for r in self.store.revisions(app).await? {
                releases.push(ReleaseRecord {
                    app: app.to_string(),
                    revision: r.revision,
                    released_at: r.created_at,
                    outcome: outcome_of(r.status),
                    incident: recorded.iter().any(|i| i.revision == Some(r.revision)),
                });
            }
        }
        Ok(report(&releases, &incidents, since, Utc::now()))
    }
}
