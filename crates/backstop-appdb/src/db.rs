//! One handle on an app's database, PostgreSQL or SQLite, with the same five abilities: read the
//! schema, read the migration ledger, apply migrations by stage, dry-run a contract, and check
//! queries. The control plane talks to app databases only through [`Database`].
//!
//! The SQLite side mirrors the PostgreSQL runner: the same `backstop_migrations` ledger, the same
//! checks before anything runs, each migration in its own transaction (SQLite's DDL is
//! transactional), dry runs inside a transaction that is rolled back, and queries checked by
//! preparing them (SQLite resolves every table and column when it prepares).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use backstop_migrate::{Dialect, analyze};
use rusqlite::{Connection, OpenFlags, Transaction};

use backstop_schema::ExpandStep;

use crate::error::{SchemaError, mask_password};
use crate::queries::QueryChecks;
use crate::runner::{self, ApplyReport, LEDGER_TABLE, MigrationFile, Stage};
use backstop_schema::Snapshot;

/// An app's database, from the `url` of `[apps.NAME.database]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// `postgres://` or `postgresql://` URL, or a `key=value` connection string; `session` keeps one
    /// connection open for schema reads (clones share it).
    Postgres { url: String, session: Session },
    /// `sqlite://PATH`: the file at PATH (relative to the working directory unless absolute).
    Sqlite { path: PathBuf },
}

/// One PostgreSQL connection kept open for schema reads, so that the check before an undo does not
/// pay for a new session and a backend with cold catalog caches every time. Reopened when it breaks.
#[derive(Clone, Default)]
pub struct Session(Arc<tokio::sync::Mutex<Option<tokio_postgres::Client>>>);

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Session")
    }
}

/// A cache, not part of what the database is.
impl PartialEq for Session {
    fn eq(&self, _: &Session) -> bool {
        true
    }
}

impl Eq for Session {}

impl Session {
    async fn snapshot(&self, url: &str) -> Result<Snapshot, SchemaError> {
        let mut held = self.0.lock().await;
        if let Some(client) = held.as_ref().filter(|c| !c.is_closed()) {
            // On failure (a connection the server dropped meanwhile) a new one is opened below.
            if let Ok(snapshot) = crate::postgres::read_snapshot(client).await {
                return Ok(snapshot);
            }
        }
        *held = None;
        let client = crate::postgres::connect(url).await?;
        let snapshot = crate::postgres::read_snapshot(&client).await?;
        *held = Some(client);
        Ok(snapshot)
    }
}

impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Postgres { url, .. } => f.write_str(&mask_password(url)),
            Database::Sqlite { path } => write!(f, "sqlite://{}", path.display()),
        }
    }
}

