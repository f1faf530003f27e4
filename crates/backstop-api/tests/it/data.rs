//! Rollback check, migration plan, contract, artifacts, gc and the audit log.

use backstop_api::{
    AppListQuery, ArtifactInfo, ArtifactKind, AuditEntry, AuditQuery, AuditVerify, CheckMode, ConstraintKind,
    ContractOutcome, DownStep, GcSummary, ListQuery, Phase, PlanRequest, PlanView, PlannedFile, PlannedStatement,
    Problem, ProblemKind, Refusal, RollbackCheck, ShippedMigration, Stage, Uploaded,
};
use insta::assert_snapshot;
use serde_json::json;

use crate::{digest, reads_as, round_trip};

fn problem(object: &str, kind: ProblemKind, message: &str) -> Problem {
    Problem { object: object.into(), kind, message: message.into(), query: None, unseen: None }
}

#[test]
fn rollback_check_unsafe() {
    let check = RollbackCheck {
        app: "accounts".into(),
        revision: 2,
        live_revision: Some(3),
        mode: CheckMode::Conservative,
        safe: false,
        problems: vec![
            problem(
                "users.full_name",
                ProblemKind::ColumnDropped { renamed_to: Some("users.display_name".into()) },
                "column users.full_name is gone",
            ),
            problem(
                "users.users_age_check",
                ProblemKind::NewConstraint {
                    name: "users_age_check".into(),
                    constraint: ConstraintKind::Check,
                    definition: "CHECK (age >= 0)".into(),
                },
                "constraint users_age_check may reject its writes",
            ),
        ],
        set_aside: vec![],
        down: vec![DownStep {
            version: "0003".into(),
            down: Some("0003_rename.down.sql".into()),
            loses_data: vec!["line 1: alter table drop column".into()],
        }],
        advice: "roll forward with a fix instead".into(),
        note: None,
    };
    assert_snapshot!(round_trip(&check));
    assert_eq!(check.summary(), "column users.full_name is gone; constraint users_age_check may reject its writes");
}

#[test]
fn rollback_check_precise_and_safe() {
    let check = RollbackCheck {
        app: "accounts".into(),
        revision: 2,
        live_revision: Some(3),
        mode: CheckMode::Precise,
        safe: true,
        problems: vec![],
        set_aside: vec![problem("audit", ProblemKind::TableDropped { renamed_to: None }, "table audit is gone")],
        down: vec![],
        advice: String::new(),
        note: Some("4 queries prepared".into()),
    };
    assert_snapshot!(round_trip(&check));
}

#[test]
fn every_problem_kind() {
    let kinds = vec![
        ProblemKind::TableDropped { renamed_to: None },
        ProblemKind::ColumnDropped { renamed_to: None },
        ProblemKind::TypeChanged { from: "integer".into(), to: "text".into() },
        ProblemKind::NewNotNullWithoutDefault,
        ProblemKind::BecameRequired,
        ProblemKind::NewConstraint {
            name: "users_pkey".into(),
            constraint: ConstraintKind::PrimaryKey,
            definition: "PRIMARY KEY (id)".into(),
        },
        ProblemKind::QueryFails { error: "column \"name\" does not exist".into() },
    ];
    assert_snapshot!(round_trip(&kinds));
    let modes: Vec<CheckMode> = reads_as(json!(["precise", "conservative", "unchecked"]));
    assert_eq!(modes.len(), 3);
}

#[test]
fn every_problem_kind_of_the_schema_picture_with_query_and_unseen() {
    let kinds = vec![
        ProblemKind::BecameGenerated,
        ProblemKind::EnumValuesRemoved { enum_type: "mood".into(), removed: vec!["sad".into()] },
        ProblemKind::DomainTightened { domain: "email".into() },
        ProblemKind::FunctionChanged { function: "f(integer)".into(), change: "gone".into() },
        ProblemKind::SequenceDropped,
        ProblemKind::ViewLostWrites { writes: vec!["insert".into()] },
        ProblemKind::NewTrigger { name: "audit".into(), events: vec!["insert".into(), "update".into()] },
        ProblemKind::RowSecurity { policy: Some("tenant".into()) },
        ProblemKind::Partitioned,
        ProblemKind::ReferencedBy { table: "orders".into(), definition: "FOREIGN KEY (user_id)".into() },
        ProblemKind::QueryUnreadable { reason: "a DO block".into() },
    ];
    assert_snapshot!(round_trip(&kinds));
    let problem = Problem {
        query: Some("queries/users.sql:3".into()),
        unseen: Some("the values the query writes".into()),
        ..problem("users.users_age_check", ProblemKind::BecameRequired, "inserts that leave out age fail")
    };
    assert_snapshot!(round_trip(&problem));
}

#[test]
fn plan_request() {
    assert_snapshot!(round_trip(&PlanRequest {
        migrations: Some(vec![ShippedMigration {
            version: "0003".into(),
            name: "0003_drop.up.sql".into(),
            sql: "ALTER TABLE users DROP COLUMN full_name;".into(),
            down: None,
        }]),
    }));
    // The live revision's folder: no migrations, or an empty body.
    assert_eq!(serde_json::from_value::<PlanRequest>(json!({ "migrations": null })).unwrap(), PlanRequest::default());
    assert_eq!(serde_json::from_value::<PlanRequest>(json!({})).unwrap(), PlanRequest::default());
}

