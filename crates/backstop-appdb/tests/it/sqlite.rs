//! Snapshots read from real SQLite files.

use backstop_appdb::{ConstraintKind, ProblemKind, RelationKind, SchemaError, rollback_verdict, snapshot_sqlite};

fn database(sql: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    rusqlite::Connection::open(&path).unwrap().execute_batch(sql).unwrap();
    (dir, path)
}

#[test]
fn snapshot_reads_columns_keys_and_indexes() {
    let (_dir, path) = database(
        "CREATE TABLE orgs (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
         CREATE TABLE users (
             id INTEGER PRIMARY KEY,
             org_id INTEGER REFERENCES orgs (id),
             email VARCHAR(100) NOT NULL UNIQUE,
             status TEXT NOT NULL DEFAULT 'active',
             lower_email TEXT GENERATED ALWAYS AS (lower(email)) VIRTUAL
         );
         CREATE INDEX users_status_idx ON users (status);
         CREATE TABLE memberships (user_id INTEGER NOT NULL, org_id INTEGER NOT NULL, PRIMARY KEY (user_id, org_id));
         CREATE VIEW active_users AS SELECT id, email FROM users WHERE status = 'active';",
    );
    let snapshot = snapshot_sqlite(&path).unwrap();
    assert_eq!(
        snapshot.tables.keys().collect::<Vec<_>>(),
        ["main.active_users", "main.memberships", "main.orgs", "main.users"]
    );
    let view = &snapshot.tables["main.active_users"];
    assert_eq!(
        (view.kind, view.columns.keys().map(String::as_str).collect::<Vec<_>>()),
        (RelationKind::View, vec!["email", "id"])
    );
    let users = &snapshot.tables["main.users"];
    let columns: Vec<(&str, &str, bool, Option<&str>, bool)> = users
        .columns
        .iter()
        .map(|(n, c)| (n.as_str(), c.data_type.as_str(), c.nullable, c.default.as_deref(), c.generated))
        .collect();
    assert_eq!(
        columns,
        [
            ("email", "VARCHAR(100)", false, None, false),
            ("id", "INTEGER", false, None, true),
            ("lower_email", "TEXT", true, None, true),
            ("org_id", "INTEGER", true, None, false),
            ("status", "TEXT", false, Some("'active'"), false),
        ]
    );
    let constraints: Vec<(ConstraintKind, &str)> =
        users.constraints.iter().map(|c| (c.kind, c.definition.as_str())).collect();
    assert_eq!(
        constraints,
        [
            (ConstraintKind::PrimaryKey, "PRIMARY KEY (id)"),
            (ConstraintKind::ForeignKey, "FOREIGN KEY (org_id) REFERENCES orgs(id)"),
            (ConstraintKind::Unique, "UNIQUE (email)"),
        ]
    );
    let indexes: Vec<(&str, bool, bool)> =
        users.indexes.iter().map(|i| (i.name.as_str(), i.unique, i.backs_constraint)).collect();
    assert_eq!(indexes, [("sqlite_autoindex_users_1", true, true), ("users_status_idx", false, false)]);
    assert_eq!(users.indexes[1].definition, "CREATE INDEX users_status_idx ON users (status)");

    let memberships = &snapshot.tables["main.memberships"];
    assert_eq!(memberships.constraints[0].definition, "PRIMARY KEY (user_id, org_id)");
    assert!(memberships.columns.values().all(|c| !c.generated), "a composite key is not a rowid");
}

#[test]
fn a_dropped_column_in_sqlite_makes_rollback_unsafe() {
    let (_dir, path) = database("CREATE TABLE users (id INTEGER PRIMARY KEY, full_name TEXT);");
    let v1 = snapshot_sqlite(&path).unwrap();
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("ALTER TABLE users ADD COLUMN name TEXT; ALTER TABLE users DROP COLUMN full_name;")
        .unwrap();
    let verdict = rollback_verdict(&v1, &snapshot_sqlite(&path).unwrap(), None);
    let problems: Vec<(&str, &ProblemKind)> = verdict.problems.iter().map(|p| (p.object.as_str(), &p.kind)).collect();
    assert_eq!(problems, [("users.full_name", &ProblemKind::ColumnDropped { renamed_to: Some("name".into()) })]);
}

#[test]
fn a_missing_file_is_an_error_not_an_empty_schema() {
    let dir = tempfile::tempdir().unwrap();
    let error = snapshot_sqlite(dir.path().join("nope.db")).unwrap_err();
    assert!(matches!(error, SchemaError::SqliteMissing { .. }));
    assert!(error.to_string().starts_with("no sqlite database at "), "{error}");
    assert!(!dir.path().join("nope.db").exists(), "reading did not create the file");
}

#[test]
fn sqlite_checks_generated_columns_and_triggers_are_read_from_the_ddl() {
    let (_dir, path) = database(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, price INTEGER CHECK (price > 0), qty INTEGER,
             total INTEGER GENERATED ALWAYS AS (price * qty) VIRTUAL, CONSTRAINT qty_pos CHECK (qty >= 0));
         CREATE TRIGGER t_guard BEFORE DELETE ON t BEGIN SELECT RAISE(ABORT, 'no'); END;",
    );
    let s = snapshot_sqlite(&path).unwrap();
    assert_eq!(s.engine, backstop_appdb::Engine::Sqlite);
    let t = &s.tables["main.t"];
    let checks: Vec<(&str, &str, Vec<&str>)> = t
        .constraints
        .iter()
        .filter(|c| c.kind == ConstraintKind::Check)
        .map(|c| (c.name.as_str(), c.definition.as_str(), c.columns.iter().map(String::as_str).collect()))
        .collect();
    assert_eq!(
        checks,
        [("t_check1", "CHECK (price > 0)", vec!["price"]), ("qty_pos", "CHECK (qty >= 0)", vec!["qty"])]
    );
    assert_eq!(t.columns["total"].generation, Some(backstop_appdb::Generation::Expression));
    assert_eq!(t.columns["id"].generation, Some(backstop_appdb::Generation::Rowid));
    assert_eq!(t.triggers.len(), 1);
    assert_eq!((t.triggers[0].timing.as_str(), t.triggers[0].events.clone()), ("before", vec!["delete".to_owned()]));
}
