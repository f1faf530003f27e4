//! The flag model: what a flag is in JSON on the wire, in the store and in files.
//!
//! These types are plain data and accept anything well-formed; [`crate::compile`]
//! is what decides whether a flag makes sense. Reading is strict about shape:
//! an unknown field is an error naming it (`unknown field `condition``), so a
//! misspelled key never silently becomes a default, and a rule's `conditions`
//! must be written out (`[]` is the explicit "everyone").

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// One feature flag as it is stored and sent (snake_case JSON fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flag {
    /// 1-128 characters of `A-Z`, `a-z`, `0-9`, `.`, `_`, `-` (see [`crate::validate_key`]).
    pub key: String,
    #[serde(default)]
    pub description: String,
    /// `false` serves [`Flag::off_variant`] to everyone with reason `DISABLED`.
    pub enabled: bool,
    /// Variant name to value; all values of one flag have the same [`FlagType`].
    pub variants: BTreeMap<String, Value>,
    /// Served when enabled and no rule matches.
    pub default_variant: String,
    /// Served when disabled.
    pub off_variant: String,
    /// Tried in order; the first rule whose conditions all hold decides.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// Bumped by the store on every change.
    pub version: u64,
}

/// A variant's value. Untagged in JSON: `true`, `"blue"`, `3`, `0.25`, `{"limit": 10}`.
///
/// JSON has one number type, so `2` reads as [`Value::Int`]; a flag whose variants
/// mix integers and floats is a float flag and [`crate::compile`] widens its integers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Bool(bool),
    String(String),
    Int(i64),
    Float(f64),
    Object(serde_json::Map<String, serde_json::Value>),
}

/// The type of a flag: the type shared by all its variants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlagType {
    Boolean,
    String,
    Integer,
    Float,
    Object,
}

/// A targeting rule: when every condition holds, serve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// A label for people ("beta testers", "kill for EU"); evaluation ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// All must hold; an empty list always holds. Required in JSON: a rule
    /// for everyone says `"conditions": []`, so a misspelled or forgotten key
    /// cannot widen a rule to everyone.
    pub conditions: Vec<Condition>,
    pub serve: Serve,
}

/// What a matching rule serves.
///
/// JSON: `{"variant": "off"}` or
/// `{"rollout": [{"variant": "on", "weight": 10}, {"variant": "off", "weight": 90}]}`.
///
/// Reading names an unknown field and refuses both or neither of the two.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "serve_json::ServeFields")]
pub enum Serve {
    Variant(String),
    /// `(variant, weight in percent)`, weights summing to 100. Sticky per targeting
    /// key; order matters: see [`mod@crate::bucket`].
    #[serde(serialize_with = "rollout_json::serialize")]
    Rollout(Vec<(String, u32)>),
}

/// One test of the context: `attribute op values`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// An attribute name, `targetingKey` for the targeting key, or a dotted path
    /// (`device.os`) into nested objects when no attribute has the whole name.
    pub attribute: String,
    pub op: Op,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<serde_json::Value>,
}

/// Condition operators (snake_case in JSON). The exact semantics, including what
/// happens with a missing attribute or one of the wrong kind, are in the
/// `condition` module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Equals,
    NotEquals,
    In,
    NotIn,
    StartsWith,
    EndsWith,
    Contains,
    Gt,
    Gte,
    Lt,
    Lte,
    SemverEq,
    SemverGt,
    SemverGte,
    SemverLt,
    SemverLte,
    Exists,
}

