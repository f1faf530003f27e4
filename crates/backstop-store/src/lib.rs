//! State store of backstop: the ledger of revisions, the operations journal
//! with its per-app leases, instance records for crash recovery, the audit
//! chain, the flag change feed, and incidents and drills.
//!
//! The control plane talks to state only through the [`Store`] trait, so a
//! shared PostgreSQL store can stand beside the embedded SQLite one; nothing
//! in the trait or its errors names the engine behind it, and
//! [`conformance`] checks any implementation against the trait's contract.

pub mod conformance;
mod flags;
mod incidents;
mod model;
mod sqlite;

pub use flags::{
    FlagDelete, FlagHistoryEntry, FlagSet, FlagStore, FlagWrite, FlagWriteMode, UnreadableFlag, unreadable_stand_in,
};
pub use incidents::{Drill, Incident, IncidentStore, IncidentUpdate, NewDrill, NewIncident};
pub use model::{
    Change, InstanceRecord, InstanceRole, NewAudit, NewOperation, NewRevision, Operation, RevisionDatabase, Step,
};
pub use sqlite::SqliteStore;

use async_trait::async_trait;
use backstop_core::audit::AuditEntry;
use backstop_core::{AppName, OperationKind, OperationState, Revision};

/// Errors of the state store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("operation {} ({}) is already running on {}", .running.id, .running.kind, .running.app)]
    Busy { running: Box<Operation> },
    #[error("app `{app}` is not registered")]
    UnknownApp { app: String },
    #[error("revision {revision} of `{app}` does not exist")]
    UnknownRevision { app: String, revision: u64 },
    #[error("flag `{key}` does not exist")]
    UnknownFlag { key: String },
    #[error("incident {id} does not exist")]
    UnknownIncident { id: u64 },
    #[error("flag `{key}` already exists")]
    FlagExists { key: String },
    #[error("flag `{key}` changed meanwhile (expected version {expected}, found {found})")]
    FlagChanged { key: String, expected: u64, found: u64 },
    /// The engine behind the store failed; the message is the engine's own.
    #[error("state database error: {0}")]
    Backend(String),
    /// A fenced write of an operation that is no longer running under this owner's lease: another
    /// control plane took the app over (or recovery ended the operation), so nothing was written.
    #[error("operation {operation} no longer holds the lease of its app (held by {holder})")]
    LeaseLost { operation: u64, holder: String },
    #[error("state database holds an unreadable value in {what}: {value}")]
    Corrupt { what: &'static str, value: String },
    #[error("state database at {path} was written by a newer backstop (schema {found}, this one knows {known})")]
    NewerSchema { path: String, found: i64, known: i64 },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// An app as the store knows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AppRecord {
    pub name: AppName,
    pub live_revision: Option<u64>,
}

/// Everything the control plane persists. Each method is atomic; `apply`
/// applies a batch of changes in one transaction, so a crash never leaves
/// half of a state transition written. Flags are in the [`FlagStore`] part.
#[async_trait]
pub trait Store: FlagStore + IncidentStore + Send + Sync + 'static {
    async fn ensure_app(&self, app: &AppName) -> Result<()>;
    async fn apps(&self) -> Result<Vec<AppRecord>>;
    async fn app(&self, app: &AppName) -> Result<AppRecord>;

    async fn revisions(&self, app: &AppName) -> Result<Vec<Revision>>;
    async fn revision(&self, app: &AppName, revision: u64) -> Result<Revision>;
    /// Record a new revision with the next number, in status `deploying`.
    async fn create_revision(&self, new: NewRevision) -> Result<Revision>;

    /// Start an operation and take the app's lease for `new.owner` until `new.lease` from now; refused
    /// with [`StoreError::Busy`] while another operation on the same app is running. The
    /// operation's id is the lease's fencing token.
    async fn begin_operation(&self, new: NewOperation) -> Result<Operation>;
    /// Extend the lease of a running operation held by `owner` to `lease` from now;
    /// [`StoreError::LeaseLost`] when it is no longer running or another owner holds it.
    async fn renew_lease(&self, operation: u64, owner: &str, lease: std::time::Duration) -> Result<()>;
    /// Running operations that recovery on node `owner` may revert: those whose lease expired, and
    /// those `owner` itself held (it restarted, so nothing of it still runs them).
    async fn interrupted_operations(&self, owner: &str) -> Result<Vec<Operation>>;
    async fn operation(&self, id: u64) -> Result<Option<Operation>>;
    async fn operations(&self, app: &AppName, limit: usize) -> Result<Vec<Operation>>;
    async fn running_operations(&self) -> Result<Vec<Operation>>;
    /// How many operations of each kind ended (or stand) in each state, for the app.
    async fn operation_counts(&self, app: &AppName) -> Result<Vec<(OperationKind, OperationState, u64)>>;

    async fn instances(&self, app: &AppName) -> Result<Vec<InstanceRecord>>;
    async fn all_instances(&self) -> Result<Vec<InstanceRecord>>;

    async fn apply(&self, app: &AppName, changes: Vec<Change>) -> Result<()>;
    /// `apply`, only while `operation` is running under `owner`'s lease (checked in the same
    /// transaction); [`StoreError::LeaseLost`] otherwise, with nothing written. A stale holder
    /// therefore cannot commit.
    async fn apply_fenced(&self, app: &AppName, operation: u64, owner: &str, changes: Vec<Change>) -> Result<()>;

    /// What a revision shipped for its app's database and the schema it ran on; empty when nothing
    /// was recorded.
    async fn revision_database(&self, app: &AppName, revision: u64) -> Result<RevisionDatabase>;

    /// The contracts a revision shipped (API description, message schemas), as recorded by
    /// [`Change::Contracts`]; `None` when it shipped none.
    async fn revision_contracts(&self, app: &AppName, revision: u64) -> Result<Option<serde_json::Value>>;

    /// Append an audit entry that belongs to no app (store-wide actions such as `gc`).
    async fn audit(&self, new: NewAudit) -> Result<()>;

    async fn audit_entries(&self, after_seq: u64, limit: usize) -> Result<Vec<AuditEntry>>;
}
