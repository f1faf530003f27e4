//! The OpenFeature Remote Evaluation Protocol's bodies, with OFREP's own
//! camelCase names and error shape (not [`crate::ErrorBody`]).

use backstop_flags::Reason;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The body of both evaluation routes; an empty body or a missing `context`
/// is the empty context.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EvaluationRequest {
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub context: Option<serde_json::Map<String, serde_json::Value>>,
}

/// One flag evaluated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Evaluated {
    pub key: String,
    /// Always an empty object today.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
    #[schema(value_type = String)]
    pub reason: Reason,
    #[schema(value_type = Object)]
    pub value: backstop_flags::Value,
    pub variant: String,
}

/// OFREP's error shape: the whole answer of a failed request (no `key` for a
/// bad bulk request or the rate limit), or one element of a bulk answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EvaluationFailure {
    /// `PARSE_ERROR`, `TARGETING_KEY_MISSING`, `INVALID_CONTEXT`,
    /// `FLAG_NOT_FOUND`, `TYPE_MISMATCH` or `GENERAL`.
    #[serde(rename = "errorCode")]
    pub error_code: String,
    #[serde(rename = "errorDetails")]
    pub error_details: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// `POST /ofrep/v1/evaluate/flags`: every flag evaluated for one context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BulkEvaluation {
    #[serde(rename = "eventStreams")]
    pub event_streams: Vec<EventStream>,
    pub flags: Vec<BulkEntry>,
    pub metadata: BulkMetadata,
}

/// One flag of a bulk evaluation: its value, or why it has none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum BulkEntry {
    Evaluated(Evaluated),
    Failed(EvaluationFailure),
}

/// Where an OFREP provider follows changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventStream {
    /// How long a backgrounded client may stay silent before it closes the stream.
    #[serde(rename = "inactivityDelaySec")]
    pub inactivity_delay_sec: u64,
    /// Always `sse`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The absolute URL of `GET /ofrep/v1/events`.
    pub url: String,
}

/// backstop's additions to a bulk answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BulkMetadata {
    /// The path of the flag-configuration stream (`/v1/flags/stream`).
    pub stream: String,
    /// The configuration version evaluated.
    pub version: u64,
}

/// The data of OFREP's event stream: evaluations changed, fetch them again.
/// The event id is the configuration version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RefetchEvent {
    pub etag: String,
    /// Always `refetchEvaluation`.
    #[serde(rename = "type")]
    pub kind: String,
}
