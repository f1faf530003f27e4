//! The flag admin API and the flag stream's events.

use std::collections::BTreeMap;

use backstop_api::{
    ChangeEvent, Flag, FlagHistoryEntry, FlagList, FlagRequest, ReasonRequest, SnapshotEvent, UnreadableFlag, Written,
};
use insta::assert_snapshot;
use serde_json::json;

use crate::{at, round_trip};

pub fn flag(key: &str, enabled: bool, version: u64) -> Flag {
    serde_json::from_value(json!({
        "key": key, "description": "the new checkout", "enabled": enabled,
        "variants": {"on": true, "off": false}, "default_variant": "on", "off_variant": "off",
        "rules": [{"name": "beta", "conditions": [{"attribute": "plan", "op": "in", "values": ["beta"]}],
                   "serve": {"rollout": [{"variant": "on", "weight": 10}, {"variant": "off", "weight": 90}]}}],
        "version": version,
    }))
    .unwrap()
}

#[test]
fn flag_request() {
    // What `backstop flag create KEY --on` sends: the key and version are left to the server.
    let req = FlagRequest {
        flag: json!({"key": "new-checkout", "description": "", "enabled": true,
                     "variants": {"on": true, "off": false}, "default_variant": "on", "off_variant": "off"}),
        reason: Some("launch".into()),
    };
    assert_snapshot!(round_trip(&req));
    let no_reason: FlagRequest = serde_json::from_value(json!({ "flag": {} })).unwrap();
    assert_eq!(no_reason.reason, None);
}

#[test]
fn reason_request() {
    assert_snapshot!(round_trip(&ReasonRequest { reason: Some("checkout errors".into()) }));
    assert_eq!(serde_json::from_value::<ReasonRequest>(json!({})).unwrap(), ReasonRequest::default());
}

#[test]
fn written() {
    assert_snapshot!(round_trip(&Written { flag: flag("new-checkout", false, 3), changed: true, config_version: 9 }));
}

#[test]
fn flag_list() {
    let unreadable =
        vec![UnreadableFlag { key: "old-banner".into(), error: "unknown field `schedule` at line 1 column 42".into() }];
    let list =
        FlagList { etag: "W/\"9-1f2e\"".into(), flags: vec![flag("new-checkout", true, 2)], unreadable, version: 9 };
    assert_snapshot!(round_trip(&list));
    // An older server's answer has no `unreadable`.
    let older: FlagList = serde_json::from_value(json!({"etag": "e", "flags": [], "version": 1})).unwrap();
    assert!(older.unreadable.is_empty());
}

#[test]
fn one_flag() {
    assert_snapshot!(round_trip(&flag("new-checkout", true, 2)));
}

#[test]
fn flag_history() {
    let entries = vec![
        FlagHistoryEntry {
            key: "new-checkout".into(),
            version: 1,
            config_version: 8,
            action: "create".into(),
            flag: flag("new-checkout", true, 1),
            actor: "admin:ana".into(),
            reason: None,
            at: at(10),
        },
        FlagHistoryEntry {
            key: "new-checkout".into(),
            version: 2,
            config_version: 9,
            action: "off".into(),
            flag: flag("new-checkout", false, 2),
            actor: "admin:ana".into(),
            reason: Some("checkout errors".into()),
            at: at(11),
        },
    ];
    assert_snapshot!(round_trip(&entries));
}

#[test]
fn stream_events() {
    let snapshot = SnapshotEvent {
        etag: "W/\"9-1f2e\"".into(),
        flags: BTreeMap::from([("new-checkout".to_owned(), flag("new-checkout", true, 2))]),
        version: 9,
    };
    assert_snapshot!("snapshot_event", round_trip(&snapshot));
    let change = ChangeEvent {
        version: 10,
        etag: "W/\"10-77aa\"".into(),
        key: "new-checkout".into(),
        flag: Some(flag("new-checkout", false, 3)),
    };
    assert_snapshot!("change_event", round_trip(&change));
    let deleted = ChangeEvent { version: 11, etag: "W/\"11-0b0b\"".into(), key: "new-checkout".into(), flag: None };
    assert_snapshot!("change_event_delete", round_trip(&deleted));
}
