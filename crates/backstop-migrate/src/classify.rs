//! Phase (expand, backfill, contract) and kind of each statement, and what the file has done so far.
//!
//! The rules, written down:
//! - expand: creating anything; `ADD COLUMN` that is nullable or has a default; `ADD CONSTRAINT`
//!   (locking is the rules' business) and `VALIDATE CONSTRAINT`; `SET DEFAULT`;
//!   `ALTER TYPE ... ADD VALUE`; `GRANT`; and harmless statements: transaction control, `SET`/`RESET`,
//!   `COMMENT ON`, `ANALYZE`, `VACUUM`, `CLUSTER`, `REINDEX`, `PRAGMA`, `LOCK`, plain `SELECT`.
//! - contract: every `DROP` (table, column, view, type, schema, function, index, trigger, constraint,
//!   default), every rename (table, column, constraint, index, type, enum value, schema), column type
//!   changes, `SET NOT NULL`, `DROP NOT NULL` (the previous code may read a NULL it never expected),
//!   `ADD COLUMN ... NOT NULL` without a default, `REVOKE`.
//! - backfill: `INSERT`, `UPDATE`, `DELETE`, `MERGE`, `COPY`, `TRUNCATE`, `REFRESH MATERIALIZED VIEW`,
//!   and queries with data-modifying CTEs.
//! - Statements that only touch a table created earlier in the same file are expand: no previous code
//!   can use that table yet.
//! - Anything backstop cannot see into (`DO` blocks, `CALL`, statements it has no rule for) is
//!   contract, the safe side, and the rules report it as `unanalyzed-statement`.

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;

use sqlparser::ast::{
    AlterColumnOperation, AlterSchemaOperation, AlterTableOperation, AlterTypeOperation, ColumnDef, ColumnOption, Expr,
    FromTable, ObjectName, ObjectType, Query, RenameTableNameKind, Reset, Set, SetExpr, Statement as Sql,
    TableConstraint, TableFactor, TableObject, TableWithJoins, Value, visit_statements,
};

use crate::lex::Parsed;
use crate::utility::Utility;
use crate::{Dialect, Phase};

/// The phase and kind of one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Classified {
    pub phase: Phase,
    pub kind: String,
    /// backstop has no rule for what this statement changes; it is contract to be safe.
    pub unanalyzed: bool,
}

impl Classified {
    pub(crate) fn new(phase: Phase, kind: impl Into<String>) -> Self {
        Classified { phase, kind: kind.into(), unanalyzed: false }
    }

    pub(crate) fn unanalyzed(kind: impl Into<String>) -> Self {
        Classified { phase: Phase::Contract, kind: kind.into(), unanalyzed: true }
    }
}

/// What the statements of a file so far have done, as far as later statements care.
#[derive(Debug)]
pub(crate) struct FileState {
    pub dialect: Dialect,
    /// Tables and views created in this file (normalised names): no previous code uses them.
    created_tables: HashSet<String>,
    created_indexes: HashSet<String>,
    /// `SET lock_timeout` to a non-zero value is in effect.
    pub lock_timeout: bool,
    /// `missing-lock-timeout` was already reported for this file.
    pub lock_timeout_reported: bool,
    /// Inside an explicit `BEGIN ... COMMIT`.
    pub in_transaction: bool,
    /// `CHECK (column IS NOT NULL) NOT VALID` constraints by name: (table, column).
    pending_not_null_checks: HashMap<String, (String, String)>,
    /// (table, column) pairs with a validated `CHECK (column IS NOT NULL)`.
    validated_not_null: HashSet<(String, String)>,
}

impl FileState {
    pub(crate) fn new(dialect: Dialect) -> Self {
        FileState {
            dialect,
            created_tables: HashSet::new(),
            created_indexes: HashSet::new(),
            lock_timeout: false,
            lock_timeout_reported: false,
            in_transaction: false,
            pending_not_null_checks: HashMap::new(),
            validated_not_null: HashSet::new(),
        }
    }

    /// Whether the table (or view) was created earlier in this file.
    pub(crate) fn is_new_table(&self, name: &ObjectName) -> bool {
        self.created_tables.contains(&key(name))
    }

    pub(crate) fn is_new_index(&self, name: &ObjectName) -> bool {
        self.created_indexes.contains(&key(name))
    }

    /// Whether the table (or view) with this normalised name was created earlier in this file.
    pub(crate) fn is_new_key(&self, key: &str) -> bool {
        self.created_tables.contains(key)
    }

