//! The Rust SDK of backstop flags: a [`Client`] that follows the control
//! plane's flag stream (`GET /v1/flags/stream`) and evaluates flags in process
//! with `backstop-flags`, the same code the server runs, so an evaluation makes
//! no network call and a kill switch reaches the service in milliseconds.
//!
//! The client says honestly what it serves (see [`State`]): `Connecting` until
//! the first snapshot, `Ready` while the stream is up, `Stale` (with its age)
//! while it serves the last snapshot it had and reconnects, and `Error` when it
//! never had a snapshot. It never answers from defaults while claiming to be
//! ready: without a snapshot every evaluation is [`ClientError::NotReady`].
//!
//! [`BackstopProvider`] plugs the client into the `open-feature` crate.

mod client;
mod error;
mod provider;
mod sse;
mod state;

pub use client::{Client, ClientConfig, Resolved, Skipped};
pub use error::ClientError;
pub use provider::BackstopProvider;
pub use state::State;

pub use backstop_flags::{Context, EvalError, Reason, Snapshot};
