//! The lint rules: backward compatibility with the previous code, and locks on existing tables.
//!
//! Locking rules apply to PostgreSQL only, and only to tables that existed before the file ran
//! (a table created earlier in the same file has no readers to block). Compatibility rules apply to
//! both dialects. Severity: error for what breaks the previous code or holds a long exclusive lock on
//! an existing table, warning for hygiene.

use std::ops::ControlFlow;

use serde::Serialize;
use sqlparser::ast::{
    AlterColumnOperation, AlterTableOperation, ColumnDef, ColumnOption, Expr, GeneratedAs, GeneratedExpressionMode,
    ObjectName, ObjectType, RenameTableNameKind, Statement as Sql, TableConstraint, visit_expressions,
};

use crate::classify::{Classified, FileState, is_serial, not_null_without_default, takes_lock};
use crate::lex::Parsed;
use crate::utility::Utility;
use crate::{Dialect, Severity};

/// A lint rule: its id, severity, the dialects it applies to, and what to do instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RuleInfo {
    pub id: &'static str,
    pub severity: Severity,
    pub dialects: &'static [Dialect],
    /// Why the rule exists, in one sentence.
    pub summary: &'static str,
    /// What to do instead; becomes every finding's `help`.
    pub help: &'static str,
}

const BOTH: &[Dialect] = &[Dialect::Postgres, Dialect::Sqlite];
const PG: &[Dialect] = &[Dialect::Postgres];

macro_rules! rules {
    ($($name:ident = $id:literal, $severity:ident, $dialects:expr, $summary:literal, $help:literal;)*) => {
        $(pub(crate) const $name: &RuleInfo = &RuleInfo {
            id: $id,
            severity: Severity::$severity,
            dialects: $dialects,
            summary: $summary,
            help: $help,
        };)*
        /// Every rule backstop knows, in the order they are documented.
        pub const RULES: &[RuleInfo] = &[$(*$name),*];
    };
}

