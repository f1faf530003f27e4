//! Between the engine's values and the API's wire types (`backstop-api`): the one place that
//! decides how an internal value looks on the wire.

use backstop_engine::migrations::{self, ShippedMigration, ShippedQuery};
use backstop_engine::{compat, ops};
use backstop_store::InstanceRole;

pub fn operation(o: backstop_store::Operation) -> backstop_api::Operation {
    backstop_api::Operation {
        id: o.id,
        app: o.app,
        kind: o.kind,
        state: o.state,
        actor: o.actor,
        target_revision: o.target_revision,
        from_revision: o.from_revision,
        started_at: o.started_at,
        ended_at: o.ended_at,
        error: o.error,
        steps: o
            .steps
            .into_iter()
            .map(|s| backstop_api::Step { seq: s.seq, at: s.at, step: s.step, detail: s.detail })
            .collect(),
    }
}

/// The app's last analysis, when it judged the live revision.
pub fn analysis(
    last: Option<backstop_engine::analysis::LastAnalysis>,
    live: Option<u64>,
) -> Option<backstop_api::AnalysisView> {
    let last = last.filter(|l| Some(l.revision) == live)?;
    Some(backstop_api::AnalysisView {
        revision: last.revision,
        verdict: last.judgement.verdict,
        summary: last.judgement.summary(),
        requests: last.requests,
        failures: last.failures,
        action: last.action,
        judged_at: last.at,
    })
}

/// The wire role of an instance; `None` for one being stopped (not part of the app any more).
pub fn role(role: InstanceRole) -> Option<backstop_api::InstanceRole> {
    match role {
        InstanceRole::Starting => Some(backstop_api::InstanceRole::Starting),
        InstanceRole::Serving => Some(backstop_api::InstanceRole::Serving),
        InstanceRole::Warm => Some(backstop_api::InstanceRole::Warm),
        InstanceRole::Stopping => None,
    }
}

/// The process fields of an instance's driver handle (the local driver's `pid` and `port`; zero
/// for a driver whose handle has none).
pub fn pid_port(handle: &serde_json::Value) -> (u32, u16) {
    let pid = handle.get("pid").and_then(serde_json::Value::as_u64).and_then(|p| u32::try_from(p).ok());
    let port = handle.get("port").and_then(serde_json::Value::as_u64).and_then(|p| u16::try_from(p).ok());
    (pid.unwrap_or(0), port.unwrap_or(0))
}

pub fn outcome(o: ops::Outcome) -> backstop_api::Outcome {
    backstop_api::Outcome {
        operation: o.operation,
        app: o.app,
        revision: o.revision,
        version: o.version,
        digest: o.digest,
        from_revision: o.from_revision,
        warm: o.warm,
        status: o.status,
    }
}

pub fn release_request(r: backstop_api::ReleaseRequest) -> ops::ReleaseRequest {
    ops::ReleaseRequest {
        digest: r.digest,
        version: r.version,
        change_cause: r.change_cause,
        git_commit: r.git_commit,
        image: r.image,
        guarded_by: r.guarded_by,
        migrations: r.migrations.map(|m| m.into_iter().map(migration).collect()),
        queries: r.queries.into_iter().map(|q| ShippedQuery { name: q.name, sql: q.sql }).collect(),
        hotfix: backstop_engine::hotfix::HotfixLinks {
            git_tag: r.git_tag,
            hotfix_of: r.hotfix_of,
            carries: r.carries_hotfixes,
            missing: r
                .missing_hotfixes
                .into_iter()
                .map(|m| backstop_engine::hotfix::MissingHotfix { revision: m.revision, commits: m.commits })
                .collect(),
            allow_missing: r.allow_missing_hotfix,
        },
        contracts: shipped_contracts(r.contracts.api, r.contracts.messages, r.contracts.allow_breaking),
    }
}

fn shipped_contracts(
    api: Option<backstop_api::ContractDocument>,
    messages: Vec<backstop_api::MessageContract>,
    allow: Vec<backstop_api::AllowBreaking>,
) -> compat::ShippedContracts {
    compat::ShippedContracts {
        api: api.map(|d| compat::ShippedDocument { name: d.name, text: d.text }),
        messages: messages
            .into_iter()
            .map(|m| compat::ShippedMessage {
                role: match m.role {
                    backstop_api::MessageRole::Produces => compat::Role::Produces,
                    backstop_api::MessageRole::Consumes => compat::Role::Consumes,
                },
                name: m.name,
                text: m.text,
            })
            .collect(),
        allow_breaking: allow.into_iter().map(|a| compat::Allowance { rule: a.rule, reason: a.reason }).collect(),
    }
}

