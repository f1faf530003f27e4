//! Data safety: what each release does to its app's database.
//!
//! - At release: the gate of `backstop_migrate::plan_stages` over the pending migrations, then the
//!   expand stage before the new code starts.
//! - When a revision goes live: the schema it runs on is recorded (`Change::Schema`).
//! - Before an undo: the rollback check, the target's recorded schema (or its own queries) against the
//!   schema now.
//! - `migrate contract`: the contract stage, only once the live revision is proven and no revision in
//!   the rollback window (newer than the last permanent one, and built before the contract) would break.
//!
//! Every decision is made by the pure crates (`backstop-migrate`, `backstop-schema`'s verdicts); this
//! module reads the database and the ledger, journals and audits.

use std::collections::BTreeMap;

use backstop_appdb::{Database, ExpandRefusal, MigrationFile, OldQuery, Problem, ProtectedRevision, Snapshot, Verdict};
use backstop_core::{AppName, OperationKind, OperationState, Revision, RevisionStatus};
use backstop_migrate::{Pending, Phase, Refusal, StagePlan, analyze, plan_stages};
use backstop_store::{Change, NewAudit};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::DatabaseConfig;
use crate::engine::{AppRuntime, Engine};
use crate::error::OpError;

/// One migration file a release ships; `down` is the text of its `.down.sql` pair, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippedMigration {
    pub version: String,
    pub name: String,
    pub sql: String,
    #[serde(default)]
    pub down: Option<String>,
}

/// One query a release's code runs, for the precise rollback check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShippedQuery {
    pub name: String,
    pub sql: String,
}

/// The gate's answer for a release, with the files of its expand stage.
#[derive(Debug, Clone)]
pub(crate) struct ReleasePlan {
    pub stages: StagePlan,
    pub applied: Vec<String>,
    pub expand: Vec<MigrationFile>,
    /// The analysis of each pending migration, in the order of `stages.migrations`.
    pub reports: Vec<backstop_migrate::Report>,
}

/// How the rollback check compared the schemas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckMode {
    /// The target shipped its queries: each is prepared against the schema now.
    Precise,
    /// Every difference from the target's recorded schema counts.
    Conservative,
    /// Nothing to compare: the app has no database, or the target's schema was never recorded.
    Unchecked,
}

/// One migration applied since the target revision, and what running its down migration would cost.
#[derive(Debug, Clone, Serialize)]
pub struct DownStep {
    pub version: String,
    /// The down migration's file, when the live revision shipped one.
    pub down: Option<String>,
    /// What running it would lose, one statement each (`line 1: alter table drop column`).
    pub loses_data: Vec<String>,
}

/// The answer of `check-rollback`, and what an undo checks before it moves traffic.
#[derive(Debug, Clone, Serialize)]
pub struct RollbackCheck {
    pub app: String,
    pub revision: u64,
    pub live_revision: Option<u64>,
    pub mode: CheckMode,
    pub safe: bool,
    pub problems: Vec<Problem>,
    /// Differences the precise check set aside: the target's queries do not touch them.
    pub set_aside: Vec<Problem>,
    /// Migrations applied since the target, newest first, with their down migrations.
    pub down: Vec<DownStep>,
    pub advice: String,
    pub note: Option<String>,
}

impl RollbackCheck {
    /// The problems on one line: `users.full_name: column users.full_name is gone; ...`.
    pub fn summary(&self) -> String {
        self.problems.iter().map(|p| p.message.as_str()).collect::<Vec<_>>().join("; ")
    }
}

/// What `migrate contract` did.
#[derive(Debug, Clone, Serialize)]
pub struct ContractOutcome {
    pub app: String,
    pub operation: Option<u64>,
    pub revision: u64,
    pub applied: Vec<String>,
    /// Revisions checked against the post-contract schema.
    pub checked: Vec<u64>,
}

/// A revision in the rollback window, as stored.
struct WindowRevision {
    revision: u64,
    schema: Option<Snapshot>,
    queries: Vec<ShippedQuery>,
}

