//! What the client serves from, as seen by the application.

use std::fmt;
use std::time::{Duration, Instant};

/// The connection state of a [`crate::Client`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Not connected yet and no snapshot; evaluations fail with `NotReady`.
    Connecting,
    /// Following the stream; evaluations use configuration `version`.
    Ready { version: u64 },
    /// Disconnected since `since`, serving the last snapshot (`last_version`)
    /// and reconnecting; `message` says why the connection was lost.
    Stale { since: Instant, last_version: u64, message: String },
    /// Never had a snapshot and cannot connect (still retrying); evaluations
    /// fail with `NotReady`.
    Error { message: String },
}

impl State {
    pub fn is_ready(&self) -> bool {
        matches!(self, State::Ready { .. })
    }

    /// How long the served snapshot has been stale, when it is.
    pub fn stale_for(&self) -> Option<Duration> {
        match self {
            State::Stale { since, .. } => Some(since.elapsed()),
            _ => None,
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            State::Connecting => f.write_str("connecting"),
            State::Ready { version } => write!(f, "ready at version {version}"),
            State::Stale { since, last_version, message } => {
                write!(f, "stale for {:.1}s, serving version {last_version}: {message}", since.elapsed().as_secs_f64())
            }
            State::Error { message } => write!(f, "error: {message}"),
        }
    }
}
