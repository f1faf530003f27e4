//! Reads a [`Snapshot`] from a SQLite file (tables and views): `sqlite_master` and the `table_xinfo`, `index_list`,
//! `index_info` and `foreign_key_list` pragmas.
//!
//! SQLite keeps `CHECK` constraints only in the table's `CREATE TABLE` text, which no pragma exposes:
//! that text is parsed (with a parser that knows SQLite) for them. Triggers come from `sqlite_master`.

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::error::SchemaError;
use backstop_schema::{
    Column, Constraint, ConstraintKind, Engine, Generation, Index, RelationKind, Snapshot, Table, Trigger,
};
use sqlparser::ast::{ColumnOption, Expr, Statement, TableConstraint};
use sqlparser::dialect::SQLiteDialect;
use sqlparser::parser::Parser;

/// The schema of the SQLite database at `path`, opened read-only; a missing file is an error, not an
/// empty schema.
pub fn snapshot_sqlite(path: impl AsRef<Path>) -> Result<Snapshot, SchemaError> {
    let path = path.as_ref();
    if !path.is_file() {
        return Err(SchemaError::SqliteMissing { path: path.to_owned() });
    }
    let err = |context: &'static str| move |source| SchemaError::Sqlite { path: path.to_owned(), context, source };
    let db = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(err("opening"))?;

    read_snapshot(&db).map_err(|(context, source)| SchemaError::Sqlite { path: path.to_owned(), context, source })
}

/// Reads the snapshot through `db`, which may be inside a transaction that sees uncommitted changes.
pub(crate) fn read_snapshot(db: &Connection) -> Result<Snapshot, (&'static str, rusqlite::Error)> {
    let err = |context: &'static str| move |source| (context, source);
    let mut snapshot = Snapshot { engine: Engine::Sqlite, ..Snapshot::default() };
    let names: Vec<(String, String, Option<String>)> = db
        .prepare(
            "SELECT name, type, sql FROM sqlite_master WHERE type IN ('table', 'view') \
             AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
        )
        .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect())
        .map_err(err("listing tables"))?;
    for (name, kind, sql) in names {
        let mut table = read_table(db, &name).map_err(err("reading a table"))?;
        if kind == "view" {
            table.kind = RelationKind::View;
        } else if let Some(sql) = sql {
            table.constraints.extend(checks(&name, &sql));
        }
        snapshot.tables.insert(format!("main.{name}"), table);
    }
    let triggers: Vec<(String, String, Option<String>)> = db
        .prepare("SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
        .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect())
        .map_err(err("listing triggers"))?;
    for (name, table, sql) in triggers {
        let Some(table) = snapshot.tables.get_mut(&format!("main.{table}")) else { continue };
        table.triggers.push(trigger(name, sql.unwrap_or_default()));
    }
    Ok(snapshot)
}

/// One foreign key, gathered from its rows in `pragma_foreign_key_list`.
struct ForeignKey {
    parent: String,
    from: Vec<String>,
    to: Vec<String>,
}

