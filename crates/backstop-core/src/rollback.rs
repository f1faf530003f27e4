//! The rollback-target rule: which revision an undo goes back to, and when it refuses.

use std::collections::BTreeSet;

use crate::{Digest, Revision, RevisionStatus};

/// The revision an undo will make live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollbackTarget {
    pub revision: u64,
}

/// Why an undo cannot pick a target. Each variant names what to do instead
/// through [`RollbackRefusal::hint`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RollbackRefusal {
    #[error("revision {revision} does not exist")]
    UnknownRevision { revision: u64, latest: Option<u64> },
    #[error("revision {revision} is already live")]
    AlreadyLive { revision: u64 },
    #[error("no known-good revision older than the live revision {live}")]
    NoKnownGoodBefore { live: u64 },
    #[error("nothing has been released yet")]
    NothingReleased,
    #[error("revision {revision} is {status} and cannot serve traffic")]
    NotServable { revision: u64, status: RevisionStatus },
    #[error("rollback to revision {revision} refused: revision {permanent} is permanent, and nothing older runs again")]
    BeforePermanent { revision: u64, permanent: u64 },
}

impl RollbackRefusal {
    pub fn hint(&self) -> String {
        match self {
            RollbackRefusal::UnknownRevision { latest: Some(latest), .. } => {
                format!("revisions run from 1 to {latest}; `backstop history APP` lists them")
            }
            RollbackRefusal::UnknownRevision { latest: None, .. } | RollbackRefusal::NothingReleased => {
                "release a version first with `backstop release APP --artifact PATH --version V`".into()
            }
            RollbackRefusal::AlreadyLive { .. } => {
                "pick an earlier revision with --to-revision N; `backstop history APP` lists them".into()
            }
            RollbackRefusal::NoKnownGoodBefore { .. } => {
                "no older revision survived its soak (a revision you undid does not count); name one with --to-revision N, or roll forward with a fixed release"
                    .into()
            }
            RollbackRefusal::NotServable { .. } => {
                "pick a known-good revision (`backstop known-good APP`) or roll forward with a fixed release".into()
            }
            RollbackRefusal::BeforePermanent { permanent, .. } => format!(
                "roll forward: release a fix (`backstop release APP --artifact PATH --version V`); a rollback may go back to revision {permanent} at the oldest"
            ),
        }
    }
}

/// The last proven (known-good or permanent) revision strictly before `before`,
/// or the last proven one overall when `before` is `None`.
pub fn last_known_good(revisions: &[Revision], before: Option<u64>) -> Option<&Revision> {
    revisions
        .iter()
        .filter(|r| r.status.is_proven())
        .filter(|r| before.is_none_or(|b| r.revision < b))
        .max_by_key(|r| r.revision)
}

/// The newest permanent revision: no undo or rollback lands on a revision older than it.
pub fn permanent_floor(revisions: &[Revision]) -> Option<u64> {
    revisions.iter().filter(|r| r.status == RevisionStatus::Permanent).map(|r| r.revision).max()
}

/// The revision a plain undo goes back to: the newest proven revision older than `live`
/// (the newest proven one at all when nothing is live) that no undo took traffic away from.
///
/// Undo never moves forward, so after `undo` from 2 to 1 a second `undo` goes further back,
/// never to 2 again: an operator who undid a release wants the good one before it, not the one
/// they just left. Going forward again is `--to-revision N`.
fn default_target(revisions: &[Revision], live: Option<u64>) -> Option<&Revision> {
    revisions
        .iter()
        .filter(|r| r.status.is_proven() && r.undone_at.is_none())
        .filter(|r| live.is_none_or(|l| r.revision < l))
        .max_by_key(|r| r.revision)
}

