//! A snapshot: every flag of an environment at one version, for bulk evaluation and caching.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::compile::CompiledFlag;
use crate::context::Context;
use crate::error::EvalError;
use crate::eval::{Evaluation, evaluate};

/// All flags at one store version, keyed by flag key.
///
/// JSON: `{"version": 12, "flags": {"new-checkout": {<flag>}, ...}}`; reading it
/// compiles (validates) every flag. Build it with [`Snapshot::new`] so map keys
/// and flag keys agree; lookups go by map key.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Snapshot {
    pub version: u64,
    pub flags: BTreeMap<String, CompiledFlag>,
}

impl Snapshot {
    /// A snapshot of `flags`, keyed by their keys (a later flag with the same key
    /// replaces an earlier one).
    pub fn new(version: u64, flags: impl IntoIterator<Item = CompiledFlag>) -> Self {
        Snapshot { version, flags: flags.into_iter().map(|f| (f.key().to_owned(), f)).collect() }
    }

    pub fn get(&self, key: &str) -> Option<&CompiledFlag> {
        self.flags.get(key)
    }

    /// Evaluates one flag; an unknown key is [`EvalError::FlagNotFound`].
    pub fn evaluate(&self, key: &str, ctx: &Context) -> Result<Evaluation<'_>, EvalError> {
        let flag = self.flags.get(key).ok_or_else(|| EvalError::FlagNotFound { key: key.to_owned() })?;
        evaluate(flag, ctx)
    }

    /// Evaluates every flag for `ctx`, in key order (OFREP bulk evaluation).
    pub fn evaluate_all(&self, ctx: &Context) -> Vec<(&str, Result<Evaluation<'_>, EvalError>)> {
        self.flags.iter().map(|(key, flag)| (key.as_str(), evaluate(flag, ctx))).collect()
    }

    /// A weak ETag of the flags' content: `W/"<first 16 bytes of SHA-256, hex>"`
    /// over a canonical JSON of the map (object keys sorted, no whitespace,
    /// serde_json's number and string formatting).
    ///
    /// It depends on content only, not on [`Snapshot::version`] or on which
    /// replica built the snapshot, so control-plane replicas agree and a change
    /// that is later undone gives the old ETag back. Each flag's own `version`
    /// is content, so any stored change moves the ETag. Weak, because one flag
    /// set answers many differently shaped responses (bulk evaluations for
    /// different contexts); the caller revalidates with the same context.
    pub fn etag(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(b"{");
        for (i, (key, flag)) in self.flags.iter().enumerate() {
            if i > 0 {
                hasher.update(b",");
            }
            write_string(&mut hasher, key);
            hasher.update(b":");
            // Serializing plain data into a `serde_json::Value` cannot fail.
            let json = serde_json::to_value(flag.flag()).unwrap_or_default();
            write_canonical(&mut hasher, &json);
        }
        hasher.update(b"}");
        let digest = hasher.finalize();
        format!("W/\"{}\"", hex::encode(&digest[..16]))
    }
}

fn write_string(hasher: &mut Sha256, s: &str) {
    hasher.update(serde_json::Value::from(s).to_string().as_bytes());
}

/// Canonical JSON into the hasher: the same bytes whatever the map order of the
/// input (serde_json's `preserve_order` may be on somewhere in the build).
fn write_canonical(hasher: &mut Sha256, value: &serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            hasher.update(b"{");
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    hasher.update(b",");
                }
                write_string(hasher, key);
                hasher.update(b":");
                write_canonical(hasher, value);
            }
            hasher.update(b"}");
        }
        serde_json::Value::Array(items) => {
            hasher.update(b"[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    hasher.update(b",");
                }
                write_canonical(hasher, item);
            }
            hasher.update(b"]");
        }
        scalar => hasher.update(scalar.to_string().as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::compile;
    use crate::eval::Reason;
    use serde_json::json;

    fn flag(key: &str, enabled: bool, version: u64) -> CompiledFlag {
        compile(
            serde_json::from_value(json!({
                "key": key,
                "enabled": enabled,
                "variants": {"on": true, "off": false},
                "default_variant": "on",
                "off_variant": "off",
                "version": version
            }))
            .unwrap(),
        )
        .unwrap()
    }

    fn snapshot(version: u64) -> Snapshot {
        Snapshot::new(version, [flag("new-checkout", true, 3), flag("search-v2", false, 9)])
    }

    #[test]
    fn evaluate_all_in_key_order() {
        let snap = snapshot(1);
        let all = snap.evaluate_all(&Context::new());
        let summary: Vec<_> = all.iter().map(|(k, r)| (*k, r.as_ref().map(|e| e.reason).ok())).collect();
        assert_eq!(summary, [("new-checkout", Some(Reason::Static)), ("search-v2", Some(Reason::Disabled))]);
    }

    #[test]
    fn unknown_flag() {
        let err = snapshot(1).evaluate("nope", &Context::new()).unwrap_err();
        assert_eq!(err, EvalError::FlagNotFound { key: "nope".into() });
        assert_eq!(err.code(), "FLAG_NOT_FOUND");
    }

    #[test]
    fn etag_follows_content() {
        let etag = snapshot(1).etag();
        assert!(etag.starts_with("W/\"") && etag.ends_with('"') && etag.len() == 2 + 1 + 32 + 1, "{etag}");
        assert_eq!(snapshot(1).etag(), etag, "same content, same etag");
        assert_eq!(snapshot(2).etag(), etag, "snapshot version is not content");
        let flipped = Snapshot::new(1, [flag("new-checkout", false, 4), flag("search-v2", false, 9)]);
        assert_ne!(flipped.etag(), etag, "a flag flip changes it");
        let fewer = Snapshot::new(1, [flag("new-checkout", true, 3)]);
        assert_ne!(fewer.etag(), etag);
        assert_ne!(Snapshot::default().etag(), etag);
    }

    #[test]
    fn serde_round_trip_validates() {
        let snap = snapshot(5);
        let json = serde_json::to_value(&snap).unwrap();
        assert_eq!(json["version"], json!(5));
        assert_eq!(json["flags"]["search-v2"]["enabled"], json!(false));
        let back: Snapshot = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back.etag(), snap.etag());
        let mut bad = json;
        bad["flags"]["search-v2"]["off_variant"] = json!("gone");
        assert!(serde_json::from_value::<Snapshot>(bad).is_err());
    }
}