impl Database {
    /// Parses a database URL; the error says what was expected.
    pub fn parse(url: &str) -> Result<Database, String> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Database::Postgres { url: url.to_owned(), session: Session::default() });
        }
        if let Some(path) = url.strip_prefix("sqlite://") {
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() {
                return Err("is `sqlite://` without a file path, expected sqlite:///var/lib/app/app.db".into());
            }
            return Ok(Database::Sqlite { path: PathBuf::from(path) });
        }
        Err(format!(
            "is `{}`, expected a postgres://user@host/db or sqlite://PATH url",
            mask_password(url).chars().take(60).collect::<String>()
        ))
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Database::Postgres { .. } => Dialect::Postgres,
            Database::Sqlite { .. } => Dialect::Sqlite,
        }
    }

    /// The schema now, without backstop's own ledger table.
    pub async fn snapshot(&self) -> Result<Snapshot, SchemaError> {
        let mut snapshot = match self {
            Database::Postgres { url, session } => session.snapshot(url).await?,
            Database::Sqlite { path } => crate::sqlite::snapshot_sqlite(path)?,
        };
        without_ledger(&mut snapshot);
        Ok(snapshot)
    }

    /// The migration ledger: version → checksum, empty before the first migration.
    pub async fn applied(&self) -> Result<BTreeMap<String, String>, SchemaError> {
        match self {
            Database::Postgres { url, .. } => runner::applied(url).await,
            // No file yet: no migration ever ran there.
            Database::Sqlite { path } if !path.exists() => Ok(BTreeMap::new()),
            Database::Sqlite { path } => blocking(path, |db, path| sqlite_applied(db, path)).await,
        }
    }

    /// Applies the migrations not yet in the ledger that `stage` allows (see [`runner::apply`]).
    pub async fn apply(&self, migrations: &[MigrationFile], stage: Stage) -> Result<ApplyReport, SchemaError> {
        match self {
            Database::Postgres { url, .. } => runner::apply(url, migrations, stage).await,
            Database::Sqlite { path } => {
                let migrations = migrations.to_vec();
                create_parent(path)?;
                blocking_rw(path, true, move |db, path| sqlite_apply(db, path, &migrations, stage)).await
            }
        }
    }

    /// The schema as it would be after `sql`, read in a transaction that is rolled back.
    pub async fn dry_run_contract(&self, sql: &str) -> Result<Snapshot, SchemaError> {
        let mut snapshot = match self {
            Database::Postgres { url, .. } => runner::dry_run_contract(url, sql).await?,
            Database::Sqlite { path } => {
                let sql = sql.to_owned();
                blocking(path, move |db, path| {
                    let tx = db.transaction().map_err(sqlite_err(path, "starting the dry run"))?;
                    run_sqlite_statements(&tx, "(dry run)", "(dry run)", &sql)?;
                    let snapshot = crate::sqlite::read_snapshot(&tx)
                        .map_err(|(context, source)| SchemaError::Sqlite { path: path.to_owned(), context, source })?;
                    tx.rollback().map_err(sqlite_err(path, "rolling back the dry run"))?;
                    Ok(snapshot)
                })
                .await?
            }
        };
        without_ledger(&mut snapshot);
        Ok(snapshot)
    }

    /// The schema after each of `statements` (`(file:line, sql)`, in run order), all run in one
    /// transaction that is rolled back: what the expand stage would leave, statement by statement, for
    /// [`backstop_schema::check_expand`]. `CONCURRENTLY` is dropped and `VACUUM` skipped, as in
    /// [`Database::dry_run_contract`]. A statement that fails is an error naming its location.
    pub async fn dry_run_steps(&self, statements: &[(String, String)]) -> Result<Vec<ExpandStep>, SchemaError> {
        let mut steps = match self {
            Database::Postgres { url, .. } => runner::dry_run_steps(url, statements).await?,
            Database::Sqlite { path } => {
                let statements = statements.to_vec();
                blocking(path, move |db, path| {
                    let tx = db.transaction().map_err(sqlite_err(path, "starting the dry run"))?;
                    let mut steps = Vec::with_capacity(statements.len());
                    for (location, sql) in statements {
                        tx.execute_batch(&sql).map_err(|source| {
                            let (file, line) = runner::split_location(&location);
                            SchemaError::SqliteStatement {
                                version: "(dry run)".into(),
                                file,
                                line,
                                source: Box::new(source),
                            }
                        })?;
                        let after = crate::sqlite::read_snapshot(&tx).map_err(|(context, source)| {
                            SchemaError::Sqlite { path: path.to_owned(), context, source }
                        })?;
                        steps.push(ExpandStep { location, sql, after });
                    }
                    tx.rollback().map_err(sqlite_err(path, "rolling back the dry run"))?;
                    Ok(steps)
                })
                .await?
            }
        };
        for step in &mut steps {
            without_ledger(&mut step.after);
        }
        Ok(steps)
    }

    /// Prepares each named query against the schema now, or as it would be after `contract`.
    pub async fn check_queries(
        &self,
        queries: &[(String, String)],
        contract: Option<&str>,
    ) -> Result<QueryChecks, SchemaError> {
        match self {
            Database::Postgres { url, .. } => match contract {
                Some(sql) => crate::queries::check_queries_after_contract(url, sql, queries).await,
                None => crate::queries::check_queries(url, queries).await,
            },
            Database::Sqlite { path } => {
                let queries = queries.to_vec();
                let contract = contract.map(str::to_owned);
                blocking(path, move |db, path| {
                    let tx = db.transaction().map_err(sqlite_err(path, "starting the query check"))?;
                    if let Some(sql) = &contract {
                        run_sqlite_statements(&tx, "(dry run)", "(dry run)", sql)?;
                    }
                    let checks = queries
                        .iter()
                        .map(|(name, sql)| (name.clone(), tx.prepare(sql).map(drop).map_err(|e| e.to_string())))
                        .collect();
                    tx.rollback().map_err(sqlite_err(path, "rolling back the query check"))?;
                    Ok(checks)
                })
                .await
            }
        }
    }
}

fn without_ledger(snapshot: &mut Snapshot) {
    snapshot.tables.retain(|key, _| backstop_schema::display_table(key) != LEDGER_TABLE);
}

fn sqlite_err(path: &Path, context: &'static str) -> impl FnOnce(rusqlite::Error) -> SchemaError {
    let path = path.to_owned();
    move |source| SchemaError::Sqlite { path, context, source }
}

fn create_parent(path: &Path) -> Result<(), SchemaError> {
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => std::fs::create_dir_all(dir).map_err(|source| SchemaError::Io { path: dir.to_owned(), source }),
        None => Ok(()),
    }
}

