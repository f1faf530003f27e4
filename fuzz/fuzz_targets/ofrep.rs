//! OFREP request bodies: read strictly and within bounds, then evaluated
//! against a snapshot whose rules use every kind of operator.
#![no_main]

use std::sync::OnceLock;

use backstop_flags::{Context, Snapshot};
use libfuzzer_sys::fuzz_target;

fn snapshot() -> &'static Snapshot {
    static SNAPSHOT: OnceLock<Snapshot> = OnceLock::new();
    SNAPSHOT.get_or_init(|| {
        let json = serde_json::json!({"version": 1, "flags": {
            "kill": {"key": "kill", "enabled": true, "variants": {"on": true, "off": false},
                     "default_variant": "on", "off_variant": "off", "rules": [], "version": 1},
            "checkout": {"key": "checkout", "enabled": true, "variants": {"new": "v2", "old": "v1"},
                "default_variant": "old", "off_variant": "old", "version": 4, "rules": [
                {"conditions": [{"attribute": "country", "op": "in", "values": ["NL", "BE", 3, true]}],
                 "serve": {"rollout": [{"variant": "new", "weight": 25}, {"variant": "old", "weight": 75}]}},
                {"conditions": [{"attribute": "app.version", "op": "semver_gte", "values": ["2.1.0-rc.1"]},
                                {"attribute": "email", "op": "ends_with", "values": ["@example.com"]}],
                 "serve": {"variant": "new"}},
                {"conditions": [{"attribute": "age", "op": "gt", "values": [17.5]},
                                {"attribute": "tags", "op": "contains", "values": ["beta"]},
                                {"attribute": "plan", "op": "exists"}],
                 "serve": {"variant": "new"}},
                {"conditions": [{"attribute": "targetingKey", "op": "starts_with", "values": ["staff-"]}],
                 "serve": {"variant": "new"}}]}
        }});
        serde_json::from_value(json).expect("the fixture compiles")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(context) = Context::from_ofrep_body(data) else { return };
    let back = Context::from_ofrep(context.to_ofrep()).expect("a context read from OFREP writes back");
    assert_eq!(back, context);
    for (_, result) in snapshot().evaluate_all(&context) {
        let _ = result;
    }
});
