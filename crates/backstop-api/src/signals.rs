//! What the proxy saw of an app's traffic, per revision.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /v1/apps/{app}/signals`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AppSignals {
    pub app: String,
    pub live_revision: Option<u64>,
    /// Every revision the proxy routed to since the control plane started, newest first.
    pub revisions: Vec<RevisionSignals>,
}

/// One revision's signals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RevisionSignals {
    pub revision: u64,
    pub live: bool,
    /// Over the last minute.
    pub last_minute: Window,
    /// Since the proxy first routed to it (in this run of the control plane).
    pub total: Window,
}

/// Requests, failures (what the client saw as a failure: a 5xx answer, or none) and latency until
/// the response head, over one window. Quantiles are bucket upper bounds: never under the truth,
/// at most 25 % over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Window {
    pub requests: u64,
    pub failures: u64,
    pub error_ratio: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}
