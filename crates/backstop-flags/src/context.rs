//! The evaluation context: who is asking (the targeting key) and what is known about them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{EvalError, json_kind};

/// The OFREP / OpenFeature name of the targeting key, inside a context object and
/// as a condition attribute.
pub const TARGETING_KEY: &str = "targetingKey";

/// What a flag is evaluated against.
///
/// Conditions read attributes by name; the attribute `targetingKey` is
/// [`Context::targeting_key`] (an entry named `targetingKey` in `attributes` is
/// not consulted). A JSON `null` attribute counts as missing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Context {
    /// Identifies the subject (user, session, tenant) for sticky rollouts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targeting_key: Option<String>,
    #[serde(default)]
    pub attributes: BTreeMap<String, serde_json::Value>,
}

impl Context {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_targeting_key(mut self, key: impl Into<String>) -> Self {
        self.targeting_key = Some(key.into());
        self
    }

    pub fn with_attribute(mut self, name: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        self.attributes.insert(name.into(), value.into());
        self
    }

    /// A context from an OFREP request's flat `context` object, where the targeting
    /// key is the `targetingKey` entry. A `targetingKey` that is neither a string
    /// nor null is [`EvalError::InvalidContext`].
    pub fn from_ofrep(mut context: serde_json::Map<String, serde_json::Value>) -> Result<Self, EvalError> {
        let targeting_key = match context.remove(TARGETING_KEY) {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(key)) => Some(key),
            Some(other) => {
                return Err(EvalError::InvalidContext {
                    attribute: TARGETING_KEY.to_owned(),
                    expected: "a string",
                    actual: json_kind(&other),
                });
            }
        };
        Ok(Context { targeting_key, attributes: context.into_iter().collect() })
    }

    /// The flat OFREP form of this context, the inverse of [`Context::from_ofrep`].
    pub fn to_ofrep(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut map: serde_json::Map<_, _> = self.attributes.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        if let Some(key) = &self.targeting_key {
            map.insert(TARGETING_KEY.to_owned(), serde_json::Value::String(key.clone()));
        }
        map
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn ofrep_context_splits_out_the_targeting_key() {
        let ctx = Context::from_ofrep(object(json!({"targetingKey": "user-1", "plan": "pro"}))).unwrap();
        assert_eq!(ctx, Context::new().with_targeting_key("user-1").with_attribute("plan", "pro"));
        assert_eq!(Context::from_ofrep(ctx.to_ofrep()).unwrap(), ctx);
    }

    #[test]
    fn ofrep_context_targeting_key_kinds() {
        let cases = [
            (json!({}), Ok(None)),
            (json!({"targetingKey": null}), Ok(None)),
            (json!({"targetingKey": "u"}), Ok(Some("u".to_owned()))),
            (json!({"targetingKey": 7}), Err("a number")),
            (json!({"targetingKey": ["u"]}), Err("an array")),
        ];
        for (json, expected) in cases {
            let got = Context::from_ofrep(object(json.clone()));
            match expected {
                Ok(key) => assert_eq!(got.unwrap().targeting_key, key, "{json}"),
                Err(actual) => assert_eq!(
                    got.unwrap_err(),
                    EvalError::InvalidContext { attribute: "targetingKey".into(), expected: "a string", actual },
                    "{json}"
                ),
            }
        }
    }

    #[test]
    fn serde_shape() {
        let ctx = Context::new().with_targeting_key("u").with_attribute("n", 1);
        let json = json!({"targeting_key": "u", "attributes": {"n": 1}});
        assert_eq!(serde_json::to_value(&ctx).unwrap(), json);
        assert_eq!(serde_json::from_value::<Context>(json).unwrap(), ctx);
        assert_eq!(serde_json::from_value::<Context>(json!({})).unwrap(), Context::new());
    }
}
