//! Records the store reads and the changes it applies.

use backstop_core::{Digest, OperationKind, OperationState, RevisionStatus};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// A revision about to be recorded; the store assigns its number.
#[derive(Debug, Clone)]
pub struct NewRevision {
    pub app: backstop_core::AppName,
    pub version: String,
    pub digest: Digest,
    pub change_cause: String,
    pub git_commit: Option<String>,
    /// The image reference of a release on a container platform.
    pub image: Option<String>,
    /// The tag the release named as its commit, if any.
    pub git_tag: Option<String>,
    /// The revision this one is a hotfix of.
    pub hotfix_of: Option<u64>,
    pub guarded_by: Vec<String>,
    pub actor: String,
}

#[derive(Debug, Clone)]
pub struct NewOperation {
    pub app: backstop_core::AppName,
    pub kind: OperationKind,
    pub actor: String,
    pub target_revision: Option<u64>,
    pub from_revision: Option<u64>,
    /// The node taking the app's lease (its persisted node id).
    pub owner: String,
    /// How long the lease lasts unless renewed.
    pub lease: std::time::Duration,
}

/// One journaled operation with its steps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Operation {
    pub id: u64,
    pub app: String,
    pub kind: OperationKind,
    pub state: OperationState,
    pub actor: String,
    pub target_revision: Option<u64>,
    pub from_revision: Option<u64>,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
    /// The node holding the app's lease for this operation, and until when.
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    pub steps: Vec<Step>,
}

impl Operation {
    pub fn has_step(&self, name: &str) -> bool {
        self.steps.iter().any(|s| s.step == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub seq: u64,
    pub at: DateTime<Utc>,
    pub step: String,
    pub detail: Option<String>,
}

/// What an instance is doing for its app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceRole {
    /// Started, not yet serving (health check in progress).
    Starting,
    /// Receiving the app's traffic.
    Serving,
    /// Kept running after traffic left it, so rollback is a pointer swap.
    Warm,
    /// No longer receiving traffic and being drained and stopped: on the books until it is gone.
    Stopping,
}

impl InstanceRole {
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceRole::Starting => "starting",
            InstanceRole::Serving => "serving",
            InstanceRole::Warm => "warm",
            InstanceRole::Stopping => "stopping",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<InstanceRole> {
        match s {
            "starting" => Some(InstanceRole::Starting),
            "serving" => Some(InstanceRole::Serving),
            "warm" => Some(InstanceRole::Warm),
            "stopping" => Some(InstanceRole::Stopping),
            _ => None,
        }
    }
}

/// A running instance of one revision, recorded so that a restarted control
/// plane can re-adopt it. What identifies it is the driver's business: the
/// store keeps the driver's name and its serialised handle, opaque.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceRecord {
    pub app: String,
    pub revision: u64,
    /// The driver that started it (`local`, ...).
    pub driver: String,
    /// The driver's handle on it (JSON; for the local driver its pid, start time and port).
    pub handle: serde_json::Value,
    pub role: InstanceRole,
    pub warm_until: Option<DateTime<Utc>>,
    pub started_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewAudit {
    pub actor: String,
    pub action: String,
    pub outcome: String,
    pub detail: serde_json::Value,
}

/// One state change. A batch of them is applied atomically by `Store::apply`.
#[derive(Debug, Clone)]
pub enum Change {
    /// Set a revision's lifecycle status (and why).
    Status {
        revision: u64,
        status: RevisionStatus,
        reason: Option<String>,
    },
    /// Point the app's traffic at a revision (or at nothing); stamps `live_since` and clears
    /// `undone_at`.
    Live {
        revision: Option<u64>,
    },
    /// Set or clear the end of a revision's soak.
    SoakUntil {
        revision: u64,
        until: Option<DateTime<Utc>>,
    },
    /// Record that an undo took traffic away from a revision, back to an older one, now.
    Undone {
        revision: u64,
    },
    /// Mark a revision known-good now.
    KnownGood {
        revision: u64,
    },
    /// Insert or replace the instance record of a revision.
    PutInstance(InstanceRecord),
    RemoveInstance {
        revision: u64,
    },
    /// Append a step to an operation's journal.
    Step {
        operation: u64,
        step: String,
        detail: Option<String>,
    },
    /// End an operation.
    Finish {
        operation: u64,
        state: OperationState,
        error: Option<String>,
    },
    /// Record the migration folder and queries a revision shipped (JSON, opaque to the store).
    Shipped {
        revision: u64,
        migrations: serde_json::Value,
        queries: serde_json::Value,
    },
    /// Record the app database's schema as a revision runs on it (JSON, opaque to the store).
    Schema {
        revision: u64,
        snapshot: serde_json::Value,
    },
    /// Record the contracts a revision shipped (its API description and message schemas; JSON,
    /// opaque to the store). Written once, with the revision: a revision's contracts never change.
    Contracts {
        revision: u64,
        contracts: serde_json::Value,
    },
    /// Append an entry to the audit chain (for this app).
    Audit(NewAudit),
}

/// What a revision shipped for its app's database, and the last schema it was seen running on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RevisionDatabase {
    /// The release's whole migration folder, as the control plane encoded it (`[]` when none).
    pub migrations: serde_json::Value,
    /// The queries the revision's code runs (`[]` when none).
    pub queries: serde_json::Value,
    pub snapshot: Option<serde_json::Value>,
    pub snapshot_at: Option<DateTime<Utc>>,
}

impl Default for RevisionDatabase {
    fn default() -> Self {
        RevisionDatabase {
            migrations: serde_json::Value::Array(Vec::new()),
            queries: serde_json::Value::Array(Vec::new()),
            snapshot: None,
            snapshot_at: None,
        }
    }
}
