//! What a revision's queries touch, read with PostgreSQL's own parser (`pg_query`): the tables and
//! columns each query reads and writes (INSERT, UPDATE, DELETE, MERGE, `INSERT ... ON CONFLICT`), the
//! functions and sequences it calls, and what the reading cannot see into (a `DO` block, a statement
//! that does not parse).
//!
//! Names resolve as PostgreSQL resolves them: an unqualified table is looked up in `public` (the
//! default `search_path`; `main` for SQLite) and otherwise in the one schema that has it, quoted names
//! keep their case, and `*` stands for every column the old schema had.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{Engine, Snapshot};

/// One of the old revision's queries: where it comes from (`src/users.rs:42` or a sqlx query name) and
/// its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OldQuery {
    pub name: String,
    pub sql: String,
}

impl OldQuery {
    pub fn new(name: impl Into<String>, sql: impl Into<String>) -> OldQuery {
        OldQuery { name: name.into(), sql: sql.into() }
    }
}

/// What one query touches. Table keys are qualified (`public.users`); the column `*` is every column.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct QueryUse {
    pub name: String,
    /// Tables and the columns of them the query names anywhere (select lists, conditions, returning).
    pub reads: BTreeMap<String, BTreeSet<String>>,
    pub writes: Vec<Write>,
    /// User functions it calls (qualified), as found in the old schema.
    pub functions: BTreeSet<String>,
    /// Sequences it calls `nextval`/`currval`/`setval` on (qualified).
    pub sequences: BTreeSet<String>,
    /// Why the query cannot be seen into, when it cannot: it then reaches everything.
    pub opaque: Option<String>,
}

/// One write of a query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Write {
    pub table: String,
    pub kind: WriteKind,
    /// The columns given a value (`*` for an insert without a column list).
    pub columns: BTreeSet<String>,
    /// Columns written with a literal NULL.
    pub nulls: BTreeSet<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteKind {
    Insert,
    Update,
    Delete,
}

impl Write {
    /// The write gives `column` a value explicitly.
    pub fn names(&self, column: &str) -> bool {
        self.columns.contains(column) || self.columns.contains("*")
    }
}

impl QueryUse {
    /// The query reads or writes `table` (and `column` of it, when given).
    pub fn touches(&self, table: &str, column: Option<&str>) -> bool {
        let read =
            self.reads.get(table).is_some_and(|cols| column.is_none_or(|c| cols.contains(c) || cols.contains("*")));
        read || self.writes.iter().any(|w| w.table == table && column.is_none_or(|c| w.names(c)))
    }
}

/// Reads `query` against the old schema `old` (which says where unqualified names live and which
/// columns `*` stands for).
pub fn read_query(query: &OldQuery, old: &Snapshot) -> QueryUse {
    let mut usage = QueryUse { name: query.name.clone(), ..QueryUse::default() };
    let tree = match pg_query::parse(&query.sql, pg_query::ParserOptions::DEFAULT) {
        Ok(parsed) => parsed,
        Err(error) => {
            usage.opaque = Some(format!("the query does not parse with PostgreSQL's parser ({error})"));
            return usage;
        }
    };
    let Ok(json) = serde_json::to_value(&tree.protobuf) else {
        usage.opaque = Some("the query's parse tree cannot be read".into());
        return usage;
    };
    let ctes: BTreeSet<String> = tree.cte_names.iter().cloned().collect();
    let mut reader = Reader { old, ctes, usage, relations: Vec::new(), columns: Vec::new() };
    if let Some(stmts) = json.get("stmts").and_then(Value::as_array) {
        for stmt in stmts {
            let Some(node) = stmt.get("stmt").and_then(|s| s.get("node")) else { continue };
            if let Some((kind, _)) = node.as_object().and_then(|o| o.iter().next()) {
                if !matches!(
                    kind.as_str(),
                    "SelectStmt" | "InsertStmt" | "UpdateStmt" | "DeleteStmt" | "MergeStmt" | "CallStmt"
                ) {
                    let what = if kind == "DoStmt" {
                        "a DO block, whose body is not analysed".to_owned()
                    } else {
                        format!("a {kind}, which the reading of queries does not follow")
                    };
                    reader.usage.opaque.get_or_insert(format!("the query is {what}"));
                }
            }
            reader.walk(node);
        }
    }
    reader.attribute();
    reader.usage
}

struct Reader<'a> {
    old: &'a Snapshot,
    ctes: BTreeSet<String>,
    usage: QueryUse,
    /// (key, alias or bare name) of every table the query names.
    relations: Vec<(String, String)>,
    /// Column references: qualifier (if any) and column (`*` for a star).
    columns: Vec<(Option<String>, String)>,
}

