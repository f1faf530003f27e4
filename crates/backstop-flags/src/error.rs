//! Errors of flag validation and evaluation, and the OFREP error codes they map to.
//!
//! Validation errors name the flag key and the offending variant or rule so a CLI
//! can point at the spot; rule and condition indices are 0-based, written as JSON
//! paths (`rules[2].conditions[0]`).

use std::fmt;

use crate::model::{FlagType, Op};

/// Why [`crate::compile`] refused a flag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlagError {
    #[error("`{key}` is not a valid flag key (1-128 characters of A-Z, a-z, 0-9, `.`, `_`, `-`; not `.` or `..`)")]
    InvalidKey { key: String },

    #[error("flag `{key}` is over {limit} bytes as JSON")]
    TooLarge { key: String, limit: usize },

    #[error("flag `{key}`: variant `{variant}` nests objects and arrays deeper than {limit} levels")]
    VariantTooDeep { key: String, variant: String, limit: usize },

    #[error("flag `{key}` has no variants")]
    NoVariants { key: String },

    #[error("flag `{key}` has a variant with an empty name")]
    EmptyVariantName { key: String },

    #[error(
        "flag `{key}`: variant `{variant}` is {actual} but variant `{first}` is {expected}; \
         all variants of a flag share one type"
    )]
    MixedVariantTypes { key: String, first: String, expected: FlagType, variant: String, actual: FlagType },

    #[error("flag `{key}`: default_variant `{variant}` is not one of its variants")]
    UnknownDefaultVariant { key: String, variant: String },

    #[error("flag `{key}`: off_variant `{variant}` is not one of its variants")]
    UnknownOffVariant { key: String, variant: String },

    #[error("flag `{key}` rules[{rule}]: serves unknown variant `{variant}`")]
    UnknownRuleVariant { key: String, rule: usize, variant: String },

    #[error("flag `{key}` rules[{rule}]: rollout has no variants")]
    EmptyRollout { key: String, rule: usize },

    #[error("flag `{key}` rules[{rule}]: rollout weight {weight} of variant `{variant}` is over 100")]
    WeightOver100 { key: String, rule: usize, variant: String, weight: u32 },

    #[error("flag `{key}` rules[{rule}]: rollout weights sum to {sum}, not 100")]
    WeightsNot100 { key: String, rule: usize, sum: u64 },

    #[error("flag `{key}` rules[{rule}]: variant `{variant}` appears more than once in the rollout")]
    DuplicateRolloutVariant { key: String, rule: usize, variant: String },

    #[error("flag `{key}` rules[{rule}].conditions[{condition}]: {problem}")]
    InvalidCondition { key: String, rule: usize, condition: usize, problem: ConditionProblem },
}

/// What is wrong with one condition; carried by [`FlagError::InvalidCondition`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConditionProblem {
    #[error("attribute name is empty")]
    EmptyAttribute,

    #[error("`{op}` takes {expected}, got {actual}")]
    ValueCount { op: Op, expected: Arity, actual: usize },

    #[error("`{op}` values[{index}] must be {expected}, got {actual}")]
    ValueType { op: Op, index: usize, expected: &'static str, actual: &'static str },

    #[error(
        "`{op}` value `{value}` is not a semantic version (MAJOR[.MINOR[.PATCH]][-PRERELEASE][+BUILD], optional `v`)"
    )]
    NotASemver { op: Op, value: String },
}

/// How many values an operator takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    None,
    ExactlyOne,
    AtLeastOne,
}

impl fmt::Display for Arity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Arity::None => "no values",
            Arity::ExactlyOne => "exactly one value",
            Arity::AtLeastOne => "at least one value",
        })
    }
}

