//! Operations: release, undo and automatic revert. Each is journaled in the
//! store, holds the app's operation lock from start to end, and commits its
//! traffic switch in the same transaction that ends it.

use std::sync::Arc;
use std::time::Duration;

use backstop_core::rollback::choose_target;
use backstop_core::switch::{InstanceNow, Previous, Target, plan_switch};
use backstop_core::{AppName, Digest, OperationKind, OperationState, Revision, RevisionStatus};
use backstop_driver::{Artifact, StartSpec};
use backstop_store::{Change, InstanceRole, NewAudit, NewRevision, Operation};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::engine::{AppRuntime, Begin, Engine, Running, Slot};
use crate::error::OpError;
use crate::migrations::{ShippedMigration, ShippedQuery};

#[derive(Debug, Clone, Deserialize)]
pub struct ReleaseRequest {
    pub digest: Digest,
    pub version: String,
    #[serde(default)]
    pub change_cause: String,
    pub git_commit: Option<String>,
    /// The image of a release on a container platform, pinned by `digest`.
    #[serde(default)]
    pub image: Option<String>,
    /// Flags that guard the release's risky changes (each must exist).
    #[serde(default)]
    pub guarded_by: Vec<String>,
    /// The release's whole migration folder, in run order (`None`: the release ships none).
    #[serde(default)]
    pub migrations: Option<Vec<ShippedMigration>>,
    /// The queries the release's code runs, for the precise rollback check.
    #[serde(default)]
    pub queries: Vec<ShippedQuery>,
    /// The revision it is a hotfix of, its git tag, the hotfixes its commit carries or lacks.
    #[serde(flatten)]
    pub hotfix: crate::hotfix::HotfixLinks,
    /// The release's contracts and the breaking rules it may break.
    #[serde(flatten)]
    pub contracts: crate::compat::ShippedContracts,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct UndoRequest {
    pub to_revision: Option<u64>,
    /// Roll back even onto a schema the target cannot use; recorded in the audit log.
    #[serde(default)]
    pub force: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub operation: u64,
    pub app: String,
    pub revision: u64,
    pub version: String,
    pub digest: Digest,
    pub from_revision: Option<u64>,
    /// The target was already running warm, so the switch was a pointer swap.
    pub warm: bool,
    pub status: RevisionStatus,
}

/// How the revision that loses traffic is recorded (decided by [`backstop_core::switch`]).
pub use backstop_core::switch::Abandon;

/// The facts every step of an operation shares: its app, the app's runtime, the journaled
/// operation and who asked for it.
#[derive(Clone, Copy)]
pub(crate) struct OpScope<'a> {
    pub app: &'a AppName,
    pub rt: &'a Arc<AppRuntime>,
    pub op: &'a Operation,
    pub actor: &'a str,
}

/// Where an undo or automatic revert goes back from, and how.
pub(crate) struct MoveBack {
    /// The revision asked for (`None`: the rollback rule picks it).
    pub requested: Option<u64>,
    /// The live revision now.
    pub live: Option<u64>,
    pub abandon: Abandon,
    /// Roll back even onto a schema the target cannot use.
    pub force: bool,
}

/// A switch of traffic to a started (or warm) instance.
pub(crate) struct SwitchTo<'a> {
    pub rev: &'a Revision,
    pub running: Arc<Running>,
    /// The instance was warm: the switch is a pointer swap.
    pub was_warm: bool,
    /// The live revision before the switch.
    pub previous: Option<u64>,
    pub abandon: Option<Abandon>,
}

fn audit(actor: &str, action: &str, outcome: &str, detail: serde_json::Value) -> Change {
    Change::Audit(NewAudit { actor: actor.into(), action: action.into(), outcome: outcome.into(), detail })
}

fn step(op: &Operation, name: &str, detail: Option<String>) -> Change {
    Change::Step { operation: op.id, step: name.into(), detail }
}

