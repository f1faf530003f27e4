//! The flag admin API and the flag-configuration stream for SDKs.

use std::collections::BTreeMap;

use backstop_flags::Flag;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /v1/flags/{key}` (create) and `PUT /v1/flags/{key}` (replace).
///
/// `flag` is kept as JSON: it is a [`Flag`] whose `key` may be left out (the
/// path names it) and whose `version`, when set, is the version the edit was
/// based on (optimistic concurrency; absent or 0 means "whatever is stored").
/// The server fills both in before it reads the flag, so a bad flag is
/// reported as `invalid_flag` with serde's words, not as a malformed request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlagRequest {
    pub flag: serde_json::Value,
    #[serde(default)]
    pub reason: Option<String>,
}

/// `POST /v1/flags/{key}/on`, `POST /v1/flags/{key}/off` and
/// `DELETE /v1/flags/{key}`: why (those three refuse an empty reason).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    #[serde(default)]
    pub reason: Option<String>,
}

/// What a flag write did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Written {
    /// The flag as stored now (for a delete: as it was).
    #[schema(value_type = Object)]
    pub flag: Flag,
    /// False when the flag already was in the asked state (nothing recorded).
    pub changed: bool,
    pub config_version: u64,
}

/// `GET /v1/flags`: every flag at one configuration version, with its ETag
/// (also sent as the `ETag` header; `If-None-Match` with it gets a 304).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FlagList {
    pub etag: String,
    #[schema(value_type = Vec<Object>)]
    pub flags: Vec<Flag>,
    /// Stored flags that cannot be read (written by a newer version, damaged) or no longer
    /// compile: served to nobody, left out of `flags`, listed here so that they can be deleted
    /// (`DELETE /v1/flags/{key}`) or replaced. Absent from older servers' answers.
    #[serde(default)]
    pub unreadable: Vec<UnreadableFlag>,
    pub version: u64,
}

/// One stored flag that cannot be served, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UnreadableFlag {
    pub key: String,
    pub error: String,
}

/// One element of `GET /v1/flags/{key}/history`: one version of a flag, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FlagHistoryEntry {
    pub key: String,
    pub version: u64,
    pub config_version: u64,
    /// `create`, `set`, `on`, `off` or `delete`.
    pub action: String,
    #[schema(value_type = Object)]
    pub flag: Flag,
    pub actor: String,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

/// The data of the stream's `snapshot` event: every flag, sent on connect and
/// after a subscriber fell behind. The event id is `version`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SnapshotEvent {
    pub etag: String,
    /// Keyed by flag key.
    #[schema(value_type = Object)]
    pub flags: BTreeMap<String, Flag>,
    pub version: u64,
}

/// The data of the stream's `change` event: one stored change. The event id is `version`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChangeEvent {
    pub version: u64,
    pub etag: String,
    pub key: String,
    /// `None` for a deleted flag.
    #[schema(value_type = Option<Object>)]
    pub flag: Option<Flag>,
}