/// Decide which revision an undo makes live.
///
/// With `requested`, that revision, provided it exists, is not live and once
/// became healthy (a `failed` or still `deploying` revision never served and
/// is refused). Without it, [`default_target`]. Either way, never a revision
/// older than the newest permanent one ([`permanent_floor`]).
pub fn choose_target(
    revisions: &[Revision],
    live: Option<u64>,
    requested: Option<u64>,
) -> Result<RollbackTarget, RollbackRefusal> {
    let latest = revisions.iter().map(|r| r.revision).max();
    let target = match requested {
        Some(n) => {
            let rev = revisions
                .iter()
                .find(|r| r.revision == n)
                .ok_or(RollbackRefusal::UnknownRevision { revision: n, latest })?;
            if live == Some(n) {
                return Err(RollbackRefusal::AlreadyLive { revision: n });
            }
            if matches!(rev.status, RevisionStatus::Failed | RevisionStatus::Deploying) {
                return Err(RollbackRefusal::NotServable { revision: n, status: rev.status });
            }
            n
        }
        None if latest.is_none() => return Err(RollbackRefusal::NothingReleased),
        None => match (default_target(revisions, live), live) {
            (Some(r), _) => r.revision,
            (None, Some(live)) => return Err(RollbackRefusal::NoKnownGoodBefore { live }),
            (None, None) => return Err(RollbackRefusal::NothingReleased),
        },
    };
    match permanent_floor(revisions) {
        Some(permanent) if target < permanent => Err(RollbackRefusal::BeforePermanent { revision: target, permanent }),
        _ => Ok(RollbackTarget { revision: target }),
    }
}

/// The revisions a new release must stay compatible with: the live one, and every proven
/// revision an undo may still land on (none older than [`permanent_floor`]), oldest first.
/// During a switch the live revision and the new one serve side by side; after an undo any of
/// the others serves beside the new one's clients and messages.
pub fn compat_window(revisions: &[Revision], live: Option<u64>) -> Vec<u64> {
    let floor = permanent_floor(revisions);
    let mut window: Vec<u64> = revisions
        .iter()
        .filter(|r| live == Some(r.revision) || (r.status.is_proven() && floor.is_none_or(|f| r.revision >= f)))
        .map(|r| r.revision)
        .collect();
    window.sort_unstable();
    window.dedup();
    window
}

