//! The artifact store over HTTP: whether an artifact is stored, what an
//! upload did, and what garbage collection removed.

use backstop_core::Digest;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// `GET /v1/artifacts/{digest}`: the artifact is in the store (a 404 otherwise).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ArtifactInfo {
    #[schema(value_type = String)]
    pub digest: Digest,
}

/// `PUT /v1/artifacts/{digest}`: the body is a file's bytes, or a directory
/// as a tar stream (`Content-Type: application/x-tar`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Uploaded {
    #[schema(value_type = String)]
    pub digest: Digest,
    /// What was stored; absent when the artifact already was in the store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ArtifactKind>,
    /// False when the artifact already was in the store (nothing was written).
    pub stored: bool,
}

/// What an artifact is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ArtifactKind {
    /// One executable file.
    File,
    /// A directory with an executable `run` at its top.
    Dir,
}

/// `POST /v1/gc`: what garbage collection of the artifact store did (also the
/// detail of its audit entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GcSummary {
    pub freed_bytes: u64,
    /// How many artifacts protected revisions still refer to.
    pub kept: usize,
    /// The artifacts deleted (or, on a dry run, that would be).
    #[schema(value_type = Vec<String>)]
    pub removed: Vec<Digest>,
    /// The revisions whose instance logs were deleted (or would be), `APP/N`: their artifact is
    /// gone and none of their instances runs.
    #[serde(default)]
    pub removed_logs: Vec<String>,
    /// Nothing was deleted: `removed` and `freed_bytes` say what a collection would do.
    #[serde(default)]
    pub dry_run: bool,
}

/// The query string of `POST /v1/gc`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GcQuery {
    /// Say what would be deleted, delete nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
}
