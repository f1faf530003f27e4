//! A small token grammar for the utility statements `sqlparser` does not parse, but migrations use.
//!
//! PostgreSQL: `DO`, `DROP INDEX CONCURRENTLY`, `CLUSTER`, `REINDEX`, `VACUUM`, `REFRESH MATERIALIZED
//! VIEW`. SQLite: `PRAGMA` (whose `ON`/`OFF` values `sqlparser` rejects), `REINDEX`, `VACUUM`. Each
//! form is read strictly to its end: an unexpected token is an error, never a silent pass.

use sqlparser::tokenizer::{Location, Token, TokenWithSpan};

use crate::Dialect;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Utility {
    /// `DO [LANGUAGE l] 'code'`: an anonymous code block backstop cannot see into.
    Do,
    DropIndexConcurrently {
        names: Vec<String>,
    },
    Cluster {
        table: Option<String>,
    },
    Reindex {
        concurrently: bool,
        target: Option<String>,
    },
    Vacuum {
        full: bool,
    },
    RefreshMaterializedView {
        concurrently: bool,
        name: String,
    },
    Pragma {
        name: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UtilityError {
    pub message: String,
    pub location: Location,
}

/// Reads a utility statement, or `None` when the tokens start some other statement.
pub(crate) fn parse(tokens: &[TokenWithSpan], dialect: Dialect) -> Option<Result<Utility, UtilityError>> {
    let mut c = Cursor::new(tokens);
    let pg = dialect == Dialect::Postgres;
    let utility = if pg && c.eat("DO") {
        parse_do(&mut c)
    } else if pg && c.eat_all(&["DROP", "INDEX", "CONCURRENTLY"]) {
        parse_drop_index(&mut c)
    } else if pg && c.eat("CLUSTER") {
        parse_cluster(&mut c)
    } else if c.eat("REINDEX") {
        if pg { parse_reindex(&mut c) } else { parse_sqlite_reindex(&mut c) }
    } else if c.eat("VACUUM") {
        if pg { parse_vacuum(&mut c) } else { parse_sqlite_vacuum(&mut c) }
    } else if pg && c.eat_all(&["REFRESH", "MATERIALIZED", "VIEW"]) {
        parse_refresh(&mut c)
    } else if !pg && c.eat("PRAGMA") {
        parse_pragma(&mut c)
    } else {
        return None;
    };
    Some(utility.and_then(|u| c.expect_end().map(|()| u)))
}

fn parse_do(c: &mut Cursor<'_>) -> Result<Utility, UtilityError> {
    if c.eat("LANGUAGE") {
        c.name()?;
    }
    if !c.eat_string() {
        return Err(c.error("the code of the DO block as a string"));
    }
    if c.eat("LANGUAGE") {
        c.name()?;
    }
    Ok(Utility::Do)
}

fn parse_drop_index(c: &mut Cursor<'_>) -> Result<Utility, UtilityError> {
    let _ = c.eat_all(&["IF", "EXISTS"]);
    let mut names = vec![c.name()?];
    while c.eat_token(&Token::Comma) {
        names.push(c.name()?);
    }
    let _ = c.eat("CASCADE") || c.eat("RESTRICT");
    Ok(Utility::DropIndexConcurrently { names })
}

fn parse_cluster(c: &mut Cursor<'_>) -> Result<Utility, UtilityError> {
    c.skip_parenthesized()?;
    let _ = c.eat("VERBOSE");
    if c.at_end() {
        return Ok(Utility::Cluster { table: None });
    }
    let first = c.name()?;
    let table = if c.eat("USING") {
        c.name()?;
        first
    } else if c.eat("ON") {
        // The pre-8.3 form: CLUSTER index ON table.
        c.name()?
    } else {
        first
    };
    Ok(Utility::Cluster { table: Some(table) })
}

fn parse_reindex(c: &mut Cursor<'_>) -> Result<Utility, UtilityError> {
    c.skip_parenthesized()?;
    if !["INDEX", "TABLE", "SCHEMA", "DATABASE", "SYSTEM"].iter().any(|kind| c.eat(kind)) {
        return Err(c.error("INDEX, TABLE, SCHEMA, DATABASE or SYSTEM"));
    }
    let concurrently = c.eat("CONCURRENTLY");
    let target = if c.at_end() { None } else { Some(c.name()?) };
    Ok(Utility::Reindex { concurrently, target })
}

fn parse_sqlite_reindex(c: &mut Cursor<'_>) -> Result<Utility, UtilityError> {
    let target = if c.at_end() { None } else { Some(c.name()?) };
    Ok(Utility::Reindex { concurrently: false, target })
}

fn parse_vacuum(c: &mut Cursor<'_>) -> Result<Utility, UtilityError> {
    let mut full = false;
    if c.eat_token(&Token::LParen) {
        loop {
            let option = c.name()?;
            let value = c.eat_value();
            if option.eq_ignore_ascii_case("full") {
                full = value.is_none_or(|v| !matches!(v.to_ascii_lowercase().as_str(), "false" | "off" | "0"));
            }
            if c.eat_token(&Token::RParen) {
                break;
            }
            if !c.eat_token(&Token::Comma) {
                return Err(c.error("`,` or `)`"));
            }
        }
    } else {
        full = c.eat("FULL");
        for option in ["FREEZE", "VERBOSE", "ANALYZE", "ANALYSE"] {
            let _ = c.eat(option);
        }
    }
    while !c.at_end() {
        c.name()?;
        c.skip_parenthesized()?;
        if !c.eat_token(&Token::Comma) {
            break;
        }
    }
    Ok(Utility::Vacuum { full })
}

fn parse_sqlite_vacuum(c: &mut Cursor<'_>) -> Result<Utility, UtilityError> {
    if !c.at_end() && !c.peek_is("INTO") {
        c.name()?;
    }
    if c.eat("INTO") && !c.eat_string() {
        return Err(c.error("a file name string after INTO"));
    }
    Ok(Utility::Vacuum { full: false })
}

fn parse_refresh(c: &mut Cursor<'_>) -> Result<Utility, UtilityError> {
    let concurrently = c.eat("CONCURRENTLY");
    let name = c.name()?;
    if c.eat("WITH") {
        let _ = c.eat("NO");
        if !c.eat("DATA") {
            return Err(c.error("DATA"));
        }
    }
    Ok(Utility::RefreshMaterializedView { concurrently, name })
}

fn parse_pragma(c: &mut Cursor<'_>) -> Result<Utility, UtilityError> {
    let name = c.name()?;
    if c.eat_token(&Token::Eq) {
        if c.eat_value().is_none() {
            return Err(c.error("a pragma value"));
        }
    } else if c.eat_token(&Token::LParen) {
        if c.eat_value().is_none() {
            return Err(c.error("a pragma value"));
        }
        if !c.eat_token(&Token::RParen) {
            return Err(c.error("`)`"));
        }
    }
    Ok(Utility::Pragma { name })
}

/// Walks the significant (non-whitespace) tokens of one statement.
struct Cursor<'a> {
    tokens: Vec<&'a TokenWithSpan>,
    position: usize,
}

impl<'a> Cursor<'a> {
    fn new(tokens: &'a [TokenWithSpan]) -> Self {
        let tokens = tokens.iter().filter(|t| !matches!(t.token, Token::Whitespace(_) | Token::EOF)).collect();
        Cursor { tokens, position: 0 }
    }

    fn peek(&self) -> Option<&'a TokenWithSpan> {
        self.tokens.get(self.position).copied()
    }

    fn at_end(&self) -> bool {
        self.peek().is_none()
    }

    /// Whether the next token is the unquoted word `word` (case-insensitive).
    fn peek_is(&self, word: &str) -> bool {
        self.peek_at_is(self.position, word)
    }

    fn peek_at_is(&self, position: usize, word: &str) -> bool {
        matches!(self.tokens.get(position).map(|t| &t.token),
            Some(Token::Word(w)) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
    }

    fn eat(&mut self, word: &str) -> bool {
        let found = self.peek_is(word);
        if found {
            self.position += 1;
        }
        found
    }

    /// Consumes the words only if all of them follow, in order.
    fn eat_all(&mut self, words: &[&str]) -> bool {
        let found = words.iter().enumerate().all(|(i, word)| self.peek_at_is(self.position + i, word));
        if found {
            self.position += words.len();
        }
        found
    }

    fn eat_token(&mut self, token: &Token) -> bool {
        let found = self.peek().is_some_and(|t| &t.token == token);
        if found {
            self.position += 1;
        }
        found
    }

    fn eat_string(&mut self) -> bool {
        let found = matches!(
            self.peek().map(|t| &t.token),
            Some(
                Token::SingleQuotedString(_)
                    | Token::DollarQuotedString(_)
                    | Token::EscapedStringLiteral(_)
                    | Token::UnicodeStringLiteral(_)
            )
        );
        if found {
            self.position += 1;
        }
        found
    }

    /// A word, number or string, optionally signed; returns its text.
    fn eat_value(&mut self) -> Option<String> {
        let sign = if self.eat_token(&Token::Minus) {
            "-"
        } else {
            let _ = self.eat_token(&Token::Plus);
            ""
        };
        let value = match &self.peek()?.token {
            Token::Word(w) => w.value.clone(),
            Token::Number(n, _) => format!("{sign}{n}"),
            Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => s.clone(),
            _ => return None,
        };
        self.position += 1;
        Some(value)
    }

    /// A possibly qualified name: `word(.word)*`.
    fn name(&mut self) -> Result<String, UtilityError> {
        let mut parts = Vec::new();
        loop {
            match self.peek().map(|t| &t.token) {
                Some(Token::Word(w)) => {
                    parts.push(w.to_string());
                    self.position += 1;
                }
                _ => return Err(self.error("a name")),
            }
            if !self.eat_token(&Token::Period) {
                return Ok(parts.join("."));
            }
        }
    }

    /// Skips a balanced `( ... )` group if one follows.
    fn skip_parenthesized(&mut self) -> Result<(), UtilityError> {
        if !self.eat_token(&Token::LParen) {
            return Ok(());
        }
        let mut depth = 1_u32;
        while depth > 0 {
            match self.peek().map(|t| &t.token) {
                Some(Token::LParen) => depth += 1,
                Some(Token::RParen) => depth -= 1,
                Some(_) => {}
                None => return Err(self.error("`)`")),
            }
            self.position += 1;
        }
        Ok(())
    }

    fn expect_end(&self) -> Result<(), UtilityError> {
        if self.at_end() { Ok(()) } else { Err(self.error("end of statement")) }
    }

    fn error(&self, expected: &str) -> UtilityError {
        match self.peek() {
            Some(t) => {
                UtilityError { message: format!("expected {expected}, found {}", t.token), location: t.span.start }
            }
            None => UtilityError {
                message: format!("expected {expected}, found end of statement"),
                location: Location { line: 0, column: 0 },
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::tokenizer::Tokenizer;

    fn utility(sql: &str, dialect: Dialect) -> Option<Result<Utility, String>> {
        let tokens = Tokenizer::new(crate::lex::sql_dialect(dialect), sql).tokenize_with_location().unwrap();
        parse(&tokens, dialect).map(|r| r.map_err(|e| e.message))
    }

    #[test]
    fn reads_the_utility_statements() {
        use Dialect::{Postgres as Pg, Sqlite};
        let cluster = |t: &str| Utility::Cluster { table: Some(t.into()) };
        let cases: Vec<(&str, Dialect, Utility)> = vec![
            ("DO $$ BEGIN PERFORM 1; END $$", Pg, Utility::Do),
            ("DO LANGUAGE plpgsql $x$ BEGIN END $x$", Pg, Utility::Do),
            ("DO 'BEGIN END' LANGUAGE plpgsql", Pg, Utility::Do),
            (
                "DROP INDEX CONCURRENTLY IF EXISTS a, public.b CASCADE",
                Pg,
                Utility::DropIndexConcurrently { names: vec!["a".into(), "public.b".into()] },
            ),
            ("CLUSTER users USING users_pkey", Pg, cluster("users")),
            ("CLUSTER VERBOSE users", Pg, cluster("users")),
            ("CLUSTER users_pkey ON users", Pg, cluster("users")),
            ("CLUSTER", Pg, Utility::Cluster { table: None }),
            ("REINDEX INDEX CONCURRENTLY i", Pg, Utility::Reindex { concurrently: true, target: Some("i".into()) }),
            ("REINDEX (VERBOSE) TABLE t", Pg, Utility::Reindex { concurrently: false, target: Some("t".into()) }),
            ("REINDEX", Sqlite, Utility::Reindex { concurrently: false, target: None }),
            ("VACUUM FULL users", Pg, Utility::Vacuum { full: true }),
            ("VACUUM (FULL, ANALYZE) users (a), orders", Pg, Utility::Vacuum { full: true }),
            ("VACUUM (FULL false) users", Pg, Utility::Vacuum { full: false }),
            ("VACUUM ANALYZE users", Pg, Utility::Vacuum { full: false }),
            ("VACUUM", Sqlite, Utility::Vacuum { full: false }),
            ("VACUUM INTO 'backup.db'", Sqlite, Utility::Vacuum { full: false }),
            (
                "REFRESH MATERIALIZED VIEW CONCURRENTLY stats WITH DATA",
                Pg,
                Utility::RefreshMaterializedView { concurrently: true, name: "stats".into() },
            ),
            ("PRAGMA foreign_keys = OFF", Sqlite, Utility::Pragma { name: "foreign_keys".into() }),
            ("PRAGMA main.journal_mode=WAL", Sqlite, Utility::Pragma { name: "main.journal_mode".into() }),
            ("PRAGMA user_version = -3", Sqlite, Utility::Pragma { name: "user_version".into() }),
            ("PRAGMA table_info(users)", Sqlite, Utility::Pragma { name: "table_info".into() }),
        ];
        for (sql, dialect, expected) in cases {
            assert_eq!(utility(sql, dialect), Some(Ok(expected)), "reading {sql:?}");
        }
    }

    #[test]
    fn leaves_other_statements_to_sqlparser() {
        let cases = [
            ("DROP INDEX i", Dialect::Postgres),
            ("CREATE INDEX CONCURRENTLY i ON t (a)", Dialect::Postgres),
            ("PRAGMA foreign_keys = OFF", Dialect::Postgres),
            ("DO $$ $$", Dialect::Sqlite),
            ("SELECT 1", Dialect::Sqlite),
        ];
        for (sql, dialect) in cases {
            assert_eq!(utility(sql, dialect), None, "{sql:?} in {dialect}");
        }
    }

    #[test]
    fn rejects_malformed_utility_statements() {
        let cases = [
            ("DO", "expected the code of the DO block as a string, found end of statement"),
            ("DO $$ $$ extra", "expected end of statement, found extra"),
            ("DROP INDEX CONCURRENTLY", "expected a name, found end of statement"),
            ("REINDEX users", "expected INDEX, TABLE, SCHEMA, DATABASE or SYSTEM, found users"),
            ("VACUUM (FULL", "expected `,` or `)`, found end of statement"),
            ("REFRESH MATERIALIZED VIEW v WITH NO", "expected DATA, found end of statement"),
        ];
        for (sql, message) in cases {
            assert_eq!(utility(sql, Dialect::Postgres), Some(Err(message.to_owned())), "reading {sql:?}");
        }
        assert_eq!(
            utility("PRAGMA foreign_keys =", Dialect::Sqlite),
            Some(Err("expected a pragma value, found end of statement".to_owned()))
        );
    }
}
