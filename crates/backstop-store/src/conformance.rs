//! The store's contract as executable checks, written against the [`Store`] trait only, so every
//! implementation (the embedded SQLite one now, a shared one later) runs the same suite unchanged.
//!
//! Each check gets two handles on one fresh, empty state (two connections, or two control planes'
//! views of one database) and panics with what broke. Run them all with [`run_all`].

use std::sync::Arc;
use std::time::Duration;

use backstop_core::audit::verify_chain;
use backstop_core::{AppName, Digest, OperationKind, OperationState};
use backstop_flags::Flag;
use chrono::Utc;

use crate::{
    Change, FlagWrite, FlagWriteMode, IncidentUpdate, InstanceRecord, InstanceRole, NewAudit, NewDrill, NewIncident,
    NewOperation, NewRevision, Store, StoreError,
};

/// Two handles on one fresh state.
pub type Pair = (Arc<dyn Store>, Arc<dyn Store>);

/// Run every check, each on a fresh state made by `fresh`.
pub async fn run_all(fresh: &dyn Fn() -> Pair) {
    revisions_are_numbered_per_app(fresh()).await;
    one_running_operation_per_app(fresh()).await;
    a_stale_lease_holder_cannot_commit(fresh()).await;
    recovery_sees_only_expired_or_own_operations(fresh()).await;
    sequences_stay_dense_under_concurrent_writers(fresh()).await;
    instance_handles_are_opaque_and_round_trip(fresh()).await;
    flag_change_feed_is_ordered_and_complete(fresh()).await;
    errors_name_no_engine(fresh()).await;
    an_incident_timeline_is_written_once(fresh()).await;
    operations_are_counted_by_kind_and_state(fresh()).await;
    drills_are_listed_newest_first(fresh()).await;
    contracts_are_kept_per_revision(fresh()).await;
}

fn app() -> AppName {
    "shop".parse().expect("valid app name")
}

fn new_rev(version: &str) -> NewRevision {
    NewRevision {
        app: app(),
        version: version.into(),
        digest: Digest::of_bytes(version.as_bytes()),
        change_cause: String::new(),
        git_commit: None,
        image: None,
        git_tag: None,
        hotfix_of: None,
        guarded_by: Vec::new(),
        actor: "admin".into(),
    }
}

fn new_op(owner: &str, lease: Duration) -> NewOperation {
    NewOperation {
        app: app(),
        kind: OperationKind::Release,
        actor: "admin".into(),
        target_revision: None,
        from_revision: None,
        owner: owner.into(),
        lease,
    }
}

fn audit(action: &str) -> NewAudit {
    NewAudit { actor: "admin".into(), action: action.into(), outcome: "ok".into(), detail: serde_json::json!({}) }
}

pub async fn revisions_are_numbered_per_app((a, b): Pair) {
    a.ensure_app(&app()).await.unwrap();
    b.ensure_app(&app()).await.unwrap();
    assert_eq!(a.create_revision(new_rev("v1")).await.unwrap().revision, 1);
    assert_eq!(b.create_revision(new_rev("v2")).await.unwrap().revision, 2);
    let revs = a.revisions(&app()).await.unwrap();
    assert_eq!(revs.iter().map(|r| r.revision).collect::<Vec<_>>(), vec![1, 2]);
}

pub async fn one_running_operation_per_app((a, b): Pair) {
    a.ensure_app(&app()).await.unwrap();
    let first = a.begin_operation(new_op("node-a", Duration::from_secs(30))).await.unwrap();
    match b.begin_operation(new_op("node-b", Duration::from_secs(30))).await {
        Err(StoreError::Busy { running }) => assert_eq!(running.id, first.id),
        other => panic!("a second operation on the app must be refused as busy, got {other:?}"),
    }
    a.apply(&app(), vec![Change::Finish { operation: first.id, state: OperationState::Succeeded, error: None }])
        .await
        .unwrap();
    b.begin_operation(new_op("node-b", Duration::from_secs(30))).await.unwrap();
}

