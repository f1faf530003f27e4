//! `-- backstop:allow RULE-ID reason` comments: suppress one rule on one statement, with a reason.
//!
//! A directive applies to the statement it sits in, the statement whose line it ends (trailing
//! comment), or the statement directly below it (no blank line in between). It suppresses only the
//! rule it names, only there. A directive that names no or an unknown rule, gives no reason, or
//! suppresses nothing is reported itself (`malformed-suppression`, `unused-suppression`): nothing is
//! ever silently disabled.

use std::ops::Range;

use crate::lex::{Comment, Lexed};
use crate::rules::{self, Hit, MALFORMED_SUPPRESSION, RuleInfo, UNUSED_SUPPRESSION};
use crate::{Finding, Statement};

const PREFIX: &str = "backstop:";

/// A `backstop:` comment, read.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Directive {
    Allow { rule: &'static RuleInfo },
    Malformed(String),
}

/// Reads a comment: `None` if it is not a `backstop:` directive at all.
fn directive(comment: &str) -> Option<Directive> {
    let text = comment.trim();
    if !text.get(..PREFIX.len()).is_some_and(|p| p.eq_ignore_ascii_case(PREFIX)) {
        return None;
    }
    let rest = &text[PREFIX.len()..];
    let (verb, rest) = split_word(rest);
    if verb != "allow" {
        return Some(Directive::Malformed(format!(
            "unknown directive `backstop:{verb}`; the only directive is `backstop:allow RULE-ID reason`"
        )));
    }
    let (id, reason) = split_word(rest);
    let malformed = |message: String| Some(Directive::Malformed(message));
    if id.is_empty() {
        return malformed("backstop:allow names no rule".into());
    }
    let Some(rule) = rules::rule(id) else {
        return malformed(format!("backstop:allow names unknown rule `{id}`; it suppresses one rule, named by its id"));
    };
    if rule == UNUSED_SUPPRESSION || rule == MALFORMED_SUPPRESSION {
        return malformed(format!("`{id}` cannot be suppressed; fix the suppression comment instead"));
    }
    if reason.trim().is_empty() {
        return malformed(format!("backstop:allow {id} gives no reason; say why the finding does not apply here"));
    }
    Some(Directive::Allow { rule })
}

fn split_word(text: &str) -> (&str, &str) {
    let text = text.trim_start();
    let end = text.find(char::is_whitespace).unwrap_or(text.len());
    (&text[..end], &text[end..])
}

/// The statement a comment applies to, by index.
fn target(comment: &Range<usize>, statements: &[Statement], text: &str) -> Option<usize> {
    if let Some(i) = statements.iter().position(|s| s.span.start <= comment.start && comment.start < s.span.end) {
        return Some(i);
    }
    let before = statements.iter().rposition(|s| s.span.end <= comment.start);
    if let Some(i) = before.filter(|&i| !text[statements[i].span.end..comment.start].contains('\n')) {
        return Some(i);
    }
    let next = statements.iter().position(|s| s.span.start >= comment.end)?;
    let gap = &text[comment.end..statements[next].span.start];
    let lines: Vec<&str> = gap.split('\n').collect();
    let blank_line = lines.len() > 2 && lines[1..lines.len() - 1].iter().any(|l| l.trim().is_empty());
    (!blank_line).then_some(next)
}

