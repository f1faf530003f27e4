//! Tests of the SQLite store beside the conformance suite: migrations of older schemas, reopening, what only SQLite shows.

use backstop_core::audit::verify_chain;
use backstop_core::{OperationKind, OperationState};
use chrono::Utc;

use super::*;
use crate::NewAudit;

fn app() -> AppName {
    "shop".parse().unwrap()
}

fn new_rev(version: &str) -> NewRevision {
    NewRevision {
        app: app(),
        version: version.into(),
        digest: Digest::of_bytes(version.as_bytes()),
        change_cause: format!("ship {version}"),
        git_commit: Some("abc123".into()),
        image: None,
        git_tag: Some("v1".into()),
        hotfix_of: None,
        guarded_by: vec!["new-checkout".into()],
        actor: "admin".into(),
    }
}

fn op(kind: OperationKind) -> NewOperation {
    NewOperation {
        app: app(),
        kind,
        actor: "admin".into(),
        target_revision: None,
        from_revision: None,
        owner: "node-test".into(),
        lease: std::time::Duration::from_secs(30),
    }
}

async fn store_with_app() -> SqliteStore {
    let s = SqliteStore::in_memory().unwrap();
    s.ensure_app(&app()).await.unwrap();
    s
}

#[tokio::test]
async fn revisions_are_numbered_per_app() {
    let s = store_with_app().await;
    let other: AppName = "billing".parse().unwrap();
    s.ensure_app(&other).await.unwrap();
    assert_eq!(s.create_revision(new_rev("v1")).await.unwrap().revision, 1);
    assert_eq!(s.create_revision(new_rev("v2")).await.unwrap().revision, 2);
    let mut b = new_rev("b1");
    b.app = other.clone();
    assert_eq!(s.create_revision(b).await.unwrap().revision, 1);
    let revs = s.revisions(&app()).await.unwrap();
    assert_eq!(revs.iter().map(|r| r.version.as_str()).collect::<Vec<_>>(), ["v1", "v2"]);
    assert_eq!(revs[0].status, RevisionStatus::Deploying);
    assert_eq!(revs[1].change_cause, "ship v2");
}

#[tokio::test]
async fn unknown_app_and_revision_are_named() {
    let s = store_with_app().await;
    let ghost: AppName = "ghost".parse().unwrap();
    assert!(matches!(s.revisions(&ghost).await, Err(StoreError::UnknownApp { app }) if app == "ghost"));
    assert!(matches!(s.revision(&app(), 4).await, Err(StoreError::UnknownRevision { revision: 4, .. })));
}

#[tokio::test]
async fn revision_identity_cannot_be_rewritten() {
    let s = store_with_app().await;
    s.create_revision(new_rev("v1")).await.unwrap();
    let conn = s.lock();
    let err = conn
        .execute("UPDATE revisions SET change_cause = 'rewritten' WHERE app = 'shop' AND revision = 1", [])
        .unwrap_err();
    assert!(err.to_string().contains("immutable"), "{err}");
}