rules! {
    NOT_NULL_WITHOUT_DEFAULT = "adding-not-null-column-without-default", Error, BOTH,
        "a NOT NULL column without a default makes the previous code's inserts fail (and fails on a non-empty table)",
        "add the column as nullable or with a DEFAULT in an expand migration, backfill it, and add NOT NULL in a later contract migration once no running code inserts without it";
    SETTING_NOT_NULL = "setting-not-null", Error, PG,
        "SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock, and the previous code may still insert NULL",
        "add `CHECK (column IS NOT NULL) NOT VALID`, run `VALIDATE CONSTRAINT` in a separate statement, then SET NOT NULL (PostgreSQL 12+ uses the validated check and skips the scan) and drop the check";
    INDEX_WITHOUT_CONCURRENTLY = "index-without-concurrently", Error, PG,
        "building, rebuilding or dropping an index without CONCURRENTLY blocks writes to the table until it is done",
        "use CREATE INDEX CONCURRENTLY, DROP INDEX CONCURRENTLY or REINDEX ... CONCURRENTLY, outside a transaction block";
    CONSTRAINT_WITHOUT_NOT_VALID = "constraint-without-not-valid", Error, PG,
        "adding a FOREIGN KEY or CHECK constraint checks every existing row while holding a lock that blocks writes",
        "add the constraint with NOT VALID, then run ALTER TABLE ... VALIDATE CONSTRAINT in a separate statement; validation takes a lock that lets reads and writes through";
    VOLATILE_DEFAULT = "volatile-default", Error, PG,
        "a volatile DEFAULT (random(), clock_timestamp(), gen_random_uuid(), ...) makes ADD COLUMN rewrite the whole table under an ACCESS EXCLUSIVE lock",
        "add the column without a default (constant and stable defaults such as now() are fine on PostgreSQL 11+), then SET DEFAULT for new rows and backfill existing rows in batches";
    CHANGING_COLUMN_TYPE = "changing-column-type", Error, BOTH,
        "changing a column's type rewrites the table under an ACCESS EXCLUSIVE lock (unless it only widens varchar(n) or turns it into text) and can break the previous code that reads or writes the column",
        "add a column with the new type, write both from the code, backfill, move reads over, and drop the old column in a later contract migration";
    MISSING_LOCK_TIMEOUT = "missing-lock-timeout", Warning, PG,
        "a DDL statement waiting for its lock queues every later query on the table behind it; without lock_timeout it can wait indefinitely",
        "start the migration with `SET lock_timeout = '5s';` and retry on timeout, so a blocked migration fails fast instead of stalling the application";
    NON_IDEMPOTENT_EXPAND = "non-idempotent-expand", Warning, BOTH,
        "a CREATE or ADD COLUMN that fails when it runs again leaves a half-applied migration that cannot simply be retried",
        "write CREATE TABLE IF NOT EXISTS, CREATE INDEX IF NOT EXISTS, ADD COLUMN IF NOT EXISTS (after a failed CREATE INDEX CONCURRENTLY, drop the invalid index first)";
    TRUNCATE_CASCADE = "truncate-cascade", Error, PG,
        "TRUNCATE ... CASCADE also empties every table that has a foreign key to this one",
        "name every table to truncate explicitly, or delete the rows in batches";
    VACUUM_FULL = "vacuum-full", Error, PG,
        "VACUUM FULL rewrites the table under an ACCESS EXCLUSIVE lock, blocking reads and writes until it is done",
        "use plain VACUUM, or pg_repack / pg_squeeze to reclaim space without the long lock";
    CLUSTER = "cluster", Error, PG,
        "CLUSTER rewrites the table under an ACCESS EXCLUSIVE lock, blocking reads and writes until it is done",
        "use pg_repack to reorder the table online, or leave the order to the planner and an index";
    RENAMING_COLUMN = "renaming-column", Error, BOTH,
        "renaming a column breaks the previous code, which still uses the old name",
        "expand and contract: add the new column, keep both in sync (trigger or dual writes), backfill, move the code to the new column, and drop the old one once the previous release is permanent";
    RENAMING_TABLE = "renaming-table", Error, BOTH,
        "renaming a table breaks the previous code, which still uses the old name",
        "create the new table (or a view under the new name), move the code over, and drop the old name once the previous release is permanent";
    DROPPING_COLUMN = "dropping-column", Error, BOTH,
        "dropping a column breaks the previous code if it still reads or writes it, and a rollback cannot bring the data back",
        "first ship code that no longer uses the column and mark that release permanent; then drop it in a contract migration and suppress this finding there with the reason";
    DROPPING_TABLE = "dropping-table", Error, BOTH,
        "dropping a table breaks the previous code if it still uses it, and a rollback cannot bring the data back",
        "first ship code that no longer uses the table and mark that release permanent; then drop it in a contract migration and suppress this finding there with the reason";
    ADDING_PRIMARY_KEY = "adding-primary-key-constraint", Error, PG,
        "adding a primary key builds its index while holding an ACCESS EXCLUSIVE lock on the table",
        "CREATE UNIQUE INDEX CONCURRENTLY first, then ALTER TABLE ... ADD CONSTRAINT ... PRIMARY KEY USING INDEX";
    ADDING_UNIQUE = "adding-unique-constraint", Error, PG,
        "adding a unique constraint builds its index while holding an ACCESS EXCLUSIVE lock on the table",
        "CREATE UNIQUE INDEX CONCURRENTLY first, then ALTER TABLE ... ADD CONSTRAINT ... UNIQUE USING INDEX";
    ADDING_SERIAL_COLUMN = "adding-serial-column", Error, PG,
        "adding a serial, identity or stored generated column fills every existing row, rewriting the table under an ACCESS EXCLUSIVE lock",
        "add a nullable column, give it a sequence default with SET DEFAULT nextval(...), and backfill existing rows in batches; or build a new table";
    CONCURRENT_IN_TRANSACTION = "ban-concurrent-index-in-transaction", Error, PG,
        "CREATE INDEX, DROP INDEX and REINDEX with CONCURRENTLY cannot run inside a transaction block, so the migration fails",
        "move the statement out of BEGIN ... COMMIT into its own migration, and tell the migration tool not to wrap that file in a transaction";
    DROPPING_OBJECT = "dropping-object", Error, BOTH,
        "dropping a view, type, function, sequence, domain, schema, trigger, policy or other object breaks the previous code if it still uses it",
        "first ship code that no longer uses the object and mark that release permanent; then drop it in a contract migration and suppress this finding there with the reason";
    RENAMING_OBJECT = "renaming-object", Error, BOTH,
        "renaming an object (constraint, index, type, enum value, view, function, sequence, schema) or moving it to another schema breaks the previous code, which still uses the old name",
        "create the object under its new name beside the old one (or a view or wrapper function), move the code over, and drop the old name once the previous release is permanent";
    DROPPING_DEFAULT = "dropping-default", Error, BOTH,
        "dropping a column's default (or identity) makes the previous code's inserts that leave the column out store NULL, or fail on a NOT NULL column",
        "drop the default only after every running release writes the column explicitly; ship it as a contract step";
    REVOKING_PRIVILEGES = "revoking-privileges", Error, PG,
        "revoking privileges makes the previous code's statements that use them fail with permission denied",
        "revoke only after every running release stops needing the privilege; ship it as a contract step";
    DETACHING_PARTITION = "detaching-partition", Error, PG,
        "detaching a partition hides its rows from the previous code's queries on the parent, and inserts routed to it fail",
        "detach only after the previous code no longer reads or writes those rows through the parent, with DETACH PARTITION ... CONCURRENTLY";
    ADDING_COLUMN_WITH_CONSTRAINT = "adding-column-with-constraint", Error, PG,
        "ADD COLUMN with an inline REFERENCES or CHECK takes a lock that blocks writes and checks every existing row",
        "add the column without the constraint, then ADD CONSTRAINT ... NOT VALID and VALIDATE CONSTRAINT in separate statements";
    ALTERING_SEQUENCE = "altering-sequence", Error, PG,
        "changing a sequence's type, bounds, increment or cycling can make the previous code's inserts fail or reuse ids",
        "create a new sequence with the new settings and switch the column's default to it, or widen only";
    UNANALYZED_STATEMENT = "unanalyzed-statement", Warning, BOTH,
        "backstop cannot see what this statement changes, so it treats it as contract",
        "write the change as plain DDL or DML statements backstop can classify, or ship it as a contract step";
    UNUSED_SUPPRESSION = "unused-suppression", Warning, BOTH,
        "a backstop:allow comment that suppresses nothing hides nothing today but will hide a future finding",
        "remove the comment, or put it directly above (or at the end of) the statement that raises the rule";
    MALFORMED_SUPPRESSION = "malformed-suppression", Warning, BOTH,
        "a backstop:allow comment must name one known rule and give a reason; a malformed one suppresses nothing",
        "write `-- backstop:allow RULE-ID reason`, with a rule id from backstop's rule list and a reason for the next reader";
}

/// Looks a rule up by id.
pub fn rule(id: &str) -> Option<&'static RuleInfo> {
    RULES.iter().find(|r| r.id == id)
}

/// A rule that fires on a statement, before suppression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hit {
    pub rule: &'static RuleInfo,
    pub message: String,
}

/// The findings of one statement, given what the file did before it.
pub(crate) fn check(parsed: &Parsed, classified: &Classified, state: &FileState) -> Vec<Hit> {
    if let Parsed::Both(general, _) = parsed {
        return check(general, classified, state);
    }
    let mut hits = Vec::new();
    let mut hit = |rule: &'static RuleInfo, message: String| {
        if rule.dialects.contains(&state.dialect) {
            hits.push(Hit { rule, message });
        }
    };
    if takes_lock(parsed, state) && !state.lock_timeout && !state.lock_timeout_reported {
        hit(MISSING_LOCK_TIMEOUT, "this statement waits for a lock on an existing table without a lock_timeout".into());
    }
    if classified.unanalyzed {
        hit(UNANALYZED_STATEMENT, format!("backstop cannot analyse `{}`; it is treated as contract", classified.kind));
    }
    match parsed {
        Parsed::Utility(utility) => check_utility(utility, state, &mut hit),
        Parsed::Sql(statement) => check_sql(statement, state, &mut hit),
        Parsed::Pg(node) => crate::pg::check(node, state, &mut hit),
        Parsed::Both(..) => {}
    }
    hits
}