#[test]
fn plan_view() {
    let plan = PlanView {
        app: "accounts".into(),
        source: "pending release".into(),
        applied: vec!["0001".into()],
        migrations: vec![
            PlannedFile {
                version: "0002".into(),
                file: "0002_name.up.sql".into(),
                stage: Stage::Expand,
                reason: "adds a nullable column".into(),
                statements: vec![PlannedStatement { line: 1, phase: Phase::Expand, kind: "add column".into() }],
            },
            PlannedFile {
                version: "0003".into(),
                file: "0003_drop.up.sql".into(),
                stage: Stage::Contract,
                reason: "drops a column the previous code reads".into(),
                statements: vec![
                    PlannedStatement { line: 1, phase: Phase::Backfill, kind: "update".into() },
                    PlannedStatement { line: 3, phase: Phase::Contract, kind: "drop column".into() },
                ],
            },
        ],
        refusals: vec![Refusal {
            file: "0003_drop.up.sql".into(),
            line: 3,
            rule: "mixed-expand-and-contract".into(),
            message: "the file mixes expand and contract statements".into(),
            help: "split it in two files".into(),
        }],
    };
    assert_snapshot!(round_trip(&plan));
}

#[test]
fn contract_outcome() {
    let done = ContractOutcome {
        app: "accounts".into(),
        operation: Some(12),
        revision: 3,
        applied: vec!["0003".into()],
        checked: vec![3, 2],
    };
    assert_snapshot!(round_trip(&done));
    let nothing: ContractOutcome = reads_as(json!({
        "app": "accounts", "operation": null, "revision": 3, "applied": [], "checked": [],
    }));
    assert_eq!(nothing.operation, None);
}

#[test]
fn artifacts() {
    assert_snapshot!("artifact_info", round_trip(&ArtifactInfo { digest: digest(1) }));
    assert_snapshot!(
        "uploaded_new",
        round_trip(&Uploaded { digest: digest(1), kind: Some(ArtifactKind::Dir), stored: true })
    );
    // Already stored: the server leaves `kind` out.
    let again: Uploaded = reads_as(json!({ "digest": digest(1), "stored": false }));
    assert_eq!(again.kind, None);
    assert_snapshot!("uploaded_again", round_trip(&again));
    let file: Uploaded = reads_as(json!({ "digest": digest(1), "kind": "file", "stored": true }));
    assert_eq!(file.kind, Some(ArtifactKind::File));
}

#[test]
fn gc_summary() {
    let gc = GcSummary {
        freed_bytes: 81_920,
        kept: 3,
        removed: vec![digest(7), digest(8)],
        removed_logs: vec!["shop/2".into()],
        dry_run: false,
    };
    assert_snapshot!(round_trip(&gc));
}

#[test]
fn audit_entries() {
    let entry = AuditEntry {
        seq: 1,
        at: "2026-03-14T09:02:00.000000Z".into(),
        actor: "admin:ana".into(),
        action: "release".into(),
        app: Some("shop".into()),
        outcome: "succeeded".into(),
        detail: serde_json::json!({"operation": 7, "revision": 2}),
        prev_hash: "0".repeat(64),
        hash: "ab".repeat(32),
    };
    assert_snapshot!(round_trip(&vec![entry]));
}

#[test]
fn audit_verify_intact_and_broken() {
    let intact = AuditVerify::Intact { entries: 12, head: Some("ab".repeat(32)) };
    assert_snapshot!("audit_verify_intact", round_trip(&intact));
    let broken = AuditVerify::Broken { entries: 12, reason: "audit entry 7 does not match its hash".into() };
    assert_snapshot!("audit_verify_broken", round_trip(&broken));
    assert!(intact.is_intact() && !broken.is_intact());
    assert_eq!(broken.entries(), 12);
    // An empty log: `head` is null, not absent.
    let empty: AuditVerify = reads_as(json!({ "ok": true, "entries": 0, "head": null }));
    assert_eq!(empty, AuditVerify::Intact { entries: 0, head: None });
    assert_snapshot!("audit_verify_empty", round_trip(&empty));
    // Contradictions are refused rather than guessed at.
    assert!(serde_json::from_value::<AuditVerify>(json!({ "ok": false, "entries": 1 })).is_err());
    assert!(serde_json::from_value::<AuditVerify>(json!({ "ok": true, "entries": 1, "break": "x" })).is_err());
}

#[test]
fn list_query() {
    assert_snapshot!(round_trip(&AuditQuery { limit: Some(50), after: Some(120), ..AuditQuery::default() }));
    assert_eq!(round_trip(&AuditQuery::default()), "{}");
    let listing = ListQuery { limit: Some(5), since: Some("1h".into()) };
    assert_eq!(
        serde_json::to_value(round_trip(&listing).parse::<serde_json::Value>().unwrap()).unwrap(),
        json!({"limit": 5, "since": "1h"})
    );
    // A misspelt filter is refused, not ignored.
    assert!(serde_json::from_value::<AppListQuery>(json!({"limt": 5})).is_err());
}

#[test]
fn audit_detail_is_read_back_into_json_and_old_text_rows_stay_strings() {
    let stored = |detail: &str| backstop_core::audit::AuditEntry {
        seq: 1,
        at: "2026-03-14T09:02:00.000000Z".into(),
        actor: "admin".into(),
        action: "gc".into(),
        app: None,
        outcome: "succeeded".into(),
        detail: detail.into(),
        prev_hash: "0".repeat(64),
        hash: "ab".repeat(32),
    };
    for (text, want) in [
        (r#"{"kept":2}"#, serde_json::json!({"kept": 2})),
        ("", serde_json::json!("")),
        ("freed 3 artifacts", serde_json::json!("freed 3 artifacts")),
        ("[1,2]", serde_json::json!([1, 2])),
    ] {
        assert_eq!(AuditEntry::from(stored(text)).detail, want, "{text:?}");
    }
}