/// The artifact digests garbage collection must keep for one app: those of
/// the last `keep_known_good` proven revisions, of every revision in
/// `pinned` (live, warm, in an operation), and of every revision that is
/// deploying, soaking or live.
pub fn artifacts_to_keep(revisions: &[Revision], keep_known_good: usize, pinned: &[u64]) -> BTreeSet<Digest> {
    let mut proven: Vec<&Revision> = revisions.iter().filter(|r| r.status.is_proven()).collect();
    proven.sort_by_key(|r| std::cmp::Reverse(r.revision));
    let mut keep: BTreeSet<Digest> = proven.iter().take(keep_known_good).map(|r| r.digest.clone()).collect();
    for r in revisions {
        let active = matches!(r.status, RevisionStatus::Deploying | RevisionStatus::Soaking | RevisionStatus::Live);
        if active || pinned.contains(&r.revision) {
            keep.insert(r.digest.clone());
        }
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AppName;
    use RevisionStatus::*;

    fn rev(n: u64, status: RevisionStatus) -> Revision {
        Revision {
            app: "shop".parse::<AppName>().unwrap(),
            revision: n,
            version: format!("v{n}"),
            digest: Digest::of_bytes(format!("artifact {n}").as_bytes()),
            change_cause: format!("release {n}"),
            git_commit: None,
            image: None,
            git_tag: None,
            hotfix_of: None,
            guarded_by: vec![],
            actor: "test".into(),
            created_at: chrono::DateTime::UNIX_EPOCH,
            status,
            status_reason: None,
            live_since: None,
            soak_until: None,
            known_good_at: None,
            undone_at: None,
        }
    }

    fn undone(n: u64, status: RevisionStatus) -> Revision {
        Revision { undone_at: Some(chrono::DateTime::UNIX_EPOCH), ..rev(n, status) }
    }

    #[test]
    fn compat_window_table() {
        type Case<'a> = (&'a str, Vec<Revision>, Option<u64>, Vec<u64>);
        let cases: Vec<Case> = vec![
            ("nothing released", vec![], None, vec![]),
            ("the live one alone", vec![rev(1, Soaking)], Some(1), vec![1]),
            (
                "every proven one back to the first",
                vec![rev(1, KnownGood), rev(2, KnownGood), rev(3, Live)],
                Some(3),
                vec![1, 2, 3],
            ),
            (
                "failed, rolled back and superseded ones are not landed on",
                vec![rev(1, KnownGood), rev(2, Failed), rev(3, RolledBack), rev(4, Superseded), rev(5, Soaking)],
                Some(5),
                vec![1, 5],
            ),
            (
                "nothing older than the permanent floor",
                vec![rev(1, KnownGood), rev(2, Permanent), rev(3, KnownGood), rev(4, Soaking)],
                Some(4),
                vec![2, 3, 4],
            ),
            (
                "a live revision older than the floor still serves",
                vec![rev(1, KnownGood), rev(2, Permanent), rev(3, Failed)],
                Some(1),
                vec![1, 2],
            ),
            ("nothing live: the proven ones", vec![rev(1, KnownGood), rev(2, RolledBack)], None, vec![1]),
        ];
        for (label, revisions, live, want) in cases {
            assert_eq!(compat_window(&revisions, live), want, "{label}");
        }
    }

    #[test]
    fn choose_target_table() {
        type Case<'a> = (&'a str, Vec<Revision>, Option<u64>, Option<u64>, Result<u64, RollbackRefusal>);
        let cases: Vec<Case> = vec![
            ("nothing released", vec![], None, None, Err(RollbackRefusal::NothingReleased)),
            (
                "explicit revision when nothing was released",
                vec![],
                None,
                Some(7),
                Err(RollbackRefusal::UnknownRevision { revision: 7, latest: None }),
            ),
            (
                "default: previous known-good",
                vec![rev(1, KnownGood), rev(2, KnownGood), rev(3, Soaking)],
                Some(3),
                None,
                Ok(2),
            ),
            (
                "default skips failed and rolled-back",
                vec![rev(1, KnownGood), rev(2, Failed), rev(3, RolledBack), rev(4, Soaking)],
                Some(4),
                None,
                Ok(1),
            ),
            (
                "default skips superseded (never proven)",
                vec![rev(1, Permanent), rev(2, Superseded), rev(3, Soaking)],
                Some(3),
                None,
                Ok(1),
            ),
            (
                "default never goes forward past live",
                vec![rev(1, KnownGood), rev(2, Soaking), rev(3, KnownGood)],
                Some(2),
                None,
                Ok(1),
            ),
            (
                "no proven revision before live",
                vec![rev(1, Superseded), rev(2, Soaking)],
                Some(2),
                None,
                Err(RollbackRefusal::NoKnownGoodBefore { live: 2 }),
            ),
            ("nothing live: restore the last proven", vec![rev(1, KnownGood), rev(2, RolledBack)], None, None, Ok(1)),
            (
                "default after undo 2 to 1: nothing older",
                vec![rev(1, KnownGood), undone(2, KnownGood)],
                Some(1),
                None,
                Err(RollbackRefusal::NoKnownGoodBefore { live: 1 }),
            ),
            (
                "default skips a revision an undo left",
                vec![rev(1, KnownGood), undone(2, KnownGood), rev(3, Soaking)],
                Some(3),
                None,
                Ok(1),
            ),
            (
                "default goes further back after a second release",
                vec![rev(1, KnownGood), rev(2, KnownGood), rev(3, KnownGood)],
                Some(2),
                None,
                Ok(1),
            ),
            (
                "explicit revision an undo left is allowed (redo)",
                vec![rev(1, KnownGood), undone(2, KnownGood)],
                Some(1),
                Some(2),
                Ok(2),
            ),
            (
                "nothing live: never the revision an undo left",
                vec![rev(1, KnownGood), undone(2, KnownGood)],
                None,
                None,
                Ok(1),
            ),
            (
                "permanent live: default undo refused, naming it",
                vec![rev(1, KnownGood), rev(2, Permanent)],
                Some(2),
                None,
                Err(RollbackRefusal::BeforePermanent { revision: 1, permanent: 2 }),
            ),
            (
                "permanent live without a database: explicit undo past it refused",
                vec![rev(1, KnownGood), rev(2, KnownGood), rev(3, Permanent)],
                Some(3),
                Some(1),
                Err(RollbackRefusal::BeforePermanent { revision: 1, permanent: 3 }),
            ),
            (
                "permanent revision itself is a target",
                vec![rev(1, KnownGood), rev(2, Permanent), rev(3, Soaking)],
                Some(3),
                None,
                Ok(2),
            ),
            (
                "explicit back to the permanent revision",
                vec![rev(1, KnownGood), rev(2, Permanent), rev(3, KnownGood), rev(4, Soaking)],
                Some(4),
                Some(2),
                Ok(2),
            ),
            (
                "newest permanent one counts",
                vec![rev(1, Permanent), rev(2, KnownGood), rev(3, Permanent), rev(4, Soaking)],
                Some(4),
                Some(2),
                Err(RollbackRefusal::BeforePermanent { revision: 2, permanent: 3 }),
            ),
            (
                "forward past a permanent live revision is allowed",
                vec![rev(1, KnownGood), rev(2, Permanent), rev(3, RolledBack)],
                Some(2),
                Some(3),
                Ok(3),
            ),
            (
                "nothing live: the last proven, at or after the permanent one",
                vec![rev(1, KnownGood), rev(2, Permanent), rev(3, RolledBack)],
                None,
                None,
                Ok(2),
            ),
            ("explicit revision", vec![rev(1, KnownGood), rev(2, KnownGood), rev(3, Soaking)], Some(3), Some(1), Ok(1)),
            (
                "explicit rolled-back revision is allowed (redo)",
                vec![rev(1, KnownGood), rev(2, RolledBack)],
                Some(1),
                Some(2),
                Ok(2),
            ),
            (
                "explicit unknown",
                vec![rev(1, KnownGood), rev(2, Soaking)],
                Some(2),
                Some(7),
                Err(RollbackRefusal::UnknownRevision { revision: 7, latest: Some(2) }),
            ),
            (
                "explicit live",
                vec![rev(1, KnownGood), rev(2, Soaking)],
                Some(2),
                Some(2),
                Err(RollbackRefusal::AlreadyLive { revision: 2 }),
            ),
            (
                "explicit failed",
                vec![rev(1, KnownGood), rev(2, Failed), rev(3, Soaking)],
                Some(3),
                Some(2),
                Err(RollbackRefusal::NotServable { revision: 2, status: Failed }),
            ),
        ];
        for (name, revisions, live, requested, expected) in cases {
            let got = choose_target(&revisions, live, requested).map(|t| t.revision);
            assert_eq!(got, expected, "{name}");
        }
    }

    #[test]
    fn every_refusal_has_a_hint() {
        for refusal in [
            RollbackRefusal::NothingReleased,
            RollbackRefusal::AlreadyLive { revision: 1 },
            RollbackRefusal::NoKnownGoodBefore { live: 2 },
            RollbackRefusal::UnknownRevision { revision: 9, latest: Some(3) },
            RollbackRefusal::NotServable { revision: 2, status: Failed },
            RollbackRefusal::BeforePermanent { revision: 1, permanent: 2 },
        ] {
            assert!(!refusal.hint().is_empty());
            assert!(!refusal.to_string().ends_with('.'));
        }
    }

    #[test]
    fn gc_keeps_last_n_known_good_and_pinned() {
        let revisions = vec![
            rev(1, KnownGood),
            rev(2, KnownGood),
            rev(3, Failed),
            rev(4, KnownGood),
            rev(5, RolledBack),
            rev(6, Soaking),
        ];
        let keep = artifacts_to_keep(&revisions, 2, &[5]);
        let kept: Vec<u64> = revisions.iter().filter(|r| keep.contains(&r.digest)).map(|r| r.revision).collect();
        assert_eq!(kept, vec![2, 4, 5, 6]);
        let keep_all = artifacts_to_keep(&revisions, 10, &[]);
        assert!(keep_all.contains(&revisions[0].digest));
        assert!(!keep_all.contains(&revisions[2].digest), "failed artifacts are collectable");
    }
}
