//! Feature flags of backstop, the kill switch that is rung 1 of the recovery ladder.
//!
//! This crate is the pure core shared by the control plane and the Rust SDK, so a
//! flag evaluates the same on both sides: the model ([`Flag`], also the JSON wire
//! and storage format), validation ([`compile`] turns a [`Flag`] into a
//! [`CompiledFlag`] or says exactly what is wrong) and evaluation ([`evaluate`] and
//! its typed siblings). It does no I/O, spawns nothing and knows nothing of HTTP.
//!
//! Evaluation of a [`CompiledFlag`] does not allocate: rule values (numbers,
//! semantic versions, `in` lists) are parsed once by [`compile`], the result
//! borrows the variant name and value from the flag, and percentage rollouts
//! hash the targeting key without building a string (see [`mod@bucket`]).

pub mod bucket;
mod compile;
mod condition;
mod context;
mod error;
mod eval;
mod limits;
mod model;
mod semver;
mod snapshot;

pub use bucket::bucket;
pub use compile::{CompiledFlag, compile, validate_key};
pub use context::{Context, TARGETING_KEY};
pub use error::{Arity, ConditionProblem, EvalError, FlagError};
pub use eval::{
    Evaluation, Reason, Resolution, evaluate, evaluate_bool, evaluate_float, evaluate_int, evaluate_object,
    evaluate_string,
};
pub use limits::{MAX_CONTEXT_BYTES, MAX_DEPTH, MAX_FLAG_BYTES};
pub use model::{Condition, Flag, FlagType, Op, Rule, Serve, Value};
pub use snapshot::Snapshot;
