//! The operations a client asks for: release, undo, promote, and what each answers.

use backstop_core::{Digest, RevisionStatus};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /v1/apps/{app}/releases`: release an uploaded artifact as the app's next revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReleaseRequest {
    #[schema(value_type = String, pattern = "^sha256:[0-9a-f]{64}$")]
    pub digest: Digest,
    pub version: String,
    #[serde(default)]
    pub change_cause: String,
    #[serde(default)]
    pub git_commit: Option<String>,
    /// A Kubernetes app's image, pinned by `digest` (`registry.example/web@sha256:…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The tag the release was named by; `git_commit` is the commit it pointed at.
    #[serde(default)]
    pub git_tag: Option<String>,
    /// The revision this release is a hotfix of (needs `git_commit`, and that revision's commit).
    #[serde(default)]
    pub hotfix_of: Option<u64>,
    /// The hotfix revisions production ran whose fix the client found in `git_commit`.
    #[serde(default)]
    pub carries_hotfixes: Vec<u64>,
    /// The hotfix revisions production ran whose fix the client did not find in `git_commit`: the
    /// release is refused unless `allow_missing_hotfix` says why (recorded in the audit log).
    #[serde(default)]
    pub missing_hotfixes: Vec<MissingHotfix>,
    #[serde(default)]
    pub allow_missing_hotfix: Option<String>,
    /// Flags that guard the release's risky changes (each must exist).
    #[serde(default)]
    pub guarded_by: Vec<String>,
    /// The release's whole migration folder, in run order (`None`: the release ships none).
    #[serde(default)]
    pub migrations: Option<Vec<ShippedMigration>>,
    /// The queries the release's code runs, for the precise rollback check.
    #[serde(default)]
    pub queries: Vec<ShippedQuery>,
    /// The release's contracts, checked against the rollback window by the compatibility gate.
    #[serde(flatten)]
    pub contracts: crate::ReleaseContracts,
}

/// `POST /v1/apps/{app}/import`: adopt a platform's history (`deployment/NAME`) into an app
/// without revisions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    pub source: String,
}

/// One imported revision and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ImportedRevision {
    pub revision: u64,
    pub origin: String,
}

/// What an import did: the newest past revision is live, the older ones known-good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ImportOutcome {
    pub outcome: Outcome,
    pub imported: Vec<ImportedRevision>,
    pub skipped: Vec<String>,
}

/// A hotfix production ran whose fix a release's commit lacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MissingHotfix {
    pub revision: u64,
    /// The fix's commits not found in the release's commit.
    pub commits: Vec<String>,
}

/// One migration file a release ships; `down` is the text of its `.down.sql` pair, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ShippedMigration {
    pub version: String,
    pub name: String,
    pub sql: String,
    #[serde(default)]
    pub down: Option<String>,
}

/// One query a release's code runs, for the precise rollback check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ShippedQuery {
    pub name: String,
    pub sql: String,
}

/// `POST /v1/apps/{app}/undo`: move traffic back to the last known-good
/// revision, or to `to_revision`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UndoRequest {
    #[serde(default)]
    pub to_revision: Option<u64>,
    /// Roll back even onto a schema the target cannot use; recorded in the audit log.
    #[serde(default)]
    pub force: bool,
}

/// `POST /v1/apps/{app}/abort`: what stopping the app's release did. A release still starting is
/// stopped before it takes traffic (its revision failed, its operation `reverted`); a soaking
/// revision is reverted by an `abort` operation, as an automatic revert would.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AbortOutcome {
    /// The release's own operation (stopped while starting) or the `abort` operation (soaking).
    pub operation: u64,
    pub app: String,
    /// The revision that will not serve.
    pub revision: u64,
    /// Stopped before it took traffic; `false`: it was soaking and traffic went back.
    pub before_traffic: bool,
    /// Where the app's traffic is now.
    pub traffic_on: Option<u64>,
}

/// `POST /v1/apps/{app}/revisions/{n}/promote`: declare a known-good revision
/// permanent (no rollback goes further back). `permanent` must be true.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PromoteRequest {
    pub permanent: bool,
}

/// What a release or an undo did: the revision that now takes the traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Outcome {
    pub operation: u64,
    pub app: String,
    pub revision: u64,
    pub version: String,
    #[schema(value_type = String)]
    pub digest: Digest,
    pub from_revision: Option<u64>,
    /// The target was already running warm, so the switch was a pointer swap.
    pub warm: bool,
    #[schema(value_type = String)]
    pub status: RevisionStatus,
}
