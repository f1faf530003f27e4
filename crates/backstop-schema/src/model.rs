//! The schema snapshot: tables, columns, constraints and indexes of one database, as stored per revision.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The schema of one database at one moment: what a revision's code was built against.
///
/// Table keys are qualified, `schema.table` (`public.users` for PostgreSQL, `main.users` for SQLite).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Snapshot {
    pub tables: BTreeMap<String, Table>,
    /// Which engine the snapshot was read from; SQLite judges type changes by affinity.
    #[serde(default)]
    pub engine: Engine,
    /// Enum types by qualified name (`public.mood`), with their values in order.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub enums: BTreeMap<String, Vec<String>>,
    /// Domains by qualified name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub domains: BTreeMap<String, Domain>,
    /// Functions and procedures by qualified name (`public.price_of`), one entry per overload.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub functions: BTreeMap<String, Vec<Function>>,
    /// Sequences by qualified name.
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub sequences: std::collections::BTreeSet<String>,
}

/// The database engine a snapshot describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    #[default]
    Postgres,
    Sqlite,
}

/// A domain: a base type with its own NOT NULL and CHECK rules.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Domain {
    pub base: String,
    pub not_null: bool,
    /// `pg_get_constraintdef` of each check, without `NOT VALID`, sorted.
    pub checks: Vec<String>,
}

/// One function or procedure overload.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Function {
    /// The identity arguments (`integer, text`).
    pub arguments: String,
    /// The result type (`integer`, `trigger`, empty for a procedure).
    pub returns: String,
    /// A digest of the body, so a changed trigger function shows.
    #[serde(default)]
    pub body_digest: String,
}

/// One trigger on a table or view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    pub name: String,
    /// `before`, `after` or `instead of`.
    pub timing: String,
    /// `insert`, `update`, `delete`, `truncate`.
    pub events: Vec<String>,
    /// The trigger as the engine prints it, without its name (`pg_get_triggerdef`, or SQLite's text).
    pub definition: String,
    /// The qualified function it runs (PostgreSQL), empty for SQLite's inline bodies.
    #[serde(default)]
    pub function: String,
}

/// One row-level security policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub name: String,
    /// `ALL`, `SELECT`, `INSERT`, `UPDATE`, `DELETE`.
    pub command: String,
    pub permissive: bool,
    #[serde(default)]
    pub using: Option<String>,
    #[serde(default)]
    pub with_check: Option<String>,
}

/// One table or view: its columns by name, its constraints and its indexes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Table {
    #[serde(default)]
    pub kind: RelationKind,
    pub columns: BTreeMap<String, Column>,
    #[serde(default)]
    pub constraints: Vec<Constraint>,
    #[serde(default)]
    pub indexes: Vec<Index>,
    /// The partitioned table this one is a partition of, by key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_of: Option<String>,
    /// The partition bound (`FOR VALUES FROM (...) TO (...)`, `DEFAULT`) of a partition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_bound: Option<String>,
    /// The table is partitioned: rows live in its partitions.
    #[serde(default)]
    pub partitioned: bool,
    /// For a view: the writes it accepts (`insert`, `update`, `delete`), automatically or through
    /// INSTEAD OF triggers or rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub writable: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<Trigger>,
    /// Row-level security is enabled (and, second, forced on the owner too).
    #[serde(default)]
    pub row_security: (bool, bool),
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<Policy>,
}

/// What a [`Table`] entry is: old code reads views as it reads tables, so both are in the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RelationKind {
    #[default]
    Table,
    View,
    MaterializedView,
}

/// One column as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// The type as the engine spells it: `format_type` for PostgreSQL (`character varying(50)`), the
    /// declared type for SQLite.
    pub data_type: String,
    pub nullable: bool,
    /// The default expression, as the engine prints it.
    #[serde(default)]
    pub default: Option<String>,
    /// The database produces the value itself (identity, `GENERATED ... AS`, SQLite rowid alias), so an
    /// `INSERT` need not name the column.
    #[serde(default)]
    pub generated: bool,
    /// How the database produces the value, when it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<Generation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collation: Option<String>,
    /// The qualified name of the column's type (`public.mood`), to find its enum or domain; the element
    /// type for an array.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_key: Option<String>,
}

/// How the database fills a [`Column::generated`] column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Generation {
    /// `GENERATED ALWAYS AS IDENTITY`: an explicit value is refused.
    IdentityAlways,
    /// `GENERATED BY DEFAULT AS IDENTITY`: an explicit value is accepted.
    IdentityByDefault,
    /// `GENERATED ALWAYS AS (...) STORED` (or VIRTUAL): an explicit value is refused.
    Expression,
    /// SQLite's `INTEGER PRIMARY KEY`: the rowid, filled in when left out.
    Rowid,
}

impl Column {
    /// A column with just a type and nullability, for tests and synthesised entries.
    pub fn new(data_type: &str, nullable: bool, default: Option<&str>) -> Column {
        Column {
            data_type: data_type.to_owned(),
            nullable,
            default: default.map(str::to_owned),
            generated: false,
            generation: None,
            collation: None,
            type_key: None,
        }
    }

