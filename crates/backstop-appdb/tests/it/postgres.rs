//! Snapshots read from a real PostgreSQL catalog, and the seed texts' worked example end to end.

use backstop_appdb::{
    ConstraintKind, MigrationFile, ProblemKind, RelationKind, Snapshot, Stage, Uses, apply, dry_run_contract,
    rollback_verdict, snapshot_postgres,
};

use crate::support::TestDb;

#[tokio::test]
async fn snapshot_reads_columns_types_nullability_defaults_constraints_and_indexes() {
    let db = TestDb::new().await;
    db.exec(
        "CREATE TABLE orgs (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL);
         CREATE TABLE users (
             id bigserial PRIMARY KEY,
             org_id bigint REFERENCES orgs (id),
             email varchar(100) NOT NULL UNIQUE,
             age integer CHECK (age > 0),
             status text NOT NULL DEFAULT 'active',
             created_at timestamptz DEFAULT now(),
             lower_email text GENERATED ALWAYS AS (lower(email)) STORED
         );
         CREATE INDEX users_created_idx ON users (created_at);
         CREATE UNIQUE INDEX users_lower_email_idx ON users (lower_email);
         CREATE SCHEMA billing;
         CREATE TABLE billing.invoices (id int);
         CREATE VIEW active_users AS SELECT id, email FROM users WHERE status = 'active';",
    )
    .await;
    let snapshot = snapshot_postgres(&db.url).await.unwrap();
    assert_eq!(
        snapshot.tables.keys().collect::<Vec<_>>(),
        ["billing.invoices", "public.active_users", "public.orgs", "public.users"]
    );
    let view = &snapshot.tables["public.active_users"];
    assert_eq!(view.kind, RelationKind::View);
    let view_columns: Vec<(&str, &str)> =
        view.columns.iter().map(|(n, c)| (n.as_str(), c.data_type.as_str())).collect();
    assert_eq!(view_columns, [("email", "character varying(100)"), ("id", "bigint")]);

    let users = &snapshot.tables["public.users"];
    let columns: Vec<(&str, &str, bool, Option<&str>, bool)> = users
        .columns
        .iter()
        .map(|(n, c)| (n.as_str(), c.data_type.as_str(), c.nullable, c.default.as_deref(), c.generated))
        .collect();
    assert_eq!(
        columns,
        [
            ("age", "integer", true, None, false),
            ("created_at", "timestamp with time zone", true, Some("now()"), false),
            ("email", "character varying(100)", false, None, false),
            ("id", "bigint", false, Some("nextval('users_id_seq'::regclass)"), false),
            ("lower_email", "text", true, None, true),
            ("org_id", "bigint", true, None, false),
            ("status", "text", false, Some("'active'::text"), false),
        ]
    );
    let orgs_id = &snapshot.tables["public.orgs"].columns["id"];
    assert!(orgs_id.generated && !orgs_id.nullable && orgs_id.default.is_none(), "{orgs_id:?}");

    let constraints: Vec<(&str, ConstraintKind, &str, Vec<&str>)> = users
        .constraints
        .iter()
        .map(|c| (c.name.as_str(), c.kind, c.definition.as_str(), c.columns.iter().map(String::as_str).collect()))
        .collect();
    assert_eq!(
        constraints,
        [
            ("users_age_check", ConstraintKind::Check, "CHECK ((age > 0))", vec!["age"]),
            ("users_email_key", ConstraintKind::Unique, "UNIQUE (email)", vec!["email"]),
            (
                "users_org_id_fkey",
                ConstraintKind::ForeignKey,
                "FOREIGN KEY (org_id) REFERENCES orgs(id)",
                vec!["org_id"]
            ),
            ("users_pkey", ConstraintKind::PrimaryKey, "PRIMARY KEY (id)", vec!["id"]),
        ]
    );
    let indexes: Vec<(&str, &str, bool, Vec<&str>, bool)> = users
        .indexes
        .iter()
        .map(|i| {
            (
                i.name.as_str(),
                i.definition.as_str(),
                i.unique,
                i.columns.iter().map(String::as_str).collect(),
                i.backs_constraint,
            )
        })
        .collect();
    assert_eq!(
        indexes,
        [
            (
                "users_created_idx",
                "CREATE INDEX users_created_idx ON public.users USING btree (created_at)",
                false,
                vec!["created_at"],
                false
            ),
            (
                "users_email_key",
                "CREATE UNIQUE INDEX users_email_key ON public.users USING btree (email)",
                true,
                vec!["email"],
                true
            ),
            (
                "users_lower_email_idx",
                "CREATE UNIQUE INDEX users_lower_email_idx ON public.users USING btree (lower_email)",
                true,
                vec!["lower_email"],
                false
            ),
            ("users_pkey", "CREATE UNIQUE INDEX users_pkey ON public.users USING btree (id)", true, vec!["id"], true),
        ]
    );

    let json = serde_json::to_string(&snapshot).unwrap();
    assert_eq!(serde_json::from_str::<Snapshot>(&json).unwrap(), snapshot);
    assert_eq!(rollback_verdict(&snapshot, &snapshot, None).problems, []);
}