impl Value {
    pub fn flag_type(&self) -> FlagType {
        match self {
            Value::Bool(_) => FlagType::Boolean,
            Value::String(_) => FlagType::String,
            Value::Int(_) => FlagType::Integer,
            Value::Float(_) => FlagType::Float,
            Value::Object(_) => FlagType::Object,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        if let Value::Bool(b) = self { Some(*b) } else { None }
    }

    pub fn as_str(&self) -> Option<&str> {
        if let Value::String(s) = self { Some(s) } else { None }
    }

    pub fn as_int(&self) -> Option<i64> {
        if let Value::Int(i) = self { Some(*i) } else { None }
    }

    pub fn as_float(&self) -> Option<f64> {
        if let Value::Float(f) = self { Some(*f) } else { None }
    }

    pub fn as_object(&self) -> Option<&serde_json::Map<String, serde_json::Value>> {
        if let Value::Object(o) = self { Some(o) } else { None }
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}

impl FlagType {
    pub fn as_str(self) -> &'static str {
        match self {
            FlagType::Boolean => "boolean",
            FlagType::String => "string",
            FlagType::Integer => "integer",
            FlagType::Float => "float",
            FlagType::Object => "object",
        }
    }
}

impl fmt::Display for FlagType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Op {
    /// The name used in JSON and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Equals => "equals",
            Op::NotEquals => "not_equals",
            Op::In => "in",
            Op::NotIn => "not_in",
            Op::StartsWith => "starts_with",
            Op::EndsWith => "ends_with",
            Op::Contains => "contains",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::SemverEq => "semver_eq",
            Op::SemverGt => "semver_gt",
            Op::SemverGte => "semver_gte",
            Op::SemverLt => "semver_lt",
            Op::SemverLte => "semver_lte",
            Op::Exists => "exists",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `serve` as read: the two keys as optional fields, so that an unknown key is
/// named and "both" or "neither" get a message of their own.
mod serve_json {
    use serde::Deserialize;

    use super::Serve;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct ServeFields {
        #[serde(default)]
        variant: Option<String>,
        #[serde(default, with = "super::rollout_json::optional")]
        rollout: Option<Vec<(String, u32)>>,
    }

    impl TryFrom<ServeFields> for Serve {
        type Error = &'static str;
        fn try_from(fields: ServeFields) -> Result<Self, Self::Error> {
            match (fields.variant, fields.rollout) {
                (Some(variant), None) => Ok(Serve::Variant(variant)),
                (None, Some(slices)) => Ok(Serve::Rollout(slices)),
                (Some(_), Some(_)) => Err("`serve` takes `variant` or `rollout`, not both"),
                (None, None) => Err("`serve` needs `variant` or `rollout`"),
            }
        }
    }
}

/// A rollout is `Vec<(String, u32)>` in Rust and a list of
/// `{"variant": .., "weight": ..}` objects in JSON, which reads better in a file.
mod rollout_json {
    use serde::{Deserialize, Serialize, Serializer};

    #[derive(Serialize)]
    struct SliceRef<'a> {
        variant: &'a str,
        weight: u32,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Slice {
        variant: String,
        weight: u32,
    }

    pub(super) fn serialize<S: Serializer>(slices: &[(String, u32)], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(slices.iter().map(|(variant, weight)| SliceRef { variant, weight: *weight }))
    }

    /// Reading, as the optional field of `serve_json`.
    pub(super) mod optional {
        use serde::{Deserialize, Deserializer};

