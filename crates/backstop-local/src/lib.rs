//! The local driver: runs an app's artifact as a supervised child process on this machine, health-checks it
//! over HTTP and stops it.
//!
//! An instance runs in its own process group, so a signal aimed at the control plane's group (Ctrl-C, a
//! `kill` of the group) does not reach it, and it outlives a SIGKILLed control plane. Its [`ProcessId`] (pid
//! plus the kernel's start time) can be persisted; [`adopt`] turns it back into an [`Instance`] after a
//! restart, and refuses a pid that now belongs to another process. Dropping an [`Instance`] never stops the
//! process: only [`Instance::stop`] does.
//!
//! Linux only: process identity and liveness come from `/proc/<pid>/stat`.

mod driver;
mod error;
mod health;
mod instance;
mod launch;
pub mod logs;
mod procfs;

pub use driver::LocalDriver;
pub use error::{LastProbe, LocalError, ProbeError};
pub use health::{probe, wait_healthy};
pub use instance::{Exit, Instance, ProcessId, adopt};
pub use launch::{LaunchSpec, free_port, launch};
pub use procfs::process_start_time;
