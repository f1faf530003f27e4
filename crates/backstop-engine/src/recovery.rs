//! Start-up recovery: re-adopt the instances a previous control plane left
//! running, revert operations it did not finish, and make sure every app
//! with a live revision has an instance serving it.

use std::sync::Arc;
use std::time::Duration;

use backstop_core::{OperationKind, OperationState, RevisionStatus};
use backstop_store::{Change, InstanceRole, NewAudit, StoreError};
use serde_json::json;

use crate::engine::{Begin, Engine, Running, Slot};
use crate::ops::{Abandon, MoveBack, OpScope, SwitchTo};

impl Engine {
    pub async fn recover(&self) -> Result<(), StoreError> {
        self.adopt_instances().await?;
        self.revert_interrupted().await?;
        for (app, rt) in self.apps().iter() {
            let record = self.store.app(app).await?;
            let Some(live) = record.live_revision else { continue };
            let serving = rt.slot(live).filter(|s| s.running.instance.is_alive());
            let healthy = match &serving {
                Some(slot) => slot.running.instance.is_healthy(&rt.config().health, Duration::from_secs(2)).await,
                None => false,
            };
            // A revision that went live without its schema recorded (a crash in between, or the
            // database configured since) gets it now: it is the schema it runs on.
            self.record_schema_if_missing(app, rt, live).await;
            if let (Some(slot), true) = (serving, healthy) {
                // Level-triggered: traffic goes where the ledger says, whatever a crash left.
                if let Err(e) = rt.traffic.switch(Some(&slot.running.endpoint)).await {
                    tracing::error!(app = %app, revision = live, error = %e, "cannot point traffic at the live revision");
                }
                let rev = self.store.revision(app, live).await?;
                tracing::info!(app = %app, revision = live, "re-adopted the serving instance");
                if rev.status == RevisionStatus::Soaking {
                    // The warm instance is the one that served before this revision: the baseline.
                    let warm = rt.slots().iter().find(|(_, s)| s.role == InstanceRole::Warm).map(|(r, _)| *r);
                    let start = crate::analysis::AnalysisStart::now(rt, live, warm);
                    self.start_soak(app, rt, live, rev.soak_until.or(Some(chrono::Utc::now())), start);
                }
                continue;
            }
            // The live revision has no healthy instance: start it again, or
            // fall back to the last known-good one.
            self.restart_live(app, rt, live, "after a control-plane restart").await?;
        }
        // Instances that serve nothing and are not warm have no owner (those found `stopping` were
        // being drained when the previous control plane stopped): stop them.
        for (app, rt) in self.apps().iter() {
            let live = self.store.app(app).await?.live_revision;
            let orphans: Vec<u64> = rt
                .slots()
                .iter()
                .filter(|(r, s)| Some(**r) != live && s.role != InstanceRole::Warm)
                .map(|(r, _)| *r)
                .collect();
            for revision in orphans {
                if let Some(slot) = rt.take_slot(revision) {
                    slot.running.instance.stop(rt.config().stop_grace).await;
                }
                self.store.apply(app, vec![Change::RemoveInstance { revision }]).await?;
            }
        }
        Ok(())
    }