/// Turns the rule hits into findings, minus the suppressed ones, plus findings about the suppressions.
pub(crate) fn apply(
    file: &str,
    text: &str,
    lexed: &Lexed<'_>,
    down: &[Range<usize>],
    statements: &[Statement],
    hits: Vec<(usize, Hit)>,
) -> Vec<Finding> {
    let comments: Vec<(&Comment, Directive)> = lexed
        .comments
        .iter()
        .filter(|c| !down.iter().any(|d| d.contains(&c.span.start)))
        .filter_map(|c| directive(&c.text).map(|d| (c, d)))
        .collect();
    let targets: Vec<Option<usize>> = comments.iter().map(|(c, _)| target(&c.span, statements, text)).collect();
    let mut used = vec![false; comments.len()];
    let mut findings = Vec::new();
    for (index, hit) in hits {
        let suppressed_by = comments.iter().enumerate().position(|(i, (_, d))| {
            targets[i] == Some(index) && matches!(d, Directive::Allow { rule } if rule.id == hit.rule.id)
        });
        match suppressed_by {
            Some(i) => used[i] = true,
            None => {
                let statement = &statements[index];
                findings.push(Finding {
                    file: file.to_owned(),
                    line: statement.line,
                    column: statement.column,
                    span: statement.span.clone(),
                    rule: hit.rule.id,
                    severity: hit.rule.severity,
                    message: hit.message,
                    help: hit.rule.help.to_owned(),
                });
            }
        }
    }
    for (i, (comment, directive)) in comments.iter().enumerate() {
        let (rule, message) = match (directive, targets[i]) {
            (Directive::Malformed(message), _) => (MALFORMED_SUPPRESSION, message.clone()),
            (Directive::Allow { .. }, _) if used[i] => continue,
            (Directive::Allow { rule }, None) => {
                (UNUSED_SUPPRESSION, format!("backstop:allow {} is not directly above a statement", rule.id))
            }
            (Directive::Allow { rule }, Some(_)) => {
                (UNUSED_SUPPRESSION, format!("backstop:allow {}: the rule does not fire on this statement", rule.id))
            }
        };
        let (line, column) = lexed.index.line_col(comment.span.start);
        findings.push(Finding {
            file: file.to_owned(),
            line,
            column,
            span: comment.span.clone(),
            rule: rule.id,
            severity: rule.severity,
            message,
            help: rule.help.to_owned(),
        });
    }
    findings.sort_by_key(|f| f.span.start);
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Dialect, analyze};

    #[test]
    fn reads_directives() {
        let allow = |id: &str| Some(Directive::Allow { rule: rules::rule(id).unwrap() });
        let malformed = |m: &str| Some(Directive::Malformed(m.to_owned()));
        let cases = [
            (" a plain comment", None),
            (" backstop is great", None),
            (" backstop:allow dropping-column code stopped reading it in v2.3", allow("dropping-column")),
            ("  BACKSTOP:allow renaming-table\treason ", allow("renaming-table")),
            (" backstop:allow", malformed("backstop:allow names no rule")),
            (
                " backstop:allow dropping-column",
                malformed("backstop:allow dropping-column gives no reason; say why the finding does not apply here"),
            ),
            (
                " backstop:allow all because",
                malformed("backstop:allow names unknown rule `all`; it suppresses one rule, named by its id"),
            ),
            (
                " backstop:allow unused-suppression x",
                malformed("`unused-suppression` cannot be suppressed; fix the suppression comment instead"),
            ),
            (
                " backstop:alow dropping-column x",
                malformed("unknown directive `backstop:alow`; the only directive is `backstop:allow RULE-ID reason`"),
            ),
        ];
        for (comment, expected) in cases {
            assert_eq!(directive(comment), expected, "reading {comment:?}");
        }
    }

    /// (rule, line) of every finding.
    fn findings(sql: &str) -> Vec<(&'static str, u32)> {
        let report = analyze("t.sql", sql, Dialect::Postgres).unwrap();
        report.findings.iter().map(|f| (f.rule, f.line)).collect()
    }

    #[test]
    fn suppresses_one_rule_on_one_statement() {
        let cases: &[(&str, &[(&str, u32)])] = &[
            (
                "SET lock_timeout = '1s';\n-- backstop:allow dropping-column v2.3 no longer reads it\nALTER TABLE users DROP COLUMN a;",
                &[],
            ),
            (
                "SET lock_timeout = '1s';\nALTER TABLE users DROP COLUMN a; -- backstop:allow dropping-column v2.3 no longer reads it\nALTER TABLE users DROP COLUMN b;",
                &[("dropping-column", 3)],
            ),
            (
                "SET lock_timeout = '1s';\nALTER TABLE users\n  DROP COLUMN a, -- backstop:allow dropping-column unused since v2\n  DROP COLUMN b;",
                &[],
            ),
            (
                "SET lock_timeout = '1s';\n-- backstop:allow dropping-column unused since v2\n-- more words about it\nALTER TABLE users DROP COLUMN a;\nALTER TABLE users DROP COLUMN b;",
                &[("dropping-column", 5)],
            ),
            (
                "-- backstop:allow dropping-column unused since v2\nALTER TABLE users DROP COLUMN a;",
                &[("missing-lock-timeout", 2)],
            ),
            (
                "/* backstop:allow dropping-table the archive moved to S3 in v4 */\nDROP TABLE IF EXISTS archive;\nSET lock_timeout = '1s';",
                &[("missing-lock-timeout", 2)],
            ),
        ];
        for (sql, expected) in cases {
            assert_eq!(&findings(sql), expected, "findings of {sql:?}");
        }
    }

    #[test]
    fn reports_suppressions_that_do_nothing() {
        let cases: &[(&str, &[(&str, u32)])] = &[
            (
                "SET lock_timeout = '1s';\n-- backstop:allow renaming-column wrong rule\nALTER TABLE users DROP COLUMN a;",
                &[("unused-suppression", 2), ("dropping-column", 3)],
            ),
            (
                "SET lock_timeout = '1s';\n-- backstop:allow dropping-column blank line below\n\nALTER TABLE users DROP COLUMN a;",
                &[("unused-suppression", 2), ("dropping-column", 4)],
            ),
            ("SELECT 1;\n-- backstop:allow dropping-column nothing below", &[("unused-suppression", 2)]),
            (
                "SET lock_timeout = '1s';\n-- backstop:allow dropping-column\nALTER TABLE users DROP COLUMN a;",
                &[("malformed-suppression", 2), ("dropping-column", 3)],
            ),
            (
                "SET lock_timeout = '1s';\n-- backstop:allow drop-column typo in the id\nALTER TABLE users DROP COLUMN a;",
                &[("malformed-suppression", 2), ("dropping-column", 3)],
            ),
        ];
        for (sql, expected) in cases {
            assert_eq!(&findings(sql), expected, "findings of {sql:?}");
        }
    }

    #[test]
    fn suppression_messages_say_what_is_wrong() {
        let report =
            analyze("t.sql", "SELECT 1;\n\n-- backstop:allow cluster not needed\n", Dialect::Postgres).unwrap();
        let finding = &report.findings[0];
        assert_eq!((finding.rule, finding.line, finding.column), ("unused-suppression", 3, 1));
        assert_eq!(finding.message, "backstop:allow cluster is not directly above a statement");
        assert_eq!(&report.findings[0].span, &(11..47));
    }

    #[test]
    fn directives_in_down_sections_are_ignored() {
        let sql = "-- migrate:up\nSELECT 1;\n-- migrate:down\n-- backstop:allow dropping-table down only\nDROP TABLE users;\n";
        let report = analyze("t.sql", sql, Dialect::Postgres).unwrap();
        assert_eq!(report.statements.len(), 1);
        assert_eq!(report.findings, []);
    }
}
