//! The PostgreSQL migration runner: applies migration files by stage and records each in the
//! `backstop_migrations` ledger of the app's database; and the contract dry run.
//!
//! Every pending migration is checked (checksum against the ledger, phase against the stage) before the
//! first one runs, so a refusal leaves the database untouched. Each migration runs in its own
//! transaction, except one that holds a statement PostgreSQL refuses inside a transaction
//! (`CREATE INDEX CONCURRENTLY`, `DROP INDEX CONCURRENTLY`, `REINDEX ... CONCURRENTLY`, `VACUUM`): that
//! one runs statement by statement and is recorded after its last statement succeeds.

use std::collections::BTreeMap;
use std::path::Path;

use backstop_migrate::{Dialect, IgnoredFile, Phase, Report, Statement, analyze, order_migrations};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio_postgres::{Client, GenericClient, Transaction};

use backstop_schema::{ExpandStep, Snapshot};

use crate::error::SchemaError;
use crate::postgres::{connect, read_snapshot};

/// The ledger table backstop keeps in the app's database.
pub const LEDGER_TABLE: &str = "backstop_migrations";

/// Key of the session advisory lock that keeps two runners from applying migrations at once.
const LOCK_KEY: i64 = 0x6261_636b_7374_6f70; // "backstop"

/// Which migrations may run now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Before the deploy: only migrations made of expand and backfill statements.
    Expand,
    /// After the previous revision is permanent: every pending migration, contract statements included.
    Contract,
}

/// One migration file: its version (the ordering key, as `backstop-migrate` orders them), its file name
/// and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationFile {
    pub version: String,
    pub name: String,
    pub sql: String,
}

/// What [`apply`] did, by version, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ApplyReport {
    pub applied: Vec<String>,
    /// Already in the ledger with the same checksum.
    pub skipped: Vec<String>,
}

impl MigrationFile {
    pub fn new(version: impl Into<String>, name: impl Into<String>, sql: impl Into<String>) -> Self {
        MigrationFile { version: version.into(), name: name.into(), sql: sql.into() }
    }
}

/// The migration files of `dir` in run order (as `backstop-migrate` orders their names), with their
/// text, and the files that are not forward migrations.
///
/// The version of a Flyway repeatable (`R__views.sql`) is `R__` and its name; like every migration it
/// is applied once, and refused if its text changes afterwards.
pub fn read_migrations(dir: impl AsRef<Path>) -> Result<(Vec<MigrationFile>, Vec<IgnoredFile>), SchemaError> {
    let dir = dir.as_ref();
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| SchemaError::Io { path, source }
    };
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        if entry.file_type().map_err(io(&entry.path()))?.is_file() {
            names.extend(entry.file_name().to_str().map(str::to_owned));
        }
    }
    names.sort();
    let set = order_migrations(&names);
    let mut files = Vec::with_capacity(set.migrations.len());
    for migration in set.migrations {
        let path = dir.join(&migration.file);
        let sql = std::fs::read_to_string(&path).map_err(io(&path))?;
        let version = migration.version.unwrap_or_else(|| format!("R__{}", migration.name));
        files.push(MigrationFile { version, name: migration.file, sql });
    }
    Ok((files, set.ignored))
}

/// The checksum recorded in the ledger: `sha256:` and the hex digest of the file's bytes.
pub fn checksum(sql: &str) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(sql.as_bytes())))
}

/// Applies the migrations not yet in the ledger, in the order given, allowed by `stage`.
///
/// Refuses, before running anything, a migration already applied with another checksum and, in the
/// expand stage, a migration holding a contract statement (naming its file and line).
pub async fn apply(url: &str, migrations: &[MigrationFile], stage: Stage) -> Result<ApplyReport, SchemaError> {
    let mut client = connect(url).await?;
    client
        .batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {LEDGER_TABLE} (version text PRIMARY KEY, name text NOT NULL, \
             checksum text NOT NULL, phase text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        ))
        .await
        .map_err(SchemaError::pg("creating the migration ledger"))?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
        .await
        .map_err(SchemaError::pg("taking the migration lock"))?;
    let result = apply_locked(&mut client, migrations, stage).await;
    // Closing the session releases the lock too; unlocking here only makes it prompt.
    let _ = client.execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY]).await;
    result
}

