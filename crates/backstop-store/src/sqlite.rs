//! The embedded SQLite store: one file under the state directory, WAL mode,
//! fully synchronous commits. Every write transaction starts `IMMEDIATE`
//! (takes the database's write lock first), so numbers read and then
//! incremented inside it (revisions, audit and step sequences, flag versions)
//! stay correct with several writers on the same file, in this process or not.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use backstop_core::audit::{self, AuditEntry};
use backstop_core::{AppName, Digest, OperationKind, OperationState, Revision, RevisionStatus};
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};

use crate::{
    AppRecord, Change, InstanceRecord, InstanceRole, NewOperation, NewRevision, Operation, Result, RevisionDatabase,
    Step, Store, StoreError,
};

const SCHEMA_VERSION: i64 = 9;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS apps (
    name          TEXT PRIMARY KEY,
    live_revision INTEGER,
    created_at    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS revisions (
    app           TEXT NOT NULL REFERENCES apps(name),
    revision      INTEGER NOT NULL,
    version       TEXT NOT NULL,
    digest        TEXT NOT NULL,
    change_cause  TEXT NOT NULL,
    git_commit    TEXT,
    guarded_by    TEXT NOT NULL DEFAULT '[]',
    git_tag       TEXT,
    hotfix_of     INTEGER,
    image         TEXT,
    actor         TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    status        TEXT NOT NULL,
    status_reason TEXT,
    live_since    TEXT,
    soak_until    TEXT,
    known_good_at TEXT,
    undone_at     TEXT,
    PRIMARY KEY (app, revision)
);
CREATE TRIGGER IF NOT EXISTS revision_identity_is_immutable
BEFORE UPDATE OF app, revision, version, digest, change_cause, git_commit, guarded_by, git_tag, hotfix_of, image,
    actor, created_at ON revisions
BEGIN SELECT RAISE(ABORT, 'revision identity is immutable'); END;
CREATE TABLE IF NOT EXISTS operations (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    app             TEXT NOT NULL,
    kind            TEXT NOT NULL,
    state           TEXT NOT NULL,
    actor           TEXT NOT NULL,
    target_revision INTEGER,
    from_revision   INTEGER,
    started_at      TEXT NOT NULL,
    ended_at        TEXT,
    error           TEXT,
    lease_owner     TEXT,
    lease_until     TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS one_running_operation_per_app ON operations(app) WHERE state = 'running';
CREATE TABLE IF NOT EXISTS operation_steps (
    operation INTEGER NOT NULL REFERENCES operations(id),
    seq       INTEGER NOT NULL,
    at        TEXT NOT NULL,
    step      TEXT NOT NULL,
    detail    TEXT,
    PRIMARY KEY (operation, seq)
);
CREATE TABLE IF NOT EXISTS instances (
    app        TEXT NOT NULL,
    revision   INTEGER NOT NULL,
    driver     TEXT NOT NULL,
    handle     TEXT NOT NULL,
    role       TEXT NOT NULL,
    warm_until TEXT,
    started_at TEXT NOT NULL,
    PRIMARY KEY (app, revision)
);
CREATE TABLE IF NOT EXISTS audit (
    seq       INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    app       TEXT,
    outcome   TEXT NOT NULL,
    detail    TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS revision_database (
    app         TEXT NOT NULL,
    revision    INTEGER NOT NULL,
    migrations  TEXT NOT NULL DEFAULT '[]',
    queries     TEXT NOT NULL DEFAULT '[]',
    snapshot    TEXT,
    snapshot_at TEXT,
    PRIMARY KEY (app, revision),
    FOREIGN KEY (app, revision) REFERENCES revisions(app, revision)
);
CREATE TABLE IF NOT EXISTS revision_contracts (
    app       TEXT NOT NULL,
    revision  INTEGER NOT NULL,
    contracts TEXT NOT NULL,
    PRIMARY KEY (app, revision),
    FOREIGN KEY (app, revision) REFERENCES revisions(app, revision)
);
CREATE TRIGGER IF NOT EXISTS revision_contracts_are_immutable BEFORE UPDATE ON revision_contracts
BEGIN SELECT RAISE(ABORT, 'revision contracts are immutable'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"#;

/// The embedded store. Calls are short and local, so they run on the
/// caller's task under a mutex rather than on a thread pool.
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) fn parse_ts(what: &'static str, s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| StoreError::Corrupt { what, value: s.to_owned() })
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}

fn has_column(conn: &Connection, table: &str, column: &str) -> Result<bool> {
    let n: i64 =
        conn.query_row("SELECT COUNT(*) FROM pragma_table_info(?1) WHERE name = ?2", params![table, column], |r| {
            r.get(0)
        })?;
    Ok(n > 0)
}

/// A write transaction that holds the database's write lock from its first statement.
pub(crate) fn write_tx(conn: &mut Connection) -> Result<Transaction<'_>> {
    Ok(conn.transaction_with_behavior(TransactionBehavior::Immediate)?)
}

fn parse_opt_ts(what: &'static str, s: Option<String>) -> Result<Option<DateTime<Utc>>> {
    s.map(|s| parse_ts(what, &s)).transpose()
}

/// The ledger holds who did what and every flag's targeting: readable by its
/// owner only, like the tokens beside it. SQLite gives its WAL and shared-memory
/// files the database file's mode.
/// A file that cannot be created here is left for `Connection::open` to report.
fn restrict_to_owner(path: &Path) {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path).is_ok() {
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
}

impl SqliteStore {
    /// Open (creating if needed) the database at `path` and bring its schema up to date.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        restrict_to_owner(path);
        let conn = Connection::open(path)?;
        Self::init(conn, &path.display().to_string())
    }

    /// A private in-memory store, for tests.
    pub fn in_memory() -> Result<SqliteStore> {
        Self::init(Connection::open_in_memory()?, ":memory:")
    }

    fn init(conn: Connection, path: &str) -> Result<SqliteStore> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema { path: path.to_owned(), found, known: SCHEMA_VERSION });
        }
        if found == 1 {
            // Schema 2 added revisions.guarded_by (with a default, so old rows stay valid).
            conn.execute_batch(
                "ALTER TABLE revisions ADD COLUMN guarded_by TEXT NOT NULL DEFAULT '[]';
                 DROP TRIGGER IF EXISTS revision_identity_is_immutable;",
            )?;
        }
        if has_column(&conn, "instances", "pid")? {
            // Schema 4: instances keep a driver name and its opaque handle instead of process columns.
            conn.execute_batch(
                "ALTER TABLE instances ADD COLUMN driver TEXT NOT NULL DEFAULT 'local';
                 ALTER TABLE instances ADD COLUMN handle TEXT NOT NULL DEFAULT '{}';
                 UPDATE instances SET handle = json_object('pid', pid, 'start_time', start_time, 'port', port);
                 ALTER TABLE instances DROP COLUMN pid;
                 ALTER TABLE instances DROP COLUMN start_time;
                 ALTER TABLE instances DROP COLUMN port;",
            )?;
        }
        if found > 0 && !has_column(&conn, "operations", "lease_owner")? && has_column(&conn, "operations", "id")? {
            // Schema 4: operations hold their app's lease.
            conn.execute_batch(
                "ALTER TABLE operations ADD COLUMN lease_owner TEXT;
                 ALTER TABLE operations ADD COLUMN lease_until TEXT;",
            )?;
        }
        if found > 0 && has_column(&conn, "revisions", "app")? && !has_column(&conn, "revisions", "hotfix_of")? {
            // Schema 6, hotfix links: a revision records the git tag it was released from and the
            // revision it is a hotfix of; the identity trigger is recreated below to cover them.
            conn.execute_batch(
                "ALTER TABLE revisions ADD COLUMN git_tag TEXT;
                 ALTER TABLE revisions ADD COLUMN hotfix_of INTEGER;
                 DROP TRIGGER IF EXISTS revision_identity_is_immutable;",
            )?;
        }
        if found > 0 && has_column(&conn, "revisions", "app")? && !has_column(&conn, "revisions", "image")? {
            // Schema 7: a revision may be an image on a container platform.
            conn.execute_batch(
                "ALTER TABLE revisions ADD COLUMN image TEXT;
                 DROP TRIGGER IF EXISTS revision_identity_is_immutable;",
            )?;
        }
        if has_column(&conn, "revisions", "revision")? && !has_column(&conn, "revisions", "undone_at")? {
            // Schema 8: when an undo last took traffic away from a revision.
            conn.execute_batch("ALTER TABLE revisions ADD COLUMN undone_at TEXT;")?;
        }
        // Schema 9: revision_contracts (a new table in SCHEMA, nothing to change in old rows).
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(crate::flags::SCHEMA)?;
        // Schema 5: incidents and drills (new tables only).
        conn.execute_batch(crate::incidents::SCHEMA)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        Ok(SqliteStore { conn: Mutex::new(conn) })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a transaction open
        // (rusqlite rolls back on drop), so a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

