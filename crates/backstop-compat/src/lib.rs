//! The N/N-1 compatibility gate: a revision's contracts (an OpenAPI 3.x description and the JSON
//! Schema documents of the messages it produces and consumes) compared with every revision still
//! inside the rollback window, in both directions a blue-green switch exercises. Pure: callers
//! pass names and text, nothing here reads files or the network.
//!
//! Every comparison reduces to one question asked of two schemas: does the reader accept
//! everything the writer may send? An old client writes requests the new server reads, the new
//! server writes responses the old client reads, a new producer writes messages the old consumer
//! reads, and the same again the other way round for rollback.

mod api;
mod finding;
mod messages;
mod parse;
mod schema;
mod window;

pub use finding::{Direction, Finding, RULES, Rule, Severity};
pub use parse::{
    CompatError, Contracts, MAX_DEPTH, MAX_DOCUMENT_BYTES, MAX_MESSAGES, MAX_REF_HOPS, MessageDocument, Role,
    parse_document,
};
pub use window::{Allowance, Gate, RevisionContracts, compare, gate, rollback_findings, window_findings};

#[cfg(test)]
mod tests;
