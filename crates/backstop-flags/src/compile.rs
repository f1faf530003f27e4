//! Validation: a [`Flag`] becomes a [`CompiledFlag`], ready to evaluate, or a [`FlagError`] saying what is wrong.
//!
//! Compiling does the work evaluation should not repeat: it checks every
//! reference, resolves variant names to indices, parses rule values (numbers,
//! semantic versions, sorted `in` lists) and turns rollout weights into bucket
//! bounds. Checks run in a fixed order (key, variants, default and off
//! variants, then rules in order) and the first failure is reported.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::bucket::BUCKETS;
use crate::condition::{CompiledCondition, compile_condition};
use crate::error::FlagError;
use crate::limits::{MAX_DEPTH, MAX_FLAG_BYTES, depth_exceeds, json_size_within};
use crate::model::{Flag, FlagType, Serve, Value};

/// A validated flag with its rules precompiled; evaluate it with [`crate::evaluate`].
///
/// It serializes as the [`Flag`] it came from and deserializes through [`compile`],
/// so a snapshot read from the wire is validated on the way in.
#[derive(Debug, Clone)]
pub struct CompiledFlag {
    flag: Flag,
    flag_type: FlagType,
    /// The flag's variants in name order; rules refer to them by index.
    pub(crate) variants: Vec<(String, Value)>,
    pub(crate) default_variant: usize,
    pub(crate) off_variant: usize,
    pub(crate) rules: Vec<CompiledRule>,
}

#[derive(Debug, Clone)]
pub(crate) struct CompiledRule {
    pub(crate) conditions: Vec<CompiledCondition>,
    pub(crate) serve: CompiledServe,
}

#[derive(Debug, Clone)]
pub(crate) enum CompiledServe {
    Variant(usize),
    /// `(end, variant)`: the variant serves buckets below `end` not taken by an
    /// earlier slice. The last `end` is [`BUCKETS`].
    Rollout(Vec<(u32, usize)>),
}

/// Checks a flag key: 1-128 characters of `A-Z`, `a-z`, `0-9`, `.`, `_`, `-`,
/// and not `.` or `..` (so a key is always one segment of a URL path or a
/// file name, and safe in log lines; it never contains `/`, which the bucket
/// hash relies on).
pub fn validate_key(key: &str) -> Result<(), FlagError> {
    let ok = !key.is_empty()
        && key.len() <= 128
        && key != "."
        && key != ".."
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok { Ok(()) } else { Err(FlagError::InvalidKey { key: key.to_owned() }) }
}

