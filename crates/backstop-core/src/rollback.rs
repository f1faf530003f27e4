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
    #[error("no known-good revision before the live revision {live}")]
    NoKnownGoodBefore { live: u64 },
    #[error("nothing has been released yet")]
    NothingReleased,
    #[error("revision {revision} is {status} and cannot serve traffic")]
    NotServable { revision: u64, status: RevisionStatus },
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
                "no earlier revision survived its soak; name one with --to-revision N, or roll forward with a fixed release"
                    .into()
            }
            RollbackRefusal::NotServable { .. } => {
                "pick a known-good revision (`backstop known-good APP`) or roll forward with a fixed release".into()
            }
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

/// Decide which revision an undo makes live.
///
/// With `requested`, that revision, provided it exists, is not live and once
/// became healthy (a `failed` or still `deploying` revision never served and
/// is refused). Without it, the last proven revision before the live one.
pub fn choose_target(
    revisions: &[Revision],
    live: Option<u64>,
    requested: Option<u64>,
) -> Result<RollbackTarget, RollbackRefusal> {
    let latest = revisions.iter().map(|r| r.revision).max();
    match requested {
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
            Ok(RollbackTarget { revision: n })
        }
        None if latest.is_none() => Err(RollbackRefusal::NothingReleased),
        None => match live {
            Some(live) => last_known_good(revisions, Some(live))
                .map(|r| RollbackTarget { revision: r.revision })
                .ok_or(RollbackRefusal::NoKnownGoodBefore { live }),
            None => last_known_good(revisions, None)
                .map(|r| RollbackTarget { revision: r.revision })
                .ok_or(RollbackRefusal::NothingReleased),
        },
    }
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
