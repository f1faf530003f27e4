//! Conditions compiled for evaluation, and the exact meaning of every operator.
//!
//! **Attribute lookup.** `targetingKey` is the context's targeting key. Any
//! other name is looked up in the attributes; when there is no attribute with
//! the whole name and it contains dots, `a.b.c` walks nested objects. A JSON
//! `null` counts as missing.
//!
//! **Missing attribute: the condition is false for every operator except
//! `exists`**, negated ones included: a rule `country not_in ["US"]` does not
//! capture users whose country is unknown (LaunchDarkly behaves the same).
//!
//! **Wrong kind: the condition is false, never an evaluation error.** A `gt`
//! against a string, a `semver_*` against `"latest"` or a number, `starts_with`
//! against a boolean: no match, and evaluation goes on to the next rule. An
//! error would make the SDK drop the whole flag for its hard-coded default,
//! skipping every other rule, which is worse for a kill switch than one rule
//! not applying. Numbers are never read from strings and strings never from
//! numbers: `"5"` does not equal `5`.
//!
//! | op | values (checked by `compile`) | holds when the attribute… |
//! |---|---|---|
//! | `equals` / `not_equals` | exactly one string, number or boolean | is / is not equal to it (numbers by value: `1` = `1.0`) |
//! | `in` / `not_in` | at least one string, number or boolean | is / is not equal to one of them |
//! | `starts_with`, `ends_with` | at least one string | is a string with one of them as prefix / suffix (case-sensitive) |
//! | `contains` | at least one string | is a string containing one of them, or an array with one of them as an element |
//! | `gt`, `gte`, `lt`, `lte` | exactly one number | is a number, compared with it |
//! | `semver_eq`, `semver_gt`, … | exactly one semantic version | is a string parsing as a version, compared by precedence |
//! | `exists` | none | is present and not null |
//!
//! Arrays and objects are never equal to anything: `not_equals` and `not_in`
//! hold for them.

use std::cmp::Ordering;

use crate::context::{Context, TARGETING_KEY};
use crate::error::{Arity, ConditionProblem, json_kind};
use crate::model::{Condition, Op};
use crate::semver::{self, OwnedVersion};

#[derive(Debug, Clone)]
pub(crate) struct CompiledCondition {
    path: AttrPath,
    test: Test,
}

#[derive(Debug, Clone)]
enum AttrPath {
    TargetingKey,
    /// `nested` holds the dot-separated segments when `name` has a dot, else nothing.
    Attribute {
        name: String,
        nested: Vec<String>,
    },
}

#[derive(Debug, Clone)]
enum Test {
    OneOf { set: ScalarSet, negate: bool },
    StartsWith(Vec<String>),
    EndsWith(Vec<String>),
    Contains(Vec<String>),
    Number { cmp: Cmp, target: Num },
    Semver { cmp: Cmp, target: OwnedVersion },
    Exists,
}

#[derive(Debug, Clone, Copy)]
enum Cmp {
    Eq,
    Gt,
    Gte,
    Lt,
    Lte,
}

#[derive(Debug, Clone, Copy)]
enum Num {
    Int(i64),
    Float(f64),
}

/// The values of `equals`/`in`, split by kind; strings sorted for binary search.
#[derive(Debug, Clone, Default)]
struct ScalarSet {
    strings: Vec<String>,
    numbers: Vec<Num>,
    has_true: bool,
    has_false: bool,
}

