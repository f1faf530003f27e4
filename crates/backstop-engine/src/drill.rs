//! Drills: practise the rollback before it is needed.
//!
//! A dry run reports the rollback's readiness: a known-good target, its artifact verified, warm or
//! with a measured cold start, a compatible schema, inside the rollback window, the live revision's
//! guard flags present. A real drill performs one rung on the app and times each phase:
//! `traffic-swap` points the proxy at the target's warm instance and back (the ledger's live
//! revision never changes, so a crash in between leaves recovery to point traffic at the live
//! revision again); `redeploy` starts the target's artifact beside the live instance, waits until it
//! is healthy and stops it, without moving traffic (it is on the books as `starting` meanwhile, so a
//! crash leaves no orphan). Both are journaled operations holding the app's lease.

use std::sync::Arc;
use std::time::Instant;

use backstop_core::incident::{ArtifactState, Rung, SchemaState};
use backstop_core::{AppName, OperationKind, OperationState, RevisionStatus};
use backstop_store::{Change, Drill, InstanceRole, NewAudit, NewDrill};
use chrono::Utc;
use serde_json::json;

use crate::engine::{AppRuntime, Begin, Engine};
use crate::error::OpError;

/// One readiness check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub check: &'static str,
    pub ok: bool,
    pub detail: String,
}

/// Whether a rollback of the app would work now, check by check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    pub app: String,
    pub live_revision: Option<u64>,
    pub target_revision: Option<u64>,
    pub checks: Vec<Check>,
}

impl Readiness {
    pub fn ready(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    /// The failing checks, one line each.
    pub fn failing(&self) -> Vec<String> {
        self.checks.iter().filter(|c| !c.ok).map(|c| format!("{}: {}", c.check, c.detail)).collect()
    }
}

impl Engine {
    /// The rollback readiness of an app, from the same facts the incident ladder reads.
    pub async fn readiness(&self, app: &AppName, rt: &Arc<AppRuntime>) -> Result<Readiness, OpError> {
        let facts = self.incident_facts(app, rt).await?;
        let revisions = self.store.revisions(app).await?;
        let mut checks = Vec::new();
        let target = facts.target_revision;
        checks.push(Check {
            check: "known-good",
            ok: target.is_some(),
            detail: match (target, &facts.target_refusal) {
                (Some(t), _) => format!("revision {t} is the rollback target"),
                (None, Some(refusal)) => refusal.clone(),
                (None, None) => "no known-good revision".into(),
            },
        });
        if let Some(t) = target {
            checks.push(Check {
                check: "artifact",
                ok: facts.target_artifact == ArtifactState::Verified,
                detail: match &facts.target_artifact {
                    ArtifactState::Verified => format!("revision {t}'s artifact is stored and its digest verifies"),
                    ArtifactState::Missing => format!("revision {t}'s artifact is not in the store"),
                    ArtifactState::Tampered { detail } => format!("revision {t}'s artifact fails its digest: {detail}"),
                },
            });
            let (ok, detail) = match (facts.target_warm, facts.target_cold_start_ms) {
                (true, _) => (true, format!("revision {t} runs warm: an undo is a pointer swap")),
                (false, Some(ms)) => (true, format!("revision {t} is cold; its last measured cold start took {ms} ms")),
                (false, None) => (
                    false,
                    format!(
                        "revision {t} is cold and its cold start was never measured (`backstop drill {app} --rung redeploy`)"
                    ),
                ),
            };
            checks.push(Check { check: "warm", ok, detail });
            checks.push(Check {
                check: "schema",
                ok: !matches!(facts.target_schema, SchemaState::Incompatible { .. }),
                detail: match &facts.target_schema {
                    SchemaState::Compatible => format!("revision {t} can run on today's schema"),
                    SchemaState::Unknown => "no schema recorded to compare: not known to have changed".into(),
                    SchemaState::Incompatible { reason } => reason.clone(),
                },
            });
            let floor = revisions.iter().filter(|r| r.status == RevisionStatus::Permanent).map(|r| r.revision).max();
            checks.push(Check {
                check: "rollback window",
                ok: floor.is_none_or(|p| t >= p),
                detail: match floor {
                    Some(p) if t < p => format!("revision {p} is permanent: no rollback goes before it"),
                    Some(p) => format!("revision {t} is not before the permanent revision {p}"),
                    None => "no permanent revision limits the window".into(),
                },
            });
        }
        let missing: Vec<&str> = facts.guard_flags.iter().filter(|f| !f.exists).map(|f| f.key.as_str()).collect();
        checks.push(Check {
            check: "guard flags",
            ok: missing.is_empty(),
            detail: if facts.guard_flags.is_empty() {
                "the live revision declares no guard flag (no kill switch)".into()
            } else if missing.is_empty() {
                format!("{} present", facts.guard_flags.iter().map(|f| f.key.as_str()).collect::<Vec<_>>().join(", "))
            } else {
                format!("missing: {}", missing.join(", "))
            },
        });
        Ok(Readiness { app: app.to_string(), live_revision: facts.live_revision, target_revision: target, checks })
    }

