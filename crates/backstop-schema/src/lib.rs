//! The pure side of backstop's data safety: what a schema is, and whether a revision built against one
//! schema can run on another. No I/O: the catalog readers, migration runners and the `Database` handle
//! are in `backstop-appdb`.
//!
//! - `model`: the [`Snapshot`] of a schema, stored as JSON per revision.
//! - `usage`: what each of a revision's queries reads and writes, read with PostgreSQL's own parser.
//! - `check`: [`verdict`], the rollback verdict from the complete picture, conservative or precise from
//!   the revision's queries; [`check_expand`], the release gate's check of an expand stage.
//! - `verdict`: [`rollback_verdict`], pure: can a revision built against one snapshot run on another?

mod check;
mod model;
mod usage;
mod verdict;

pub use check::{ExpandRefusal, ExpandStep, ProtectedRevision, check_expand, verdict};
pub use model::{
    Column, Constraint, ConstraintKind, Domain, Engine, Function, Generation, Index, Policy, RelationKind, Snapshot,
    Table, Trigger, display_table,
};
pub use usage::{OldQuery, QueryUse, Write, WriteKind, read_query};
pub use verdict::{Problem, ProblemKind, Uses, Verdict, rollback_verdict, widens};