async fn apply_locked(
    client: &mut Client,
    migrations: &[MigrationFile],
    stage: Stage,
) -> Result<ApplyReport, SchemaError> {
    let ledger: BTreeMap<String, String> = client
        .query(&format!("SELECT version, checksum FROM {LEDGER_TABLE}"), &[])
        .await
        .map_err(SchemaError::pg("reading the migration ledger"))?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();

    let (pending, mut report) = check_pending(migrations, &ledger, stage, Dialect::Postgres)?;
    for (migration, sum, analysis) in pending {
        let phase = analysis.phase().unwrap_or(Phase::Expand).to_string();
        let failed = |s: &Statement, outside_transaction: bool| {
            let (version, file, line) = (migration.version.clone(), migration.name.clone(), s.line);
            move |source| SchemaError::Statement { version, file, line, outside_transaction, source }
        };
        if analysis.statements.iter().any(|s| outside_transaction(&s.sql)) {
            for s in &analysis.statements {
                client.batch_execute(&s.sql).await.map_err(failed(s, true))?;
            }
            record(&*client, migration, &sum, &phase).await?;
        } else {
            let tx = client.transaction().await.map_err(SchemaError::pg("starting a migration transaction"))?;
            for s in analysis.statements.iter().filter(|s| !is_transaction_control(s)) {
                tx.batch_execute(&s.sql).await.map_err(failed(s, false))?;
            }
            record(&tx, migration, &sum, &phase).await?;
            tx.commit().await.map_err(SchemaError::pg("committing a migration"))?;
        }
        report.applied.push(migration.version.clone());
    }
    Ok(report)
}

/// A migration not yet applied: the file, its checksum and its analysis.
pub(crate) type PendingMigration<'m> = (&'m MigrationFile, String, Report);

/// The migrations of `migrations` not yet in `ledger`, analysed, with their checksums; and a report
/// listing the ones already applied. Refuses a changed applied migration and, in the expand stage, a
/// migration with a contract statement, before anything runs.
pub(crate) fn check_pending<'m>(
    migrations: &'m [MigrationFile],
    ledger: &BTreeMap<String, String>,
    stage: Stage,
    dialect: Dialect,
) -> Result<(Vec<PendingMigration<'m>>, ApplyReport), SchemaError> {
    let mut report = ApplyReport::default();
    let mut pending = Vec::new();
    for migration in migrations {
        let current = checksum(&migration.sql);
        if let Some(applied) = ledger.get(&migration.version) {
            if *applied != current {
                return Err(SchemaError::ChecksumMismatch {
                    version: migration.version.clone(),
                    applied: applied.clone(),
                    current,
                });
            }
            report.skipped.push(migration.version.clone());
            continue;
        }
        let analysis = analyze(&migration.name, &migration.sql, dialect)
            .map_err(|source| SchemaError::Parse { version: migration.version.clone(), source })?;
        if stage == Stage::Expand {
            if let Some(s) = analysis.statements.iter().find(|s| s.phase == Phase::Contract) {
                return Err(SchemaError::ContractInExpand {
                    version: migration.version.clone(),
                    file: migration.name.clone(),
                    line: s.line,
                    kind: s.kind.clone(),
                });
            }
        }
        pending.push((migration, current, analysis));
    }
    Ok((pending, report))
}

/// The ledger of the database at `url`: version → checksum; empty when backstop never ran there.
pub async fn applied(url: &str) -> Result<BTreeMap<String, String>, SchemaError> {
    let client = connect(url).await?;
    let exists: Option<String> = client
        .query_one(&format!("SELECT to_regclass('{LEDGER_TABLE}')::text"), &[])
        .await
        .map_err(SchemaError::pg("looking for the migration ledger"))?
        .get(0);
    if exists.is_none() {
        return Ok(BTreeMap::new());
    }
    Ok(client
        .query(&format!("SELECT version, checksum FROM {LEDGER_TABLE}"), &[])
        .await
        .map_err(SchemaError::pg("reading the migration ledger"))?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect())
}