    /// Start the live revision again (its instance is gone), or, if it
    /// cannot start, move traffic back to the last known-good revision.
    pub(crate) async fn restart_live(
        &self,
        app: &backstop_core::AppName,
        rt: &Arc<crate::engine::AppRuntime>,
        live: u64,
        why: &str,
    ) -> Result<(), StoreError> {
        tracing::warn!(app = %app, revision = live, "live revision has no running instance ({why}); starting it");
        let (op, _lease) = match self
            .begin(
                rt,
                Begin {
                    app: app.clone(),
                    kind: OperationKind::Recover,
                    actor: "backstop".into(),
                    target_revision: Some(live),
                    from_revision: Some(live),
                },
            )
            .await
        {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!(app = %app, error = %e, "cannot start recovery now");
                return Ok(());
            }
        };
        self.apply_op(
            app,
            &op,
            vec![Change::Step { operation: op.id, step: "restart".into(), detail: Some(why.into()) }],
        )
        .await?;
        if let Some(stale) = rt.take_slot(live) {
            stale.running.instance.stop(rt.config().stop_grace).await;
        }
        let rev = self.store.revision(app, live).await?;
        match self.start_instance(app, rt, &rev, &op).await {
            Ok(running) => {
                let at = OpScope { app, rt, op: &op, actor: "backstop" };
                let to = SwitchTo { rev: &rev, running, was_warm: false, previous: Some(live), abandon: None };
                if let Err(e) = self.switch(at, to).await {
                    tracing::error!(app = %app, error = %e, "recovery switch failed");
                }
            }
            Err(err) => {
                let reason = format!("could not restart {why}: {err}");
                let abandon = Abandon::Failed { reason: reason.clone() };
                let at = OpScope { app, rt, op: &op, actor: "backstop" };
                let back = MoveBack { requested: None, live: Some(live), abandon, force: false };
                match self.move_back(at, back).await {
                    Ok(o) => tracing::warn!(app = %app, to = o.revision, "fell back to the last known-good revision"),
                    Err(e) => tracing::error!(app = %app, error = %e, "{reason}; no revision could be started"),
                }
            }
        }
        Ok(())
    }

    async fn adopt_instances(&self) -> Result<(), StoreError> {
        for rec in self.store.all_instances().await? {
            let app: backstop_core::AppName = match rec.app.parse() {
                Ok(a) => a,
                Err(_) => continue,
            };
            let Some(rt) = self.apps().get(&app).cloned() else {
                // The app left the config while its instance ran: stop it.
                if rec.driver == self.driver.name() {
                    if let Ok(instance) = self.driver.adopt(&rec.handle).await {
                        instance.stop(Duration::from_secs(10)).await;
                    }
                }
                self.store.apply(&app, vec![Change::RemoveInstance { revision: rec.revision }]).await.ok();
                continue;
            };
            let driver = self.driver_for(&rt);
            let adopted = if rec.driver == driver.name() {
                driver.adopt(&rec.handle).await
            } else {
                Err(backstop_driver::DriverError::Adopt(format!("recorded by driver `{}`", rec.driver)))
            };
            match adopted {
                Ok(instance) => {
                    tracing::info!(app = %app, revision = rec.revision, handle = %rec.handle, "re-adopted instance");
                    let running = Running::new(&app, rec.revision, instance, rec.started_at);
                    rt.slots().insert(rec.revision, Slot { running, role: rec.role, warm_until: rec.warm_until });
                }
                Err(e) => {
                    tracing::warn!(app = %app, revision = rec.revision, error = %e, "recorded instance is gone");
                    self.store.apply(&app, vec![Change::RemoveInstance { revision: rec.revision }]).await?;
                }
            }
        }
        Ok(())
    }

    /// An operation still `running` in the store was cut off before its
    /// switch committed (the switch and the end of an operation are one
    /// transaction), so traffic never moved: undo its side effects.
    async fn revert_interrupted(&self) -> Result<(), StoreError> {
        // Only what no live node holds: operations whose lease expired, and this node's own (it
        // restarted, so nothing of it runs them any more). Another replica's release goes on.
        for op in self.store.interrupted_operations(&self.node).await? {
            let Ok(app) = op.app.parse::<backstop_core::AppName>() else { continue };
            let live = self.store.app(&app).await?.live_revision;
            let mut changes = Vec::new();
            if let Some(rt) = self.apps().get(&app).cloned() {
                let starting: Vec<u64> =
                    rt.slots().iter().filter(|(_, s)| s.role == InstanceRole::Starting).map(|(r, _)| *r).collect();
                for revision in starting {
                    if let Some(slot) = rt.take_slot(revision) {
                        slot.running.instance.stop(rt.config().stop_grace).await;
                    }
                    changes.push(Change::RemoveInstance { revision });
                }
            }
            let reason = match live {
                _ if op.kind == backstop_core::OperationKind::KillSwitch => {
                    "interrupted by a control-plane restart; the guard flags it turned off stay off".to_owned()
                }
                _ if op.kind == backstop_core::OperationKind::MigrateContract => {
                    "interrupted by a control-plane restart; the migrations in the database's ledger stayed applied, \
                     run `backstop migrate contract` again for the rest"
                        .to_owned()
                }
                Some(l) => format!("interrupted by a control-plane restart; traffic stayed on revision {l}"),
                None => "interrupted by a control-plane restart".to_owned(),
            };
            for rev in self.store.revisions(&app).await? {
                if rev.status == RevisionStatus::Deploying {
                    changes.push(Change::Status {
                        revision: rev.revision,
                        status: RevisionStatus::Failed,
                        reason: Some(reason.clone()),
                    });
                }
            }
            changes.push(Change::Step { operation: op.id, step: "reverted".into(), detail: Some(reason.clone()) });
            changes.push(Change::Finish {
                operation: op.id,
                state: OperationState::Reverted,
                error: Some(reason.clone()),
            });
            changes.push(Change::Audit(NewAudit {
                actor: "backstop".into(),
                action: "recover".into(),
                outcome: "reverted".into(),
                detail: json!({ "operation": op.id, "kind": op.kind, "live_revision": live }),
            }));
            self.store.apply(&app, changes).await?;
            tracing::warn!(app = %app, operation = op.id, kind = %op.kind, "reverted an interrupted operation");
        }
        Ok(())
    }
}
