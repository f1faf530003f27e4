//! End-to-end tests: the real `backstop` binary as control plane and client,
//! real child processes behind the real proxy, over loopback.

mod analysis;
mod api;
mod compat;
mod crash;
mod data;
mod defects;
mod demo;
mod errors;
mod flags;
mod formats;
mod hardening;
mod harness;
mod hotfix;
mod incident;
mod kubernetes;
mod lifecycle;
mod lint;
mod lint_hostile;
mod logging;
mod operator;
mod recovery;
mod restart;
mod schemathesis;
mod signals;
mod snapshots;
mod wire;
