//! Snapshot and round-trip tests of every wire type: each JSON shape is
//! pinned by an insta snapshot, and each value reads back equal to itself.

mod apps;
mod data;
mod flags;
mod ofrep;
mod operations;

use std::fmt::Debug;

use backstop_api::{Digest, Revision, RevisionStatus};
use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The pretty JSON of `value`, after checking that it reads back equal and
/// that writing it again gives the same text.
pub fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(value: &T) -> String {
    let json = serde_json::to_string_pretty(value).expect("serialises");
    let back: T = serde_json::from_str(&json).unwrap_or_else(|e| panic!("reads back: {e}\n{json}"));
    assert_eq!(&back, value, "read back differs\n{json}");
    assert_eq!(serde_json::to_string_pretty(&back).unwrap(), json, "written again differs");
    json
}

/// Reads `json` as `T` and writes it back: the fields the server sends today
/// survive the typed form (compared as JSON values, so key order does not matter).
pub fn reads_as<T: Serialize + DeserializeOwned + PartialEq + Debug>(json: serde_json::Value) -> T {
    let typed: T = serde_json::from_value(json.clone()).unwrap_or_else(|e| panic!("reads: {e}\n{json:#}"));
    assert_eq!(serde_json::to_value(&typed).unwrap(), json, "written back differs");
    typed
}

pub fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 14, 9, minute, 0).unwrap()
}

pub fn digest(byte: u8) -> Digest {
    Digest::of_bytes(&[byte])
}

pub fn revision(n: u64, status: RevisionStatus) -> Revision {
    Revision {
        app: "shop".parse().unwrap(),
        revision: n,
        version: format!("v1.{n}.0"),
        digest: digest(n as u8),
        change_cause: format!("change {n}"),
        git_commit: Some("4f1c2a9".into()),
        image: None,
        git_tag: None,
        hotfix_of: None,
        guarded_by: vec!["new-checkout".into()],
        actor: "admin:ana".into(),
        created_at: at(n as u32),
        status,
        status_reason: None,
        live_since: Some(at(n as u32 + 1)),
        soak_until: None,
        known_good_at: (status == RevisionStatus::KnownGood).then(|| at(n as u32 + 5)),
        undone_at: None,
    }
}
