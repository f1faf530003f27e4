//! Migration analysis for backstop: which phase each SQL statement belongs to and which findings apply.
//!
//! The crate does no I/O: callers pass a file name and its text to [`analyze`], and a list of file
//! names to [`order_migrations`]. SQL is parsed with `sqlparser` (PostgreSQL and SQLite dialects);
//! a handful of PostgreSQL utility statements it does not know (`DO`, `CLUSTER`, `REINDEX`,
//! `VACUUM (...)`, `REFRESH MATERIALIZED VIEW`, `DROP INDEX CONCURRENTLY`, SQLite `PRAGMA`) are read by a
//! small token grammar in `utility`. Anything neither understands is a [`ParseError`] with file, line and
//! column, never a silent pass.
//!
//! Pipeline of [`analyze`]: `lex` (tokenise, split into statements with byte spans, collect comments)
//! → parse each statement → `classify` (phase and kind) → `rules` (findings) → `suppress`
//! (`-- backstop:allow RULE-ID reason` comments). [`plan_stages`] then places a release's pending
//! migrations in the expand or contract stage.

mod classify;
mod layout;
mod lex;
mod pg;
mod plan;
mod rules;
mod suppress;
mod utility;

use std::fmt;
use std::ops::Range;

use serde::Serialize;

pub use layout::{IgnoredFile, Layout, Migration, MigrationSet, order_migrations};
pub use lex::MAX_NESTING;
pub use plan::{Pending, Placed, Refusal, Stage, StagePlan, plan_stages};
pub use rules::{RULES, RuleInfo, rule};

/// The SQL dialect a migration file is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    Postgres,
    Sqlite,
}

/// What a statement does to the code that ran before it.
///
/// Ordered by how much it restricts a deploy: `Expand < Backfill < Contract`, so the phase of a
/// file is the maximum over its statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Additive or harmless: the previous code still works.
    Expand,
    /// Changes data, not schema: run in batches, the previous code still works.
    Backfill,
    /// Destructive for the previous code: drop, rename, narrow, new mandatory input.
    Contract,
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Hygiene: worth fixing, does not break anything by itself.
    Warning,
    /// Breaks the previous code or holds a long exclusive lock on an existing table.
    Error,
}

/// One statement of a migration file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Statement {
    pub file: String,
    /// 1-based line of the statement's first token.
    pub line: u32,
    /// 1-based column (in characters) of the statement's first token.
    pub column: u32,
    /// Byte range of the statement in the file, without its terminating semicolon.
    pub span: Range<usize>,
    /// The statement's text, exactly as written.
    pub sql: String,
    pub phase: Phase,
    /// What the statement is, in lowercase words: `"create table"`, `"alter table add column"`.
    pub kind: String,
}

/// One rule that applies to one statement (or to a suppression comment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub file: String,
    pub line: u32,
    pub column: u32,
    /// Byte range the finding points at: the statement, or the suppression comment.
    pub span: Range<usize>,
    /// Kebab-case rule id, one of [`RULES`].
    pub rule: &'static str,
    pub severity: Severity,
    /// What is wrong here, naming the table or column.
    pub message: String,
    /// What to do instead.
    pub help: String,
}

/// Statements and findings of one migration file.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Report {
    pub statements: Vec<Statement>,
    pub findings: Vec<Finding>,
}

impl Report {
    /// The phase of the whole file: the most restrictive phase of its statements.
    pub fn phase(&self) -> Option<Phase> {
        self.statements.iter().map(|s| s.phase).max()
    }

    /// Whether any finding is an error.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

/// A migration file that cannot be tokenised or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: cannot parse sql: {message}")]
pub struct ParseError {
    pub file: String,
    pub line: u32,
    pub column: u32,
    /// Byte offset of the error in the file.
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Dialect::Postgres => "postgres",
            Dialect::Sqlite => "sqlite",
        })
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Phase::Expand => "expand",
            Phase::Backfill => "backfill",
            Phase::Contract => "contract",
        })
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// Analyses one migration file: every forward statement with its phase, and the findings that apply.
///
/// `file` is only used to label positions. Statements in a `-- migrate:down` (dbmate) or
/// `-- +goose Down` section are not forward statements and are left out.
///
/// Safe on untrusted input: a statement nesting deeper than [`MAX_NESTING`] is a [`ParseError`] before
/// any parser sees it, and the analysis runs on its own thread with a large stack ([`ANALYSIS_STACK`]),
/// so neither the parsers nor the tree visits can exhaust the caller's stack.
pub fn analyze(file: &str, text: &str, dialect: Dialect) -> Result<Report, ParseError> {
    let failed = |message: String| ParseError { file: file.to_owned(), line: 1, column: 1, offset: 0, message };
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("backstop-analyze".into())
            .stack_size(ANALYSIS_STACK)
            .spawn_scoped(scope, || analyze_on_this_thread(file, text, dialect))
            .map_err(|e| failed(format!("cannot start the analysis thread: {e}")))?;
        worker.join().unwrap_or_else(|_| Err(failed("the analysis of this file failed unexpectedly".into())))
    })
}