#[tokio::test]
async fn a_bad_url_is_an_error_naming_the_target_without_its_password() {
    let error = snapshot_postgres("postgres://app:s3cret@127.0.0.1:1/app").await.unwrap_err();
    let message = error.to_string();
    assert_eq!(message, "cannot connect to postgres at postgres://app:***@127.0.0.1:1/app");
}

const V1: &str = "CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, full_name text)";

/// A database at schema v1 and v1's snapshot.
async fn at_v1() -> (TestDb, Snapshot) {
    let db = TestDb::new().await;
    apply(&db.url, &[MigrationFile::new("001", "001_users.sql", V1)], Stage::Expand).await.unwrap();
    let v1 = snapshot_postgres(&db.url).await.unwrap();
    (db, v1)
}

fn objects(verdict: &backstop_appdb::Verdict) -> Vec<(&str, &ProblemKind)> {
    verdict.problems.iter().map(|p| (p.object.as_str(), &p.kind)).collect()
}

#[tokio::test]
async fn renaming_a_column_in_one_migration_makes_rollback_to_v1_unsafe() {
    let (db, v1) = at_v1().await;
    let rename = MigrationFile::new("002", "002_rename.sql", "ALTER TABLE users RENAME COLUMN full_name TO name;");
    apply(&db.url, std::slice::from_ref(&rename), Stage::Contract).await.unwrap();
    let live = snapshot_postgres(&db.url).await.unwrap();
    let verdict = rollback_verdict(&v1, &live, None);
    assert!(!verdict.safe);
    assert_eq!(
        objects(&verdict),
        [("users.full_name", &ProblemKind::ColumnDropped { renamed_to: Some("name".into()) })]
    );
}

#[tokio::test]
async fn expand_then_contract_keeps_rollback_safe_until_the_drop() {
    let (db, v1) = at_v1().await;
    let expand = MigrationFile::new(
        "002",
        "002_add_name.sql",
        "ALTER TABLE users ADD COLUMN name TEXT;
         UPDATE users SET name = full_name WHERE name IS NULL;
         CREATE OR REPLACE FUNCTION sync_name() RETURNS trigger AS $$
         BEGIN
           NEW.name := COALESCE(NEW.name, NEW.full_name);
           NEW.full_name := COALESCE(NEW.full_name, NEW.name);
           RETURN NEW;
         END; $$ LANGUAGE plpgsql;
         CREATE TRIGGER trg_sync_name BEFORE INSERT OR UPDATE ON users FOR EACH ROW EXECUTE FUNCTION sync_name();",
    );
    let report = apply(&db.url, std::slice::from_ref(&expand), Stage::Expand).await.unwrap();
    assert_eq!(report.applied, ["002"]);
    let after_expand = snapshot_postgres(&db.url).await.unwrap();
    let verdict = rollback_verdict(&v1, &after_expand, None);
    assert!(verdict.safe, "{verdict:?}");
    // v1's code really works here: it writes full_name only, and the trigger fills name.
    db.exec("INSERT INTO users (full_name) VALUES ('Ada Lovelace')").await;

    let contract_sql = "DROP TRIGGER trg_sync_name ON users;\nALTER TABLE users DROP COLUMN full_name;";
    let contract = MigrationFile::new("003", "003_drop_full_name.sql", contract_sql);
    let all = [expand, contract];
    let refused = apply(&db.url, &all, Stage::Expand).await.unwrap_err();
    assert_eq!(
        refused.to_string(),
        "003_drop_full_name.sql:1: migration 003 has a contract statement (drop trigger); the expand stage runs only \
         expand and backfill statements, run it in the contract stage once the previous revision is permanent"
    );

    let dry = dry_run_contract(&db.url, contract_sql).await.unwrap();
    assert_eq!(snapshot_postgres(&db.url).await.unwrap(), after_expand, "the dry run left the database as it was");
    let dry_verdict = rollback_verdict(&v1, &dry, None);
    assert_eq!(
        objects(&dry_verdict),
        [("users.full_name", &ProblemKind::ColumnDropped { renamed_to: Some("name".into()) })]
    );

    let report = apply(&db.url, &all, Stage::Contract).await.unwrap();
    assert_eq!((report.skipped, report.applied), (vec!["002".to_owned()], vec!["003".to_owned()]));
    let live = snapshot_postgres(&db.url).await.unwrap();
    assert_eq!(live, dry, "the dry run predicted the contract's schema");
    let verdict = rollback_verdict(&v1, &live, None);
    assert!(!verdict.safe);
    assert_eq!(verdict.problems[0].object, "users.full_name");
}

