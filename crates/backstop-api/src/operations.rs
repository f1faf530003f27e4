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
    /// Flags that guard the release's risky changes (each must exist).
    #[serde(default)]
    pub guarded_by: Vec<String>,
    /// The release's whole migration folder, in run order (`None`: the release ships none).
    #[serde(default)]
    pub migrations: Option<Vec<ShippedMigration>>,
    /// The queries the release's code runs, for the precise rollback check.
    #[serde(default)]
    pub queries: Vec<ShippedQuery>,
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