impl Engine {
    /// Release a new revision: record it, start its artifact, health-check it,
    /// move traffic, and keep the previous instance warm.
    pub async fn release(&self, app_name: &str, mut req: ReleaseRequest, actor: &str) -> Result<Outcome, OpError> {
        let (app, rt) = self.app(app_name)?;
        if req.version.trim().is_empty() {
            return Err(OpError::BadRequest { message: "version must not be empty".into() });
        }
        self.check_artifact(&rt, &mut req)?;
        for key in &req.guarded_by {
            match self.store.flag(key).await {
                Ok(_) => {}
                Err(backstop_store::StoreError::UnknownFlag { .. }) => {
                    return Err(OpError::UnknownGuardFlag { key: key.clone() });
                }
                Err(e) => return Err(e.into()),
            }
        }
        self.check_hotfix_links(&app, req.git_commit.as_deref(), &mut req.hotfix).await?;
        let contracts = self.check_contracts(&app, &req.contracts).await?;
        if rt.config().require_rollback_ready {
            let readiness = self.release_readiness(&app, &rt).await?;
            if !readiness.ready() {
                return Err(OpError::NotRollbackReady { app: app.to_string(), failing: readiness.failing() });
            }
        }
        let config = rt.config();
        let database = match (req.migrations.take(), &config.database) {
            (Some(_), None) => return Err(OpError::NoDatabase { app: app.to_string() }),
            (Some(shipped), Some(db)) => Some((&db.db, shipped)),
            (None, _) => None,
        };
        let before = self.store.app(&app).await?.live_revision;
        let (op, _lease) = self
            .begin(
                &rt,
                Begin {
                    app: app.clone(),
                    kind: OperationKind::Release,
                    actor: actor.into(),
                    target_revision: None,
                    from_revision: before,
                },
            )
            .await?;
        // Read again under the lock: an operation that ended in between may have moved traffic.
        let live = self.store.app(&app).await?.live_revision;
        let plan = match &database {
            None => None,
            Some((db, shipped)) => {
                let plan = match self.plan_release(db, shipped).await {
                    Ok(plan) if plan.stages.refused() => {
                        Err(OpError::MigrationsRefused { refusals: plan.stages.refusals })
                    }
                    Ok(plan) => self.check_expand_stage(&app, db, &plan, live).await.map(|()| plan),
                    other => other,
                };
                match plan {
                    Ok(plan) => Some(plan),
                    Err(e) => {
                        self.finish_failed(&app, &op, actor, "release", None, &e.to_string()).await;
                        return Err(e);
                    }
                }
            }
        };
        let rev = match self
            .store
            .create_revision(NewRevision {
                app: app.clone(),
                version: req.version.clone(),
                digest: req.digest.clone(),
                change_cause: req.change_cause.clone(),
                git_commit: req.git_commit.clone(),
                image: req.image.clone(),
                git_tag: req.hotfix.git_tag.clone(),
                hotfix_of: req.hotfix.hotfix_of,
                guarded_by: req.guarded_by.clone(),
                actor: actor.into(),
            })
            .await
        {
            Ok(rev) => rev,
            Err(e) => {
                self.finish_failed(&app, &op, actor, "release", None, &e.to_string()).await;
                return Err(e.into());
            }
        };
        let mut recorded = vec![step(&op, "revision-recorded", Some(format!("revision {}", rev.revision)))];
        recorded.extend(crate::hotfix::recorded(&op, &rev, &req.hotfix, actor));
        if let Some(checked) = &contracts {
            recorded.extend(crate::compat::recorded(&op, rev.revision, checked, actor));
        }
        if database.is_some() || !req.queries.is_empty() {
            let migrations =
                database.as_ref().map_or(json!([]), |(_, shipped)| serde_json::to_value(shipped).unwrap_or_default());
            recorded.push(Change::Shipped {
                revision: rev.revision,
                migrations,
                queries: serde_json::to_value(&req.queries).unwrap_or_default(),
            });
        }
        self.store.apply(&app, recorded).await?;

        let expanded = match (&database, &plan) {
            (Some((db, _)), Some(plan)) => self.migrate_expand(&app, &op, db, plan).await,
            _ => Ok(()),
        };
        let started = match expanded {
            Ok(()) => match rt.abort_requested(op.id) {
                Some(by) => Err(OpError::Aborted { revision: rev.revision, actor: by, traffic_on: live }),
                None => self.start_instance(&app, &rt, &rev, &op).await,
            },
            Err(e) => Err(e),
        };
        // Asked to stop while it turned healthy: it never takes traffic.
        let started = match (started, rt.abort_requested(op.id)) {
            (Ok(running), Some(by)) => {
                self.stop_started(&app, &rt, &running).await;
                Err(OpError::Aborted { revision: rev.revision, actor: by, traffic_on: live })
            }
            (started, _) => started,
        };
        let running = match started {
            Ok(r) => r,
            Err(OpError::Aborted { actor: by, .. }) => {
                let e = OpError::Aborted { revision: rev.revision, actor: by, traffic_on: live };
                self.finish_aborted(&app, &op, &rev, &e).await;
                return Err(e);
            }
            Err(err) => {
                let reason = err.to_string();
                let recorded = self
                    .store
                    .apply(
                        &app,
                        vec![
                            Change::Status {
                                revision: rev.revision,
                                status: RevisionStatus::Failed,
                                reason: Some(reason.clone()),
                            },
                            step(&op, "failed", Some(reason.clone())),
                            Change::Finish {
                                operation: op.id,
                                state: OperationState::Failed,
                                error: Some(reason.clone()),
                            },
                            audit(
                                actor,
                                "release",
                                "failed",
                                json!({
                                    "operation": op.id, "revision": rev.revision, "version": rev.version,
                                    "digest": rev.digest, "error": reason,
                                }),
                            ),
                        ],
                    )
                    .await;
                if let Err(e) = recorded {
                    // The operation stays `running`; the next start-up reverts it.
                    tracing::error!(operation = op.id, error = %e, "could not record a failed release");
                }
                return Err(match err {
                    OpError::Failed { revision, reason, .. } => OpError::Failed { revision, reason, traffic_on: live },
                    other => other,
                });
            }
        };
        let at = OpScope { app: &app, rt: &rt, op: &op, actor };
        let to = SwitchTo { rev: &rev, running, was_warm: false, previous: live, abandon: None };
        let outcome = self.switch(at, to).await?;
        self.record_schema_if_missing(&app, &rt, rev.revision).await;
        Ok(outcome)
    }