#[tokio::test]
async fn second_running_operation_is_refused_with_the_first_named() {
    let s = store_with_app().await;
    let first = s.begin_operation(op(OperationKind::Release)).await.unwrap();
    match s.begin_operation(op(OperationKind::Undo)).await {
        Err(StoreError::Busy { running }) => {
            assert_eq!(running.id, first.id);
            assert_eq!(running.kind, OperationKind::Release);
        }
        other => panic!("expected Busy, got {other:?}"),
    }
    s.apply(&app(), vec![Change::Finish { operation: first.id, state: OperationState::Succeeded, error: None }])
        .await
        .unwrap();
    let second = s.begin_operation(op(OperationKind::Undo)).await.unwrap();
    assert_ne!(second.id, first.id);
    assert_eq!(s.running_operations().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_failing_change_rolls_back_the_whole_batch() {
    let s = store_with_app().await;
    s.create_revision(new_rev("v1")).await.unwrap();
    let err = s
        .apply(
            &app(),
            vec![
                Change::Live { revision: Some(1) },
                Change::Status { revision: 1, status: RevisionStatus::Soaking, reason: None },
                Change::Status { revision: 9, status: RevisionStatus::Soaking, reason: None },
            ],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UnknownRevision { revision: 9, .. }));
    assert_eq!(s.app(&app()).await.unwrap().live_revision, None);
    assert_eq!(s.revision(&app(), 1).await.unwrap().status, RevisionStatus::Deploying);
}

#[tokio::test]
async fn steps_instances_and_lifecycle_round_trip() {
    let s = store_with_app().await;
    s.create_revision(new_rev("v1")).await.unwrap();
    let o = s.begin_operation(op(OperationKind::Release)).await.unwrap();
    let until = Utc::now() + chrono::Duration::seconds(30);
    s.apply(
        &app(),
        vec![
            Change::Step { operation: o.id, step: "started".into(), detail: Some("pid 42".into()) },
            Change::Step { operation: o.id, step: "switched".into(), detail: None },
            Change::PutInstance(InstanceRecord {
                app: "shop".into(),
                revision: 1,
                driver: "local".into(),
                handle: serde_json::json!({ "pid": 42, "start_time": 777, "port": 4100 }),
                role: InstanceRole::Serving,
                warm_until: None,
                started_at: Utc::now(),
            }),
            Change::Live { revision: Some(1) },
            Change::Status { revision: 1, status: RevisionStatus::Soaking, reason: None },
            Change::SoakUntil { revision: 1, until: Some(until) },
        ],
    )
    .await
    .unwrap();
    let o = s.operation(o.id).await.unwrap().unwrap();
    assert_eq!(o.steps.iter().map(|s| s.step.as_str()).collect::<Vec<_>>(), ["started", "switched"]);
    assert!(o.has_step("switched"));
    let inst = s.instances(&app()).await.unwrap();
    assert_eq!(inst[0].handle, serde_json::json!({ "pid": 42, "start_time": 777, "port": 4100 }));
    assert_eq!((inst[0].driver.as_str(), inst[0].role), ("local", InstanceRole::Serving));
    let r = s.revision(&app(), 1).await.unwrap();
    assert_eq!(r.status, RevisionStatus::Soaking);
    assert!(r.live_since.is_some());
    assert_eq!(r.soak_until.map(|t| t.timestamp_millis()), Some(until.timestamp_millis()));
    s.apply(&app(), vec![Change::KnownGood { revision: 1 }, Change::RemoveInstance { revision: 1 }]).await.unwrap();
    let r = s.revision(&app(), 1).await.unwrap();
    assert_eq!((r.status, r.soak_until), (RevisionStatus::KnownGood, None));
    assert!(r.known_good_at.is_some());
    assert!(s.instances(&app()).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_undone_revision_is_marked_until_it_serves_again() {
    let s = store_with_app().await;
    s.create_revision(new_rev("v1")).await.unwrap();
    s.create_revision(new_rev("v2")).await.unwrap();
    s.apply(&app(), vec![Change::Live { revision: Some(1) }, Change::Undone { revision: 2 }]).await.unwrap();
    assert!(s.revision(&app(), 2).await.unwrap().undone_at.is_some());
    assert_eq!(s.revision(&app(), 1).await.unwrap().undone_at, None);
    s.apply(&app(), vec![Change::Live { revision: Some(2) }]).await.unwrap();
    assert_eq!(s.revision(&app(), 2).await.unwrap().undone_at, None, "serving again clears the mark");
    let unknown = s.apply(&app(), vec![Change::Undone { revision: 9 }]).await;
    assert!(matches!(unknown, Err(StoreError::UnknownRevision { revision: 9, .. })), "{unknown:?}");
}

#[tokio::test]
async fn audit_chain_verifies_and_detects_tampering() {
    let s = store_with_app().await;
    for i in 0..4 {
        s.apply(
            &app(),
            vec![Change::Audit(NewAudit {
                actor: "admin".into(),
                action: "release".into(),
                outcome: "succeeded".into(),
                detail: serde_json::json!({ "revision": i }),
            })],
        )
        .await
        .unwrap();
    }
    let entries = s.audit_entries(0, 100).await.unwrap();
    assert_eq!(entries.len(), 4);
    assert_eq!(verify_chain(&entries), Ok(()));
    {
        let conn = s.lock();
        assert!(conn.execute("UPDATE audit SET outcome = 'failed' WHERE seq = 2", []).is_err());
        conn.execute_batch("DROP TRIGGER audit_no_update; UPDATE audit SET outcome = 'failed' WHERE seq = 2;").unwrap();
    }
    let entries = s.audit_entries(0, 100).await.unwrap();
    assert_eq!(verify_chain(&entries), Err(backstop_core::audit::ChainBreak::HashMismatch { seq: 2 }));
}

#[tokio::test]
async fn state_survives_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    {
        let s = SqliteStore::open(&path).unwrap();
        s.ensure_app(&app()).await.unwrap();
        s.create_revision(new_rev("v1")).await.unwrap();
        s.begin_operation(op(OperationKind::Release)).await.unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.revisions(&app()).await.unwrap().len(), 1);
    assert_eq!(s.running_operations().await.unwrap().len(), 1, "a running operation is still visible after reopen");
}

#[tokio::test]
async fn guarded_by_round_trips_and_is_immutable() {
    let s = store_with_app().await;
    s.create_revision(new_rev("v1")).await.unwrap();
    assert_eq!(s.revision(&app(), 1).await.unwrap().guarded_by, vec!["new-checkout".to_owned()]);
    let conn = s.lock();
    let err = conn.execute("UPDATE revisions SET guarded_by = '[]' WHERE revision = 1", []).unwrap_err();
    assert!(err.to_string().contains("immutable"), "{err}");
}

#[tokio::test]
async fn a_schema_1_database_is_upgraded_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    {
        // The revisions table as schema 1 had it, with one row.
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE apps (name TEXT PRIMARY KEY, live_revision INTEGER, created_at TEXT NOT NULL);
             CREATE TABLE revisions (app TEXT NOT NULL REFERENCES apps(name), revision INTEGER NOT NULL,
                 version TEXT NOT NULL, digest TEXT NOT NULL, change_cause TEXT NOT NULL, git_commit TEXT,
                 actor TEXT NOT NULL, created_at TEXT NOT NULL, status TEXT NOT NULL, status_reason TEXT,
                 live_since TEXT, soak_until TEXT, known_good_at TEXT, PRIMARY KEY (app, revision));
             CREATE TRIGGER revision_identity_is_immutable BEFORE UPDATE OF app, revision, version, digest,
                 change_cause, git_commit, actor, created_at ON revisions
                 BEGIN SELECT RAISE(ABORT, 'revision identity is immutable'); END;
             INSERT INTO apps VALUES ('shop', 1, '2026-01-01T00:00:00.000Z');
             PRAGMA user_version = 1;",
        )
        .unwrap();
        conn.execute(
            "INSERT INTO revisions (app, revision, version, digest, change_cause, actor, created_at, status) \
             VALUES ('shop', 1, 'v1', ?1, 'old', 'admin', '2026-01-01T00:00:00.000Z', 'known-good')",
            [Digest::of_bytes(b"v1").to_string()],
        )
        .unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    let r = s.revision(&app(), 1).await.unwrap();
    assert_eq!((r.version.as_str(), r.guarded_by.len(), r.undone_at), ("v1", 0, None));
    s.create_revision(new_rev("v2")).await.unwrap();
    assert_eq!(s.revision(&app(), 2).await.unwrap().guarded_by, vec!["new-checkout".to_owned()]);
    let version: i64 = s.lock().pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    drop(s);
    // Opening again is a no-op.
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.revisions(&app()).await.unwrap().len(), 2);
}