pub async fn a_stale_lease_holder_cannot_commit((a, b): Pair) {
    a.ensure_app(&app()).await.unwrap();
    let op = a.begin_operation(new_op("node-a", Duration::from_secs(30))).await.unwrap();
    assert_eq!(op.lease_owner.as_deref(), Some("node-a"));
    // Another owner cannot renew or commit under this lease.
    assert!(matches!(b.renew_lease(op.id, "node-b", Duration::from_secs(30)).await, Err(StoreError::LeaseLost { .. })));
    let step = || Change::Step { operation: op.id, step: "switched".into(), detail: None };
    assert!(matches!(b.apply_fenced(&app(), op.id, "node-b", vec![step()]).await, Err(StoreError::LeaseLost { .. })));
    a.renew_lease(op.id, "node-a", Duration::from_secs(30)).await.unwrap();
    a.apply_fenced(&app(), op.id, "node-a", vec![step()]).await.unwrap();
    // Recovery elsewhere ends it: the old holder's commit is refused, and nothing of it is written.
    b.apply(&app(), vec![Change::Finish { operation: op.id, state: OperationState::Reverted, error: None }])
        .await
        .unwrap();
    let refused = a
        .apply_fenced(
            &app(),
            op.id,
            "node-a",
            vec![step(), Change::Finish { operation: op.id, state: OperationState::Succeeded, error: None }],
        )
        .await;
    assert!(matches!(refused, Err(StoreError::LeaseLost { .. })), "got {refused:?}");
    let after = b.operation(op.id).await.unwrap().unwrap();
    assert_eq!(after.state, OperationState::Reverted);
    assert_eq!(after.steps.len(), 1, "the refused batch wrote nothing");
    assert!(matches!(a.renew_lease(op.id, "node-a", Duration::from_secs(30)).await, Err(StoreError::LeaseLost { .. })));
}

pub async fn recovery_sees_only_expired_or_own_operations((a, b): Pair) {
    let other: AppName = "billing".parse().unwrap();
    a.ensure_app(&app()).await.unwrap();
    a.ensure_app(&other).await.unwrap();
    // node-a's live lease on shop, node-b's expired lease on billing.
    let live = a.begin_operation(new_op("node-a", Duration::from_secs(60))).await.unwrap();
    let expired =
        b.begin_operation(NewOperation { app: other.clone(), ..new_op("node-b", Duration::ZERO) }).await.unwrap();
    let ids = |ops: Vec<crate::Operation>| ops.into_iter().map(|o| o.id).collect::<Vec<_>>();
    assert_eq!(ids(b.interrupted_operations("node-b").await.unwrap()), vec![expired.id], "node-b: its own only");
    assert_eq!(ids(b.interrupted_operations("node-c").await.unwrap()), vec![expired.id], "a stranger: the expired");
    let mut own = ids(a.interrupted_operations("node-a").await.unwrap());
    own.sort();
    assert_eq!(own, vec![live.id, expired.id], "node-a restarted: its own and the expired one");
}

pub async fn sequences_stay_dense_under_concurrent_writers((a, b): Pair) {
    a.ensure_app(&app()).await.unwrap();
    let op = a.begin_operation(new_op("node-a", Duration::from_secs(30))).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        let id = op.id;
        tasks.push(tokio::spawn(async move {
            s.apply(
                &app(),
                vec![
                    Change::Step { operation: id, step: format!("s{i}"), detail: None },
                    Change::Audit(audit(&format!("a{i}"))),
                ],
            )
            .await
            .unwrap();
            s.audit(audit(&format!("g{i}"))).await.unwrap();
        }));
    }
    for t in tasks {
        t.await.expect("writer task");
    }
    let steps = a.operation(op.id).await.unwrap().unwrap().steps;
    assert_eq!(steps.iter().map(|s| s.seq).collect::<Vec<_>>(), (1..=40).collect::<Vec<_>>());
    let entries = b.audit_entries(0, 1000).await.unwrap();
    assert_eq!(entries.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=80).collect::<Vec<_>>());
    verify_chain(&entries).expect("the audit chain verifies after concurrent writers");
}

