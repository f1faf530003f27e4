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

#[tokio::test]
async fn snapshot_reads_the_complete_picture_types_functions_sequences_triggers_policies_partitions() {
    let db = TestDb::new().await;
    db.exec(
        "CREATE TYPE mood AS ENUM ('ok', 'sad', 'glad');
         CREATE DOMAIN positive AS integer NOT NULL CHECK (VALUE > 0);
         ALTER DOMAIN positive ADD CONSTRAINT below CHECK (VALUE < 1000) NOT VALID;
         CREATE SEQUENCE tickets;
         CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text COLLATE \"C\",
             m mood, moods mood[], stock positive, price int);
         ALTER TABLE items ADD CONSTRAINT items_price_check CHECK (price > 0) NOT VALID;
         CREATE UNIQUE INDEX items_name ON items (name) NULLS NOT DISTINCT;
         CREATE UNIQUE INDEX items_price ON items (price) WHERE price > 10;
         CREATE FUNCTION price_of(p bigint, q text) RETURNS integer LANGUAGE sql AS 'SELECT 1';
         CREATE FUNCTION stamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
         CREATE TRIGGER stamp BEFORE INSERT OR UPDATE ON items FOR EACH ROW EXECUTE FUNCTION stamp();
         ALTER TABLE items ENABLE ROW LEVEL SECURITY;
         CREATE POLICY mine ON items FOR SELECT USING (price > 0);
         CREATE VIEW named AS SELECT id, name FROM items;
         CREATE VIEW distinct_names AS SELECT DISTINCT name FROM items;
         CREATE TABLE events (id int, at date) PARTITION BY RANGE (at);
         CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
         CREATE TABLE events_other PARTITION OF events DEFAULT;",
    )
    .await;
    let s = snapshot_postgres(&db.url).await.unwrap();
    assert_eq!(s.enums["public.mood"], ["ok", "sad", "glad"]);
    let domain = &s.domains["public.positive"];
    assert_eq!((domain.base.as_str(), domain.not_null), ("integer", true));
    assert_eq!(domain.checks, ["CHECK ((VALUE < 1000))", "CHECK ((VALUE > 0))"]);
    assert!(s.sequences.contains("public.tickets"), "{:?}", s.sequences);
    let price_of = &s.functions["public.price_of"][0];
    assert_eq!((price_of.arguments.as_str(), price_of.returns.as_str()), ("p bigint, q text", "integer"));
    assert_eq!(s.functions["public.stamp"][0].returns, "trigger");

    let items = &s.tables["public.items"];
    assert_eq!(items.columns["id"].generation, Some(backstop_appdb::Generation::IdentityAlways));
    assert_eq!(items.columns["name"].collation.as_deref(), Some("C"));
    assert_eq!(items.columns["m"].type_key.as_deref(), Some("public.mood"));
    assert_eq!(items.columns["moods"].type_key.as_deref(), Some("public.mood"));
    assert_eq!(items.columns["stock"].type_key.as_deref(), Some("public.positive"));
    let check = items.constraints.iter().find(|c| c.kind == ConstraintKind::Check).unwrap();
    assert_eq!(
        (check.validated, check.definition.as_str(), check.rule()),
        (false, "CHECK ((price > 0)) NOT VALID", "CHECK ((price > 0))")
    );
    let index = |name: &str| items.indexes.iter().find(|i| i.name == name).unwrap();
    assert!(index("items_name").nulls_not_distinct && !index("items_name").partial);
    assert!(index("items_price").partial && !index("items_price").nulls_not_distinct);
    assert_eq!(items.triggers.len(), 1);
    let trigger = &items.triggers[0];
    assert_eq!(
        (trigger.timing.as_str(), trigger.events.clone(), trigger.function.as_str()),
        ("before", vec!["insert".to_owned(), "update".to_owned()], "public.stamp")
    );
    assert!(!trigger.definition.contains("TRIGGER stamp"), "{}", trigger.definition);
    assert_eq!(items.row_security, (true, false));
    assert_eq!((items.policies[0].name.as_str(), items.policies[0].command.as_str()), ("mine", "SELECT"));

    assert_eq!(s.tables["public.named"].writable, ["insert", "update", "delete"]);
    assert!(s.tables["public.distinct_names"].writable.is_empty());
    assert!(s.tables["public.events"].partitioned);
    let part = &s.tables["public.events_2024"];
    assert_eq!(part.partition_of.as_deref(), Some("public.events"));
    assert_eq!(part.partition_bound.as_deref(), Some("FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')"));
    assert_eq!(s.tables["public.events_other"].partition_bound.as_deref(), Some("DEFAULT"));
}