#[tokio::test]
async fn shipped_migrations_and_schema_snapshots_are_kept_per_revision() {
    let s = store_with_app().await;
    let r1 = s.create_revision(new_rev("v1")).await.unwrap().revision;
    let r2 = s.create_revision(new_rev("v2")).await.unwrap().revision;
    assert_eq!(s.revision_database(&app(), r1).await.unwrap(), RevisionDatabase::default());

    let migrations =
        serde_json::json!([{ "version": "0001", "name": "0001_users.sql", "sql": "CREATE TABLE users ()" }]);
    s.apply(
        &app(),
        vec![Change::Shipped { revision: r1, migrations: migrations.clone(), queries: serde_json::json!([]) }],
    )
    .await
    .unwrap();
    let shipped = s.revision_database(&app(), r1).await.unwrap();
    assert_eq!(shipped.migrations, migrations);
    assert_eq!(shipped.snapshot, None);

    // A snapshot is added beside what was shipped, and replaced when taken again.
    for columns in [["id", "full_name"], ["id", "name"]] {
        let snapshot = serde_json::json!({ "tables": { "public.users": columns } });
        s.apply(&app(), vec![Change::Schema { revision: r1, snapshot: snapshot.clone() }]).await.unwrap();
        let db = s.revision_database(&app(), r1).await.unwrap();
        assert_eq!(db.snapshot, Some(snapshot));
        assert_eq!(db.migrations, migrations, "the snapshot leaves the shipped folder alone");
        assert!(db.snapshot_at.is_some());
    }
    // A revision that shipped nothing can still have its schema recorded.
    s.apply(&app(), vec![Change::Schema { revision: r2, snapshot: serde_json::json!({}) }]).await.unwrap();
    assert_eq!(s.revision_database(&app(), r2).await.unwrap().migrations, serde_json::json!([]));
    // Unknown revisions are refused and nothing of the batch is written.
    let err = s
        .apply(
            &app(),
            vec![
                Change::Schema { revision: r2, snapshot: serde_json::json!({ "changed": true }) },
                Change::Schema { revision: 9, snapshot: serde_json::json!({}) },
            ],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UnknownRevision { revision: 9, .. }), "{err:?}");
    assert_eq!(s.revision_database(&app(), r2).await.unwrap().snapshot, Some(serde_json::json!({})));
}