async fn record(
    client: &impl GenericClient,
    migration: &MigrationFile,
    checksum: &str,
    phase: &str,
) -> Result<(), SchemaError> {
    client
        .execute(
            &format!("INSERT INTO {LEDGER_TABLE} (version, name, checksum, phase) VALUES ($1, $2, $3, $4)"),
            &[&migration.version, &migration.name, &checksum, &phase],
        )
        .await
        .map_err(SchemaError::pg("recording a migration in the ledger"))?;
    Ok(())
}

/// The migration's own `BEGIN`/`COMMIT`: the runner already wraps it in a transaction.
pub(crate) fn is_transaction_control(statement: &Statement) -> bool {
    matches!(statement.kind.as_str(), "begin" | "commit")
}

/// Where the word `CONCURRENTLY` is in a statement PostgreSQL refuses to run inside a transaction
/// (`CREATE [UNIQUE] INDEX CONCURRENTLY`, `DROP INDEX CONCURRENTLY`, `REINDEX ... CONCURRENTLY`).
pub(crate) fn concurrently(sql: &str) -> Option<usize> {
    let upper = sql.to_ascii_uppercase();
    let first = upper.split_whitespace().next()?;
    if !matches!(first, "CREATE" | "DROP" | "REINDEX") {
        return None;
    }
    let mut from = 0;
    while let Some(found) = upper[from..].find("CONCURRENTLY") {
        let start = from + found;
        let end = start + "CONCURRENTLY".len();
        let word = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'"');
        let head = &upper[..start];
        // Only the keyword in the statement's head, before the object definition starts.
        if head.contains('(') && first != "REINDEX" {
            return None;
        }
        if !word(upper.as_bytes().get(end)) && !word(start.checked_sub(1).and_then(|i| upper.as_bytes().get(i))) {
            return Some(start);
        }
        from = end;
    }
    None
}

pub(crate) fn outside_transaction(sql: &str) -> bool {
    concurrently(sql).is_some() || sql.split_whitespace().next().is_some_and(|w| w.eq_ignore_ascii_case("vacuum"))
}

/// The schema as it would be after `sql`, read inside a transaction that is then rolled back: the
/// post-contract schema, to check a contract against the revisions still in the rollback window.
///
/// `CONCURRENTLY` is dropped from index statements (the resulting schema is the same) and `VACUUM` is
/// skipped, since neither may run inside a transaction.
pub async fn dry_run_contract(url: &str, sql: &str) -> Result<Snapshot, SchemaError> {
    let mut client = connect(url).await?;
    let tx = client.transaction().await.map_err(SchemaError::pg("starting the dry run transaction"))?;
    run_in_transaction(&tx, sql).await?;
    let snapshot = read_snapshot(&tx).await?;
    tx.rollback().await.map_err(SchemaError::pg("rolling back the dry run"))?;
    Ok(snapshot)
}

/// The schema after each statement of `statements`, in one transaction that is rolled back (see
/// `Database::dry_run_steps`).
pub(crate) async fn dry_run_steps(url: &str, statements: &[(String, String)]) -> Result<Vec<ExpandStep>, SchemaError> {
    let mut client = connect(url).await?;
    let tx = client.transaction().await.map_err(SchemaError::pg("starting the dry run transaction"))?;
    let mut steps = Vec::with_capacity(statements.len());
    for (location, sql) in statements {
        let text = match concurrently(sql) {
            Some(at) => format!("{}{}", &sql[..at], &sql[at + "CONCURRENTLY".len()..]),
            None if outside_transaction(sql) => continue,
            None => sql.clone(),
        };
        tx.batch_execute(&text).await.map_err(|source| {
            let (file, line) = split_location(location);
            SchemaError::Statement { version: "(dry run)".to_owned(), file, line, outside_transaction: false, source }
        })?;
        let after = read_snapshot(&tx).await?;
        steps.push(ExpandStep { location: location.clone(), sql: sql.clone(), after });
    }
    tx.rollback().await.map_err(SchemaError::pg("rolling back the dry run"))?;
    Ok(steps)
}

