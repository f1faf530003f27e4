//! A release's hotfix links: the revision it is a hotfix of, the git tag it was named by, the
//! hotfixes production ran that its commit carries, and the override when it lacks some. The
//! client decides from git what the commit carries; the engine checks what it can (the base
//! revision exists and has a commit, a missing hotfix comes with a reason) and records it.

use backstop_core::hotfix::{Gate, gate, git_name_problem};
use backstop_core::{AppName, Revision};
use backstop_store::{Change, NewAudit, Operation};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::engine::Engine;
use crate::error::OpError;

/// A hotfix production ran whose fix a release's commit lacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingHotfix {
    pub revision: u64,
    pub commits: Vec<String>,
}

/// What a release says about hotfixes (all empty for an ordinary release checked by no client).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct HotfixLinks {
    #[serde(default)]
    pub git_tag: Option<String>,
    #[serde(default)]
    pub hotfix_of: Option<u64>,
    /// Hotfix revisions whose fix the release's commit carries.
    #[serde(default)]
    pub carries: Vec<u64>,
    #[serde(default)]
    pub missing: Vec<MissingHotfix>,
    /// Why the release may go out without the missing ones.
    #[serde(default)]
    pub allow_missing: Option<String>,
}

/// The hotfixes in production (`(revision, its commit)`) that a release's links account for
/// neither as carried nor as missing: a client that checked no git (no `--git-commit`, a plain
/// API call) cannot say the release carries their fix, so they count as missing. Pure.
pub fn unaccounted(in_production: &[(u64, Option<String>)], links: &HotfixLinks) -> Vec<MissingHotfix> {
    in_production
        .iter()
        .filter(|(n, _)| !links.carries.contains(n) && !links.missing.iter().any(|m| m.revision == *n))
        .map(|(n, commit)| MissingHotfix { revision: *n, commits: commit.iter().cloned().collect() })
        .collect()
}

impl Engine {
    /// Refuse, before anything is recorded, a release whose hotfix links do not hold. A hotfix in
    /// production the links do not account for is added to `missing`: the release then needs
    /// `allow_missing`, whoever sent it.
    pub(crate) async fn check_hotfix_links(
        &self,
        app: &AppName,
        git_commit: Option<&str>,
        links: &mut HotfixLinks,
    ) -> Result<(), OpError> {
        let bad = |message: String| Err(OpError::BadRequest { message });
        for (what, name) in [("git_commit", git_commit), ("git_tag", links.git_tag.as_deref())] {
            if let Some(problem) = name.and_then(git_name_problem) {
                return bad(format!("{what} {problem}"));
            }
        }
        if links.git_tag.is_some() && git_commit.is_none() {
            return bad("git_tag needs the commit it points at in git_commit".into());
        }
        if let Some(base) = links.hotfix_of {
            if git_commit.is_none() {
                return bad(format!(
                    "a hotfix of revision {base} needs its git commit: the fix is what lies between the two commits"
                ));
            }
            let base_rev: Revision = self.store.revision(app, base).await?;
            if base_rev.git_commit.is_none() {
                return bad(format!(
                    "revision {base} of `{app}` has no git commit recorded, so the fix of a hotfix of it cannot be told apart"
                ));
            }
        }
        let in_production: Vec<(u64, Option<String>)> = self
            .store
            .revisions(app)
            .await?
            .into_iter()
            .filter(backstop_core::hotfix::in_production)
            .filter(|r| Some(r.revision) != links.hotfix_of)
            .map(|r| (r.revision, r.git_commit))
            .collect();
        let extra = unaccounted(&in_production, links);
        links.missing.extend(extra);
        if let Gate::Refused { missing } = gate(&missing_revisions(links), links.allow_missing.as_deref()) {
            return Err(OpError::MissingHotfix {
                app: app.to_string(),
                missing: links.missing.clone(),
                revisions: missing,
            });
        }
        Ok(())
    }
}

fn missing_revisions(links: &HotfixLinks) -> Vec<u64> {
    links.missing.iter().map(|m| m.revision).collect()
}

/// The journal steps and audit entries a release's hotfix links add, recorded with the revision.
pub(crate) fn recorded(op: &Operation, rev: &Revision, links: &HotfixLinks, actor: &str) -> Vec<Change> {
    let mut changes = Vec::new();
    let audit = |action: &str, detail: serde_json::Value| {
        Change::Audit(NewAudit { actor: actor.into(), action: action.into(), outcome: "recorded".into(), detail })
    };
    let step = |name: &str, detail: String| Change::Step { operation: op.id, step: name.into(), detail: Some(detail) };
    if let Some(base) = links.hotfix_of {
        changes.push(step("hotfix", format!("revision {} is a hotfix of revision {base}", rev.revision)));
        changes.push(audit(
            "release.hotfix",
            json!({
                "operation": op.id, "revision": rev.revision, "hotfix_of": base,
                "git_commit": rev.git_commit, "git_tag": rev.git_tag,
            }),
        ));
    }
    if !links.carries.is_empty() {
        let list: Vec<String> = links.carries.iter().map(u64::to_string).collect();
        changes.push(step("hotfixes-carried", format!("carries the fix of hotfix revisions {}", list.join(", "))));
    }
    if let Gate::Allowed { missing, reason } = gate(&missing_revisions(links), links.allow_missing.as_deref()) {
        let list: Vec<String> = missing.iter().map(u64::to_string).collect();
        changes.push(step(
            "missing-hotfix-allowed",
            format!("released without the fix of hotfix revisions {}: {reason}", list.join(", ")),
        ));
        changes.push(audit(
            "release.allow-missing-hotfix",
            json!({
                "operation": op.id, "revision": rev.revision, "git_commit": rev.git_commit,
                "missing": links.missing, "reason": reason,
            }),
        ));
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hotfixes_in_production_that_a_release_does_not_account_for_count_as_missing() {
        let links = |carries: &[u64], missing: &[u64]| HotfixLinks {
            carries: carries.to_vec(),
            missing: missing.iter().map(|n| MissingHotfix { revision: *n, commits: vec![] }).collect(),
            ..HotfixLinks::default()
        };
        let production = [(4, Some("a1".to_owned())), (6, None)];
        // (carried, reported missing, what is added as missing)
        let cases: &[(&[u64], &[u64], &[u64])] =
            &[(&[], &[], &[4, 6]), (&[4], &[], &[6]), (&[4, 6], &[], &[]), (&[4], &[6], &[]), (&[], &[4, 6], &[])];
        for (carries, missing, want) in cases {
            let got: Vec<u64> = unaccounted(&production, &links(carries, missing)).iter().map(|m| m.revision).collect();
            assert_eq!(got, *want, "carries {carries:?}, missing {missing:?}");
        }
        assert_eq!(unaccounted(&production, &links(&[], &[]))[0].commits, ["a1"]);
        assert!(unaccounted(&[], &links(&[], &[])).is_empty());
    }
}
