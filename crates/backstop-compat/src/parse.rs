//! Reading contract documents: YAML through `serde_yaml`, JSON through `serde_json`, into one
//! `serde_json::Value`, within bounds, every `$ref` local and resolvable.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The largest document read, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 4 * 1024 * 1024;
/// The deepest nesting of objects and arrays a document may have.
pub const MAX_DEPTH: usize = 96;
/// The most message documents one revision may ship.
pub const MAX_MESSAGES: usize = 512;
/// The longest chain of `$ref`s followed to reach a schema.
pub const MAX_REF_HOPS: usize = 32;

/// Why a contract document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompatError {
    #[error("{name} is {bytes} bytes, over the limit of {limit}")]
    TooLarge { name: String, bytes: usize, limit: usize },
    #[error("{name} nests deeper than {limit} levels")]
    TooDeep { name: String, limit: usize },
    #[error("{count} message documents, over the limit of {limit}")]
    TooManyMessages { count: usize, limit: usize },
    #[error("{name} does not parse as {format}: {message}")]
    Syntax { name: String, format: &'static str, message: String },
    #[error("{name} is not an OpenAPI 3.x description (openapi: {found})")]
    NotOpenApi { name: String, found: String },
    #[error("{name} is not a JSON Schema object")]
    NotASchema { name: String },
    #[error("{name}: `$ref` {reference} at {at} points outside the document")]
    ExternalRef { name: String, reference: String, at: String },
    #[error("{name}: `$ref` {reference} at {at} does not resolve")]
    BadRef { name: String, reference: String, at: String },
    #[error("{name}: `$ref` {reference} at {at} only leads to more references")]
    RefCycle { name: String, reference: String, at: String },
    #[error("message name `{name}` is not usable")]
    BadMessageName { name: String },
    #[error("message `{name}` is listed twice as {role}")]
    DuplicateMessage { name: String, role: &'static str },
}

impl CompatError {
    /// What to do instead, for a person.
    pub fn hint(&self) -> String {
        match self {
            CompatError::TooLarge { .. } => format!("split the document; one is at most {MAX_DOCUMENT_BYTES} bytes"),
            CompatError::TooDeep { .. } => {
                format!("flatten it with `$ref`s to named schemas; nesting is at most {MAX_DEPTH} levels")
            }
            CompatError::TooManyMessages { .. } => format!("a revision ships at most {MAX_MESSAGES} message schemas"),
            CompatError::Syntax { .. } => "fix the document at the place named".into(),
            CompatError::NotOpenApi { .. } => {
                "--api takes an OpenAPI 3.0 or 3.1 document (`openapi: 3.0.3`); convert a Swagger 2.0 one first".into()
            }
            CompatError::NotASchema { .. } => "each message document is one JSON Schema object".into(),
            CompatError::ExternalRef { .. } => {
                "bundle the document so every `$ref` is local (`#/components/...`, `#/$defs/...`)".into()
            }
            CompatError::BadRef { .. } | CompatError::RefCycle { .. } => {
                "point the `$ref` at a schema defined in the same document".into()
            }
            CompatError::BadMessageName { .. } => {
                "name message files NAME.json or NAME.yaml with letters, digits, `.`, `_` or `-`".into()
            }
            CompatError::DuplicateMessage { .. } => "keep one document per message and role".into(),
        }
    }
}

/// Whether a revision writes or reads a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Produces,
    Consumes,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Produces => "produces",
            Role::Consumes => "consumes",
        }
    }
}

/// One message document as shipped: `produces/NAME.json` or `consumes/NAME.json`.
#[derive(Debug, Clone, Copy)]
pub struct MessageDocument<'a> {
    pub role: Role,
    /// The message's name (the file's stem).
    pub name: &'a str,
    pub text: &'a str,
}

/// A revision's contracts, read and checked, as the store keeps them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Contracts {
    /// The OpenAPI description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<Value>,
    /// JSON Schemas of the messages the revision writes, by name.
    #[serde(default)]
    pub produces: BTreeMap<String, Value>,
    /// JSON Schemas of the messages the revision reads, by name.
    #[serde(default)]
    pub consumes: BTreeMap<String, Value>,
}