    /// Whether the way back from a release made now would be ready: the live revision (the next
    /// rollback target) is proven, its artifact verifies, and it will stay warm or its cold start
    /// was measured. The first release of an app has nothing to go back to and is always ready.
    pub async fn release_readiness(&self, app: &AppName, rt: &Arc<AppRuntime>) -> Result<Readiness, OpError> {
        let record = self.store.app(app).await?;
        let mut checks = Vec::new();
        if let Some(live) = record.live_revision {
            let rev = self.store.revision(app, live).await?;
            checks.push(Check {
                check: "known-good",
                ok: rev.status.is_proven(),
                detail: if rev.status.is_proven() {
                    format!("revision {live}, live now, is {} and would be the way back", rev.status.as_str())
                } else {
                    format!("revision {live}, live now, is {} (not proven): a bad release would have no proven revision to go back to", rev.status.as_str())
                },
            });
            let artifacts = self.artifacts.clone();
            let digest = rev.digest.clone();
            let verified = tokio::task::spawn_blocking(move || artifacts.verify(&digest)).await;
            let (ok, detail) = match verified {
                Ok(Ok(_)) => (true, format!("revision {live}'s artifact verifies")),
                Ok(Err(e)) => (false, format!("revision {live}'s artifact: {e}")),
                Err(e) => (false, format!("revision {live}'s artifact could not be checked: {e}")),
            };
            checks.push(Check { check: "artifact", ok, detail });
            let cold = self.last_cold_start(app).await;
            let (ok, detail) = match (rt.config().keep_warm.is_zero(), cold) {
                (false, _) => (
                    true,
                    format!("revision {live} stays warm for {}", humantime::format_duration(rt.config().keep_warm)),
                ),
                (true, Some(ms)) => (true, format!("keep_warm is 0s; the last measured cold start took {ms} ms")),
                (true, None) => (false, "keep_warm is 0s and no cold start was ever measured".to_owned()),
            };
            checks.push(Check { check: "warm", ok, detail });
        }
        Ok(Readiness {
            app: app.to_string(),
            live_revision: record.live_revision,
            target_revision: record.live_revision,
            checks,
        })
    }