/// Why a flag could not be evaluated. The caller (SDK) then serves its own default
/// with reason `ERROR` and [`EvalError::code`], as OpenFeature prescribes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    #[error("flag `{key}` is of type {actual}, not {expected}")]
    TypeMismatch { key: String, expected: FlagType, actual: FlagType },

    #[error("flag `{key}` serves a percentage rollout, which needs a non-empty targeting key in the context")]
    TargetingKeyMissing { key: String },

    /// Raised when a context is built from untrusted JSON ([`crate::Context::from_ofrep`]).
    /// Evaluation itself never raises it: an attribute of the wrong kind makes a
    /// condition not match (see the `condition` module docs).
    #[error("context attribute `{attribute}` must be {expected}, got {actual}")]
    InvalidContext { attribute: String, expected: &'static str, actual: &'static str },

    /// An OFREP body whose `context` is not an object.
    #[error("`context` must be a JSON object, got {actual}")]
    ContextNotAnObject { actual: &'static str },

    #[error("flag `{key}` not found")]
    FlagNotFound { key: String },

    /// A flag definition or request body that could not be parsed, for adapters
    /// that report parse failures through the same channel.
    #[error("parse error: {detail}")]
    Parse { detail: String },

    #[error("{detail}")]
    General { detail: String },
}

impl EvalError {
    /// The OFREP / OpenFeature error code.
    pub fn code(&self) -> &'static str {
        match self {
            EvalError::TypeMismatch { .. } => "TYPE_MISMATCH",
            EvalError::TargetingKeyMissing { .. } => "TARGETING_KEY_MISSING",
            EvalError::InvalidContext { .. } | EvalError::ContextNotAnObject { .. } => "INVALID_CONTEXT",
            EvalError::FlagNotFound { .. } => "FLAG_NOT_FOUND",
            EvalError::Parse { .. } => "PARSE_ERROR",
            EvalError::General { .. } => "GENERAL",
        }
    }
}

impl From<FlagError> for EvalError {
    /// An invalid flag definition met where a flag was to be evaluated (an SDK
    /// reading a snapshot) is a parse error in OpenFeature terms.
    fn from(e: FlagError) -> Self {
        EvalError::Parse { detail: e.to_string() }
    }
}

/// How a JSON value is named in messages ("got a number").
pub(crate) fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eval_error_codes() {
        let key = || "new-checkout".to_owned();
        let cases = [
            (
                EvalError::TypeMismatch { key: key(), expected: FlagType::Boolean, actual: FlagType::String },
                "TYPE_MISMATCH",
            ),
            (EvalError::TargetingKeyMissing { key: key() }, "TARGETING_KEY_MISSING"),
            (
                EvalError::InvalidContext {
                    attribute: "targetingKey".into(),
                    expected: "a string",
                    actual: "a number",
                },
                "INVALID_CONTEXT",
            ),
            (EvalError::ContextNotAnObject { actual: "an array" }, "INVALID_CONTEXT"),
            (EvalError::FlagNotFound { key: key() }, "FLAG_NOT_FOUND"),
            (EvalError::Parse { detail: "x".into() }, "PARSE_ERROR"),
            (EvalError::General { detail: "x".into() }, "GENERAL"),
        ];
        for (err, code) in cases {
            assert_eq!(err.code(), code, "{err}");
        }
    }

    #[test]
    fn messages_name_the_spot() {
        let err = FlagError::InvalidCondition {
            key: "new-checkout".into(),
            rule: 2,
            condition: 0,
            problem: ConditionProblem::ValueCount { op: Op::Gt, expected: Arity::ExactlyOne, actual: 2 },
        };
        assert_eq!(err.to_string(), "flag `new-checkout` rules[2].conditions[0]: `gt` takes exactly one value, got 2");
        let err = FlagError::WeightsNot100 { key: "new-checkout".into(), rule: 1, sum: 90 };
        assert_eq!(err.to_string(), "flag `new-checkout` rules[1]: rollout weights sum to 90, not 100");
    }

    #[test]
    fn invalid_flag_is_a_parse_error() {
        let err = EvalError::from(FlagError::NoVariants { key: "k".into() });
        assert_eq!(err.code(), "PARSE_ERROR");
        assert_eq!(err.to_string(), "parse error: flag `k` has no variants");
    }
}