impl Contracts {
    /// Read an OpenAPI description (`(name, text)`) and message documents.
    pub fn parse(api: Option<(&str, &str)>, messages: &[MessageDocument<'_>]) -> Result<Contracts, CompatError> {
        if messages.len() > MAX_MESSAGES {
            return Err(CompatError::TooManyMessages { count: messages.len(), limit: MAX_MESSAGES });
        }
        let api = match api {
            Some((name, text)) => {
                let doc = parse_document(name, text)?;
                let version = doc.get("openapi").and_then(Value::as_str).unwrap_or("");
                if !version.starts_with("3.") {
                    let found = if version.is_empty() { "missing".to_owned() } else { version.to_owned() };
                    return Err(CompatError::NotOpenApi { name: name.to_owned(), found });
                }
                Some(doc)
            }
            None => None,
        };
        let mut contracts = Contracts { api, ..Contracts::default() };
        for m in messages {
            if !usable_name(m.name) {
                return Err(CompatError::BadMessageName { name: m.name.to_owned() });
            }
            let shown = format!("{}/{}", m.role.as_str(), m.name);
            let doc = parse_document(&shown, m.text)?;
            if !doc.is_object() {
                return Err(CompatError::NotASchema { name: shown });
            }
            let map = match m.role {
                Role::Produces => &mut contracts.produces,
                Role::Consumes => &mut contracts.consumes,
            };
            if map.insert(m.name.to_owned(), doc).is_some() {
                return Err(CompatError::DuplicateMessage { name: m.name.to_owned(), role: m.role.as_str() });
            }
        }
        Ok(contracts)
    }

    pub fn is_empty(&self) -> bool {
        self.api.is_none() && self.produces.is_empty() && self.consumes.is_empty()
    }
}

fn usable_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Read one document (JSON when its name ends `.json` or it starts with `{`, YAML otherwise),
/// within the bounds, with every `$ref` local and resolvable.
pub fn parse_document(name: &str, text: &str) -> Result<Value, CompatError> {
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(CompatError::TooLarge { name: name.to_owned(), bytes: text.len(), limit: MAX_DOCUMENT_BYTES });
    }
    let too_deep = || CompatError::TooDeep { name: name.to_owned(), limit: MAX_DEPTH };
    let json = name.ends_with(".json") || text.trim_start().starts_with('{');
    let value = if json {
        serde_json::from_str::<Value>(text).map_err(|e| {
            if e.to_string().starts_with("recursion limit exceeded") {
                too_deep()
            } else {
                CompatError::Syntax { name: name.to_owned(), format: "JSON", message: e.to_string() }
            }
        })?
    } else {
        let yaml = serde_yaml::from_str::<serde_yaml::Value>(text).map_err(|e| {
            if e.to_string().contains("recursion limit exceeded") {
                too_deep()
            } else {
                CompatError::Syntax { name: name.to_owned(), format: "YAML", message: e.to_string() }
            }
        })?;
        from_yaml(yaml, 0).ok_or_else(too_deep)?
    };
    if depth(&value) > MAX_DEPTH {
        return Err(too_deep());
    }
    check_refs(name, &value, &value, &mut String::new())?;
    Ok(value)
}

/// YAML into JSON: scalar keys become strings (`200:` is the key "200"), tags are dropped.
/// `None` past the depth bound.
fn from_yaml(v: serde_yaml::Value, level: usize) -> Option<Value> {
    if level > MAX_DEPTH {
        return None;
    }
    Some(match v {
        serde_yaml::Value::Null => Value::Null,
        serde_yaml::Value::Bool(b) => Value::Bool(b),
        serde_yaml::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64().and_then(serde_json::Number::from_f64).map(Value::Number).unwrap_or(Value::Null)
            }
        }
        serde_yaml::Value::String(s) => Value::String(s),
        serde_yaml::Value::Sequence(items) => {
            Value::Array(items.into_iter().map(|i| from_yaml(i, level + 1)).collect::<Option<_>>()?)
        }
        serde_yaml::Value::Mapping(map) => {
            let mut out = serde_json::Map::new();
            for (k, v) in map {
                let key = match k {
                    serde_yaml::Value::String(s) => s,
                    serde_yaml::Value::Number(n) => n.to_string(),
                    serde_yaml::Value::Bool(b) => b.to_string(),
                    serde_yaml::Value::Null => "null".to_owned(),
                    // A collection as a key has no JSON counterpart; keep it out of reach.
                    _ => continue,
                };
                out.insert(key, from_yaml(v, level + 1)?);
            }
            Value::Object(out)
        }
        serde_yaml::Value::Tagged(t) => from_yaml(t.value, level)?,
    })
}

fn depth(v: &Value) -> usize {
    // Iterative, so a document at the bound never costs stack.
    let mut deepest = 0;
    let mut stack = vec![(v, 0usize)];
    while let Some((v, d)) = stack.pop() {
        deepest = deepest.max(d);
        match v {
            Value::Array(items) => stack.extend(items.iter().map(|i| (i, d + 1))),
            Value::Object(map) => stack.extend(map.values().map(|i| (i, d + 1))),
            _ => {}
        }
    }
    deepest
}

fn check_refs(name: &str, root: &Value, v: &Value, at: &mut String) -> Result<(), CompatError> {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                resolve_ref(root, reference).map_err(|kind| {
                    let (name, reference, at) = (name.to_owned(), reference.clone(), at.clone());
                    match kind {
                        RefProblem::External => CompatError::ExternalRef { name, reference, at },
                        RefProblem::Missing => CompatError::BadRef { name, reference, at },
                        RefProblem::Cycle => CompatError::RefCycle { name, reference, at },
                    }
                })?;
            }
            for (k, child) in map {
                let len = at.len();
                at.push('/');
                at.push_str(&crate::finding::escape(k));
                check_refs(name, root, child, at)?;
                at.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let len = at.len();
                at.push_str(&format!("/{i}"));
                check_refs(name, root, child, at)?;
                at.truncate(len);
            }
        }
        _ => {}
    }
    Ok(())
}

