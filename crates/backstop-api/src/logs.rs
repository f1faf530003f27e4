//! An instance's log over HTTP: its tail, or what was written since an offset (for following).

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The most bytes one `GET /v1/apps/{app}/logs` returns.
pub const MAX_LOG_BYTES: u64 = 1024 * 1024;

/// The query string of `GET /v1/apps/{app}/logs`: the log of `revision` (the live one when
/// absent); without `offset` its last `bytes` (64 KiB by default), with `offset` what follows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1)]
    pub revision: Option<u64>,
    /// At most this many bytes (1 to 1048576).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 1048576)]
    pub bytes: Option<u64>,
    /// Read from this byte on (what `next` of the previous answer said); past the end of a log
    /// that was rotated meanwhile, from its start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

/// `GET /v1/apps/{app}/logs`: a piece of a revision's instance log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LogChunk {
    pub app: String,
    pub revision: u64,
    /// The log file on the control plane's machine.
    pub path: String,
    /// The file's size now.
    pub size: u64,
    /// Where `text` starts in the file.
    pub offset: u64,
    /// The offset to ask for next to follow the log.
    pub next: u64,
    /// The bytes read, as UTF-8 (invalid sequences replaced).
    pub text: String,
}