/// Runs `work` on a connection to an existing SQLite file, on the blocking pool.
async fn blocking<T: Send + 'static>(
    path: &Path,
    work: impl FnOnce(&mut Connection, &Path) -> Result<T, SchemaError> + Send + 'static,
) -> Result<T, SchemaError> {
    blocking_rw(path, false, work).await
}

async fn blocking_rw<T: Send + 'static>(
    path: &Path,
    create: bool,
    work: impl FnOnce(&mut Connection, &Path) -> Result<T, SchemaError> + Send + 'static,
) -> Result<T, SchemaError> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        if !create && !path.is_file() {
            return Err(SchemaError::SqliteMissing { path });
        }
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let mut db = Connection::open_with_flags(&path, flags).map_err(sqlite_err(&path, "opening"))?;
        db.busy_timeout(std::time::Duration::from_secs(10)).map_err(sqlite_err(&path, "setting a busy timeout"))?;
        work(&mut db, &path)
    })
    .await
    .unwrap_or_else(|e| {
        Err(SchemaError::Io { path: PathBuf::from("(sqlite task)"), source: std::io::Error::other(e.to_string()) })
    })
}

fn sqlite_applied(db: &Connection, path: &Path) -> Result<BTreeMap<String, String>, SchemaError> {
    let exists: bool = db
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
            [LEDGER_TABLE],
            |r| r.get(0),
        )
        .map_err(sqlite_err(path, "looking for the migration ledger"))?;
    if !exists {
        return Ok(BTreeMap::new());
    }
    db.prepare(&format!("SELECT version, checksum FROM {LEDGER_TABLE}"))
        .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
        .map_err(sqlite_err(path, "reading the migration ledger"))
}

fn sqlite_apply(
    db: &mut Connection,
    path: &Path,
    migrations: &[MigrationFile],
    stage: Stage,
) -> Result<ApplyReport, SchemaError> {
    db.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {LEDGER_TABLE} (version TEXT PRIMARY KEY, name TEXT NOT NULL, \
         checksum TEXT NOT NULL, phase TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
    ))
    .map_err(sqlite_err(path, "creating the migration ledger"))?;
    let ledger = sqlite_applied(db, path)?;
    let (pending, mut report) = runner::check_pending(migrations, &ledger, stage, Dialect::Sqlite)?;
    for (migration, sum, analysis) in pending {
        // IMMEDIATE takes the write lock up front, so two runners cannot interleave.
        let tx = db
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sqlite_err(path, "starting a migration transaction"))?;
        run_sqlite_statements(&tx, &migration.version, &migration.name, &migration.sql)?;
        let phase = analysis.phase().unwrap_or(backstop_migrate::Phase::Expand).to_string();
        tx.execute(
            &format!("INSERT INTO {LEDGER_TABLE} (version, name, checksum, phase) VALUES (?1, ?2, ?3, ?4)"),
            rusqlite::params![migration.version, migration.name, sum, phase],
        )
        .map_err(sqlite_err(path, "recording a migration in the ledger"))?;
        tx.commit().map_err(sqlite_err(path, "committing a migration"))?;
        report.applied.push(migration.version.clone());
    }
    Ok(report)
}

/// Runs the statements of `sql` one by one inside `tx`, without the file's own BEGIN/COMMIT.
fn run_sqlite_statements(tx: &Transaction<'_>, version: &str, file: &str, sql: &str) -> Result<(), SchemaError> {
    let report = analyze(file, sql, Dialect::Sqlite)
        .map_err(|source| SchemaError::Parse { version: version.to_owned(), source })?;
    for s in report.statements.iter().filter(|s| !runner::is_transaction_control(s)) {
        tx.execute_batch(&s.sql).map_err(|source| SchemaError::SqliteStatement {
            version: version.to_owned(),
            file: file.to_owned(),
            line: s.line,
            source: Box::new(source),
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(url: &str) -> Database {
        Database::Postgres { url: url.into(), session: Session::default() }
    }

    #[test]
    fn urls_are_parsed_by_scheme() {
        let ok = [
            ("postgres://app@db/app", pg("postgres://app@db/app")),
            ("postgresql://app:pw@db/app", pg("postgresql://app:pw@db/app")),
            ("sqlite:///var/lib/app.db", Database::Sqlite { path: "/var/lib/app.db".into() }),
            ("sqlite://data/app.db?mode=rwc", Database::Sqlite { path: "data/app.db".into() }),
        ];
        for (url, db) in ok {
            assert_eq!(Database::parse(url).as_ref(), Ok(&db), "{url}");
        }
        for url in ["mysql://db/app", "sqlite://", "", "app.db"] {
            assert!(Database::parse(url).is_err(), "{url}");
        }
        let shown = Database::parse("postgres://app:s3cret@db/app").unwrap().to_string();
        assert!(!shown.contains("s3cret"), "{shown}");
    }
}