#[tokio::test]
async fn conformance_suite_on_two_connections_to_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let n = std::sync::atomic::AtomicUsize::new(0);
    let fresh = || -> crate::conformance::Pair {
        let path = dir.path().join(format!("state-{}.db", n.fetch_add(1, std::sync::atomic::Ordering::SeqCst)));
        (std::sync::Arc::new(SqliteStore::open(&path).unwrap()), std::sync::Arc::new(SqliteStore::open(&path).unwrap()))
    };
    crate::conformance::run_all(&fresh).await;
}

#[tokio::test]
async fn schema_3_instances_move_to_driver_handles() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backstop.db");
    {
        let s = SqliteStore::open(&path).unwrap();
        s.ensure_app(&app()).await.unwrap();
        s.create_revision(new_rev("v1")).await.unwrap();
        let conn = s.lock();
        conn.execute_batch(
            "DROP TABLE instances;
             CREATE TABLE instances (app TEXT NOT NULL, revision INTEGER NOT NULL, pid INTEGER NOT NULL,
                 start_time INTEGER NOT NULL, port INTEGER NOT NULL, role TEXT NOT NULL, warm_until TEXT,
                 started_at TEXT NOT NULL, PRIMARY KEY (app, revision));
             INSERT INTO instances VALUES ('shop', 1, 42, 777, 4100, 'serving', NULL, '2026-01-01T00:00:00.000Z');
             PRAGMA user_version = 3;",
        )
        .unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    let inst = s.instances(&app()).await.unwrap();
    assert_eq!(inst.len(), 1);
    assert_eq!(inst[0].driver, "local");
    assert_eq!(inst[0].handle, serde_json::json!({ "pid": 42, "start_time": 777, "port": 4100 }));
}

#[tokio::test]
async fn schema_5_revisions_gain_git_tag_and_hotfix_of_and_stay_immutable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backstop.db");
    {
        let s = SqliteStore::open(&path).unwrap();
        s.ensure_app(&app()).await.unwrap();
        s.create_revision(new_rev("v1")).await.unwrap();
        // Back to schema 5: no git_tag, no hotfix_of, the trigger without them.
        let conn = s.lock();
        conn.execute_batch(
            "DROP TRIGGER revision_identity_is_immutable;
             ALTER TABLE revisions DROP COLUMN git_tag;
             ALTER TABLE revisions DROP COLUMN hotfix_of;
             CREATE TRIGGER revision_identity_is_immutable BEFORE UPDATE OF app, revision, version, digest,
                 change_cause, git_commit, guarded_by, actor, created_at ON revisions
                 BEGIN SELECT RAISE(ABORT, 'revision identity is immutable'); END;
             PRAGMA user_version = 5;",
        )
        .unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    let old = s.revision(&app(), 1).await.unwrap();
    assert_eq!((old.git_tag, old.hotfix_of), (None, None));
    let fix = s.create_revision(NewRevision { hotfix_of: Some(1), ..new_rev("v1.0.1") }).await.unwrap();
    let read = s.revision(&app(), fix.revision).await.unwrap();
    assert_eq!((read.git_tag.as_deref(), read.hotfix_of), (Some("v1"), Some(1)));
    let conn = s.lock();
    for column in ["git_tag = 'v9'", "hotfix_of = 7"] {
        let err = conn.execute(&format!("UPDATE revisions SET {column} WHERE revision = 2"), []).unwrap_err();
        assert!(err.to_string().contains("immutable"), "{column}: {err}");
    }
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
    assert_eq!(version, SCHEMA_VERSION);
}

#[tokio::test]
async fn schema_8_gains_revision_contracts_and_they_stay_immutable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backstop.db");
    {
        let s = SqliteStore::open(&path).unwrap();
        s.ensure_app(&app()).await.unwrap();
        s.create_revision(new_rev("v1")).await.unwrap();
        // Back to schema 8: no contracts table.
        s.lock()
            .execute_batch(
                "DROP TRIGGER revision_contracts_are_immutable;
                 DROP TABLE revision_contracts;
                 PRAGMA user_version = 8;",
            )
            .unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.revision_contracts(&app(), 1).await.unwrap(), None);
    let contracts = serde_json::json!({"produces": {"order": {"type": "object"}}});
    s.apply(&app(), vec![Change::Contracts { revision: 1, contracts: contracts.clone() }]).await.unwrap();
    assert_eq!(s.revision_contracts(&app(), 1).await.unwrap(), Some(contracts));
    let conn = s.lock();
    let err = conn.execute("UPDATE revision_contracts SET contracts = '{}'", []).unwrap_err();
    assert!(err.to_string().contains("immutable"), "{err}");
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
    assert_eq!(version, SCHEMA_VERSION);
}