        pub(in super::super) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<Vec<(String, u32)>>, D::Error> {
            let slices = Option::<Vec<super::Slice>>::deserialize(d)?;
            Ok(slices.map(|slices| slices.into_iter().map(|s| (s.variant, s.weight)).collect()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_read_untagged_with_their_type() {
        let cases = [
            (json!(true), FlagType::Boolean),
            (json!("blue"), FlagType::String),
            (json!(3), FlagType::Integer),
            (json!(-3), FlagType::Integer),
            (json!(0.25), FlagType::Float),
            (json!(2.0), FlagType::Float),
            (json!(u64::MAX), FlagType::Float),
            (json!({"limit": 10}), FlagType::Object),
        ];
        for (json, ty) in cases {
            let value: Value = serde_json::from_value(json.clone()).unwrap();
            assert_eq!(value.flag_type(), ty, "{json}");
        }
    }

    #[test]
    fn null_and_arrays_are_not_values() {
        for json in [json!(null), json!([1, 2])] {
            assert!(serde_json::from_value::<Value>(json.clone()).is_err(), "{json}");
        }
    }

    #[test]
    fn serve_json_shapes() {
        let variant = Serve::Variant("off".into());
        assert_eq!(serde_json::to_value(&variant).unwrap(), json!({"variant": "off"}));
        let rollout = Serve::Rollout(vec![("on".into(), 10), ("off".into(), 90)]);
        let json = json!({"rollout": [{"variant": "on", "weight": 10}, {"variant": "off", "weight": 90}]});
        assert_eq!(serde_json::to_value(&rollout).unwrap(), json);
        assert_eq!(serde_json::from_value::<Serve>(json).unwrap(), rollout);
    }

    #[test]
    fn serve_takes_one_of_two() {
        let both = json!({"variant": "on", "rollout": [{"variant": "on", "weight": 100}]});
        let err = serde_json::from_value::<Serve>(both).unwrap_err().to_string();
        assert!(err.contains("not both"), "{err}");
        let err = serde_json::from_value::<Serve>(json!({})).unwrap_err().to_string();
        assert!(err.contains("needs `variant` or `rollout`"), "{err}");
    }

    #[test]
    fn rollout_slices_reject_unknown_fields() {
        let json = json!({"rollout": [{"variant": "on", "weight": 10, "wieght": 90}]});
        assert!(serde_json::from_value::<Serve>(json).is_err());
    }

    fn flag_json() -> serde_json::Value {
        json!({"key": "k", "enabled": true, "variants": {"on": true, "off": false},
               "default_variant": "off", "off_variant": "off", "version": 1,
               "rules": [{"conditions": [{"attribute": "country", "op": "equals", "values": ["DE"]}],
                          "serve": {"variant": "on"}}]})
    }

    /// A rule written with `condition` (singular) was read as a rule with no
    /// conditions, and "Germany only" served everyone.
    #[test]
    fn misspelled_rule_key_is_refused_not_a_rule_for_everyone() {
        let mut json = flag_json();
        let rule = json["rules"][0].as_object_mut().unwrap();
        let conditions = rule.remove("conditions").unwrap();
        rule.insert("condition".into(), conditions);
        let err = serde_json::from_value::<Flag>(json).unwrap_err().to_string();
        assert!(err.contains("unknown field `condition`"), "{err}");
    }

    #[test]
    fn unknown_fields_are_refused_naming_them() {
        type Edit = fn(&mut serde_json::Value);
        let cases: [(&str, Edit); 4] = [
            ("enabeld", |j| j["enabeld"] = json!(false)),
            ("weight", |j| j["rules"][0]["weight"] = json!(10)),
            ("value", |j| j["rules"][0]["conditions"][0]["value"] = json!("DE")),
            ("variant2", |j| j["rules"][0]["serve"]["variant2"] = json!("on")),
        ];
        assert!(serde_json::from_value::<Flag>(flag_json()).is_ok());
        for (field, edit) in cases {
            let mut json = flag_json();
            edit(&mut json);
            let err = serde_json::from_value::<Flag>(json).unwrap_err().to_string();
            assert!(err.contains(&format!("unknown field `{field}`")), "{field}: {err}");
        }
    }

    #[test]
    fn a_rule_without_conditions_must_say_so() {
        let mut json = flag_json();
        json["rules"][0].as_object_mut().unwrap().remove("conditions");
        let err = serde_json::from_value::<Flag>(json.clone()).unwrap_err().to_string();
        assert!(err.contains("missing field `conditions`"), "{err}");
        json["rules"][0]["conditions"] = json!([]);
        let flag: Flag = serde_json::from_value(json).unwrap();
        assert!(flag.rules[0].conditions.is_empty());
    }

    #[test]
    fn op_names_match_json() {
        let ops = [
            Op::Equals,
            Op::NotEquals,
            Op::In,
            Op::NotIn,
            Op::StartsWith,
            Op::EndsWith,
            Op::Contains,
            Op::Gt,
            Op::Gte,
            Op::Lt,
            Op::Lte,
            Op::SemverEq,
            Op::SemverGt,
            Op::SemverGte,
            Op::SemverLt,
            Op::SemverLte,
            Op::Exists,
        ];
        for op in ops {
            assert_eq!(serde_json::to_value(op).unwrap(), json!(op.as_str()));
            assert_eq!(serde_json::from_value::<Op>(json!(op.to_string())).unwrap(), op);
        }
    }
}