pub(crate) enum RefProblem {
    External,
    Missing,
    Cycle,
}

/// Follow `$ref` from `reference` until a value that is not itself only a reference.
pub(crate) fn resolve_ref<'a>(root: &'a Value, reference: &str) -> Result<&'a Value, RefProblem> {
    let mut reference = reference.to_owned();
    for _ in 0..MAX_REF_HOPS {
        let Some(pointer) = reference.strip_prefix('#') else {
            return Err(RefProblem::External);
        };
        let pointer = percent_decode(pointer);
        let target = root.pointer(&pointer).ok_or(RefProblem::Missing)?;
        match target.get("$ref").and_then(Value::as_str) {
            Some(next) => reference = next.to_owned(),
            None => return Ok(target),
        }
    }
    Err(RefProblem::Cycle)
}

/// A URI fragment's `%XX` escapes decoded (`#/paths/~1a%7Bid%7D`); anything else kept.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_owned())
}

/// The schema a value stands for: itself, or what its `$ref` leads to (a reference that does
/// not resolve, which parsing refuses, stands for itself).
pub(crate) fn deref<'a>(root: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => resolve_ref(root, r).unwrap_or(v),
        None => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_refs_table() {
        let deep_json = format!("{}{}", "[".repeat(MAX_DEPTH + 2), "]".repeat(MAX_DEPTH + 2));
        let deep_yaml = format!("{}x", "- ".repeat(MAX_DEPTH + 2));
        let big = format!("{{\"a\": \"{}\"}}", "x".repeat(MAX_DOCUMENT_BYTES));
        let cases: &[(&str, &str, &str, Option<&str>)] = &[
            ("json object", "m.json", r#"{"type":"object"}"#, None),
            ("yaml object", "m.yaml", "type: object\n", None),
            ("yaml integer keys", "m.yaml", "200:\n  a: 1\n", None),
            ("json syntax", "m.json", "{", Some("does not parse as JSON")),
            ("yaml syntax", "m.yaml", "a: [", Some("does not parse as YAML")),
            ("too large", "m.json", &big, Some("over the limit")),
            ("too deep json", "m.json", &deep_json, Some("nests deeper")),
            ("too deep yaml", "m.yaml", &deep_yaml, Some("nests deeper")),
            (
                "local ref",
                "m.json",
                r##"{"$defs":{"a":{"type":"string"}},"properties":{"x":{"$ref":"#/$defs/a"}}}"##,
                None,
            ),
            (
                "external ref",
                "m.json",
                r#"{"properties":{"x":{"$ref":"other.json#/a"}}}"#,
                Some("outside the document"),
            ),
            ("missing ref", "m.json", r##"{"properties":{"x":{"$ref":"#/$defs/none"}}}"##, Some("does not resolve")),
            (
                "ref loop",
                "m.json",
                r##"{"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"$ref":"#/$defs/a"}}}"##,
                Some("only leads to more references"),
            ),
            (
                "recursive schema is fine",
                "m.json",
                r##"{"$defs":{"n":{"type":"object","properties":{"next":{"$ref":"#/$defs/n"}}}},"$ref":"#/$defs/n"}"##,
                None,
            ),
        ];
        for (label, name, text, want) in cases {
            let got = parse_document(name, text);
            match (want, got) {
                (None, Ok(_)) => {}
                (Some(w), Err(e)) => assert!(e.to_string().contains(w), "{label}: {e}"),
                (w, g) => panic!("{label}: want {w:?}, got {g:?}"),
            }
        }
    }

    #[test]
    fn contracts_refuse_what_is_not_theirs() {
        let msg = |name| MessageDocument { role: Role::Produces, name, text: "{}" };
        assert!(matches!(
            Contracts::parse(Some(("a.yaml", "swagger: '2.0'\n")), &[]),
            Err(CompatError::NotOpenApi { .. })
        ));
        assert!(Contracts::parse(Some(("a.yaml", "openapi: 3.1.0\npaths: {}\n")), &[]).is_ok());
        assert!(matches!(Contracts::parse(None, &[msg("../x")]), Err(CompatError::BadMessageName { .. })));
        assert!(matches!(Contracts::parse(None, &[msg("a"), msg("a")]), Err(CompatError::DuplicateMessage { .. })));
        let many: Vec<_> = (0..=MAX_MESSAGES).map(|_| msg("a")).collect();
        assert!(matches!(Contracts::parse(None, &many), Err(CompatError::TooManyMessages { .. })));
        let arr = MessageDocument { role: Role::Consumes, name: "a", text: "[1]" };
        assert!(matches!(Contracts::parse(None, &[arr]), Err(CompatError::NotASchema { .. })));
        let all = [
            CompatError::TooLarge { name: "x".into(), bytes: 2, limit: 1 },
            CompatError::TooDeep { name: "x".into(), limit: 1 },
            CompatError::NotOpenApi { name: "x".into(), found: "2.0".into() },
            CompatError::ExternalRef { name: "x".into(), reference: "y".into(), at: "/".into() },
        ];
        for e in all {
            assert!(!e.hint().is_empty());
        }
    }
}