    pub(crate) fn note_created_table(&mut self, key: String) {
        self.created_tables.insert(key);
    }

    /// [`Self::has_validated_not_null`] by normalised table name.
    pub(crate) fn has_validated_not_null_key(&self, table: &str, column: &str) -> bool {
        self.validated_not_null.contains(&(table.to_owned(), column.to_owned()))
    }

    /// Whether a validated `CHECK (column IS NOT NULL)` on the column exists, so `SET NOT NULL` needs no scan.
    pub(crate) fn has_validated_not_null(&self, table: &ObjectName, column: &str) -> bool {
        self.validated_not_null.contains(&(key(table), column.to_ascii_lowercase()))
    }

    /// Records what a statement did, after the rules have looked at it.
    pub(crate) fn observe(&mut self, parsed: &Parsed) {
        if takes_lock(parsed, self) && !self.lock_timeout {
            self.lock_timeout_reported = true;
        }
        let statement = match parsed {
            Parsed::Sql(statement) => statement,
            Parsed::Pg(node) => return crate::pg::observe(node, self),
            Parsed::Both(general, _) => return self.observe(general),
            Parsed::Utility(_) => return,
        };
        match statement.as_ref() {
            Sql::CreateTable(create) => {
                self.created_tables.insert(key(&create.name));
            }
            Sql::CreateView(view) => {
                self.created_tables.insert(key(&view.name));
            }
            Sql::CreateVirtualTable { name, .. } => {
                self.created_tables.insert(key(name));
            }
            Sql::CreateIndex(index) => {
                if let Some(name) = &index.name {
                    self.created_indexes.insert(key(name));
                }
            }
            Sql::AlterTable(alter) => self.observe_alter_table(&alter.name, &alter.operations),
            Sql::Set(Set::SingleAssignment { variable, values, .. }) if is_lock_timeout(variable) => {
                self.lock_timeout = values.first().is_some_and(timeout_is_set);
            }
            Sql::Reset(reset) => match &reset.reset {
                Reset::ALL => self.lock_timeout = false,
                Reset::ConfigurationParameter(name) if is_lock_timeout(name) => self.lock_timeout = false,
                _ => {}
            },
            Sql::StartTransaction { .. } => self.in_transaction = true,
            Sql::Commit { .. } | Sql::Rollback { savepoint: None, .. } => self.in_transaction = false,
            _ => {}
        }
    }

    fn observe_alter_table(&mut self, table: &ObjectName, operations: &[AlterTableOperation]) {
        for operation in operations {
            match operation {
                AlterTableOperation::RenameTable { table_name } if self.is_new_table(table) => {
                    let (RenameTableNameKind::As(renamed) | RenameTableNameKind::To(renamed)) = table_name;
                    self.created_tables.insert(key(renamed));
                }
                AlterTableOperation::AddConstraint { constraint: TableConstraint::Check(check), not_valid } => {
                    let Some(column) = not_null_check_column(&check.expr) else { continue };
                    let pair = (key(table), column);
                    match (&check.name, not_valid) {
                        (_, false) => {
                            self.validated_not_null.insert(pair);
                        }
                        (Some(name), true) => {
                            self.pending_not_null_checks.insert(name.value.to_ascii_lowercase(), pair);
                        }
                        (None, true) => {}
                    }
                }
                AlterTableOperation::ValidateConstraint { name } => {
                    if let Some(pair) = self.pending_not_null_checks.remove(&name.value.to_ascii_lowercase()) {
                        self.validated_not_null.insert(pair);
                    }
                }
                _ => {}
            }
        }
    }
}

/// A normalised object name for comparisons: unquoted parts lowercased, default schema dropped.
pub(crate) fn key(name: &ObjectName) -> String {
    let parts: Vec<String> = name
        .0
        .iter()
        .filter_map(|part| part.as_ident())
        .map(|ident| if ident.quote_style.is_some() { ident.value.clone() } else { ident.value.to_ascii_lowercase() })
        .collect();
    match parts.as_slice() {
        [schema, table] if schema == "public" || schema == "main" => table.clone(),
        _ => parts.join("."),
    }
}

fn is_lock_timeout(name: &ObjectName) -> bool {
    key(name) == "lock_timeout"
}