    /// The expand stage of a release: its pending expand and backfill migrations, before the new code
    /// starts. The contract migrations it ships wait for `migrate contract`.
    async fn migrate_expand(
        &self,
        app: &AppName,
        op: &Operation,
        db: &backstop_appdb::Database,
        plan: &crate::migrations::ReleasePlan,
    ) -> Result<(), OpError> {
        let deferred: Vec<&str> = plan.stages.versions(backstop_migrate::Stage::Contract).collect();
        if !plan.expand.is_empty() {
            let report = db.apply(&plan.expand, backstop_appdb::Stage::Expand).await?;
            self.store
                .apply(app, vec![step(op, "migrate-expand", Some(format!("applied {}", report.applied.join(", "))))])
                .await?;
        }
        if !deferred.is_empty() {
            self.store
                .apply(
                    app,
                    vec![step(
                        op,
                        "contract-deferred",
                        Some(format!("{} wait for `backstop migrate contract` after the soak", deferred.join(", "))),
                    )],
                )
                .await?;
        }
        Ok(())
    }

    /// Move traffic back to an earlier revision: a pointer swap when it is
    /// warm, otherwise a verified cold start first.
    pub async fn undo(&self, app_name: &str, req: UndoRequest, actor: &str) -> Result<Outcome, OpError> {
        let (app, rt) = self.app(app_name)?;
        let before = self.store.app(&app).await?.live_revision;
        let (op, _lease) = self
            .begin(
                &rt,
                Begin {
                    app: app.clone(),
                    kind: OperationKind::Undo,
                    actor: actor.into(),
                    target_revision: req.to_revision,
                    from_revision: before,
                },
            )
            .await?;
        let live = self.store.app(&app).await?.live_revision;
        let abandon = Abandon::Undone { actor: actor.into(), forced_over: Vec::new() };
        let at = OpScope { app: &app, rt: &rt, op: &op, actor };
        self.move_back(at, MoveBack { requested: req.to_revision, live, abandon, force: req.force }).await
    }

