//! Garbage collection of the artifact store.

use std::collections::BTreeSet;

use backstop_core::rollback::artifacts_to_keep;
use backstop_store::NewAudit;
use serde_json::json;

use crate::engine::Engine;
use crate::error::OpError;

/// What a collection removed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GcReport {
    pub removed: Vec<backstop_core::Digest>,
    /// How many artifacts protected revisions still refer to.
    pub kept: usize,
    pub freed_bytes: u64,
    /// Nothing was deleted: `removed` and `freed_bytes` say what a collection would do.
    pub dry_run: bool,
}

impl Engine {
    /// Delete artifacts no protected revision refers to: the last
    /// `keep_known_good` proven revisions of each app, anything live, warm,
    /// soaking or deploying are kept. A dry run deletes nothing and writes no audit entry.
    pub async fn gc(&self, actor: &str, dry_run: bool) -> Result<GcReport, OpError> {
        let mut keep = BTreeSet::new();
        for (app, rt) in self.apps().iter() {
            let _guard = rt.ops.lock().await;
            let revisions = self.store.revisions(app).await?;
            let mut pinned: Vec<u64> = rt.slots().keys().copied().collect();
            pinned.extend(self.store.app(app).await?.live_revision);
            keep.extend(artifacts_to_keep(&revisions, self.config.server.keep_known_good, &pinned));
        }
        let mut removed = Vec::new();
        let mut freed = 0u64;
        for digest in self.artifacts.list()? {
            if !keep.contains(&digest) {
                freed += if dry_run { self.artifacts.size(&digest) } else { self.artifacts.remove(&digest)? };
                removed.push(digest);
            }
        }
        let report = GcReport { removed, kept: keep.len(), freed_bytes: freed, dry_run };
        if dry_run {
            return Ok(report);
        }
        let detail = json!({ "removed": report.removed, "kept": report.kept, "freed_bytes": report.freed_bytes });
        self.store
            .audit(NewAudit { actor: actor.into(), action: "gc".into(), outcome: "succeeded".into(), detail })
            .await?;
        Ok(report)
    }
}
