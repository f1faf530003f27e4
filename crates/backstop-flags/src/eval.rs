//! Evaluation: which variant a flag serves to a context, and why.
//!
//! Order: a disabled flag serves its off variant (`DISABLED`); otherwise the
//! first rule whose conditions all hold serves its variant (`TARGETING_MATCH`)
//! or its rollout's variant for the context's bucket (`SPLIT`); when no rule
//! matches the default variant is served, `STATIC` if the flag has no rules and
//! `DEFAULT` if it has some. A rollout reached without a non-empty targeting key
//! is [`EvalError::TargetingKeyMissing`]: an empty key would put every anonymous
//! caller in the same bucket, all on or all off.
//!
//! Nothing here allocates on success: the result borrows from the flag.

use serde::Serialize;

use crate::bucket::bucket;
use crate::compile::{CompiledFlag, CompiledServe};
use crate::context::Context;
use crate::error::EvalError;
use crate::model::{FlagType, Value};

/// Why a variant was served; the OpenFeature / OFREP reasons, SCREAMING_SNAKE in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Reason {
    /// Enabled, no rules: everyone gets the default variant.
    Static,
    /// Enabled with rules, none matched.
    Default,
    /// A rule serving one variant matched.
    TargetingMatch,
    /// A rule serving a percentage rollout matched.
    Split,
    /// The flag is off.
    Disabled,
    /// Evaluation failed; never produced by [`evaluate`], which returns the
    /// [`EvalError`] instead, but part of the wire vocabulary for adapters.
    Error,
}

/// The outcome of an evaluation with a value of type `T`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Resolution<'a, T> {
    pub value: T,
    pub variant: &'a str,
    pub reason: Reason,
    /// Index of the rule that decided, when one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<usize>,
    pub flag_version: u64,
}

/// An untyped evaluation: the variant's value as stored.
pub type Evaluation<'a> = Resolution<'a, &'a Value>;

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Static => "STATIC",
            Reason::Default => "DEFAULT",
            Reason::TargetingMatch => "TARGETING_MATCH",
            Reason::Split => "SPLIT",
            Reason::Disabled => "DISABLED",
            Reason::Error => "ERROR",
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'a, T> Resolution<'a, T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Resolution<'a, U> {
        Resolution {
            value: f(self.value),
            variant: self.variant,
            reason: self.reason,
            rule: self.rule,
            flag_version: self.flag_version,
        }
    }
}

/// Evaluates `flag` for `ctx`. The only possible error is
/// [`EvalError::TargetingKeyMissing`].
pub fn evaluate<'a>(flag: &'a CompiledFlag, ctx: &Context) -> Result<Evaluation<'a>, EvalError> {
    let serve = |variant: usize, reason: Reason, rule: Option<usize>| {
        // In bounds: every index was resolved against `variants` by `compile`.
        let (name, value) = &flag.variants[variant];
        Resolution { value, variant: name.as_str(), reason, rule, flag_version: flag.version() }
    };
    if !flag.enabled() {
        return Ok(serve(flag.off_variant, Reason::Disabled, None));
    }
    for (index, rule) in flag.rules.iter().enumerate() {
        if !rule.conditions.iter().all(|c| c.matches(ctx)) {
            continue;
        }
        return match &rule.serve {
            CompiledServe::Variant(variant) => Ok(serve(*variant, Reason::TargetingMatch, Some(index))),
            CompiledServe::Rollout(slices) => {
                let targeting_key = ctx
                    .targeting_key
                    .as_deref()
                    .filter(|k| !k.is_empty())
                    .ok_or_else(|| EvalError::TargetingKeyMissing { key: flag.key().to_owned() })?;
                let b = bucket(flag.key(), targeting_key);
                let variant = slices.iter().find(|(end, _)| b < *end).map_or(flag.default_variant, |&(_, v)| v);
                Ok(serve(variant, Reason::Split, Some(index)))
            }
        };
    }
    let reason = if flag.rules.is_empty() { Reason::Static } else { Reason::Default };
    Ok(serve(flag.default_variant, reason, None))
}

fn typed<'a, T>(
    flag: &'a CompiledFlag,
    ctx: &Context,
    expected: FlagType,
    get: impl FnOnce(&'a Value) -> Option<T>,
) -> Result<Resolution<'a, T>, EvalError> {
    let mismatch = || EvalError::TypeMismatch { key: flag.key().to_owned(), expected, actual: flag.flag_type() };
    if flag.flag_type() != expected {
        return Err(mismatch());
    }
    let evaluation = evaluate(flag, ctx)?;
    let value = get(evaluation.value).ok_or_else(mismatch)?;
    Ok(evaluation.map(|_| value))
}

