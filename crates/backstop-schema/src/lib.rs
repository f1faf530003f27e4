//! Database side of backstop's data safety: what each release did to an app's schema, and whether rolling
//! back to a revision is safe.
//!
//! - `model`: the [`Snapshot`] of a schema, stored as JSON per revision.
//! - `verdict`: [`rollback_verdict`], pure: can a revision built against one snapshot run on another?
//! - `postgres` and `sqlite`: read a [`Snapshot`] from a real database's catalog.
//! - `runner`: read a migration directory in run order, apply migrations by stage (expand before the
//!   deploy, contract once the previous revision is permanent) with a `backstop_migrations` ledger, and
//!   dry-run a contract to see the schema it leaves.
//! - `db`: [`Database`], one handle on a PostgreSQL or SQLite app database for all of the above (the
//!   SQLite migration runner lives there).
//! - `queries`: precise mode, checking a revision's queries (sqlx offline files) against a live schema.

mod db;
mod error;
mod model;
mod postgres;
mod queries;
mod runner;
mod sqlite;
mod verdict;

pub use db::{Database, Session};
pub use error::SchemaError;
pub use model::{Column, Constraint, ConstraintKind, Index, RelationKind, Snapshot, Table, display_table};
pub use postgres::snapshot_postgres;
pub use queries::{QueryChecks, check_queries, check_queries_after_contract, read_sqlx_offline};
pub use runner::{
    ApplyReport, LEDGER_TABLE, MigrationFile, Stage, applied, apply, checksum, dry_run_contract, read_migrations,
};
pub use sqlite::snapshot_sqlite;
pub use verdict::{Problem, ProblemKind, Uses, Verdict, precise_verdict, rollback_verdict, widens, written_tables};
