//! The evaluation context: who is asking (the targeting key) and what is known about them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{EvalError, json_kind};
use crate::limits::{MAX_CONTEXT_BYTES, MAX_DEPTH, depth_exceeds};

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

    /// The context of an OFREP evaluation request body, read strictly and
    /// within bounds: `{"context": {...}}`, where an empty body, `{}` or a
    /// `null` context is the empty context.
    ///
    /// Refused, as [`EvalError::Parse`]: a body over [`MAX_CONTEXT_BYTES`],
    /// one that is not JSON or not an object, a field other than `context`,
    /// and an attribute nesting deeper than [`MAX_DEPTH`]. A `context` that is
    /// not an object is [`EvalError::ContextNotAnObject`]; a bad
    /// `targetingKey` is [`EvalError::InvalidContext`].
    pub fn from_ofrep_body(body: &[u8]) -> Result<Self, EvalError> {
        if body.len() > MAX_CONTEXT_BYTES {
            return Err(EvalError::Parse { detail: format!("the request body is over {MAX_CONTEXT_BYTES} bytes") });
        }
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Context::new());
        }
        let parsed: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| EvalError::Parse { detail: format!("the request body is not JSON: {e}") })?;
        let serde_json::Value::Object(mut fields) = parsed else {
            return Err(EvalError::Parse {
                detail: format!(
                    "the request body must be a JSON object {{\"context\": {{...}}}}, got {}",
                    json_kind(&parsed)
                ),
            });
        };
        let context = fields.remove("context").unwrap_or_default();
        if let Some(field) = fields.keys().next() {
            return Err(EvalError::Parse {
                detail: format!("unknown field `{field}` in the request body, expected `context`"),
            });
        }
        let context = match context {
            serde_json::Value::Null => return Ok(Context::new()),
            serde_json::Value::Object(context) => context,
            other => return Err(EvalError::ContextNotAnObject { actual: json_kind(&other) }),
        };
        if let Some((name, _)) = context.iter().find(|(_, v)| depth_exceeds(v, MAX_DEPTH)) {
            return Err(EvalError::Parse {
                detail: format!("context attribute `{name}` nests objects and arrays deeper than {MAX_DEPTH} levels"),
            });
        }
        Context::from_ofrep(context)
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
    fn ofrep_bodies() {
        let deep = format!("{{\"context\": {{\"a\": {}1{}}}}}", "[".repeat(33), "]".repeat(33));
        let ok_deep = format!("{{\"context\": {{\"a\": {}1{}}}}}", "[".repeat(32), "]".repeat(32));
        let big = format!("{{\"context\": {{\"a\": \"{}\"}}}}", "x".repeat(MAX_CONTEXT_BYTES));
        let ok = |body: &str| Context::from_ofrep_body(body.as_bytes());
        let code = |body: &str| ok(body).map(|_| ()).unwrap_err().code();
        assert_eq!(ok("").unwrap(), Context::new());
        assert_eq!(ok(" \n").unwrap(), Context::new());
        assert_eq!(ok("{}").unwrap(), Context::new());
        assert_eq!(ok(r#"{"context": null}"#).unwrap(), Context::new());
        assert_eq!(
            ok(r#"{"context": {"targetingKey": "u", "plan": "pro"}}"#).unwrap(),
            Context::new().with_targeting_key("u").with_attribute("plan", "pro")
        );
        assert!(ok(&ok_deep).is_ok());
        let cases = [
            ("not json", "PARSE_ERROR"),
            ("[]", "PARSE_ERROR"),
            (r#"{"contexts": {}}"#, "PARSE_ERROR"),
            (r#"{"context": []}"#, "INVALID_CONTEXT"),
            (r#"{"context": {"targetingKey": 1}}"#, "INVALID_CONTEXT"),
            (&deep, "PARSE_ERROR"),
            (&big, "PARSE_ERROR"),
        ];
        for (body, expected) in cases {
            assert_eq!(code(body), expected, "{}", &body[..body.len().min(60)]);
        }
        let err = ok(r#"{"contexts": {}}"#).unwrap_err().to_string();
        assert!(err.contains("unknown field `contexts`"), "{err}");
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
