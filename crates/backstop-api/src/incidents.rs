//! Incidents, delivery figures and drills on the wire.

use backstop_core::incident::{Facts, Rung, RungAssessment};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /v1/apps/{app}/incident` (the ladder, nothing moved) and `POST /v1/apps/{app}/incidents`
/// (`--execute`: an incident recorded and the first safe rung taken).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IncidentAssessment {
    pub app: String,
    pub live_revision: Option<u64>,
    pub target_revision: Option<u64>,
    #[schema(value_type = String)]
    pub recommended: Rung,
    /// The exact command that takes the recommended rung.
    pub command: String,
    /// Every rung in ladder order.
    #[schema(value_type = Vec<Object>)]
    pub rungs: Vec<RungAssessment>,
    /// The incident recorded by `--execute`.
    pub incident: Option<u64>,
    /// The rung `--execute` took; `None` when only rolling forward is left (nothing was moved).
    #[schema(value_type = Option<String>)]
    pub taken: Option<Rung>,
    /// What the decision was made from.
    #[schema(value_type = Object)]
    pub facts: Facts,
    /// The ladder as a terminal shows it.
    pub text: String,
    /// The recorded incident, with its timeline so far.
    pub record: Option<Incident>,
}

/// One incident, `GET /v1/incidents/{id}`; `GET /v1/incidents` lists them newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Incident {
    pub id: u64,
    pub app: String,
    /// The revision that caused it (live when it was opened).
    pub revision: Option<u64>,
    pub opened_by: String,
    pub rung: Option<String>,
    pub operation: Option<u64>,
    pub detected_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub mitigated_at: Option<DateTime<Utc>>,
    pub recovered_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub note: Option<String>,
    /// `recovered_at − detected_at`, once recovered.
    pub recovery_ms: Option<u64>,
    pub facts: serde_json::Value,
    pub decision: serde_json::Value,
}

/// `POST /v1/incidents/{id}/close`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseRequest {
    pub note: String,
}

/// `GET /v1/report?app=&since=`: delivery figures from the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeliveryReport {
    /// One app, or every app when `None`.
    pub app: Option<String>,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub releases: u64,
    pub per_day: f64,
    pub change_failure_rate: Option<f64>,
    pub recovery_median_ms: Option<u64>,
    pub recovery_p90_ms: Option<u64>,
    pub open_incidents: u64,
}

/// `POST /v1/apps/{app}/drills`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DrillRequest {
    /// `traffic-swap` (the default) or `redeploy`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub rung: Option<Rung>,
    /// Only say whether a rollback is ready; move nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// The readiness of an app's rollback, checked by every drill and by `require_rollback_ready`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Readiness {
    pub app: String,
    pub ready: bool,
    pub live_revision: Option<u64>,
    pub target_revision: Option<u64>,
    /// One line per check: (name, passed, what was found).
    pub checks: Vec<ReadinessCheck>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReadinessCheck {
    pub check: String,
    pub ok: bool,
    pub detail: String,
}

/// A drill, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Drill {
    pub id: u64,
    pub app: String,
    pub rung: String,
    pub live_revision: Option<u64>,
    pub target: Option<u64>,
    pub actor: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub outcome: String,
    /// Each phase's time in milliseconds, in order.
    pub figures: Vec<DrillPhase>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DrillPhase {
    pub phase: String,
    pub ms: u64,
}

/// What `POST /v1/apps/{app}/drills` answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DrillOutcome {
    pub readiness: Readiness,
    /// The drill, unless it was a dry run.
    pub drill: Option<Drill>,
}