fn check_utility(utility: &Utility, state: &FileState, hit: &mut impl FnMut(&'static RuleInfo, String)) {
    match utility {
        Utility::DropIndexConcurrently { names } if state.in_transaction => {
            hit(
                CONCURRENT_IN_TRANSACTION,
                format!("DROP INDEX CONCURRENTLY {} runs inside BEGIN ... COMMIT", names.join(", ")),
            );
        }
        Utility::Reindex { concurrently: true, target } if state.in_transaction => {
            hit(
                CONCURRENT_IN_TRANSACTION,
                format!(
                    "REINDEX CONCURRENTLY{} runs inside BEGIN ... COMMIT",
                    target.as_deref().map(|t| format!(" {t}")).unwrap_or_default()
                ),
            );
        }
        Utility::Reindex { concurrently: false, target } => {
            let target = target.as_deref().map(|t| format!(" {t}")).unwrap_or_default();
            hit(
                INDEX_WITHOUT_CONCURRENTLY,
                format!("REINDEX{target} without CONCURRENTLY blocks writes while it rebuilds"),
            );
        }
        Utility::Vacuum { full: true } => {
            hit(VACUUM_FULL, "VACUUM FULL rewrites the table under an ACCESS EXCLUSIVE lock".into())
        }
        Utility::Cluster { table } => {
            let table = table.as_deref().map(|t| format!(" `{t}`")).unwrap_or_default();
            hit(CLUSTER, format!("CLUSTER rewrites table{table} under an ACCESS EXCLUSIVE lock"));
        }
        _ => {}
    }
}

fn check_sql(statement: &Sql, state: &FileState, hit: &mut impl FnMut(&'static RuleInfo, String)) {
    match statement {
        Sql::CreateTable(create) if !create.if_not_exists && !create.temporary => {
            hit(
                NON_IDEMPOTENT_EXPAND,
                format!("CREATE TABLE {} fails if it runs again; it has no IF NOT EXISTS", create.name),
            );
        }
        Sql::CreateIndex(index) => {
            let name = index.name.as_ref().map(|n| format!(" {n}")).unwrap_or_default();
            if !index.concurrently && !state.is_new_table(&index.table_name) {
                hit(
                    INDEX_WITHOUT_CONCURRENTLY,
                    format!(
                        "CREATE INDEX{name} on existing table `{}` without CONCURRENTLY blocks writes while it builds",
                        index.table_name
                    ),
                );
            }
            if index.concurrently && state.in_transaction {
                hit(CONCURRENT_IN_TRANSACTION, format!("CREATE INDEX CONCURRENTLY{name} runs inside BEGIN ... COMMIT"));
            }
            if !index.if_not_exists {
                hit(
                    NON_IDEMPOTENT_EXPAND,
                    format!("CREATE INDEX{name} fails if it runs again; it has no IF NOT EXISTS"),
                );
            }
        }
        Sql::AlterTable(alter) => {
            for operation in &alter.operations {
                check_alter_table(&alter.name, operation, state, hit);
            }
        }
        Sql::Drop { object_type: ObjectType::Table, names, .. } => {
            let existing = existing(names, |n| state.is_new_table(n));
            if !existing.is_empty() {
                hit(DROPPING_TABLE, format!("dropping table {existing}"));
            }
        }
        Sql::Drop { object_type: ObjectType::Index, names, .. } => {
            let existing = existing(names, |n| state.is_new_index(n));
            if !existing.is_empty() {
                hit(
                    INDEX_WITHOUT_CONCURRENTLY,
                    format!("DROP INDEX {existing} without CONCURRENTLY blocks reads and writes of its table"),
                );
            }
        }
        Sql::Drop { object_type: ObjectType::View | ObjectType::MaterializedView, names, .. } => {
            let existing = existing(names, |n| state.is_new_table(n));
            if !existing.is_empty() {
                hit(DROPPING_OBJECT, format!("dropping view {existing}"));
            }
        }
        Sql::Drop { object_type, names, .. } => {
            let names = existing(names, |_| false);
            hit(DROPPING_OBJECT, format!("dropping {} {names}", object_type.to_string().to_lowercase()));
        }
        Sql::DropFunction(_)
        | Sql::DropProcedure { .. }
        | Sql::DropTrigger(_)
        | Sql::DropPolicy(_)
        | Sql::DropDomain(_)
        | Sql::DropExtension(_) => {
            let text = statement.to_string();
            let words: Vec<&str> = text.split_whitespace().take(2).collect();
            hit(DROPPING_OBJECT, format!("`{}` drops an object the previous code may use", words.join(" ")));
        }
        Sql::Revoke(_) => {
            hit(REVOKING_PRIVILEGES, "REVOKE takes away privileges the previous code may use".into());
        }
        Sql::AlterIndex { name, .. } => hit(RENAMING_OBJECT, format!("renaming index `{name}`")),
        Sql::AlterType(alter) => match &alter.operation {
            sqlparser::ast::AlterTypeOperation::Rename(_) => {
                hit(RENAMING_OBJECT, format!("renaming type `{}`", alter.name))
            }
            sqlparser::ast::AlterTypeOperation::RenameValue(_) => {
                hit(RENAMING_OBJECT, format!("renaming a value of enum `{}`", alter.name))
            }
            sqlparser::ast::AlterTypeOperation::AddValue(_) => {}
        },
        Sql::AlterSchema(alter)
            if alter.operations.iter().any(|op| matches!(op, sqlparser::ast::AlterSchemaOperation::Rename { .. })) =>
        {
            hit(RENAMING_OBJECT, format!("renaming schema `{}`", alter.name))
        }
        Sql::Truncate(truncate) if truncate.cascade == Some(sqlparser::ast::CascadeOption::Cascade) => {
            let names: Vec<String> = truncate.table_names.iter().map(|t| format!("`{}`", t.name)).collect();
            hit(
                TRUNCATE_CASCADE,
                format!("TRUNCATE {} CASCADE also empties every table referencing it", names.join(", ")),
            );
        }
        _ => {}
    }
}

/// The names that existed before this file, as "`a`, `b`", or empty.
fn existing(names: &[ObjectName], is_new: impl Fn(&ObjectName) -> bool) -> String {
    names.iter().filter(|n| !is_new(n)).map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

fn check_alter_table(
    table: &ObjectName,
    operation: &AlterTableOperation,
    state: &FileState,
    hit: &mut impl FnMut(&'static RuleInfo, String),
) {
    // IF NOT EXISTS on ADD COLUMN is PostgreSQL only; SQLite has no way to write it.
    if let AlterTableOperation::AddColumn { if_not_exists: false, column_def, .. } = operation {
        if state.dialect == Dialect::Postgres {
            hit(
                NON_IDEMPOTENT_EXPAND,
                format!("ADD COLUMN {} fails if it runs again; it has no IF NOT EXISTS", column_def.name),
            );
        }
    }
    if state.is_new_table(table) {
        return;
    }
    match operation {
        AlterTableOperation::AddColumn { column_def, .. } => check_add_column(table, column_def, hit),
        AlterTableOperation::AddConstraint { constraint, not_valid } => match constraint {
            TableConstraint::ForeignKey(fk) if !not_valid => hit(
                CONSTRAINT_WITHOUT_NOT_VALID,
                format!(
                    "FOREIGN KEY{} on existing table `{table}` is checked against every row while writes wait",
                    fk.name.as_ref().map(|n| format!(" {n}")).unwrap_or_default()
                ),
            ),
            TableConstraint::Check(check) if !not_valid => hit(
                CONSTRAINT_WITHOUT_NOT_VALID,
                format!(
                    "CHECK{} on existing table `{table}` is checked against every row while writes wait",
                    check.name.as_ref().map(|n| format!(" {n}")).unwrap_or_default()
                ),
            ),
            TableConstraint::PrimaryKey(_) => {
                hit(
                    ADDING_PRIMARY_KEY,
                    format!(
                        "ADD PRIMARY KEY on existing table `{table}` builds its index under an ACCESS EXCLUSIVE lock"
                    ),
                );
            }
            TableConstraint::Unique(_) => {
                hit(
                    ADDING_UNIQUE,
                    format!("ADD UNIQUE on existing table `{table}` builds its index under an ACCESS EXCLUSIVE lock"),
                );
            }
            _ => {}
        },
        AlterTableOperation::DropColumn { column_names, .. } => {
            let names: Vec<String> = column_names.iter().map(|c| format!("`{c}`")).collect();
            hit(DROPPING_COLUMN, format!("dropping column {} of `{table}`", names.join(", ")));
        }
        AlterTableOperation::RenameColumn { old_column_name, new_column_name } => {
            hit(RENAMING_COLUMN, format!("renaming column `{old_column_name}` of `{table}` to `{new_column_name}`"));
        }
        AlterTableOperation::RenameTable { table_name } => {
            let (RenameTableNameKind::As(new_name) | RenameTableNameKind::To(new_name)) = table_name;
            hit(RENAMING_TABLE, format!("renaming table `{table}` to `{new_name}`"));
        }
        AlterTableOperation::AlterColumn { column_name, op: AlterColumnOperation::SetNotNull }
            if !state.has_validated_not_null(table, &column_name.value) =>
        {
            hit(
                SETTING_NOT_NULL,
                format!("SET NOT NULL on `{table}`.`{column_name}` scans the table under an ACCESS EXCLUSIVE lock"),
            );
        }
        AlterTableOperation::AlterColumn { column_name, op: AlterColumnOperation::SetDataType { data_type, .. } } => {
            hit(CHANGING_COLUMN_TYPE, format!("changing the type of `{table}`.`{column_name}` to {data_type}"));
        }
        AlterTableOperation::ChangeColumn { old_name: column_name, data_type, .. }
        | AlterTableOperation::ModifyColumn { col_name: column_name, data_type, .. } => {
            hit(CHANGING_COLUMN_TYPE, format!("changing the type of `{table}`.`{column_name}` to {data_type}"));
        }
        AlterTableOperation::AlterColumn { column_name, op: AlterColumnOperation::DropDefault } => {
            hit(DROPPING_DEFAULT, format!("dropping the default of column `{column_name}` of `{table}`"));
        }
        AlterTableOperation::RenameConstraint { old_name, new_name } => {
            hit(RENAMING_OBJECT, format!("renaming constraint `{old_name}` of `{table}` to `{new_name}`"));
        }
        _ => {}
    }
}

fn check_add_column(table: &ObjectName, column: &ColumnDef, hit: &mut impl FnMut(&'static RuleInfo, String)) {
    let name = &column.name;
    if not_null_without_default(column) {
        hit(
            NOT_NULL_WITHOUT_DEFAULT,
            format!("column `{name}` is added to existing table `{table}` as NOT NULL without a default"),
        );
    }
    if let Some(function) = column.options.iter().find_map(|o| match &o.option {
        ColumnOption::Default(expr) => volatile_call(expr),
        _ => None,
    }) {
        hit(
            VOLATILE_DEFAULT,
            format!("column `{name}` of `{table}` gets the volatile default {function}(), which rewrites the table"),
        );
    }
    if rewrites_for_values(column) {
        hit(
            ADDING_SERIAL_COLUMN,
            format!("column `{name}` ({}) fills every existing row of `{table}`, rewriting it", column.data_type),
        );
    }
    for option in &column.options {
        match &option.option {
            ColumnOption::ForeignKey(_) | ColumnOption::Check(_) => {
                let what = if matches!(option.option, ColumnOption::Check(_)) { "CHECK" } else { "REFERENCES" };
                hit(
                    ADDING_COLUMN_WITH_CONSTRAINT,
                    format!("column `{name}` is added to existing table `{table}` with an inline {what}"),
                );
            }
            ColumnOption::PrimaryKey(_) => {
                hit(
                    ADDING_PRIMARY_KEY,
                    format!(
                        "column `{name}` is added as PRIMARY KEY of existing table `{table}`, building its index under an ACCESS EXCLUSIVE lock"
                    ),
                );
            }
            ColumnOption::Unique(_) => {
                hit(
                    ADDING_UNIQUE,
                    format!(
                        "column `{name}` is added as UNIQUE to existing table `{table}`, building its index under an ACCESS EXCLUSIVE lock"
                    ),
                );
            }
            _ => {}
        }
    }
}

/// Serial, identity and stored generated columns compute a value for every existing row.
fn rewrites_for_values(column: &ColumnDef) -> bool {
    is_serial(column)
        || column.options.iter().any(|o| match &o.option {
            ColumnOption::Generated { generated_as, generation_expr, generation_expr_mode, .. } => {
                generation_expr.is_none()
                    || *generated_as == GeneratedAs::ExpStored
                    || *generation_expr_mode == Some(GeneratedExpressionMode::Stored)
            }
            ColumnOption::Identity(_) => true,
            _ => false,
        })
}

/// PostgreSQL functions marked VOLATILE that people put in column defaults.
const VOLATILE_FUNCTIONS: &[&str] = &[
    "random",
    "clock_timestamp",
    "timeofday",
    "gen_random_uuid",
    "uuid_generate_v1",
    "uuid_generate_v1mc",
    "uuid_generate_v4",
    "uuidv4",
    "uuidv7",
    "nextval",
    "txid_current",
    "random_normal",
];

/// Built-in functions known to be immutable or stable, so a default calling them is evaluated once
/// when the column is added (PostgreSQL 11+) and does not rewrite the table. Any other function, a
/// user's own in particular, is volatile unless declared otherwise, so it is flagged.
const STABLE_FUNCTIONS: &[&str] = &[
    "now",
    "current_timestamp",
    "current_date",
    "current_time",
    "localtimestamp",
    "localtime",
    "transaction_timestamp",
    "statement_timestamp",
    "current_user",
    "session_user",
    "current_role",
    "current_schema",
    "current_setting",
    "lower",
    "upper",
    "trim",
    "btrim",
    "ltrim",
    "rtrim",
    "concat",
    "concat_ws",
    "replace",
    "substr",
    "substring",
    "length",
    "left",
    "right",
    "format",
    "md5",
    "coalesce",
    "nullif",
    "greatest",
    "least",
    "abs",
    "round",
    "floor",
    "ceil",
    "to_char",
    "to_date",
    "to_timestamp",
    "to_number",
    "date_trunc",
    "date_part",
    "make_interval",
    "make_date",
    "timezone",
    "jsonb_build_object",
    "json_build_object",
    "jsonb_build_array",
    "json_build_array",
    "to_jsonb",
    "to_json",
    "array_fill",
    "int4range",
    "int8range",
    "tstzrange",
    "daterange",
    "numrange",
    "inet",
    "cidr",
];

/// Whether `name` (possibly schema-qualified) is a built-in known not to be volatile.
pub(crate) fn is_known_stable_function(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let bare = lower.strip_prefix("pg_catalog.").unwrap_or(&lower);
    !bare.contains('.') && STABLE_FUNCTIONS.contains(&bare) && !VOLATILE_FUNCTIONS.contains(&bare)
}

/// The first function called anywhere in a default expression that may be volatile: a known
/// volatile built-in, or any function not known to be immutable or stable.
fn volatile_call(expr: &Expr) -> Option<String> {
    let found = visit_expressions(expr, |e| {
        let name = match e {
            Expr::Function(function) => Some(
                function
                    .name
                    .0
                    .iter()
                    .filter_map(|p| p.as_ident())
                    .map(|i| if i.quote_style.is_some() { i.value.clone() } else { i.value.to_ascii_lowercase() })
                    .collect::<Vec<_>>()
                    .join("."),
            ),
            _ => None,
        };
        match name {
            Some(name) if !is_known_stable_function(&name) => ControlFlow::Break(name),
            _ => ControlFlow::Continue(()),
        }
    });
    match found {
        ControlFlow::Break(name) => Some(name),
        ControlFlow::Continue(()) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze;

    /// Rule ids that fire on the last statement of `sql`.
    fn fired(sql: &str, dialect: Dialect) -> Vec<&'static str> {
        let report = analyze("t.sql", sql, dialect).unwrap_or_else(|e| panic!("{e}"));
        let last = report.statements.last().expect("a statement").span.clone();
        report.findings.iter().filter(|f| f.span == last).map(|f| f.rule).collect()
    }

    /// (rule, sql, fires): `sql`'s last statement raises `rule` or does not. Every case starts with
    /// `SET lock_timeout` unless it is about the timeout, so only the rule under test shows.
    const POSTGRES_CASES: &[(&str, &str, bool)] = &[
        ("dropping-object", "DROP VIEW IF EXISTS active_users", true),
        ("dropping-object", "DROP TYPE mood", true),
        ("dropping-object", "DROP FUNCTION IF EXISTS f(int)", true),
        ("dropping-object", "DROP SEQUENCE order_seq", true),
        ("dropping-object", "DROP DOMAIN email", true),
        ("dropping-object", "DROP TRIGGER t ON users", true),
        ("dropping-object", "DROP POLICY p ON users", true),
        ("dropping-object", "DROP STATISTICS IF EXISTS s", false),
        ("dropping-object", "CREATE VIEW v AS SELECT 1; DROP VIEW v", false),
        ("renaming-object", "ALTER INDEX i RENAME TO j", true),
        ("renaming-object", "ALTER TYPE mood RENAME VALUE 'a' TO 'z'", true),
        ("renaming-object", "ALTER TABLE users RENAME CONSTRAINT c TO d", true),
        ("renaming-object", "ALTER TABLE users SET SCHEMA archive", true),
        ("renaming-object", "ALTER SEQUENCE s RENAME TO t", true),
        ("renaming-object", "ALTER VIEW v RENAME TO w", true),
        ("renaming-object", "ALTER FUNCTION f(int) RENAME TO g", true),
        ("renaming-object", "ALTER TYPE mood ADD VALUE 'c'", false),
        ("dropping-default", "ALTER TABLE users ALTER COLUMN status DROP DEFAULT", true),
        ("dropping-default", "ALTER TABLE users ALTER COLUMN status SET DEFAULT 'a'", false),
        ("revoking-privileges", "REVOKE SELECT ON users FROM app", true),
        ("revoking-privileges", "REVOKE app_reader FROM app", true),
        ("revoking-privileges", "GRANT SELECT ON users TO app", false),
        ("detaching-partition", "ALTER TABLE events DETACH PARTITION events_2020", true),
        ("detaching-partition", "ALTER TABLE events DETACH PARTITION events_2020 CONCURRENTLY", true),
        (
            "detaching-partition",
            "ALTER TABLE events ATTACH PARTITION events_2030 FOR VALUES FROM ('2030-01-01') TO ('2031-01-01')",
            false,
        ),
        (
            "adding-column-with-constraint",
            "ALTER TABLE orders ADD COLUMN IF NOT EXISTS user_id bigint REFERENCES users (id)",
            true,
        ),
        ("adding-column-with-constraint", "ALTER TABLE orders ADD COLUMN IF NOT EXISTS qty int CHECK (qty > 0)", true),
        ("adding-column-with-constraint", "ALTER TABLE orders ADD COLUMN IF NOT EXISTS user_id bigint", false),
        (
            "adding-column-with-constraint",
            "CREATE TABLE IF NOT EXISTS o (id int); ALTER TABLE o ADD COLUMN IF NOT EXISTS u bigint REFERENCES users (id)",
            false,
        ),
        ("altering-sequence", "ALTER SEQUENCE order_seq AS integer", true),
        ("altering-sequence", "ALTER SEQUENCE order_seq MAXVALUE 1000", true),
        ("altering-sequence", "ALTER SEQUENCE order_seq RESTART WITH 100", false),
        ("altering-sequence", "ALTER SEQUENCE order_seq OWNED BY orders.id", false),
        ("volatile-default", "ALTER TABLE users ADD COLUMN IF NOT EXISTS code text DEFAULT app.next_code()", true),
        ("volatile-default", "ALTER TABLE users ADD COLUMN IF NOT EXISTS code text DEFAULT make_code()", true),
        ("volatile-default", "ALTER TABLE users ADD COLUMN IF NOT EXISTS seen timestamptz DEFAULT now()", false),
        ("volatile-default", "ALTER TABLE users ADD COLUMN IF NOT EXISTS tag text DEFAULT lower('A')", false),
        ("setting-not-null", "ALTER DOMAIN email SET NOT NULL", true),
        ("constraint-without-not-valid", "ALTER DOMAIN email ADD CONSTRAINT c CHECK (VALUE <> '')", true),
        ("constraint-without-not-valid", "ALTER DOMAIN email ADD CONSTRAINT c CHECK (VALUE <> '') NOT VALID", false),
        ("unanalyzed-statement", "ALTER POLICY p ON users USING (true)", true),
        ("unanalyzed-statement", "CREATE STATISTICS IF NOT EXISTS s (dependencies) ON a, b FROM users", false),
        ("unanalyzed-statement", "DO LANGUAGE plpgsql $$ BEGIN PERFORM 1; END $$", true),
        (
            "adding-not-null-column-without-default",
            "ALTER TABLE users ADD COLUMN IF NOT EXISTS status text NOT NULL",
            true,
        ),
        (
            "adding-not-null-column-without-default",
            "ALTER TABLE users ADD COLUMN IF NOT EXISTS status text NOT NULL DEFAULT 'new'",
            false,
        ),
        ("adding-not-null-column-without-default", "ALTER TABLE users ADD COLUMN IF NOT EXISTS status text", false),
        (
            "adding-not-null-column-without-default",
            "CREATE TABLE IF NOT EXISTS t (a int); ALTER TABLE t ADD COLUMN IF NOT EXISTS b int NOT NULL",
            false,
        ),
        ("setting-not-null", "ALTER TABLE users ALTER COLUMN name SET NOT NULL", true),
        (
            "setting-not-null",
            "ALTER TABLE users ADD CONSTRAINT name_nn CHECK (name IS NOT NULL) NOT VALID; ALTER TABLE users VALIDATE CONSTRAINT name_nn; ALTER TABLE users ALTER COLUMN name SET NOT NULL",
            false,
        ),
        (
            "setting-not-null",
            "ALTER TABLE users ADD CONSTRAINT name_nn CHECK (name IS NOT NULL) NOT VALID; ALTER TABLE users ALTER COLUMN name SET NOT NULL",
            true,
        ),
        ("setting-not-null", "ALTER TABLE users ALTER COLUMN name DROP NOT NULL", false),
        ("index-without-concurrently", "CREATE INDEX IF NOT EXISTS users_email ON users (email)", true),
        ("index-without-concurrently", "CREATE INDEX CONCURRENTLY IF NOT EXISTS users_email ON users (email)", false),
        (
            "index-without-concurrently",
            "CREATE TABLE IF NOT EXISTS t (a int); CREATE INDEX IF NOT EXISTS t_a ON t (a)",
            false,
        ),
        ("index-without-concurrently", "DROP INDEX users_email", true),
        ("index-without-concurrently", "DROP INDEX CONCURRENTLY users_email", false),
        (
            "index-without-concurrently",
            "CREATE TABLE IF NOT EXISTS t (a int); CREATE INDEX IF NOT EXISTS t_a ON t (a); DROP INDEX t_a",
            false,
        ),
        ("index-without-concurrently", "REINDEX TABLE users", true),
        ("index-without-concurrently", "REINDEX TABLE CONCURRENTLY users", false),
        (
            "constraint-without-not-valid",
            "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id)",
            true,
        ),
        (
            "constraint-without-not-valid",
            "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID",
            false,
        ),
        ("constraint-without-not-valid", "ALTER TABLE orders ADD CONSTRAINT positive CHECK (total >= 0)", true),
        (
            "constraint-without-not-valid",
            "ALTER TABLE orders ADD CONSTRAINT positive CHECK (total >= 0) NOT VALID",
            false,
        ),
        (
            "constraint-without-not-valid",
            "CREATE TABLE IF NOT EXISTS t (a int); ALTER TABLE t ADD CONSTRAINT positive CHECK (a >= 0)",
            false,
        ),
        ("volatile-default", "ALTER TABLE users ADD COLUMN IF NOT EXISTS token uuid DEFAULT gen_random_uuid()", true),
        (
            "volatile-default",
            "ALTER TABLE users ADD COLUMN IF NOT EXISTS seen timestamptz DEFAULT clock_timestamp()",
            true,
        ),
        ("volatile-default", "ALTER TABLE users ADD COLUMN IF NOT EXISTS r float DEFAULT (random() * 10)", true),
        ("volatile-default", "ALTER TABLE users ADD COLUMN IF NOT EXISTS created_at timestamptz DEFAULT now()", false),
        (
            "volatile-default",
            "ALTER TABLE users ADD COLUMN IF NOT EXISTS created_at timestamptz DEFAULT CURRENT_TIMESTAMP",
            false,
        ),
        ("volatile-default", "ALTER TABLE users ALTER COLUMN token SET DEFAULT gen_random_uuid()", false),
        ("changing-column-type", "ALTER TABLE users ALTER COLUMN age TYPE bigint", true),
        ("changing-column-type", "ALTER TABLE users ALTER COLUMN age SET DEFAULT 0", false),
        ("missing-lock-timeout", "ALTER TABLE users ADD COLUMN IF NOT EXISTS nickname text", false),
        ("non-idempotent-expand", "CREATE TABLE t (a int)", true),
        ("non-idempotent-expand", "CREATE TABLE IF NOT EXISTS t (a int)", false),
        ("non-idempotent-expand", "CREATE TEMP TABLE t (a int)", false),
        ("non-idempotent-expand", "CREATE INDEX CONCURRENTLY users_email ON users (email)", true),
        ("non-idempotent-expand", "ALTER TABLE users ADD COLUMN nickname text", true),
        ("non-idempotent-expand", "ALTER TABLE users ADD COLUMN IF NOT EXISTS nickname text", false),
        ("truncate-cascade", "TRUNCATE users CASCADE", true),
        ("truncate-cascade", "TRUNCATE users", false),
        ("vacuum-full", "VACUUM FULL users", true),
        ("vacuum-full", "VACUUM (FULL) users", true),
        ("vacuum-full", "VACUUM ANALYZE users", false),
        ("cluster", "CLUSTER users USING users_pkey", true),
        ("cluster", "VACUUM users", false),
        ("renaming-column", "ALTER TABLE users RENAME COLUMN full_name TO name", true),
        ("renaming-column", "CREATE TABLE IF NOT EXISTS t (a int); ALTER TABLE t RENAME COLUMN a TO b", false),
        ("renaming-table", "ALTER TABLE users RENAME TO people", true),
        ("renaming-table", "CREATE TABLE IF NOT EXISTS t (a int); ALTER TABLE t RENAME TO u", false),
        ("dropping-column", "ALTER TABLE users DROP COLUMN full_name", true),
        ("dropping-column", "ALTER TABLE users DROP CONSTRAINT users_name_check", false),
        ("dropping-table", "DROP TABLE IF EXISTS users", true),
        ("dropping-table", "CREATE TABLE IF NOT EXISTS t (a int); DROP TABLE t", false),
        ("dropping-table", "DROP VIEW active_users", false),
        ("adding-primary-key-constraint", "ALTER TABLE users ADD CONSTRAINT users_pkey PRIMARY KEY (id)", true),
        (
            "adding-primary-key-constraint",
            "ALTER TABLE users ADD CONSTRAINT users_pkey PRIMARY KEY USING INDEX users_id_idx",
            false,
        ),
        (
            "adding-primary-key-constraint",
            "ALTER TABLE users ADD COLUMN IF NOT EXISTS code int DEFAULT 0 PRIMARY KEY",
            true,
        ),
        ("adding-unique-constraint", "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email)", true),
        (
            "adding-unique-constraint",
            "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_idx",
            false,
        ),
        ("adding-serial-column", "ALTER TABLE users ADD COLUMN IF NOT EXISTS seq bigserial", true),
        (
            "adding-serial-column",
            "ALTER TABLE users ADD COLUMN IF NOT EXISTS seq bigint GENERATED ALWAYS AS IDENTITY",
            true,
        ),
        (
            "adding-serial-column",
            "ALTER TABLE users ADD COLUMN IF NOT EXISTS lower_email text GENERATED ALWAYS AS (lower(email)) STORED",
            true,
        ),
        ("adding-serial-column", "ALTER TABLE users ADD COLUMN IF NOT EXISTS seq bigint", false),
        (
            "ban-concurrent-index-in-transaction",
            "BEGIN; CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON users (email)",
            true,
        ),
        ("ban-concurrent-index-in-transaction", "BEGIN; DROP INDEX CONCURRENTLY i", true),
        (
            "ban-concurrent-index-in-transaction",
            "BEGIN; COMMIT; CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON users (email)",
            false,
        ),
        ("ban-concurrent-index-in-transaction", "BEGIN; CREATE INDEX IF NOT EXISTS i ON users (email)", false),
        ("unanalyzed-statement", "DO $$ BEGIN PERFORM 1; END $$", true),
        ("unanalyzed-statement", "UPDATE users SET name = full_name", false),
    ];

    #[test]
    fn postgres_rules_fire_and_stay_quiet() {
        for (rule, sql, fires) in POSTGRES_CASES {
            assert!(super::rule(rule).is_some(), "unknown rule {rule}");
            let sql = format!("SET lock_timeout = '2s';\n{sql}");
            let fired = fired(&sql, Dialect::Postgres);
            assert_eq!(fired.contains(rule), *fires, "{rule} on {sql:?}: fired {fired:?}");
        }
    }

    #[test]
    fn every_rule_has_a_case_that_fires_and_one_that_does_not() {
        // missing-lock-timeout and the suppression rules have tests of their own.
        let own_tests = ["missing-lock-timeout", "unused-suppression", "malformed-suppression"];
        for rule in RULES.iter().filter(|r| !own_tests.contains(&r.id)) {
            for fires in [true, false] {
                assert!(
                    POSTGRES_CASES.iter().any(|(id, _, f)| *id == rule.id && *f == fires),
                    "no case where {} fires={fires}",
                    rule.id
                );
            }
        }
    }

    #[test]
    fn missing_lock_timeout_fires_once_per_file_at_the_first_locking_statement() {
        let cases: &[(&str, &[u32])] = &[
            (
                "ALTER TABLE users ADD COLUMN IF NOT EXISTS a int;\nALTER TABLE users ADD COLUMN IF NOT EXISTS b int",
                &[1],
            ),
            (
                "CREATE TABLE IF NOT EXISTS t (a int);\nALTER TABLE t ADD COLUMN IF NOT EXISTS b int;\nDROP INDEX CONCURRENTLY i",
                &[],
            ),
            ("SET lock_timeout = '2s';\nALTER TABLE users ADD COLUMN IF NOT EXISTS a int", &[]),
            ("SET lock_timeout TO 0;\nALTER TABLE users ADD COLUMN IF NOT EXISTS a int", &[2]),
            ("SET lock_timeout = '1s';\nRESET lock_timeout;\nTRUNCATE users", &[3]),
            ("SET LOCAL lock_timeout = '1s';\nCLUSTER users", &[]),
            ("CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON users (a);\nLOCK TABLE users", &[2]),
        ];
        for (sql, lines) in cases {
            let report = analyze("t.sql", sql, Dialect::Postgres).unwrap();
            let found: Vec<u32> =
                report.findings.iter().filter(|f| f.rule == "missing-lock-timeout").map(|f| f.line).collect();
            assert_eq!(&found, lines, "missing-lock-timeout in {sql:?}");
        }
    }

    #[test]
    fn sqlite_skips_postgres_locking_rules() {
        let cases: &[(&str, &[&str])] = &[
            ("ALTER TABLE users ADD COLUMN status TEXT NOT NULL", &["adding-not-null-column-without-default"]),
            ("ALTER TABLE users ADD COLUMN status TEXT NOT NULL DEFAULT 'new'", &[]),
            ("ALTER TABLE users RENAME COLUMN a TO b", &["renaming-column"]),
            ("ALTER TABLE users RENAME TO people", &["renaming-table"]),
            ("ALTER TABLE users DROP COLUMN a", &["dropping-column"]),
            ("DROP TABLE users", &["dropping-table"]),
            ("CREATE INDEX i ON users (email)", &["non-idempotent-expand"]),
            ("CREATE INDEX IF NOT EXISTS i ON users (email)", &[]),
            ("CREATE TABLE t (a INTEGER)", &["non-idempotent-expand"]),
            ("VACUUM", &[]),
            ("PRAGMA foreign_keys = OFF", &[]),
            ("DROP INDEX i", &[]),
        ];
        for (sql, expected) in cases {
            assert_eq!(&fired(sql, Dialect::Sqlite), expected, "findings of {sql:?}");
        }
    }

    #[test]
    fn every_rule_says_what_to_do_instead() {
        let mut ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), RULES.len(), "duplicate rule ids");
        for rule in RULES {
            assert!(rule.id.chars().all(|c| c.is_ascii_lowercase() || c == '-'), "{} is not kebab-case", rule.id);
            assert!(!rule.summary.is_empty() && !rule.help.is_empty(), "{} lacks text", rule.id);
            assert!(!rule.dialects.is_empty(), "{} applies nowhere", rule.id);
        }
    }

    #[test]
    fn messages_name_what_they_are_about() {
        let cases = [
            ("ALTER TABLE users RENAME TO people", "renaming table `users` to `people`"),
            ("ALTER TABLE users DROP COLUMN a, DROP COLUMN b", "dropping column `a` of `users`"),
            ("DROP TABLE a, b", "dropping table `a`, `b`"),
            ("BEGIN; REINDEX INDEX CONCURRENTLY i", "REINDEX CONCURRENTLY i runs inside BEGIN ... COMMIT"),
            ("ALTER TABLE users ALTER COLUMN n TYPE text", "changing the type of `users`.`n` to TEXT"),
        ];
        for (sql, message) in cases {
            let report = analyze("t.sql", &format!("SET lock_timeout = '1s'; {sql}"), Dialect::Postgres).unwrap();
            let messages: Vec<&str> = report.findings.iter().map(|f| f.message.as_str()).collect();
            assert!(messages.contains(&message), "{sql:?}: {messages:?}");
        }
    }

    #[test]
    fn findings_name_the_table_and_column() {
        let report = analyze(
            "m.sql",
            "SET lock_timeout = '1s';\nALTER TABLE users ADD COLUMN IF NOT EXISTS status text NOT NULL;",
            Dialect::Postgres,
        )
        .unwrap();
        let finding = &report.findings[0];
        assert_eq!(finding.rule, "adding-not-null-column-without-default");
        assert_eq!(finding.severity, Severity::Error);
        assert_eq!((finding.line, finding.column), (2, 1));
        assert_eq!(finding.message, "column `status` is added to existing table `users` as NOT NULL without a default");
        assert_eq!(finding.help, rule("adding-not-null-column-without-default").unwrap().help);
    }
}