/// [`evaluate`] for a boolean flag; any other type is [`EvalError::TypeMismatch`],
/// whatever the context (checked before the rules run).
pub fn evaluate_bool<'a>(flag: &'a CompiledFlag, ctx: &Context) -> Result<Resolution<'a, bool>, EvalError> {
    typed(flag, ctx, FlagType::Boolean, Value::as_bool)
}

pub fn evaluate_string<'a>(flag: &'a CompiledFlag, ctx: &Context) -> Result<Resolution<'a, &'a str>, EvalError> {
    typed(flag, ctx, FlagType::String, Value::as_str)
}

/// An integer flag only; a float flag is a type mismatch even for whole numbers.
pub fn evaluate_int<'a>(flag: &'a CompiledFlag, ctx: &Context) -> Result<Resolution<'a, i64>, EvalError> {
    typed(flag, ctx, FlagType::Integer, Value::as_int)
}

/// A float flag only; an integer flag is a type mismatch (ask with [`evaluate_int`]).
pub fn evaluate_float<'a>(flag: &'a CompiledFlag, ctx: &Context) -> Result<Resolution<'a, f64>, EvalError> {
    typed(flag, ctx, FlagType::Float, Value::as_float)
}

pub fn evaluate_object<'a>(
    flag: &'a CompiledFlag,
    ctx: &Context,
) -> Result<Resolution<'a, &'a serde_json::Map<String, serde_json::Value>>, EvalError> {
    typed(flag, ctx, FlagType::Object, Value::as_object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::compile;
    use crate::model::Flag;
    use serde_json::json;

    /// A boolean flag `on`/`off` with the given rules (JSON).
    fn flag(enabled: bool, rules: serde_json::Value) -> CompiledFlag {
        let flag: Flag = serde_json::from_value(json!({
            "key": "new-checkout",
            "enabled": enabled,
            "variants": {"on": true, "off": false},
            "default_variant": "on",
            "off_variant": "off",
            "rules": rules,
            "version": 7
        }))
        .unwrap();
        compile(flag).unwrap()
    }

    #[test]
    fn reason_for_each_path() {
        let beta_rule = json!([
            {"conditions": [{"attribute": "beta", "op": "equals", "values": [true]}], "serve": {"variant": "off"}}
        ]);
        let split_rule = json!([
            {"conditions": [{"attribute": "plan", "op": "equals", "values": ["pro"]}],
             "serve": {"rollout": [{"variant": "off", "weight": 100}, {"variant": "on", "weight": 0}]}}
        ]);
        let beta = Context::new().with_targeting_key("u1").with_attribute("beta", true);
        let pro = Context::new().with_targeting_key("u1").with_attribute("plan", "pro");
        let anyone = Context::new().with_targeting_key("u1");
        let cases = [
            ("disabled", flag(false, beta_rule.clone()), &beta, "off", Reason::Disabled, None),
            ("no rules", flag(true, json!([])), &anyone, "on", Reason::Static, None),
            ("no rule matches", flag(true, beta_rule.clone()), &anyone, "on", Reason::Default, None),
            ("rule matches", flag(true, beta_rule), &beta, "off", Reason::TargetingMatch, Some(0)),
            ("rollout", flag(true, split_rule.clone()), &pro, "off", Reason::Split, Some(0)),
            ("rollout not reached", flag(true, split_rule), &anyone, "on", Reason::Default, None),
        ];
        for (what, flag, ctx, variant, reason, rule) in cases {
            let e = evaluate(&flag, ctx).unwrap();
            assert_eq!((e.variant, e.reason, e.rule, e.flag_version), (variant, reason, rule, 7), "{what}");
            assert_eq!(e.value, &Value::Bool(variant == "on"), "{what}");
        }
    }

    #[test]
    fn first_matching_rule_wins() {
        let f = flag(
            true,
            json!([
                {"conditions": [{"attribute": "country", "op": "equals", "values": ["NL"]}], "serve": {"variant": "off"}},
                {"name": "everyone", "conditions": [], "serve": {"variant": "on"}},
                {"conditions": [], "serve": {"variant": "off"}}
            ]),
        );
        let nl = Context::new().with_attribute("country", "NL");
        let be = Context::new().with_attribute("country", "BE");
        assert_eq!(evaluate(&f, &nl).unwrap().rule, Some(0));
        assert_eq!(evaluate(&f, &be).unwrap().rule, Some(1));
    }

    #[test]
    fn all_conditions_must_hold() {
        let f = flag(
            true,
            json!([{"conditions": [
                {"attribute": "country", "op": "equals", "values": ["NL"]},
                {"attribute": "plan", "op": "in", "values": ["pro", "team"]}
            ], "serve": {"variant": "off"}}]),
        );
        let both = Context::new().with_attribute("country", "NL").with_attribute("plan", "team");
        let one = Context::new().with_attribute("country", "NL").with_attribute("plan", "free");
        assert_eq!(evaluate(&f, &both).unwrap().reason, Reason::TargetingMatch);
        assert_eq!(evaluate(&f, &one).unwrap().reason, Reason::Default);
    }

    #[test]
    fn rollout_needs_a_targeting_key() {
        let f = flag(
            true,
            json!([{"conditions": [], "serve": {"rollout": [{"variant": "on", "weight": 50}, {"variant": "off", "weight": 50}]}}]),
        );
        let missing = EvalError::TargetingKeyMissing { key: "new-checkout".into() };
        assert_eq!(evaluate(&f, &Context::new()).unwrap_err(), missing);
        assert_eq!(evaluate(&f, &Context::new().with_targeting_key("")).unwrap_err(), missing);
        assert_eq!(missing.code(), "TARGETING_KEY_MISSING");
        assert!(evaluate(&f, &Context::new().with_targeting_key("u1")).is_ok());
        // A disabled flag never reaches the rollout.
        let off = flag(false, json!([{"conditions": [], "serve": {"rollout": [{"variant": "on", "weight": 100}]}}]));
        assert_eq!(evaluate(&off, &Context::new()).unwrap().reason, Reason::Disabled);
    }

    fn typed_flag(variants: serde_json::Value) -> CompiledFlag {
        let first = variants.as_object().unwrap().keys().next().unwrap().clone();
        compile(Flag {
            key: "f".into(),
            description: String::new(),
            enabled: true,
            variants: serde_json::from_value(variants).unwrap(),
            default_variant: first.clone(),
            off_variant: first,
            rules: vec![],
            version: 1,
        })
        .unwrap()
    }

    #[test]
    fn typed_getters() {
        let ctx = Context::new();
        let b = typed_flag(json!({"a": true}));
        let s = typed_flag(json!({"a": "blue"}));
        let i = typed_flag(json!({"a": 3}));
        let f = typed_flag(json!({"a": 0.5}));
        let o = typed_flag(json!({"a": {"limit": 10}}));
        assert!(evaluate_bool(&b, &ctx).unwrap().value);
        assert_eq!(evaluate_string(&s, &ctx).unwrap().value, "blue");
        assert_eq!(evaluate_int(&i, &ctx).unwrap().value, 3);
        assert_eq!(evaluate_float(&f, &ctx).unwrap().value, 0.5);
        assert_eq!(evaluate_object(&o, &ctx).unwrap().value["limit"], json!(10));
        let r = evaluate_bool(&b, &ctx).unwrap();
        assert_eq!((r.variant, r.reason, r.flag_version), ("a", Reason::Static, 1));
    }

    #[test]
    fn type_mismatch() {
        let ctx = Context::new();
        let mismatch = |key: &str, expected, actual| EvalError::TypeMismatch { key: key.into(), expected, actual };
        let s = typed_flag(json!({"a": "blue"}));
        let i = typed_flag(json!({"a": 3}));
        let f = typed_flag(json!({"a": 0.5}));
        assert_eq!(evaluate_bool(&s, &ctx).unwrap_err(), mismatch("f", FlagType::Boolean, FlagType::String));
        assert_eq!(evaluate_string(&i, &ctx).unwrap_err(), mismatch("f", FlagType::String, FlagType::Integer));
        assert_eq!(evaluate_float(&i, &ctx).unwrap_err(), mismatch("f", FlagType::Float, FlagType::Integer));
        assert_eq!(evaluate_int(&f, &ctx).unwrap_err(), mismatch("f", FlagType::Integer, FlagType::Float));
        assert_eq!(evaluate_object(&s, &ctx).unwrap_err(), mismatch("f", FlagType::Object, FlagType::String));
        assert_eq!(evaluate_bool(&s, &ctx).unwrap_err().code(), "TYPE_MISMATCH");
    }

    #[test]
    fn reasons_serialize_like_ofrep() {
        let cases = [
            (Reason::Static, "STATIC"),
            (Reason::Default, "DEFAULT"),
            (Reason::TargetingMatch, "TARGETING_MATCH"),
            (Reason::Split, "SPLIT"),
            (Reason::Disabled, "DISABLED"),
            (Reason::Error, "ERROR"),
        ];
        for (reason, text) in cases {
            assert_eq!(serde_json::to_value(reason).unwrap(), json!(text));
            assert_eq!(reason.to_string(), text);
        }
    }

    #[test]
    fn evaluation_json() {
        let f = flag(true, json!([{"conditions": [], "serve": {"variant": "off"}}]));
        let e = evaluate(&f, &Context::new()).unwrap();
        assert_eq!(
            serde_json::to_value(e).unwrap(),
            json!({"value": false, "variant": "off", "reason": "TARGETING_MATCH", "rule": 0, "flag_version": 7})
        );
    }
}
