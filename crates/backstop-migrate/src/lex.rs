//! Front end: tokenise a file with the dialect's SQL lexer, split it into statements with byte spans, parse each.
//!
//! Splitting works on `sqlparser`'s tokens, so semicolons inside strings, quoted identifiers,
//! dollar-quoted bodies (`$$ ... $$`, `$tag$ ... $tag$`) and comments never end a statement. The one
//! place where a semicolon inside the statement itself does not end it, a `BEGIN ... END` body
//! (SQLite `CREATE TRIGGER`, PostgreSQL `BEGIN ATOMIC`), is tracked by nesting depth.

use std::ops::Range;

use sqlparser::ast;
use sqlparser::dialect::{Dialect as SqlDialect, PostgreSqlDialect, SQLiteDialect};
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer, Whitespace};

use crate::utility::{self, Utility};
use crate::{Dialect, ParseError};

/// Maps between byte offsets and the 1-based line/column (in characters) the tokenizer reports.
#[derive(Debug)]
pub(crate) struct LineIndex<'a> {
    pub text: &'a str,
    /// Byte offset where each line starts.
    starts: Vec<usize>,
    /// Whether each line is pure ASCII, so a column is a byte offset.
    ascii: Vec<bool>,
}

impl<'a> LineIndex<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        let ascii = (0..starts.len()).map(|i| text[starts[i]..line_end(text, &starts, i)].is_ascii()).collect();
        LineIndex { text, starts, ascii }
    }

    /// Byte offset of a tokenizer location; line 0 (no location) maps to the end of the text.
    pub(crate) fn offset(&self, location: Location) -> usize {
        let Some(line) = usize::try_from(location.line).ok().and_then(|l| l.checked_sub(1)) else {
            return self.text.len();
        };
        let Some(&start) = self.starts.get(line) else {
            return self.text.len();
        };
        let end = line_end(self.text, &self.starts, line);
        let column = usize::try_from(location.column.saturating_sub(1)).unwrap_or(usize::MAX);
        if self.ascii[line] {
            return start.saturating_add(column).min(end);
        }
        self.text[start..end].char_indices().nth(column).map_or(end, |(i, _)| start + i)
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub(crate) fn line_col(&self, offset: usize) -> (u32, u32) {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let column = self.text[self.starts[line]..offset].chars().count() + 1;
        (to_u32(line + 1), to_u32(column))
    }
}

fn line_end(text: &str, starts: &[usize], line: usize) -> usize {
    starts.get(line + 1).map_or(text.len(), |next| next - 1)
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A comment of the file, with its text without the `--` or `/* */` delimiters.
#[derive(Debug, Clone)]
pub(crate) struct Comment {
    pub text: String,
    pub span: Range<usize>,
}

/// A tokenised file.
#[derive(Debug)]
pub(crate) struct Lexed<'a> {
    pub tokens: Vec<TokenWithSpan>,
    /// Byte range of each token, index for index with `tokens`.
    pub ranges: Vec<Range<usize>>,
    pub comments: Vec<Comment>,
    pub index: LineIndex<'a>,
}

/// One statement as found by the splitter, before parsing.
#[derive(Debug, Clone)]
pub(crate) struct RawStatement {
    /// Indices into `Lexed::tokens`, from the first to the last significant token.
    pub tokens: Range<usize>,
    /// Byte range, without the terminating semicolon.
    pub span: Range<usize>,
}

/// A parsed statement: either `sqlparser`'s AST or one of the utility statements it does not know.
#[derive(Debug)]
pub(crate) enum Parsed {
    Sql(Box<ast::Statement>),
    /// A PostgreSQL statement only PostgreSQL's own parser knows.
    Pg(Box<pg_query::NodeEnum>),
    /// A PostgreSQL statement both parsers know: the general reading (never `Both`) and PostgreSQL's.
    /// `analyze` settles on one of them before classification.
    Both(Box<Parsed>, Box<pg_query::NodeEnum>),
    Utility(Utility),
}

pub(crate) fn sql_dialect(dialect: Dialect) -> &'static dyn SqlDialect {
    match dialect {
        Dialect::Postgres => &PostgreSqlDialect {},
        Dialect::Sqlite => &SQLiteDialect {},
    }
}

