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
    /// The server answers but the stream cannot be had (`message` says why:
    /// refused by a proxy, not a stream, no data): the client polls the full
    /// configuration every `poll_interval` instead, so a change reaches it
    /// within that interval rather than at once; it tries the stream again
    /// before each poll and is `Ready` as soon as it has it.
    Polling { version: u64, message: String },
    /// Disconnected since `since`, serving the last snapshot (`last_version`)
    /// and reconnecting; `message` says why the connection was lost.
    Stale { since: Instant, last_version: u64, message: String },
    /// Never had a snapshot and cannot connect (still retrying); evaluations
    /// fail with `NotReady`.
    Error { message: String },
}

impl State {
    /// Following the stream: changes arrive as they happen.
    pub fn is_ready(&self) -> bool {
        matches!(self, State::Ready { .. })
    }

    /// Serving a configuration that is current: streaming, or polling
    /// successfully (current to within the poll interval).
    pub fn is_current(&self) -> bool {
        matches!(self, State::Ready { .. } | State::Polling { .. })
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
            State::Polling { version, message } => write!(f, "polling, at version {version}: {message}"),
            State::Stale { since, last_version, message } => {
                write!(f, "stale for {:.1}s, serving version {last_version}: {message}", since.elapsed().as_secs_f64())
            }
            State::Error { message } => write!(f, "error: {message}"),
        }
    }
}
