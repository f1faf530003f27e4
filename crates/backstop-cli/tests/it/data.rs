//! Data safety end to end: releases that ship migrations to a real PostgreSQL (a throwaway cluster)
//! or SQLite file, the coupling gate, the contract stage and rollback checks.

use std::path::{Path, PathBuf};

use crate::harness::*;

#[path = "../../../backstop-appdb/tests/it/support.rs"]
#[allow(dead_code)]
mod pg;

/// A PostgreSQL database of its own, and a runtime to talk to it from these synchronous tests.
struct Db {
    rt: tokio::runtime::Runtime,
    db: pg::TestDb,
}

impl Db {
    fn new() -> Db {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let db = rt.block_on(pg::TestDb::new());
        Db { rt, db }
    }

    fn url(&self) -> &str {
        &self.db.url
    }

    fn exec(&self, sql: &str) {
        self.rt.block_on(self.db.exec(sql));
    }

    /// The columns of `table`, in order.
    fn columns(&self, table: &str) -> Vec<String> {
        self.rt.block_on(async {
            let client = self.db.client().await;
            client
                .query(
                    "SELECT column_name::text FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position",
                    &[&table],
                )
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect()
        })
    }

    fn one(&self, sql: &str) -> String {
        self.rt.block_on(async {
            let row = self.db.client().await.query_one(sql, &[]).await.unwrap();
            row.get(0)
        })
    }
}

/// A migration folder for one release: `files` as (name, text).
fn folder(h: &Harness, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = h.dir.path().join("migrations").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for (file, text) in files {
        std::fs::write(dir.join(file), text).unwrap();
    }
    dir
}

