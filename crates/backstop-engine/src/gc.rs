//! Garbage collection of the artifact store, and of the instance logs of the revisions whose
//! artifact it removes.

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
    /// The revisions whose instance logs were removed (their artifact is gone and none of their
    /// instances runs), as `APP/N`.
    pub removed_logs: Vec<String>,
    /// Nothing was deleted: `removed` and `freed_bytes` say what a collection would do.
    pub dry_run: bool,
}

impl Engine {
    /// Delete artifacts no protected revision refers to: the last
    /// `keep_known_good` proven revisions of each app, anything live, warm,
    /// soaking or deploying are kept. A dry run deletes nothing and writes no audit entry.
    pub async fn gc(&self, actor: &str, dry_run: bool) -> Result<GcReport, OpError> {
        let mut keep = BTreeSet::new();
        // Revisions whose instances may still write a log: every one with a slot, and the live one.
        let mut candidates = Vec::new();
        for (app, rt) in self.apps().iter() {
            let _guard = rt.ops.lock().await;
            let revisions = self.store.revisions(app).await?;
            let mut pinned: Vec<u64> = rt.slots().keys().copied().collect();
            pinned.extend(self.store.app(app).await?.live_revision);
            keep.extend(artifacts_to_keep(&revisions, self.config.server.keep_known_good, &pinned));
            candidates.extend(
                revisions
                    .into_iter()
                    .filter(|r| !pinned.contains(&r.revision))
                    .map(|r| (app.clone(), r.revision, r.digest)),
            );
        }
        let mut removed = Vec::new();
        let mut freed = 0u64;
        for digest in self.artifacts.list()? {
            if !keep.contains(&digest) {
                freed += if dry_run { self.artifacts.size(&digest) } else { self.artifacts.remove(&digest)? };
                removed.push(digest);
            }
        }
        // A revision whose artifact is gone cannot run again: its log has no reader left.
        let mut removed_logs = Vec::new();
        for (app, revision, _) in candidates.into_iter().filter(|(_, _, d)| !keep.contains(d)) {
            let log = self.log_path(&app, revision);
            let mut files = vec![log.clone()];
            files.extend((1..=self.config.server.log_keep).map(|n| {
                let mut name = log.as_os_str().to_owned();
                name.push(format!(".{n}"));
                std::path::PathBuf::from(name)
            }));
            let mut found = false;
            for file in files {
                let Ok(meta) = std::fs::metadata(&file) else { continue };
                found = true;
                freed += meta.len();
                if !dry_run {
                    std::fs::remove_file(&file)
                        .map_err(|source| backstop_artifacts::ArtifactError::Io { path: file.clone(), source })?;
                }
            }
            if found {
                removed_logs.push(format!("{app}/{revision}"));
            }
        }
        let report = GcReport { removed, kept: keep.len(), freed_bytes: freed, removed_logs, dry_run };
        if dry_run {
            return Ok(report);
        }
        let detail = json!({
            "removed": report.removed, "kept": report.kept, "freed_bytes": report.freed_bytes,
            "removed_logs": report.removed_logs,
        });
        self.store
            .audit(NewAudit { actor: actor.into(), action: "gc".into(), outcome: "succeeded".into(), detail })
            .await?;
        Ok(report)
    }
}