const REVISION_COLUMNS: &str = "app, revision, version, digest, change_cause, git_commit, actor, created_at, \
     status, status_reason, live_since, soak_until, known_good_at, guarded_by, git_tag, hotfix_of, image, undone_at";

fn revision_from_row(row: &Row<'_>) -> rusqlite::Result<RawRevision> {
    Ok(RawRevision {
        app: row.get(0)?,
        revision: row.get(1)?,
        version: row.get(2)?,
        digest: row.get(3)?,
        change_cause: row.get(4)?,
        git_commit: row.get(5)?,
        actor: row.get(6)?,
        created_at: row.get(7)?,
        status: row.get(8)?,
        status_reason: row.get(9)?,
        live_since: row.get(10)?,
        soak_until: row.get(11)?,
        known_good_at: row.get(12)?,
        guarded_by: row.get(13)?,
        git_tag: row.get(14)?,
        hotfix_of: row.get(15)?,
        image: row.get(16)?,
        undone_at: row.get(17)?,
    })
}

struct RawRevision {
    app: String,
    revision: i64,
    version: String,
    digest: String,
    change_cause: String,
    git_commit: Option<String>,
    actor: String,
    created_at: String,
    status: String,
    status_reason: Option<String>,
    live_since: Option<String>,
    soak_until: Option<String>,
    known_good_at: Option<String>,
    guarded_by: String,
    git_tag: Option<String>,
    hotfix_of: Option<i64>,
    image: Option<String>,
    undone_at: Option<String>,
}

