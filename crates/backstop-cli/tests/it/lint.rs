//! `backstop lint` over the migration corpus of backstop-migrate: exit codes and output formats.

use std::path::PathBuf;
use std::process::Command;

use crate::harness::{BIN, Out};

fn corpus(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../backstop-migrate/tests/corpus").join(rel)
}

fn lint(args: &[&str]) -> Out {
    Out(Command::new(BIN).arg("lint").args(args).env("NO_COLOR", "1").output().unwrap())
}

#[test]
fn clean_migrations_exit_0_and_breaking_ones_exit_1() {
    let clean = lint(&[corpus("plain/0001_create_users.sql").to_str().unwrap()]);
    assert_eq!(clean.code(), 0, "{}", clean.stderr());
    assert!(clean.stdout().contains("0 errors"), "{}", clean.stdout());

    let rename = lint(&[corpus("plain/0002_rename_full_name.sql").to_str().unwrap()]);
    assert_eq!(rename.code(), 1);
    let out = rename.stdout();
    assert!(
        out.contains("renaming-column") && out.contains("ALTER TABLE users RENAME COLUMN full_name TO name"),
        "{out}"
    );
    assert!(out.contains("help:"), "{out}");
    assert!(rename.stderr().starts_with("error: 1 error finding"), "{}", rename.stderr());
}

#[test]
fn json_has_phases_and_findings() {
    let out = lint(&["--output", "json", corpus("plain/0003_add_status.sql").to_str().unwrap()]);
    assert_eq!(out.code(), 1);
    let v: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    let phases: Vec<&str> = v["statements"].as_array().unwrap().iter().map(|s| s["phase"].as_str().unwrap()).collect();
    assert!(phases.contains(&"contract"), "{v}");
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "adding-not-null-column-without-default")
        .unwrap();
    assert_eq!(f["severity"], "error");
    for key in ["file", "line", "message", "help"] {
        assert!(!f[key].is_null(), "{key} missing: {f}");
    }
}

#[test]
fn sarif_names_rules_and_locations() {
    let out = lint(&["--output", "sarif", corpus("plain/0004_index_created_at.sql").to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    assert!(run["tool"]["driver"]["rules"].as_array().unwrap().iter().any(|r| r["id"] == "index-without-concurrently"));
    let result =
        run["results"].as_array().unwrap().iter().find(|r| r["ruleId"] == "index-without-concurrently").unwrap();
    assert_eq!(result["level"], "error");
    assert!(result["locations"][0]["physicalLocation"]["region"]["startLine"].as_u64().unwrap() > 0);
}

#[test]
fn unparseable_sql_and_missing_files_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("0001_bad.sql");
    std::fs::write(&bad, "CREATE TABLE t (id int;\n").unwrap();
    let out = lint(&[bad.to_str().unwrap()]);
    assert_eq!(out.code(), 2);
    assert!(out.stderr().starts_with(&format!("error: {}:1:", bad.display())), "{}", out.stderr());
    let missing = lint(&["/no/such/migrations"]);
    assert_eq!(missing.code(), 2);
}

#[test]
fn a_folder_is_linted_in_migration_order() {
    let out = lint(&["--output", "json", corpus("updown").to_str().unwrap()]);
    assert!(out.code() == 0 || out.code() == 1, "{}", out.stderr());
    let v: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    let files: Vec<String> =
        v["statements"].as_array().unwrap().iter().map(|s| s["file"].as_str().unwrap().to_owned()).collect();
    assert!(!files.is_empty());
    assert!(files.iter().all(|f| !f.ends_with(".down.sql")), "down migrations are not forward changes: {files:?}");
    let mut sorted = files.clone();
    sorted.sort();
    assert_eq!(files, sorted, "numbered migrations run in order");
}