#[tokio::test]
async fn a_new_not_null_column_without_default_breaks_the_old_inserts_and_one_with_a_default_does_not() {
    let cases = [
        ("ALTER TABLE users ADD COLUMN status text NOT NULL", false),
        ("ALTER TABLE users ADD COLUMN status text NOT NULL DEFAULT 'active'", true),
    ];
    for (sql, safe) in cases {
        let (db, v1) = at_v1().await;
        apply(&db.url, &[MigrationFile::new("002", "002_status.sql", sql)], Stage::Contract).await.unwrap();
        let verdict = rollback_verdict(&v1, &snapshot_postgres(&db.url).await.unwrap(), None);
        assert_eq!(verdict.safe, safe, "{sql}: {verdict:?}");
        if !safe {
            assert_eq!(objects(&verdict), [("users.status", &ProblemKind::NewNotNullWithoutDefault)]);
        }
        // What the verdict predicts is what v1's insert meets.
        let insert = db.client().await.batch_execute("INSERT INTO users (full_name) VALUES ('Ada')").await;
        assert_eq!(insert.is_ok(), safe, "{sql}: {insert:?}");
    }
}

#[tokio::test]
async fn a_new_check_constraint_counts_in_precise_mode_only_when_the_target_uses_its_column() {
    let (db, v1) = at_v1().await;
    let check = "ALTER TABLE users ADD CONSTRAINT users_full_name_check CHECK (length(full_name) > 0) NOT VALID";
    apply(&db.url, &[MigrationFile::new("002", "002_check.sql", check)], Stage::Expand).await.unwrap();
    let live = snapshot_postgres(&db.url).await.unwrap();
    let expected = ProblemKind::NewConstraint {
        name: "users_full_name_check".into(),
        constraint: ConstraintKind::Check,
        definition: "CHECK ((length(full_name) > 0)) NOT VALID".into(),
    };
    let conservative = rollback_verdict(&v1, &live, None);
    assert_eq!(objects(&conservative), [("users.users_full_name_check", &expected)]);

    let reads_ids = Uses::default().with_table("users", ["id"]);
    let precise = rollback_verdict(&v1, &live, Some(&reads_ids));
    assert!(precise.safe && precise.unused.len() == 1, "{precise:?}");
    let writes_names = Uses::default().with_table("public.users", ["full_name"]);
    assert!(!rollback_verdict(&v1, &live, Some(&writes_names)).safe);
}

#[tokio::test]
async fn dropping_a_view_the_target_reads_makes_rollback_unsafe() {
    let (db, _) = at_v1().await;
    db.exec("CREATE VIEW named_users AS SELECT id, full_name FROM users").await;
    let before = snapshot_postgres(&db.url).await.unwrap();
    db.exec("DROP VIEW named_users").await;
    let verdict = rollback_verdict(&before, &snapshot_postgres(&db.url).await.unwrap(), None);
    assert_eq!(objects(&verdict), [("named_users", &ProblemKind::TableDropped { renamed_to: None })]);
    assert_eq!(verdict.problems[0].message, "view named_users is gone; the target's queries on it fail");
}

#[tokio::test]
async fn the_kept_session_sees_new_changes_and_comes_back_after_the_server_drops_it() {
    let db = TestDb::new().await;
    db.exec("CREATE TABLE users (id bigint PRIMARY KEY)").await;
    let handle = backstop_appdb::Database::parse(&db.url).unwrap();
    let first = handle.snapshot().await.unwrap();
    assert_eq!(first.tables["public.users"].columns.keys().collect::<Vec<_>>(), ["id"]);
    db.exec("ALTER TABLE users ADD COLUMN name text").await;
    let second = handle.clone().snapshot().await.unwrap();
    assert!(second.tables["public.users"].columns.contains_key("name"), "a clone shares the session and reads fresh");
    // The server ends every other session on this database, the kept one included.
    let dropped: i64 = db
        .client()
        .await
        .query_one(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()) t",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(dropped >= 1, "the kept session was open");
    db.exec("ALTER TABLE users ADD COLUMN email text").await;
    let third = handle.snapshot().await.unwrap();
    assert!(third.tables["public.users"].columns.contains_key("email"));
}
