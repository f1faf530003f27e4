//! `backstop import`: adopt the history a platform kept before backstop arrived.
//!
//! The app must have no revisions yet. Every past revision the driver reads becomes a revision of
//! the ledger, oldest first, with its change-cause and image pinned by digest, marked imported in
//! its status reason. The older ones are recorded known-good (they ran in production); the newest
//! is started the way backstop runs revisions and traffic is moved to it like a release, so from
//! then on the ledger, not the platform's history, is the truth, and `undo` reaches the older ones.

use backstop_core::{OperationKind, RevisionStatus};
use backstop_store::{Change, NewRevision};
use serde_json::json;

use crate::engine::{Begin, Engine};
use crate::error::OpError;
use crate::ops::{OpScope, Outcome, SwitchTo};

/// What an import did.
#[derive(Debug, Clone)]
pub struct ImportOutcome {
    /// The newest past revision, now live.
    pub outcome: Outcome,
    /// Ledger revision numbers of the imported revisions, oldest first, with their origin.
    pub imported: Vec<(u64, String)>,
    /// Past revisions that could not be imported, with the reason.
    pub skipped: Vec<String>,
}

impl Engine {
    pub async fn import(&self, app_name: &str, source: &str, actor: &str) -> Result<ImportOutcome, OpError> {
        let (app, rt) = self.app(app_name)?;
        if !self.store.revisions(&app).await?.is_empty() {
            return Err(OpError::BadRequest {
                message: format!("{app} has revisions already: import adopts a history into an app without one"),
            });
        }
        let driver = self.driver_for(&rt);
        let history = driver.history(source).await.map_err(|e| OpError::BadRequest { message: e.to_string() })?;
        let Some(newest) = history.revisions.last().cloned() else {
            return Err(OpError::BadRequest {
                message: format!("{source} has no revision that can be imported: {}", history.skipped.join("; ")),
            });
        };
        let (op, _lease) = self
            .begin(
                &rt,
                Begin {
                    app: app.clone(),
                    kind: OperationKind::Import,
                    actor: actor.into(),
                    target_revision: None,
                    from_revision: None,
                },
            )
            .await?;
        let mut imported = Vec::new();
        let mut newest_rev = None;
        for past in &history.revisions {
            let rev = self
                .store
                .create_revision(NewRevision {
                    app: app.clone(),
                    version: format!("imported-{}", past.number),
                    digest: past.digest.clone(),
                    change_cause: past.change_cause.clone(),
                    git_commit: None,
                    git_tag: None,
                    hotfix_of: None,
                    image: Some(past.image.clone()),
                    guarded_by: Vec::new(),
                    actor: actor.into(),
                })
                .await?;
            let origin = format!("imported from {}", past.origin);
            let mut changes = vec![Change::Step {
                operation: op.id,
                step: "imported".into(),
                detail: Some(format!("revision {}: {}", rev.revision, past.origin)),
            }];
            if past.number != newest.number {
                changes.push(Change::KnownGood { revision: rev.revision });
                changes.push(Change::Status {
                    revision: rev.revision,
                    status: RevisionStatus::KnownGood,
                    reason: Some(origin.clone()),
                });
            }
            self.apply_op(&app, &op, changes).await?;
            imported.push((rev.revision, origin));
            newest_rev = Some(rev);
        }
        let rev = newest_rev.ok_or_else(|| OpError::BadRequest { message: "nothing imported".into() })?;
        let running = match self.start_instance(&app, &rt, &rev, &op).await {
            Ok(r) => r,
            Err(e) => {
                self.finish_failed(&app, &op, actor, "import", Some(rev.revision), &e.to_string()).await;
                return Err(e);
            }
        };
        let at = OpScope { app: &app, rt: &rt, op: &op, actor };
        let to = SwitchTo { rev: &rev, running, was_warm: false, previous: None, abandon: None };
        let outcome = self.switch(at, to).await?;
        self.store
            .apply(
                &app,
                vec![Change::Audit(backstop_store::NewAudit {
                    actor: actor.into(),
                    action: "import".into(),
                    outcome: "succeeded".into(),
                    detail: json!({ "source": source, "imported": imported.len(), "skipped": history.skipped }),
                })],
            )
            .await?;
        Ok(ImportOutcome { outcome, imported, skipped: history.skipped })
    }
}
