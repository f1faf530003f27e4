//! Operations: release, undo and automatic revert. Each is journaled in the
//! store, holds the app's operation lock from start to end, and commits its
//! traffic switch in the same transaction that ends it.

use backstop_appdb as backstop_schema;
use std::sync::Arc;
use std::time::Duration;

use backstop_core::rollback::choose_target;
use backstop_core::{AppName, Digest, OperationKind, OperationState, Revision, RevisionStatus};
use backstop_local::LaunchSpec;
use backstop_proxy::Backend;
use backstop_store::{Change, InstanceRecord, InstanceRole, NewAudit, NewOperation, NewRevision, Operation};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::data::{ShippedMigration, ShippedQuery};
use crate::error::OpError;
use crate::runtime::{AppRuntime, Ctx, Running, Slot};

#[derive(Debug, Clone, Deserialize)]
pub struct ReleaseRequest {
    pub digest: Digest,
    pub version: String,
    #[serde(default)]
    pub change_cause: String,
    pub git_commit: Option<String>,
    /// Flags that guard the release's risky changes (each must exist).
    #[serde(default)]
    pub guarded_by: Vec<String>,
    /// The release's whole migration folder, in run order (`None`: the release ships none).
    #[serde(default)]
    pub migrations: Option<Vec<ShippedMigration>>,
    /// The queries the release's code runs, for the precise rollback check.
    #[serde(default)]
    pub queries: Vec<ShippedQuery>,
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

/// How the revision that loses traffic is recorded.
#[derive(Debug, Clone)]
pub enum Abandon {
    /// An operator undid it; `forced_over` names the schema problems the operator overrode.
    Undone { actor: String, forced_over: Vec<String> },
    /// It failed its soak.
    Failed { reason: String },
}

fn audit(actor: &str, action: &str, outcome: &str, detail: serde_json::Value) -> Change {
    Change::Audit(NewAudit { actor: actor.into(), action: action.into(), outcome: outcome.into(), detail })
}

fn step(op: &Operation, name: &str, detail: Option<String>) -> Change {
    Change::Step { operation: op.id, step: name.into(), detail }
}

impl Ctx {
    /// Release a new revision: record it, start its artifact, health-check it,
    /// move traffic, and keep the previous instance warm.
    pub async fn release(&self, app_name: &str, mut req: ReleaseRequest, actor: &str) -> Result<Outcome, OpError> {
        let (app, rt) = self.app(app_name)?;
        if req.version.trim().is_empty() {
            return Err(OpError::BadRequest { message: "version must not be empty".into() });
        }
        if !self.artifacts.contains(&req.digest) {
            return Err(OpError::ArtifactNotUploaded { digest: req.digest });
        }
        for key in &req.guarded_by {
            match self.store.flag(key).await {
                Ok(_) => {}
                Err(backstop_store::StoreError::UnknownFlag { .. }) => {
                    return Err(OpError::UnknownGuardFlag { key: key.clone() });
                }
                Err(e) => return Err(e.into()),
            }
        }
        let database = match (req.migrations.take(), &rt.config.database) {
            (Some(_), None) => return Err(OpError::NoDatabase { app: app.to_string() }),
            (Some(shipped), Some(db)) => Some((&db.db, shipped)),
            (None, _) => None,
        };
        let before = self.store.app(&app).await?.live_revision;
        let op = self
            .store
            .begin_operation(NewOperation {
                app: app.clone(),
                kind: OperationKind::Release,
                actor: actor.into(),
                target_revision: None,
                from_revision: before,
            })
            .await?;
        let _guard = rt.ops.lock().await;
        // Read again under the lock: an operation that ended in between may have moved traffic.
        let live = self.store.app(&app).await?.live_revision;
        let plan = match &database {
            None => None,
            Some((db, shipped)) => {
                let plan = match self.plan_release(db, shipped).await {
                    Ok(plan) if plan.stages.refused() => {
                        Err(OpError::MigrationsRefused { refusals: plan.stages.refusals })
                    }
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
            Ok(()) => self.start_instance(&app, &rt, &rev, &op).await,
            Err(e) => Err(e),
        };
        let running = match started {
            Ok(r) => r,
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
        let outcome = self.switch(&app, &rt, &op, actor, &rev, running, false, live, None).await?;
        self.record_schema_if_missing(&app, &rt, rev.revision).await;
        Ok(outcome)
    }

    /// The expand stage of a release: its pending expand and backfill migrations, before the new code
    /// starts. The contract migrations it ships wait for `migrate contract`.
    async fn migrate_expand(
        &self,
        app: &AppName,
        op: &Operation,
        db: &backstop_schema::Database,
        plan: &crate::data::ReleasePlan,
    ) -> Result<(), OpError> {
        let deferred: Vec<&str> = plan.stages.versions(backstop_migrate::Stage::Contract).collect();
        if !plan.expand.is_empty() {
            let report = db.apply(&plan.expand, backstop_schema::Stage::Expand).await?;
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
        let op = self
            .store
            .begin_operation(NewOperation {
                app: app.clone(),
                kind: OperationKind::Undo,
                actor: actor.into(),
                target_revision: req.to_revision,
                from_revision: before,
            })
            .await?;
        let _guard = rt.ops.lock().await;
        let live = self.store.app(&app).await?.live_revision;
        let abandon = Abandon::Undone { actor: actor.into(), forced_over: Vec::new() };
        self.move_back(&app, &rt, &op, actor, req.to_revision, live, abandon, req.force).await
    }

    /// Shared by undo and the automatic revert of a revision failing its soak.
    #[expect(clippy::too_many_arguments, reason = "one call site each; a struct would only rename the arguments")]
    pub(crate) async fn move_back(
        &self,
        app: &AppName,
        rt: &Arc<AppRuntime>,
        op: &Operation,
        actor: &str,
        requested: Option<u64>,
        live: Option<u64>,
        mut abandon: Abandon,
        force: bool,
    ) -> Result<Outcome, OpError> {
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

        // An operator's undo lands old code on today's schema: check it can run there.
        if let Abandon::Undone { forced_over, .. } = &mut abandon {
            if rt.config.database.is_some() {
                let check = match self.check_rollback(app, rt, target, live).await {
                    Ok(c) => c,
                    Err(e) if force => {
                        tracing::warn!(app = %app, error = %e, "schema check failed; forced undo goes on");
                        forced_over.push(format!("schema check failed: {e}"));
                        self.store.apply(app, vec![step(op, "schema-check-overridden", Some(e.to_string()))]).await?;
                        return self.undo_to(app, rt, op, actor, &rev, live, abandon).await;
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
        self.undo_to(app, rt, op, actor, &rev, live, abandon).await
    }

    /// The second half of `move_back`, once the target is chosen and checked.
    #[expect(clippy::too_many_arguments, reason = "the same facts as move_back, split for readability")]
    async fn undo_to(
        &self,
        app: &AppName,
        rt: &Arc<AppRuntime>,
        op: &Operation,
        actor: &str,
        rev: &Revision,
        live: Option<u64>,
        abandon: Abandon,
    ) -> Result<Outcome, OpError> {
        let action = op.kind.as_str();
        let target = rev.revision;

        // Warm: one probe to make sure it still answers, then a pointer swap.
        let warm = rt.slot(target).filter(|s| s.running.instance.is_alive());
        let (running, was_warm) = match warm {
            Some(slot)
                if backstop_local::probe(slot.running.instance.addr(), &rt.config.health, Duration::from_secs(2))
                    .await
                    .is_ok_and(|code| (200..300).contains(&code)) =>
            {
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
        let outcome = self.switch(app, rt, op, actor, rev, running, was_warm, live, Some(abandon)).await?;
        self.record_schema_if_missing(app, rt, target).await;
        Ok(outcome)
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
            .store
            .apply(
                app,
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

    /// Verify the artifact, start it, record the instance, wait until healthy.
    /// On failure the instance is stopped and its record removed.
    pub(crate) async fn start_instance(
        &self,
        app: &AppName,
        rt: &Arc<AppRuntime>,
        rev: &Revision,
        op: &Operation,
    ) -> Result<Arc<Running>, OpError> {
        let artifacts = self.artifacts.clone();
        let digest = rev.digest.clone();
        let program = tokio::task::spawn_blocking(move || artifacts.verify(&digest)).await.map_err(|e| {
            OpError::Failed { revision: rev.revision, reason: format!("verification task died: {e}"), traffic_on: None }
        })??;
        self.store.apply(app, vec![step(op, "artifact-verified", Some(rev.digest.to_string()))]).await?;

        let port = backstop_local::free_port().map_err(|e| OpError::Failed {
            revision: rev.revision,
            reason: format!("no free port: {e}"),
            traffic_on: None,
        })?;
        let mut env: Vec<(String, String)> = rt.config.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        env.extend([
            ("BACKSTOP_APP".to_owned(), app.to_string()),
            ("BACKSTOP_REVISION".to_owned(), rev.revision.to_string()),
            ("BACKSTOP_VERSION".to_owned(), rev.version.clone()),
            ("BACKSTOP_DIGEST".to_owned(), rev.digest.to_string()),
        ]);
        let spec = LaunchSpec {
            program,
            args: rt.config.args.clone(),
            env,
            cwd: self.run_dir(app, rev.revision),
            log_path: self.log_path(app, rev.revision),
            port,
        };
        let instance = backstop_local::launch(&spec).await.map_err(|e| OpError::Failed {
            revision: rev.revision,
            reason: format!("could not start: {}", crate::error::chain(&e)),
            traffic_on: None,
        })?;
        let id = instance.id();
        let started_at = Utc::now();
        let record = InstanceRecord {
            app: app.to_string(),
            revision: rev.revision,
            pid: id.pid,
            start_time: id.start_time,
            port,
            role: InstanceRole::Starting,
            warm_until: None,
            started_at,
        };
        if let Err(e) = self
            .store
            .apply(
                app,
                vec![Change::PutInstance(record), step(op, "started", Some(format!("pid {} on port {port}", id.pid)))],
            )
            .await
        {
            instance.stop(rt.config.stop_grace).await;
            return Err(e.into());
        }
        let running = Arc::new(Running {
            revision: rev.revision,
            backend: Backend::new(instance.addr(), format!("{app}@{}", rev.revision)),
            instance,
            started_at,
        });
        // Tracked from now on, so a concurrent shutdown stops it too.
        rt.slots()
            .insert(rev.revision, Slot { running: running.clone(), role: InstanceRole::Starting, warm_until: None });
        if let Err(e) =
            backstop_local::wait_healthy(&running.instance, &rt.config.health, rt.config.health_timeout).await
        {
            running.instance.stop(rt.config.stop_grace).await;
            rt.slots().remove(&rev.revision);
            let _ = self.store.apply(app, vec![Change::RemoveInstance { revision: rev.revision }]).await;
            return Err(OpError::Failed {
                revision: rev.revision,
                reason: format!("never became healthy on {}: {}", rt.config.health, crate::error::chain(&e)),
                traffic_on: None,
            });
        }
        self.store.apply(app, vec![step(op, "healthy", None)]).await?;
        Ok(running)
    }

    /// Point the proxy at `running`, and record it all in one transaction:
    /// new live revision and status, instance roles, the abandoned
    /// revision's status, the end of the operation and its audit entry.
    #[expect(clippy::too_many_arguments, reason = "internal; every argument is a distinct fact of the switch")]
    pub(crate) async fn switch(
        &self,
        app: &AppName,
        rt: &Arc<AppRuntime>,
        op: &Operation,
        actor: &str,
        rev: &Revision,
        running: Arc<Running>,
        was_warm: bool,
        previous: Option<u64>,
        abandon: Option<Abandon>,
    ) -> Result<Outcome, OpError> {
        // Millisecond precision, as the store keeps it.
        let now = chrono::DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap_or_else(Utc::now);
        let keep_warm = chrono::Duration::from_std(rt.config.keep_warm).unwrap_or(chrono::Duration::MAX);
        let warm_until = now + keep_warm;
        let soak = rt.config.soak;

        let new_status = if rev.status.is_proven() {
            rev.status
        } else if soak.is_zero() {
            RevisionStatus::Live
        } else {
            RevisionStatus::Soaking
        };
        let soak_until = (new_status == RevisionStatus::Soaking)
            .then(|| now + chrono::Duration::from_std(soak).unwrap_or(chrono::Duration::MAX));

        let mut changes = vec![
            Change::Live { revision: Some(rev.revision) },
            Change::Status { revision: rev.revision, status: new_status, reason: None },
            Change::SoakUntil { revision: rev.revision, until: soak_until },
            Change::PutInstance(InstanceRecord {
                app: app.to_string(),
                revision: rev.revision,
                pid: running.instance.id().pid,
                start_time: running.instance.id().start_time,
                port: running.instance.port(),
                role: InstanceRole::Serving,
                warm_until: None,
                started_at: running.started_at,
            }),
        ];

        // The previously serving revision: status and warm instance.
        let mut to_stop: Vec<Arc<Running>> = Vec::new();
        let prev_rev = match previous {
            Some(p) if p != rev.revision => Some(self.store.revision(app, p).await?),
            _ => None,
        };
        if let Some(prev) = &prev_rev {
            let (status, reason) = match &abandon {
                None => (prev.status.after_replaced(), Some(format!("replaced by revision {}", rev.revision))),
                Some(Abandon::Undone { actor, forced_over }) => (
                    prev.status.after_abandoned(),
                    Some(if forced_over.is_empty() {
                        format!("undone by {actor}, traffic back on revision {}", rev.revision)
                    } else {
                        format!(
                            "undone by {actor}, traffic back on revision {} (forced over: {})",
                            rev.revision,
                            forced_over.join(", ")
                        )
                    }),
                ),
                Some(Abandon::Failed { reason }) => (RevisionStatus::Failed, Some(reason.clone())),
            };
            let reason = if status == prev.status { prev.status_reason.clone() } else { reason };
            changes.push(Change::Status { revision: prev.revision, status, reason });
            changes.push(Change::SoakUntil { revision: prev.revision, until: None });
        }
        // Keep exactly one warm instance: the one that served until now.
        // A failed revision is not kept warm.
        let keep_prev_warm = !matches!(abandon, Some(Abandon::Failed { .. }));
        let slots_now: Vec<(u64, Slot)> = rt.slots().iter().map(|(k, v)| (*k, v.clone())).collect();
        for (revision, slot) in &slots_now {
            if *revision == rev.revision {
                continue;
            }
            if previous == Some(rev.revision) && slot.role == InstanceRole::Warm {
                // Restarting the live revision in place: warm instances stay as they are.
                continue;
            }
            if Some(*revision) == previous && keep_prev_warm && slot.running.instance.is_alive() {
                changes.push(Change::PutInstance(InstanceRecord {
                    app: app.to_string(),
                    revision: *revision,
                    pid: slot.running.instance.id().pid,
                    start_time: slot.running.instance.id().start_time,
                    port: slot.running.instance.port(),
                    role: InstanceRole::Warm,
                    warm_until: Some(warm_until),
                    started_at: slot.running.started_at,
                }));
            } else {
                changes.push(Change::RemoveInstance { revision: *revision });
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

        let old_backend = rt.proxy.switch(Some(running.backend.clone()));
        if let Err(e) = self.store.apply(app, changes).await {
            // The ledger could not record it: put traffic back where the ledger says it is.
            rt.proxy.switch(old_backend);
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
            let drain = rt.config.drain_timeout;
            let grace = rt.config.stop_grace;
            tokio::spawn(async move {
                r.backend.drained(drain).await;
                r.instance.stop(grace).await;
            });
        }
        tracing::info!(app = %app, revision = rev.revision, warm = was_warm, "traffic switched");
        self.start_soak(app, rt, rev.revision, soak_until);
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