impl RawRevision {
    fn into_revision(self) -> Result<Revision> {
        Ok(Revision {
            app: self
                .app
                .parse()
                .map_err(|_| StoreError::Corrupt { what: "revisions.app", value: self.app.clone() })?,
            revision: self.revision as u64,
            version: self.version,
            digest: self
                .digest
                .parse::<Digest>()
                .map_err(|_| StoreError::Corrupt { what: "revisions.digest", value: self.digest.clone() })?,
            change_cause: self.change_cause,
            git_commit: self.git_commit,
            git_tag: self.git_tag,
            hotfix_of: self.hotfix_of.map(|n| n as u64),
            image: self.image,
            guarded_by: serde_json::from_str(&self.guarded_by)
                .map_err(|_| StoreError::Corrupt { what: "revisions.guarded_by", value: self.guarded_by.clone() })?,
            actor: self.actor,
            created_at: parse_ts("revisions.created_at", &self.created_at)?,
            status: self
                .status
                .parse::<RevisionStatus>()
                .map_err(|_| StoreError::Corrupt { what: "revisions.status", value: self.status.clone() })?,
            status_reason: self.status_reason,
            live_since: parse_opt_ts("revisions.live_since", self.live_since)?,
            soak_until: parse_opt_ts("revisions.soak_until", self.soak_until)?,
            known_good_at: parse_opt_ts("revisions.known_good_at", self.known_good_at)?,
            undone_at: parse_opt_ts("revisions.undone_at", self.undone_at)?,
        })
    }
}

fn app_record(conn: &Connection, app: &AppName) -> Result<AppRecord> {
    conn.query_row("SELECT live_revision FROM apps WHERE name = ?1", [app.as_str()], |r| r.get::<_, Option<i64>>(0))
        .optional()?
        .map(|live| AppRecord { name: app.clone(), live_revision: live.map(|n| n as u64) })
        .ok_or_else(|| StoreError::UnknownApp { app: app.to_string() })
}