/// An attribute as conditions see it.
#[derive(Debug, Clone, Copy)]
enum Attr<'a> {
    Str(&'a str),
    Num(Num),
    Bool(bool),
    Array(&'a [serde_json::Value]),
    Object,
}

pub(crate) fn compile_condition(condition: &Condition) -> Result<CompiledCondition, ConditionProblem> {
    let op = condition.op;
    let values = &condition.values;
    let path = compile_path(&condition.attribute)?;
    let arity = match op {
        Op::Exists => Arity::None,
        Op::Equals
        | Op::NotEquals
        | Op::Gt
        | Op::Gte
        | Op::Lt
        | Op::Lte
        | Op::SemverEq
        | Op::SemverGt
        | Op::SemverGte
        | Op::SemverLt
        | Op::SemverLte => Arity::ExactlyOne,
        Op::In | Op::NotIn | Op::StartsWith | Op::EndsWith | Op::Contains => Arity::AtLeastOne,
    };
    let count_ok = match arity {
        Arity::None => values.is_empty(),
        Arity::ExactlyOne => values.len() == 1,
        Arity::AtLeastOne => !values.is_empty(),
    };
    if !count_ok {
        return Err(ConditionProblem::ValueCount { op, expected: arity, actual: values.len() });
    }
    let test = match op {
        Op::Equals | Op::In => Test::OneOf { set: scalar_set(op, values)?, negate: false },
        Op::NotEquals | Op::NotIn => Test::OneOf { set: scalar_set(op, values)?, negate: true },
        Op::StartsWith => Test::StartsWith(strings(op, values)?),
        Op::EndsWith => Test::EndsWith(strings(op, values)?),
        Op::Contains => Test::Contains(strings(op, values)?),
        Op::Gt => number_test(op, Cmp::Gt, values)?,
        Op::Gte => number_test(op, Cmp::Gte, values)?,
        Op::Lt => number_test(op, Cmp::Lt, values)?,
        Op::Lte => number_test(op, Cmp::Lte, values)?,
        Op::SemverEq => semver_test(op, Cmp::Eq, values)?,
        Op::SemverGt => semver_test(op, Cmp::Gt, values)?,
        Op::SemverGte => semver_test(op, Cmp::Gte, values)?,
        Op::SemverLt => semver_test(op, Cmp::Lt, values)?,
        Op::SemverLte => semver_test(op, Cmp::Lte, values)?,
        Op::Exists => Test::Exists,
    };
    Ok(CompiledCondition { path, test })
}

fn compile_path(attribute: &str) -> Result<AttrPath, ConditionProblem> {
    if attribute.is_empty() {
        return Err(ConditionProblem::EmptyAttribute);
    }
    if attribute == TARGETING_KEY {
        return Ok(AttrPath::TargetingKey);
    }
    let nested = if attribute.contains('.') { attribute.split('.').map(str::to_owned).collect() } else { Vec::new() };
    Ok(AttrPath::Attribute { name: attribute.to_owned(), nested })
}

fn scalar_set(op: Op, values: &[serde_json::Value]) -> Result<ScalarSet, ConditionProblem> {
    let mut set = ScalarSet::default();
    for (index, value) in values.iter().enumerate() {
        match value {
            serde_json::Value::String(s) => set.strings.push(s.clone()),
            serde_json::Value::Bool(true) => set.has_true = true,
            serde_json::Value::Bool(false) => set.has_false = true,
            serde_json::Value::Number(n) => set.numbers.push(number(op, index, n)?),
            other => {
                return Err(ConditionProblem::ValueType {
                    op,
                    index,
                    expected: "a string, number or boolean",
                    actual: json_kind(other),
                });
            }
        }
    }
    set.strings.sort_unstable();
    set.strings.dedup();
    Ok(set)
}

fn strings(op: Op, values: &[serde_json::Value]) -> Result<Vec<String>, ConditionProblem> {
    values
        .iter()
        .enumerate()
        .map(|(index, value)| match value {
            serde_json::Value::String(s) => Ok(s.clone()),
            other => Err(ConditionProblem::ValueType { op, index, expected: "a string", actual: json_kind(other) }),
        })
        .collect()
}

fn number(op: Op, index: usize, n: &serde_json::Number) -> Result<Num, ConditionProblem> {
    // Only reachable with serde_json's arbitrary_precision and a huge number.
    Num::from_json(n).ok_or(ConditionProblem::ValueType { op, index, expected: "a finite number", actual: "a number" })
}

fn number_test(op: Op, cmp: Cmp, values: &[serde_json::Value]) -> Result<Test, ConditionProblem> {
    match &values[0] {
        serde_json::Value::Number(n) => Ok(Test::Number { cmp, target: number(op, 0, n)? }),
        other => Err(ConditionProblem::ValueType { op, index: 0, expected: "a number", actual: json_kind(other) }),
    }
}

fn semver_test(op: Op, cmp: Cmp, values: &[serde_json::Value]) -> Result<Test, ConditionProblem> {
    match &values[0] {
        serde_json::Value::String(s) => match semver::parse(s) {
            Some(v) => Ok(Test::Semver { cmp, target: v.to_owned_version() }),
            None => Err(ConditionProblem::NotASemver { op, value: s.clone() }),
        },
        other => {
            Err(ConditionProblem::ValueType { op, index: 0, expected: "a version string", actual: json_kind(other) })
        }
    }
}

impl CompiledCondition {
    /// Whether the condition holds for `ctx`; never allocates.
    pub(crate) fn matches(&self, ctx: &Context) -> bool {
        let Some(attr) = self.path.lookup(ctx) else {
            return false;
        };
        match &self.test {
            Test::Exists => true,
            Test::OneOf { set, negate } => set.contains(attr) != *negate,
            Test::StartsWith(prefixes) => {
                matches!(attr, Attr::Str(s) if prefixes.iter().any(|p| s.starts_with(p.as_str())))
            }
            Test::EndsWith(suffixes) => {
                matches!(attr, Attr::Str(s) if suffixes.iter().any(|p| s.ends_with(p.as_str())))
            }
            Test::Contains(needles) => match attr {
                Attr::Str(s) => needles.iter().any(|n| s.contains(n.as_str())),
                Attr::Array(items) => {
                    items.iter().any(|item| item.as_str().is_some_and(|item| needles.iter().any(|n| n == item)))
                }
                _ => false,
            },
            Test::Number { cmp, target } => match attr {
                Attr::Num(n) => n.compare(*target).is_some_and(|o| cmp.holds(o)),
                _ => false,
            },
            Test::Semver { cmp, target } => match attr {
                Attr::Str(s) => semver::parse(s).is_some_and(|v| cmp.holds(v.cmp(&target.as_version()))),
                _ => false,
            },
        }
    }
}

impl AttrPath {
    fn lookup<'c>(&self, ctx: &'c Context) -> Option<Attr<'c>> {
        match self {
            AttrPath::TargetingKey => ctx.targeting_key.as_deref().map(Attr::Str),
            AttrPath::Attribute { name, nested } => {
                if let Some(value) = ctx.attributes.get(name.as_str()) {
                    return Attr::from_json(value);
                }
                let (first, rest) = nested.split_first()?;
                let mut value = ctx.attributes.get(first.as_str())?;
                for segment in rest {
                    value = value.as_object()?.get(segment.as_str())?;
                }
                Attr::from_json(value)
            }
        }
    }
}