fn read_table(db: &Connection, name: &str) -> rusqlite::Result<Table> {
    let mut table = Table::default();
    // (name, type, notnull, default, pk position, hidden: 2 and 3 are generated columns)
    let columns: Vec<(String, String, bool, Option<String>, u32, u32)> = db
        .prepare("SELECT name, type, \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo(?1) ORDER BY cid")?
        .query_map([name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut primary: Vec<(u32, String)> = columns.iter().filter(|c| c.4 > 0).map(|c| (c.4, c.0.clone())).collect();
    primary.sort();
    let primary: Vec<String> = primary.into_iter().map(|(_, c)| c).collect();
    for (column, data_type, notnull, default, pk, hidden) in columns {
        // An INTEGER PRIMARY KEY is the rowid: SQLite fills it in when an insert leaves it out.
        let rowid = pk > 0 && primary.len() == 1 && data_type.eq_ignore_ascii_case("integer");
        let generated = rowid || hidden >= 2;
        let generation = if rowid {
            Some(Generation::Rowid)
        } else if hidden >= 2 {
            Some(Generation::Expression)
        } else {
            None
        };
        table.columns.insert(
            column,
            Column {
                data_type,
                nullable: !notnull && !rowid,
                default,
                generated,
                generation,
                collation: None,
                type_key: None,
            },
        );
    }
    if !primary.is_empty() {
        table.constraints.push(Constraint {
            name: format!("{name}_pkey"),
            kind: ConstraintKind::PrimaryKey,
            definition: format!("PRIMARY KEY ({})", primary.join(", ")),
            columns: primary,
            validated: true,
            references: None,
        });
    }

    let mut keys: BTreeMap<i64, ForeignKey> = BTreeMap::new();
    let mut statement =
        db.prepare("SELECT id, \"table\", \"from\", \"to\" FROM pragma_foreign_key_list(?1) ORDER BY id, seq")?;
    let rows = statement.query_map([name], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, Option<String>>(3)?))
    })?;
    for row in rows {
        let (id, parent, from, to) = row?;
        let key = keys.entry(id).or_insert_with(|| ForeignKey { parent, from: Vec::new(), to: Vec::new() });
        key.from.push(from);
        // No target column means the parent's primary key.
        key.to.extend(to);
    }
    for (id, ForeignKey { parent, from, to }) in keys {
        let target = if to.is_empty() { parent } else { format!("{parent}({})", to.join(", ")) };
        table.constraints.push(Constraint {
            name: format!("{name}_fkey{id}"),
            kind: ConstraintKind::ForeignKey,
            definition: format!("FOREIGN KEY ({}) REFERENCES {target}", from.join(", ")),
            columns: from,
            validated: true,
            references: None,
        });
    }

    // (name, unique, origin: c = CREATE INDEX, u = UNIQUE constraint, pk = PRIMARY KEY)
    let indexes: Vec<(String, bool, String)> = db
        .prepare("SELECT name, \"unique\", origin FROM pragma_index_list(?1) ORDER BY name")?
        .query_map([name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (index, unique, origin) in indexes {
        let columns: Vec<String> = db
            .prepare("SELECT name FROM pragma_index_info(?1) WHERE name IS NOT NULL ORDER BY seqno")?
            .query_map([&index], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let text: Option<String> = db
            .prepare("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?1")?
            .query_map([&index], |r| r.get(0))?
            .next()
            .transpose()?
            .flatten();
        let definition = text.unwrap_or_else(|| {
            let kind = if unique { "UNIQUE INDEX" } else { "INDEX" };
            format!("CREATE {kind} {index} ON {name} ({})", columns.join(", "))
        });
        if origin == "u" {
            table.constraints.push(Constraint {
                name: index.clone(),
                kind: ConstraintKind::Unique,
                definition: format!("UNIQUE ({})", columns.join(", ")),
                columns: columns.clone(),
                validated: true,
                references: None,
            });
        }
        table.indexes.push(Index {
            name: index,
            definition,
            unique,
            columns,
            backs_constraint: origin != "c",
            partial: false,
            nulls_not_distinct: false,
        });
    }
    Ok(table)
}

/// The CHECK constraints of a `CREATE TABLE` text, column and table ones, named as SQLite would not
/// (it keeps no names): `TABLE_check_N` unless the DDL names them. Text the parser refuses yields
/// none, and the verdict then sees no check (SQLite accepted the DDL, so this is a parser gap).
fn checks(table: &str, sql: &str) -> Vec<Constraint> {
    let Ok(statements) = Parser::parse_sql(&SQLiteDialect {}, sql) else { return Vec::new() };
    let Some(Statement::CreateTable(create)) = statements.into_iter().next() else { return Vec::new() };
    let mut found: Vec<(Option<String>, Expr)> = Vec::new();
    for column in &create.columns {
        for option in &column.options {
            if let ColumnOption::Check(check) = &option.option {
                let name = option.name.as_ref().or(check.name.as_ref()).map(|n| n.value.clone());
                found.push((name, (*check.expr).clone()));
            }
        }
    }
    for constraint in &create.constraints {
        if let TableConstraint::Check(check) = constraint {
            found.push((check.name.as_ref().map(|n| n.value.clone()), (*check.expr).clone()));
        }
    }
    let known: Vec<String> = create.columns.iter().map(|c| c.name.value.clone()).collect();
    found
        .into_iter()
        .enumerate()
        .map(|(i, (name, expr))| {
            let definition = format!("CHECK ({expr})");
            let columns = known.iter().filter(|c| mentions(&definition, c)).cloned().collect();
            Constraint {
                name: name.unwrap_or_else(|| format!("{table}_check{}", i + 1)),
                kind: ConstraintKind::Check,
                definition,
                columns,
                validated: true,
                references: None,
            }
        })
        .collect()
}

/// `text` names `word` as a whole identifier.
fn mentions(text: &str, word: &str) -> bool {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_')).any(|w| w.eq_ignore_ascii_case(word))
}

/// A trigger from its `CREATE TRIGGER` text: timing and events read from the words before `ON`.
fn trigger(name: String, sql: String) -> Trigger {
    let upper = sql.to_ascii_uppercase();
    let head = upper.split(" ON ").next().unwrap_or_default();
    let timing = if head.contains("INSTEAD OF") {
        "instead of"
    } else if head.contains("AFTER") {
        "after"
    } else {
        "before"
    };
    let events = ["INSERT", "UPDATE", "DELETE"]
        .into_iter()
        .filter(|e| head.split_whitespace().any(|w| w == *e))
        .map(str::to_ascii_lowercase)
        .collect();
    let definition = sql.split_once(&name).map_or(sql.clone(), |(_, rest)| rest.trim().to_owned());
    Trigger { name, timing: timing.to_owned(), events, definition, function: String::new() }
}