fn load_operation(conn: &Connection, id: u64) -> Result<Option<Operation>> {
    let raw = conn
        .query_row(
            "SELECT id, app, kind, state, actor, target_revision, from_revision, started_at, ended_at, error, \
             lease_owner, lease_until FROM operations WHERE id = ?1",
            [id as i64],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                    r.get::<_, Option<i64>>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, Option<String>>(8)?,
                    r.get::<_, Option<String>>(9)?,
                    r.get::<_, Option<String>>(10)?,
                    r.get::<_, Option<String>>(11)?,
                ))
            },
        )
        .optional()?;
    let Some((id, app, kind, state, actor, target, from, started, ended, error, lease_owner, lease_until)) = raw else {
        return Ok(None);
    };
    let mut stmt =
        conn.prepare("SELECT seq, at, step, detail FROM operation_steps WHERE operation = ?1 ORDER BY seq")?;
    let steps = stmt
        .query_map([id], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, Option<String>>(3)?))
        })?
        .map(|row| {
            let (seq, at, step, detail) = row?;
            Ok(Step { seq: seq as u64, at: parse_ts("operation_steps.at", &at)?, step, detail })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(Operation {
        id: id as u64,
        app,
        kind: kind.parse().map_err(|_| StoreError::Corrupt { what: "operations.kind", value: kind.clone() })?,
        state: state.parse().map_err(|_| StoreError::Corrupt { what: "operations.state", value: state.clone() })?,
        actor,
        target_revision: target.map(|n| n as u64),
        from_revision: from.map(|n| n as u64),
        started_at: parse_ts("operations.started_at", &started)?,
        ended_at: parse_opt_ts("operations.ended_at", ended)?,
        error,
        lease_owner,
        lease_until: parse_opt_ts("operations.lease_until", lease_until)?,
        steps,
    }))
}

fn operation_ids(conn: &Connection, sql: &str, param: &dyn rusqlite::ToSql) -> Result<Vec<u64>> {
    let mut stmt = conn.prepare(sql)?;
    let ids = stmt.query_map([param], |r| r.get::<_, i64>(0))?.collect::<rusqlite::Result<Vec<i64>>>()?;
    Ok(ids.into_iter().map(|i| i as u64).collect())
}