impl<'a> Attr<'a> {
    fn from_json(value: &'a serde_json::Value) -> Option<Self> {
        Some(match value {
            serde_json::Value::Null => return None,
            serde_json::Value::Bool(b) => Attr::Bool(*b),
            serde_json::Value::Number(n) => Attr::Num(Num::from_json(n)?),
            serde_json::Value::String(s) => Attr::Str(s),
            serde_json::Value::Array(items) => Attr::Array(items),
            serde_json::Value::Object(_) => Attr::Object,
        })
    }
}

impl ScalarSet {
    fn contains(&self, attr: Attr<'_>) -> bool {
        match attr {
            Attr::Str(s) => self.strings.binary_search_by(|x| x.as_str().cmp(s)).is_ok(),
            Attr::Num(n) => self.numbers.iter().any(|m| n.compare(*m) == Some(Ordering::Equal)),
            Attr::Bool(true) => self.has_true,
            Attr::Bool(false) => self.has_false,
            Attr::Array(_) | Attr::Object => false,
        }
    }
}

impl Num {
    fn from_json(n: &serde_json::Number) -> Option<Num> {
        n.as_i64().map(Num::Int).or_else(|| n.as_f64().map(Num::Float))
    }

    fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    /// Integers compare exactly; anything involving a float compares as `f64`.
    fn compare(self, other: Num) -> Option<Ordering> {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => Some(a.cmp(&b)),
            _ => self.as_f64().partial_cmp(&other.as_f64()),
        }
    }
}

