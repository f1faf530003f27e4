//! Roll forward as a procedure: the hotfix branch's name, which hotfixes production has run (so
//! every later release must carry their fix), whether a hotfix's fix is on a branch, decided from
//! what git found, and the backport debt that follows.
//!
//! Gathering the findings (running git) is the client's job; everything here reads them only.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Revision, RevisionStatus};

/// How many hex digits of a commit name a hotfix branch.
pub const SHORT_COMMIT: usize = 7;
/// The longest git commit or tag name a release may record.
pub const MAX_GIT_NAME: usize = 255;

/// The first [`SHORT_COMMIT`] characters of a commit id (all of it when shorter).
pub fn short_commit(commit: &str) -> &str {
    commit.get(..SHORT_COMMIT).unwrap_or(commit)
}

/// The branch a hotfix of `revision` starts on: `hotfix/APP-rN-SHORT`.
pub fn branch_name(app: &str, revision: u64, commit: &str) -> String {
    format!("hotfix/{app}-r{revision}-{}", short_commit(commit))
}

/// Why a git commit or tag name cannot be recorded, if it cannot.
pub fn git_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("is empty")
    } else if name.len() > MAX_GIT_NAME {
        Some("is longer than 255 bytes")
    } else if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("contains whitespace or control characters")
    } else if name.starts_with('-') {
        Some("starts with `-`")
    } else {
        None
    }
}

/// A hotfix revision whose fix production has run: it served (and was neither failed nor undone),
/// so a later release that lacks its fix brings the bug back.
pub fn in_production(rev: &Revision) -> bool {
    rev.hotfix_of.is_some()
        && rev.live_since.is_some()
        && !matches!(rev.status, RevisionStatus::Failed | RevisionStatus::RolledBack)
}

/// The commit ids named by `(cherry picked from commit X)` lines of a commit message (what
/// `git cherry-pick -x` writes), in order.
pub fn cherry_picked_from(message: &str) -> Vec<&str> {
    message
        .lines()
        .filter_map(|line| line.trim().strip_prefix("(cherry picked from commit ")?.strip_suffix(')'))
        .map(str::trim)
        .filter(|id| (SHORT_COMMIT..=64).contains(&id.len()) && id.chars().all(|c| c.is_ascii_hexdigit()))
        .collect()
}

/// A trailer's commit id names `commit` (full or abbreviated, any case).
pub fn names_commit(trailer: &str, commit: &str) -> bool {
    trailer.len() >= SHORT_COMMIT && commit.get(..trailer.len()).is_some_and(|head| head.eq_ignore_ascii_case(trailer))
}

/// Why a hotfix's commit counts as present on the branch checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "kebab-case")]
pub enum Evidence {
    /// The commit itself is in the branch's history.
    Merged,
    /// A commit on the branch says `(cherry picked from commit …)` naming it.
    Trailer { commit: String },
    /// A commit on the branch has the same `git patch-id --stable`.
    PatchId { commit: String },
    /// The commit changes no file.
    Empty,
    /// Its change is already in the branch's tree: its reverse diff applies (alone, or with the
    /// rest of the fix when the backport was squashed).
    Tree,
}

/// What git found of one commit of a hotfix's fix on the branch checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitFinding {
    pub commit: String,
    pub subject: String,
    /// The commit is an ancestor of the branch.
    pub merged: bool,
    /// A branch commit whose cherry-pick trailer names it.
    pub trailer: Option<String>,
    /// A branch commit with the same patch id.
    pub patch_id: Option<String>,
    /// It changes nothing.
    pub empty: bool,
    /// Its reverse diff applies to the branch's tree.
    pub tree: bool,
}

impl CommitFinding {
    /// The strongest evidence found, in the order: merged, trailer, patch id, empty, tree.
    pub fn evidence(&self) -> Option<Evidence> {
        if self.merged {
            Some(Evidence::Merged)
        } else if let Some(c) = &self.trailer {
            Some(Evidence::Trailer { commit: c.clone() })
        } else if let Some(c) = &self.patch_id {
            Some(Evidence::PatchId { commit: c.clone() })
        } else if self.empty {
            Some(Evidence::Empty)
        } else if self.tree {
            Some(Evidence::Tree)
        } else {
            None
        }
    }
}

/// A commit of the fix and why it counts as present.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Found {
    pub commit: String,
    pub evidence: Evidence,
}

