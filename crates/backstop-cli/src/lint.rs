//! `backstop lint PATH...`: read migration files (or folders of them, in the
//! order their layout implies) and report each statement's phase and every
//! finding, as diagnostics, JSON or SARIF.

use std::path::PathBuf;

use backstop_migrate::{Dialect, Finding, Report, Severity, Statement};
use serde_json::{Value, json};

use crate::exit::{CliError, CliResult, Exit};
use crate::output::{out, out_part};
use crate::sarif;
use serde_sarif::sarif::Sarif;

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
        } else if meta.is_file() {
            files.push(path.clone());
        } else {
            // A device or a pipe may never end.
            return Err(CliError::bad_input(
                format!("{} is neither a file nor a folder", path.display()),
                "pass migration files or folders",
            ));
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
    let mut parse_errors: Vec<backstop_migrate::ParseError> = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|e| {
            CliError::bad_input(
                format!("cannot read {}: {e}", file.display()),
                "check the path and that the file is UTF-8",
            )
        })?;
        let name = file.display().to_string();
        // A file that cannot be parsed is reported as such; the other files are still linted.
        match backstop_migrate::analyze(&name, &text, dialect) {
            Ok(report) => reports.push((file, text, report)),
            Err(e) => parse_errors.push(e),
        }
    }
    match output {
        LintOutput::Json => {
            let mut report = json_report(&reports);
            report["errors"] = json!(parse_errors.iter().map(parse_error_json).collect::<Vec<_>>());
            out!("{}", crate::output::data(&report))
        }
        LintOutput::Sarif => {
            out!("{}", serde_json::to_string_pretty(&sarif(&reports, &parse_errors)).unwrap_or_default())
        }
        LintOutput::Human => {
            out_part!("{}", human(&reports, crate::output::color_stdout()));
            for e in &parse_errors {
                out!("{}: cannot parse: {e}", e.file);
            }
        }
    }
    if let Some(first) = parse_errors.first() {
        let others = parse_errors.len() - 1;
        let more = if others == 0 {
            String::new()
        } else {
            format!(" (and {others} more file{})", if others == 1 { "" } else { "s" })
        };
        return Err(CliError::bad_input(
            format!("{first}{more}"),
            "fix the SQL at that position; backstop never skips what it cannot parse",
        ));
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

fn parse_error_json(e: &backstop_migrate::ParseError) -> Value {
    json!({ "file": e.file, "line": e.line, "column": e.column, "message": e.message })
}

fn sarif(reports: &[(PathBuf, String, Report)], parse_errors: &[backstop_migrate::ParseError]) -> Sarif {
    let rules = backstop_migrate::RULES
        .iter()
        .map(|r| sarif::Rule { id: r.id, summary: r.summary, help: r.help, level: level(r.severity) })
        .chain(std::iter::once(sarif::Rule {
            id: "parse-error",
            summary: "the file is not valid SQL for the dialect, so nothing in it was analysed",
            help: "fix the SQL at that position; backstop never skips what it cannot parse",
            level: sarif::Level::Error,
        }));
    let hits = reports
        .iter()
        .flat_map(|(_, _, r)| &r.findings)
        .map(|f| sarif::Hit {
            rule: f.rule,
            level: level(f.severity),
            message: format!("{} ({})", f.message, f.help),
            file: &f.file,
            line: f.line,
            column: f.column,
        })
        .chain(parse_errors.iter().map(|e| sarif::Hit {
            rule: "parse-error",
            level: sarif::Level::Error,
            message: format!("cannot parse sql: {}", e.message),
            file: &e.file,
            line: e.line,
            column: e.column,
        }));
    sarif::log(rules, hits)
}

fn level(s: Severity) -> sarif::Level {
    match s {
        Severity::Error => sarif::Level::Error,
        Severity::Warning => sarif::Level::Warning,
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
struct Diagnostic {
    message: String,
    rule: &'static str,
    severity: Severity,
    help: String,
    src: FileSource,
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

/// A file's text as miette reads it for a diagnostic: only the lines around the span are scanned,
/// so rendering N findings costs N times their lines, not N times the file (20,000 statements of
/// one file took seconds as a table when every finding cloned and rescanned the whole text).
#[derive(Debug, Clone)]
struct FileSource {
    name: String,
    text: std::sync::Arc<str>,
    /// Byte offset where each line starts.
    lines: std::sync::Arc<[usize]>,
}

impl FileSource {
    fn new(name: String, text: &str) -> Self {
        let lines: Vec<usize> = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        FileSource { name, text: text.into(), lines: lines.into() }
    }

    fn line_of(&self, offset: usize) -> usize {
        self.lines.partition_point(|&start| start <= offset).saturating_sub(1)
    }
}

impl miette::SourceCode for FileSource {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let start = span.offset().min(self.text.len());
        let end = (span.offset() + span.len()).min(self.text.len());
        // The lines miette would look at, plus one on each side, read by miette's own reader.
        let first = self.line_of(start).saturating_sub(before.saturating_add(1));
        let last = self.line_of(end).saturating_add(after).saturating_add(1);
        let window_start = self.lines[first];
        let window_end = self.lines.get(last.saturating_add(1)).copied().unwrap_or(self.text.len());
        let window = &self.text.as_bytes()[window_start..window_end];
        let inner = <[u8] as miette::SourceCode>::read_span(
            window,
            &(start - window_start, end - start).into(),
            before,
            after,
        )?;
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            (inner.span().offset() + window_start, inner.span().len()).into(),
            inner.line() + first,
            inner.column(),
            inner.line_count() + first,
        )))
    }
}