    /// Shared by undo and the automatic revert of a revision failing its soak.
    pub(crate) async fn move_back(&self, at: OpScope<'_>, back: MoveBack) -> Result<Outcome, OpError> {
        let OpScope { app, rt, op, actor } = at;
        let MoveBack { requested, live, mut abandon, force } = back;
        let action = op.kind.as_str();
        let revisions = match self.store.revisions(app).await {
            Ok(r) => r,
            Err(e) => {
                self.finish_failed(app, op, actor, action, None, &e.to_string()).await;
                return Err(e.into());
            }
        };
        let target = match choose_target(&revisions, live, requested) {
            Ok(t) => t.revision,
            Err(refusal) => {
                self.finish_failed(app, op, actor, action, None, &refusal.to_string()).await;
                return Err(match refusal {
                    backstop_core::RollbackRefusal::UnknownRevision { revision, .. } => {
                        OpError::UnknownRevision { app: app.to_string(), revision }
                    }
                    refusal => OpError::Refused { refusal },
                });
            }
        };
        let Some(rev) = revisions.iter().find(|r| r.revision == target).cloned() else {
            return Err(OpError::UnknownRevision { app: app.to_string(), revision: target });
        };
        self.store.apply(app, vec![step(op, "target-chosen", Some(format!("revision {target}")))]).await?;

        // An operator's undo puts the target's server before the live revision's clients, and its
        // consumers before what the live revision produced: check they still understand each other.
        if let Abandon::Undone { forced_over, .. } = &mut abandon {
            let findings = match self.rollback_compat(app, live, target).await {
                Ok(f) => f,
                Err(e) => {
                    self.finish_failed(app, op, actor, action, Some(target), &e.to_string()).await;
                    return Err(e);
                }
            };
            if !findings.is_empty() {
                if !force {
                    let e = OpError::IncompatibleRollback {
                        app: app.to_string(),
                        live: live.unwrap_or(0),
                        target,
                        findings,
                    };
                    self.finish_failed(app, op, actor, action, Some(target), &e.to_string()).await;
                    return Err(e);
                }
                forced_over.extend(findings.iter().map(|f| format!("{} at {}{}", f.rule, f.document, f.path)));
                let detail = crate::compat::summary(&findings, 10);
                self.store.apply(app, vec![step(op, "compat-check-overridden", Some(detail))]).await?;
            }
        }
        // An operator's undo lands old code on today's schema: check it can run there.
        if let Abandon::Undone { forced_over, .. } = &mut abandon {
            if rt.config().database.is_some() {
                let check = match self.check_rollback(app, rt, target, live).await {
                    Ok(c) => c,
                    Err(e) if force => {
                        tracing::warn!(app = %app, error = %e, "schema check failed; forced undo goes on");
                        forced_over.push(format!("schema check failed: {e}"));
                        self.store.apply(app, vec![step(op, "schema-check-overridden", Some(e.to_string()))]).await?;
                        return self.undo_to(at, &rev, live, abandon).await;
                    }
                    Err(e) => {
                        let e = OpError::RollbackUnchecked { revision: target, reason: crate::error::chain(&e) };
                        self.finish_failed(app, op, actor, action, Some(target), &e.to_string()).await;
                        return Err(e);
                    }
                };
                if !check.safe {
                    if !force {
                        let e = OpError::UnsafeRollback { check: Box::new(check) };
                        self.finish_failed(app, op, actor, action, Some(target), &e.to_string()).await;
                        return Err(e);
                    }
                    forced_over.extend(check.problems.iter().map(|p| p.object.clone()));
                    self.store.apply(app, vec![step(op, "schema-check-overridden", Some(check.summary()))]).await?;
                } else {
                    let mode = serde_json::to_value(check.mode).unwrap_or_default();
                    let detail = format!("{} check: safe", mode.as_str().unwrap_or("schema"));
                    self.store.apply(app, vec![step(op, "schema-checked", Some(detail))]).await?;
                }
            }
        }
        self.undo_to(at, &rev, live, abandon).await
    }

    /// The second half of `move_back`, once the target is chosen and checked.
    async fn undo_to(
        &self,
        at: OpScope<'_>,
        rev: &Revision,
        live: Option<u64>,
        abandon: Abandon,
    ) -> Result<Outcome, OpError> {
        let OpScope { app, rt, op, actor } = at;
        let action = op.kind.as_str();
        let target = rev.revision;

        // Warm: one probe to make sure it still answers, then a pointer swap.
        let warm = rt.slot(target).filter(|s| s.running.instance.is_alive());
        let (running, was_warm) = match warm {
            Some(slot) if slot.running.instance.is_healthy(&rt.config().health, Duration::from_secs(2)).await => {
                (slot.running, true)
            }
            _ => match self.start_instance(app, rt, rev, op).await {
                Ok(r) => (r, false),
                Err(err) => {
                    self.finish_failed(app, op, actor, action, Some(target), &err.to_string()).await;
                    return Err(match err {
                        OpError::Failed { revision, reason, .. } => {
                            OpError::Failed { revision, reason, traffic_on: live }
                        }
                        other => other,
                    });
                }
            },
        };
        let to = SwitchTo { rev, running, was_warm, previous: live, abandon: Some(abandon) };
        let outcome = self.switch(at, to).await?;
        self.record_schema_if_missing(app, rt, target).await;
        Ok(outcome)
    }

