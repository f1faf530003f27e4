//! Status, history, revision detail, operations, health and the error body.

use backstop_api::{
    AnalysisView, AppStatus, ErrorBody, Health, HistoryEntry, InstanceRole, InstanceView, OnFailure, Operation,
    OperationKind, OperationState, RevisionDatabase, RevisionDetail, RevisionStatus, Step, UndoPreview, Verdict,
};
use insta::assert_snapshot;
use serde_json::json;

use crate::{at, reads_as, revision, round_trip};

pub fn operation(id: u64, state: OperationState) -> Operation {
    Operation {
        id,
        app: "shop".into(),
        kind: OperationKind::Release,
        state,
        actor: "admin:ana".into(),
        target_revision: Some(2),
        from_revision: Some(1),
        started_at: at(2),
        ended_at: (state != OperationState::Running).then(|| at(3)),
        error: None,
        steps: vec![
            Step { seq: 1, at: at(2), step: "start".into(), detail: Some("revision 2".into()) },
            Step { seq: 2, at: at(3), step: "switch".into(), detail: None },
        ],
    }
}

#[test]
fn health() {
    assert_snapshot!(round_trip(&Health { ok: true }));
}

#[test]
fn error_body() {
    let e = ErrorBody::new("unknown_app", "app `shopp` is not configured", "`backstop apps` lists the configured apps");
    assert_snapshot!(round_trip(&e));
}

#[test]
fn app_status() {
    let status = AppStatus {
        analysis: Some(AnalysisView {
            revision: 2,
            verdict: Verdict::Fail,
            summary: "error ratio 30.0% over 40 requests, log-likelihood ratio 8.0 ≥ 5.3 (ceiling 1.0%)".into(),
            requests: 40,
            failures: 12,
            action: Some(OnFailure::KillSwitch),
            judged_at: at(4),
        }),
        app: "shop".into(),
        driver: "local".into(),
        instances: vec![
            InstanceView {
                revision: 2,
                role: InstanceRole::Serving,
                pid: 4242,
                port: 41001,
                alive: true,
                inflight: 3,
                warm_until: None,
                ready_replicas: None,
                replicas: None,
            },
            InstanceView {
                revision: 1,
                role: InstanceRole::Warm,
                pid: 4100,
                port: 41000,
                alive: true,
                inflight: 0,
                warm_until: Some(at(30)),
                ready_replicas: None,
                replicas: None,
            },
        ],
        known_good: Some(revision(1, RevisionStatus::KnownGood)),
        known_good_revision: Some(1),
        listen: "127.0.0.1:8080".into(),
        live: Some(revision(2, RevisionStatus::Soaking)),
        live_revision: Some(2),
        running_operation: Some(operation(7, OperationState::Running)),
        undo: Some(UndoPreview { revision: Some(1), warm: true, refused: None, hint: None }),
        warm_revisions: vec![1],
    };
    assert_snapshot!(round_trip(&status));
}

#[test]
fn app_status_of_an_app_never_released() {
    // As the server writes it today.
    let status: AppStatus = reads_as(json!({
        "app": "shop", "listen": "127.0.0.1:8080", "driver": "local", "live_revision": null, "live": null,
        "known_good_revision": null, "known_good": null, "warm_revisions": [], "instances": [],
        "running_operation": null, "analysis": null,
        "undo": {
            "revision": null, "warm": false, "refused": "nothing has been released yet",
            "hint": "release a version first with `backstop release APP --artifact PATH --version V`",
        },
    }));
    assert_eq!((status.live.is_none(), status.instances.len()), (true, 0));
    assert_snapshot!(round_trip(&status));
}

#[test]
fn history() {
    let rows = vec![
        HistoryEntry {
            revision: revision(1, RevisionStatus::KnownGood),
            live: false,
            last_known_good: true,
            warm: true,
        },
        HistoryEntry {
            revision: revision(2, RevisionStatus::Soaking),
            live: true,
            last_known_good: false,
            warm: false,
        },
    ];
    let json = round_trip(&rows);
    // The revision's fields sit beside the marks, not under a `revision` object.
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!((v[1]["revision"].clone(), v[1]["live"].clone()), (json!(2), json!(true)));
    assert_snapshot!(json);
}

#[test]
fn revision_detail() {
    let detail = RevisionDetail {
        database: RevisionDatabase {
            migrations: vec!["0001_users.up.sql".into(), "0002_name.up.sql".into()],
            queries: 4,
            schema_recorded_at: Some(at(4)),
        },
        operations: vec![operation(7, OperationState::Succeeded)],
        revision: revision(2, RevisionStatus::Live),
    };
    assert_snapshot!(round_trip(&detail));
}

#[test]
fn operations() {
    let mut failed = operation(8, OperationState::Failed);
    failed.kind = OperationKind::Undo;
    failed.error = Some("revision 1 failed: health check timed out".into());
    assert_snapshot!(round_trip(&vec![operation(7, OperationState::Succeeded), failed]));
}

#[test]
fn every_kind_state_and_role_has_its_name() {
    let names = |v: serde_json::Value| v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect();
    let roles: Vec<String> = names(json!([InstanceRole::Starting, InstanceRole::Serving, InstanceRole::Warm]));
    assert_eq!(roles, ["starting", "serving", "warm"]);
    let kinds: Vec<String> =
        names(json!([OperationKind::AutoRevert, OperationKind::MigrateContract, OperationKind::KillSwitch]));
    assert_eq!(kinds, ["auto-revert", "migrate-contract", "kill-switch"]);
    let verdicts: Vec<String> = names(json!([Verdict::Pass, Verdict::Fail, Verdict::Inconclusive]));
    assert_eq!(verdicts, ["pass", "fail", "inconclusive"]);
    let actions: Vec<String> = names(json!([OnFailure::Revert, OnFailure::KillSwitch, OnFailure::Pause]));
    assert_eq!(actions, ["revert", "kill-switch", "pause"]);
}

#[test]
fn signals() {
    let window = |requests, failures, p99| backstop_api::Window {
        requests,
        failures,
        error_ratio: (requests > 0).then(|| failures as f64 / requests as f64),
        p50_ms: (requests > 0).then_some(1.28),
        p99_ms: p99,
    };
    let signals = backstop_api::AppSignals {
        app: "shop".into(),
        live_revision: Some(2),
        revisions: vec![
            backstop_api::RevisionSignals {
                revision: 2,
                live: true,
                last_minute: window(40, 12, Some(5.12)),
                total: window(40, 12, Some(5.12)),
            },
            backstop_api::RevisionSignals {
                revision: 1,
                live: false,
                last_minute: window(0, 0, None),
                total: window(1000, 1, Some(2.56)),
            },
        ],
    };
    assert_snapshot!(round_trip(&signals));
}