/// `SET lock_timeout = 0` (or `'0s'`, `DEFAULT`) turns the timeout off; any other value sets it.
fn timeout_is_set(value: &Expr) -> bool {
    let text = match value {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n.clone(),
            Value::SingleQuotedString(s) => s.clone(),
            _ => return true,
        },
        Expr::Identifier(ident) => ident.value.clone(),
        _ => return true,
    };
    let text = text.trim().to_ascii_lowercase();
    let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
    !(text == "default" || (!digits.is_empty() && digits.chars().all(|c| c == '0')))
}

/// The column of a `CHECK (column IS NOT NULL)` expression.
pub(crate) fn not_null_check_column(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Nested(inner) => not_null_check_column(inner),
        Expr::IsNotNull(inner) => match inner.as_ref() {
            Expr::Identifier(ident) => Some(ident.value.to_ascii_lowercase()),
            Expr::Nested(nested) => not_null_check_column(&Expr::IsNotNull(nested.clone())),
            _ => None,
        },
        _ => None,
    }
}

/// Whether a column type is one of PostgreSQL's serial pseudo-types (a sequence default).
pub(crate) fn is_serial(column: &ColumnDef) -> bool {
    let name = column.data_type.to_string().to_ascii_lowercase();
    matches!(name.as_str(), "serial" | "serial2" | "serial4" | "serial8" | "smallserial" | "bigserial")
}

/// Whether the column gets its values from somewhere: a default, a sequence, an identity, an expression.
fn has_default(column: &ColumnDef) -> bool {
    is_serial(column)
        || column.options.iter().any(|o| {
            matches!(o.option, ColumnOption::Default(_) | ColumnOption::Generated { .. } | ColumnOption::Identity(_))
        })
}

/// A column that rejects NULL (explicit `NOT NULL` or `PRIMARY KEY`) and has no default: every
/// existing row and every insert of the previous code would need a value for it.
pub(crate) fn not_null_without_default(column: &ColumnDef) -> bool {
    let not_null =
        column.options.iter().any(|o| matches!(o.option, ColumnOption::NotNull | ColumnOption::PrimaryKey(_)));
    not_null && !has_default(column)
}

pub(crate) fn classify(parsed: &Parsed, state: &FileState) -> Classified {
    match parsed {
        Parsed::Utility(utility) => classify_utility(utility),
        Parsed::Sql(statement) => classify_sql(statement, state),
        Parsed::Pg(node) => crate::pg::classify(node, state),
        Parsed::Both(general, _) => classify(general, state),
    }
}

fn classify_utility(utility: &Utility) -> Classified {
    match utility {
        Utility::Do => Classified::unanalyzed("do"),
        Utility::DropIndexConcurrently { .. } => Classified::new(Phase::Contract, "drop index"),
        Utility::Cluster { .. } => Classified::new(Phase::Expand, "cluster"),
        Utility::Reindex { .. } => Classified::new(Phase::Expand, "reindex"),
        Utility::Vacuum { .. } => Classified::new(Phase::Expand, "vacuum"),
        Utility::RefreshMaterializedView { .. } => Classified::new(Phase::Backfill, "refresh materialized view"),
        Utility::Pragma { .. } => Classified::new(Phase::Expand, "pragma"),
    }
}