/// Diagnostics for every finding, then one summary line per file.
fn human(reports: &[(PathBuf, String, Report)], color: bool) -> String {
    let theme = if color { miette::GraphicalTheme::unicode() } else { miette::GraphicalTheme::unicode_nocolor() };
    let handler = miette::GraphicalReportHandler::new_themed(theme).with_width(100);
    let mut out = String::new();
    for (path, text, report) in reports {
        let source = FileSource::new(path.display().to_string(), text);
        for f in &report.findings {
            // Point the caret at the first line of the statement, not the whole statement.
            let first_line_end =
                text[f.span.start..f.span.end.min(text.len())].find('\n').map_or(f.span.end, |i| f.span.start + i);
            let d = Diagnostic {
                message: f.message.clone(),
                rule: f.rule,
                severity: f.severity,
                help: f.help.clone(),
                src: source.clone(),
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

#[cfg(test)]
mod tests {
    use miette::SourceCode;

    use super::FileSource;

    #[test]
    fn table_output_reads_only_the_lines_of_each_finding_not_the_whole_file() {
        let text: String = (0..20_000).map(|i| format!("ALTER TABLE t{i} DROP COLUMN c;\r\n-- note {i}\n")).collect();
        let source = FileSource::new("big.sql".into(), &text);
        for statement in [0usize, 1, 7_777, 19_999] {
            let offset = text.find(&format!("ALTER TABLE t{statement} ")).unwrap();
            for (len, before, after) in [(10, 1, 1), (0, 0, 0), (40, 2, 3), (5, 0, 2)] {
                let span = (offset, len).into();
                let ours = source.read_span(&span, before, after).unwrap();
                let full = text.as_str().read_span(&span, before, after).unwrap();
                let what = format!("statement {statement}, span len {len}, context {before}/{after}");
                assert_eq!(ours.data(), full.data(), "{what}");
                assert_eq!(ours.span(), full.span(), "{what}");
                assert_eq!((ours.line(), ours.column()), (full.line(), full.column()), "{what}");
                assert_eq!(ours.name(), Some("big.sql"));
                // The shape that kept the table linear: the window read is a few lines, whatever the file.
                assert!(ours.data().len() < 400, "{what}: {} bytes read", ours.data().len());
            }
        }
    }
}
