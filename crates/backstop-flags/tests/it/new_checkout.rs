//! The `new-checkout` kill switch end to end: JSON in, evaluations out, JSON back.

use backstop_flags::{Context, EvalError, Flag, Reason, Snapshot, compile, evaluate, evaluate_bool};
use serde_json::json;

const NEW_CHECKOUT: &str = r#"{
  "key": "new-checkout",
  "description": "Kill switch for the v2.4 checkout flow. Turn off to send everyone back to the old checkout, no deploy needed.",
  "enabled": true,
  "variants": {
    "off": false,
    "on": true
  },
  "default_variant": "off",
  "off_variant": "off",
  "rules": [
    {
      "name": "staff see it first",
      "conditions": [
        { "attribute": "email", "op": "ends_with", "values": ["@backstop.dev"] }
      ],
      "serve": { "variant": "on" }
    },
    {
      "name": "mobile apps before 2.4 crash on the new payment sheet",
      "conditions": [
        { "attribute": "client.kind", "op": "equals", "values": ["mobile"] },
        { "attribute": "client.version", "op": "semver_lt", "values": ["2.4.0"] }
      ],
      "serve": { "variant": "off" }
    },
    {
      "name": "Benelux gradual rollout",
      "conditions": [
        { "attribute": "country", "op": "in", "values": ["NL", "BE", "LU"] }
      ],
      "serve": {
        "rollout": [
          { "variant": "on", "weight": 25 },
          { "variant": "off", "weight": 75 }
        ]
      }
    }
  ],
  "version": 14
}"#;

fn parse() -> Flag {
    serde_json::from_str(NEW_CHECKOUT).unwrap()
}

#[test]
fn json_round_trip_is_lossless() {
    let original: serde_json::Value = serde_json::from_str(NEW_CHECKOUT).unwrap();
    let flag = parse();
    assert_eq!(serde_json::to_value(&flag).unwrap(), original);
    let compiled = compile(flag.clone()).unwrap();
    assert_eq!(serde_json::to_value(&compiled).unwrap(), original, "a compiled flag serializes as its source");
    assert_eq!(compiled.flag(), &flag);
}

#[test]
fn serves_each_audience() {
    let flag = compile(parse()).unwrap();
    let staff = Context::new().with_targeting_key("u-1").with_attribute("email", "ops@backstop.dev");
    let old_app = Context::new()
        .with_targeting_key("u-2")
        .with_attribute("client", json!({"kind": "mobile", "version": "2.3.9"}))
        .with_attribute("country", "NL");
    let new_app = Context::new()
        .with_targeting_key("u-3")
        .with_attribute("client", json!({"kind": "mobile", "version": "v2.4.0"}))
        .with_attribute("country", "US");
    let cases = [
        ("staff", &staff, true, Reason::TargetingMatch, Some(0)),
        ("old mobile app", &old_app, false, Reason::TargetingMatch, Some(1)),
        ("outside the rollout", &new_app, false, Reason::Default, None),
    ];
    for (who, ctx, on, reason, rule) in cases {
        let r = evaluate_bool(&flag, ctx).unwrap();
        assert_eq!((r.value, r.reason, r.rule, r.flag_version), (on, reason, rule, 14), "{who}");
    }

    let benelux = |user: &str| Context::new().with_targeting_key(user).with_attribute("country", "BE");
    let r = evaluate(&flag, &benelux("u-4")).unwrap();
    assert_eq!((r.reason, r.rule), (Reason::Split, Some(2)));
    assert_eq!(
        evaluate(&flag, &Context::new().with_attribute("country", "BE")).unwrap_err(),
        EvalError::TargetingKeyMissing { key: "new-checkout".into() }
    );
}

#[test]
fn killing_it_turns_it_off_for_everyone() {
    let killed = compile(Flag { enabled: false, version: 15, ..parse() }).unwrap();
    let contexts = [
        Context::new(),
        Context::new().with_targeting_key("u-1").with_attribute("email", "ops@backstop.dev"),
        Context::new().with_targeting_key("u-4").with_attribute("country", "NL"),
    ];
    for ctx in &contexts {
        let r = evaluate_bool(&killed, ctx).unwrap();
        assert_eq!((r.value, r.variant, r.reason, r.flag_version), (false, "off", Reason::Disabled, 15), "{ctx:?}");
    }
}

#[test]
fn snapshot_of_the_environment() {
    let snapshot = Snapshot::new(3, [compile(parse()).unwrap()]);
    let json = serde_json::to_string(&snapshot).unwrap();
    let back: Snapshot = serde_json::from_str(&json).unwrap();
    assert_eq!(back.etag(), snapshot.etag());
    let ctx = Context::new().with_targeting_key("u-1").with_attribute("email", "ops@backstop.dev");
    assert_eq!(back.evaluate("new-checkout", &ctx).unwrap().variant, "on");
}
