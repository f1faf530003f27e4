//! `abort`: stop a release an operator no longer wants, wherever it is. While it starts, the
//! release is asked to stop: its instance is stopped before traffic ever reaches it, its revision
//! fails and its operation ends `reverted`. While it soaks, traffic goes back as an automatic revert
//! would, as an `abort` operation of its own. Traffic is never left on a half-started revision:
//! the switch and the end of the release are one transaction, so an abort lands either before it
//! (nothing moved) or after it (the revision soaks, and is reverted).

use std::time::Duration;

use backstop_core::rollback::choose_target;
use backstop_core::{OperationKind, OperationState, RevisionStatus};
use backstop_store::{Change, Operation};

use crate::engine::{AppRuntime, Begin, Engine};
use crate::error::OpError;
use crate::ops::{Abandon, MoveBack, OpScope};

/// What an abort did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aborted {
    /// The operation that ended the release: the release's own (stopped while starting), or the
    /// `abort` operation that reverted its soak.
    pub operation: u64,
    /// The revision that will not serve.
    pub revision: u64,
    /// It was stopped before it took traffic (`false`: it was soaking and traffic went back).
    pub before_traffic: bool,
    /// Where the traffic is now.
    pub traffic_on: Option<u64>,
}

impl Engine {
    /// Abort the app's release: the one starting now, or the revision soaking.
    pub async fn abort(&self, app_name: &str, actor: &str) -> Result<Aborted, OpError> {
        let (app, rt) = self.app(app_name)?;
        let running = self.store.operations(&app, 1).await?.into_iter().find(|o| o.state == OperationState::Running);
        if let Some(op) = running {
            if op.kind != OperationKind::Release {
                return Err(OpError::Busy { running: Box::new(op) });
            }
            let ended = self.stop_release(&app, &rt, &op, actor).await?;
            if ended.state != OperationState::Succeeded {
                let live = self.store.app(&app).await?.live_revision;
                let revision = self.released_revision(&ended).unwrap_or_default();
                return Ok(Aborted { operation: ended.id, revision, before_traffic: true, traffic_on: live });
            }
            // It switched before it saw the abort: it soaks now, so revert it below.
        }
        self.abort_soak(&app, &rt, actor).await
    }

    /// Ask a running release to stop, and wait (bounded) until it has ended.
    async fn stop_release(
        &self,
        app: &backstop_core::AppName,
        rt: &std::sync::Arc<AppRuntime>,
        op: &Operation,
        actor: &str,
    ) -> Result<Operation, OpError> {
        if op.lease_owner.as_deref().is_some_and(|owner| owner != self.node) {
            return Err(OpError::NothingToAbort {
                app: app.to_string(),
                reason: format!("operation {} runs on another control plane", op.id),
            });
        }
        rt.request_abort(op.id, actor);
        let asked =
            Change::Step { operation: op.id, step: "abort-requested".into(), detail: Some(format!("by {actor}")) };
        self.store.apply(app, vec![asked]).await?;
        // Long enough for the release to stop its instance wherever it is, short of a migration.
        let bound = rt.config().stop_grace.saturating_mul(2) + Duration::from_secs(30);
        let deadline = tokio::time::Instant::now() + bound;
        loop {
            if let Some(ended) = self.store.operation(op.id).await?.filter(|o| o.state != OperationState::Running) {
                return Ok(ended);
            }
            if tokio::time::Instant::now() > deadline {
                return Err(OpError::AbortPending { app: app.to_string(), operation: op.id });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The revision a release operation recorded (its `revision-recorded` step).
    fn released_revision(&self, op: &Operation) -> Option<u64> {
        op.steps
            .iter()
            .find(|s| s.step == "revision-recorded")
            .and_then(|s| s.detail.as_deref()?.strip_prefix("revision ")?.parse().ok())
    }

    /// Revert the soaking live revision, as the automatic revert would, as an `abort` operation.
    async fn abort_soak(
        &self,
        app: &backstop_core::AppName,
        rt: &std::sync::Arc<AppRuntime>,
        actor: &str,
    ) -> Result<Aborted, OpError> {
        let nothing = |reason: String| OpError::NothingToAbort { app: app.to_string(), reason };
        let live = self.store.app(app).await?.live_revision.ok_or_else(|| nothing("nothing is live".into()))?;
        let begin = Begin {
            app: app.clone(),
            kind: OperationKind::Abort,
            actor: actor.into(),
            target_revision: None,
            from_revision: Some(live),
        };
        let (op, _lease) = self.begin(rt, begin).await?;
        // Read again under the lease: the soak may have ended in between.
        let rev = self.store.revision(app, live).await?;
        let still_live = self.store.app(app).await?.live_revision == Some(live);
        if !still_live || rev.status != RevisionStatus::Soaking {
            let e = nothing(format!("no release is running and the live revision {live} is {}", rev.status));
            self.finish_failed(app, &op, actor, "abort", Some(live), &e.to_string()).await;
            return Err(e);
        }
        // Somewhere to go back to, before the soak watcher is stopped.
        if let Err(refusal) = choose_target(&self.store.revisions(app).await?, Some(live), None) {
            let e = OpError::Refused { refusal };
            self.finish_failed(app, &op, actor, "abort", Some(live), &e.to_string()).await;
            return Err(e);
        }
        // The soak watcher stops here: it neither promotes nor reverts this revision any more.
        rt.next_soak_generation();
        let reason = format!("aborted by {actor} during its soak");
        self.apply_op(
            app,
            &op,
            vec![Change::Step { operation: op.id, step: "abort".into(), detail: Some(reason.clone()) }],
        )
        .await?;
        let at = OpScope { app, rt, op: &op, actor };
        let back = MoveBack { requested: None, live: Some(live), abandon: Abandon::Failed { reason }, force: false };
        match self.move_back(at, back).await {
            Ok(o) => {
                Ok(Aborted { operation: op.id, revision: live, before_traffic: false, traffic_on: Some(o.revision) })
            }
            Err(e) => {
                // The revert did not happen (its target would not start): the revision keeps
                // serving, so its soak goes on, watched again from now.
                tracing::warn!(app = %app, revision = live, error = %e, "abort could not revert the soaking revision");
                let start = crate::analysis::AnalysisStart::now(rt, live, None);
                self.start_soak(app, rt, live, rev.soak_until, start);
                Err(e)
            }
        }
    }
}
