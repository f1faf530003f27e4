//! The pure side of backstop's data safety: what a schema is, and whether a revision built against one
//! schema can run on another. No I/O: the catalog readers, migration runners and the `Database` handle
//! are in `backstop-appdb`.
//!
//! - `model`: the [`Snapshot`] of a schema, stored as JSON per revision.
//! - `verdict`: [`rollback_verdict`], pure: can a revision built against one snapshot run on another?

mod model;
mod verdict;

pub use model::{
    Column, Constraint, ConstraintKind, Domain, Engine, Function, Generation, Index, Policy, RelationKind, Snapshot,
    Table, Trigger, display_table,
};
pub use verdict::{Problem, ProblemKind, Uses, Verdict, precise_verdict, rollback_verdict, widens, written_tables};