pub fn compat_request(r: backstop_api::CompatRequest) -> compat::CompatRequest {
    compat::CompatRequest { against: r.against, contracts: shipped_contracts(r.api, r.messages, Vec::new()) }
}

pub fn compat_finding(f: compat::Finding) -> backstop_api::CompatFinding {
    backstop_api::CompatFinding {
        rule: f.rule,
        severity: f.severity.as_str().to_owned(),
        direction: f.direction.as_str().to_owned(),
        document: f.document,
        path: f.path,
        message: f.message,
        old_revision: f.old_revision,
        new_revision: f.new_revision,
    }
}

pub fn compat_report(r: compat::CompatReport) -> backstop_api::CompatReport {
    let breaking = r.findings.iter().filter(|f| f.is_breaking()).count() as u64;
    backstop_api::CompatReport {
        app: r.app,
        revision: r.revision,
        against: r.against,
        warnings: r.findings.len() as u64 - breaking,
        breaking,
        findings: r.findings.into_iter().map(compat_finding).collect(),
    }
}

pub fn migration(m: backstop_api::ShippedMigration) -> ShippedMigration {
    ShippedMigration { version: m.version, name: m.name, sql: m.sql, down: m.down }
}

/// What an abort did, for `app`.
pub fn aborted(app: &str) -> impl Fn(backstop_engine::abort::Aborted) -> backstop_api::AbortOutcome + '_ {
    move |a| backstop_api::AbortOutcome {
        operation: a.operation,
        app: app.to_owned(),
        revision: a.revision,
        before_traffic: a.before_traffic,
        traffic_on: a.traffic_on,
    }
}

pub fn undo_request(r: backstop_api::UndoRequest) -> ops::UndoRequest {
    ops::UndoRequest { to_revision: r.to_revision, force: r.force }
}

pub fn artifact_kind(k: backstop_artifacts::ArtifactKind) -> backstop_api::ArtifactKind {
    match k {
        backstop_artifacts::ArtifactKind::File => backstop_api::ArtifactKind::File,
        backstop_artifacts::ArtifactKind::Dir => backstop_api::ArtifactKind::Dir,
    }
}

pub fn written(w: backstop_engine::flags::Written) -> backstop_api::Written {
    backstop_api::Written { flag: w.flag, changed: w.changed, config_version: w.config_version }
}

pub fn rollback_check(c: migrations::RollbackCheck) -> backstop_api::RollbackCheck {
    backstop_api::RollbackCheck {
        app: c.app,
        revision: c.revision,
        live_revision: c.live_revision,
        mode: match c.mode {
            migrations::CheckMode::Precise => backstop_api::CheckMode::Precise,
            migrations::CheckMode::Conservative => backstop_api::CheckMode::Conservative,
            migrations::CheckMode::Unchecked => backstop_api::CheckMode::Unchecked,
        },
        safe: c.safe,
        problems: c.problems.into_iter().map(problem).collect(),
        set_aside: c.set_aside.into_iter().map(problem).collect(),
        down: c
            .down
            .into_iter()
            .map(|d| backstop_api::DownStep { version: d.version, down: d.down, loses_data: d.loses_data })
            .collect(),
        advice: c.advice,
        note: c.note,
    }
}

pub fn problem(p: backstop_appdb::Problem) -> backstop_api::Problem {
    use backstop_api::ProblemKind as W;
    use backstop_appdb::ProblemKind as K;
    let kind = match p.kind {
        K::TableDropped { renamed_to } => W::TableDropped { renamed_to },
        K::ColumnDropped { renamed_to } => W::ColumnDropped { renamed_to },
        K::TypeChanged { from, to } => W::TypeChanged { from, to },
        K::NewNotNullWithoutDefault => W::NewNotNullWithoutDefault,
        K::BecameRequired => W::BecameRequired,
        K::NewConstraint { name, constraint, definition } => {
            W::NewConstraint { name, constraint: constraint_kind(constraint), definition }
        }
        K::QueryFails { error } => W::QueryFails { error },
        K::BecameGenerated => W::BecameGenerated,
        K::EnumValuesRemoved { enum_type, removed } => W::EnumValuesRemoved { enum_type, removed },
        K::DomainTightened { domain } => W::DomainTightened { domain },
        K::FunctionChanged { function, change } => W::FunctionChanged { function, change },
        K::SequenceDropped => W::SequenceDropped,
        K::ViewLostWrites { writes } => W::ViewLostWrites { writes },
        K::NewTrigger { name, events } => W::NewTrigger { name, events },
        K::RowSecurity { policy } => W::RowSecurity { policy },
        K::Partitioned => W::Partitioned,
        K::ReferencedBy { table, definition } => W::ReferencedBy { table, definition },
        K::QueryUnreadable { reason } => W::QueryUnreadable { reason },
    };
    backstop_api::Problem { object: p.object, kind, message: p.message, query: p.query, unseen: p.unseen }
}