pub(crate) fn lex<'a>(file: &str, text: &'a str, dialect: Dialect) -> Result<Lexed<'a>, ParseError> {
    let index = LineIndex::new(text);
    let tokens = Tokenizer::new(sql_dialect(dialect), text).tokenize_with_location().map_err(|e| {
        let offset = index.offset(e.location);
        parse_error(file, &index, offset, &e.message)
    })?;
    let ranges: Vec<Range<usize>> = tokens
        .iter()
        .map(|t| index.offset(t.span.start)..index.offset(t.span.end).max(index.offset(t.span.start)))
        .collect();
    let comments = tokens
        .iter()
        .zip(&ranges)
        .filter_map(|(t, range)| match &t.token {
            Token::Whitespace(Whitespace::SingleLineComment { comment, .. }) => {
                Some(Comment { text: comment.clone(), span: range.clone() })
            }
            Token::Whitespace(Whitespace::MultiLineComment(comment)) => {
                Some(Comment { text: comment.clone(), span: range.clone() })
            }
            _ => None,
        })
        .collect();
    Ok(Lexed { tokens, ranges, comments, index })
}

/// Splits the token stream into statements at top-level semicolons.
pub(crate) fn split(lexed: &Lexed<'_>) -> Vec<RawStatement> {
    let mut statements = Vec::new();
    let mut current: Option<Range<usize>> = None;
    let mut body = BodyDepth::default();
    for (i, token) in lexed.tokens.iter().enumerate() {
        match &token.token {
            Token::Whitespace(_) | Token::EOF => continue,
            Token::SemiColon if body.depth == 0 => {
                if let Some(tokens) = current.take() {
                    statements.push(raw(lexed, tokens));
                }
                body = BodyDepth::default();
                continue;
            }
            _ => {}
        }
        body.observe(&token.token);
        match &mut current {
            Some(tokens) => tokens.end = i + 1,
            None => current = Some(i..i + 1),
        }
    }
    if let Some(tokens) = current {
        statements.push(raw(lexed, tokens));
    }
    statements
}

fn raw(lexed: &Lexed<'_>, tokens: Range<usize>) -> RawStatement {
    let span = lexed.ranges[tokens.start].start..lexed.ranges[tokens.end - 1].end;
    RawStatement { tokens, span }
}

/// Nesting of `BEGIN ... END` bodies inside a `CREATE TRIGGER` (SQLite) or `BEGIN ATOMIC` (PostgreSQL).
#[derive(Debug, Default)]
struct BodyDepth {
    words: usize,
    creates: bool,
    trigger: bool,
    previous_begin: bool,
    depth: u32,
}

impl BodyDepth {
    fn observe(&mut self, token: &Token) {
        let word = match token {
            Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_ascii_uppercase()),
            _ => None,
        };
        let word = word.as_deref();
        if self.words == 0 {
            self.creates = word == Some("CREATE");
        }
        self.words += 1;
        let previous_begin = std::mem::replace(&mut self.previous_begin, word == Some("BEGIN"));
        if !self.creates {
            return;
        }
        match word {
            Some("TRIGGER") if self.depth == 0 => self.trigger = true,
            Some("BEGIN") if self.trigger || self.depth > 0 => self.depth += 1,
            Some("ATOMIC") if previous_begin && !self.trigger => self.depth += 1,
            Some("CASE") if self.depth > 0 => self.depth += 1,
            Some("END") => self.depth = self.depth.saturating_sub(1),
            _ => {}
        }
    }
}

/// How deeply a statement may nest before backstop refuses it: parentheses, brackets and `CASE`
/// bodies, plus operators chained at one level (`1+1+...+1` is as deep as its terms are many). Parsers
/// and tree visits recurse once per level, so input past this bound is rejected before any parser
/// sees it. Real migrations stay far below it.
pub const MAX_NESTING: usize = 1000;

