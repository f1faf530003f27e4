//! The data-safety answers: the rollback check, the migration plan of a
//! folder, and what the contract stage did.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::operations::ShippedMigration;

/// `GET /v1/apps/{app}/revisions/{n}/rollback-check`, and what an undo checks
/// before it moves traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RollbackCheck {
    pub app: String,
    pub revision: u64,
    pub live_revision: Option<u64>,
    pub mode: CheckMode,
    pub safe: bool,
    pub problems: Vec<Problem>,
    /// Differences the precise check set aside: the target's queries do not touch them.
    pub set_aside: Vec<Problem>,
    /// Migrations applied since the target, newest first, with their down migrations.
    pub down: Vec<DownStep>,
    pub advice: String,
    pub note: Option<String>,
}

impl RollbackCheck {
    /// The problems on one line: `users.full_name: column users.full_name is gone; ...`.
    pub fn summary(&self) -> String {
        self.problems.iter().map(|p| p.message.as_str()).collect::<Vec<_>>().join("; ")
    }
}

/// How the rollback check compared the schemas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CheckMode {
    /// The target shipped its queries: each is prepared against the schema now.
    Precise,
    /// Every difference from the target's recorded schema counts.
    Conservative,
    /// Nothing to compare: the app has no database, or the target's schema was never recorded.
    Unchecked,
}

/// One way today's schema fails the target revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// The table (`users`), column (`users.full_name`) or constraint (`users.users_age_check`) at fault.
    pub object: String,
    pub kind: ProblemKind,
    /// What breaks, for a person.
    pub message: String,
    /// The target's query that reaches the object (`file:line` or its name), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Why the verdict could not prove the target safe here, when the failure is not certain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unseen: Option<String>,
}

/// What is wrong with one object (`{"type": "column_dropped", ...}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ProblemKind {
    /// A table or view the target knew is gone; `renamed_to` names a new one with the same columns.
    TableDropped { renamed_to: Option<String> },
    /// A column the target knew is gone; `renamed_to` names the one new column of the same type.
    ColumnDropped { renamed_to: Option<String> },
    /// A column's type changed in a way that is not a widening.
    TypeChanged { from: String, to: String },
    /// A column the target does not know is `NOT NULL` without a default: the target's inserts fail.
    NewNotNullWithoutDefault,
    /// A column the target could leave out of an insert (nullable, default or generated) no longer can.
    BecameRequired,
    /// A constraint (or unique index) the target did not have may reject the target's writes.
    NewConstraint { name: String, constraint: ConstraintKind, definition: String },
    /// One of the target's own queries no longer prepares against the schema (precise mode).
    QueryFails { error: String },
    /// A column the target writes explicitly is now generated always (identity or expression).
    BecameGenerated,
    /// Values of an enum type the target knew are gone (removed or renamed), or the type is.
    EnumValuesRemoved { enum_type: String, removed: Vec<String> },
    /// A domain the target's columns use gained a NOT NULL or CHECK rule.
    DomainTightened { domain: String },
    /// A function or procedure overload the target knew is gone, changed signature, or changed body.
    FunctionChanged { function: String, change: String },
    /// A sequence the target knew is gone.
    SequenceDropped,
    /// A view no longer accepts writes of these kinds.
    ViewLostWrites { writes: Vec<String> },
    /// A trigger the target did not have (or whose function changed) runs on its writes.
    NewTrigger { name: String, events: Vec<String> },
    /// Row-level security newly enabled, or a policy new or changed.
    RowSecurity { policy: Option<String> },
    /// The table became partitioned without a default partition: rows outside the bounds are refused.
    Partitioned,
    /// A new foreign key refuses deletes or key updates of a table the target writes.
    ReferencedBy { table: String, definition: String },
    /// A query of the target cannot be read (a `DO` block, a parse error), so everything counts for it.
    QueryUnreadable { reason: String },
}

/// What kind of rule a constraint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConstraintKind {
    PrimaryKey,
    Unique,
    ForeignKey,
    Check,
    NotNull,
    Exclusion,
    Other,
}

/// One migration applied since the target revision, and what running its down migration would cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DownStep {
    pub version: String,
    /// The down migration's file, when the live revision shipped one.
    pub down: Option<String>,
    /// What running it would lose, one statement each (`line 1: alter table drop column`).
    pub loses_data: Vec<String>,
}

/// `POST /v1/apps/{app}/migrations/plan`: plan this folder as a pending
/// release would ship it (`None`: the live revision's folder).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PlanRequest {
    #[serde(default)]
    pub migrations: Option<Vec<ShippedMigration>>,
}

/// Where each migration of a folder runs, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PlanView {
    pub app: String,
    /// `live revision N` or `pending release`.
    pub source: String,
    pub applied: Vec<String>,
    pub migrations: Vec<PlannedFile>,
    /// Why a release with this folder would be refused; empty when it would not.
    pub refusals: Vec<Refusal>,
}

/// One pending migration file and its stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PlannedFile {
    pub version: String,
    pub file: String,
    pub stage: Stage,
    pub reason: String,
    pub statements: Vec<PlannedStatement>,
}

/// One statement of a planned file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PlannedStatement {
    pub line: u32,
    pub phase: Phase,
    /// What the statement does (`add column`, `drop table`, ...).
    pub kind: String,
}

/// Where a pending migration runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Before the new code starts: only expand and backfill statements.
    Expand,
    /// After the release's soak, once no revision in the rollback window would break.
    Contract,
}

/// What a statement does to the code running before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Additive or harmless: the previous code still works.
    Expand,
    /// Changes data, not schema: the previous code still works.
    Backfill,
    /// Destructive for the previous code: drop, rename, narrow, new mandatory input.
    Contract,
}

/// Why a release is refused: a place in a migration file and what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Refusal {
    pub file: String,
    pub line: u32,
    /// A lint rule id, or one of the gate's own (`rename-in-release`, ...).
    pub rule: String,
    pub message: String,
    pub help: String,
}

/// `POST /v1/apps/{app}/migrations/contract`: what the contract stage did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ContractOutcome {
    pub app: String,
    /// The journaled operation; `None` when there was nothing to contract.
    pub operation: Option<u64>,
    pub revision: u64,
    pub applied: Vec<String>,
    /// Revisions checked against the post-contract schema.
    pub checked: Vec<u64>,
}