    /// `drill APP [--rung R] [--dry-run]`: readiness, and unless a dry run, the rung performed and
    /// recorded with its figures.
    pub async fn drill(
        &self,
        app_name: &str,
        rung: Rung,
        dry_run: bool,
        actor: &str,
    ) -> Result<(Readiness, Option<Drill>), OpError> {
        let (app, rt) = self.app(app_name)?;
        let readiness = self.readiness(&app, &rt).await?;
        if dry_run {
            return Ok((readiness, None));
        }
        if !matches!(rung, Rung::TrafficSwap | Rung::Redeploy) {
            return Err(OpError::BadRequest {
                message: format!("a drill practises traffic-swap or redeploy, not {}", rung.as_str()),
            });
        }
        let open = self.store.incidents(Some(&app), 1000).await?.into_iter().find(|i| i.closed_at.is_none());
        if let Some(open) = open {
            return Err(OpError::DrillRefused {
                reason: format!("incident {} of `{app}` is open (`backstop incident close {}`)", open.id, open.id),
            });
        }
        let (Some(live), Some(target)) = (readiness.live_revision, readiness.target_revision) else {
            return Err(OpError::DrillRefused {
                reason: format!("`{app}` has no live revision and known-good target to drill between"),
            });
        };
        let (op, _lease) = self
            .begin(
                &rt,
                Begin {
                    app: app.clone(),
                    kind: OperationKind::Drill,
                    actor: actor.into(),
                    target_revision: Some(target),
                    from_revision: Some(live),
                },
            )
            .await?;
        let started_at = Utc::now();
        let result = match rung {
            Rung::TrafficSwap => self.drill_swap(&rt, live, target).await,
            _ => self.drill_redeploy(&app, &rt, &op, target).await,
        };
        let ended_at = Utc::now();
        let (figures, error) = match result {
            Ok(figures) => (figures, None),
            Err((figures, error)) => (figures, Some(error)),
        };
        let state = if error.is_none() { OperationState::Succeeded } else { OperationState::Failed };
        let detail =
            json!({ "operation": op.id, "rung": rung.as_str(), "target": target, "figures": figures, "error": error });
        self.apply_op(
            &app,
            &op,
            vec![
                Change::Step { operation: op.id, step: "drilled".into(), detail: Some(detail.to_string()) },
                Change::Finish { operation: op.id, state, error: error.clone() },
                Change::Audit(NewAudit {
                    actor: actor.into(),
                    action: "drill".into(),
                    outcome: state.as_str().into(),
                    detail,
                }),
            ],
        )
        .await?;
        let drill = self
            .store
            .record_drill(NewDrill {
                app: app.clone(),
                rung: rung.as_str().into(),
                live_revision: Some(live),
                target: Some(target),
                actor: actor.into(),
                started_at,
                ended_at,
                succeeded: error.is_none(),
                figures,
                error,
            })
            .await?;
        Ok((readiness, Some(drill)))
    }

    /// Swap the proxy to the target's warm instance and back; the ledger is not touched.
    async fn drill_swap(
        &self,
        rt: &Arc<AppRuntime>,
        live: u64,
        target: u64,
    ) -> Result<Vec<(String, u64)>, (Vec<(String, u64)>, String)> {
        let mut figures = Vec::new();
        let (Some(to), Some(back)) = (rt.slot(target), rt.slot(live)) else {
            return Err((figures, format!("revision {target} is not warm: drill the redeploy rung instead")));
        };
        if !to.running.instance.is_alive() {
            return Err((figures, format!("revision {target}'s warm instance is not running")));
        }
        let t = Instant::now();
        let healthy = to.running.instance.is_healthy(&rt.config().health, rt.config().health_timeout).await;
        figures.push(("probe".to_owned(), ms(t)));
        if !healthy {
            return Err((figures, format!("revision {target}'s warm instance does not answer its health path")));
        }
        let t = Instant::now();
        if let Err(e) = rt.traffic.switch(Some(&to.running.endpoint)).await {
            return Err((figures, format!("traffic could not move to revision {target}: {e}")));
        }
        figures.push(("swap".to_owned(), ms(t)));
        let t = Instant::now();
        if let Err(e) = rt.traffic.switch(Some(&back.running.endpoint)).await {
            return Err((figures, format!("traffic could not move back to revision {live}: {e}")));
        }
        figures.push(("swap-back".to_owned(), ms(t)));
        Ok(figures)
    }

    /// Cold-start the target beside the live instance, health-check it, stop it.
    async fn drill_redeploy(
        &self,
        app: &AppName,
        rt: &Arc<AppRuntime>,
        op: &backstop_store::Operation,
        target: u64,
    ) -> Result<Vec<(String, u64)>, (Vec<(String, u64)>, String)> {
        let mut figures = Vec::new();
        if rt.slot(target).is_some() {
            return Err((figures, format!("revision {target} runs warm: its cold start cannot be drilled beside it")));
        }
        let rev = self.store.revision(app, target).await.map_err(|e| (Vec::new(), e.to_string()))?;
        let t = Instant::now();
        let running = self.start_instance(app, rt, &rev, op).await.map_err(|e| (Vec::new(), e.to_string()))?;
        figures.push(("cold-start".to_owned(), ms(t)));
        let t = Instant::now();
        let taken = rt.take_slot(target).filter(|s| s.role == InstanceRole::Starting);
        running.instance.stop(rt.config().stop_grace).await;
        if let Err(e) = self.store.apply(app, vec![Change::RemoveInstance { revision: target }]).await {
            tracing::error!(app = %app, revision = target, error = %e, "cannot record a drilled instance as stopped");
        }
        drop(taken);
        figures.push(("stop".to_owned(), ms(t)));
        Ok(figures)
    }
}

fn ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}