    /// End a release an operator aborted before it took traffic: its revision failed, the operation
    /// reverted (the app is as it was), and the audit entry.
    async fn finish_aborted(&self, app: &AppName, op: &Operation, rev: &Revision, e: &OpError) {
        let reason = e.to_string();
        let changes = vec![
            Change::Status { revision: rev.revision, status: RevisionStatus::Failed, reason: Some(reason.clone()) },
            step(op, "aborted", Some(reason.clone())),
            Change::Finish { operation: op.id, state: OperationState::Reverted, error: Some(reason.clone()) },
            audit(
                match e {
                    OpError::Aborted { actor, .. } => actor,
                    _ => &op.actor,
                },
                "release",
                "aborted",
                json!({ "operation": op.id, "revision": rev.revision, "version": rev.version, "error": reason }),
            ),
        ];
        if let Err(e) = self.apply_op(app, op, changes).await {
            // The operation stays `running`; the next start-up reverts it.
            tracing::error!(operation = op.id, error = %e, "could not record an aborted release");
        }
    }

    /// Stop an instance started for an operation that will not switch to it, and take it off the books.
    async fn stop_started(&self, app: &AppName, rt: &Arc<AppRuntime>, running: &Arc<Running>) {
        running.instance.stop(rt.config().stop_grace).await;
        rt.slots().remove(&running.revision);
        if let Err(e) = self.store.apply(app, vec![Change::RemoveInstance { revision: running.revision }]).await {
            tracing::error!(app = %app, revision = running.revision, error = %e, "cannot record a stopped instance");
        }
    }

    pub(crate) async fn finish_failed(
        &self,
        app: &AppName,
        op: &Operation,
        actor: &str,
        action: &str,
        revision: Option<u64>,
        error: &str,
    ) {
        let result = self
            .apply_op(
                app,
                op,
                vec![
                    step(op, "failed", Some(error.into())),
                    Change::Finish { operation: op.id, state: OperationState::Failed, error: Some(error.into()) },
                    audit(actor, action, "failed", json!({ "operation": op.id, "revision": revision, "error": error })),
                ],
            )
            .await;
        if let Err(e) = result {
            tracing::error!(operation = op.id, error = %e, "could not record the failure of an operation");
        }
    }

    /// The release names an artifact the app's driver runs: an uploaded file for a local app, an
    /// image pinned by the release's digest for one on a container platform.
    fn check_artifact(&self, rt: &AppRuntime, req: &mut ReleaseRequest) -> Result<(), OpError> {
        if !self.driver_for(rt).runs_images() {
            if req.image.is_some() {
                return Err(OpError::BadRequest {
                    message: format!("{} runs uploaded artifacts, not images: release a file or directory", rt.name),
                });
            }
            if !self.artifacts.contains(&req.digest) {
                return Err(OpError::ArtifactNotUploaded { digest: req.digest.clone() });
            }
            return Ok(());
        }
        let Some(image) = req.image.as_deref() else {
            return Err(OpError::BadRequest {
                message: format!(
                    "{} runs images: release one by digest (--artifact REPOSITORY@sha256:<digest>)",
                    rt.name
                ),
            });
        };
        let image = backstop_core::image::ImageRef::parse(image)
            .map_err(|e| OpError::BadRequest { message: format!("{e}; {}", e.hint()) })?;
        if image.digest != req.digest {
            return Err(OpError::BadRequest {
                message: format!("the image's digest {} is not the release's digest {}", image.digest, req.digest),
            });
        }
        req.image = Some(image.pinned());
        Ok(())
    }