fn constraint_kind(k: backstop_appdb::ConstraintKind) -> backstop_api::ConstraintKind {
    use backstop_api::ConstraintKind as W;
    use backstop_appdb::ConstraintKind as K;
    match k {
        K::PrimaryKey => W::PrimaryKey,
        K::Unique => W::Unique,
        K::ForeignKey => W::ForeignKey,
        K::Check => W::Check,
        K::NotNull => W::NotNull,
        K::Exclusion => W::Exclusion,
        K::Other => W::Other,
    }
}

pub fn plan_view(v: migrations::PlanView) -> backstop_api::PlanView {
    backstop_api::PlanView {
        app: v.app,
        source: v.source,
        applied: v.applied,
        migrations: v
            .migrations
            .into_iter()
            .map(|f| backstop_api::PlannedFile {
                version: f.version,
                file: f.file,
                stage: match f.stage {
                    backstop_migrate::Stage::Expand => backstop_api::Stage::Expand,
                    backstop_migrate::Stage::Contract => backstop_api::Stage::Contract,
                },
                reason: f.reason,
                statements: f
                    .statements
                    .into_iter()
                    .map(|s| backstop_api::PlannedStatement { line: s.line, phase: phase(s.phase), kind: s.kind })
                    .collect(),
            })
            .collect(),
        refusals: v
            .refusals
            .into_iter()
            .map(|r| backstop_api::Refusal {
                file: r.file,
                line: r.line,
                rule: r.rule,
                message: r.message,
                help: r.help,
            })
            .collect(),
    }
}

fn phase(p: backstop_migrate::Phase) -> backstop_api::Phase {
    match p {
        backstop_migrate::Phase::Expand => backstop_api::Phase::Expand,
        backstop_migrate::Phase::Backfill => backstop_api::Phase::Backfill,
        backstop_migrate::Phase::Contract => backstop_api::Phase::Contract,
    }
}

pub fn contract_outcome(o: migrations::ContractOutcome) -> backstop_api::ContractOutcome {
    backstop_api::ContractOutcome {
        app: o.app,
        operation: o.operation,
        revision: o.revision,
        applied: o.applied,
        checked: o.checked,
    }
}

/// A window of traffic signals on the wire.
pub fn window(counts: &backstop_core::signals::Counts) -> backstop_api::Window {
    let ms = |q: f64| counts.latency.quantile(q).map(|d| d.as_secs_f64() * 1000.0);
    backstop_api::Window {
        requests: counts.requests,
        failures: counts.failures,
        error_ratio: counts.error_ratio(),
        p50_ms: ms(0.5),
        p99_ms: ms(0.99),
    }
}