/// The byte offset of the first token at which the statement's estimated nesting passes
/// [`MAX_NESTING`], or `None` when it stays within it.
///
/// The estimate never underestimates the depth of the tree a parser builds: every level of
/// brackets counts one, and every operator since the last comma at each open level counts one.
pub(crate) fn too_deep(lexed: &Lexed<'_>, raw: &RawStatement) -> Option<usize> {
    // One entry per open level: (closes with END instead of a bracket, operators chained at this level).
    let mut levels: Vec<(bool, usize)> = vec![(false, 0)];
    let mut depth = 1usize;
    for i in raw.tokens.clone() {
        let token = &lexed.tokens[i].token;
        let keyword = match token {
            Token::Word(w) if w.quote_style.is_none() => Some(w.value.to_ascii_uppercase()),
            _ => None,
        };
        match (token, keyword.as_deref()) {
            (Token::Whitespace(_), _) => continue,
            (Token::LParen | Token::LBracket, _) | (_, Some("CASE")) => {
                levels.push((keyword.is_some(), 0));
                depth += 1;
            }
            (Token::RParen | Token::RBracket, _) | (_, Some("END")) => {
                let closes_case = keyword.is_some();
                if levels.len() > 1 && levels.last().is_some_and(|(case, _)| *case == closes_case) {
                    let (_, chained) = levels.pop().unwrap_or_default();
                    depth -= 1 + chained;
                }
            }
            (Token::Comma, _) => {
                if let Some((_, chained)) = levels.last_mut() {
                    depth -= std::mem::take(chained);
                }
            }
            (Token::Word(_) | Token::Number(..) | Token::SingleQuotedString(_) | Token::Period, None)
            | (Token::DollarQuotedString(_) | Token::Placeholder(_) | Token::SemiColon | Token::EOF, _) => {}
            (Token::Word(_), Some(word)) if !CHAINING_WORDS.contains(&word) => {}
            _ => {
                if let Some((_, chained)) = levels.last_mut() {
                    *chained += 1;
                    depth += 1;
                }
            }
        }
        if depth > MAX_NESTING {
            return Some(lexed.ranges[i].start);
        }
    }
    None
}

/// Keywords that chain two operands into one more level of the tree.
const CHAINING_WORDS: &[&str] =
    &["AND", "OR", "NOT", "IS", "LIKE", "ILIKE", "SIMILAR", "BETWEEN", "IN", "COLLATE", "AT"];

/// Parses one statement: first as a utility statement, otherwise with `sqlparser`.
pub(crate) fn parse(file: &str, lexed: &Lexed<'_>, raw: &RawStatement, dialect: Dialect) -> Result<Parsed, ParseError> {
    let tokens = &lexed.tokens[raw.tokens.clone()];
    if dialect == Dialect::Postgres {
        // PostgreSQL's grammar decides what is PostgreSQL; the rules then read the general parser's
        // tree where it has one, and PostgreSQL's where it does not.
        let text = &lexed.index.text[raw.span.clone()];
        let node = crate::pg::parse(text)
            .map_err(|(offset, message)| parse_error(file, &lexed.index, raw.span.start + offset, &message))?;
        return Ok(match parse_general(tokens, dialect) {
            Some(general) => Parsed::Both(Box::new(general), Box::new(node)),
            None => Parsed::Pg(Box::new(node)),
        });
    }
    if let Some(utility) = utility::parse(tokens, dialect) {
        return utility
            .map(Parsed::Utility)
            .map_err(|e| parse_error(file, &lexed.index, error_offset(lexed, raw, e.location), &e.message));
    }
    let mut parser = Parser::new(sql_dialect(dialect)).with_tokens_with_locations(sqlparser_tokens(tokens, dialect));
    match parser.parse_statements() {
        Ok(mut statements) if statements.len() == 1 => Ok(Parsed::Sql(Box::new(statements.remove(0)))),
        Ok(statements) => Err(parse_error(
            file,
            &lexed.index,
            raw.span.start,
            &format!("expected one statement, found {}", statements.len()),
        )),
        Err(e) => {
            let (message, location) = split_parser_error(&e);
            Err(parse_error(file, &lexed.index, error_offset(lexed, raw, location), &message))
        }
    }
}

/// The general parsers' reading of a statement PostgreSQL accepted, `None` when they do not know it.
fn parse_general(tokens: &[TokenWithSpan], dialect: Dialect) -> Option<Parsed> {
    if let Some(utility) = utility::parse(tokens, dialect) {
        return utility.ok().map(Parsed::Utility);
    }
    let mut parser = Parser::new(sql_dialect(dialect)).with_tokens_with_locations(sqlparser_tokens(tokens, dialect));
    match parser.parse_statements() {
        Ok(mut statements) if statements.len() == 1 => Some(Parsed::Sql(Box::new(statements.remove(0)))),
        _ => None,
    }
}