    /// Verify the artifact, start it, record the instance, wait until healthy.
    /// On failure the instance is stopped and its record removed.
    pub(crate) async fn start_instance(
        &self,
        app: &AppName,
        rt: &Arc<AppRuntime>,
        rev: &Revision,
        op: &Operation,
    ) -> Result<Arc<Running>, OpError> {
        let artifact = match &rev.image {
            // The platform pulls the image by digest and the driver checks what its pods run.
            Some(image) => Artifact::Image(image.clone()),
            None => {
                let artifacts = self.artifacts.clone();
                let digest = rev.digest.clone();
                let program = tokio::task::spawn_blocking(move || artifacts.verify(&digest)).await.map_err(|e| {
                    OpError::Failed {
                        revision: rev.revision,
                        reason: format!("verification task died: {e}"),
                        traffic_on: None,
                    }
                })??;
                self.store.apply(app, vec![step(op, "artifact-verified", Some(rev.digest.to_string()))]).await?;
                Artifact::Program(program)
            }
        };
        let driver = self.driver_for(rt);

        // One read of the settings for the whole start, even if a reload lands meanwhile.
        let config = rt.config();
        let mut env: Vec<(String, String)> = config.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        env.extend([
            ("BACKSTOP_APP".to_owned(), app.to_string()),
            ("BACKSTOP_REVISION".to_owned(), rev.revision.to_string()),
            ("BACKSTOP_VERSION".to_owned(), rev.version.clone()),
            ("BACKSTOP_DIGEST".to_owned(), rev.digest.to_string()),
        ]);
        let spec = StartSpec {
            app: app.clone(),
            revision: rev.revision,
            artifact,
            args: config.args.clone(),
            env,
            work_dir: self.run_dir(app, rev.revision),
            log_path: self.log_path(app, rev.revision),
        };
        let failed = |reason: String| OpError::Failed { revision: rev.revision, reason, traffic_on: None };
        let instance = driver.start(&spec).await.map_err(|e| {
            let e = e.to_string();
            failed(if e.starts_with("no free port") { e } else { format!("could not start: {e}") })
        })?;
        let running = Running::new(app, rev.revision, instance, Utc::now());
        let record = running.record(app, driver.name(), InstanceRole::Starting, None);
        if let Err(e) = self
            .apply_op(
                app,
                op,
                vec![Change::PutInstance(record), step(op, "started", Some(running.instance.describe()))],
            )
            .await
        {
            running.instance.stop(rt.config().stop_grace).await;
            return Err(e.into());
        }
        // Tracked from now on, so a concurrent shutdown stops it too.
        rt.slots()
            .insert(rev.revision, Slot { running: running.clone(), role: InstanceRole::Starting, warm_until: None });
        let healthy = tokio::select! {
            healthy = running.instance.wait_healthy(&config.health, config.health_timeout) => healthy,
            by = rt.aborted(op.id) => {
                self.stop_started(app, rt, &running).await;
                return Err(OpError::Aborted { revision: rev.revision, actor: by, traffic_on: None });
            }
        };
        if let Err(e) = healthy {
            self.stop_started(app, rt, &running).await;
            return Err(failed(format!("never became healthy on {}: {e}", rt.config().health)));
        }
        self.store.apply(app, vec![step(op, "healthy", None)]).await?;
        Ok(running)
    }

