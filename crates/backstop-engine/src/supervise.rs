//! Background supervision: the soak watcher that promotes a revision to
//! known-good or reverts it, and the reaper that stops warm instances whose
//! keep-warm time is over.

use std::sync::Arc;
use std::time::Duration;

use backstop_core::soak::{self, Observation, SoakState, SoakVerdict};
use backstop_core::{AppName, OperationKind, RevisionStatus};
use backstop_store::{Change, InstanceRole, NewAudit, StoreError};
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::engine::{AppRuntime, Begin, Engine};
use crate::ops::{Abandon, MoveBack, OpScope};

impl Engine {
    /// Watch `revision` until `until`: promote it to known-good if it stays
    /// alive and healthy, revert to the previous revision if it does not.
    /// Starting a watcher cancels the app's previous one.
    pub(crate) fn start_soak(
        self: &Engine,
        app: &AppName,
        rt: &Arc<AppRuntime>,
        revision: u64,
        until: Option<DateTime<Utc>>,
    ) {
        let generation = rt.next_soak_generation();
        let Some(until) = until else { return };
        let Some(ctx) = self.me() else { return };
        let (app, rt) = (app.clone(), rt.clone());
        tokio::spawn(async move {
            let mut state = SoakState::default();
            loop {
                tokio::time::sleep(rt.config.health_interval.min(remaining(until).max(Duration::from_millis(10))))
                    .await;
                if rt.soak_generation() != generation {
                    return;
                }
                let Some(slot) = rt.slot(revision) else { return };
                let observation = if !slot.running.instance.is_alive() {
                    Observation::Died(slot.running.instance.exit_status().unwrap_or_else(|| "exited".into()))
                } else {
                    match slot.running.instance.probe(&rt.config.health, Duration::from_secs(2)).await {
                        Ok(code) => Observation::Answered(code),
                        Err(e) => Observation::Unreachable(e.to_string()),
                    }
                };
                let verdict = soak::observe(&mut state, observation, rt.config.soak_failures, Utc::now(), until);
                if let SoakVerdict::Revert { reason } = &verdict {
                    ctx.auto_revert(&app, &rt, revision, generation, reason).await;
                    return;
                }
                if verdict == SoakVerdict::Proven {
                    let _guard = rt.ops.lock().await;
                    if rt.soak_generation() != generation {
                        return;
                    }
                    let changes = vec![
                        Change::KnownGood { revision },
                        Change::Audit(NewAudit {
                            actor: "backstop".into(),
                            action: "known-good".into(),
                            outcome: "succeeded".into(),
                            detail: json!({ "revision": revision }),
                        }),
                    ];
                    match ctx.store.apply(&app, changes).await {
                        Ok(()) => tracing::info!(app = %app, revision, "revision survived its soak: known-good"),
                        Err(e) => {
                            tracing::error!(app = %app, revision, error = %e, "could not record known-good");
                            return;
                        }
                    }
                    if rt.config.database.as_ref().is_some_and(|d| d.auto_contract) {
                        // After the lock is released: the contract takes it itself.
                        let ctx = ctx.clone();
                        tokio::spawn(async move { ctx.auto_contract(&app, revision).await });
                    }
                    return;
                }
            }
        });
    }

    async fn auto_revert(&self, app: &AppName, rt: &Arc<AppRuntime>, revision: u64, generation: u64, reason: &str) {
        tracing::warn!(app = %app, revision, reason, "revision failed its soak; reverting");
        // Wait for any operator operation to finish, then revert unless it
        // already moved traffic away from this revision.
        for _ in 0..600 {
            if rt.soak_generation() != generation {
                return;
            }
            let live = match self.store.app(app).await {
                Ok(a) => a.live_revision,
                Err(e) => {
                    tracing::error!(app = %app, error = %e, "cannot read app state for revert");
                    return;
                }
            };
            if live != Some(revision) {
                return;
            }
            let op = self
                .begin(
                    rt,
                    Begin {
                        app: app.clone(),
                        kind: OperationKind::AutoRevert,
                        actor: "backstop".into(),
                        target_revision: None,
                        from_revision: Some(revision),
                    },
                )
                .await;
            match op {
                Ok((op, _lease)) => {
                    let abandon = Abandon::Failed { reason: reason.to_owned() };
                    let at = OpScope { app, rt, op: &op, actor: "backstop" };
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
                    return;
                }
                Err(StoreError::Busy { .. }) => tokio::time::sleep(Duration::from_millis(100)).await,
                Err(e) => {
                    tracing::error!(app = %app, error = %e, "cannot start automatic revert");
                    return;
                }
            }
        }
    }

    /// Restart the live revision of any app whose serving instance exited
    /// outside an operation (a soaking revision is the soak watcher's job).
    pub async fn watch_serving(&self) {
        for (app, rt) in &self.apps {
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
        for (app, rt) in &self.apps {
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
                let stopping = slot.running.record(app, self.driver.name(), InstanceRole::Stopping, None);
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