/// A commit of the fix that is not on the branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Absent {
    pub commit: String,
    pub subject: String,
}

/// Whether a hotfix's fix is on a branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Backport {
    /// Every commit of the fix is there.
    Present { found: Vec<Found> },
    /// The hotfix has no commit beyond its base: nothing to bring back.
    NothingToBring,
    /// These commits of the fix are not there (oldest first).
    Missing { missing: Vec<Absent> },
    /// It could not be decided (a commit is not in the repository); counted as missing.
    Unverifiable { reason: String },
}

impl Backport {
    /// Not known to be on the branch: debt while it lasts, a refusal at release time.
    pub fn is_missing(&self) -> bool {
        matches!(self, Backport::Missing { .. } | Backport::Unverifiable { .. })
    }
}

/// Decide from the findings of a hotfix's commits (oldest first) and whether the reverse diff of
/// the whole fix applies to the branch's tree (`whole_tree`, the squashed backport).
pub fn backport(commits: &[CommitFinding], whole_tree: bool) -> Backport {
    if commits.is_empty() {
        return Backport::NothingToBring;
    }
    let evidence: Vec<Option<Evidence>> = commits.iter().map(CommitFinding::evidence).collect();
    if evidence.iter().all(Option::is_some) || whole_tree {
        let found = commits
            .iter()
            .zip(evidence)
            .map(|(c, e)| Found { commit: c.commit.clone(), evidence: e.unwrap_or(Evidence::Tree) })
            .collect();
        return Backport::Present { found };
    }
    let missing = commits
        .iter()
        .zip(evidence)
        .filter(|(_, e)| e.is_none())
        .map(|(c, _)| Absent { commit: c.commit.clone(), subject: c.subject.clone() })
        .collect();
    Backport::Missing { missing }
}

/// The command that brings `missing` to the current branch, recording where each came from.
pub fn cherry_pick_command(missing: &[Absent]) -> String {
    let ids: Vec<&str> = missing.iter().map(|a| a.commit.as_str()).collect();
    format!("git cherry-pick -x {}", ids.join(" "))
}

/// One hotfix revision as `hotfix check` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HotfixState {
    pub app: String,
    pub revision: u64,
    pub version: String,
    pub hotfix_of: u64,
    pub git_commit: Option<String>,
    pub git_tag: Option<String>,
    pub status: RevisionStatus,
    pub created_at: DateTime<Utc>,
    /// Production ran it ([`in_production`]): its fix must reach the branch.
    pub required: bool,
    pub backport: Backport,
    /// Open debt: required and missing.
    pub debt: bool,
    /// Seconds since the hotfix was released, while it is debt.
    pub age_secs: Option<i64>,
    /// What pays the debt.
    pub command: Option<String>,
}

/// The state of hotfix `rev` given what was found of its fix.
pub fn state(rev: &Revision, backport: Backport, now: DateTime<Utc>) -> HotfixState {
    let required = in_production(rev);
    let debt = required && backport.is_missing();
    let command = match (&backport, debt) {
        (Backport::Missing { missing }, true) => Some(cherry_pick_command(missing)),
        _ => None,
    };
    HotfixState {
        app: rev.app.to_string(),
        revision: rev.revision,
        version: rev.version.clone(),
        hotfix_of: rev.hotfix_of.unwrap_or_default(),
        git_commit: rev.git_commit.clone(),
        git_tag: rev.git_tag.clone(),
        status: rev.status,
        created_at: rev.created_at,
        required,
        debt,
        age_secs: debt.then(|| (now - rev.created_at).num_seconds().max(0)),
        command,
        backport,
    }
}

/// What a release must do about the hotfixes production ran whose fix its commit lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// Every hotfix production ran is in the release.
    Pass,
    /// Some are missing and the operator allowed it, with this reason.
    Allowed { missing: Vec<u64>, reason: String },
    /// Some are missing: refuse.
    Refused { missing: Vec<u64> },
}