fn classify_sql(statement: &Sql, state: &FileState) -> Classified {
    use Phase::{Backfill, Contract, Expand};
    let data_change = |kind: &str, table: Option<&ObjectName>| {
        let phase = if table.is_some_and(|t| state.is_new_table(t)) { Expand } else { Backfill };
        Classified::new(phase, kind)
    };
    match statement {
        Sql::CreateTable(create) => {
            Classified::new(Expand, if create.query.is_some() { "create table as" } else { "create table" })
        }
        Sql::CreateVirtualTable { .. } => Classified::new(Expand, "create virtual table"),
        Sql::CreateIndex(_) => Classified::new(Expand, "create index"),
        Sql::CreateView(view) => {
            Classified::new(Expand, if view.materialized { "create materialized view" } else { "create view" })
        }
        Sql::CreateFunction(_) => Classified::new(Expand, "create function"),
        Sql::CreateProcedure { .. } => Classified::new(Expand, "create procedure"),
        Sql::CreateTrigger(_) => Classified::new(Expand, "create trigger"),
        Sql::CreateType { .. } => Classified::new(Expand, "create type"),
        Sql::CreateDomain(_) => Classified::new(Expand, "create domain"),
        Sql::CreateExtension(_) => Classified::new(Expand, "create extension"),
        Sql::CreateSchema { .. } => Classified::new(Expand, "create schema"),
        Sql::CreateSequence { .. } => Classified::new(Expand, "create sequence"),
        Sql::CreatePolicy(_) => Classified::new(Expand, "create policy"),
        Sql::CreateRole(_) => Classified::new(Expand, "create role"),
        Sql::CreateCollation(_) => Classified::new(Expand, "create collation"),
        Sql::AlterTable(alter) => classify_alter_table(&alter.name, &alter.operations, state),
        Sql::AlterType(alter) => match &alter.operation {
            AlterTypeOperation::AddValue(_) => Classified::new(Expand, "alter type add value"),
            AlterTypeOperation::RenameValue(_) => Classified::new(Contract, "alter type rename value"),
            AlterTypeOperation::Rename(_) => Classified::new(Contract, "alter type rename"),
        },
        Sql::AlterIndex { .. } => Classified::new(Contract, "alter index rename"),
        Sql::AlterSchema(alter) => {
            if alter.operations.iter().any(|op| matches!(op, AlterSchemaOperation::Rename { .. })) {
                Classified::new(Contract, "alter schema rename")
            } else {
                Classified::new(Expand, "alter schema")
            }
        }
        Sql::Drop { object_type, names, .. } => {
            let new = match object_type {
                ObjectType::Table | ObjectType::View | ObjectType::MaterializedView => {
                    names.iter().all(|n| state.is_new_table(n))
                }
                ObjectType::Index => names.iter().all(|n| state.is_new_index(n)),
                _ => false,
            };
            Classified::new(
                if new { Expand } else { Contract },
                format!("drop {}", object_type.to_string().to_lowercase()),
            )
        }
        Sql::DropFunction(_) => Classified::new(Contract, "drop function"),
        Sql::DropProcedure { .. } => Classified::new(Contract, "drop procedure"),
        Sql::DropTrigger(_) => Classified::new(Contract, "drop trigger"),
        Sql::DropPolicy(_) => Classified::new(Contract, "drop policy"),
        Sql::DropDomain(_) => Classified::new(Contract, "drop domain"),
        Sql::DropExtension(_) => Classified::new(Contract, "drop extension"),
        Sql::Revoke(_) => Classified::new(Contract, "revoke"),
        Sql::Insert(insert) => {
            let table = match &insert.table {
                TableObject::TableName(name) => Some(name),
                _ => None,
            };
            data_change("insert", table)
        }
        Sql::Update(update) => data_change("update", table_name(&update.table)),
        Sql::Delete(delete) => {
            let tables = match &delete.from {
                FromTable::WithFromKeyword(tables) | FromTable::WithoutKeyword(tables) => tables,
            };
            data_change("delete", tables.first().and_then(table_name))
        }
        Sql::Merge(_) => Classified::new(Backfill, "merge"),
        Sql::Copy { .. } => Classified::new(Backfill, "copy"),
        Sql::Truncate(truncate) => {
            let new = truncate.table_names.iter().all(|t| state.is_new_table(&t.name));
            Classified::new(if new { Expand } else { Backfill }, "truncate")
        }
        Sql::Query(query) => {
            if modifies_data(query) {
                Classified::new(Backfill, "query with data-modifying cte")
            } else {
                Classified::new(Expand, "select")
            }
        }
        Sql::StartTransaction { .. } => Classified::new(Expand, "begin"),
        Sql::Commit { .. } => Classified::new(Expand, "commit"),
        Sql::Rollback { .. } => Classified::new(Expand, "rollback"),
        Sql::Savepoint { .. } => Classified::new(Expand, "savepoint"),
        Sql::ReleaseSavepoint { .. } => Classified::new(Expand, "release savepoint"),
        Sql::Set(_) => Classified::new(Expand, "set"),
        Sql::Reset(_) => Classified::new(Expand, "reset"),
        Sql::Comment { .. } => Classified::new(Expand, "comment on"),
        Sql::Grant(_) => Classified::new(Expand, "grant"),
        Sql::Analyze(_) => Classified::new(Expand, "analyze"),
        Sql::Lock(_) => Classified::new(Expand, "lock table"),
        Sql::Pragma { .. } => Classified::new(Expand, "pragma"),
        Sql::NOTIFY { .. } => Classified::new(Expand, "notify"),
        Sql::Call(_) => Classified::unanalyzed("call"),
        other => {
            let text = other.to_string();
            let words: Vec<&str> = text.split_whitespace().take(2).collect();
            Classified::unanalyzed(words.join(" ").to_lowercase())
        }
    }
}

fn table_name(table: &TableWithJoins) -> Option<&ObjectName> {
    match &table.relation {
        TableFactor::Table { name, .. } => Some(name),
        _ => None,
    }
}