/// The tokens to hand to `sqlparser`: SQLite's `CREATE TRIGGER IF NOT EXISTS`, which it does not
/// know, loses its `IF NOT EXISTS` (nothing backstop checks depends on it).
fn sqlparser_tokens(tokens: &[TokenWithSpan], dialect: Dialect) -> Vec<TokenWithSpan> {
    let significant: Vec<usize> =
        (0..tokens.len()).filter(|&i| !matches!(tokens[i].token, Token::Whitespace(_))).take(6).collect();
    let word = |i: usize, expected: &str| matches!(&tokens[i].token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(expected));
    if dialect == Dialect::Sqlite && significant.len() >= 4 && word(significant[0], "CREATE") {
        let trigger = if word(significant[1], "TEMP") || word(significant[1], "TEMPORARY") { 2 } else { 1 };
        if significant.len() > trigger + 3
            && word(significant[trigger], "TRIGGER")
            && word(significant[trigger + 1], "IF")
            && word(significant[trigger + 2], "NOT")
            && word(significant[trigger + 3], "EXISTS")
        {
            let skip = significant[trigger + 1]..=significant[trigger + 3];
            return tokens.iter().enumerate().filter(|(i, _)| !skip.contains(i)).map(|(_, t)| t.clone()).collect();
        }
    }
    tokens.to_vec()
}

/// An error location inside the statement, or the statement's end when the parser ran out of tokens.
fn error_offset(lexed: &Lexed<'_>, raw: &RawStatement, location: Location) -> usize {
    if location.line == 0 { raw.span.end } else { lexed.index.offset(location) }
}

/// Takes `sqlparser`'s " at Line: L, Column: C" suffix off an error message.
fn split_parser_error(error: &ParserError) -> (String, Location) {
    let message = match error {
        ParserError::TokenizerError(s) | ParserError::ParserError(s) => s.as_str(),
        ParserError::RecursionLimitExceeded => "statement nests too deeply",
    };
    let no_location = Location { line: 0, column: 0 };
    let Some((text, position)) = message.rsplit_once(" at Line: ") else {
        return (message.to_owned(), no_location);
    };
    let location = position.split_once(", Column: ").and_then(|(line, column)| {
        Some(Location { line: line.trim().parse().ok()?, column: column.trim().parse().ok()? })
    });
    match location {
        Some(location) => (text.to_owned(), location),
        None => (message.to_owned(), no_location),
    }
}

fn parse_error(file: &str, index: &LineIndex<'_>, offset: usize, message: &str) -> ParseError {
    let (line, column) = index.line_col(offset);
    let message = message.replace("found: EOF", "found: end of statement");
    let mut chars = message.chars();
    let message = match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::from("invalid sql"),
    };
    ParseError { file: file.to_owned(), line, column, offset, message }
}

