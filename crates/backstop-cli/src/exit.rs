//! Exit codes and the one place errors become `error:` and `hint:` lines.

use std::process::ExitCode;

/// Documented exit codes (see README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    /// The operation was refused or failed (busy, unsafe, unhealthy, unauthorized).
    Failed = 1,
    /// Bad input: usage, unknown app or revision, bad artifact or config.
    BadInput = 2,
    /// The control plane could not be reached.
    Unreachable = 3,
    /// Interrupted (SIGINT or SIGTERM); what the server was asked to do goes on.
    Interrupted = 130,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

/// An error as the user sees it.
#[derive(Debug)]
pub struct CliError {
    pub exit: Exit,
    pub message: String,
    pub hint: String,
}

impl CliError {
    pub fn new(exit: Exit, message: impl Into<String>, hint: impl Into<String>) -> CliError {
        CliError { exit, message: message.into(), hint: hint.into() }
    }

    pub fn bad_input(message: impl Into<String>, hint: impl Into<String>) -> CliError {
        CliError::new(Exit::BadInput, message, hint)
    }

    pub fn failed(message: impl Into<String>, hint: impl Into<String>) -> CliError {
        CliError::new(Exit::Failed, message, hint)
    }

    /// Print to stderr, one line each.
    pub fn report(&self) -> ExitCode {
        let flat = |s: &str| s.replace('\n', " ");
        let (e, h) = if crate::output::color_stderr() {
            ("\x1b[1;31merror:\x1b[0m", "\x1b[1;36mhint:\x1b[0m")
        } else {
            ("error:", "hint:")
        };
        eprintln!("{e} {}", flat(&self.message));
        if !self.hint.is_empty() {
            eprintln!("{h} {}", flat(&self.hint));
        }
        self.exit.into()
    }
}

pub type CliResult<T = ()> = Result<T, CliError>;