fn release_with(h: &Harness, version: &str, extra: &[&str]) -> Out {
    let art = h.artifact(version, &[]);
    let mut args =
        vec!["release", "shop", "--artifact", art.to_str().unwrap(), "--version", version, "--change-cause", version];
    args.extend_from_slice(extra);
    h.cli(&args)
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

const USERS: (&str, &str) =
    ("0001_users.up.sql", "CREATE TABLE users (id bigint PRIMARY KEY, full_name text NOT NULL);");
const ADD_NAME: (&str, &str) =
    ("0002_add_name.up.sql", "SET lock_timeout = '2s';\nALTER TABLE users ADD COLUMN IF NOT EXISTS name text;");
const ADD_NAME_DOWN: (&str, &str) = ("0002_add_name.down.sql", "ALTER TABLE users DROP COLUMN name;");
const COPY_NAME: (&str, &str) = ("0003_copy_name.up.sql", "UPDATE users SET name = full_name WHERE name IS NULL;");
const DROP_FULL_NAME: (&str, &str) =
    ("0004_drop_full_name.up.sql", "SET lock_timeout = '2s';\nALTER TABLE users DROP COLUMN full_name;");

fn audit_actions(h: &Harness) -> Vec<(String, String, serde_json::Value)> {
    h.json(&["audit", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (e["action"].as_str().unwrap().to_owned(), e["outcome"].as_str().unwrap().to_owned(), e["detail"].clone())
        })
        .collect()
}

/// The worked example: `users.full_name` becomes `users.name`.
#[test]
fn full_name_becomes_name_by_expand_and_contract_on_postgres() {
    let db = Db::new();
    let h = Harness::start(&format!("[apps.shop.database]\nurl = \"{}\"\n", db.url()));

    // Release 1 creates the table before its code starts.
    let v1 = folder(&h, "v1", &[USERS]);
    release_with(&h, "v1", &["--migrations", path(&v1)]).ok();
    assert_eq!(db.columns("users"), ["id", "full_name"]);
    db.exec("INSERT INTO users (id, full_name) VALUES (1, 'Ada Lovelace')");
    h.wait_status(1, "known-good");

    // Renaming in one release is refused before anything runs.
    let rename =
        folder(&h, "rename", &[USERS, ("0002_rename.up.sql", "ALTER TABLE users RENAME COLUMN full_name TO name;")]);
    let out = release_with(&h, "v2-rename", &["--migrations", path(&rename)]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    let err = out.stderr();
    assert!(err.starts_with("error: release refused: 0002_rename.up.sql:1:"), "{err}");
    assert!(err.contains("rename-in-release") && err.contains("renaming column `full_name` of `users`"), "{err}");
    assert!(err.contains("hint: do it over three releases"), "{err}");
    assert_eq!(db.columns("users"), ["id", "full_name"], "nothing ran");
    assert_eq!(h.json(&["history", "shop"]).as_array().unwrap().len(), 1, "no revision recorded");
    assert_eq!(h.public_get(), (200, "shop v1\n".into()));

    // Release 2: expand (add the column, copy the data), then the code that reads it.
    let v2 = folder(&h, "v2", &[USERS, ADD_NAME, ADD_NAME_DOWN, COPY_NAME]);
    let plan = h.json(&["migrate", "plan", "shop", "--migrations", path(&v2)]);
    let stages: Vec<(&str, &str)> = plan["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["version"].as_str().unwrap(), m["stage"].as_str().unwrap()))
        .collect();
    assert_eq!(stages, [("0002", "expand"), ("0003", "expand")]);
    assert_eq!(plan["applied"], serde_json::json!(["0001"]));
    release_with(&h, "v2", &["--migrations", path(&v2)]).ok();
    assert_eq!(db.columns("users"), ["id", "full_name", "name"]);
    assert_eq!(db.one("SELECT name FROM users WHERE id = 1"), "Ada Lovelace");
    h.wait_status(2, "known-good");

    // Rolling the code back one release after the expand step is safe, and goes through.
    let check = h.json(&["check-rollback", "shop", "1"]);
    assert_eq!(check["safe"], true, "{check}");
    assert_eq!(check["mode"], "conservative");
    h.cli(&["undo", "shop"]).ok();
    assert_eq!(h.public_get(), (200, "shop v1\n".into()));
    h.cli(&["undo", "shop", "--to-revision", "2"]).ok();
    assert_eq!(h.public_get(), (200, "shop v2\n".into()));

    // Release 3 ships the drop: it waits for the contract stage.
    let v3 = folder(&h, "v3", &[USERS, ADD_NAME, ADD_NAME_DOWN, COPY_NAME, DROP_FULL_NAME]);
    release_with(&h, "v3", &["--migrations", path(&v3)]).ok();
    assert_eq!(db.columns("users"), ["id", "full_name", "name"], "contract statements never ride with the deploy");
    let ops = h.json(&["operations", "shop", "--limit", "1"]);
    let steps: Vec<&str> = ops[0]["steps"].as_array().unwrap().iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert!(steps.contains(&"contract-deferred"), "{steps:?}");
    assert!(!steps.contains(&"migrate-expand"), "nothing to expand in release 3: {steps:?}");

    h.wait_status(3, "known-good");
    let plan = h.json(&["migrate", "plan", "shop"]);
    assert_eq!(plan["source"], "live revision 3");
    assert_eq!(plan["migrations"][0]["stage"], "contract", "{plan}");

    // Revisions 1 and 2 still read full_name, and nothing is permanent: refused.
    let out = h.cli(&["migrate", "contract", "shop"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    let err = out.stderr();
    assert!(err.contains("users.full_name (needed by revision 1, 2)"), "{err}");
    assert!(err.contains("hint:") && err.contains("`backstop promote shop 3 --permanent`"), "{err}");
    assert_eq!(db.columns("users"), ["id", "full_name", "name"]);

    h.cli(&["promote", "shop", "3", "--permanent"]).ok();
    assert_eq!(h.revision_status(3), "permanent");
    let out = h.cli(&["migrate", "contract", "shop"]);
    out.ok();
    assert!(out.stdout().contains("contract applied 0004"), "{}", out.stdout());
    assert_eq!(db.columns("users"), ["id", "name"]);
    // Again: nothing left.
    assert!(h.cli(&["migrate", "contract", "shop"]).ok().stdout().contains("nothing to contract"));

    // Rolling back to a revision that read the dropped column is refused, naming it.
    let out = h.cli(&["check-rollback", "shop", "2"]);
    assert_eq!(out.code(), 1, "{}", out.stdout());
    assert!(out.stdout().contains("users.full_name"), "{}", out.stdout());
    let check =
        serde_json::from_str::<serde_json::Value>(&h.cli(&["check-rollback", "shop", "2", "-o", "json"]).stdout())
            .unwrap();
    assert_eq!(check["safe"], false);
    assert_eq!(check["problems"][0]["object"], "users.full_name");
    assert_eq!(check["down"][0]["version"], "0004", "the migration since revision 2: {check}");
    assert!(check["advice"].as_str().unwrap().contains("none shipped for 0004"), "{check}");

    // Revision 3 is permanent: no undo goes back past it, --force or not (the schema check and its
    // override are shown in `shipped_queries_make_the_checks_precise`).
    for force in [&[][..], &["--force"][..]] {
        let mut args = vec!["undo", "shop", "--to-revision", "2"];
        args.extend_from_slice(force);
        let out = h.cli(&args);
        assert_eq!(out.code(), 1, "{}", out.stderr());
        assert!(
            out.stderr().starts_with("error: rollback to revision 2 refused: revision 3 is permanent"),
            "{}",
            out.stderr()
        );
    }
    assert_eq!(h.public_get(), (200, "shop v3\n".into()), "traffic stays");

    // A NOT NULL column without default would break the previous code's inserts: refused.
    let v4 = folder(
        &h,
        "v4",
        &[
            USERS,
            ADD_NAME,
            ADD_NAME_DOWN,
            COPY_NAME,
            DROP_FULL_NAME,
            ("0005_email.up.sql", "ALTER TABLE users ADD COLUMN email text NOT NULL;"),
        ],
    );
    let out = release_with(&h, "v4", &["--migrations", path(&v4)]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    let err = out.stderr();
    assert!(err.contains("0005_email.up.sql:1:") && err.contains("adding-not-null-column-without-default"), "{err}");
    assert!(err.contains("breaks the previous code"), "{err}");
    assert_eq!(db.columns("users"), ["id", "name"]);

    // An applied migration edited afterwards is refused.
    let edited = folder(&h, "edited", &[("0001_users.up.sql", "CREATE TABLE users (id int);")]);
    let out = release_with(&h, "v5", &["--migrations", path(&edited)]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    assert!(out.stderr().contains("migration 0001 was applied with checksum"), "{}", out.stderr());
}

/// Precise mode: a revision that shipped its queries is only held to what those queries touch.
#[test]
fn shipped_queries_make_the_checks_precise() {
    let db = Db::new();
    let h = Harness::start(&format!("[apps.shop.database]\nurl = \"{}\"\n", db.url()));
    let base = ("0001_users.sql", "CREATE TABLE users (id bigint PRIMARY KEY, full_name text, nickname text);");
    let drop = ("0002_drop_nickname.sql", "SET lock_timeout = '2s';\nALTER TABLE users DROP COLUMN nickname;");
    let queries = folder(
        &h,
        "queries",
        &[(
            "users.sql",
            "SELECT id, full_name FROM users WHERE id = $1;\nINSERT INTO users (id, full_name) VALUES ($1, $2);",
        )],
    );
    let v1 = folder(&h, "v1", &[base]);
    release_with(&h, "v1", &["--migrations", path(&v1), "--queries", path(&queries)]).ok();
    h.wait_status(1, "known-good");
    let one = h.json(&["history", "shop", "--revision", "1"]);
    assert_eq!(one["database"]["migrations"], serde_json::json!(["0001_users.sql"]), "{one}");
    assert_eq!(one["database"]["queries"], 2);
    assert!(one["database"]["schema_recorded_at"].is_string(), "{one}");
    let shown = h.cli(&["history", "shop", "--revision", "1"]);
    assert!(shown.ok().stdout().contains("migrations:    0001_users.sql"), "{}", shown.stdout());
    let v2 = folder(&h, "v2", &[base, drop]);
    release_with(&h, "v2", &["--migrations", path(&v2), "--queries", path(&queries)]).ok();
    h.wait_status(2, "known-good");

    // Revision 1's queries never touch nickname: the contract goes through without a promote.
    h.cli(&["migrate", "contract", "shop"]).ok();
    assert_eq!(db.columns("users"), ["id", "full_name"]);
    let check = h.json(&["check-rollback", "shop", "1"]);
    assert_eq!((check["safe"].as_bool(), check["mode"].as_str()), (Some(true), Some("precise")), "{check}");
    assert_eq!(check["set_aside"][0]["object"], "users.nickname", "{check}");
    h.cli(&["undo", "shop"]).ok();
    assert_eq!(h.public_get(), (200, "shop v1\n".into()));

    // A column revision 1 writes becomes mandatory: its INSERT would fail, and precise mode sees it.
    db.exec("ALTER TABLE users ADD COLUMN tier text NOT NULL DEFAULT 'free'; ALTER TABLE users ALTER COLUMN tier DROP DEFAULT");
    let out = h.cli(&["check-rollback", "shop", "2", "-o", "json"]);
    assert_eq!(out.code(), 1, "an unsafe answer exits 1: {}", out.stderr());
    let check: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(check["safe"], false, "{check}");
    assert_eq!(check["problems"][0]["object"], "users.tier", "{check}");

    // The undo makes the same check before traffic moves: refused, naming the column.
    let out = h.cli(&["undo", "shop", "--to-revision", "2"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    let err = out.stderr();
    assert!(err.starts_with("error: rollback of `shop` to revision 2 refused"), "{err}");
    assert!(err.contains("users.tier"), "{err}");
    assert!(err.contains("hint: roll forward"), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert_eq!(h.public_get(), (200, "shop v1\n".into()), "traffic stays");

    // --force overrides, and the audit log says so.
    h.cli(&["undo", "shop", "--to-revision", "2", "--force"]).ok();
    assert_eq!(h.public_get(), (200, "shop v2\n".into()));
    let audit = audit_actions(&h);
    let forced = audit.iter().rev().find(|(a, o, _)| a == "undo" && o == "succeeded").unwrap();
    assert_eq!(forced.2["forced"], true, "{:?}", forced.2);
    assert_eq!(forced.2["forced_over"], serde_json::json!(["users.tier"]));
    assert!(audit.iter().any(|(a, o, d)| a == "undo" && o == "failed" && d["revision"] == 2));
}

/// The same pipeline on a SQLite app database: its own runner, ledger and catalog.
#[test]
fn sqlite_app_databases_get_the_same_pipeline() {
    let h = Harness::start("soak = \"2s\"\n[apps.shop.database]\nurl = \"sqlite://shop.db\"\n");
    let db_path = h.dir.path().join("shop.db");
    let base = ("0001_users.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY, full_name TEXT, nickname TEXT);");
    let drop = ("0002_drop_nickname.sql", "ALTER TABLE users DROP COLUMN nickname;");
    let v1 = folder(&h, "v1", &[base]);
    release_with(&h, "v1", &["--migrations", path(&v1)]).ok();
    assert!(db_path.is_file(), "the database file is next to the config");
    h.wait_status(1, "known-good");
    let v2 = folder(&h, "v2", &[base, drop]);
    release_with(&h, "v2", &["--migrations", path(&v2)]).ok();
    let columns = |p: &Path| sqlite_columns(p, "users");
    assert_eq!(columns(&db_path), ["id", "full_name", "nickname"], "the drop waits");
    // Not before the soak is over.
    let out = h.cli(&["migrate", "contract", "shop"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    assert!(out.stderr().starts_with("error: revision 2 is soaking, not proven yet"), "{}", out.stderr());
    assert_eq!(columns(&db_path), ["id", "full_name", "nickname"]);
    h.wait_status(2, "known-good");
    let out = h.cli(&["migrate", "contract", "shop"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    assert!(out.stderr().contains("users.nickname (needed by revision 1)"), "{}", out.stderr());
    h.cli(&["promote", "shop", "2", "--permanent"]).ok();
    h.cli(&["migrate", "contract", "shop"]).ok();
    assert_eq!(columns(&db_path), ["id", "full_name"]);
    let out = h.cli(&["check-rollback", "shop", "1"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    assert!(out.stdout().contains("users.nickname"), "{}", out.stdout());
    let out = h.cli(&["undo", "shop", "--to-revision", "1"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    assert!(out.stderr().contains("revision 2 is permanent"), "{}", out.stderr());

    // A third release, then the database is gone: the check cannot be made, so the undo to 2 is
    // refused unless forced.
    release_with(&h, "v3", &["--migrations", path(&v2)]).ok();
    h.wait_status(3, "known-good");
    std::fs::rename(&db_path, h.dir.path().join("shop.db.moved")).unwrap();
    let out = h.cli(&["undo", "shop", "--to-revision", "2"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    let err = out.stderr();
    assert!(
        err.starts_with(
            "error: cannot check whether revision 2 can run on the database as it is now: no sqlite database at"
        ),
        "{err}"
    );
    assert!(err.contains("pass --force to roll back without the check"), "{err}");
    h.cli(&["undo", "shop", "--to-revision", "2", "--force"]).ok();
    assert_eq!(h.public_get(), (200, "shop v2\n".into()));
    let audit = audit_actions(&h);
    let forced = audit.iter().rev().find(|(a, o, _)| a == "undo" && o == "succeeded").unwrap();
    assert!(forced.2["forced_over"][0].as_str().unwrap().starts_with("schema check failed"), "{:?}", forced.2);
}

#[test]
fn migrations_need_a_database_and_bad_folders_are_bad_input() {
    let h = Harness::start("");
    let dir = folder(&h, "v1", &[USERS]);
    let out = release_with(&h, "v1", &["--migrations", path(&dir)]);
    assert_eq!(out.code(), 2, "{}", out.stderr());
    assert!(out.stderr().starts_with("error: app `shop` has no database configured"), "{}", out.stderr());
    assert!(out.stderr().contains("hint: add [apps.shop.database]"), "{}", out.stderr());
    let out = release_with(&h, "v1", &["--migrations", "/nonexistent/migrations"]);
    assert_eq!(out.code(), 2, "{}", out.stderr());
    assert!(out.stderr().contains("is not a directory"), "{}", out.stderr());
    let out = h.cli(&["promote", "shop", "1"]);
    assert_eq!(out.code(), 2, "{}", out.stderr());
    let out = h.cli(&["migrate", "contract", "shop"]);
    assert_eq!(out.code(), 2, "{}", out.stderr());
    assert!(out.stderr().starts_with("error: app `shop` has no database configured"), "{}", out.stderr());
    let out = h.cli(&["check-rollback", "shop", "9"]);
    assert_eq!(out.code(), 2, "{}", out.stderr());
    assert!(out.stderr().starts_with("error: revision 9 of `shop` does not exist"), "{}", out.stderr());
    let out = h.cli(&["promote", "shop", "9", "--permanent"]);
    assert_eq!(out.code(), 2, "{}", out.stderr());
    assert!(h.json(&["history", "shop"]).as_array().unwrap().is_empty(), "nothing half-written");
}

fn sqlite_columns(p: &Path, table: &str) -> Vec<String> {
    let c = rusqlite::Connection::open(p).unwrap();
    let mut s = c.prepare(&format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid")).unwrap();
    s.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
}

#[test]
fn contract_auto_runs_once_the_release_is_proven_and_the_window_allows() {
    let h = Harness::start("[apps.shop.database]\nurl = \"sqlite://shop.db\"\ncontract = \"auto\"\n");
    let db_path = h.dir.path().join("shop.db");
    let base = ("0001_users.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY, nickname TEXT);");
    let drop = ("0002_drop_nickname.sql", "ALTER TABLE users DROP COLUMN nickname;");
    let queries = folder(&h, "queries", &[("users.sql", "SELECT id FROM users;")]);
    let v1 = folder(&h, "v1", &[base]);
    release_with(&h, "v1", &["--migrations", path(&v1), "--queries", path(&queries)]).ok();
    h.wait_status(1, "known-good");
    let v2 = folder(&h, "v2", &[base, drop]);
    release_with(&h, "v2", &["--migrations", path(&v2)]).ok();
    h.wait_status(2, "known-good");
    // Revision 1's own queries never read nickname, so the window allows it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while sqlite_columns(&db_path, "users") != ["id"] {
        assert!(std::time::Instant::now() < deadline, "no automatic contract: {}", h.server_log());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let ops = h.json(&["operations", "shop", "--limit", "5"]);
    let contract = ops.as_array().unwrap().iter().find(|o| o["kind"] == "migrate-contract").unwrap();
    assert_eq!(
        (contract["actor"].as_str(), contract["state"].as_str()),
        (Some("backstop:auto-contract"), Some("succeeded"))
    );
    assert_eq!(
        ops.as_array().unwrap().iter().filter(|o| o["kind"] == "migrate-contract").count(),
        1,
        "revision 1 had nothing to contract, so no operation was started for it"
    );
}

#[test]
fn a_live_revision_without_a_recorded_schema_gets_one_at_start() {
    let mut h = Harness::start("");
    h.release("v1", &[]).ok();
    h.wait_status(1, "known-good");
    assert_eq!(h.json(&["check-rollback", "shop", "1"])["mode"], "unchecked");
    // The app gets a database afterwards; the next start records what revision 1 runs on.
    let db_path = h.dir.path().join("shop.db");
    rusqlite::Connection::open(&db_path)
        .unwrap()
        .execute_batch("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
        .unwrap();
    h.stop();
    h.app_extra = "[apps.shop.database]\nurl = \"sqlite://shop.db\"\n".into();
    std::fs::write(h.config_path(), h.config_text()).unwrap();
    h.boot();
    let check = h.json(&["check-rollback", "shop", "1"]);
    assert_eq!((check["mode"].as_str(), check["safe"].as_bool()), (Some("conservative"), Some(true)), "{check}");
    rusqlite::Connection::open(&db_path).unwrap().execute_batch("ALTER TABLE users DROP COLUMN name").unwrap();
    let out = h.cli(&["check-rollback", "shop", "1"]);
    assert_eq!(out.code(), 1, "{}", out.stdout());
    assert!(out.stdout().contains("users.name"), "{}", out.stdout());
}

#[test]
fn a_crash_during_the_expand_stage_leaves_the_database_and_the_ledger_consistent() {
    let db = Db::new();
    let mut h = Harness::start(&format!("[apps.shop.database]\nurl = \"{}\"\n", db.url()));
    let v1 = folder(&h, "v1", &[USERS]);
    release_with(&h, "v1", &["--migrations", path(&v1)]).ok();
    let slow = (
        "0002_add_name.up.sql",
        "SET lock_timeout = '2s';\nALTER TABLE users ADD COLUMN IF NOT EXISTS name text;\nSELECT pg_sleep(2);",
    );
    let v2 = folder(&h, "v2", &[USERS, slow]);
    let art = h.artifact("v2", &[]);
    let (token, api) = (h.token(), h.api_port);
    let (art2, v2b) = (art.clone(), v2.clone());
    let release = std::thread::spawn(move || {
        std::process::Command::new(BIN)
            .args(["release", "shop", "--artifact", path(&art2), "--version", "v2", "--migrations", path(&v2b)])
            .env("BACKSTOP_URL", format!("http://127.0.0.1:{api}"))
            .env("BACKSTOP_TOKEN", token)
            .output()
            .unwrap()
    });
    // Kill the control plane while the migration's transaction is open: the expand stage proper, once
    // revision 2 is recorded (the gate's rolled-back dry run of the same statements comes before).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while h.revision_status(2).is_empty()
        || db.one(
            "SELECT count(*)::text FROM pg_stat_activity WHERE query LIKE '%pg_sleep(2)%' AND pid <> pg_backend_pid()",
        ) != "1"
    {
        assert!(std::time::Instant::now() < deadline, "the migration never started: {}", h.server_log());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    h.kill9();
    let _ = release.join();
    // The connection died with the process: PostgreSQL rolled the migration back, ledger included.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while db
        .one("SELECT count(*)::text FROM pg_stat_activity WHERE query LIKE '%pg_sleep(2)%' AND pid <> pg_backend_pid()")
        != "0"
    {
        assert!(std::time::Instant::now() < deadline, "the migration's session outlived the control plane");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(db.columns("users"), ["id", "full_name"]);
    assert_eq!(db.one("SELECT string_agg(version, ',') FROM backstop_migrations"), "0001");

    h.boot();
    assert_eq!(h.revision_status(2), "failed");
    let ops = h.json(&["operations", "shop", "--limit", "1"]);
    assert_eq!(ops[0]["state"], "reverted", "{ops}");
    assert_eq!(h.public_get(), (200, "shop v1\n".into()));
    // The same release again goes through.
    release_with(&h, "v2", &["--migrations", path(&v2)]).ok();
    assert_eq!(db.columns("users"), ["id", "full_name", "name"]);
    assert_eq!(db.one("SELECT string_agg(version, ',' ORDER BY version) FROM backstop_migrations"), "0001,0002");
}

/// Regression: an expand stage adding `CHECK (price_cents > 0) NOT VALID` with an unhealthy artifact
/// used to run, stay applied, and fail the inserts of the revision still serving. The gate now checks
/// what the expand stage would leave against the serving revision before anything runs.
#[test]
fn expand_stage_that_breaks_the_serving_revision_is_refused_before_anything_runs() {
    let db = Db::new();
    let h = Harness::start(&format!("[apps.shop.database]\nurl = \"{}\"\n", db.url()));
    let products = (
        "0001_products.sql",
        "CREATE TABLE products (id bigint PRIMARY KEY, name text NOT NULL, price_cents integer NOT NULL);",
    );
    let queries = folder(
        &h,
        "queries-v1",
        &[("products.sql", "INSERT INTO products (id, name, price_cents) VALUES ($1, $2, 0);")],
    );
    let v1 = folder(&h, "v1", &[products]);
    release_with(&h, "v1", &["--migrations", path(&v1), "--queries", path(&queries)]).ok();
    db.exec("INSERT INTO products (id, name, price_cents) VALUES (1, 'free sample', 0)");

    let check = (
        "0002_price_check.sql",
        "ALTER TABLE products ADD CONSTRAINT price_positive CHECK (price_cents > 0) NOT VALID;",
    );
    let v2 = folder(&h, "v2", &[products, check]);
    let art = h.artifact("v2", &["--unhealthy"]);
    let out = h.cli(&["release", "shop", "--artifact", path(&art), "--version", "v2", "--migrations", path(&v2)]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    let err = out.stderr();
    assert!(err.starts_with("error: release refused, its expand stage would break"), "{err}");
    assert!(err.contains("0002_price_check.sql:1 would break revision 1"), "{err}");
    assert!(err.contains("price_positive"), "{err}");
    assert!(err.contains("hint: nothing ran") && err.contains("NOT VALID"), "{err}");

    // Measured: the constraint is not in the catalog, the ledger has no 0002, and revision 1's
    // insert of a zero price still goes through.
    assert_eq!(db.one("SELECT count(*)::text FROM pg_constraint WHERE conname = 'price_positive'"), "0");
    assert_eq!(db.one("SELECT count(*)::text FROM backstop_migrations WHERE version = '0002'"), "0");
    db.exec("INSERT INTO products (id, name, price_cents) VALUES (2, 'another sample', 0)");
    assert_eq!(h.json(&["history", "shop"]).as_array().unwrap().len(), 1, "no revision recorded, none started");
    assert_eq!(h.public_get(), (200, "shop v1\n".into()));
    let ops = h.json(&["operations", "shop", "--limit", "1"]);
    assert_eq!(ops[0]["state"], "failed", "the refusal is journaled: {ops}");
    let audit = audit_actions(&h);
    assert!(audit.iter().any(|(a, o, _)| a == "release" && o == "failed"), "{audit:?}");

    // Control: an expand statement revision 1 survives goes through.
    let note = ("0002_note.sql", "ALTER TABLE products ADD COLUMN note text;");
    let v2 = folder(&h, "v2-note", &[products, note]);
    release_with(&h, "v2", &["--migrations", path(&v2), "--queries", path(&queries)]).ok();
    assert_eq!(db.columns("products"), ["id", "name", "price_cents", "note"]);
    assert_eq!(h.public_get(), (200, "shop v2\n".into()));
}
