//! The migration runner against a real PostgreSQL: ledger, stages, checksums, transactions.

use backstop_appdb::{MigrationFile, SchemaError, Stage, apply, checksum, snapshot_postgres};

use crate::support::TestDb;

async fn ledger(db: &TestDb) -> Vec<(String, String, String, String)> {
    db.client()
        .await
        .query("SELECT version, name, checksum, phase FROM backstop_migrations ORDER BY version", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

async fn tables(db: &TestDb) -> Vec<String> {
    snapshot_postgres(&db.url).await.unwrap().tables.into_keys().collect()
}

#[tokio::test]
async fn migrations_are_recorded_once_and_skipped_after() {
    let db = TestDb::new().await;
    let files = [
        MigrationFile::new("001", "001_users.sql", "CREATE TABLE users (id bigint PRIMARY KEY, full_name text);"),
        MigrationFile::new("002", "002_backfill.sql", "INSERT INTO users VALUES (1, 'Ada');"),
    ];
    let first = apply(&db.url, &files, Stage::Expand).await.unwrap();
    assert_eq!(
        (first.applied.as_slice(), first.skipped.as_slice()),
        (&["001".to_owned(), "002".to_owned()][..], &[][..])
    );
    let again = apply(&db.url, &files, Stage::Expand).await.unwrap();
    assert_eq!((again.applied.len(), again.skipped.len()), (0, 2));
    assert_eq!(
        ledger(&db).await,
        [
            ("001".into(), "001_users.sql".into(), checksum(&files[0].sql), "expand".into()),
            ("002".into(), "002_backfill.sql".into(), checksum(&files[1].sql), "backfill".into()),
        ]
    );
    let rows: i64 = db.client().await.query_one("SELECT count(*) FROM users", &[]).await.unwrap().get(0);
    assert_eq!(rows, 1, "the backfill ran once");
}

#[tokio::test]
async fn an_applied_migration_whose_file_changed_is_refused_naming_both_checksums() {
    let db = TestDb::new().await;
    let original = MigrationFile::new("001", "001_users.sql", "CREATE TABLE users (id int);");
    apply(&db.url, std::slice::from_ref(&original), Stage::Expand).await.unwrap();
    let edited = MigrationFile::new("001", "001_users.sql", "CREATE TABLE users (id bigint);");
    let next = MigrationFile::new("002", "002_orders.sql", "CREATE TABLE orders (id int);");
    let error = apply(&db.url, &[edited.clone(), next], Stage::Contract).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "migration 001 was applied with checksum {} but its file now has checksum {}; never edit an applied migration, add a new one",
            checksum(&original.sql),
            checksum(&edited.sql)
        )
    );
    assert_eq!(tables(&db).await, ["public.backstop_migrations", "public.users"], "nothing ran after the refusal");
}

#[tokio::test]
async fn the_expand_stage_refuses_a_contract_statement_before_running_anything() {
    let db = TestDb::new().await;
    let files = [
        MigrationFile::new("001", "001_users.sql", "CREATE TABLE users (id int, full_name text);"),
        MigrationFile::new("002", "002_orders.sql", "CREATE TABLE orders (id int);"),
        MigrationFile::new(
            "003",
            "003_rename.sql",
            "-- the wrong way\n\nALTER TABLE users RENAME COLUMN full_name TO name;",
        ),
    ];
    apply(&db.url, &files[..1], Stage::Expand).await.unwrap();
    let error = apply(&db.url, &files, Stage::Expand).await.unwrap_err();
    match &error {
        SchemaError::ContractInExpand { version, file, line, kind } => {
            assert_eq!(
                (version.as_str(), file.as_str(), *line, kind.as_str()),
                ("003", "003_rename.sql", 3, "alter table rename column")
            );
        }
        other => panic!("expected a contract refusal, got {other:?}"),
    }
    assert!(error.to_string().starts_with("003_rename.sql:3: migration 003 has a contract statement"), "{error}");
    assert_eq!(tables(&db).await, ["public.backstop_migrations", "public.users"], "002 did not run either");

    let report = apply(&db.url, &files, Stage::Contract).await.unwrap();
    assert_eq!(report.applied, ["002", "003"]);
}

#[tokio::test]
async fn a_failing_statement_rolls_back_its_whole_migration() {
    let db = TestDb::new().await;
    let files = [MigrationFile::new("001", "001_bad.sql", "CREATE TABLE a (id int);\nINSERT INTO missing VALUES (1);")];
    let error = apply(&db.url, &files, Stage::Expand).await.unwrap_err();
    assert_eq!(error.to_string(), "001_bad.sql:2: migration 001 failed; its transaction was rolled back");
    let source = std::error::Error::source(&error).map(ToString::to_string).unwrap_or_default();
    assert!(source.contains("db error"), "{source}");
    assert_eq!(tables(&db).await, ["public.backstop_migrations"]);
    assert_eq!(ledger(&db).await, []);
}

#[tokio::test]
async fn create_index_concurrently_runs_outside_a_transaction() {
    let db = TestDb::new().await;
    let files = [
        MigrationFile::new("001", "001_users.sql", "BEGIN;\nCREATE TABLE users (id int, email text);\nCOMMIT;"),
        MigrationFile::new("002", "002_index.sql", "CREATE INDEX CONCURRENTLY users_email_idx ON users (email);"),
    ];
    apply(&db.url, &files, Stage::Expand).await.unwrap();
    let snapshot = snapshot_postgres(&db.url).await.unwrap();
    let indexes: Vec<&str> = snapshot.tables["public.users"].indexes.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(indexes, ["users_email_idx"]);
    assert_eq!(ledger(&db).await.len(), 2);

    let failing = [MigrationFile::new(
        "003",
        "003_index.sql",
        "CREATE INDEX CONCURRENTLY users_id_idx ON users (id);\nCREATE INDEX CONCURRENTLY orders_idx ON orders (id);",
    )];
    let error = apply(&db.url, &failing, Stage::Expand).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "003_index.sql:2: migration 003 failed outside a transaction: the statements before it stay applied"
    );
    assert_eq!(ledger(&db).await.len(), 2, "a half-run migration is not recorded");
}

#[tokio::test]
async fn an_unparseable_migration_is_refused_naming_its_version() {
    let db = TestDb::new().await;
    let files = [MigrationFile::new("001", "001_bad.sql", "CREATE TABLE (")];
    let error = apply(&db.url, &files, Stage::Contract).await.unwrap_err();
    assert_eq!(error.to_string(), "migration 001 cannot be analysed");
    let source = std::error::Error::source(&error).map(ToString::to_string).unwrap_or_default();
    assert!(source.starts_with("001_bad.sql:1:"), "{source}");
}

#[tokio::test]
async fn a_failing_expand_dry_run_names_the_statement_and_leaves_nothing() {
    let db = TestDb::new().await;
    db.exec("CREATE TABLE users (id int)").await;
    let database = backstop_appdb::Database::parse(&db.url).unwrap();
    let statements = vec![
        ("0002_x.sql:1".to_owned(), "ALTER TABLE users ADD COLUMN name text".to_owned()),
        ("0002_x.sql:4".to_owned(), "ALTER TABLE nope ADD COLUMN name text".to_owned()),
    ];
    let error = database.dry_run_steps(&statements).await.unwrap_err();
    assert!(error.to_string().starts_with("0002_x.sql:4: "), "{error}");
    assert_eq!(tables(&db).await, ["public.users"]);
    assert!(!snapshot_postgres(&db.url).await.unwrap().tables["public.users"].columns.contains_key("name"));
}
