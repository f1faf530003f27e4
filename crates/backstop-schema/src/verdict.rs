//! The rollback-safety verdict: can a revision built against one snapshot run on today's schema?
//!
//! Pure: two snapshots (and optionally what the target's queries touch) in, a [`Verdict`] out.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::model::{Column, ConstraintKind, Snapshot, Table, display_table};

/// The tables and columns a revision's queries actually touch, for the precise verdict.
///
/// Table names may be qualified (`public.users`) or not (`users`); the column `*` stands for every
/// column of the table.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Uses {
    pub tables: BTreeMap<String, BTreeSet<String>>,
}

/// Whether rolling back is safe, and every reason it is not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// No problem counts against the rollback.
    pub safe: bool,
    /// The problems that count.
    pub problems: Vec<Problem>,
    /// Differences the precise verdict set aside because the target's queries do not touch them.
    pub unused: Vec<Problem>,
    /// In precise mode, what was checked: each query read and what it touches, each change set aside
    /// and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checked: Vec<String>,
}

/// One way today's schema fails the target revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// The table (`users`), column (`users.full_name`) or constraint (`users.users_age_check`) at fault.
    pub object: String,
    pub kind: ProblemKind,
    /// What breaks, for a person.
    pub message: String,
    /// The target's query that reaches the object (`file:line` or its name), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Why the verdict could not prove the target safe here, when the failure is not certain: what it
    /// could not see (the values a query writes, a trigger function's body, a `DO` block).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unseen: Option<String>,
}

/// What is wrong with one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ProblemKind {
    /// A table or view the target knew is gone; `renamed_to` names a new one with the same columns.
    TableDropped { renamed_to: Option<String> },
    /// A column the target knew is gone; `renamed_to` names the one new column of the same type.
    ColumnDropped { renamed_to: Option<String> },
    /// A column's type changed in a way that is not a widening.
    TypeChanged { from: String, to: String },
    /// A column the target does not know is `NOT NULL` without a default: the target's inserts fail.
    NewNotNullWithoutDefault,
    /// A column the target could leave out of an insert (nullable, default or generated) no longer can.
    BecameRequired,
    /// A constraint (or unique index) the target did not have may reject the target's writes.
    NewConstraint { name: String, constraint: ConstraintKind, definition: String },
    /// One of the target's own queries no longer prepares against the schema (precise mode).
    QueryFails { error: String },
    /// A column the target writes explicitly is now generated always (identity or expression).
    BecameGenerated,
    /// Values of an enum type the target knew are gone (removed or renamed), or the type is.
    EnumValuesRemoved { enum_type: String, removed: Vec<String> },
    /// A domain the target's columns use gained a NOT NULL or CHECK rule.
    DomainTightened { domain: String },
    /// A function or procedure overload the target knew is gone, changed signature, or changed body.
    FunctionChanged { function: String, change: String },
    /// A sequence the target knew is gone.
    SequenceDropped,
    /// A view no longer accepts writes of these kinds.
    ViewLostWrites { writes: Vec<String> },
    /// A trigger the target did not have (or whose function changed) runs on its writes.
    NewTrigger { name: String, events: Vec<String> },
    /// Row-level security newly enabled, or a policy new or changed.
    RowSecurity { policy: Option<String> },
    /// The table became partitioned without a default partition: rows outside the bounds are refused.
    Partitioned,
    /// A new foreign key refuses deletes or key updates of a table the target writes.
    ReferencedBy { table: String, definition: String },
    /// A query of the target cannot be read (a `DO` block, a parse error), so everything counts for it.
    QueryUnreadable { reason: String },
}

impl Uses {
    /// Adds a table and the columns of it that are read or written.
    pub fn with_table<'a>(mut self, table: &str, columns: impl IntoIterator<Item = &'a str>) -> Self {
        self.tables.entry(table.to_owned()).or_default().extend(columns.into_iter().map(str::to_owned));
        self
    }

    fn columns_of(&self, key: &str) -> impl Iterator<Item = &BTreeSet<String>> {
        let short = display_table(key);
        [self.tables.get(key), if short == key { None } else { self.tables.get(short) }].into_iter().flatten()
    }

    fn touches_table(&self, key: &str) -> bool {
        self.columns_of(key).next().is_some()
    }

    fn touches_column(&self, key: &str, column: &str) -> bool {
        self.columns_of(key).any(|columns| columns.contains(column) || columns.contains("*"))
    }
}