/// Whether a query writes: a data-modifying CTE or an `INSERT`/`UPDATE`/`DELETE`/`MERGE` body.
fn modifies_data(query: &Query) -> bool {
    let body_writes = |body: &SetExpr| {
        matches!(body, SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_) | SetExpr::Merge(_))
    };
    if body_writes(&query.body) {
        return true;
    }
    let found = visit_statements(query, |statement| {
        if matches!(statement, Sql::Insert(_) | Sql::Update(_) | Sql::Delete(_) | Sql::Merge(_)) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    found.is_break()
}

fn classify_alter_table(table: &ObjectName, operations: &[AlterTableOperation], state: &FileState) -> Classified {
    let new = state.is_new_table(table);
    let mut phase = Phase::Expand;
    let mut kinds: Vec<&'static str> = Vec::new();
    let mut unanalyzed = false;
    for operation in operations {
        let (op_phase, kind) = match alter_table_operation(operation) {
            Some(found) => found,
            None => {
                unanalyzed = true;
                (Phase::Contract, "other")
            }
        };
        phase = phase.max(if new { Phase::Expand } else { op_phase });
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    Classified { phase, kind: format!("alter table {}", kinds.join(", ")), unanalyzed: unanalyzed && !new }
}

/// Phase and kind of one `ALTER TABLE` operation on an existing table, `None` when backstop has no rule.
fn alter_table_operation(operation: &AlterTableOperation) -> Option<(Phase, &'static str)> {
    use Phase::{Contract, Expand};
    Some(match operation {
        AlterTableOperation::AddColumn { column_def, .. } => {
            (if not_null_without_default(column_def) { Contract } else { Expand }, "add column")
        }
        AlterTableOperation::AddConstraint { .. } => (Expand, "add constraint"),
        AlterTableOperation::ValidateConstraint { .. } => (Expand, "validate constraint"),
        AlterTableOperation::DropConstraint { .. }
        | AlterTableOperation::DropPrimaryKey { .. }
        | AlterTableOperation::DropForeignKey { .. }
        | AlterTableOperation::DropIndex { .. } => (Contract, "drop constraint"),
        AlterTableOperation::DropColumn { .. } => (Contract, "drop column"),
        AlterTableOperation::RenameColumn { .. } => (Contract, "rename column"),
        AlterTableOperation::RenameTable { .. } => (Contract, "rename"),
        AlterTableOperation::RenameConstraint { .. } => (Contract, "rename constraint"),
        AlterTableOperation::ChangeColumn { .. } | AlterTableOperation::ModifyColumn { .. } => {
            (Contract, "alter column type")
        }
        AlterTableOperation::AlterColumn { op, .. } => match op {
            AlterColumnOperation::SetNotNull => (Contract, "alter column set not null"),
            AlterColumnOperation::DropNotNull => (Contract, "alter column drop not null"),
            AlterColumnOperation::SetDefault { .. } => (Expand, "alter column set default"),
            AlterColumnOperation::DropDefault => (Contract, "alter column drop default"),
            AlterColumnOperation::SetDataType { .. } => (Contract, "alter column type"),
            AlterColumnOperation::AddGenerated { .. } => (Expand, "alter column add identity"),
        },
        AlterTableOperation::EnableRowLevelSecurity
        | AlterTableOperation::DisableRowLevelSecurity
        | AlterTableOperation::ForceRowLevelSecurity
        | AlterTableOperation::NoForceRowLevelSecurity => (Expand, "row level security"),
        AlterTableOperation::EnableTrigger { .. }
        | AlterTableOperation::DisableTrigger { .. }
        | AlterTableOperation::EnableAlwaysTrigger { .. }
        | AlterTableOperation::EnableReplicaTrigger { .. } => (Expand, "enable or disable trigger"),
        AlterTableOperation::OwnerTo { .. } => (Expand, "owner to"),
        AlterTableOperation::SetOptionsParens { .. }
        | AlterTableOperation::SetTblProperties { .. }
        | AlterTableOperation::SetLogged
        | AlterTableOperation::SetUnlogged
        | AlterTableOperation::ReplicaIdentity { .. } => (Expand, "set storage"),
        _ => return None,
    })
}

/// Whether a PostgreSQL statement waits for a lock that blocks reads or writes of an existing table:
/// the statements that need `lock_timeout`.
pub(crate) fn takes_lock(parsed: &Parsed, state: &FileState) -> bool {
    if state.dialect != Dialect::Postgres {
        return false;
    }
    match parsed {
        Parsed::Sql(statement) => match statement.as_ref() {
            Sql::AlterTable(alter) => !state.is_new_table(&alter.name),
            Sql::CreateIndex(index) => !index.concurrently && !state.is_new_table(&index.table_name),
            Sql::Drop { object_type, names, .. } => match object_type {
                ObjectType::Table | ObjectType::View | ObjectType::MaterializedView => {
                    names.iter().any(|n| !state.is_new_table(n))
                }
                ObjectType::Index => names.iter().any(|n| !state.is_new_index(n)),
                _ => false,
            },
            Sql::CreateTrigger(trigger) => !state.is_new_table(&trigger.table_name),
            Sql::Truncate(truncate) => truncate.table_names.iter().any(|t| !state.is_new_table(&t.name)),
            Sql::DropTrigger(_) | Sql::Lock(_) | Sql::AlterIndex { .. } => true,
            _ => false,
        },
        Parsed::Pg(node) => crate::pg::takes_lock(node, state),
        Parsed::Both(general, _) => takes_lock(general, state),
        Parsed::Utility(utility) => match utility {
            Utility::Vacuum { full } => *full,
            Utility::Cluster { .. } => true,
            Utility::Reindex { concurrently, .. } | Utility::RefreshMaterializedView { concurrently, .. } => {
                !concurrently
            }
            Utility::Do | Utility::DropIndexConcurrently { .. } | Utility::Pragma { .. } => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use crate::{Dialect, Phase, analyze};

    /// (phase, kind) of each statement of `sql`.
    fn classify(sql: &str, dialect: Dialect) -> Vec<(Phase, String)> {
        let report = analyze("t.sql", sql, dialect).unwrap_or_else(|e| panic!("{e}"));
        report.statements.into_iter().map(|s| (s.phase, s.kind)).collect()
    }

    #[test]
    fn classifies_postgres_statements() {
        use Phase::{Backfill, Contract, Expand};
        let cases: &[(&str, Phase, &str)] = &[
            ("CREATE TABLE t (id bigint PRIMARY KEY)", Expand, "create table"),
            ("CREATE TABLE t AS SELECT * FROM u", Expand, "create table as"),
            ("CREATE INDEX CONCURRENTLY i ON users (email)", Expand, "create index"),
            ("CREATE OR REPLACE VIEW v AS SELECT 1", Expand, "create view"),
            ("CREATE MATERIALIZED VIEW v AS SELECT 1", Expand, "create materialized view"),
            ("CREATE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql", Expand, "create function"),
            ("CREATE TYPE mood AS ENUM ('a', 'b')", Expand, "create type"),
            ("CREATE EXTENSION IF NOT EXISTS pgcrypto", Expand, "create extension"),
            ("CREATE SCHEMA billing", Expand, "create schema"),
            ("CREATE SEQUENCE s", Expand, "create sequence"),
            ("ALTER TABLE users ADD COLUMN nickname text", Expand, "alter table add column"),
            ("ALTER TABLE users ADD COLUMN active boolean NOT NULL DEFAULT true", Expand, "alter table add column"),
            ("ALTER TABLE users ADD COLUMN id2 bigserial NOT NULL", Expand, "alter table add column"),
            ("ALTER TABLE users ADD COLUMN status text NOT NULL", Contract, "alter table add column"),
            ("ALTER TABLE users ADD COLUMN code int PRIMARY KEY", Contract, "alter table add column"),
            ("ALTER TABLE users ADD CONSTRAINT c CHECK (age > 0) NOT VALID", Expand, "alter table add constraint"),
            ("ALTER TABLE users VALIDATE CONSTRAINT c", Expand, "alter table validate constraint"),
            ("ALTER TABLE users DROP CONSTRAINT c", Contract, "alter table drop constraint"),
            ("ALTER TABLE users DROP COLUMN full_name", Contract, "alter table drop column"),
            ("ALTER TABLE users RENAME COLUMN full_name TO name", Contract, "alter table rename column"),
            ("ALTER TABLE users RENAME TO people", Contract, "alter table rename"),
            ("ALTER TABLE users ALTER COLUMN age TYPE bigint", Contract, "alter table alter column type"),
            ("ALTER TABLE users ALTER COLUMN name SET NOT NULL", Contract, "alter table alter column set not null"),
            ("ALTER TABLE users ALTER COLUMN name DROP NOT NULL", Contract, "alter table alter column drop not null"),
            ("ALTER TABLE users ALTER COLUMN name SET DEFAULT ''", Expand, "alter table alter column set default"),
            ("ALTER TABLE users ALTER COLUMN name DROP DEFAULT", Contract, "alter table alter column drop default"),
            ("ALTER TABLE users ENABLE ROW LEVEL SECURITY", Expand, "alter table row level security"),
            ("ALTER TABLE users ADD COLUMN a int, DROP COLUMN b", Contract, "alter table add column, drop column"),
            ("ALTER TYPE mood ADD VALUE 'c'", Expand, "alter type add value"),
            ("ALTER TYPE mood RENAME VALUE 'a' TO 'z'", Contract, "alter type rename value"),
            ("ALTER INDEX i RENAME TO j", Contract, "alter index rename"),
            ("DROP TABLE users", Contract, "drop table"),
            ("DROP VIEW IF EXISTS v", Contract, "drop view"),
            ("DROP TYPE mood", Contract, "drop type"),
            ("DROP SCHEMA billing CASCADE", Contract, "drop schema"),
            ("DROP FUNCTION f()", Contract, "drop function"),
            ("DROP INDEX i", Contract, "drop index"),
            ("DROP INDEX CONCURRENTLY IF EXISTS i", Contract, "drop index"),
            ("DROP TRIGGER t ON users", Contract, "drop trigger"),
            ("REVOKE SELECT ON users FROM app", Contract, "revoke"),
            ("INSERT INTO users (name) VALUES ('a')", Backfill, "insert"),
            ("INSERT INTO users (name) SELECT name FROM people", Backfill, "insert"),
            ("UPDATE users SET name = full_name WHERE name IS NULL", Backfill, "update"),
            ("DELETE FROM users WHERE id < 10", Backfill, "delete"),
            ("TRUNCATE users", Backfill, "truncate"),
            ("REFRESH MATERIALIZED VIEW CONCURRENTLY stats", Backfill, "refresh materialized view"),
            (
                "WITH gone AS (DELETE FROM a RETURNING *) INSERT INTO b SELECT * FROM gone",
                Backfill,
                "query with data-modifying cte",
            ),
            ("SELECT 1", Expand, "select"),
            ("BEGIN", Expand, "begin"),
            ("COMMIT", Expand, "commit"),
            ("SET lock_timeout = '2s'", Expand, "set"),
            ("RESET lock_timeout", Expand, "reset"),
            ("COMMENT ON COLUMN users.name IS 'display name'", Expand, "comment on"),
            ("GRANT SELECT ON users TO app", Expand, "grant"),
            ("ANALYZE users", Expand, "analyze"),
            ("VACUUM FULL users", Expand, "vacuum"),
            ("CLUSTER users USING users_pkey", Expand, "cluster"),
            ("REINDEX INDEX CONCURRENTLY i", Expand, "reindex"),
            ("DO $$ BEGIN DROP TABLE x; END $$", Contract, "do"),
            ("CALL cleanup()", Contract, "call"),
            // Only PostgreSQL's own parser reads these.
            ("ALTER SEQUENCE s RESTART WITH 10", Expand, "alter sequence"),
            ("ALTER SEQUENCE s AS integer", Contract, "alter sequence"),
            ("CREATE SEQUENCE s AS integer START 1", Expand, "create sequence"),
            ("CREATE STATISTICS s (dependencies) ON a, b FROM t", Expand, "create statistics"),
            ("CREATE FUNCTION f() RETURNS int LANGUAGE sql COST 100 AS 'SELECT 1'", Expand, "create function"),
            ("COMMENT ON FUNCTION f() IS 'x'", Expand, "comment on"),
            ("ALTER DOMAIN d ADD CONSTRAINT c CHECK (VALUE > 0) NOT VALID", Expand, "alter domain add constraint"),
            ("ALTER DOMAIN d DROP CONSTRAINT c", Contract, "alter domain drop constraint"),
            ("ALTER TABLE t SET SCHEMA archive", Contract, "alter table set schema"),
            ("ALTER TABLE t ATTACH PARTITION p FOR VALUES IN (1)", Expand, "alter table attach partition"),
            ("ALTER TABLE t DETACH PARTITION p", Contract, "alter table detach partition"),
            (
                "ALTER TABLE t ALTER CONSTRAINT c DEFERRABLE INITIALLY DEFERRED",
                Expand,
                "alter table alter constraint deferrable",
            ),
            ("ALTER TABLE t ALTER CONSTRAINT c NOT DEFERRABLE", Contract, "alter table alter constraint"),
            ("DO LANGUAGE 'plpgsql' $$ BEGIN PERFORM 1; END $$", Contract, "do"),
            ("ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO app", Expand, "alter default privileges"),
            ("ALTER FUNCTION f(int) RENAME TO g", Contract, "alter function rename"),
            ("ALTER POLICY p ON t USING (true)", Contract, "alter policy"),
            ("CREATE TABLE p2024 PARTITION OF events FOR VALUES FROM (1) TO (2)", Expand, "create table"),
        ];
        for (sql, phase, kind) in cases {
            assert_eq!(classify(sql, Dialect::Postgres), [(*phase, (*kind).to_owned())], "classifying {sql:?}");
        }
    }

    #[test]
    fn classifies_sqlite_statements() {
        use Phase::{Backfill, Contract, Expand};
        let cases: &[(&str, Phase, &str)] = &[
            ("CREATE TABLE t (id INTEGER PRIMARY KEY) STRICT", Expand, "create table"),
            ("ALTER TABLE users ADD COLUMN nickname TEXT", Expand, "alter table add column"),
            ("ALTER TABLE users ADD COLUMN status TEXT NOT NULL DEFAULT 'active'", Expand, "alter table add column"),
            ("ALTER TABLE users ADD COLUMN status TEXT NOT NULL", Contract, "alter table add column"),
            ("ALTER TABLE users RENAME COLUMN a TO b", Contract, "alter table rename column"),
            ("ALTER TABLE users RENAME TO people", Contract, "alter table rename"),
            ("ALTER TABLE users DROP COLUMN a", Contract, "alter table drop column"),
            ("DROP TABLE users", Contract, "drop table"),
            ("INSERT OR IGNORE INTO users VALUES (1)", Backfill, "insert"),
            ("PRAGMA foreign_keys = OFF", Expand, "pragma"),
            ("CREATE TRIGGER IF NOT EXISTS tr AFTER INSERT ON t BEGIN SELECT 1; END", Expand, "create trigger"),
            ("CREATE TEMP TRIGGER IF NOT EXISTS tr AFTER INSERT ON t BEGIN SELECT 1; END", Expand, "create trigger"),
            ("VACUUM", Expand, "vacuum"),
            ("BEGIN IMMEDIATE", Expand, "begin"),
        ];
        for (sql, phase, kind) in cases {
            assert_eq!(classify(sql, Dialect::Sqlite), [(*phase, (*kind).to_owned())], "classifying {sql:?}");
        }
    }

    #[test]
    fn statements_on_tables_created_in_the_same_file_are_expand() {
        use Phase::{Backfill, Contract, Expand};
        let sql = "CREATE TABLE staging (id int);
            ALTER TABLE staging ADD COLUMN code text NOT NULL;
            INSERT INTO staging VALUES (1, 'a');
            UPDATE staging SET code = 'b';
            ALTER TABLE staging RENAME TO final;
            ALTER TABLE final DROP COLUMN code;
            DROP TABLE final;
            UPDATE users SET code = 'c';
            DROP TABLE public.users";
        let phases: Vec<Phase> = classify(sql, Dialect::Postgres).into_iter().map(|(p, _)| p).collect();
        assert_eq!(phases, [Expand, Expand, Expand, Expand, Expand, Expand, Expand, Backfill, Contract]);
    }

    #[test]
    fn names_compare_case_insensitively_unless_quoted() {
        let sql = "CREATE TABLE Audit (id int); DROP TABLE audit; CREATE TABLE \"Log\" (id int); DROP TABLE log";
        let phases: Vec<Phase> = classify(sql, Dialect::Postgres).into_iter().map(|(p, _)| p).collect();
        assert_eq!(phases, [Phase::Expand, Phase::Expand, Phase::Expand, Phase::Contract]);
    }

    #[test]
    fn report_phase_is_the_most_restrictive_statement() {
        let cases: &[(&str, Option<Phase>)] = &[
            ("", None),
            ("CREATE TABLE t (a int)", Some(Phase::Expand)),
            ("CREATE TABLE t (a int); UPDATE u SET a = 1", Some(Phase::Backfill)),
            ("UPDATE u SET a = 1; DROP TABLE v; CREATE TABLE t (a int)", Some(Phase::Contract)),
        ];
        for (sql, phase) in cases {
            assert_eq!(analyze("t.sql", sql, Dialect::Postgres).unwrap().phase(), *phase, "phase of {sql:?}");
        }
    }
}