/// An app's signals per revision.
pub fn signals(
    app: &backstop_core::AppName,
    live: Option<u64>,
    revisions: &[backstop_engine::signals::RevisionSignals],
) -> backstop_api::AppSignals {
    backstop_api::AppSignals {
        app: app.to_string(),
        live_revision: live,
        revisions: revisions
            .iter()
            .map(|r| backstop_api::RevisionSignals {
                revision: r.revision,
                live: live == Some(r.revision),
                last_minute: window(&r.last_minute),
                total: window(&r.total),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use backstop_appdb::{ConstraintKind, Problem, ProblemKind};

    use super::*;

    fn same_json<A: serde::Serialize, B: serde::Serialize>(engine: &A, wire: &B) {
        assert_eq!(serde_json::to_value(engine).unwrap(), serde_json::to_value(wire).unwrap());
    }

    #[test]
    fn analysis_is_shown_for_the_live_revision_only() {
        use backstop_core::analysis::{AnalysisConfig, OnFailure, Verdict, judge};
        let judgement = judge(
            &AnalysisConfig::default(),
            &backstop_core::signals::Counts { requests: 40, failures: 12, ..Default::default() },
            None,
        );
        let last = backstop_engine::analysis::LastAnalysis {
            revision: 2,
            judgement: judgement.clone(),
            requests: 40,
            failures: 12,
            action: Some(OnFailure::Revert),
            at: Default::default(),
        };
        // (live revision, shown)
        for (live, shown) in [(Some(2), true), (Some(1), false), (None, false)] {
            assert_eq!(analysis(Some(last.clone()), live).is_some(), shown, "{live:?}");
        }
        let view = analysis(Some(last), Some(2)).unwrap();
        assert_eq!((view.verdict, view.requests, view.failures), (Verdict::Fail, 40, 12));
        assert_eq!(view.summary, judgement.summary());
        assert_eq!(analysis(None, Some(2)), None);
    }

    #[test]
    fn every_problem_kind_keeps_its_json_on_the_wire() {
        let kinds = [
            ProblemKind::TableDropped { renamed_to: Some("people".into()) },
            ProblemKind::ColumnDropped { renamed_to: None },
            ProblemKind::TypeChanged { from: "integer".into(), to: "text".into() },
            ProblemKind::NewNotNullWithoutDefault,
            ProblemKind::BecameRequired,
            ProblemKind::NewConstraint {
                name: "users_age_check".into(),
                constraint: ConstraintKind::Check,
                definition: "CHECK (age > 0)".into(),
            },
            ProblemKind::QueryFails { error: "column \"name\" does not exist".into() },
            ProblemKind::BecameGenerated,
            ProblemKind::EnumValuesRemoved { enum_type: "mood".into(), removed: vec!["sad".into()] },
            ProblemKind::DomainTightened { domain: "email".into() },
            ProblemKind::FunctionChanged { function: "f(integer)".into(), change: "gone".into() },
            ProblemKind::SequenceDropped,
            ProblemKind::ViewLostWrites { writes: vec!["insert".into()] },
            ProblemKind::NewTrigger { name: "audit".into(), events: vec!["insert".into()] },
            ProblemKind::RowSecurity { policy: None },
            ProblemKind::Partitioned,
            ProblemKind::ReferencedBy { table: "orders".into(), definition: "FOREIGN KEY (user_id)".into() },
            ProblemKind::QueryUnreadable { reason: "a DO block".into() },
        ];
        for (i, kind) in kinds.into_iter().enumerate() {
            let p = Problem {
                object: "users.age".into(),
                kind,
                message: "breaks".into(),
                query: (i % 2 == 0).then(|| "queries/users.sql:3".into()),
                unseen: (i % 3 == 0).then(|| "the values written".into()),
            };
            same_json(&p, &problem(p.clone()));
        }
    }

    #[test]
    fn the_migration_answers_keep_their_json_on_the_wire() {
        let p = Problem {
            object: "users".into(),
            kind: ProblemKind::TableDropped { renamed_to: None },
            message: "table users is gone".into(),
            query: None,
            unseen: None,
        };
        for mode in
            [migrations::CheckMode::Precise, migrations::CheckMode::Conservative, migrations::CheckMode::Unchecked]
        {
            let check = migrations::RollbackCheck {
                app: "shop".into(),
                revision: 2,
                live_revision: Some(3),
                mode,
                safe: false,
                problems: vec![p.clone()],
                set_aside: vec![p.clone()],
                down: vec![migrations::DownStep {
                    version: "0003".into(),
                    down: Some("0003_drop.down.sql".into()),
                    loses_data: vec!["line 1: drop table".into()],
                }],
                advice: "do not".into(),
                note: Some("note".into()),
            };
            same_json(&check, &rollback_check(check.clone()));
        }
        let plan = migrations::PlanView {
            app: "shop".into(),
            source: "pending release".into(),
            applied: vec!["0001".into()],
            migrations: [backstop_migrate::Stage::Expand, backstop_migrate::Stage::Contract]
                .into_iter()
                .map(|stage| migrations::PlannedFile {
                    version: "0002".into(),
                    file: "0002_x.sql".into(),
                    stage,
                    reason: "why".into(),
                    statements: [
                        backstop_migrate::Phase::Expand,
                        backstop_migrate::Phase::Backfill,
                        backstop_migrate::Phase::Contract,
                    ]
                    .into_iter()
                    .map(|phase| migrations::PlannedStatement { line: 1, phase, kind: "add column".into() })
                    .collect(),
                })
                .collect(),
            refusals: vec![backstop_migrate::Refusal {
                file: "0002_x.sql".into(),
                line: 4,
                rule: "rename-in-release".into(),
                message: "m".into(),
                help: "h".into(),
            }],
        };
        same_json(&plan, &plan_view(plan.clone()));
        let outcome = migrations::ContractOutcome {
            app: "shop".into(),
            operation: Some(7),
            revision: 3,
            applied: vec!["0003".into()],
            checked: vec![2, 3],
        };
        same_json(&outcome, &contract_outcome(outcome.clone()));
    }
}