/// Which part of the target a problem hurts, to decide whether it counts in the precise verdict.
enum Reach<'a> {
    Table(&'a str),
    Column(&'a str, &'a str),
    Columns(&'a str, Vec<&'a str>),
}

/// Whether the target revision, built against `target`, can run on `live`.
///
/// With `uses`, only problems on tables and columns the target's queries touch count (precise mode);
/// without, every problem counts (conservative mode). Tables and columns that only `live` has are
/// ignored unless they constrain the target's inserts.
pub fn rollback_verdict(target: &Snapshot, live: &Snapshot, uses: Option<&Uses>) -> Verdict {
    let mut found: Vec<(Problem, Reach<'_>)> = Vec::new();
    for (key, old) in &target.tables {
        let table = display_table(key);
        let Some(new) = live.tables.get(key) else {
            let renamed_to = live
                .tables
                .iter()
                .find(|(k, t)| !target.tables.contains_key(*k) && same_columns(old, t))
                .map(|(k, _)| display_table(k).to_owned());
            let hint = renamed_to.as_ref().map(|to| format!(" (it looks renamed to {to})")).unwrap_or_default();
            let message = format!("{} {table} is gone{hint}; the target's queries on it fail", old.kind);
            found.push((
                problem(table.to_owned(), ProblemKind::TableDropped { renamed_to }, message),
                Reach::Table(key),
            ));
            continue;
        };
        for (name, column) in &old.columns {
            let object = format!("{table}.{name}");
            let Some(now) = new.columns.get(name) else {
                let mut candidates = new
                    .columns
                    .iter()
                    .filter(|(n, c)| !old.columns.contains_key(*n) && c.data_type == column.data_type);
                let renamed_to = match (candidates.next(), candidates.next()) {
                    (Some((n, _)), None) => Some(n.clone()),
                    _ => None,
                };
                let hint =
                    renamed_to.as_ref().map(|to| format!(" (it looks renamed to {table}.{to})")).unwrap_or_default();
                let message = format!("column {object} is gone{hint}; the target's queries that name it fail");
                found.push((
                    problem(object, ProblemKind::ColumnDropped { renamed_to }, message),
                    Reach::Column(key, name),
                ));
                continue;
            };
            if column.data_type != now.data_type && !widens(&column.data_type, &now.data_type) {
                let message = format!(
                    "column {object} changed type from {} to {}, which is not a widening; the target may read or write values it no longer fits",
                    column.data_type, now.data_type
                );
                let kind = ProblemKind::TypeChanged { from: column.data_type.clone(), to: now.data_type.clone() };
                found.push((problem(object.clone(), kind, message), Reach::Column(key, name)));
            }
            if optional(column) && !optional(now) {
                let message = format!(
                    "column {object} is now NOT NULL without a default; the target's inserts that leave it out fail"
                );
                found.push((problem(object, ProblemKind::BecameRequired, message), Reach::Table(key)));
            }
        }
        for (name, column) in new.columns.iter().filter(|(n, _)| !old.columns.contains_key(*n)) {
            if !optional(column) {
                let object = format!("{table}.{name}");
                let message = format!(
                    "new column {object} is NOT NULL without a default; the target does not know it, so its inserts fail"
                );
                found.push((problem(object, ProblemKind::NewNotNullWithoutDefault, message), Reach::Table(key)));
            }
        }
        new_constraints(key, old, new, &mut found);
    }
    let mut verdict = Verdict { safe: true, problems: Vec::new(), unused: Vec::new(), checked: Vec::new() };
    for (problem, reach) in found {
        let counts = uses.is_none_or(|uses| match &reach {
            Reach::Table(key) => uses.touches_table(key),
            Reach::Column(key, column) => uses.touches_column(key, column),
            Reach::Columns(key, columns) if columns.is_empty() => uses.touches_table(key),
            Reach::Columns(key, columns) => columns.iter().any(|c| uses.touches_column(key, c)),
        });
        if counts { verdict.problems.push(problem) } else { verdict.unused.push(problem) }
    }
    verdict.safe = verdict.problems.is_empty();
    verdict
}

/// Constraints and unique indexes `new` has and `old` has not, on columns the target knows.
fn new_constraints<'a>(key: &'a str, old: &'a Table, new: &'a Table, found: &mut Vec<(Problem, Reach<'a>)>) {
    let table = display_table(key);
    let mut added = Vec::new();
    for c in &new.constraints {
        if !old.constraints.iter().any(|o| o.kind == c.kind && o.definition == c.definition) {
            added.push((&c.name, c.kind, &c.definition, &c.columns));
        }
    }
    for index in new.indexes.iter().filter(|i| i.unique && !i.backs_constraint) {
        if !old.indexes.iter().any(|o| o.unique && o.shape() == index.shape()) {
            added.push((&index.name, ConstraintKind::Unique, &index.definition, &index.columns));
        }
    }
    for (name, kind, definition, columns) in added {
        let known: Vec<&str> = columns.iter().map(String::as_str).filter(|c| old.columns.contains_key(*c)).collect();
        if !columns.is_empty() && known.is_empty() {
            // Only columns the target does not know: it writes NULL or their default there.
            continue;
        }
        let object = format!("{table}.{name}");
        let message = format!("new {kind} constraint {object} ({definition}) may reject the target's writes");
        let kind = ProblemKind::NewConstraint { name: name.clone(), constraint: kind, definition: definition.clone() };
        found.push((problem(object, kind, message), Reach::Columns(key, known)));
    }
}

pub(crate) fn problem(object: String, kind: ProblemKind, message: String) -> Problem {
    Problem { object, kind, message, query: None, unseen: None }
}

/// An insert may leave the column out.
fn optional(column: &Column) -> bool {
    column.nullable || column.default.is_some() || column.generated
}

fn same_columns(a: &Table, b: &Table) -> bool {
    a.kind == b.kind
        && a.columns.len() == b.columns.len()
        && a.columns.iter().all(|(name, c)| b.columns.get(name).is_some_and(|d| d.data_type == c.data_type))
}

/// A type split into its canonical base name and its parameters: `character varying(50)` is
/// (`character varying`, [50]); `timestamp(3) without time zone` is (`timestamp`, [3]).
#[derive(Debug, PartialEq, Eq)]
struct TypeName {
    base: String,
    params: Vec<u32>,
    array: usize,
}

fn parse_type(text: &str) -> TypeName {
    let mut text = text.trim().to_ascii_lowercase();
    let mut array = 0;
    while let Some(rest) = text.strip_suffix("[]") {
        text = rest.trim_end().to_owned();
        array += 1;
    }
    let (mut base, mut params) = (String::new(), Vec::new());
    let mut rest = text.as_str();
    while let Some(open) = rest.find('(') {
        base.push_str(&rest[..open]);
        let close = rest[open..].find(')').map_or(rest.len(), |c| open + c);
        params.extend(rest[open + 1..close].split(',').filter_map(|p| p.trim().parse::<u32>().ok()));
        rest = rest.get(close + 1..).unwrap_or("");
    }
    base.push_str(rest);
    let base = base.split_whitespace().collect::<Vec<_>>().join(" ");
    let base = match base.as_str() {
        "int" | "int4" | "integer" | "serial" | "serial4" | "mediumint" => "integer",
        "int2" | "smallint" | "smallserial" => "smallint",
        "int8" | "bigint" | "bigserial" | "serial8" => "bigint",
        "float4" | "real" => "real",
        "float8" | "float" | "double" | "double precision" => "double precision",
        "bool" | "boolean" => "boolean",
        "varchar" | "character varying" => "character varying",
        "char" | "character" | "bpchar" => "character",
        "decimal" | "numeric" => "numeric",
        "timestamp" | "timestamp without time zone" => "timestamp",
        "timestamptz" | "timestamp with time zone" => "timestamptz",
        "time" | "time without time zone" => "time",
        "timetz" | "time with time zone" => "timetz",
        other => other,
    };
    TypeName { base: base.to_owned(), params, array }
}

/// `to` holds every value `from` holds and reads back the same: varchar(50) → varchar(100) or text,
/// int → bigint, numeric(5,2) → numeric(7,2), timestamp(3) → timestamp.
pub fn widens(from: &str, to: &str) -> bool {
    let (from, to) = (parse_type(from), parse_type(to));
    if from == to {
        return true;
    }
    if from.array != to.array {
        return false;
    }
    let integer_rank = |base: &str| match base {
        "smallint" => Some((1, 5)),
        "integer" => Some((2, 10)),
        "bigint" => Some((3, 19)),
        _ => None,
    };
    // A missing length or precision means "unbounded"; otherwise the new one must be at least as big.
    let at_least = |old: Option<&u32>, new: Option<&u32>| match (old, new) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some(o), Some(n)) => n >= o,
    };
    match (from.base.as_str(), to.base.as_str()) {
        (a, b)
            if a == b
                && matches!(a, "character varying" | "timestamp" | "timestamptz" | "time" | "timetz" | "interval") =>
        {
            at_least(from.params.first(), to.params.first())
        }
        ("character varying", "text") | ("text", "character varying") => to.params.is_empty(),
        ("real", "double precision") => true,
        ("numeric", "numeric") => match (&from.params[..], &to.params[..]) {
            (_, []) => true,
            ([], _) => false,
            (old, new) => {
                let scale = |p: &[u32]| p.get(1).copied().unwrap_or(0);
                let (old_scale, new_scale) = (scale(old), scale(new));
                new_scale >= old_scale && new[0].saturating_sub(new_scale) >= old[0].saturating_sub(old_scale)
            }
        },
        (a, "numeric") => match (integer_rank(a), to.params.first()) {
            (Some(_), None) => true,
            (Some((_, digits)), Some(precision)) => {
                precision.saturating_sub(to.params.get(1).copied().unwrap_or(0)) >= digits
            }
            (None, _) => false,
        },
        (a, b) => matches!((integer_rank(a), integer_rank(b)), (Some((x, _)), Some((y, _))) if y >= x),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Constraint, Index};

    fn column(data_type: &str, nullable: bool, default: Option<&str>) -> Column {
        Column::new(data_type, nullable, default)
    }

    /// `users(id bigint not null, full_name text)`, the seed texts' v1 schema.
    fn v1() -> Snapshot {
        let mut users = Table::default();
        users.columns.insert("id".into(), column("bigint", false, Some("nextval('users_id_seq'::regclass)")));
        users.columns.insert("full_name".into(), column("text", true, None));
        users.columns.insert("age".into(), column("integer", true, None));
        users.columns.insert("email".into(), column("character varying(50)", true, None));
        users.constraints.push(Constraint {
            name: "users_pkey".into(),
            kind: ConstraintKind::PrimaryKey,
            definition: "PRIMARY KEY (id)".into(),
            columns: vec!["id".into()],
            validated: true,
            references: None,
        });
        let mut audit = Table::default();
        audit.columns.insert("id".into(), column("bigint", false, None));
        Snapshot {
            tables: BTreeMap::from([("public.users".into(), users), ("public.audit".into(), audit)]),
            ..Default::default()
        }
    }

    fn edit(change: impl FnOnce(&mut Snapshot)) -> Snapshot {
        let mut snapshot = v1();
        change(&mut snapshot);
        snapshot
    }

    fn users(s: &mut Snapshot) -> &mut Table {
        s.tables.get_mut("public.users").unwrap()
    }

    fn kinds(verdict: &Verdict) -> Vec<(&str, &ProblemKind)> {
        verdict.problems.iter().map(|p| (p.object.as_str(), &p.kind)).collect()
    }

    #[test]
    fn each_problem_kind_fires_on_its_change_and_not_on_the_harmless_one() {
        let dropped = |renamed_to: Option<&str>| ProblemKind::ColumnDropped { renamed_to: renamed_to.map(Into::into) };
        type Case = (&'static str, fn(&mut Snapshot), Vec<(&'static str, ProblemKind)>);
        let cases: Vec<Case> = vec![
            ("identical schema", |_| {}, vec![]),
            (
                "new nullable column",
                |s| drop(users(s).columns.insert("name".into(), column("text", true, None))),
                vec![],
            ),
            ("new table", |s| drop(s.tables.insert("public.orders".into(), Table::default())), vec![]),
            (
                "dropped table",
                |s| drop(s.tables.remove("public.audit")),
                vec![("audit", ProblemKind::TableDropped { renamed_to: None })],
            ),
            (
                "renamed table",
                |s| {
                    let audit = s.tables.remove("public.audit").unwrap();
                    s.tables.insert("public.audit_log".into(), audit);
                },
                vec![("audit", ProblemKind::TableDropped { renamed_to: Some("audit_log".into()) })],
            ),
            (
                "dropped column",
                |s| drop(users(s).columns.remove("full_name")),
                vec![("users.full_name", dropped(None))],
            ),
            (
                "renamed column",
                |s| {
                    let c = users(s).columns.remove("full_name").unwrap();
                    users(s).columns.insert("name".into(), c);
                },
                vec![("users.full_name", dropped(Some("name")))],
            ),
            (
                "dropped column, two candidates: no hint",
                |s| {
                    users(s).columns.remove("full_name");
                    users(s).columns.insert("name".into(), column("text", true, None));
                    users(s).columns.insert("nick".into(), column("text", true, None));
                },
                vec![("users.full_name", dropped(None))],
            ),
            (
                "varchar widened",
                |s| users(s).columns.get_mut("email").unwrap().data_type = "character varying(100)".into(),
                vec![],
            ),
            ("varchar to text", |s| users(s).columns.get_mut("email").unwrap().data_type = "text".into(), vec![]),
            ("int to bigint", |s| users(s).columns.get_mut("age").unwrap().data_type = "bigint".into(), vec![]),
            (
                "varchar narrowed",
                |s| users(s).columns.get_mut("email").unwrap().data_type = "character varying(20)".into(),
                vec![(
                    "users.email",
                    ProblemKind::TypeChanged {
                        from: "character varying(50)".into(),
                        to: "character varying(20)".into(),
                    },
                )],
            ),
            (
                "int to text",
                |s| users(s).columns.get_mut("age").unwrap().data_type = "text".into(),
                vec![("users.age", ProblemKind::TypeChanged { from: "integer".into(), to: "text".into() })],
            ),
            (
                "new not null without default",
                |s| drop(users(s).columns.insert("status".into(), column("text", false, None))),
                vec![("users.status", ProblemKind::NewNotNullWithoutDefault)],
            ),
            (
                "new not null with default",
                |s| drop(users(s).columns.insert("status".into(), column("text", false, Some("'active'::text")))),
                vec![],
            ),
            (
                "new not null identity",
                |s| {
                    let mut c = column("bigint", false, None);
                    c.generated = true;
                    users(s).columns.insert("seq".into(), c);
                },
                vec![],
            ),
            (
                "existing column set not null",
                |s| users(s).columns.get_mut("full_name").unwrap().nullable = false,
                vec![("users.full_name", ProblemKind::BecameRequired)],
            ),
            ("existing column drop not null", |s| users(s).columns.get_mut("id").unwrap().nullable = true, vec![]),
            (
                "default dropped from a not null column",
                |s| users(s).columns.get_mut("id").unwrap().default = None,
                vec![("users.id", ProblemKind::BecameRequired)],
            ),
            (
                "new check on a known column",
                |s| {
                    users(s).constraints.push(Constraint {
                        name: "users_age_check".into(),
                        kind: ConstraintKind::Check,
                        definition: "CHECK ((age > 0))".into(),
                        columns: vec!["age".into()],
                        validated: true,
                        references: None,
                    })
                },
                vec![(
                    "users.users_age_check",
                    ProblemKind::NewConstraint {
                        name: "users_age_check".into(),
                        constraint: ConstraintKind::Check,
                        definition: "CHECK ((age > 0))".into(),
                    },
                )],
            ),
            (
                "renamed constraint with the same definition",
                |s| users(s).constraints[0].name = "users_primary".into(),
                vec![],
            ),
            (
                "new unique constraint only on a new column",
                |s| {
                    users(s).columns.insert("handle".into(), column("text", true, None));
                    users(s).constraints.push(Constraint {
                        name: "users_handle_key".into(),
                        kind: ConstraintKind::Unique,
                        definition: "UNIQUE (handle)".into(),
                        columns: vec!["handle".into()],
                        validated: true,
                        references: None,
                    });
                },
                vec![],
            ),
            (
                "new unique index on a known column",
                |s| {
                    users(s).indexes.push(Index {
                        name: "users_email_idx".into(),
                        definition: "CREATE UNIQUE INDEX users_email_idx ON public.users USING btree (email)".into(),
                        unique: true,
                        columns: vec!["email".into()],
                        backs_constraint: false,
                        partial: false,
                        nulls_not_distinct: false,
                    })
                },
                vec![(
                    "users.users_email_idx",
                    ProblemKind::NewConstraint {
                        name: "users_email_idx".into(),
                        constraint: ConstraintKind::Unique,
                        definition: "CREATE UNIQUE INDEX users_email_idx ON public.users USING btree (email)".into(),
                    },
                )],
            ),
            (
                "new plain index",
                |s| {
                    users(s).indexes.push(Index {
                        name: "users_email_idx".into(),
                        definition: "CREATE INDEX users_email_idx ON public.users USING btree (email)".into(),
                        unique: false,
                        columns: vec!["email".into()],
                        backs_constraint: false,
                        partial: false,
                        nulls_not_distinct: false,
                    })
                },
                vec![],
            ),
        ];
        for (name, change, expected) in cases {
            let verdict = rollback_verdict(&v1(), &edit(change), None);
            let expected: Vec<(&str, &ProblemKind)> = expected.iter().map(|(o, k)| (*o, k)).collect();
            assert_eq!(kinds(&verdict), expected, "{name}");
            assert_eq!(verdict.safe, expected.is_empty(), "{name}");
            assert!(verdict.unused.is_empty(), "{name}");
        }
    }

    #[test]
    fn messages_name_the_object_and_the_rename() {
        let live = edit(|s| {
            let c = users(s).columns.remove("full_name").unwrap();
            users(s).columns.insert("name".into(), c);
        });
        let verdict = rollback_verdict(&v1(), &live, None);
        assert_eq!(
            verdict.problems[0].message,
            "column users.full_name is gone (it looks renamed to users.name); the target's queries that name it fail"
        );
    }

    #[test]
    fn precise_mode_counts_only_problems_on_what_the_target_touches() {
        let live = edit(|s| {
            users(s).columns.remove("full_name");
            users(s).columns.insert("status".into(), column("text", false, None));
            s.tables.remove("public.audit");
        });
        let cases: &[(&str, Option<Uses>, &[&str])] = &[
            ("conservative", None, &["audit", "users.full_name", "users.status"]),
            ("touches nothing", Some(Uses::default()), &[]),
            ("reads users.id only", Some(Uses::default().with_table("users", ["id"])), &["users.status"]),
            (
                "reads users.full_name, qualified",
                Some(Uses::default().with_table("public.users", ["full_name"])),
                &["users.full_name", "users.status"],
            ),
            ("select star", Some(Uses::default().with_table("users", ["*"])), &["users.full_name", "users.status"]),
            ("audit only", Some(Uses::default().with_table("audit", [])), &["audit"]),
        ];
        for (name, uses, expected) in cases {
            let verdict = rollback_verdict(&v1(), &live, uses.as_ref());
            let objects: Vec<&str> = verdict.problems.iter().map(|p| p.object.as_str()).collect();
            assert_eq!(objects, *expected, "{name}");
            assert_eq!(
                verdict.problems.len() + verdict.unused.len(),
                3,
                "{name}: every difference is reported somewhere"
            );
            assert_eq!(verdict.safe, expected.is_empty(), "{name}");
        }
    }

    #[test]
    fn precise_mode_counts_a_new_constraint_only_on_columns_the_target_uses() {
        let live = edit(|s| {
            users(s).constraints.push(Constraint {
                name: "users_age_check".into(),
                kind: ConstraintKind::Check,
                definition: "CHECK ((age > 0))".into(),
                columns: vec!["age".into()],
                validated: true,
                references: None,
            })
        });
        let cases = [(vec!["id", "full_name"], true), (vec!["age"], false)];
        for (columns, safe) in cases {
            let uses = Uses::default().with_table("users", columns.iter().copied());
            assert_eq!(rollback_verdict(&v1(), &live, Some(&uses)).safe, safe, "{columns:?}");
        }
    }

    #[test]
    fn widenings_are_told_from_narrowings() {
        let cases: &[(&str, &str, bool)] = &[
            ("character varying(50)", "character varying(100)", true),
            ("character varying(50)", "character varying", true),
            ("character varying(50)", "text", true),
            ("varchar(50)", "VARCHAR(50)", true),
            ("character varying(100)", "character varying(50)", false),
            ("text", "character varying(50)", false),
            ("text", "character varying", true),
            ("smallint", "integer", true),
            ("integer", "bigint", true),
            ("int4", "int8", true),
            ("bigint", "integer", false),
            ("integer", "numeric", true),
            ("integer", "numeric(12,2)", true),
            ("bigint", "numeric(12,2)", false),
            ("numeric(5,2)", "numeric(7,2)", true),
            ("numeric(5,2)", "numeric(7,4)", true),
            ("numeric(5,2)", "numeric(5,3)", false),
            ("numeric(5,2)", "numeric", true),
            ("numeric", "numeric(10,2)", false),
            ("real", "double precision", true),
            ("double precision", "real", false),
            ("timestamp(3) without time zone", "timestamp without time zone", true),
            ("timestamp without time zone", "timestamp(3) without time zone", false),
            ("timestamp without time zone", "timestamp with time zone", false),
            ("integer[]", "bigint[]", true),
            ("integer[]", "integer", false),
            ("character(10)", "text", false),
            ("text", "integer", false),
            ("uuid", "uuid", true),
        ];
        for (from, to, widening) in cases {
            assert_eq!(widens(from, to), *widening, "{from} -> {to}");
        }
    }
}
