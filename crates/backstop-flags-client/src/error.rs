//! Errors of the SDK: evaluating before any snapshot arrived, or an evaluation error.

use backstop_flags::EvalError;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClientError {
    /// No snapshot yet: the client is connecting or cannot connect.
    #[error("no flag snapshot yet ({state})")]
    NotReady { state: String },

    #[error(transparent)]
    Eval(#[from] EvalError),
}
