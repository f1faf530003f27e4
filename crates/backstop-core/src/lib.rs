//! Domain types and pure decisions of backstop.
//!
//! Nothing in this crate does I/O: it knows revisions, their lifecycle, digests,
//! the rollback-target rule, the audit-chain hash, the plan of a traffic switch,
//! the soak verdict, the hotfix backport decisions (`hotfix`), the canary analysis of a revision's traffic (`analysis`), the
//! recovery ladder's decision (`incident`) and the delivery figures (`report`), and
//! nothing of HTTP, SQL or processes. Adapters (store, server, drivers) depend on it,
//! never the reverse.

pub mod analysis;
pub mod audit;
pub mod digest;
pub mod hotfix;
pub mod image;
pub mod incident;
pub mod name;
pub mod operation;
pub mod report;
pub mod revision;
pub mod rollback;
pub mod signals;
pub mod soak;
pub mod switch;

pub use digest::Digest;
pub use name::AppName;
pub use operation::{OperationKind, OperationState};
pub use revision::{Revision, RevisionStatus};
pub use rollback::{RollbackRefusal, RollbackTarget};