fn instances_where(conn: &Connection, filter: Option<&str>) -> Result<Vec<InstanceRecord>> {
    let sql = "SELECT app, revision, driver, handle, role, warm_until, started_at FROM instances \
               WHERE (?1 IS NULL OR app = ?1) ORDER BY app, revision";
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt
        .query_map([filter], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, String>(6)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter()
        .map(|(app, revision, driver, handle, role, warm_until, started_at)| {
            Ok(InstanceRecord {
                app,
                revision: revision as u64,
                driver,
                handle: serde_json::from_str(&handle)
                    .map_err(|_| StoreError::Corrupt { what: "instances.handle", value: handle.clone() })?,
                role: InstanceRole::parse(&role).ok_or(StoreError::Corrupt { what: "instances.role", value: role })?,
                warm_until: parse_opt_ts("instances.warm_until", warm_until)?,
                started_at: parse_ts("instances.started_at", &started_at)?,
            })
        })
        .collect()
}

fn apply_change(tx: &Transaction<'_>, app: &AppName, change: Change, now: &str) -> Result<()> {
    let a = app.as_str();
    let rev_exists = |revision: u64| -> Result<()> {
        let n: i64 = tx.query_row(
            "SELECT COUNT(*) FROM revisions WHERE app = ?1 AND revision = ?2",
            params![a, revision as i64],
            |r| r.get(0),
        )?;
        if n == 0 { Err(StoreError::UnknownRevision { app: a.to_owned(), revision }) } else { Ok(()) }
    };
    match change {
        Change::Status { revision, status, reason } => {
            rev_exists(revision)?;
            tx.execute(
                "UPDATE revisions SET status = ?3, status_reason = ?4 WHERE app = ?1 AND revision = ?2",
                params![a, revision as i64, status.as_str(), reason],
            )?;
        }
        Change::Live { revision } => {
            if let Some(revision) = revision {
                rev_exists(revision)?;
                tx.execute(
                    "UPDATE revisions SET live_since = ?3, undone_at = NULL WHERE app = ?1 AND revision = ?2",
                    params![a, revision as i64, now],
                )?;
            }
            tx.execute("UPDATE apps SET live_revision = ?2 WHERE name = ?1", params![a, revision.map(|n| n as i64)])?;
        }
        Change::SoakUntil { revision, until } => {
            rev_exists(revision)?;
            tx.execute(
                "UPDATE revisions SET soak_until = ?3 WHERE app = ?1 AND revision = ?2",
                params![a, revision as i64, until.map(ts)],
            )?;
        }
        Change::Undone { revision } => {
            rev_exists(revision)?;
            tx.execute(
                "UPDATE revisions SET undone_at = ?3 WHERE app = ?1 AND revision = ?2",
                params![a, revision as i64, now],
            )?;
        }
        Change::KnownGood { revision } => {
            rev_exists(revision)?;
            tx.execute(
                "UPDATE revisions SET status = 'known-good', status_reason = NULL, soak_until = NULL, \
                 known_good_at = ?3 WHERE app = ?1 AND revision = ?2",
                params![a, revision as i64, now],
            )?;
        }
        Change::PutInstance(i) => {
            tx.execute(
                "INSERT OR REPLACE INTO instances (app, revision, driver, handle, role, warm_until, started_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    a,
                    i.revision as i64,
                    i.driver,
                    i.handle.to_string(),
                    i.role.as_str(),
                    i.warm_until.map(ts),
                    ts(i.started_at)
                ],
            )?;
        }
        Change::RemoveInstance { revision } => {
            tx.execute("DELETE FROM instances WHERE app = ?1 AND revision = ?2", params![a, revision as i64])?;
        }
        Change::Step { operation, step, detail } => {
            tx.execute(
                "INSERT INTO operation_steps (operation, seq, at, step, detail) VALUES \
                 (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM operation_steps WHERE operation = ?1), ?2, ?3, ?4)",
                params![operation as i64, now, step, detail],
            )?;
        }
        Change::Finish { operation, state, error } => {
            // The lease ends with the operation.
            tx.execute(
                "UPDATE operations SET state = ?2, ended_at = ?3, error = ?4, lease_until = NULL WHERE id = ?1",
                params![operation as i64, state.as_str(), now, error],
            )?;
        }
        Change::Shipped { revision, migrations, queries } => {
            rev_exists(revision)?;
            tx.execute(
                "INSERT INTO revision_database (app, revision, migrations, queries) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (app, revision) DO UPDATE SET migrations = excluded.migrations, queries = excluded.queries",
                params![a, revision as i64, migrations.to_string(), queries.to_string()],
            )?;
        }
        Change::Schema { revision, snapshot } => {
            rev_exists(revision)?;
            tx.execute(
                "INSERT INTO revision_database (app, revision, snapshot, snapshot_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (app, revision) DO UPDATE SET snapshot = excluded.snapshot, snapshot_at = excluded.snapshot_at",
                params![a, revision as i64, snapshot.to_string(), now],
            )?;
        }
        Change::Contracts { revision, contracts } => {
            rev_exists(revision)?;
            tx.execute(
                "INSERT INTO revision_contracts (app, revision, contracts) VALUES (?1, ?2, ?3)",
                params![a, revision as i64, contracts.to_string()],
            )?;
        }
        Change::Audit(new) => append_audit(tx, Some(a), new, now)?,
    }
    Ok(())
}

