//! End-to-end tests: the real `backstop` binary as control plane and client,
//! real child processes behind the real proxy, over loopback.

mod data;
mod demo;
mod errors;
mod flags;
mod harness;
mod lifecycle;
mod lint;
mod lint_hostile;
mod recovery;