    /// An explicit value written to this column is refused.
    pub fn refuses_writes(&self) -> bool {
        matches!(self.generation, Some(Generation::IdentityAlways | Generation::Expression))
    }
}

/// What kind of rule a constraint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConstraintKind {
    PrimaryKey,
    Unique,
    ForeignKey,
    Check,
    NotNull,
    Exclusion,
    Other,
}

/// One table constraint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Constraint {
    pub name: String,
    pub kind: ConstraintKind,
    /// The constraint as the engine prints it: `pg_get_constraintdef` for PostgreSQL.
    pub definition: String,
    /// The table's columns the constraint reads; empty when the engine does not say.
    #[serde(default)]
    pub columns: Vec<String>,
    /// The constraint holds for every row (PostgreSQL's `convalidated`); a `NOT VALID` one only checks
    /// new writes.
    #[serde(default = "yes")]
    pub validated: bool,
    /// For a foreign key: the key of the table it references.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<String>,
}

fn yes() -> bool {
    true
}

impl Constraint {
    /// The definition without a trailing `NOT VALID`: a constraint later validated is the same rule.
    pub fn rule(&self) -> &str {
        self.definition.strip_suffix(" NOT VALID").unwrap_or(&self.definition).trim()
    }
}

/// One index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    pub name: String,
    /// The index as the engine prints it: `pg_get_indexdef` for PostgreSQL, the `CREATE INDEX` text for
    /// SQLite (synthesised for automatic indexes).
    pub definition: String,
    pub unique: bool,
    /// Indexed columns, in order; empty for expression indexes.
    #[serde(default)]
    pub columns: Vec<String>,
    /// The index enforces a primary key or unique constraint that is listed among the constraints.
    #[serde(default)]
    pub backs_constraint: bool,
    /// The index has a `WHERE` clause.
    #[serde(default)]
    pub partial: bool,
    /// `NULLS NOT DISTINCT`: NULLs collide in a unique index.
    #[serde(default)]
    pub nulls_not_distinct: bool,
}

impl Snapshot {
    /// The table with key `name`, also found without its schema when the schema is `public` or `main`.
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables
            .get(name)
            .or_else(|| self.tables.get(&format!("public.{name}")))
            .or_else(|| self.tables.get(&format!("main.{name}")))
    }
}

impl Index {
    /// The definition without the index's own name, so a renamed index compares equal.
    pub fn shape(&self) -> &str {
        self.definition.split_once(" ON ").map_or(self.definition.as_str(), |(_, rest)| rest)
    }
}

/// The name a person reads for a table key: `users` for `public.users` and `main.users`.
pub fn display_table(key: &str) -> &str {
    key.strip_prefix("public.").or_else(|| key.strip_prefix("main.")).unwrap_or(key)
}

impl fmt::Display for RelationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            RelationKind::Table => "table",
            RelationKind::View => "view",
            RelationKind::MaterializedView => "materialized view",
        })
    }
}

impl fmt::Display for ConstraintKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            ConstraintKind::PrimaryKey => "primary key",
            ConstraintKind::Unique => "unique",
            ConstraintKind::ForeignKey => "foreign key",
            ConstraintKind::Check => "check",
            ConstraintKind::NotNull => "not null",
            ConstraintKind::Exclusion => "exclusion",
            ConstraintKind::Other => "other",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_round_trip_through_json_and_old_json_without_optional_fields_loads() {
        let mut users = Table::default();
        users.columns.insert(
            "id".into(),
            Column {
                data_type: "bigint".into(),
                nullable: false,
                default: None,
                generated: true,
                generation: None,
                collation: None,
                type_key: None,
            },
        );
        users.constraints.push(Constraint {
            name: "users_pkey".into(),
            kind: ConstraintKind::PrimaryKey,
            definition: "PRIMARY KEY (id)".into(),
            columns: vec!["id".into()],
            validated: true,
            references: None,
        });
        let snapshot = Snapshot { tables: BTreeMap::from([("public.users".into(), users)]), ..Default::default() };
        let json = serde_json::to_string(&snapshot).unwrap();
        assert!(json.contains("\"primary_key\""), "{json}");
        assert_eq!(serde_json::from_str::<Snapshot>(&json).unwrap(), snapshot);

        let minimal = r#"{"tables":{"main.t":{"columns":{"a":{"data_type":"TEXT","nullable":true}}}}}"#;
        let loaded: Snapshot = serde_json::from_str(minimal).unwrap();
        let column = &loaded.tables["main.t"].columns["a"];
        assert_eq!((column.default.as_deref(), column.generated), (None, false));
    }

    #[test]
    fn tables_are_found_with_or_without_the_default_schema() {
        let snapshot = Snapshot {
            tables: BTreeMap::from([
                ("public.users".into(), Table::default()),
                ("billing.invoices".into(), Table::default()),
            ]),
            ..Default::default()
        };
        let cases = [("users", true), ("public.users", true), ("invoices", false), ("billing.invoices", true)];
        for (name, found) in cases {
            assert_eq!(snapshot.table(name).is_some(), found, "{name}");
        }
        assert_eq!(display_table("public.users"), "users");
        assert_eq!(display_table("main.users"), "users");
        assert_eq!(display_table("billing.invoices"), "billing.invoices");
    }
}