pub async fn instance_handles_are_opaque_and_round_trip((a, b): Pair) {
    a.ensure_app(&app()).await.unwrap();
    a.create_revision(new_rev("v1")).await.unwrap();
    let handle = serde_json::json!({ "anything": ["the", "driver", "needs"], "n": 7 });
    let record = InstanceRecord {
        app: app().to_string(),
        revision: 1,
        driver: "test".into(),
        handle: handle.clone(),
        role: InstanceRole::Stopping,
        warm_until: None,
        started_at: chrono::DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap(),
    };
    a.apply(&app(), vec![Change::PutInstance(record.clone())]).await.unwrap();
    assert_eq!(b.instances(&app()).await.unwrap(), vec![record]);
    a.apply(&app(), vec![Change::RemoveInstance { revision: 1 }]).await.unwrap();
    assert!(b.all_instances().await.unwrap().is_empty());
}

pub async fn flag_change_feed_is_ordered_and_complete((a, b): Pair) {
    let flag = |key: &str, enabled: bool| -> Flag {
        serde_json::from_value(serde_json::json!({
            "key": key, "enabled": enabled,
            "variants": {"on": true, "off": false}, "default_variant": "on", "off_variant": "off", "version": 0,
        }))
        .expect("a valid flag")
    };
    let write = |f: Flag, mode| FlagWrite {
        flag: f,
        mode,
        action: "set".into(),
        actor: "admin".into(),
        reason: None,
        expected_version: None,
    };
    a.write_flag(write(flag("one", true), FlagWriteMode::Create)).await.unwrap();
    b.write_flag(write(flag("two", true), FlagWriteMode::Create)).await.unwrap();
    a.write_flag(write(flag("one", false), FlagWriteMode::Replace)).await.unwrap();
    let all = b.flag_changes_since(0, 100).await.unwrap();
    assert_eq!(
        all.iter().map(|e| (e.key.as_str(), e.config_version)).collect::<Vec<_>>(),
        [("one", 1), ("two", 2), ("one", 3)]
    );
    let tail = a.flag_changes_since(1, 1).await.unwrap();
    assert_eq!(tail.iter().map(|e| e.config_version).collect::<Vec<_>>(), [2]);
    assert!(a.flag_changes_since(3, 100).await.unwrap().is_empty());
    assert_eq!(a.flags().await.unwrap().version, 3);
}

pub async fn errors_name_no_engine((a, _): Pair) {
    let missing: AppName = "nowhere".parse().unwrap();
    match a.app(&missing).await {
        Err(StoreError::UnknownApp { app }) => assert_eq!(app, "nowhere"),
        other => panic!("an unknown app is UnknownApp, got {other:?}"),
    }
}

pub async fn an_incident_timeline_is_written_once((a, b): Pair) {
    a.ensure_app(&app()).await.unwrap();
    let at = |ms: i64| chrono::DateTime::from_timestamp_millis(1_800_000_000_000 + ms).unwrap();
    let opened = a
        .open_incident(NewIncident {
            app: app(),
            revision: Some(3),
            opened_by: "admin:ana".into(),
            facts: serde_json::json!({ "live_revision": 3 }),
            decision: serde_json::json!({ "recommended": "traffic-swap" }),
            detected_at: at(0),
            decided_at: Some(at(5)),
        })
        .await
        .unwrap();
    let mitigate = |ms| IncidentUpdate::Mitigated { rung: "traffic-swap".into(), operation: Some(9), at: at(ms) };
    let after = b.update_incident(opened.id, mitigate(40)).await.unwrap();
    assert_eq!(
        (after.rung.as_deref(), after.operation, after.mitigated_at),
        (Some("traffic-swap"), Some(9), Some(at(40)))
    );
    // A second write of an instant already recorded changes nothing.
    let again = a.update_incident(opened.id, mitigate(999)).await.unwrap();
    assert_eq!(again.mitigated_at, Some(at(40)));
    a.update_incident(opened.id, IncidentUpdate::Recovered { at: at(900) }).await.unwrap();
    let closed = b
        .update_incident(
            opened.id,
            IncidentUpdate::Closed { actor: "admin:ana".into(), note: "done".into(), at: at(1000) },
        )
        .await
        .unwrap();
    assert_eq!(
        (closed.recovered_at, closed.closed_at, closed.note.as_deref()),
        (Some(at(900)), Some(at(1000)), Some("done"))
    );
    assert_eq!(closed.facts, serde_json::json!({ "live_revision": 3 }));
    assert_eq!(b.incidents(Some(&app()), 10).await.unwrap(), vec![closed.clone()]);
    assert_eq!(a.incident(opened.id).await.unwrap(), Some(closed));
    match a.update_incident(opened.id + 100, IncidentUpdate::Recovered { at: at(1) }).await {
        Err(StoreError::UnknownIncident { id }) => assert_eq!(id, opened.id + 100),
        other => panic!("an unknown incident is UnknownIncident, got {other:?}"),
    }
    // Opening, mitigating, recovering and closing are audited, and the chain holds.
    let entries = b.audit_entries(0, 100).await.unwrap();
    let outcomes: Vec<_> = entries.iter().filter(|e| e.action == "incident").map(|e| e.outcome.as_str()).collect();
    assert_eq!(outcomes, ["opened", "mitigated", "recovered", "closed"]);
    verify_chain(&entries).expect("the audit chain verifies");
}