/// Stack size of the thread [`analyze`] runs on: room for [`MAX_NESTING`] levels in every parser and visit.
pub const ANALYSIS_STACK: usize = 64 << 20;

fn analyze_on_this_thread(file: &str, text: &str, dialect: Dialect) -> Result<Report, ParseError> {
    // A byte order mark is not SQL; positions stay byte offsets into the text as given.
    let Some(body) = text.strip_prefix('\u{feff}') else {
        return analyze_text(file, text, dialect);
    };
    let bom = text.len() - body.len();
    let shift = |span: &mut Range<usize>| *span = span.start + bom..span.end + bom;
    let mut report = analyze_text(file, body, dialect).map_err(|mut e| {
        e.offset += bom;
        e
    })?;
    report.statements.iter_mut().for_each(|s| shift(&mut s.span));
    report.findings.iter_mut().for_each(|f| shift(&mut f.span));
    Ok(report)
}

fn analyze_text(file: &str, text: &str, dialect: Dialect) -> Result<Report, ParseError> {
    let lexed = lex::lex(file, text, dialect)?;
    let down = lex::down_sections(&lexed.comments, text.len());
    let mut state = classify::FileState::new(dialect);
    let mut statements = Vec::new();
    let mut hits = Vec::new();
    for raw in lex::split(&lexed) {
        if down.iter().any(|section| section.contains(&raw.span.start)) {
            continue;
        }
        if let Some(offset) = lex::too_deep(&lexed, &raw) {
            let (line, column) = lexed.index.line_col(offset);
            return Err(ParseError {
                file: file.to_owned(),
                line,
                column,
                offset,
                message: format!(
                    "statement nests deeper than {MAX_NESTING} levels (brackets, CASE and chained operators); backstop does not analyse it"
                ),
            });
        }
        // Where both parsers know a statement, the general parser's tree feeds the rules unless its
        // rules have nothing to say about it; then PostgreSQL's tree is read instead.
        let (parsed, classified) = match lex::parse(file, &lexed, &raw, dialect)? {
            lex::Parsed::Both(general, pg) => {
                let classified = classify::classify(&general, &state);
                if classified.unanalyzed {
                    let pg = lex::Parsed::Pg(pg);
                    let classified = classify::classify(&pg, &state);
                    (pg, classified)
                } else {
                    (*general, classified)
                }
            }
            parsed => {
                let classified = classify::classify(&parsed, &state);
                (parsed, classified)
            }
        };
        let index = statements.len();
        hits.extend(rules::check(&parsed, &classified, &state).into_iter().map(|hit| (index, hit)));
        state.observe(&parsed);
        let (line, column) = lexed.index.line_col(raw.span.start);
        statements.push(Statement {
            file: file.to_owned(),
            line,
            column,
            span: raw.span.clone(),
            sql: text[raw.span.clone()].to_owned(),
            phase: classified.phase,
            kind: classified.kind,
        });
    }
    let findings = suppress::apply(file, text, &lexed, &down, &statements, hits);
    Ok(Report { statements, findings })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_point_at_the_offending_token() {
        let cases: &[(&str, Dialect, (u32, u32), &str)] = &[
            ("SELECT 1;\nALTER TABLE users ADD COLUMN;", Dialect::Postgres, (2, 29), "syntax error at end of input"),
            ("CREATE TABLE t (\n  a int\n  b int\n)", Dialect::Postgres, (3, 3), "syntax error at or near \"b\""),
            ("SELECT 1;\r\nSELEC 2;", Dialect::Postgres, (2, 1), "syntax error at or near \"SELEC\""),
            ("-- ü\nDROP INDEX CONCURRENTLY;", Dialect::Postgres, (2, 24), "syntax error at end of input"),
            (
                "ALTER TABLE t ATTACH PARTITON p FOR VALUES IN (1)",
                Dialect::Postgres,
                (1, 22),
                "at or near \"PARTITON\"",
            ),
            ("SELECT 1 FROM t WHERE a = 1 2", Dialect::Postgres, (1, 29), "at or near \"2\""),
            ("PRAGMA foreign_keys = ;", Dialect::Sqlite, (1, 22), "expected a pragma value"),
            ("SELECT 'unterminated", Dialect::Sqlite, (1, 8), "unterminated string literal"),
            ("SELECT 1;\nALTER TABLE users ADD COLUMN", Dialect::Postgres, (2, 29), "syntax error at end of input"),
            ("CREATE TABLE t (\n  a int\n  b int\n)", Dialect::Sqlite, (3, 3), "found: b"),
        ];
        for (sql, dialect, (line, column), message) in cases {
            let error = analyze("m.sql", sql, *dialect).expect_err(sql);
            assert_eq!((error.line, error.column), (*line, *column), "position of the error in {sql:?}: {error}");
            assert!(error.message.contains(message), "{sql:?}: {error}");
            assert!(error.to_string().starts_with(&format!("m.sql:{line}:{column}: cannot parse sql: ")), "{error}");
        }
    }

    #[test]
    fn statements_carry_position_span_and_text() {
        let sql = "-- intro\nSET lock_timeout = '1s';\n  CREATE TABLE IF NOT EXISTS t (a int) ;\nDROP TABLE t";
        let report = analyze("m.sql", sql, Dialect::Postgres).unwrap();
        let found: Vec<(u32, u32, &str, &str)> =
            report.statements.iter().map(|s| (s.line, s.column, &sql[s.span.clone()], s.sql.as_str())).collect();
        assert_eq!(
            found,
            [
                (2, 1, "SET lock_timeout = '1s'", "SET lock_timeout = '1s'"),
                (3, 3, "CREATE TABLE IF NOT EXISTS t (a int)", "CREATE TABLE IF NOT EXISTS t (a int)"),
                (4, 1, "DROP TABLE t", "DROP TABLE t"),
            ]
        );
        assert!(report.statements.iter().all(|s| s.file == "m.sql"));
    }

    #[test]
    fn a_byte_order_mark_is_skipped_and_offsets_stay_in_the_given_text() {
        let text = "\u{feff}SELECT 1;\nDROP TABLE users;";
        let report = analyze("m.sql", text, Dialect::Sqlite).unwrap();
        let spans: Vec<&str> = report.statements.iter().map(|s| &text[s.span.clone()]).collect();
        assert_eq!(spans, ["SELECT 1", "DROP TABLE users"]);
        assert_eq!((report.statements[0].line, report.statements[0].column), (1, 1));
        assert_eq!(&text[report.findings[0].span.clone()], "DROP TABLE users");
        let error = analyze("m.sql", "\u{feff}SELEC 1", Dialect::Sqlite).unwrap_err();
        assert_eq!((error.line, error.column, error.offset), (1, 1, 3));
    }

    #[test]
    fn analysis_survives_select_with_160k_terms() {
        let sql = format!("SELECT 1;\nSELECT 1{}", "+1".repeat(160_000));
        let error = analyze("m.sql", &sql, Dialect::Postgres).unwrap_err();
        assert_eq!(error.line, 2, "{error}");
        assert!(error.message.contains(&format!("deeper than {MAX_NESTING} levels")), "{error}");
    }

    #[test]
    fn analysis_bounds_every_kind_of_nesting() {
        let deep: &[(&str, String)] = &[
            ("parentheses", format!("SELECT {}1{}", "(".repeat(100_000), ")".repeat(100_000))),
            ("brackets", format!("SELECT ARRAY{}1{}", "[".repeat(5_000), "]".repeat(5_000))),
            ("case", format!("SELECT {} 1 {}", "CASE WHEN true THEN ".repeat(2_000), "END ".repeat(2_000))),
            ("and chain", format!("DELETE FROM t WHERE a{}", " AND a".repeat(50_000))),
            ("concatenation", format!("UPDATE t SET a = 'x'{}", " || 'x'".repeat(50_000))),
            ("subqueries", format!("SELECT {}1{}", "(SELECT ".repeat(3_000), ")".repeat(3_000))),
        ];
        for dialect in [Dialect::Postgres, Dialect::Sqlite] {
            for (what, sql) in deep {
                if dialect == Dialect::Sqlite && *what == "brackets" {
                    continue; // `[...]` quotes an identifier in SQLite
                }
                let error = analyze("m.sql", sql, dialect).expect_err(what);
                assert!(error.message.contains("nests deeper"), "{what} ({dialect}): {error}");
            }
        }
        // Wide is not deep: long lists and many statements stay within the bound.
        let wide = [
            format!("INSERT INTO t VALUES {}", vec!["(1, 'a' || 'b', (2 + 3) * 4)"; 20_000].join(", ")),
            format!("SELECT {}", vec!["a + b"; 20_000].join(", ")),
            "SELECT 1 + 2;".repeat(5_000),
        ];
        for sql in &wide {
            analyze("m.sql", sql, Dialect::Postgres).unwrap_or_else(|e| panic!("{e}"));
        }
    }

    #[test]
    fn display_names_are_lowercase_and_pad() {
        assert_eq!(format!("[{:<8}]", Phase::Expand), "[expand  ]");
        assert_eq!(Phase::Backfill.to_string(), "backfill");
        assert_eq!(Severity::Warning.to_string(), "warning");
        assert_eq!(Dialect::Sqlite.to_string(), "sqlite");
        assert!(Phase::Expand < Phase::Backfill && Phase::Backfill < Phase::Contract);
    }
}
