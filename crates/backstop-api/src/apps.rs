//! What the control plane says about an app: its status, its revision history,
//! one revision in detail, and the journal of its operations.

use backstop_core::analysis::{OnFailure, Verdict};
use backstop_core::{OperationKind, OperationState, Revision};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /v1/health`: the control plane answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub ok: bool,
}

/// `GET /v1/apps/{app}/status`, and one element of `GET /v1/apps`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AppStatus {
    /// The live revision's last automated analysis (the app configures `[analysis]` and the
    /// control plane judged it since it started).
    #[serde(default)]
    pub analysis: Option<AnalysisView>,
    pub app: String,
    /// Every running instance of the app, whatever its role.
    pub instances: Vec<InstanceView>,
    #[schema(value_type = Option<Object>)]
    pub known_good: Option<Revision>,
    pub known_good_revision: Option<u64>,
    /// The address of the app's public proxy (`127.0.0.1:8080`), or the Service that routes a
    /// Kubernetes app (`Service shop/web`).
    pub listen: String,
    /// What runs the app's instances: `local` or `kubernetes`.
    #[serde(default)]
    pub driver: String,
    #[schema(value_type = Option<Object>)]
    pub live: Option<Revision>,
    pub live_revision: Option<u64>,
    /// The newest operation of the app, while it runs.
    pub running_operation: Option<Operation>,
    /// What a plain `backstop undo APP` would do now, by the rule the undo itself runs.
    #[serde(default)]
    pub undo: Option<UndoPreview>,
    /// Revisions kept running warm (and alive) for a pointer-swap rollback.
    pub warm_revisions: Vec<u64>,
}

/// What a plain undo would do now: the revision it would make live, or why it would refuse. The
/// undo checks the schema (apps with a database) again when it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UndoPreview {
    /// The revision it would make live; `None` when it would refuse.
    pub revision: Option<u64>,
    /// That revision runs warm: the undo is a pointer swap, not a cold start.
    pub warm: bool,
    /// Why it would refuse, and what to do instead.
    pub refused: Option<String>,
    pub hint: Option<String>,
}

/// One judgement of a revision's own traffic during its soak.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AnalysisView {
    pub revision: u64,
    #[schema(value_type = String)]
    pub verdict: Verdict,
    /// One line: the failed checks on a failure, every check otherwise.
    pub summary: String,
    /// Requests and failures of the revision since traffic moved to it: what was judged.
    pub requests: u64,
    pub failures: u64,
    /// What was done about a failure.
    #[schema(value_type = Option<String>)]
    pub action: Option<OnFailure>,
    pub judged_at: DateTime<Utc>,
}

/// One running instance of a revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InstanceView {
    pub revision: u64,
    pub role: InstanceRole,
    pub pid: u32,
    pub port: u16,
    pub alive: bool,
    /// Requests the proxy has sent it that have not been answered yet.
    pub inflight: usize,
    /// When a warm instance will be stopped.
    pub warm_until: Option<DateTime<Utc>>,
    /// Pods ready and wanted, for an instance that is a Deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
}

/// What an instance is doing for its app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceRole {
    /// Started, not yet serving (health check in progress).
    Starting,
    /// Receiving the app's traffic.
    Serving,
    /// Kept running after traffic left it, so rollback is a pointer swap.
    Warm,
}

/// One element of `GET /v1/apps/{app}/revisions`: the revision's fields and
/// where it stands now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct HistoryEntry {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub revision: Revision,
    pub live: bool,
    pub last_known_good: bool,
    pub warm: bool,
}

/// `GET /v1/apps/{app}/revisions/{n}`: one revision, the operations that
/// touched it, and what it shipped for the app's database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RevisionDetail {
    pub database: RevisionDatabase,
    pub operations: Vec<Operation>,
    #[schema(value_type = Object)]
    pub revision: Revision,
}

/// What a revision shipped for its app's database.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct RevisionDatabase {
    /// The names of the migration files it shipped, in run order.
    pub migrations: Vec<String>,
    /// How many queries it shipped for the precise rollback check.
    pub queries: usize,
    /// When the schema it runs on was last recorded.
    pub schema_recorded_at: Option<DateTime<Utc>>,
}

/// One journaled operation with its steps: `GET /v1/operations/{id}`, and the
/// elements of `GET /v1/apps/{app}/operations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Operation {
    pub id: u64,
    pub app: String,
    #[schema(value_type = String)]
    pub kind: OperationKind,
    #[schema(value_type = String)]
    pub state: OperationState,
    pub actor: String,
    pub target_revision: Option<u64>,
    pub from_revision: Option<u64>,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub steps: Vec<Step>,
}

/// One step of an operation's journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Step {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub step: String,
    pub detail: Option<String>,
}
