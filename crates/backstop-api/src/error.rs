//! The one error body of every `/v1` route: `{"error": {"code", "message", "hint"}}`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a `/v1` route answers when it fails (any 4xx or 5xx), JSON
/// rejections and unknown routes included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// Why a call failed and what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable snake_case identifier a program can match on: `unknown_app`,
    /// `busy`, `refused`, `unsafe_rollback`, `unauthorized`, `not_found`, ...
    pub code: String,
    /// What went wrong, for a person, on one line.
    pub message: String,
    /// What to do instead, for a person (may be empty).
    pub hint: String,
}

impl ErrorBody {
    pub fn new(code: impl Into<String>, message: impl Into<String>, hint: impl Into<String>) -> ErrorBody {
        ErrorBody { error: ErrorDetail { code: code.into(), message: message.into(), hint: hint.into() } }
    }
}
