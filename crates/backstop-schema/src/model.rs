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
    pub(crate) fn shape(&self) -> &str {
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
            Column { data_type: "bigint".into(), nullable: false, default: None, generated: true },
        );
        users.constraints.push(Constraint {
            name: "users_pkey".into(),
            kind: ConstraintKind::PrimaryKey,
            definition: "PRIMARY KEY (id)".into(),
            columns: vec!["id".into()],
        });
        let snapshot = Snapshot { tables: BTreeMap::from([("public.users".into(), users)]) };
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
