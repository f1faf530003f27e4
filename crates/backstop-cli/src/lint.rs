//! `backstop lint PATH...`: read migration files (or folders of them, in the
//! order their layout implies) and report each statement's phase and every
//! finding, as diagnostics, JSON or SARIF.

use std::path::PathBuf;

use backstop_migrate::{Dialect, Finding, Report, Severity, Statement};
use serde_json::{Value, json};

use crate::exit::{CliError, CliResult, Exit};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LintOutput {
    /// Diagnostics with the source line and a caret.
    Human,
    Json,
    /// SARIF 2.1.0, for code-scanning UIs.
    Sarif,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LintDialect {
    Postgres,
    Sqlite,
}

/// The files to lint, in order: a folder's forward migrations in the order
/// of its layout, then the files named one by one.
fn collect(paths: &[PathBuf]) -> CliResult<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| {
            CliError::bad_input(
                format!("cannot read {}: {e}", path.display()),
                "pass migration files or folders that exist",
            )
        })?;
        if meta.is_dir() {
            let mut names = Vec::new();
            let entries = std::fs::read_dir(path).map_err(|e| {
                CliError::bad_input(format!("cannot list {}: {e}", path.display()), "check the folder's permissions")
            })?;
            for entry in entries.flatten() {
                if let Some(name) = entry.file_name().to_str().filter(|n| n.ends_with(".sql")) {
                    names.push(name.to_owned());
                }
            }
            let set = backstop_migrate::order_migrations(&names);
            if set.migrations.is_empty() {
                return Err(CliError::bad_input(
                    format!("{} holds no migration files", path.display()),
                    "name them NNNN_name.sql, NNNN_name.up.sql or V1__name.sql",
                ));
            }
            files.extend(set.migrations.into_iter().map(|m| path.join(m.file)));
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

pub fn run(paths: &[PathBuf], dialect: LintDialect, output: LintOutput) -> CliResult {
    if paths.is_empty() {
        return Err(CliError::bad_input(
            "no migration files given",
            "pass files or folders: backstop lint migrations/",
        ));
    }
    let dialect = match dialect {
        LintDialect::Postgres => Dialect::Postgres,
        LintDialect::Sqlite => Dialect::Sqlite,
    };
    let files = collect(paths)?;
    let mut reports: Vec<(PathBuf, String, Report)> = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|e| {
            CliError::bad_input(
                format!("cannot read {}: {e}", file.display()),
                "check the path and that the file is UTF-8",
            )
        })?;
        let name = file.display().to_string();
        let report = backstop_migrate::analyze(&name, &text, dialect).map_err(|e| {
            CliError::bad_input(
                e.to_string(),
                "fix the SQL at that position; backstop never skips what it cannot parse",
            )
        })?;
        reports.push((file, text, report));
    }
    match output {
        LintOutput::Json => println!("{}", serde_json::to_string_pretty(&json_report(&reports)).unwrap_or_default()),
        LintOutput::Sarif => println!("{}", serde_json::to_string_pretty(&sarif(&reports)).unwrap_or_default()),
        LintOutput::Human => print!("{}", human(&reports, crate::output::color_stdout())),
    }
    let errors = reports.iter().flat_map(|(_, _, r)| &r.findings).filter(|f| f.severity == Severity::Error).count();
    if errors > 0 {
        return Err(CliError::new(
            Exit::Failed,
            format!("{errors} error finding{} in the migrations", if errors == 1 { "" } else { "s" }),
            "follow each finding's help, or suppress one with `-- backstop:allow RULE-ID reason` above the statement",
        ));
    }
    Ok(())
}

fn json_report(reports: &[(PathBuf, String, Report)]) -> Value {
    let statements: Vec<&Statement> = reports.iter().flat_map(|(_, _, r)| &r.statements).collect();
    let findings: Vec<&Finding> = reports.iter().flat_map(|(_, _, r)| &r.findings).collect();
    json!({ "statements": statements, "findings": findings })
}

fn sarif(reports: &[(PathBuf, String, Report)]) -> Value {
    let rules: Vec<Value> = backstop_migrate::RULES
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "shortDescription": { "text": r.summary },
                "help": { "text": r.help },
                "defaultConfiguration": { "level": level(r.severity) },
            })
        })
        .collect();
    let results: Vec<Value> = reports
        .iter()
        .flat_map(|(_, _, r)| &r.findings)
        .map(|f| {
            json!({
                "ruleId": f.rule,
                "level": level(f.severity),
                "message": { "text": format!("{} ({})", f.message, f.help) },
                "locations": [{ "physicalLocation": {
                    "artifactLocation": { "uri": f.file },
                    "region": { "startLine": f.line, "startColumn": f.column },
                }}],
            })
        })
        .collect();
    json!({
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{ "tool": { "driver": { "name": "backstop", "version": env!("CARGO_PKG_VERSION"), "rules": rules } }, "results": results }],
    })
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
struct Diagnostic {
    message: String,
    rule: &'static str,
    severity: Severity,
    help: String,
    src: miette::NamedSource<String>,
    span: miette::SourceSpan,
}

impl miette::Diagnostic for Diagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new(self.rule))
    }
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new(&self.help))
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.src)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        Some(Box::new(std::iter::once(miette::LabeledSpan::new_with_span(Some("here".into()), self.span))))
    }
}

/// Diagnostics for every finding, then one summary line per file.
fn human(reports: &[(PathBuf, String, Report)], color: bool) -> String {
    let theme = if color { miette::GraphicalTheme::unicode() } else { miette::GraphicalTheme::unicode_nocolor() };
    let handler = miette::GraphicalReportHandler::new_themed(theme).with_width(100);
    let mut out = String::new();
    for (path, text, report) in reports {
        for f in &report.findings {
            // Point the caret at the first line of the statement, not the whole statement.
            let first_line_end =
                text[f.span.start..f.span.end.min(text.len())].find('\n').map_or(f.span.end, |i| f.span.start + i);
            let d = Diagnostic {
                message: f.message.clone(),
                rule: f.rule,
                severity: f.severity,
                help: f.help.clone(),
                src: miette::NamedSource::new(path.display().to_string(), text.clone()),
                span: (f.span.start, first_line_end.saturating_sub(f.span.start)).into(),
            };
            let _ = handler.render_report(&mut out, &d);
            out.push('\n');
        }
    }
    for (path, _, report) in reports {
        let count = |p| report.statements.iter().filter(|s| s.phase == p).count();
        let errors = report.findings.iter().filter(|f| f.severity == Severity::Error).count();
        let warnings = report.findings.len() - errors;
        out += &format!(
            "{}: {} statements ({} expand, {} backfill, {} contract), {errors} errors, {warnings} warnings\n",
            path.display(),
            report.statements.len(),
            count(backstop_migrate::Phase::Expand),
            count(backstop_migrate::Phase::Backfill),
            count(backstop_migrate::Phase::Contract),
        );
    }
    out
}
