//! The real-world-shaped corpus (tests/corpus/realworld, written by tests/corpus/gen_realworld.py),
//! linted as one folder: every file parses, and every destructive statement is contract or flagged.

use std::path::Path;

use backstop_migrate::{Dialect, Phase, Report, Severity, analyze};

fn corpus() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/realworld");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "sql"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

/// The statement's text without string literals and dollar-quoted bodies, upper-cased: what the
/// destructiveness check below reads, so a `DROP` inside a function body does not count.
fn code_only(sql: &str) -> String {
    let mut out = String::new();
    let mut rest = sql;
    while let Some(c) = rest.chars().next() {
        if c == '\'' {
            let end = rest[1..].find('\'').map_or(rest.len(), |i| i + 2);
            rest = &rest[end..];
            out.push_str("''");
        } else if c == '$' {
            let tag_end = rest[1..].find('$').map(|i| i + 2);
            match tag_end.filter(|&e| rest[1..e - 1].chars().all(|c| c.is_alphanumeric() || c == '_')) {
                Some(e) => {
                    let tag = &rest[..e];
                    let close = rest[e..].find(tag).map_or(rest.len(), |i| e + i + tag.len());
                    rest = &rest[close..];
                    out.push_str("$$");
                }
                None => {
                    out.push(c);
                    rest = &rest[1..];
                }
            }
        } else {
            out.push(c.to_ascii_uppercase());
            rest = &rest[c.len_utf8()..];
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether a statement destroys or renames something the previous code may use: the statements
/// squawk flags as breaking (drops, renames, type changes, SET NOT NULL, ...).
fn destructive(sql: &str) -> bool {
    let code = code_only(sql);
    let alter_column_type = code.contains("ALTER COLUMN") && code.contains(" TYPE ");
    let new_not_null_column = code.contains("ADD COLUMN") && code.contains("NOT NULL") && !code.contains("DEFAULT");
    code.starts_with("DROP ")
        || code.starts_with("REVOKE ")
        || code.contains(" DROP COLUMN ")
        || code.contains(" RENAME ")
        || code.contains("SET NOT NULL")
        || code.contains("DROP DEFAULT")
        || code.contains("SET SCHEMA")
        || code.contains("DETACH PARTITION")
        || code.contains(" REFERENCES ") && code.contains("ADD COLUMN")
        || code.starts_with("ALTER SEQUENCE") && (code.contains(" AS ") || code.contains("MAXVALUE"))
        || alter_column_type
        || new_not_null_column
}

#[test]
fn realworld_corpus_parses_and_every_destructive_statement_is_contract_or_flagged() {
    let files = corpus();
    assert!(files.len() >= 300, "the corpus has {} files; regenerate it with gen_realworld.py", files.len());
    let mut failures = Vec::new();
    let mut destructive_seen = 0;
    let mut reports: Vec<Report> = Vec::new();
    for (name, text) in &files {
        let report = match analyze(name, text, Dialect::Postgres) {
            Ok(report) => report,
            Err(e) => {
                failures.push(format!("{e}"));
                continue;
            }
        };
        for statement in report.statements.iter().filter(|s| destructive(&s.sql)) {
            destructive_seen += 1;
            let flagged = report.findings.iter().any(|f| f.span == statement.span && f.severity == Severity::Error);
            if statement.phase != Phase::Contract && !flagged {
                failures.push(format!(
                    "{name}:{}: `{}` is {} ({}) and has no error finding",
                    statement.line, statement.sql, statement.phase, statement.kind
                ));
            }
        }
        reports.push(report);
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    assert!(destructive_seen >= 100, "only {destructive_seen} destructive statements in the corpus");
    let statements: usize = reports.iter().map(|r| r.statements.len()).sum();
    assert!(statements >= 1000, "only {statements} statements in the corpus");
}

#[test]
fn realworld_corpus_covers_every_construct_postgres_accepts_that_the_old_grammar_refused() {
    let all: String = corpus().into_iter().map(|(_, text)| text).collect();
    let constructs = [
        "ALTER CONSTRAINT",
        "DEFERRABLE INITIALLY DEFERRED",
        "ALTER SEQUENCE",
        "COST 100",
        "AS smallint START WITH",
        "CREATE STATISTICS",
        "COMMENT ON FUNCTION",
        "ALTER DOMAIN",
        "SET SCHEMA",
        "ATTACH PARTITION",
        "DETACH PARTITION",
        "DO LANGUAGE 'plpgsql' $$",
        "DO LANGUAGE plpgsql $do$",
        "LANGUAGE 'plpgsql' VOLATILE",
        "$function$",
        "BEGIN ATOMIC",
        "PARTITION BY LIST",
        "PARTITION BY RANGE",
        "CREATE DOMAIN",
        "\"Tenant-Acme\".",
        "E'Stored",
    ];
    for construct in constructs {
        assert!(all.contains(construct), "the corpus has no `{construct}`");
    }
}

#[test]
fn destructiveness_check_reads_code_not_strings_or_bodies() {
    let cases = [
        ("DROP VIEW v", true),
        ("ALTER TABLE t RENAME COLUMN a TO b", true),
        ("DO $$ BEGIN DROP TABLE x; END $$", false),
        ("COMMENT ON TABLE t IS 'we DROP COLUMN a later'", false),
        ("CREATE FUNCTION f() RETURNS int AS $f$ SELECT 1 $f$ LANGUAGE sql", false),
        ("ALTER TABLE t ALTER COLUMN a TYPE bigint", true),
        ("ALTER TABLE t ADD COLUMN a int NOT NULL DEFAULT 0", false),
    ];
    for (sql, expected) in cases {
        assert_eq!(destructive(sql), expected, "{sql}");
    }
}