pub async fn operations_are_counted_by_kind_and_state((a, b): Pair) {
    a.ensure_app(&app()).await.unwrap();
    let first = a.begin_operation(new_op("node-a", Duration::from_secs(30))).await.unwrap();
    a.apply_fenced(
        &app(),
        first.id,
        "node-a",
        vec![Change::Finish { operation: first.id, state: OperationState::Failed, error: None }],
    )
    .await
    .unwrap();
    b.begin_operation(new_op("node-b", Duration::from_secs(30))).await.unwrap();
    let counts = a.operation_counts(&app()).await.unwrap();
    assert_eq!(
        counts,
        vec![(OperationKind::Release, OperationState::Failed, 1), (OperationKind::Release, OperationState::Running, 1)]
    );
}

pub async fn drills_are_listed_newest_first((a, b): Pair) {
    a.ensure_app(&app()).await.unwrap();
    let at = |ms: i64| chrono::DateTime::from_timestamp_millis(1_800_000_000_000 + ms).unwrap();
    for (rung, ok) in [("traffic-swap", true), ("redeploy", false)] {
        a.record_drill(NewDrill {
            app: app(),
            rung: rung.into(),
            live_revision: Some(2),
            target: Some(1),
            actor: "admin".into(),
            started_at: at(0),
            ended_at: at(120),
            succeeded: ok,
            figures: vec![("swap".into(), 3), ("swap-back".into(), 2)],
            error: (!ok).then(|| "instance did not become healthy".into()),
        })
        .await
        .unwrap();
    }
    let drills = b.drills(Some(&app()), 10).await.unwrap();
    assert_eq!(
        drills.iter().map(|d| (d.rung.as_str(), d.outcome.as_str())).collect::<Vec<_>>(),
        [("redeploy", "failed"), ("traffic-swap", "succeeded")]
    );
    assert_eq!(drills[1].figures, vec![("swap".to_owned(), 3), ("swap-back".to_owned(), 2)]);
    assert!(b.drills(None, 1).await.unwrap().len() == 1);
}

/// A revision's contracts read back as written, from either handle; a revision without any has
/// none; an unknown revision is refused and writes nothing.
pub async fn contracts_are_kept_per_revision((a, b): Pair) {
    a.ensure_app(&app()).await.expect("app");
    let r1 = a.create_revision(new_rev("v1")).await.expect("revision 1");
    let r2 = a.create_revision(new_rev("v2")).await.expect("revision 2");
    let contracts = serde_json::json!({"api": {"openapi": "3.0.3", "paths": {}}, "produces": {}, "consumes": {}});
    a.apply(&app(), vec![Change::Contracts { revision: r2.revision, contracts: contracts.clone() }])
        .await
        .expect("record contracts");
    assert_eq!(b.revision_contracts(&app(), r2.revision).await.expect("read"), Some(contracts));
    assert_eq!(b.revision_contracts(&app(), r1.revision).await.expect("read"), None);
    let err = a
        .apply(&app(), vec![Change::Contracts { revision: 99, contracts: serde_json::json!({}) }])
        .await
        .expect_err("an unknown revision is refused");
    assert!(matches!(err, StoreError::UnknownRevision { revision: 99, .. }), "{err:?}");
    assert_eq!(b.revision_contracts(&app(), 99).await.expect("read"), None);
}
