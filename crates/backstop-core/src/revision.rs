//! Revisions: numbered, immutable records of one deploy of an app, and their lifecycle.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{AppName, Digest};

/// Where a revision is in its life.
///
/// ```text
/// deploying ──► soaking ──► known-good ──► permanent
///     │            │  └──► live (soak disabled: serving, never proven)
///     ▼            ▼
///   failed    failed / superseded / rolled-back
/// ```
/// `known-good` means the revision served production for its whole soak
/// without dying or failing its health check. Only `known-good` and
/// `permanent` revisions are default rollback targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RevisionStatus {
    /// Instance starting and being health-checked; not serving.
    Deploying,
    /// Serving all traffic, inside its soak window.
    Soaking,
    /// Serving, with soak disabled for the app: never proven.
    Live,
    /// Survived its soak in production.
    KnownGood,
    /// Declared final by an operator.
    Permanent,
    /// Never became healthy, or died or failed health during its soak.
    Failed,
    /// Abandoned by an undo.
    RolledBack,
    /// Replaced by a newer release before its soak ended.
    Superseded,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a revision status")]
pub struct StatusParseError {
    pub input: String,
}

impl RevisionStatus {
    pub const ALL: [RevisionStatus; 8] = [
        RevisionStatus::Deploying,
        RevisionStatus::Soaking,
        RevisionStatus::Live,
        RevisionStatus::KnownGood,
        RevisionStatus::Permanent,
        RevisionStatus::Failed,
        RevisionStatus::RolledBack,
        RevisionStatus::Superseded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RevisionStatus::Deploying => "deploying",
            RevisionStatus::Soaking => "soaking",
            RevisionStatus::Live => "live",
            RevisionStatus::KnownGood => "known-good",
            RevisionStatus::Permanent => "permanent",
            RevisionStatus::Failed => "failed",
            RevisionStatus::RolledBack => "rolled-back",
            RevisionStatus::Superseded => "superseded",
        }
    }

    /// Proven in production: a safe default rollback target.
    pub fn is_proven(self) -> bool {
        matches!(self, RevisionStatus::KnownGood | RevisionStatus::Permanent)
    }

    /// The status a revision takes when an undo moves traffic away from it.
    /// A proven revision stays proven: it did survive its soak, and the undo
    /// may have been for reasons of its own.
    pub fn after_abandoned(self) -> RevisionStatus {
        if self.is_proven() { self } else { RevisionStatus::RolledBack }
    }

    /// The status a serving revision takes when a newer release replaces it.
    pub fn after_replaced(self) -> RevisionStatus {
        match self {
            RevisionStatus::Soaking | RevisionStatus::Live => RevisionStatus::Superseded,
            other => other,
        }
    }
}

impl fmt::Display for RevisionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RevisionStatus {
    type Err = StatusParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RevisionStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| StatusParseError { input: s.to_owned() })
    }
}

/// One numbered deploy of an app. Identity fields (number, version, digest,
/// change-cause, git commit and tag, the revision it is a hotfix of, actor,
/// creation time) never change after creation; only the lifecycle fields
/// below them do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revision {
    pub app: AppName,
    pub revision: u64,
    pub version: String,
    pub digest: Digest,
    pub change_cause: String,
    pub git_commit: Option<String>,
    /// The image a container platform runs, pinned by `digest` (`registry.example/web@sha256:…`);
    /// none for an artifact uploaded to backstop's own store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The git tag the release named as its commit, when it named one (`git_commit` is what it
    /// pointed at then).
    #[serde(default)]
    pub git_tag: Option<String>,
    /// The revision this one is a hotfix of: built from that revision's commit plus the fix.
    #[serde(default)]
    pub hotfix_of: Option<u64>,
    /// Feature flags that guard this release's risky changes: switching
    /// them off is the fastest way back (no deploy).
    #[serde(default)]
    pub guarded_by: Vec<String>,
    pub actor: String,
    pub created_at: DateTime<Utc>,
    // lifecycle
    pub status: RevisionStatus,
    /// Why the status is what it is, for failed and rolled-back revisions.
    pub status_reason: Option<String>,
    /// When the revision last started serving traffic.
    pub live_since: Option<DateTime<Utc>>,
    /// When the revision's current soak ends (set while soaking).
    pub soak_until: Option<DateTime<Utc>>,
    /// When the revision became known-good.
    pub known_good_at: Option<DateTime<Utc>>,
    /// When an undo last took traffic away from it (cleared when it serves again): a default undo
    /// never goes back to a revision an operator undid.
    #[serde(default)]
    pub undone_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_round_trips_through_text_and_json() {
        for st in RevisionStatus::ALL {
            assert_eq!(st.as_str().parse::<RevisionStatus>(), Ok(st));
            assert_eq!(serde_json::to_value(st).unwrap(), serde_json::json!(st.as_str()));
        }
        assert!("knowngood".parse::<RevisionStatus>().is_err());
    }

    #[test]
    fn abandon_and_replace_table() {
        use RevisionStatus::*;
        let cases = [
            (Soaking, RolledBack, Superseded),
            (Live, RolledBack, Superseded),
            (KnownGood, KnownGood, KnownGood),
            (Permanent, Permanent, Permanent),
        ];
        for (from, abandoned, replaced) in cases {
            assert_eq!(from.after_abandoned(), abandoned, "{from} abandoned");
            assert_eq!(from.after_replaced(), replaced, "{from} replaced");
        }
    }
}