/// `migrate plan`: where each migration of a folder runs, and why.
#[derive(Debug, Clone, Serialize)]
pub struct PlanView {
    pub app: String,
    /// `live revision N` or `pending release`.
    pub source: String,
    pub applied: Vec<String>,
    pub migrations: Vec<PlannedFile>,
    pub refusals: Vec<Refusal>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedFile {
    pub version: String,
    pub file: String,
    pub stage: backstop_migrate::Stage,
    pub reason: String,
    pub statements: Vec<PlannedStatement>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlannedStatement {
    pub line: u32,
    pub phase: Phase,
    pub kind: String,
}

fn decode<T: serde::de::DeserializeOwned + Default>(what: &str, value: &serde_json::Value) -> Result<T, OpError> {
    if value.is_null() {
        return Ok(T::default());
    }
    serde_json::from_value(value.clone())
        .map_err(|e| OpError::CorruptState { message: format!("stored {what} cannot be read: {e}") })
}

fn files(shipped: &[ShippedMigration]) -> Vec<MigrationFile> {
    shipped.iter().map(|m| MigrationFile::new(&m.version, &m.name, &m.sql)).collect()
}

fn queries(shipped: &[ShippedQuery]) -> Vec<(String, String)> {
    shipped.iter().map(|q| (q.name.clone(), q.sql.clone())).collect()
}

fn old_queries(shipped: &[ShippedQuery]) -> Vec<OldQuery> {
    shipped.iter().map(|q| OldQuery::new(&q.name, &q.sql)).collect()
}

impl Engine {
    pub(crate) fn database(&self, app: &AppName, rt: &AppRuntime) -> Result<DatabaseConfig, OpError> {
        rt.config().database.clone().ok_or_else(|| OpError::NoDatabase { app: app.to_string() })
    }

    /// The stage plan of `shipped` against the database's ledger. Refuses a changed applied
    /// migration and unparseable SQL; the plan's own refusals are for the caller to act on.
    pub(crate) async fn plan_release(
        &self,
        db: &Database,
        shipped: &[ShippedMigration],
    ) -> Result<ReleasePlan, OpError> {
        let ledger = db.applied().await?;
        let mut applied = Vec::new();
        let mut pending = Vec::new();
        for m in shipped {
            match ledger.get(&m.version) {
                Some(sum) if *sum == backstop_appdb::checksum(&m.sql) => applied.push(m.version.clone()),
                Some(sum) => {
                    return Err(backstop_appdb::SchemaError::ChecksumMismatch {
                        version: m.version.clone(),
                        applied: sum.clone(),
                        current: backstop_appdb::checksum(&m.sql),
                    }
                    .into());
                }
                None => {
                    let report = analyze(&m.name, &m.sql, db.dialect()).map_err(|source| {
                        OpError::from(backstop_appdb::SchemaError::Parse { version: m.version.clone(), source })
                    })?;
                    pending.push((m, report));
                }
            }
        }
        let refs: Vec<Pending<'_>> =
            pending.iter().map(|(m, r)| Pending { version: &m.version, file: &m.name, report: r }).collect();
        let stages = plan_stages(&refs);
        let expand_versions: Vec<&str> = stages.versions(backstop_migrate::Stage::Expand).collect();
        let expand = files(shipped).into_iter().filter(|f| expand_versions.contains(&f.version.as_str())).collect();
        let reports = pending.into_iter().map(|(_, report)| report).collect();
        Ok(ReleasePlan { stages, applied, expand, reports })
    }

    /// `migrate plan`: the stages of `shipped`, or of the live revision's folder.
    pub async fn migrate_plan(
        &self,
        app_name: &str,
        shipped: Option<Vec<ShippedMigration>>,
    ) -> Result<PlanView, OpError> {
        let (app, rt) = self.app(app_name)?;
        let database = self.database(&app, &rt)?;
        let db = &database.db;
        let (source, shipped) = match shipped {
            Some(s) => ("pending release".to_owned(), s),
            None => {
                let live = self.store.app(&app).await?.live_revision.ok_or_else(|| OpError::BadRequest {
                    message: format!("nothing is live on `{app}` and no migrations were given"),
                })?;
                let stored = self.store.revision_database(&app, live).await?;
                (format!("live revision {live}"), decode("migrations", &stored.migrations)?)
            }
        };
        let plan = self.plan_release(db, &shipped).await?;
        let migrations = plan
            .stages
            .migrations
            .iter()
            .zip(plan.reports)
            .map(|(placed, report)| PlannedFile {
                version: placed.version.clone(),
                file: placed.file.clone(),
                stage: placed.stage,
                reason: placed.reason.clone(),
                statements: report
                    .statements
                    .into_iter()
                    .map(|s| PlannedStatement { line: s.line, phase: s.phase, kind: s.kind })
                    .collect(),
            })
            .collect();
        Ok(PlanView { app: app.to_string(), source, applied: plan.applied, migrations, refusals: plan.stages.refusals })
    }

    /// Record the database's schema for `revision` unless one is recorded already: the schema the
    /// revision first went live on. Failures are logged; the revision then has no recorded schema.
    pub(crate) async fn record_schema_if_missing(&self, app: &AppName, rt: &AppRuntime, revision: u64) {
        let Some(db) = &rt.config().database else { return };
        match self.store.revision_database(app, revision).await {
            Ok(stored) if stored.snapshot.is_some() => return,
            Ok(_) => {}
            Err(e) => {
                tracing::error!(app = %app, revision, error = %e, "cannot read the recorded schema");
                return;
            }
        }
        self.record_schema(app, &db.db, revision).await;
    }

    async fn record_schema(&self, app: &AppName, db: &Database, revision: u64) {
        let snapshot = match db.snapshot().await {
            Ok(s) => s,
            Err(e) => {
                let error = crate::error::chain(&e);
                tracing::error!(app = %app, revision, error, "cannot read the database schema");
                return;
            }
        };
        let snapshot = serde_json::to_value(&snapshot).unwrap_or_default();
        if let Err(e) = self.store.apply(app, vec![Change::Schema { revision, snapshot }]).await {
            tracing::error!(app = %app, revision, error = %e, "cannot record the database schema");
        }
    }

    /// Can `revision` run on the schema as it is now? Reads the database; changes nothing.
    pub async fn rollback_check(&self, app_name: &str, revision: u64) -> Result<RollbackCheck, OpError> {
        let (app, rt) = self.app(app_name)?;
        // Named as unknown before anything else is read.
        self.store.revision(&app, revision).await?;
        let live = self.store.app(&app).await?.live_revision;
        self.check_rollback(&app, &rt, revision, live).await
    }

    /// [`Engine::rollback_check`] for a revision known to exist, with the live revision already read
    /// (an undo has both in hand).
    pub(crate) async fn check_rollback(
        &self,
        app: &AppName,
        rt: &AppRuntime,
        revision: u64,
        live: Option<u64>,
    ) -> Result<RollbackCheck, OpError> {
        let mut check = RollbackCheck {
            app: app.to_string(),
            revision,
            live_revision: live,
            mode: CheckMode::Unchecked,
            safe: true,
            problems: Vec::new(),
            set_aside: Vec::new(),
            down: Vec::new(),
            advice: String::new(),
            note: None,
        };
        let Some(db) = &rt.config().database else {
            check.note = Some(format!("`{app}` has no [apps.{app}.database]: there is no schema to check"));
            return Ok(check);
        };
        let stored = self.store.revision_database(app, revision).await?;
        let Some(recorded) = &stored.snapshot else {
            check.note = Some(format!(
                "revision {revision} never went live with its schema recorded, so there is nothing to compare"
            ));
            return Ok(check);
        };
        let target_schema: Snapshot = serde_json::from_value(recorded.clone())
            .map_err(|e| OpError::BadRequest { message: format!("recorded schema of revision {revision}: {e}") })?;
        let now = db.db.snapshot().await?;
        let shipped_queries: Vec<ShippedQuery> = decode("queries", &stored.queries)?;
        let verdict = self.verdict_for(&db.db, &target_schema, &now, &shipped_queries, None).await?;
        check.mode = if shipped_queries.is_empty() { CheckMode::Conservative } else { CheckMode::Precise };
        check.safe = verdict.safe;
        check.problems = verdict.problems;
        check.set_aside = verdict.unused;
        if !check.safe {
            // Only a refusal needs the way back; a safe answer stays one catalog read.
            check.down = self.down_steps(app, &db.db, &stored.migrations, live).await?;
        }
        check.advice = advice(&check);
        Ok(check)
    }

    async fn verdict_for(
        &self,
        db: &Database,
        target: &Snapshot,
        schema: &Snapshot,
        shipped_queries: &[ShippedQuery],
        contract: Option<&str>,
    ) -> Result<Verdict, OpError> {
        if shipped_queries.is_empty() {
            return Ok(backstop_appdb::verdict(target, schema, None, &[]));
        }
        let checks = db.check_queries(&queries(shipped_queries), contract).await?;
        Ok(backstop_appdb::verdict(target, schema, Some(&old_queries(shipped_queries)), &checks))
    }

    /// The migrations in the ledger that `target` did not ship, newest first, with the live
    /// revision's down migrations for them and what those would lose.
    async fn down_steps(
        &self,
        app: &AppName,
        db: &Database,
        target_migrations: &serde_json::Value,
        live: Option<u64>,
    ) -> Result<Vec<DownStep>, OpError> {
        let target_shipped: Vec<ShippedMigration> = decode("migrations", target_migrations)?;
        let live_shipped: Vec<ShippedMigration> = match live {
            Some(l) => decode("migrations", &self.store.revision_database(app, l).await?.migrations)?,
            None => Vec::new(),
        };
        let ledger = db.applied().await?;
        // In the live folder's run order where it is known, the rest after it.
        let mut since: Vec<&String> =
            live_shipped.iter().map(|m| &m.version).filter(|v| ledger.contains_key(*v)).collect();
        let rest: Vec<&String> = ledger.keys().filter(|v| !since.contains(v)).collect();
        since.extend(rest);
        since.retain(|v| !target_shipped.iter().any(|m| &m.version == *v));
        let mut steps = Vec::new();
        for version in since.into_iter().rev() {
            let found = live_shipped.iter().find(|m| &m.version == version);
            let down = found.and_then(|m| m.down.as_ref().map(|d| (m, d)));
            let loses_data = match down {
                Some((m, sql)) => match analyze(&format!("{}.down", m.name), sql, db.dialect()) {
                    Ok(report) => report
                        .statements
                        .iter()
                        .filter(|s| {
                            s.phase == Phase::Contract || s.kind.starts_with("delete") || s.kind.starts_with("truncate")
                        })
                        .map(|s| format!("line {}: {}", s.line, s.sql.split_whitespace().collect::<Vec<_>>().join(" ")))
                        .collect(),
                    Err(e) => vec![format!("cannot be analysed: {e}")],
                },
                None => Vec::new(),
            };
            steps.push(DownStep { version: version.clone(), down: down.map(|(m, _)| down_name(&m.name)), loses_data });
        }
        Ok(steps)
    }

    /// `migrate contract`: run the live revision's pending contract migrations, if the gate allows.
    pub async fn migrate_contract(&self, app_name: &str, actor: &str) -> Result<ContractOutcome, OpError> {
        let (app, rt) = self.app(app_name)?;
        let db = self.database(&app, &rt)?.db.clone();
        let live = self.store.app(&app).await?.live_revision.ok_or_else(|| OpError::BadRequest {
            message: format!("nothing is live on `{app}`: there is no release to contract for"),
        })?;
        let (op, _lease) = self
            .begin(
                &rt,
                crate::engine::Begin {
                    app: app.clone(),
                    kind: OperationKind::MigrateContract,
                    actor: actor.into(),
                    target_revision: Some(live),
                    from_revision: Some(live),
                },
            )
            .await?;
        match self.contract_locked(&app, &db, live, &op, actor).await {
            Ok(outcome) => Ok(outcome),
            Err(e) => {
                self.finish_failed(&app, &op, actor, "migrate-contract", Some(live), &e.to_string()).await;
                Err(e)
            }
        }
    }

    async fn contract_locked(
        &self,
        app: &AppName,
        db: &Database,
        expected_live: u64,
        op: &backstop_store::Operation,
        actor: &str,
    ) -> Result<ContractOutcome, OpError> {
        let live = self.store.app(app).await?.live_revision;
        if live != Some(expected_live) {
            return Err(OpError::BadRequest {
                message: "traffic moved while the contract was queued; run it again".into(),
            });
        }
        let live_rev = self.store.revision(app, expected_live).await?;
        if !live_rev.status.is_proven() {
            return Err(OpError::ContractNotYet { revision: live_rev.revision, status: live_rev.status });
        }
        let shipped: Vec<ShippedMigration> =
            decode("migrations", &self.store.revision_database(app, expected_live).await?.migrations)?;
        let plan = self.plan_release(db, &shipped).await?;
        if plan.stages.refused() {
            return Err(OpError::MigrationsRefused { refusals: plan.stages.refusals });
        }
        let pending: Vec<&ShippedMigration> = shipped.iter().filter(|m| !plan.applied.contains(&m.version)).collect();
        let step =
            |name: &str, detail: String| Change::Step { operation: op.id, step: name.into(), detail: Some(detail) };
        if pending.is_empty() {
            self.store
                .apply(
                    app,
                    vec![
                        step("nothing-pending", format!("every migration of revision {expected_live} is applied")),
                        Change::Finish { operation: op.id, state: OperationState::Succeeded, error: None },
                    ],
                )
                .await?;
            return Ok(ContractOutcome {
                app: app.to_string(),
                operation: Some(op.id),
                revision: expected_live,
                applied: Vec::new(),
                checked: Vec::new(),
            });
        }
        let contract_sql: String =
            pending.iter().map(|m| format!("{};\n", m.sql.trim().trim_end_matches(';'))).collect();
        let after = db.dry_run_contract(&contract_sql).await?;
        let pending_versions: Vec<&str> = pending.iter().map(|m| m.version.as_str()).collect();

        let (floor, window) = self.window(app, &pending_versions, None).await?;
        let mut checked = Vec::new();
        // Revisions that never went live with a recorded schema: nothing to compare.
        let mut unchecked = Vec::new();
        let mut blocked: Vec<(u64, Vec<Problem>)> = Vec::new();
        for rev in window {
            let Some(target) = rev.schema else {
                unchecked.push(rev.revision);
                continue;
            };
            let verdict = self.verdict_for(db, &target, &after, &rev.queries, Some(&contract_sql)).await?;
            checked.push(rev.revision);
            if !verdict.safe {
                blocked.push((rev.revision, verdict.problems));
            }
        }
        self.store
            .apply(
                app,
                vec![step(
                    "window-checked",
                    format!(
                        "revisions {checked:?} checked against the schema after {}{}",
                        pending_versions.join(", "),
                        if unchecked.is_empty() {
                            String::new()
                        } else {
                            format!("; {unchecked:?} have no recorded schema and were not checked")
                        }
                    ),
                )],
            )
            .await?;
        if !blocked.is_empty() {
            return Err(OpError::ContractBlocked { app: app.to_string(), live: expected_live, blocked, floor });
        }
        let report = db.apply(&files(&shipped), backstop_appdb::Stage::Contract).await?;
        self.store.apply(app, vec![step("migrate-contract", format!("applied {}", report.applied.join(", ")))]).await?;
        // The live revision now runs on the contracted schema.
        let snapshot = db.snapshot().await.ok().map(|s| serde_json::to_value(&s).unwrap_or_default());
        let mut changes: Vec<Change> =
            snapshot.map(|s| Change::Schema { revision: expected_live, snapshot: s }).into_iter().collect();
        changes.push(Change::Finish { operation: op.id, state: OperationState::Succeeded, error: None });
        changes.push(Change::Audit(NewAudit {
            actor: actor.into(),
            action: "migrate-contract".into(),
            outcome: "succeeded".into(),
            detail: json!({ "operation": op.id, "revision": expected_live, "applied": report.applied, "checked": checked }),
        }));
        self.store.apply(app, changes).await?;
        tracing::info!(app = %app, revision = expected_live, applied = ?report.applied, "contract migrations applied");
        Ok(ContractOutcome {
            app: app.to_string(),
            operation: Some(op.id),
            revision: expected_live,
            applied: report.applied,
            checked,
        })
    }

    /// The rollback window of `app` for a schema change that runs `pending` (migration versions):
    /// revisions newer than the last permanent one (the floor, returned first), except failed and
    /// deploying ones and those that ship every one of `pending` (built for the schema after it);
    /// with `serving`, that revision too even when it is the floor. Each with its recorded schema
    /// (`None`: it never went live with one) and the queries it shipped.
    async fn window(
        &self,
        app: &AppName,
        pending: &[&str],
        serving: Option<u64>,
    ) -> Result<(Option<u64>, Vec<WindowRevision>), OpError> {
        let revisions = self.store.revisions(app).await?;
        let floor = revisions.iter().filter(|r| r.status == RevisionStatus::Permanent).map(|r| r.revision).max();
        let mut window = Vec::new();
        for rev in revisions.iter().filter(|r| floor.is_none_or(|f| r.revision > f) || serving == Some(r.revision)) {
            if matches!(rev.status, RevisionStatus::Failed | RevisionStatus::Deploying) {
                continue;
            }
            let stored = self.store.revision_database(app, rev.revision).await?;
            let theirs: Vec<ShippedMigration> = decode("migrations", &stored.migrations)?;
            if !pending.is_empty() && pending.iter().all(|v| theirs.iter().any(|m| m.version == *v)) {
                continue;
            }
            let schema = stored.snapshot.as_ref().and_then(|s| serde_json::from_value::<Snapshot>(s.clone()).ok());
            window.push(WindowRevision {
                revision: rev.revision,
                schema,
                queries: decode("queries", &stored.queries)?,
            });
        }
        Ok((floor, window))
    }

    /// The gate's check of what a release's expand stage runs: each of its statements, in a
    /// rolled-back transaction, against the revision serving now and every revision in the rollback
    /// window. A statement that breaks any of them refuses the release before anything runs.
    pub(crate) async fn check_expand_stage(
        &self,
        app: &AppName,
        db: &Database,
        plan: &ReleasePlan,
        serving: Option<u64>,
    ) -> Result<(), OpError> {
        let mut statements = Vec::new();
        let mut versions = Vec::new();
        for (placed, report) in plan.stages.migrations.iter().zip(&plan.reports) {
            if placed.stage != backstop_migrate::Stage::Expand {
                continue;
            }
            versions.push(placed.version.as_str());
            statements.extend(report.statements.iter().map(|s| (format!("{}:{}", placed.file, s.line), s.sql.clone())));
        }
        if statements.is_empty() {
            return Ok(());
        }
        let (_, window) = self.window(app, &versions, serving).await?;
        let protected: Vec<ProtectedRevision> = window
            .into_iter()
            .filter_map(|rev| {
                let queries = (!rev.queries.is_empty()).then(|| old_queries(&rev.queries));
                rev.schema.map(|schema| ProtectedRevision { revision: rev.revision, schema, queries })
            })
            .collect();
        if protected.is_empty() {
            return Ok(());
        }
        let before = db.snapshot().await?;
        let steps = db.dry_run_steps(&statements).await?;
        let refusals = backstop_appdb::check_expand(&before, &steps, &protected);
        if refusals.is_empty() { Ok(()) } else { Err(OpError::ExpandBreaks { refusals }) }
    }

    /// `contract = "auto"`: once `revision` is known-good, run its contract stage if it has one.
    /// A refusal is journaled and audited like any failed operation, and logged.
    pub(crate) async fn auto_contract(&self, app: &AppName, revision: u64) {
        let Some(rt) = self.apps().get(app).cloned() else { return };
        let Some(db) = &rt.config().database else { return };
        let pending = async {
            let shipped: Vec<ShippedMigration> =
                decode("migrations", &self.store.revision_database(app, revision).await?.migrations)?;
            let ledger = db.db.applied().await?;
            Ok::<bool, OpError>(shipped.iter().any(|m| !ledger.contains_key(&m.version)))
        };
        match pending.await {
            Ok(false) => {}
            Ok(true) => match self.migrate_contract(app.as_str(), "backstop:auto-contract").await {
                Ok(done) => tracing::info!(app = %app, revision, applied = ?done.applied, "automatic contract ran"),
                Err(e) => tracing::warn!(app = %app, revision, error = %e, "automatic contract refused"),
            },
            Err(e) => tracing::error!(app = %app, revision, error = %e, "cannot tell whether a contract is pending"),
        }
    }

    /// `promote APP R --permanent`: no rollback will go further back than R.
    pub async fn promote(&self, app_name: &str, revision: u64, actor: &str) -> Result<Revision, OpError> {
        let (app, rt) = self.app(app_name)?;
        let (op, _lease) = self
            .begin(
                &rt,
                crate::engine::Begin {
                    app: app.clone(),
                    kind: OperationKind::Promote,
                    actor: actor.into(),
                    target_revision: Some(revision),
                    from_revision: None,
                },
            )
            .await?;
        let rev = match self.store.revision(&app, revision).await {
            Ok(r) => r,
            Err(e) => {
                let e = OpError::from(e);
                self.finish_failed(&app, &op, actor, "promote", Some(revision), &e.to_string()).await;
                return Err(e);
            }
        };
        if !rev.status.is_proven() {
            let e = OpError::NotPromotable { revision, status: rev.status };
            self.finish_failed(&app, &op, actor, "promote", Some(revision), &e.to_string()).await;
            return Err(e);
        }
        self.store
            .apply(
                &app,
                vec![
                    Change::Status {
                        revision,
                        status: RevisionStatus::Permanent,
                        reason: Some(format!("declared permanent by {actor}")),
                    },
                    Change::Finish { operation: op.id, state: OperationState::Succeeded, error: None },
                    Change::Audit(NewAudit {
                        actor: actor.into(),
                        action: "promote".into(),
                        outcome: "succeeded".into(),
                        detail: json!({ "operation": op.id, "revision": revision, "permanent": true, "was": rev.status }),
                    }),
                ],
            )
            .await?;
        Ok(self.store.revision(&app, revision).await?)
    }
}

/// `0002_add_name.up.sql` → `0002_add_name.down.sql`; other names get `.down` before `.sql`.
pub fn down_name(up: &str) -> String {
    match up.strip_suffix(".up.sql") {
        Some(stem) => format!("{stem}.down.sql"),
        None => format!("{}.down.sql", up.strip_suffix(".sql").unwrap_or(up)),
    }
}

/// What to do instead of an unsafe rollback.
fn advice(check: &RollbackCheck) -> String {
    if check.safe {
        return format!("revision {} can run on the schema as it is now", check.revision);
    }
    let forward = match check.live_revision {
        Some(l) => format!("roll forward: release a fix on top of revision {l}"),
        None => "roll forward: release a fix".to_owned(),
    };
    if check.down.is_empty() {
        return format!(
            "{forward}; no migration since revision {} is recorded that a down migration could undo",
            check.revision
        );
    }
    let missing: Vec<&str> = check.down.iter().filter(|d| d.down.is_none()).map(|d| d.version.as_str()).collect();
    if !missing.is_empty() {
        return format!(
            "{forward}; going back by down migrations is not possible, none shipped for {}",
            missing.join(", ")
        );
    }
    let order: Vec<&str> = check.down.iter().filter_map(|d| d.down.as_deref()).collect();
    let losses: Vec<String> = check
        .down
        .iter()
        .filter(|d| !d.loses_data.is_empty())
        .map(|d| format!("{} ({})", d.down.as_deref().unwrap_or(&d.version), d.loses_data.join("; ")))
        .collect();
    if losses.is_empty() {
        format!("{forward}, or run the down migrations {} in that order, then undo", order.join(", "))
    } else {
        format!("{forward}; the down migrations {} exist but lose data: {}", order.join(", "), losses.join(", "))
    }
}

/// The expand-stage refusals on one line: `0007_prices.sql:2 breaks revision 1: ...; ...`.
pub(crate) fn expand_summary(refusals: &[ExpandRefusal]) -> String {
    refusals
        .iter()
        .map(|r| {
            let why: Vec<&str> = r.problems.iter().map(|p| p.message.as_str()).collect();
            format!("{} would break revision {}: {}", r.location, r.revision, why.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Revisions by number, for messages.
pub(crate) fn blocked_summary(blocked: &[(u64, Vec<Problem>)]) -> String {
    let mut by_object: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for (revision, problems) in blocked {
        for p in problems {
            by_object.entry(p.object.as_str()).or_default().push(*revision);
        }
    }
    by_object
        .iter()
        .map(|(object, revs)| {
            let revs: Vec<String> = revs.iter().map(u64::to_string).collect();
            format!("{object} (needed by revision {})", revs.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn down_files_are_named_after_their_up_files() {
        let cases = [
            ("0002_add_name.up.sql", "0002_add_name.down.sql"),
            ("0002_add_name.sql", "0002_add_name.down.sql"),
            ("V2__add_name.sql", "V2__add_name.down.sql"),
        ];
        for (up, down) in cases {
            assert_eq!(down_name(up), down);
        }
    }

    fn check(down: Vec<DownStep>) -> RollbackCheck {
        RollbackCheck {
            app: "shop".into(),
            revision: 2,
            live_revision: Some(4),
            mode: CheckMode::Conservative,
            safe: false,
            problems: Vec::new(),
            set_aside: Vec::new(),
            down,
            advice: String::new(),
            note: None,
        }
    }

    fn step(version: &str, down: Option<&str>, loses: &[&str]) -> DownStep {
        DownStep {
            version: version.into(),
            down: down.map(str::to_owned),
            loses_data: loses.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn advice_names_the_way_back() {
        let cases: Vec<(Vec<DownStep>, &[&str])> = vec![
            (vec![], &["roll forward", "revision 4", "no migration since revision 2"]),
            (
                vec![step("0004", Some("0004_drop.down.sql"), &[]), step("0003", None, &[])],
                &["roll forward", "none shipped for 0003"],
            ),
            (
                vec![step("0004", Some("0004_x.down.sql"), &[]), step("0003", Some("0003_y.down.sql"), &[])],
                &["or run the down migrations 0004_x.down.sql, 0003_y.down.sql in that order"],
            ),
            (
                vec![step("0003", Some("0003_name.down.sql"), &["line 1: ALTER TABLE users DROP COLUMN name"])],
                &["lose data", "0003_name.down.sql (line 1: ALTER TABLE users DROP COLUMN name)"],
            ),
        ];
        for (down, wanted) in cases {
            let text = advice(&check(down));
            for w in wanted {
                assert!(text.contains(w), "{text:?} lacks {w:?}");
            }
        }
        let mut safe = check(vec![]);
        safe.safe = true;
        assert!(advice(&safe).contains("can run"));
    }
}