impl Cmp {
    fn holds(self, ordering: Ordering) -> bool {
        match self {
            Cmp::Eq => ordering.is_eq(),
            Cmp::Gt => ordering.is_gt(),
            Cmp::Gte => ordering.is_ge(),
            Cmp::Lt => ordering.is_lt(),
            Cmp::Lte => ordering.is_le(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn condition(attribute: &str, op: Op, values: serde_json::Value) -> Condition {
        Condition { attribute: attribute.to_owned(), op, values: serde_json::from_value(values).unwrap() }
    }

    /// The context every operator case runs against.
    fn ctx() -> Context {
        let attributes = json!({
            "email": "ada@example.com",
            "country": "NL",
            "plan": "pro",
            "age": 36,
            "score": 0.75,
            "beta": true,
            "staff": false,
            "groups": ["beta-testers", "eu"],
            "app": {"version": "2.4.1", "build": {"channel": "nightly"}},
            "app.flat": "dotted-name",
            "version": "v2.4.0-rc.2",
            "gone": null,
            "big": 9007199254740993_i64,
        });
        Context {
            targeting_key: Some("user-42".into()),
            attributes: attributes.as_object().unwrap().clone().into_iter().collect(),
        }
    }

    #[test]
    fn operators() {
        use Op::*;
        let cases: &[(&str, Op, serde_json::Value, bool)] = &[
            // equals / not_equals
            ("country", Equals, json!(["NL"]), true),
            ("country", Equals, json!(["nl"]), false),
            ("age", Equals, json!([36]), true),
            ("age", Equals, json!([36.0]), true),
            ("age", Equals, json!(["36"]), false),
            ("beta", Equals, json!([true]), true),
            ("staff", Equals, json!([true]), false),
            ("big", Equals, json!([9007199254740993_i64]), true),
            ("big", Equals, json!([9007199254740992_i64]), false),
            ("country", NotEquals, json!(["US"]), true),
            ("country", NotEquals, json!(["NL"]), false),
            ("age", NotEquals, json!(["36"]), true),
            ("groups", NotEquals, json!(["eu"]), true),
            // in / not_in
            ("country", In, json!(["BE", "NL", "LU"]), true),
            ("country", In, json!(["BE", "LU"]), false),
            ("age", In, json!([18, 36]), true),
            ("beta", In, json!([false, "x"]), false),
            ("country", NotIn, json!(["US", "CA"]), true),
            ("country", NotIn, json!(["NL"]), false),
            // starts_with / ends_with / contains
            ("email", StartsWith, json!(["bob", "ada@"]), true),
            ("email", StartsWith, json!(["Ada"]), false),
            ("age", StartsWith, json!(["3"]), false),
            ("email", EndsWith, json!(["@example.com"]), true),
            ("email", EndsWith, json!(["@example.org"]), false),
            ("email", Contains, json!(["@exam"]), true),
            ("email", Contains, json!(["bob"]), false),
            ("groups", Contains, json!(["beta-testers"]), true),
            ("groups", Contains, json!(["beta"]), false),
            ("beta", Contains, json!(["true"]), false),
            // numeric
            ("age", Gt, json!([35]), true),
            ("age", Gt, json!([36]), false),
            ("age", Gte, json!([36]), true),
            ("age", Gte, json!([36.5]), false),
            ("age", Lt, json!([40]), true),
            ("age", Lt, json!([36]), false),
            ("age", Lte, json!([36]), true),
            ("age", Lte, json!([35.9]), false),
            ("score", Gt, json!([0.5]), true),
            ("score", Lt, json!([0.5]), false),
            ("country", Gt, json!([0]), false),
            // semver
            ("app.version", SemverEq, json!(["v2.4.1"]), true),
            ("app.version", SemverEq, json!(["2.4.0"]), false),
            ("app.version", SemverGt, json!(["2.4.0"]), true),
            ("app.version", SemverGt, json!(["2.4.1"]), false),
            ("app.version", SemverGte, json!(["2.4.1"]), true),
            ("app.version", SemverGte, json!(["2.10"]), false),
            ("app.version", SemverLt, json!(["2.10.0"]), true),
            ("app.version", SemverLt, json!(["2.4.1"]), false),
            ("app.version", SemverLte, json!(["2.4.1+build.7"]), true),
            ("app.version", SemverLte, json!(["2.4.1-rc.1"]), false),
            ("version", SemverLt, json!(["2.4.0"]), true),
            ("version", SemverGt, json!(["2.4.0-rc.1"]), true),
            ("country", SemverGt, json!(["0.0.1"]), false),
            ("age", SemverGt, json!(["0.0.1"]), false),
            // exists
            ("plan", Exists, json!([]), true),
            ("gone", Exists, json!([]), false),
            ("nope", Exists, json!([]), false),
            ("app.build.channel", Exists, json!([]), true),
            ("targetingKey", Exists, json!([]), true),
            // lookup: targeting key, nested paths, a flat name with a dot
            ("targetingKey", Equals, json!(["user-42"]), true),
            ("targetingKey", StartsWith, json!(["admin-"]), false),
            ("app.build.channel", In, json!(["nightly"]), true),
            ("app.build", Equals, json!(["nightly"]), false),
            ("app.flat", Equals, json!(["dotted-name"]), true),
            ("app.version.major", Exists, json!([]), false),
            // missing and null: false for every op but exists, negated ones included
            ("nope", NotEquals, json!(["x"]), false),
            ("nope", NotIn, json!(["x"]), false),
            ("gone", NotEquals, json!(["x"]), false),
            ("nope", Lt, json!([1]), false),
        ];
        let ctx = ctx();
        for (attribute, op, values, expected) in cases {
            let c = condition(attribute, *op, values.clone());
            let compiled = compile_condition(&c).unwrap_or_else(|e| panic!("{attribute} {op} {values}: {e}"));
            assert_eq!(compiled.matches(&ctx), *expected, "{attribute} {op} {values}");
        }
    }

    #[test]
    fn targeting_key_absent() {
        let c = compile_condition(&condition("targetingKey", Op::Exists, json!([]))).unwrap();
        assert!(!c.matches(&Context::new()));
        let c = compile_condition(&condition("targetingKey", Op::NotEquals, json!(["x"]))).unwrap();
        assert!(!c.matches(&Context::new()));
    }

    #[test]
    fn unusable_values() {
        use ConditionProblem as P;
        use Op::*;
        let count = |op, expected, actual| P::ValueCount { op, expected, actual };
        let kind = |op, index, expected, actual| P::ValueType { op, index, expected, actual };
        let cases: Vec<(&str, Op, serde_json::Value, ConditionProblem)> = vec![
            ("", Equals, json!(["x"]), P::EmptyAttribute),
            ("a", Equals, json!([]), count(Equals, Arity::ExactlyOne, 0)),
            ("a", Equals, json!(["x", "y"]), count(Equals, Arity::ExactlyOne, 2)),
            ("a", NotEquals, json!([]), count(NotEquals, Arity::ExactlyOne, 0)),
            ("a", In, json!([]), count(In, Arity::AtLeastOne, 0)),
            ("a", NotIn, json!([]), count(NotIn, Arity::AtLeastOne, 0)),
            ("a", StartsWith, json!([]), count(StartsWith, Arity::AtLeastOne, 0)),
            ("a", Gt, json!([1, 2]), count(Gt, Arity::ExactlyOne, 2)),
            ("a", SemverEq, json!([]), count(SemverEq, Arity::ExactlyOne, 0)),
            ("a", Exists, json!([true]), count(Exists, Arity::None, 1)),
            ("a", Equals, json!([null]), kind(Equals, 0, "a string, number or boolean", "null")),
            ("a", In, json!(["x", {"y": 1}]), kind(In, 1, "a string, number or boolean", "an object")),
            ("a", NotIn, json!([["x"]]), kind(NotIn, 0, "a string, number or boolean", "an array")),
            ("a", StartsWith, json!(["x", 1]), kind(StartsWith, 1, "a string", "a number")),
            ("a", EndsWith, json!([true]), kind(EndsWith, 0, "a string", "a boolean")),
            ("a", Contains, json!([null]), kind(Contains, 0, "a string", "null")),
            ("a", Gt, json!(["10"]), kind(Gt, 0, "a number", "a string")),
            ("a", Gte, json!([true]), kind(Gte, 0, "a number", "a boolean")),
            ("a", Lt, json!([null]), kind(Lt, 0, "a number", "null")),
            ("a", Lte, json!([[1]]), kind(Lte, 0, "a number", "an array")),
            ("a", SemverGt, json!([2]), kind(SemverGt, 0, "a version string", "a number")),
            ("a", SemverLt, json!(["latest"]), P::NotASemver { op: SemverLt, value: "latest".into() }),
            ("a", SemverGte, json!(["1.2.3.4"]), P::NotASemver { op: SemverGte, value: "1.2.3.4".into() }),
        ];
        for (attribute, op, values, expected) in cases {
            let c = condition(attribute, op, values.clone());
            assert_eq!(compile_condition(&c).unwrap_err(), expected, "{attribute:?} {op} {values}");
        }
    }
}