/// `file.sql:12` as (`file.sql`, 12); a location without a line number keeps line 0.
pub(crate) fn split_location(location: &str) -> (String, u32) {
    match location.rsplit_once(':').and_then(|(file, line)| Some((file, line.parse().ok()?))) {
        Some((file, line)) => (file.to_owned(), line),
        None => (location.to_owned(), 0),
    }
}

/// Runs `sql` statement by statement inside `tx`, made transaction-safe as [`dry_run_contract`] says.
pub(crate) async fn run_in_transaction(tx: &Transaction<'_>, sql: &str) -> Result<(), SchemaError> {
    const LABEL: &str = "(dry run)";
    let report: Report = analyze(LABEL, sql, Dialect::Postgres)
        .map_err(|source| SchemaError::Parse { version: LABEL.to_owned(), source })?;
    for s in report.statements.iter().filter(|s| !is_transaction_control(s)) {
        let text = match concurrently(&s.sql) {
            Some(at) => format!("{}{}", &s.sql[..at], &s.sql[at + "CONCURRENTLY".len()..]),
            None if outside_transaction(&s.sql) => continue,
            None => s.sql.clone(),
        };
        tx.batch_execute(&text).await.map_err(|source| SchemaError::Statement {
            version: LABEL.to_owned(),
            file: LABEL.to_owned(),
            line: s.line,
            outside_transaction: false,
            source,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_that_cannot_run_in_a_transaction_are_recognised() {
        let cases: &[(&str, Option<usize>, bool)] = &[
            ("CREATE INDEX CONCURRENTLY i ON users (email)", Some(13), true),
            ("create unique index concurrently if not exists i on t (a)", Some(20), true),
            ("DROP INDEX CONCURRENTLY IF EXISTS i", Some(11), true),
            ("REINDEX (VERBOSE) INDEX CONCURRENTLY i", Some(24), true),
            ("CREATE INDEX i ON users (email)", None, false),
            ("CREATE INDEX concurrently_idx ON t (a)", None, false),
            ("CREATE TABLE t (concurrently int)", None, false),
            ("REFRESH MATERIALIZED VIEW CONCURRENTLY v", None, false),
            ("VACUUM ANALYZE users", None, true),
            ("ALTER TABLE users ADD COLUMN name text", None, false),
        ];
        for (sql, at, outside) in cases {
            assert_eq!(concurrently(sql), *at, "{sql}");
            assert_eq!(outside_transaction(sql), *outside, "{sql}");
        }
    }

    #[test]
    fn migration_directories_are_read_in_run_order() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write("0010_drop_full_name.sql", "ALTER TABLE users DROP COLUMN full_name;");
        write("0002_add_name.sql", "ALTER TABLE users ADD COLUMN name text;");
        write("0001_users.sql", "CREATE TABLE users (id int, full_name text);");
        write("notes.txt", "not a migration");
        std::fs::create_dir(dir.path().join("0003_subdir.sql")).unwrap();
        let (files, ignored) = read_migrations(dir.path()).unwrap();
        let found: Vec<(&str, &str)> = files.iter().map(|f| (f.version.as_str(), f.name.as_str())).collect();
        assert_eq!(
            found,
            [("0001", "0001_users.sql"), ("0002", "0002_add_name.sql"), ("0010", "0010_drop_full_name.sql")]
        );
        assert_eq!(files[1].sql, "ALTER TABLE users ADD COLUMN name text;");
        assert_eq!(ignored.iter().map(|i| i.file.as_str()).collect::<Vec<_>>(), ["notes.txt"]);
        assert!(matches!(read_migrations(dir.path().join("missing")), Err(SchemaError::Io { .. })));
    }

    #[test]
    fn statement_locations_split_into_file_and_line() {
        assert_eq!(split_location("0007_prices.sql:12"), ("0007_prices.sql".to_owned(), 12));
        assert_eq!(split_location("dir/a:b.sql:3"), ("dir/a:b.sql".to_owned(), 3));
        assert_eq!(split_location("inline"), ("inline".to_owned(), 0));
    }

    #[test]
    fn checksums_are_sha256_of_the_text() {
        assert_eq!(checksum(""), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_ne!(checksum("SELECT 1"), checksum("SELECT 1 "));
    }
}