/// Append one entry to the audit hash chain inside `tx`; `app` is `None`
/// for what belongs to no app (flags).
pub(crate) fn append_audit(tx: &Transaction<'_>, app: Option<&str>, new: crate::NewAudit, now: &str) -> Result<()> {
    let (seq, prev): (i64, String) = tx
        .query_row("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .unwrap_or((0, audit::GENESIS.to_owned()));
    let mut e = AuditEntry {
        seq: seq as u64 + 1,
        at: now.to_owned(),
        actor: new.actor,
        action: new.action,
        app: app.map(str::to_owned),
        outcome: new.outcome,
        detail: new.detail.to_string(),
        prev_hash: prev,
        hash: String::new(),
    };
    e.hash = e.computed_hash();
    tx.execute(
        "INSERT INTO audit (seq, at, actor, action, app, outcome, detail, prev_hash, hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![e.seq as i64, e.at, e.actor, e.action, e.app, e.outcome, e.detail, e.prev_hash, e.hash],
    )?;
    Ok(())
}

/// The end of a lease taken now for `lease` (saturating: an absurd lease ends at the end of time).
fn lease_end(lease: std::time::Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(lease)
        .ok()
        .and_then(|d| Utc::now().checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// [`StoreError::LeaseLost`] unless `operation` is running under `owner`'s lease.
fn check_lease(tx: &Transaction<'_>, operation: u64, owner: &str) -> Result<()> {
    let row: Option<(String, Option<String>)> = tx
        .query_row("SELECT state, lease_owner FROM operations WHERE id = ?1", [operation as i64], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    match row {
        Some((state, holder)) if state == "running" && holder.as_deref() == Some(owner) => Ok(()),
        Some((state, holder)) if state == "running" => {
            Err(StoreError::LeaseLost { operation, holder: holder.unwrap_or_else(|| "nobody".into()) })
        }
        Some((state, _)) => {
            Err(StoreError::LeaseLost { operation, holder: format!("nobody: the operation is {state}") })
        }
        None => Err(StoreError::LeaseLost { operation, holder: "nobody: no such operation".into() }),
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ensure_app(&self, app: &AppName) -> Result<()> {
        self.lock().execute(
            "INSERT OR IGNORE INTO apps (name, created_at) VALUES (?1, ?2)",
            params![app.as_str(), ts(Utc::now())],
        )?;
        Ok(())
    }

    async fn apps(&self) -> Result<Vec<AppRecord>> {
        let conn = self.lock();
        let mut stmt = conn.prepare("SELECT name, live_revision FROM apps ORDER BY name")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(name, live)| {
                Ok(AppRecord {
                    name: name.parse().map_err(|_| StoreError::Corrupt { what: "apps.name", value: name.clone() })?,
                    live_revision: live.map(|n| n as u64),
                })
            })
            .collect()
    }

    async fn app(&self, app: &AppName) -> Result<AppRecord> {
        app_record(&self.lock(), app)
    }

    async fn revisions(&self, app: &AppName) -> Result<Vec<Revision>> {
        let conn = self.lock();
        app_record(&conn, app)?;
        let mut stmt =
            conn.prepare(&format!("SELECT {REVISION_COLUMNS} FROM revisions WHERE app = ?1 ORDER BY revision"))?;
        let raws = stmt.query_map([app.as_str()], revision_from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
        raws.into_iter().map(RawRevision::into_revision).collect()
    }

    async fn revision(&self, app: &AppName, revision: u64) -> Result<Revision> {
        let conn = self.lock();
        app_record(&conn, app)?;
        conn.query_row(
            &format!("SELECT {REVISION_COLUMNS} FROM revisions WHERE app = ?1 AND revision = ?2"),
            params![app.as_str(), revision as i64],
            revision_from_row,
        )
        .optional()?
        .ok_or_else(|| StoreError::UnknownRevision { app: app.to_string(), revision })?
        .into_revision()
    }

    async fn create_revision(&self, new: NewRevision) -> Result<Revision> {
        let mut conn = self.lock();
        app_record(&conn, &new.app)?;
        let tx = write_tx(&mut conn)?;
        let next: i64 = tx.query_row(
            "SELECT COALESCE(MAX(revision), 0) + 1 FROM revisions WHERE app = ?1",
            [new.app.as_str()],
            |r| r.get(0),
        )?;
        let now = Utc::now();
        tx.execute(
            "INSERT INTO revisions (app, revision, version, digest, change_cause, git_commit, guarded_by, actor, \
             created_at, status, git_tag, hotfix_of, image) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'deploying', ?10, ?11, ?12)",
            params![
                new.app.as_str(),
                next,
                new.version,
                new.digest.as_str(),
                new.change_cause,
                new.git_commit,
                serde_json::to_string(&new.guarded_by).unwrap_or_else(|_| "[]".into()),
                new.actor,
                ts(now),
                new.git_tag,
                new.hotfix_of.map(|n| n as i64),
                new.image
            ],
        )?;
        tx.commit()?;
        let created = parse_ts("revisions.created_at", &ts(now))?;
        Ok(Revision {
            app: new.app,
            revision: next as u64,
            version: new.version,
            digest: new.digest,
            change_cause: new.change_cause,
            git_commit: new.git_commit,
            git_tag: new.git_tag,
            hotfix_of: new.hotfix_of,
            image: new.image,
            guarded_by: new.guarded_by,
            actor: new.actor,
            created_at: created,
            status: RevisionStatus::Deploying,
            status_reason: None,
            live_since: None,
            soak_until: None,
            known_good_at: None,
            undone_at: None,
        })
    }

    async fn begin_operation(&self, new: NewOperation) -> Result<Operation> {
        let mut conn = self.lock();
        app_record(&conn, &new.app)?;
        let tx = write_tx(&mut conn)?;
        let running: Option<i64> = tx
            .query_row("SELECT id FROM operations WHERE app = ?1 AND state = 'running'", [new.app.as_str()], |r| {
                r.get(0)
            })
            .optional()?;
        if let Some(id) = running {
            let running = load_operation(&tx, id as u64)?
                .ok_or(StoreError::Corrupt { what: "operations.id", value: id.to_string() })?;
            return Err(StoreError::Busy { running: Box::new(running) });
        }
        tx.execute(
            "INSERT INTO operations (app, kind, state, actor, target_revision, from_revision, started_at, \
             lease_owner, lease_until) VALUES (?1, ?2, 'running', ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                new.app.as_str(),
                new.kind.as_str(),
                new.actor,
                new.target_revision.map(|n| n as i64),
                new.from_revision.map(|n| n as i64),
                ts(Utc::now()),
                new.owner,
                ts(lease_end(new.lease)),
            ],
        )?;
        let id = tx.last_insert_rowid() as u64;
        let op =
            load_operation(&tx, id)?.ok_or(StoreError::Corrupt { what: "operations.id", value: id.to_string() })?;
        tx.commit()?;
        Ok(op)
    }

    async fn renew_lease(&self, operation: u64, owner: &str, lease: std::time::Duration) -> Result<()> {
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        check_lease(&tx, operation, owner)?;
        tx.execute(
            "UPDATE operations SET lease_until = ?2 WHERE id = ?1",
            params![operation as i64, ts(lease_end(lease))],
        )?;
        tx.commit()?;
        Ok(())
    }

    async fn interrupted_operations(&self, owner: &str) -> Result<Vec<Operation>> {
        let conn = self.lock();
        let running = operation_ids(&conn, "SELECT id FROM operations WHERE state = ?1 ORDER BY id", &"running")?;
        let now = Utc::now();
        let mut out = Vec::new();
        for id in running {
            let Some(op) = load_operation(&conn, id)? else { continue };
            let mine = op.lease_owner.as_deref().is_none_or(|o| o == owner);
            let expired = op.lease_until.is_none_or(|t| t <= now);
            if mine || expired {
                out.push(op);
            }
        }
        Ok(out)
    }

    async fn operation(&self, id: u64) -> Result<Option<Operation>> {
        load_operation(&self.lock(), id)
    }

    async fn operations(&self, app: &AppName, limit: usize) -> Result<Vec<Operation>> {
        let conn = self.lock();
        app_record(&conn, app)?;
        let ids = operation_ids(
            &conn,
            &format!("SELECT id FROM operations WHERE app = ?1 ORDER BY id DESC LIMIT {limit}"),
            &app.as_str(),
        )?;
        ids.into_iter().filter_map(|id| load_operation(&conn, id).transpose()).collect()
    }

    async fn operation_counts(&self, app: &AppName) -> Result<Vec<(OperationKind, OperationState, u64)>> {
        let conn = self.lock();
        app_record(&conn, app)?;
        let mut stmt = conn.prepare_cached(
            "SELECT kind, state, COUNT(*) FROM operations WHERE app = ?1 GROUP BY kind, state ORDER BY kind, state",
        )?;
        let rows = stmt.query_map([app.as_str()], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, i64>(2)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (kind, state, count) = row?;
            // A kind or state this version does not know (written by a newer one) is left out.
            if let (Ok(kind), Ok(state)) = (kind.parse::<OperationKind>(), state.parse::<OperationState>()) {
                out.push((kind, state, u64::try_from(count).unwrap_or(0)));
            }
        }
        Ok(out)
    }

    async fn running_operations(&self) -> Result<Vec<Operation>> {
        let conn = self.lock();
        let ids = operation_ids(&conn, "SELECT id FROM operations WHERE state = ?1 ORDER BY id", &"running")?;
        ids.into_iter().filter_map(|id| load_operation(&conn, id).transpose()).collect()
    }

    async fn instances(&self, app: &AppName) -> Result<Vec<InstanceRecord>> {
        instances_where(&self.lock(), Some(app.as_str()))
    }

    async fn all_instances(&self) -> Result<Vec<InstanceRecord>> {
        instances_where(&self.lock(), None)
    }

    async fn apply(&self, app: &AppName, changes: Vec<Change>) -> Result<()> {
        let mut conn = self.lock();
        app_record(&conn, app)?;
        let tx = write_tx(&mut conn)?;
        let now = ts(Utc::now());
        for change in changes {
            apply_change(&tx, app, change, &now)?;
        }
        tx.commit()?;
        Ok(())
    }

    async fn apply_fenced(&self, app: &AppName, operation: u64, owner: &str, changes: Vec<Change>) -> Result<()> {
        let mut conn = self.lock();
        app_record(&conn, app)?;
        let tx = write_tx(&mut conn)?;
        check_lease(&tx, operation, owner)?;
        let now = ts(Utc::now());
        for change in changes {
            apply_change(&tx, app, change, &now)?;
        }
        tx.commit()?;
        Ok(())
    }

    async fn revision_contracts(&self, app: &AppName, revision: u64) -> Result<Option<serde_json::Value>> {
        let conn = self.lock();
        app_record(&conn, app)?;
        let text: Option<String> = conn
            .query_row(
                "SELECT contracts FROM revision_contracts WHERE app = ?1 AND revision = ?2",
                params![app.as_str(), revision as i64],
                |r| r.get(0),
            )
            .optional()?;
        text.map(|t| {
            serde_json::from_str(&t).map_err(|_| StoreError::Corrupt { what: "revision_contracts.contracts", value: t })
        })
        .transpose()
    }

    async fn revision_database(&self, app: &AppName, revision: u64) -> Result<RevisionDatabase> {
        let conn = self.lock();
        app_record(&conn, app)?;
        let row = conn
            .query_row(
                "SELECT migrations, queries, snapshot, snapshot_at FROM revision_database WHERE app = ?1 AND revision = ?2",
                params![app.as_str(), revision as i64],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, Option<String>>(3)?,
                    ))
                },
            )
            .optional()?;
        let Some((migrations, queries, snapshot, snapshot_at)) = row else {
            return Ok(RevisionDatabase::default());
        };
        let json = |what: &'static str, text: &str| {
            serde_json::from_str(text).map_err(|_| StoreError::Corrupt { what, value: text.to_owned() })
        };
        Ok(RevisionDatabase {
            migrations: json("revision_database.migrations", &migrations)?,
            queries: json("revision_database.queries", &queries)?,
            snapshot: snapshot.map(|s| json("revision_database.snapshot", &s)).transpose()?,
            snapshot_at: parse_opt_ts("revision_database.snapshot_at", snapshot_at)?,
        })
    }

    async fn audit(&self, new: crate::NewAudit) -> Result<()> {
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        append_audit(&tx, None, new, &ts(Utc::now()))?;
        tx.commit()?;
        Ok(())
    }

    async fn audit_entries(&self, after_seq: u64, limit: usize) -> Result<Vec<AuditEntry>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT seq, at, actor, action, app, outcome, detail, prev_hash, hash FROM audit \
             WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        let rows = stmt
            // A sequence number past i64 is past every entry (`as` would wrap it to "from the start").
            .query_map(params![i64::try_from(after_seq).unwrap_or(i64::MAX), limit as i64], |r| {
                Ok(AuditEntry {
                    seq: r.get::<_, i64>(0)? as u64,
                    at: r.get(1)?,
                    actor: r.get(2)?,
                    action: r.get(3)?,
                    app: r.get(4)?,
                    outcome: r.get(5)?,
                    detail: r.get(6)?,
                    prev_hash: r.get(7)?,
                    hash: r.get(8)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod permissions {
    use super::SqliteStore;

    #[test]
    fn state_database_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("backstop.db");
        std::fs::write(&path, b"").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        drop(SqliteStore::open(&path).unwrap());
        let fresh = dir.path().join("fresh.db");
        drop(SqliteStore::open(&fresh).unwrap());
        for p in [path, fresh] {
            assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600, "{}", p.display());
        }
    }
}
