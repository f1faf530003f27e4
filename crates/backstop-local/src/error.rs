//! The errors of the local driver.

use std::error::Error as _;
use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::instance::Exit;

/// Everything that can go wrong while launching, adopting or health-checking an instance.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// The program must be named by an absolute path: a relative one would depend on the working directory.
    #[error("program path {path} is not absolute")]
    RelativeProgram { path: PathBuf },
    #[error("program {path} does not exist")]
    ProgramMissing { path: PathBuf },
    /// A directory, or a file with no execute bit set.
    #[error("program {path} is not an executable file")]
    NotExecutable { path: PathBuf },
    #[error("could not inspect program {path}")]
    InspectProgram {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("could not create working directory {path}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("could not open log file {path}")]
    OpenLog {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("could not spawn {program}")]
    Spawn {
        program: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The new process could not be identified, so it was killed rather than left running untracked.
    #[error("could not read the start time of new process {pid}")]
    Unidentified { pid: u32 },
    /// Not running, a zombie, or the pid now belongs to a process started at another time.
    #[error("process {pid} is gone (not running, or its pid was reused)")]
    Gone { pid: u32 },
    #[error("probe of {url} failed")]
    Probe {
        url: String,
        #[source]
        source: ProbeError,
    },
    /// No 2xx answer before the deadline. `last` is a summary of the final attempt, part of the message
    /// rather than a source, because it is one observation among many and not the cause of the timeout.
    #[error("{url} did not answer 2xx within {timeout:?}: {last}")]
    HealthTimeout { url: String, timeout: Duration, last: LastProbe },
    #[error("process {pid} {exit} before becoming healthy")]
    Exited { pid: u32, exit: Exit },
}

/// Why one HTTP probe got no status code.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("invalid request path {path:?}")]
    InvalidPath {
        path: String,
        #[source]
        source: hyper::http::Error,
    },
    #[error("could not connect")]
    Connect(#[source] io::Error),
    #[error("http exchange failed")]
    Http(#[source] hyper::Error),
    #[error("no answer within {timeout:?}")]
    TimedOut { timeout: Duration },
}

/// The outcome of the last probe before a health check gave up.
#[derive(Debug)]
pub enum LastProbe {
    /// No probe completed (a zero timeout).
    None,
    /// The service answered, with a status other than 2xx.
    Status(u16),
    Failed(ProbeError),
}

impl fmt::Display for LastProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LastProbe::None => f.write_str("no probe completed"),
            LastProbe::Status(status) => write!(f, "last probe answered {status}"),
            LastProbe::Failed(error) => {
                // The whole chain, since this is a summary and not a `source`.
                write!(f, "last probe failed: {error}")?;
                let mut cause = error.source();
                while let Some(error) = cause {
                    write!(f, ": {error}")?;
                    cause = error.source();
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_probe_failure_shows_the_whole_chain_once() {
        let last = LastProbe::Failed(ProbeError::Connect(io::Error::new(io::ErrorKind::ConnectionRefused, "refused")));
        assert_eq!(last.to_string(), "last probe failed: could not connect: refused");
    }

    #[test]
    fn health_timeout_names_the_last_status() {
        let error = LocalError::HealthTimeout {
            url: "http://127.0.0.1:1/healthz".into(),
            timeout: Duration::from_secs(1),
            last: LastProbe::Status(500),
        };
        assert_eq!(
            error.to_string(),
            "http://127.0.0.1:1/healthz did not answer 2xx within 1s: last probe answered 500"
        );
    }
}
