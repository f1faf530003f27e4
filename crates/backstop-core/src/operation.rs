//! Operations: the journaled unit of change (release, undo, automatic revert, kill switch, recovery).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OperationKind {
    /// Start a new revision and move traffic to it.
    Release,
    /// Move traffic back to an earlier revision.
    Undo,
    /// Move traffic back because the serving revision failed its soak.
    AutoRevert,
    /// Finish or revert an operation interrupted by a control-plane crash.
    Recover,
    /// Drop unreferenced artifacts from the store.
    Gc,
    /// Declare a revision permanent.
    Promote,
    /// Run the contract stage of the live revision's migrations.
    MigrateContract,
    /// Turn the live revision's guard flags off (an incident's first rung, or a failed analysis); traffic
    /// stays on it.
    KillSwitch,
    /// Practise a rollback: swap to the known-good and back, or cold-start it beside the live one.
    Drill,
    /// An operator stopped a soaking revision: traffic back as by an automatic revert. (An abort of a
    /// release still starting is recorded on the release's own operation.)
    Abort,
    /// Adopt the history a platform kept before backstop (`backstop import`).
    Import,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OperationState {
    Running,
    Succeeded,
    Failed,
    /// Interrupted and undone: the app is as it was before the operation.
    Reverted,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a known {what}")]
pub struct ParseError {
    pub what: &'static str,
    pub input: String,
}

macro_rules! text_enum {
    ($ty:ident, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $text),+ }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl FromStr for $ty {
            type Err = ParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($ty::$variant),)+
                    _ => Err(ParseError { what: $what, input: s.to_owned() }),
                }
            }
        }
    };
}

text_enum!(OperationKind, "operation kind", {
    Release => "release",
    Undo => "undo",
    AutoRevert => "auto-revert",
    Recover => "recover",
    Gc => "gc",
    Promote => "promote",
    MigrateContract => "migrate-contract",
    KillSwitch => "kill-switch",
    Drill => "drill",
    Abort => "abort",
    Import => "import",
});

text_enum!(OperationState, "operation state", {
    Running => "running",
    Succeeded => "succeeded",
    Failed => "failed",
    Reverted => "reverted",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trip() {
        for k in [
            OperationKind::Release,
            OperationKind::Undo,
            OperationKind::AutoRevert,
            OperationKind::Recover,
            OperationKind::Gc,
            OperationKind::Promote,
            OperationKind::MigrateContract,
            OperationKind::KillSwitch,
            OperationKind::Drill,
            OperationKind::Abort,
            OperationKind::Import,
        ] {
            assert_eq!(k.as_str().parse::<OperationKind>(), Ok(k));
        }
        for s in [OperationState::Running, OperationState::Succeeded, OperationState::Failed, OperationState::Reverted]
        {
            assert_eq!(s.as_str().parse::<OperationState>(), Ok(s));
        }
        assert!("deploy".parse::<OperationKind>().is_err());
    }
}
