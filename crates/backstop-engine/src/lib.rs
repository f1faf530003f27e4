//! The engine of the control plane: everything the HTTP API asks for, without HTTP.
//!
//! [`Engine`] holds the store, the artifact store, the [`backstop_driver::Driver`] that runs
//! instances and, per app, the [`backstop_driver::Traffic`] that routes it. A release reads one way:
//! an operation here (`ops`), pure decisions from `backstop-core` and `backstop-migrate`, then the
//! driver, the traffic seam and the store. The engine names no process, pid, port or proxy.
//!
//! - `ops`: release, undo, automatic revert, and the shared switch.
//! - `migrations`: the migration pipeline (release gate and expand stage, schema recorded per
//!   revision, rollback check before an undo, `migrate contract`, `promote`).
//! - `supervise`: the soak watcher, automatic revert, the keep-warm reaper, the serving watch.
//! - `analysis`: the soak watcher's judgement of a revision's own traffic, and what a failure does
//!   (revert, kill switch, pause).
//! - `recovery`: start-up re-adoption and reverting interrupted operations.
//! - `flags`: the flag service (validate, commit, fan out the store's change feed), without HTTP.
//! - `signals`: samples of each app's traffic signals, and windows over the last minute.
//! - `incident`: the recovery ladder's facts read from the system, `--execute` taking the first
//!   safe rung as one journaled step, and the incident timeline until recovery.
//! - `drill`: rollback readiness, and drills that perform a rung and record its figures.
//! - `hotfix`: a release's hotfix links (the revision it fixes, the hotfixes its commit carries, the
//!   audited override when it lacks one), checked and recorded with the revision.
//! - `compat`: the compatibility gate (a release's contracts checked against the rollback window
//!   and kept with the revision, the undo's check, `compat` without releasing).
//! - `gc`: garbage collection of the artifact store.
//! - `config`: the server's configuration file.

pub mod abort;
pub mod analysis;
pub mod compat;
pub mod config;
pub mod drill;
mod engine;
pub mod error;
pub mod flags;
pub mod gc;
pub mod hotfix;
pub mod import;
pub mod incident;
pub mod migrations;
pub mod ops;
mod recovery;
pub mod signals;
mod supervise;

pub use config::{Config, ConfigError};
pub use engine::{AppRuntime, Begin, Engine, EngineParts, LEASE, LEASE_RENEWAL, OpLease, Running, Slot};
pub use error::OpError;
