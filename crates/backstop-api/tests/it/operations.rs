//! Release, undo, promote and their outcome.

use backstop_api::{
    AbortOutcome, MissingHotfix, Outcome, PromoteRequest, ReleaseRequest, RevisionStatus, ShippedMigration,
    ShippedQuery, UndoRequest,
};
use insta::assert_snapshot;
use serde_json::json;

use crate::{digest, reads_as, round_trip};

#[test]
fn release_request() {
    let req = ReleaseRequest {
        digest: digest(2),
        version: "v1.2.0".into(),
        change_cause: "checkout v2".into(),
        git_commit: Some("4f1c2a9".into()),
        image: None,
        git_tag: None,
        hotfix_of: None,
        carries_hotfixes: Vec::new(),
        missing_hotfixes: Vec::new(),
        allow_missing_hotfix: None,
        guarded_by: vec!["new-checkout".into()],
        migrations: Some(vec![
            ShippedMigration {
                version: "0001".into(),
                name: "0001_users.up.sql".into(),
                sql: "CREATE TABLE users (id int);".into(),
                down: Some("DROP TABLE users;".into()),
            },
            ShippedMigration {
                version: "0002".into(),
                name: "0002_name.up.sql".into(),
                sql: "ALTER TABLE users ADD COLUMN name text;".into(),
                down: None,
            },
        ]),
        queries: vec![ShippedQuery { name: "users.sql:1".into(), sql: "SELECT id, name FROM users".into() }],
        contracts: Default::default(),
    };
    assert_snapshot!(round_trip(&req));
}

#[test]
fn release_request_of_a_hotfix_and_a_release_missing_one() {
    let hotfix = ReleaseRequest {
        digest: digest(3),
        version: "v1.2.1".into(),
        change_cause: "null guard in checkout total".into(),
        git_commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
        git_tag: Some("v1.2.1".into()),
        hotfix_of: Some(2),
        carries_hotfixes: Vec::new(),
        missing_hotfixes: Vec::new(),
        allow_missing_hotfix: None,
        image: None,
        guarded_by: Vec::new(),
        migrations: None,
        queries: Vec::new(),
        contracts: Default::default(),
    };
    assert_snapshot!(round_trip(&hotfix));
    let from_main = ReleaseRequest {
        version: "v1.3.0".into(),
        git_tag: None,
        hotfix_of: None,
        carries_hotfixes: vec![3],
        missing_hotfixes: vec![MissingHotfix {
            revision: 5,
            commits: vec!["89abcdef0123456789abcdef0123456789abcdef".into()],
        }],
        allow_missing_hotfix: Some("the fix of revision 5 is reverted on purpose".into()),
        ..hotfix
    };
    assert_snapshot!(round_trip(&from_main));
}

#[test]
fn release_request_needs_only_digest_and_version() {
    let d = digest(2);
    let req: ReleaseRequest = serde_json::from_value(json!({ "digest": d, "version": "v2" })).unwrap();
    assert_eq!((req.change_cause.as_str(), req.migrations, req.queries.len()), ("", None, 0));
    assert!(serde_json::from_value::<ReleaseRequest>(json!({ "digest": "sha256:zz", "version": "v2" })).is_err());
}

#[test]
fn undo_request() {
    assert_snapshot!(round_trip(&UndoRequest { to_revision: Some(1), force: true }));
    // What `backstop undo` sends without flags, and an empty body.
    let plain: UndoRequest = serde_json::from_value(json!({ "to_revision": null, "force": false })).unwrap();
    assert_eq!(plain, UndoRequest::default());
    assert_eq!(serde_json::from_value::<UndoRequest>(json!({})).unwrap(), UndoRequest::default());
}

#[test]
fn promote_request() {
    assert_snapshot!(round_trip(&PromoteRequest { permanent: true }));
}

#[test]
fn outcome() {
    let o = Outcome {
        operation: 7,
        app: "shop".into(),
        revision: 2,
        version: "v1.2.0".into(),
        digest: digest(2),
        from_revision: Some(1),
        warm: false,
        status: RevisionStatus::Soaking,
    };
    assert_snapshot!(round_trip(&o));
    let first: Outcome = reads_as(json!({
        "operation": 1, "app": "shop", "revision": 1, "version": "v1", "digest": digest(1),
        "from_revision": null, "warm": false, "status": "live",
    }));
    assert_eq!(first.status, RevisionStatus::Live);
}

#[test]
fn abort_outcome() {
    let before =
        AbortOutcome { operation: 9, app: "shop".into(), revision: 3, before_traffic: true, traffic_on: Some(2) };
    assert_snapshot!(round_trip(&before));
    let soaking =
        AbortOutcome { operation: 10, app: "shop".into(), revision: 3, before_traffic: false, traffic_on: Some(2) };
    round_trip(&soaking);
}

#[test]
fn release_request_with_contracts_and_an_allowed_break() {
    let d = digest(2);
    let req: ReleaseRequest = serde_json::from_value(json!({
        "digest": d, "version": "v2",
        "api": {"name": "openapi.yaml", "text": "openapi: 3.0.3\n"},
        "messages": [{"role": "produces", "name": "order-created", "text": "{}"}],
        "allow_breaking": [{"rule": "api.path-removed", "reason": "no client calls /v1/legacy any more"}],
    }))
    .unwrap();
    assert_eq!(req.contracts.api.as_ref().map(|a| a.name.as_str()), Some("openapi.yaml"));
    assert_eq!(req.contracts.messages[0].role, backstop_api::MessageRole::Produces);
    assert_eq!(req.contracts.allow_breaking[0].rule, "api.path-removed");
    let back: ReleaseRequest = serde_json::from_str(&round_trip(&req)).unwrap();
    assert_eq!(back, req);
    let bad = json!({"digest": d, "version": "v2", "messages": [{"role": "writes", "name": "a", "text": "{}"}]});
    assert!(serde_json::from_value::<ReleaseRequest>(bad).is_err(), "a role is produces or consumes");
}