    /// Point the proxy at `running`, and record it all in one transaction:
    /// new live revision and status, instance roles, the abandoned
    /// revision's status, the end of the operation and its audit entry.
    pub(crate) async fn switch(&self, at: OpScope<'_>, to: SwitchTo<'_>) -> Result<Outcome, OpError> {
        let OpScope { app, rt, op, actor } = at;
        let SwitchTo { rev, running, was_warm, previous, abandon } = to;
        // Millisecond precision, as the store keeps it.
        let now = chrono::DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap_or_else(Utc::now);
        let warm_until = later(now, rt.config().keep_warm);
        let soak = rt.config().soak;
        let driver = self.driver_for(rt).name();

        // The previously serving revision, when it is another one.
        let prev_rev = match previous {
            Some(p) if p != rev.revision => Some(self.store.revision(app, p).await?),
            _ => None,
        };
        let slots_now: Vec<(u64, Slot)> = rt.slots().iter().map(|(k, v)| (*k, v.clone())).collect();
        let instances: Vec<InstanceNow> = slots_now
            .iter()
            .map(|(revision, slot)| InstanceNow {
                revision: *revision,
                warm: slot.role == InstanceRole::Warm,
                alive: slot.running.instance.is_alive(),
            })
            .collect();
        let plan = plan_switch(
            Target { revision: rev.revision, status: rev.status },
            previous,
            prev_rev
                .as_ref()
                .map(|p| Previous { revision: p.revision, status: p.status, status_reason: p.status_reason.clone() })
                .as_ref(),
            abandon.as_ref(),
            !soak.is_zero(),
            &instances,
        );
        let new_status = plan.status;
        let soak_until = plan.soaking.then(|| later(now, soak));

        let mut changes = vec![
            Change::Live { revision: Some(rev.revision) },
            Change::Status { revision: rev.revision, status: new_status, reason: None },
            Change::SoakUntil { revision: rev.revision, until: soak_until },
            Change::PutInstance(running.record(app, driver, InstanceRole::Serving, None)),
        ];
        if let Some((revision, status, reason)) = plan.previous.clone() {
            changes.push(Change::Status { revision, status, reason });
            changes.push(Change::SoakUntil { revision, until: None });
            // An operator went back from it: a plain undo never returns to it.
            if matches!(abandon, Some(Abandon::Undone { .. })) && rev.revision < revision {
                changes.push(Change::Undone { revision });
            }
        }
        // Keep exactly one warm instance (the plan's); the instances it stops stay on the books as
        // `stopping` until they are gone.
        let mut to_stop: Vec<Arc<Running>> = Vec::new();
        for (revision, slot) in &slots_now {
            if plan.keep_warm == Some(*revision) {
                changes.push(Change::PutInstance(slot.running.record(
                    app,
                    driver,
                    InstanceRole::Warm,
                    Some(warm_until),
                )));
            } else if plan.stop.contains(revision) {
                changes.push(Change::PutInstance(slot.running.record(app, driver, InstanceRole::Stopping, None)));
                to_stop.push(slot.running.clone());
            }
        }
        changes.push(step(
            op,
            "switched",
            Some(format!(
                "traffic {} revision {}",
                if was_warm { "swapped back to warm" } else { "moved to" },
                rev.revision
            )),
        ));
        changes.push(Change::Finish { operation: op.id, state: OperationState::Succeeded, error: None });
        changes.push(audit(actor, op.kind.as_str(), "succeeded", {
            let mut detail = json!({
                "operation": op.id, "revision": rev.revision, "from_revision": previous,
                "version": rev.version, "digest": rev.digest, "warm": was_warm,
            });
            if let Some(Abandon::Undone { forced_over, .. }) = &abandon {
                if !forced_over.is_empty() {
                    detail["forced"] = json!(true);
                    detail["forced_over"] = json!(forced_over);
                }
            }
            detail
        }));

        // The new revision's counts just before it takes traffic: its analysis judges what follows.
        let analysis_start = crate::analysis::AnalysisStart::now(rt, rev.revision, previous);
        let old_endpoint = rt.traffic.switch(Some(&running.endpoint)).await.map_err(|e| OpError::Failed {
            revision: rev.revision,
            reason: format!("traffic did not move: {e}"),
            traffic_on: previous,
        })?;
        if let Err(e) = self.apply_op(app, op, changes).await {
            // The ledger could not record it (or another node took the app over): put traffic back
            // where the ledger says it is.
            if let Err(back) = rt.traffic.switch(old_endpoint.as_ref()).await {
                tracing::error!(app = %app, error = %back, "cannot put traffic back; recovery will");
            }
            return Err(e.into());
        }
        {
            let mut slots = rt.slots();
            slots
                .insert(rev.revision, Slot { running: running.clone(), role: InstanceRole::Serving, warm_until: None });
            for r in &to_stop {
                slots.remove(&r.revision);
            }
            if let Some(p) = previous.filter(|p| *p != rev.revision) {
                if let Some(slot) = slots.get_mut(&p) {
                    slot.role = InstanceRole::Warm;
                    slot.warm_until = Some(warm_until);
                }
            }
        }
        for r in to_stop {
            self.retire(app, rt, r);
        }
        tracing::info!(app = %app, revision = rev.revision, warm = was_warm, "traffic switched");
        self.start_soak(app, rt, rev.revision, soak_until, analysis_start);
        Ok(Outcome {
            operation: op.id,
            app: app.to_string(),
            revision: rev.revision,
            version: rev.version.clone(),
            digest: rev.digest.clone(),
            from_revision: previous,
            warm: was_warm,
            status: new_status,
        })
    }
}

/// `now + d`, saturating at the end of representable time instead of overflowing.
pub(crate) fn later(now: chrono::DateTime<Utc>, d: Duration) -> chrono::DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(chrono::DateTime::<Utc>::MAX_UTC)
}
