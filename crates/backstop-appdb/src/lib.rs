//! The I/O side of backstop's data safety, on an app's own database: read a schema [`Snapshot`] from
//! a catalog, run migrations by stage, dry-run statements in a rolled-back transaction, and check a
//! revision's queries. Every decision is made by the pure `backstop-schema`, re-exported here so the
//! control plane names one crate.
//!
//! - `postgres` and `sqlite`: read a [`Snapshot`] from a real database's catalog.
//! - `runner`: read a migration directory in run order, apply migrations by stage (expand before the
//!   deploy, contract once the previous revision is permanent) with a `backstop_migrations` ledger, and
//!   dry-run a contract to see the schema it leaves.
//! - `db`: [`Database`], one handle on a PostgreSQL or SQLite app database for all of the above (the
//!   SQLite migration runner lives there).
//! - `queries`: precise mode, checking a revision's queries (sqlx offline files) against a live schema.

mod db;
mod error;
mod postgres;
mod queries;
mod runner;
mod sqlite;

pub use backstop_schema::*;
pub use db::{Database, Session};
pub use error::SchemaError;
pub use postgres::snapshot_postgres;
pub use queries::{QueryChecks, check_queries, check_queries_after_contract, read_sqlx_offline};
pub use runner::{
    ApplyReport, LEDGER_TABLE, MigrationFile, Stage, applied, apply, checksum, dry_run_contract, read_migrations,
};
pub use sqlite::snapshot_sqlite;