/// The release gate: `missing` are the hotfix revisions whose fix the release lacks; `allow` the
/// operator's reason to release anyway (blank counts as none).
pub fn gate(missing: &[u64], allow: Option<&str>) -> Gate {
    if missing.is_empty() {
        return Gate::Pass;
    }
    match allow.map(str::trim).filter(|r| !r.is_empty()) {
        Some(reason) => Gate::Allowed { missing: missing.to_vec(), reason: reason.to_owned() },
        None => Gate::Refused { missing: missing.to_vec() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AppName, Digest};

    const A: &str = "4f2a9c1d0e5b6a7c8d9e0f1a2b3c4d5e6f7a8b9c";
    const B: &str = "0123456789abcdef0123456789abcdef01234567";

    fn rev(n: u64, hotfix_of: Option<u64>, status: RevisionStatus, served: bool) -> Revision {
        Revision {
            app: "shop".parse::<AppName>().unwrap(),
            revision: n,
            version: format!("v{n}"),
            digest: Digest::of_bytes(b"x"),
            change_cause: String::new(),
            git_commit: Some(A.into()),
            git_tag: None,
            hotfix_of,
            image: None,
            guarded_by: vec![],
            actor: "test".into(),
            created_at: DateTime::UNIX_EPOCH,
            status,
            status_reason: None,
            live_since: served.then_some(DateTime::UNIX_EPOCH),
            soak_until: None,
            known_good_at: None,
            undone_at: None,
        }
    }

    fn finding(commit: &str) -> CommitFinding {
        CommitFinding { commit: commit.into(), subject: format!("fix {commit}"), ..CommitFinding::default() }
    }

    #[test]
    fn branch_names() {
        let cases = [
            ("shop", 7, A, "hotfix/shop-r7-4f2a9c1"),
            ("billing-api", 12, B, "hotfix/billing-api-r12-0123456"),
            ("shop", 1, "abc", "hotfix/shop-r1-abc"),
        ];
        for (app, n, commit, want) in cases {
            assert_eq!(branch_name(app, n, commit), want);
        }
    }

    #[test]
    fn git_names() {
        let long = "a".repeat(256);
        let cases: [(&str, Option<&str>); 7] = [
            (A, None),
            ("v2.4.0", None),
            ("release/2024-01", None),
            ("", Some("is empty")),
            (&long, Some("is longer than 255 bytes")),
            ("v1 v2", Some("contains whitespace or control characters")),
            ("--upload-pack=x", Some("starts with `-`")),
        ];
        for (name, want) in cases {
            assert_eq!(git_name_problem(name), want, "{name}");
        }
    }

    #[test]
    fn which_hotfixes_production_ran() {
        use RevisionStatus::*;
        let cases = [
            ("hotfix known-good", rev(3, Some(2), KnownGood, true), true),
            ("hotfix soaking", rev(3, Some(2), Soaking, true), true),
            ("hotfix superseded by a later release", rev(3, Some(2), Superseded, true), true),
            ("hotfix live, never proven", rev(3, Some(2), Live, true), true),
            ("hotfix still deploying", rev(3, Some(2), Deploying, false), false),
            ("hotfix failed its soak", rev(3, Some(2), Failed, true), false),
            ("hotfix undone", rev(3, Some(2), RolledBack, true), false),
            ("not a hotfix", rev(3, None, KnownGood, true), false),
        ];
        for (name, r, want) in cases {
            assert_eq!(in_production(&r), want, "{name}");
        }
    }

    #[test]
    fn cherry_pick_trailers() {
        let cases: [(&str, &str, Vec<&str>); 6] = [
            ("git cherry-pick -x", &format!("fix total\n\n(cherry picked from commit {A})\n"), vec![A]),
            (
                "two picks squashed",
                &format!("(cherry picked from commit {A})\n(cherry picked from commit {B})"),
                vec![A, B],
            ),
            ("indented, abbreviated", "  (cherry picked from commit 4f2a9c1)", vec!["4f2a9c1"]),
            ("too short to name a commit", "(cherry picked from commit 4f2a)", vec![]),
            ("not hex", "(cherry picked from commit zzzzzzzz)", vec![]),
            ("mentioned in prose", &format!("see cherry picked from commit {A}"), vec![]),
        ];
        for (name, message, want) in cases {
            assert_eq!(cherry_picked_from(message), want, "{name}");
        }
    }

    #[test]
    fn trailers_name_commits() {
        let cases = [
            (A, A, true),
            ("4f2a9c1", A, true),
            ("4F2A9C1D", A, true),
            ("4f2a9c", A, false),
            ("4f2a9c2", A, false),
            (B, A, false),
        ];
        for (trailer, commit, want) in cases {
            assert_eq!(names_commit(trailer, commit), want, "{trailer} names {commit}");
        }
    }

    #[test]
    fn backport_decisions() {
        let with = |f: fn(&mut CommitFinding)| {
            let mut c = finding(A);
            f(&mut c);
            c
        };
        let present = |e: Evidence| Backport::Present { found: vec![Found { commit: A.into(), evidence: e }] };
        let missing_a = Backport::Missing { missing: vec![Absent { commit: A.into(), subject: format!("fix {A}") }] };
        let cases = [
            ("no commits beyond the base", vec![], false, Backport::NothingToBring),
            ("merged into the branch", vec![with(|c| c.merged = true)], false, present(Evidence::Merged)),
            (
                "cherry-picked with -x",
                vec![with(|c| c.trailer = Some(B.into()))],
                false,
                present(Evidence::Trailer { commit: B.into() }),
            ),
            (
                "cherry-picked without -x, same patch",
                vec![with(|c| c.patch_id = Some(B.into()))],
                false,
                present(Evidence::PatchId { commit: B.into() }),
            ),
            (
                "hand-resolved conflict: only the tree has it",
                vec![with(|c| c.tree = true)],
                false,
                present(Evidence::Tree),
            ),
            ("an empty commit", vec![with(|c| c.empty = true)], false, present(Evidence::Empty)),
            (
                "the trailer wins over weaker evidence",
                vec![with(|c| {
                    c.trailer = Some(B.into());
                    c.tree = true;
                })],
                false,
                present(Evidence::Trailer { commit: B.into() }),
            ),
            ("nothing found", vec![finding(A)], false, missing_a.clone()),
            (
                "squashed: neither commit alone, the whole fix is in the tree",
                vec![finding(A), finding(B)],
                true,
                Backport::Present {
                    found: vec![
                        Found { commit: A.into(), evidence: Evidence::Tree },
                        Found { commit: B.into(), evidence: Evidence::Tree },
                    ],
                },
            ),
            (
                "one of two picked, the other missing",
                vec![with(|c| c.trailer = Some(B.into())), finding(B)],
                false,
                Backport::Missing { missing: vec![Absent { commit: B.into(), subject: format!("fix {B}") }] },
            ),
        ];
        for (name, commits, whole, want) in cases {
            assert_eq!(backport(&commits, whole), want, "{name}");
        }
    }

    #[test]
    fn debt_and_its_command() {
        use RevisionStatus::*;
        let now = DateTime::UNIX_EPOCH + chrono::Duration::hours(30);
        let missing = Backport::Missing {
            missing: vec![
                Absent { commit: A.into(), subject: "fix".into() },
                Absent { commit: B.into(), subject: "test".into() },
            ],
        };
        let present = Backport::Present { found: vec![Found { commit: A.into(), evidence: Evidence::Merged }] };
        let unknown = Backport::Unverifiable { reason: "commit not in the repository".into() };
        let cases = [
            ("missing and ran in production", rev(3, Some(2), KnownGood, true), missing.clone(), true),
            ("backported", rev(3, Some(2), KnownGood, true), present, false),
            ("unverifiable counts as debt", rev(3, Some(2), KnownGood, true), unknown, true),
            ("missing but the hotfix failed", rev(3, Some(2), Failed, true), missing.clone(), false),
        ];
        for (name, r, b, want) in cases {
            let s = state(&r, b, now);
            assert_eq!(s.debt, want, "{name}");
            assert_eq!(s.age_secs, want.then_some(30 * 3600), "{name}");
        }
        let s = state(&rev(3, Some(2), KnownGood, true), missing, now);
        assert_eq!(s.command.as_deref(), Some(format!("git cherry-pick -x {A} {B}").as_str()));
        assert_eq!(s.hotfix_of, 2);
    }

    #[test]
    fn release_gate() {
        let cases = [
            ("nothing missing", vec![], None, Gate::Pass),
            ("nothing missing, reason ignored", vec![], Some("x"), Gate::Pass),
            ("missing", vec![3], None, Gate::Refused { missing: vec![3] }),
            ("blank reason is no reason", vec![3], Some("  "), Gate::Refused { missing: vec![3] }),
            (
                "allowed with a reason",
                vec![3, 5],
                Some(" reverted on purpose "),
                Gate::Allowed { missing: vec![3, 5], reason: "reverted on purpose".into() },
            ),
        ];
        for (name, missing, allow, want) in cases {
            assert_eq!(gate(&missing, allow), want, "{name}");
        }
    }
}
