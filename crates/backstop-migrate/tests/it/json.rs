//! The JSON shape of a report, as `backstop lint --output json` prints it.

use backstop_migrate::{Dialect, analyze};
use serde_json::{Value, json};

#[test]
fn report_serialises_statements_and_findings() {
    let sql = "-- rename in one step\nALTER TABLE users RENAME COLUMN full_name TO name;\n";
    let report = analyze("0002_rename.sql", sql, Dialect::Postgres).unwrap();
    let value = serde_json::to_value(&report).unwrap();

    let statement = &value["statements"][0];
    assert_eq!(statement["file"], "0002_rename.sql");
    assert_eq!(statement["line"], 2);
    assert_eq!(statement["column"], 1);
    assert_eq!(statement["phase"], "contract");
    assert_eq!(statement["kind"], "alter table rename column");
    assert_eq!(statement["span"], json!({ "start": 22, "end": 71 }));
    assert_eq!(statement["sql"], "ALTER TABLE users RENAME COLUMN full_name TO name");

    let findings = value["findings"].as_array().unwrap();
    let rename = findings.iter().find(|f| f["rule"] == "renaming-column").expect("renaming-column finding");
    assert_eq!(rename["file"], "0002_rename.sql");
    assert_eq!(rename["line"], 2);
    assert_eq!(rename["severity"], "error");
    assert_eq!(rename["message"], "renaming column `full_name` of `users` to `name`");
    assert!(rename["help"].as_str().is_some_and(|h| h.starts_with("expand and contract")), "{}", rename["help"]);
    let warning = findings.iter().find(|f| f["rule"] == "missing-lock-timeout").expect("missing-lock-timeout finding");
    assert_eq!(warning["severity"], "warning");
}

#[test]
fn every_finding_has_the_documented_fields() {
    let sql = "ALTER TABLE users ADD COLUMN status text NOT NULL;\nDROP TABLE legacy;\n-- backstop:allow nothing\n";
    let value = serde_json::to_value(analyze("m.sql", sql, Dialect::Postgres).unwrap()).unwrap();
    let findings = value["findings"].as_array().unwrap();
    assert!(findings.len() >= 3, "{findings:?}");
    for finding in findings {
        for field in ["file", "line", "column", "rule", "severity", "message", "help"] {
            assert!(!matches!(finding[field], Value::Null), "{field} missing in {finding}");
        }
        assert!(matches!(finding["severity"].as_str(), Some("error" | "warning")), "{finding}");
    }
}