/// Byte ranges of the down sections of single-file migrations: from `-- migrate:down` (dbmate) or
/// `-- +goose Down` (goose) to the next up marker or the end of the file.
pub(crate) fn down_sections(comments: &[Comment], len: usize) -> Vec<Range<usize>> {
    let mut sections = Vec::new();
    let mut down_from = None;
    for comment in comments {
        let words: Vec<&str> = comment.text.split_whitespace().collect();
        let marker = match words.as_slice() {
            [first, ..] if first.eq_ignore_ascii_case("migrate:down") => Some(true),
            [first, ..] if first.eq_ignore_ascii_case("migrate:up") => Some(false),
            ["+goose", second, ..] if second.eq_ignore_ascii_case("down") => Some(true),
            ["+goose", second, ..] if second.eq_ignore_ascii_case("up") => Some(false),
            _ => None,
        };
        match (marker, down_from) {
            (Some(true), None) => down_from = Some(comment.span.end),
            (Some(false), Some(start)) => {
                sections.push(start..comment.span.start);
                down_from = None;
            }
            _ => {}
        }
    }
    if let Some(start) = down_from {
        sections.push(start..len);
    }
    sections
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statements(text: &str, dialect: Dialect) -> Vec<&str> {
        let lexed = lex("t.sql", text, dialect).unwrap();
        split(&lexed).into_iter().map(|s| &text[s.span]).collect()
    }

    #[test]
    fn splits_at_top_level_semicolons_only() {
        let cases: &[(&str, Dialect, &[&str])] = &[
            ("SELECT 1; SELECT 2", Dialect::Postgres, &["SELECT 1", "SELECT 2"]),
            ("SELECT 1;;\n;SELECT 2;", Dialect::Postgres, &["SELECT 1", "SELECT 2"]),
            ("SELECT 'a;b'; SELECT 2", Dialect::Postgres, &["SELECT 'a;b'", "SELECT 2"]),
            ("SELECT \"a;b\" FROM t; SELECT 2", Dialect::Postgres, &["SELECT \"a;b\" FROM t", "SELECT 2"]),
            ("-- a; b\nSELECT 1; /* c; d */ SELECT 2", Dialect::Postgres, &["SELECT 1", "SELECT 2"]),
            (
                "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql; SELECT 2",
                Dialect::Postgres,
                &["CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql", "SELECT 2"],
            ),
            (
                "DO $body$ BEGIN PERFORM 1; END $body$; SELECT 2",
                Dialect::Postgres,
                &["DO $body$ BEGIN PERFORM 1; END $body$", "SELECT 2"],
            ),
            (
                "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END; SELECT 3",
                Dialect::Postgres,
                &["CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END", "SELECT 3"],
            ),
            (
                "BEGIN; CREATE TABLE t (a int); COMMIT;",
                Dialect::Postgres,
                &["BEGIN", "CREATE TABLE t (a int)", "COMMIT"],
            ),
            (
                "CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET a = CASE WHEN 1 THEN 2 END; DELETE FROM u; END; SELECT 1",
                Dialect::Sqlite,
                &[
                    "CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET a = CASE WHEN 1 THEN 2 END; DELETE FROM u; END",
                    "SELECT 1",
                ],
            ),
            ("-- only a comment\n", Dialect::Postgres, &[]),
            ("", Dialect::Sqlite, &[]),
        ];
        for (text, dialect, expected) in cases {
            assert_eq!(&statements(text, *dialect), expected, "splitting {text:?}");
        }
    }

    #[test]
    fn line_index_round_trips_with_multibyte_text() {
        let text = "-- héllo\nSELECT 'ü';\r\nSELECT 2";
        let index = LineIndex::new(text);
        let second = text.find("SELECT 2").unwrap();
        assert_eq!(index.line_col(second), (3, 1));
        assert_eq!(index.offset(Location { line: 3, column: 1 }), second);
        let quote = text.find("'ü'").unwrap();
        assert_eq!(index.line_col(quote), (2, 8));
        assert_eq!(index.offset(Location { line: 2, column: 8 }), quote);
        assert_eq!(index.offset(Location { line: 1, column: 5 }), text.find('é').unwrap());
        assert_eq!(index.offset(Location { line: 1, column: 6 }), text.find('é').unwrap() + 'é'.len_utf8());
        assert_eq!(index.offset(Location { line: 0, column: 0 }), text.len());
    }

    #[test]
    fn token_ranges_cover_the_token_text() {
        let text = "SELECT 'é', $$x;y$$ FROM \"T\"";
        let lexed = lex("t.sql", text, Dialect::Postgres).unwrap();
        let texts: Vec<&str> = lexed
            .tokens
            .iter()
            .zip(&lexed.ranges)
            .filter(|(t, _)| !matches!(t.token, Token::Whitespace(_)))
            .map(|(_, r)| &text[r.clone()])
            .collect();
        assert_eq!(texts, ["SELECT", "'é'", ",", "$$x;y$$", "FROM", "\"T\""]);
    }

    #[test]
    fn tokenizer_errors_carry_the_position() {
        let error = lex("m.sql", "SELECT 1;\nSELECT 'open", Dialect::Postgres).unwrap_err();
        assert_eq!((error.file.as_str(), error.line), ("m.sql", 2));
        assert!(error.message.starts_with("unterminated"), "{}", error.message);
    }

    #[test]
    fn down_sections_cover_dbmate_and_goose_markers() {
        let cases: &[(&str, &[&str])] = &[
            ("-- migrate:up\nA;\n-- migrate:down\nB;\n", &["\nB;\n"]),
            ("-- +goose Up\nA;\n-- +goose Down\nB;\n-- +goose Up\nC;", &["\nB;\n"]),
            ("A;\n-- migrate:downgrade is not a marker\n", &[]),
            ("A; -- no markers", &[]),
        ];
        for (text, expected) in cases {
            let lexed = lex("t.sql", text, Dialect::Postgres).unwrap();
            let sections: Vec<&str> =
                down_sections(&lexed.comments, text.len()).into_iter().map(|r| &text[r]).collect();
            assert_eq!(&sections, expected, "sections of {text:?}");
        }
    }
}