/// Validates `flag` and precompiles it for evaluation.
///
/// A flag is bounded: variants nest at most [`MAX_DEPTH`] levels and the
/// whole flag is at most [`MAX_FLAG_BYTES`] as JSON, so whatever is accepted
/// can be read back inside any snapshot or event.
///
/// Integer variants of a flag that also has float variants are widened to
/// floats (JSON writes `2.0` as `2` often enough); the widened values are what
/// [`CompiledFlag::flag`] returns. An integer beyond ±2^53, which `f64` may not
/// hold exactly, is a [`FlagError::MixedVariantTypes`] instead.
pub fn compile(mut flag: Flag) -> Result<CompiledFlag, FlagError> {
    validate_key(&flag.key)?;
    check_bounds(&flag)?;
    let flag_type = variant_type(&flag)?;
    if flag_type == FlagType::Float {
        for value in flag.variants.values_mut() {
            if let Value::Int(i) = *value {
                // Exact: `variant_type` refused integers beyond 2^53.
                *value = Value::Float(i as f64);
            }
        }
    }
    let key = || flag.key.clone();

    let variants: Vec<(String, Value)> = flag.variants.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let index_of = |name: &str| variants.binary_search_by(|(k, _)| k.as_str().cmp(name)).ok();
    let default_variant = index_of(&flag.default_variant)
        .ok_or_else(|| FlagError::UnknownDefaultVariant { key: key(), variant: flag.default_variant.clone() })?;
    let off_variant = index_of(&flag.off_variant)
        .ok_or_else(|| FlagError::UnknownOffVariant { key: key(), variant: flag.off_variant.clone() })?;

    let mut rules = Vec::with_capacity(flag.rules.len());
    for (rule_index, rule) in flag.rules.iter().enumerate() {
        let conditions = rule
            .conditions
            .iter()
            .enumerate()
            .map(|(condition, c)| {
                compile_condition(c).map_err(|problem| FlagError::InvalidCondition {
                    key: key(),
                    rule: rule_index,
                    condition,
                    problem,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let unknown =
            |variant: &str| FlagError::UnknownRuleVariant { key: key(), rule: rule_index, variant: variant.to_owned() };
        let serve = match &rule.serve {
            Serve::Variant(name) => CompiledServe::Variant(index_of(name).ok_or_else(|| unknown(name))?),
            Serve::Rollout(slices) => {
                if slices.is_empty() {
                    return Err(FlagError::EmptyRollout { key: key(), rule: rule_index });
                }
                let mut compiled: Vec<(u32, usize)> = Vec::with_capacity(slices.len());
                let mut sum: u64 = 0;
                for (name, weight) in slices {
                    if *weight > 100 {
                        return Err(FlagError::WeightOver100 {
                            key: key(),
                            rule: rule_index,
                            variant: name.clone(),
                            weight: *weight,
                        });
                    }
                    let index = index_of(name).ok_or_else(|| unknown(name))?;
                    if compiled.iter().any(|&(_, seen)| seen == index) {
                        return Err(FlagError::DuplicateRolloutVariant {
                            key: key(),
                            rule: rule_index,
                            variant: name.clone(),
                        });
                    }
                    sum += u64::from(*weight);
                    // At most 100 * 100, so the cast is lossless; a sum past 100 is refused below.
                    let end = (sum.min(100) * u64::from(BUCKETS / 100)) as u32;
                    compiled.push((end, index));
                }
                if sum != 100 {
                    return Err(FlagError::WeightsNot100 { key: key(), rule: rule_index, sum });
                }
                CompiledServe::Rollout(compiled)
            }
        };
        rules.push(CompiledRule { conditions, serve });
    }

    Ok(CompiledFlag { flag, flag_type, variants, default_variant, off_variant, rules })
}

/// Depth first (measuring it does not recurse), then size (serializing does).
fn check_bounds(flag: &Flag) -> Result<(), FlagError> {
    for (name, value) in &flag.variants {
        if let Value::Object(map) = value {
            // The object itself is the first level.
            if map.values().any(|v| depth_exceeds(v, MAX_DEPTH - 1)) {
                return Err(FlagError::VariantTooDeep {
                    key: flag.key.clone(),
                    variant: name.clone(),
                    limit: MAX_DEPTH,
                });
            }
        }
    }
    match json_size_within(flag, MAX_FLAG_BYTES) {
        Some(_) => Ok(()),
        None => Err(FlagError::TooLarge { key: flag.key.clone(), limit: MAX_FLAG_BYTES }),
    }
}

/// The one type all variants share (integers widen into a float flag).
fn variant_type(flag: &Flag) -> Result<FlagType, FlagError> {
    let key = &flag.key;
    let mut iter = flag.variants.iter();
    let Some((first, first_value)) = iter.next() else {
        return Err(FlagError::NoVariants { key: key.clone() });
    };
    if flag.variants.keys().any(String::is_empty) {
        return Err(FlagError::EmptyVariantName { key: key.clone() });
    }
    let mut flag_type = first_value.flag_type();
    // The variant that set the type, for the message if another disagrees.
    let mut typed_by = first;
    for (name, value) in iter {
        let ty = value.flag_type();
        match (flag_type, ty) {
            (a, b) if a == b => {}
            (FlagType::Integer, FlagType::Float) => {
                flag_type = FlagType::Float;
                typed_by = name;
            }
            (FlagType::Float, FlagType::Integer) => {}
            _ => {
                return Err(FlagError::MixedVariantTypes {
                    key: key.clone(),
                    first: typed_by.clone(),
                    expected: flag_type,
                    variant: name.clone(),
                    actual: ty,
                });
            }
        }
    }
    if flag_type == FlagType::Float {
        for (name, value) in &flag.variants {
            if let Value::Int(i) = *value {
                if i.unsigned_abs() > 1 << 53 {
                    return Err(FlagError::MixedVariantTypes {
                        key: key.clone(),
                        first: typed_by.clone(),
                        expected: FlagType::Float,
                        variant: name.clone(),
                        actual: FlagType::Integer,
                    });
                }
            }
        }
    }
    Ok(flag_type)
}

impl CompiledFlag {
    pub fn key(&self) -> &str {
        &self.flag.key
    }

    /// The flag as compiled (integers of a float flag widened).
    pub fn flag(&self) -> &Flag {
        &self.flag
    }

    pub fn into_flag(self) -> Flag {
        self.flag
    }

    pub fn flag_type(&self) -> FlagType {
        self.flag_type
    }

    pub fn version(&self) -> u64 {
        self.flag.version
    }

    pub fn enabled(&self) -> bool {
        self.flag.enabled
    }
}

impl TryFrom<Flag> for CompiledFlag {
    type Error = FlagError;
    fn try_from(flag: Flag) -> Result<Self, Self::Error> {
        compile(flag)
    }
}

impl Serialize for CompiledFlag {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.flag.serialize(s)
    }
}

impl<'de> Deserialize<'de> for CompiledFlag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        compile(Flag::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Arity, ConditionProblem};
    use crate::model::{Condition, Op, Rule};
    use serde_json::json;

    #[test]
    fn keys() {
        let cases = [
            ("new-checkout", true),
            ("checkout.v2_beta-3", true),
            ("A", true),
            (&"k".repeat(128), true),
            ("", false),
            (&"k".repeat(129), false),
            ("new checkout", false),
            ("a/b", false),
            ("café", false),
            ("a:b", false),
            (".", false),
            ("..", false),
            ("...", true),
            (".hidden", true),
            ("a..b", true),
        ];
        for (key, ok) in cases {
            assert_eq!(validate_key(key).is_ok(), ok, "{key:?}");
        }
        assert_eq!(validate_key("a/b").unwrap_err(), FlagError::InvalidKey { key: "a/b".into() });
    }

    /// A valid boolean flag: variants `on`/`off`, one rule per test to vary.
    fn base() -> Flag {
        serde_json::from_value(json!({
            "key": "new-checkout",
            "enabled": true,
            "variants": {"on": true, "off": false},
            "default_variant": "off",
            "off_variant": "off",
            "version": 1
        }))
        .unwrap()
    }

    fn with_rule(serve: Serve) -> Flag {
        Flag { rules: vec![Rule { name: None, conditions: vec![], serve }], ..base() }
    }

    fn rollout(slices: &[(&str, u32)]) -> Flag {
        with_rule(Serve::Rollout(slices.iter().map(|(v, w)| ((*v).to_owned(), *w)).collect()))
    }

    #[test]
    fn every_validation_error() {
        let key = || "new-checkout".to_owned();
        let cases: Vec<(&str, Flag, FlagError)> = vec![
            (
                "bad key",
                Flag { key: "new checkout".into(), ..base() },
                FlagError::InvalidKey { key: "new checkout".into() },
            ),
            ("no variants", Flag { variants: Default::default(), ..base() }, FlagError::NoVariants { key: key() }),
            (
                "empty variant name",
                Flag { variants: [("".to_owned(), Value::Bool(true))].into(), ..base() },
                FlagError::EmptyVariantName { key: key() },
            ),
            (
                "mixed types",
                Flag { variants: [("off".to_owned(), false.into()), ("on".to_owned(), "yes".into())].into(), ..base() },
                FlagError::MixedVariantTypes {
                    key: key(),
                    first: "off".into(),
                    expected: FlagType::Boolean,
                    variant: "on".into(),
                    actual: FlagType::String,
                },
            ),
            (
                "integer too big for a float flag",
                Flag {
                    variants: [("a".to_owned(), Value::Float(0.5)), ("b".to_owned(), Value::Int(i64::MAX))].into(),
                    default_variant: "a".into(),
                    off_variant: "a".into(),
                    ..base()
                },
                FlagError::MixedVariantTypes {
                    key: key(),
                    first: "a".into(),
                    expected: FlagType::Float,
                    variant: "b".into(),
                    actual: FlagType::Integer,
                },
            ),
            (
                "unknown default",
                Flag { default_variant: "of".into(), ..base() },
                FlagError::UnknownDefaultVariant { key: key(), variant: "of".into() },
            ),
            (
                "unknown off",
                Flag { off_variant: "disabled".into(), ..base() },
                FlagError::UnknownOffVariant { key: key(), variant: "disabled".into() },
            ),
            (
                "rule serves unknown variant",
                with_rule(Serve::Variant("blue".into())),
                FlagError::UnknownRuleVariant { key: key(), rule: 0, variant: "blue".into() },
            ),
            (
                "rollout with unknown variant",
                rollout(&[("on", 50), ("blue", 50)]),
                FlagError::UnknownRuleVariant { key: key(), rule: 0, variant: "blue".into() },
            ),
            ("empty rollout", rollout(&[]), FlagError::EmptyRollout { key: key(), rule: 0 }),
            (
                "weights under 100",
                rollout(&[("on", 10), ("off", 80)]),
                FlagError::WeightsNot100 { key: key(), rule: 0, sum: 90 },
            ),
            (
                "weights over 100",
                rollout(&[("on", 60), ("off", 60)]),
                FlagError::WeightsNot100 { key: key(), rule: 0, sum: 120 },
            ),
            (
                "weight over 100",
                rollout(&[("on", 101)]),
                FlagError::WeightOver100 { key: key(), rule: 0, variant: "on".into(), weight: 101 },
            ),
            (
                "weight near u32::MAX",
                rollout(&[("on", u32::MAX), ("off", 1)]),
                FlagError::WeightOver100 { key: key(), rule: 0, variant: "on".into(), weight: u32::MAX },
            ),
            (
                "duplicate in rollout",
                rollout(&[("on", 50), ("on", 50)]),
                FlagError::DuplicateRolloutVariant { key: key(), rule: 0, variant: "on".into() },
            ),
            (
                "unusable condition values",
                Flag {
                    rules: vec![
                        Rule { name: None, conditions: vec![], serve: Serve::Variant("on".into()) },
                        Rule {
                            name: Some("eu".into()),
                            conditions: vec![
                                Condition { attribute: "country".into(), op: Op::In, values: vec![json!("NL")] },
                                Condition { attribute: "country".into(), op: Op::In, values: vec![] },
                            ],
                            serve: Serve::Variant("on".into()),
                        },
                    ],
                    ..base()
                },
                FlagError::InvalidCondition {
                    key: key(),
                    rule: 1,
                    condition: 1,
                    problem: ConditionProblem::ValueCount { op: Op::In, expected: Arity::AtLeastOne, actual: 0 },
                },
            ),
        ];
        for (what, flag, expected) in cases {
            assert_eq!(compile(flag).unwrap_err(), expected, "{what}");
        }
    }

    fn object_flag(variant: serde_json::Value) -> Flag {
        Flag {
            variants: [("a".to_owned(), serde_json::from_value(variant).unwrap())].into(),
            default_variant: "a".into(),
            off_variant: "a".into(),
            ..base()
        }
    }

    fn nested_object(levels: usize) -> serde_json::Value {
        let mut value = json!(1);
        for _ in 0..levels {
            value = json!({ "x": value });
        }
        value
    }

    /// A variant nested 124 levels deep was accepted, and every listing and
    /// snapshot that carried it then went past serde_json's recursion limit:
    /// no SDK could read any flag.
    #[test]
    fn deeply_nested_variant_is_refused_at_write() {
        let err = compile(object_flag(nested_object(124))).unwrap_err();
        assert_eq!(
            err,
            FlagError::VariantTooDeep { key: "new-checkout".into(), variant: "a".into(), limit: MAX_DEPTH }
        );
        assert!(err.to_string().contains("deeper than 32 levels"), "{err}");
        assert!(compile(object_flag(nested_object(MAX_DEPTH))).is_ok());
        assert!(compile(object_flag(nested_object(MAX_DEPTH + 1))).is_err());
        // What is accepted reads back inside an envelope, well within serde_json's limit.
        let flag = compile(object_flag(nested_object(MAX_DEPTH))).unwrap();
        let envelope = json!({"version": 1, "flags": {"new-checkout": flag}}).to_string();
        assert!(serde_json::from_str::<crate::Snapshot>(&envelope).is_ok());
    }

    #[test]
    fn oversized_flag_is_refused_at_write() {
        let big = json!({"blob": "x".repeat(MAX_FLAG_BYTES)});
        let err = compile(object_flag(big)).unwrap_err();
        assert_eq!(err, FlagError::TooLarge { key: "new-checkout".into(), limit: MAX_FLAG_BYTES });
        let many_rules = Flag {
            rules: (0..20_000)
                .map(|i| Rule {
                    name: Some(format!("rule {i}")),
                    conditions: vec![],
                    serve: Serve::Variant("on".into()),
                })
                .collect(),
            ..base()
        };
        assert!(matches!(compile(many_rules), Err(FlagError::TooLarge { .. })));
        assert!(compile(object_flag(json!({"blob": "x".repeat(MAX_FLAG_BYTES / 2)}))).is_ok());
    }

    #[test]
    fn valid_rollouts() {
        let cases: &[&[(&str, u32)]] =
            &[&[("on", 100)], &[("on", 10), ("off", 90)], &[("on", 0), ("off", 100)], &[("off", 100), ("on", 0)]];
        for slices in cases {
            let compiled = compile(rollout(slices)).unwrap_or_else(|e| panic!("{slices:?}: {e}"));
            let CompiledServe::Rollout(bounds) = &compiled.rules[0].serve else { panic!("not a rollout") };
            assert_eq!(bounds.last().map(|b| b.0), Some(BUCKETS), "{slices:?}");
        }
    }

    #[test]
    fn types() {
        let cases = [
            (json!({"a": true, "b": false}), FlagType::Boolean),
            (json!({"a": "x", "b": "y"}), FlagType::String),
            (json!({"a": 1, "b": 2}), FlagType::Integer),
            (json!({"a": 1.5, "b": 2.5}), FlagType::Float),
            (json!({"a": 1, "b": 2.5}), FlagType::Float),
            (json!({"a": 1.5, "b": 2}), FlagType::Float),
            (json!({"a": {"x": 1}, "b": {}}), FlagType::Object),
        ];
        for (variants, ty) in cases {
            let flag = Flag {
                variants: serde_json::from_value(variants.clone()).unwrap(),
                default_variant: "a".into(),
                off_variant: "b".into(),
                ..base()
            };
            assert_eq!(compile(flag).unwrap().flag_type(), ty, "{variants}");
        }
    }

    #[test]
    fn integers_widen_in_a_float_flag() {
        let flag = Flag {
            variants: serde_json::from_value(json!({"a": 1, "b": 2.5})).unwrap(),
            default_variant: "a".into(),
            off_variant: "b".into(),
            ..base()
        };
        let compiled = compile(flag).unwrap();
        assert_eq!(compiled.flag().variants["a"], Value::Float(1.0));
        assert_eq!(compiled.variants[0].1, Value::Float(1.0));
    }

    #[test]
    fn deserializing_validates() {
        let mut json = serde_json::to_value(base()).unwrap();
        assert!(serde_json::from_value::<CompiledFlag>(json.clone()).is_ok());
        json["default_variant"] = json!("nope");
        let err = serde_json::from_value::<CompiledFlag>(json).unwrap_err();
        assert!(err.to_string().contains("default_variant `nope` is not one of its variants"), "{err}");
    }
}
