//! Snapshot tests over tests/corpus: each folder's migrations in run order, with phases and findings.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use backstop_migrate::{Dialect, Phase, Report, Severity, analyze, order_migrations};

fn corpus(folder: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus").join(folder)
}

fn read(folder: &str, file: &str) -> String {
    let path = corpus(folder).join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn file_names(folder: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(corpus(folder))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn analyze_file(folder: &str, file: &str, dialect: Dialect) -> Report {
    analyze(file, &read(folder, file), dialect).unwrap_or_else(|e| panic!("{e}"))
}

/// The run order of a folder, then every migration's statements and findings, one per line.
fn render(folder: &str, dialect: Dialect) -> String {
    let set = order_migrations(&file_names(folder));
    let mut out = String::new();
    for ignored in &set.ignored {
        writeln!(out, "ignored {}: {}", ignored.file, ignored.reason).unwrap();
    }
    for migration in &set.migrations {
        let version = migration.version.as_deref().unwrap_or("repeatable");
        let down = migration.down.as_deref().map(|d| format!(", down {d}")).unwrap_or_default();
        writeln!(out, "\n== {} (version {version}, {:?}{down})", migration.file, migration.layout).unwrap();
        let report = match analyze(&migration.file, &read(folder, &migration.file), dialect) {
            Ok(report) => report,
            Err(error) => {
                writeln!(out, "error: {error}").unwrap();
                continue;
            }
        };
        let phase = report.phase().map_or_else(|| "none".to_owned(), |p| p.to_string());
        writeln!(out, "phase {phase}").unwrap();
        for s in &report.statements {
            let first_line = s.sql.lines().next().unwrap_or_default();
            writeln!(out, "  {:>2}:{:<2} {:<8} {:<40} | {first_line}", s.line, s.column, s.phase, s.kind).unwrap();
        }
        for f in &report.findings {
            writeln!(out, "  {:>2}:{:<2} {} {}: {}", f.line, f.column, f.severity, f.rule, f.message).unwrap();
        }
    }
    out
}

fn snapshot(name: &str, value: &str) {
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(name, value);
    });
}

#[test]
fn plain_numbered_postgres() {
    snapshot("plain", &render("plain", Dialect::Postgres));
}

#[test]
fn up_down_pairs_postgres() {
    snapshot("updown", &render("updown", Dialect::Postgres));
}

#[test]
fn flyway_postgres() {
    snapshot("flyway", &render("flyway", Dialect::Postgres));
}

#[test]
fn numbered_and_dbmate_sqlite() {
    snapshot("sqlite", &render("sqlite", Dialect::Sqlite));
}

fn rules(report: &Report) -> Vec<(&'static str, Severity)> {
    report.findings.iter().map(|f| (f.rule, f.severity)).collect()
}

#[test]
fn rename_done_in_one_step_is_a_contract_error() {
    let report = analyze_file("plain", "0002_rename_full_name.sql", Dialect::Postgres);
    assert_eq!(report.phase(), Some(Phase::Contract));
    assert_eq!(rules(&report), [("missing-lock-timeout", Severity::Warning), ("renaming-column", Severity::Error)]);
}

#[test]
fn rename_done_as_expand_backfill_contract_raises_no_error() {
    let files = ["000002_add_name.up.sql", "000003_backfill_name.up.sql", "000004_drop_full_name.up.sql"];
    let reports: Vec<Report> = files.iter().map(|f| analyze_file("updown", f, Dialect::Postgres)).collect();
    let phases: Vec<Option<Phase>> = reports.iter().map(Report::phase).collect();
    assert_eq!(phases, [Some(Phase::Expand), Some(Phase::Backfill), Some(Phase::Contract)]);
    for (file, report) in files.iter().zip(&reports) {
        assert!(!report.has_errors(), "{file}: {:?}", report.findings);
    }
    // The drop is contract, and only passes because a reasoned suppression covers it.
    let contract = &reports[2];
    let drop = contract.statements.last().unwrap();
    assert_eq!((drop.kind.as_str(), drop.phase), ("alter table drop column", Phase::Contract));
    let without_comment = read("updown", files[2]).replace("-- backstop:allow", "-- see");
    let unsuppressed = analyze(files[2], &without_comment, Dialect::Postgres).unwrap();
    assert_eq!(
        rules(&unsuppressed),
        [
            ("dropping-object", Severity::Error),
            ("dropping-object", Severity::Error),
            ("dropping-column", Severity::Error)
        ]
    );
}

#[test]
fn parse_error_names_file_line_and_column() {
    let error = analyze("0006_audit_log.sql", &read("plain", "0006_audit_log.sql"), Dialect::Postgres).unwrap_err();
    assert_eq!((error.file.as_str(), error.line, error.column), ("0006_audit_log.sql", 5, 5));
    assert!(error.message.contains("syntax error at or near \"user_id\""), "{}", error.message);
}

#[test]
fn not_null_without_default_and_index_without_concurrently_are_errors() {
    let cases = [
        ("0003_add_status.sql", "adding-not-null-column-without-default"),
        ("0004_index_created_at.sql", "index-without-concurrently"),
    ];
    for (file, rule) in cases {
        let report = analyze_file("plain", file, Dialect::Postgres);
        assert!(rules(&report).contains(&(rule, Severity::Error)), "{file}: {:?}", report.findings);
    }
}

#[test]
fn dbmate_down_section_is_not_analysed() {
    let report = analyze_file("sqlite", "20240501120000_add_nickname.sql", Dialect::Sqlite);
    let kinds: Vec<&str> = report.statements.iter().map(|s| s.kind.as_str()).collect();
    assert_eq!(kinds, ["alter table add column"]);
    assert_eq!(report.phase(), Some(Phase::Expand));
}