/// The `sval` strings of a list of `String` nodes, `*` for an `A_Star`.
fn names(list: Option<&Value>) -> Vec<String> {
    list.and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|item| {
                    let node = item.get("node")?;
                    if node.get("AStar").is_some() {
                        return Some("*".to_owned());
                    }
                    node.get("String")?.get("sval")?.as_str().map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The `ResTarget` names of a list (an INSERT's columns, an UPDATE's SET list).
fn target_names(list: Option<&Value>) -> BTreeSet<String> {
    list.and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.get("node")?.get("ResTarget")?.get("name")?.as_str().map(str::to_owned))
                .filter(|n| !n.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

impl Reader<'_> {
    fn default_schema(&self) -> &'static str {
        if self.old.engine == Engine::Sqlite { "main" } else { "public" }
    }

    /// The key of a table named `schema.name` or `name`, as PostgreSQL's search path finds it.
    fn resolve(&self, schema: &str, name: &str) -> String {
        if !schema.is_empty() {
            return format!("{schema}.{name}");
        }
        let default = format!("{}.{name}", self.default_schema());
        if self.old.tables.contains_key(&default) {
            return default;
        }
        let mut elsewhere = self.old.tables.keys().filter(|k| k.split_once('.').is_some_and(|(_, t)| t == name));
        match (elsewhere.next(), elsewhere.next()) {
            (Some(key), None) => key.clone(),
            _ => default,
        }
    }

    fn relation(&mut self, range: &Value) -> Option<String> {
        let name = range.get("relname")?.as_str()?;
        let schema = range.get("schemaname").and_then(Value::as_str).unwrap_or_default();
        if schema.is_empty() && self.ctes.contains(name) {
            return None;
        }
        let key = self.resolve(schema, name);
        let alias = range
            .get("alias")
            .and_then(|a| a.get("aliasname"))
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty())
            .unwrap_or(name);
        self.relations.push((key.clone(), alias.to_owned()));
        Some(key)
    }

    fn write(&mut self, table: Option<String>, kind: WriteKind, columns: BTreeSet<String>, nulls: BTreeSet<String>) {
        if let Some(table) = table {
            self.usage.writes.push(Write { table, kind, columns, nulls });
        }
    }

    fn walk(&mut self, value: &Value) {
        match value {
            Value::Array(items) => items.iter().for_each(|v| self.walk(v)),
            Value::Object(map) => {
                if map.contains_key("relname") && map.contains_key("schemaname") {
                    self.relation(value);
                    return;
                }
                for (key, inner) in map {
                    match key.as_str() {
                        "InsertStmt" => self.insert(inner),
                        "UpdateStmt" => {
                            let table = inner.get("relation").and_then(|r| self.relation(r));
                            let columns = target_names(inner.get("target_list"));
                            self.write(table, WriteKind::Update, columns, BTreeSet::new());
                        }
                        "DeleteStmt" => {
                            let table = inner.get("relation").and_then(|r| self.relation(r));
                            self.write(table, WriteKind::Delete, BTreeSet::new(), BTreeSet::new());
                        }
                        "MergeStmt" => self.merge(inner),
                        "ColumnRef" => {
                            let mut fields = names(inner.get("fields"));
                            if let Some(column) = fields.pop() {
                                let qualifier = (!fields.is_empty()).then(|| fields.join("."));
                                self.columns.push((qualifier, column));
                            }
                        }
                        "FuncCall" => self.call(inner),
                        _ => {}
                    }
                    self.walk_children(key, inner);
                }
            }
            _ => {}
        }
    }

    /// Walks below a node, except the relations already taken as write targets.
    fn walk_children(&mut self, key: &str, inner: &Value) {
        match (key, inner) {
            ("InsertStmt" | "UpdateStmt" | "DeleteStmt" | "MergeStmt", Value::Object(fields)) => {
                for (name, child) in fields {
                    if name != "relation" {
                        self.walk(child);
                    }
                }
            }
            _ => self.walk(inner),
        }
    }

    fn insert(&mut self, stmt: &Value) {
        let table = stmt.get("relation").and_then(|r| self.relation(r));
        let listed: Vec<String> = stmt
            .get("cols")
            .and_then(Value::as_array)
            .map(|cols| {
                cols.iter()
                    .filter_map(|c| c.get("node")?.get("ResTarget")?.get("name")?.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let mut columns: BTreeSet<String> = listed.iter().cloned().collect();
        if columns.is_empty() {
            columns.insert("*".into());
        }
        // Literal NULLs in a VALUES list, by position.
        let mut nulls = BTreeSet::new();
        let rows = stmt
            .get("select_stmt")
            .and_then(|s| s.get("node"))
            .and_then(|n| n.get("SelectStmt"))
            .and_then(|s| s.get("values_lists"))
            .and_then(Value::as_array);
        for row in rows.into_iter().flatten() {
            let items =
                row.get("node").and_then(|n| n.get("List")).and_then(|l| l.get("items")).and_then(Value::as_array);
            for (i, item) in items.into_iter().flatten().enumerate() {
                let null = item.get("node").and_then(|n| n.get("AConst")).and_then(|c| c.get("isnull"))
                    == Some(&Value::Bool(true));
                if null {
                    nulls.insert(listed.get(i).cloned().unwrap_or_else(|| format!("#{i}")));
                }
            }
        }
        self.write(table.clone(), WriteKind::Insert, columns, nulls);
        if let Some(conflict) = stmt.get("on_conflict_clause").filter(|c| !c.is_null()) {
            // OnconflictUpdate: the upsert also updates the rows it collides with.
            if conflict.get("action").and_then(Value::as_i64) == Some(3) {
                let columns = target_names(conflict.get("target_list"));
                self.write(table, WriteKind::Update, columns, BTreeSet::new());
            }
        }
    }

    fn merge(&mut self, stmt: &Value) {
        let table = stmt.get("relation").and_then(|r| self.relation(r));
        let clauses = stmt.get("merge_when_clauses").and_then(Value::as_array);
        for clause in clauses.into_iter().flatten() {
            let Some(clause) = clause.get("node").and_then(|n| n.get("MergeWhenClause")) else { continue };
            let columns = target_names(clause.get("target_list"));
            // CmdType: 3 update, 4 insert, 5 delete.
            let kind = match clause.get("command_type").and_then(Value::as_i64) {
                Some(3) => WriteKind::Update,
                Some(4) => WriteKind::Insert,
                Some(5) => WriteKind::Delete,
                _ => continue,
            };
            let columns = if kind == WriteKind::Insert && columns.is_empty() {
                BTreeSet::from(["*".to_owned()])
            } else {
                columns
            };
            self.write(table.clone(), kind, columns, BTreeSet::new());
        }
    }

    fn call(&mut self, call: &Value) {
        let name = names(call.get("funcname"));
        let (schema, function) = match name.as_slice() {
            [function] => (None, function.as_str()),
            [schema, function] => (Some(schema.as_str()), function.as_str()),
            _ => return,
        };
        if matches!(function, "nextval" | "currval" | "setval") && schema.is_none_or(|s| s == "pg_catalog") {
            let text = call.get("args").map(first_string).unwrap_or_default();
            if let Some(text) = text {
                let (schema, sequence) = text.split_once('.').unwrap_or(("", &text));
                let key = if schema.is_empty() {
                    format!("{}.{sequence}", self.default_schema())
                } else {
                    format!("{schema}.{sequence}")
                };
                self.usage.sequences.insert(key);
            }
            return;
        }
        let key = match schema {
            Some(schema) => format!("{schema}.{function}"),
            None => format!("{}.{function}", self.default_schema()),
        };
        if self.old.functions.contains_key(&key) {
            self.usage.functions.insert(key);
        }
    }

    /// Columns to tables: a qualified column to the table of its alias, an unqualified one to each of the
    /// query's tables that had it in the old schema (every one, when none had it).
    fn attribute(&mut self) {
        let tables: BTreeSet<String> = self.relations.iter().map(|(k, _)| k.clone()).collect();
        for table in &tables {
            self.usage.reads.entry(table.clone()).or_default();
        }
        for (qualifier, column) in std::mem::take(&mut self.columns) {
            let qualified: Vec<String> = match &qualifier {
                Some(q) => {
                    let last = q.rsplit('.').next().unwrap_or(q);
                    self.relations.iter().filter(|(k, a)| a == last || k == q).map(|(k, _)| k.clone()).collect()
                }
                None => Vec::new(),
            };
            // An unknown qualifier (`EXCLUDED`, a subquery's alias) is treated as no qualifier.
            let owners: Vec<String> = match qualified.is_empty() {
                false => qualified,
                true => {
                    let having: Vec<String> = tables
                        .iter()
                        .filter(|t| {
                            column == "*" || self.old.tables.get(*t).is_some_and(|t| t.columns.contains_key(&column))
                        })
                        .cloned()
                        .collect();
                    if having.is_empty() { tables.iter().cloned().collect() } else { having }
                }
            };
            for owner in owners {
                self.usage.reads.entry(owner).or_default().insert(column.clone());
            }
        }
    }
}

/// The first string constant below `value` (the sequence name of `nextval('users_id_seq')`).
fn first_string(value: &Value) -> Option<String> {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(s)) = map.get("sval") {
                return Some(s.clone());
            }
            map.values().find_map(first_string)
        }
        Value::Array(items) => items.iter().find_map(first_string),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Column, Table};

    fn old() -> Snapshot {
        let mut s = Snapshot::default();
        let mut users = Table::default();
        for c in ["id", "email", "name"] {
            users.columns.insert(c.into(), Column::new("text", true, None));
        }
        let mut orders = Table::default();
        for c in ["id", "user_id", "total"] {
            orders.columns.insert(c.into(), Column::new("text", true, None));
        }
        s.tables.insert("public.users".into(), users);
        s.tables.insert("public.orders".into(), orders);
        s.tables.insert("billing.invoices".into(), Table::default());
        s.tables.insert("public.Odd".into(), Table::default());
        s
    }

    fn summary(sql: &str) -> (Vec<String>, Vec<String>, Option<String>) {
        let u = read_query(&OldQuery::new("q", sql), &old());
        let reads =
            u.reads.iter().map(|(t, c)| format!("{t}({})", c.iter().cloned().collect::<Vec<_>>().join(","))).collect();
        let writes = u
            .writes
            .iter()
            .map(|w| format!("{:?} {}({})", w.kind, w.table, w.columns.iter().cloned().collect::<Vec<_>>().join(",")))
            .collect();
        (reads, writes, u.opaque.map(|o| o.split(',').next().unwrap_or_default().to_owned()))
    }

    #[test]
    fn reads_and_writes_are_found_with_names_resolved_as_postgres_does() {
        let cases: &[(&str, &[&str], &[&str])] = &[
            ("SELECT id, email FROM users WHERE name = $1", &["public.users(email,id,name)"], &[]),
            ("SELECT * FROM users", &["public.users(*)"], &[]),
            (
                "SELECT u.email, o.total FROM users u JOIN orders o ON o.user_id = u.id",
                &["public.orders(total,user_id)", "public.users(email,id)"],
                &[],
            ),
            (
                "INSERT INTO users (id, email) VALUES ($1, NULL)",
                &["public.users()"],
                &["Insert public.users(email,id)"],
            ),
            ("INSERT INTO users VALUES (1, 'a', 'b')", &["public.users()"], &["Insert public.users(*)"]),
            ("UPDATE users SET name = $1 WHERE id = $2", &["public.users(id)"], &["Update public.users(name)"]),
            ("DELETE FROM orders WHERE id = $1", &["public.orders(id)"], &["Delete public.orders()"]),
            ("DELETE FROM billing.invoices", &["billing.invoices()"], &["Delete billing.invoices()"]),
            ("INSERT INTO \"Odd\" DEFAULT VALUES", &["public.Odd()"], &["Insert public.Odd(*)"]),
            (
                "INSERT INTO users (id, email) VALUES (1, 'a') ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email",
                &["public.users(email)"],
                &["Insert public.users(email,id)", "Update public.users(email)"],
            ),
            (
                "MERGE INTO orders o USING users u ON o.user_id = u.id WHEN MATCHED THEN DELETE WHEN NOT MATCHED THEN INSERT (id, user_id) VALUES (u.id, u.id)",
                &["public.orders(user_id)", "public.users(id)"],
                &["Delete public.orders()", "Insert public.orders(id,user_id)"],
            ),
            (
                "WITH gone AS (DELETE FROM orders WHERE total IS NULL RETURNING user_id) SELECT count(*) FROM gone",
                &["public.orders(total,user_id)"],
                &["Delete public.orders()"],
            ),
        ];
        for (sql, reads, writes) in cases {
            let (r, w, opaque) = summary(sql);
            assert_eq!(r, *reads, "{sql}");
            assert_eq!(w, *writes, "{sql}");
            assert_eq!(opaque, None, "{sql}");
        }
    }

    #[test]
    fn what_cannot_be_read_is_opaque_with_a_reason() {
        let cases = [
            ("DO $$ BEGIN DELETE FROM users; END $$", "the query is a DO block"),
            (
                "SELEC id FROM users",
                "the query does not parse with PostgreSQL's parser (Invalid statement: syntax error at or near \"SELEC\")",
            ),
        ];
        for (sql, reason) in cases {
            assert_eq!(summary(sql).2.as_deref(), Some(reason), "{sql}");
        }
    }

    #[test]
    fn sequences_and_user_functions_are_found() {
        let mut snapshot = old();
        snapshot.functions.insert("public.price_of".into(), Vec::new());
        let u = read_query(
            &OldQuery::new(
                "q",
                "SELECT nextval('orders_id_seq'), price_of(1), lower('x'), nextval('billing.s'::regclass)",
            ),
            &snapshot,
        );
        assert_eq!(u.sequences.iter().map(String::as_str).collect::<Vec<_>>(), ["billing.s", "public.orders_id_seq"]);
        assert_eq!(u.functions.iter().map(String::as_str).collect::<Vec<_>>(), ["public.price_of"]);
    }
}
