//! The rollback verdict from the complete schema picture: [`verdict`] compares the schema a revision
//! was built against with another one and, given the revision's queries, counts only what they reach.
//!
//! Right by construction where it can be (a dropped column a query names, a new NOT NULL column an
//! insert cannot fill, a generated column written explicitly, a dropped function or sequence called),
//! conservative where it cannot (the values a query writes against a new rule, a trigger function's
//! body, a `DO` block): those count as unsafe with `unseen` saying what could not be seen.
//!
//! The gate's use, [`check_expand`], attributes every new problem to the expand statement that
//! caused it.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::model::{Column, Constraint, ConstraintKind, Engine, Snapshot, Table, display_table};
use crate::usage::{OldQuery, QueryUse, WriteKind, read_query};
use crate::verdict::{Problem, ProblemKind, Verdict, problem, widens};

/// What part of the target a difference hurts: which uses make it count in precise mode.
#[derive(Debug, Clone)]
enum Reach {
    /// Any read or write of the table (and the column, when given).
    Use(String, Option<String>),
    /// An insert into the table.
    Insert(String),
    /// A write giving one of these columns a value (an insert naming it or without a column list, an
    /// update setting it); `inserts`: every insert too.
    WriteColumns {
        table: String,
        columns: Vec<String>,
        inserts: bool,
    },
    /// An insert that leaves the column out.
    InsertOmitting(String, String),
    /// Writes of these kinds to the table (a trigger's events, a view's lost writes).
    Writes(String, Vec<WriteKind>),
    /// A delete from the table, or an update of these of its columns (a referenced key).
    DeleteOrKeyUpdate {
        table: String,
        columns: Vec<String>,
        deletes: bool,
        updates: bool,
    },
    /// Any use of a column of this type, or a write to one when `writes_only`.
    TypeUse {
        type_key: String,
        writes_only: bool,
    },
    Function(String),
    Sequence(String),
}

struct Candidate {
    problem: Problem,
    reach: Vec<Reach>,
    /// Why a hit may still be fine: what the verdict cannot see. None: a hit fails for certain.
    unseen: Option<&'static str>,
}

const VALUES: &str = "whether the values the target writes satisfy the new rule is not known before they are written";
const TYPE: &str = "whether every value the target reads or writes fits the new type is not known";
const TRIGGER: &str = "a trigger function's body is not analysed";
const RLS: &str =
    "whether the app's role is subject to row security, and which rows the policies let through, is not known";
const BODY: &str = "a function's body is not analysed";
const ENUM: &str = "whether the target uses the removed values is not known";
const DELETE: &str = "whether rows referencing the deleted ones exist is not known";
const STAR: &str =
    "the query names the column only through `*`; whether the code reading its rows needs it is not known";
const PARTITION: &str = "whether every row the target writes falls in a partition's bounds is not known";

/// Whether a revision built against `target` can run on `live`.
///
/// Conservative (`queries` is `None`): every difference counts, each with `unseen` saying that the
/// target's queries were not given. Precise: `queries` are the target's own queries (file:line or
/// name, and text), read with PostgreSQL's parser; a difference counts when a query reaches it (or
/// when a query cannot be read, or calls a user function whose body is not analysed), and `checks`
/// (each query prepared against `live`, from `Database::check_queries`) adds every query that no
/// longer prepares. Every problem names the object, the query when known, and why; `checked` lists
/// what precise mode checked.
pub fn verdict(
    target: &Snapshot,
    live: &Snapshot,
    queries: Option<&[OldQuery]>,
    checks: &[(String, Result<(), String>)],
) -> Verdict {
    let candidates = differences(target, live);
    let mut verdict = Verdict { safe: true, problems: Vec::new(), unused: Vec::new(), checked: Vec::new() };
    let Some(queries) = queries else {
        for c in candidates {
            let mut p = c.problem;
            p.unseen = Some(c.unseen.map_or_else(
                || {
                    "conservative: the target's queries were not given, so it counts whether or not they use it"
                        .to_owned()
                },
                |u| format!("conservative: the target's queries were not given; and {u}"),
            ));
            verdict.problems.push(p);
        }
        verdict.safe = verdict.problems.is_empty();
        return verdict;
    };
    let uses: Vec<QueryUse> = queries.iter().map(|q| read_query(q, target)).collect();
    for u in &uses {
        let tables: Vec<&str> = u.reads.keys().map(|k| display_table(k)).collect();
        let line = match &u.opaque {
            Some(reason) => format!("query {}: cannot be read: {reason}", u.name),
            None => format!(
                "query {}: touches {}",
                u.name,
                if tables.is_empty() { "no table".into() } else { tables.join(", ") }
            ),
        };
        verdict.checked.push(line);
    }
    for (name, check) in checks {
        if let Err(error) = check {
            let mut p = problem(
                format!("query {name}"),
                ProblemKind::QueryFails { error: error.clone() },
                format!("the target's query {name} fails on this schema: {error}"),
            );
            p.query = Some(name.clone());
            verdict.problems.push(p);
        }
    }
    for c in candidates {
        let hit = uses.iter().find_map(|u| {
            if let Some(reason) = &u.opaque {
                return Some((u, Some(format!("the query cannot be read: {reason}"))));
            }
            if let Some(f) = u.functions.iter().next() {
                return Some((u, Some(format!("it calls {f}, and {BODY}"))));
            }
            if !c.reach.iter().any(|r| reaches(r, u, target, live)) {
                return None;
            }
            // A column reached only through `*`: the query still runs without it.
            let star_only = c.reach.iter().any(|r| match r {
                Reach::Use(table, Some(column)) => {
                    !u.reads.get(table).is_some_and(|cols| cols.contains(column))
                        && !u.writes.iter().any(|w| w.table == *table && w.columns.contains(column))
                }
                _ => false,
            });
            let unseen = match (c.unseen, star_only) {
                (Some(u), _) => Some(u.to_owned()),
                (None, true) => Some(STAR.to_owned()),
                (None, false) => None,
            };
            Some((u, unseen))
        });
        match hit {
            Some((u, unseen)) => {
                let mut p = c.problem;
                p.message = format!("{} (query {})", p.message, u.name);
                p.query = Some(u.name.clone());
                p.unseen = unseen;
                verdict.problems.push(p);
            }
            None => {
                verdict.checked.push(format!("{}: set aside, no query reaches it", c.problem.object));
                verdict.unused.push(c.problem);
            }
        }
    }
    verdict.safe = verdict.problems.is_empty();
    verdict
}

/// `key` is written by `write_table`: the same table, or a partition of it.
fn written_through(key: &str, write_table: &str, live: &Snapshot) -> bool {
    key == write_table
        || live.tables.get(key).and_then(|t| t.partition_of.as_deref()).is_some_and(|parent| {
            parent == write_table
                || live.tables.get(parent).and_then(|p| p.partition_of.as_deref()) == Some(write_table)
        })
}

fn reaches(reach: &Reach, u: &QueryUse, target: &Snapshot, live: &Snapshot) -> bool {
    match reach {
        Reach::Use(table, column) => u.touches(table, column.as_deref()),
        Reach::Insert(table) => {
            u.writes.iter().any(|w| w.kind == WriteKind::Insert && written_through(table, &w.table, live))
        }
        Reach::WriteColumns { table, columns, inserts } => u.writes.iter().any(|w| {
            written_through(table, &w.table, live)
                && match w.kind {
                    WriteKind::Insert => *inserts || columns.iter().any(|c| w.names(c)),
                    WriteKind::Update => columns.iter().any(|c| w.names(c)) || columns.is_empty(),
                    WriteKind::Delete => false,
                }
        }),
        Reach::InsertOmitting(table, column) => u
            .writes
            .iter()
            .any(|w| w.kind == WriteKind::Insert && written_through(table, &w.table, live) && !w.names(column)),
        Reach::Writes(table, kinds) => {
            u.writes.iter().any(|w| kinds.contains(&w.kind) && written_through(table, &w.table, live))
        }
        Reach::DeleteOrKeyUpdate { table, columns, deletes, updates } => u.writes.iter().any(|w| {
            written_through(table, &w.table, live)
                && match w.kind {
                    WriteKind::Delete => *deletes,
                    WriteKind::Update => *updates && (columns.is_empty() || columns.iter().any(|c| w.names(c))),
                    WriteKind::Insert => false,
                }
        }),
        Reach::TypeUse { type_key, writes_only } => target.tables.iter().any(|(key, table)| {
            table.columns.iter().any(|(name, c)| {
                c.type_key.as_deref() == Some(type_key.as_str())
                    && if *writes_only {
                        u.writes.iter().any(|w| w.table == *key && w.kind != WriteKind::Delete && w.names(name))
                    } else {
                        u.touches(key, Some(name))
                    }
            })
        }),
        Reach::Function(name) => u.functions.contains(name),
        Reach::Sequence(name) => u.sequences.contains(name),
    }
}

/// Every difference between `target` and `live` that could fail the target, with what it reaches.
fn differences(target: &Snapshot, live: &Snapshot) -> Vec<Candidate> {
    let mut found = Vec::new();
    let mut add = |problem: Problem, reach: Vec<Reach>, unseen: Option<&'static str>| {
        found.push(Candidate { problem, reach, unseen });
    };
    for (key, old) in &target.tables {
        let name = display_table(key);
        let Some(new) = live.tables.get(key) else {
            let renamed_to = live
                .tables
                .iter()
                .find(|(k, t)| !target.tables.contains_key(*k) && same_shape(old, t))
                .map(|(k, _)| display_table(k).to_owned());
            let hint =
                renamed_to.as_ref().map(|to| format!(" (it looks renamed or moved to {to})")).unwrap_or_default();
            let message = format!("{} {name} is gone{hint}; the target's queries on it fail", old.kind);
            add(
                problem(name.into(), ProblemKind::TableDropped { renamed_to }, message),
                vec![Reach::Use(key.clone(), None)],
                None,
            );
            continue;
        };
        table_differences(live, key, old, new, &mut add);
        // Partitions the table gained: their rules apply to the target's writes to it.
        for (part_key, part) in live
            .tables
            .iter()
            .filter(|(k, t)| t.partition_of.as_deref() == Some(key.as_str()) && !target.tables.contains_key(*k))
        {
            rules_differences(part_key, old, part, &mut add);
        }
        if new.partitioned && !old.partitioned {
            let has_default = live.tables.values().any(|t| {
                t.partition_of.as_deref() == Some(key.as_str()) && t.partition_bound.as_deref() == Some("DEFAULT")
            });
            if !has_default {
                let message = format!(
                    "table {name} is now partitioned without a default partition; rows outside the partitions' bounds are refused"
                );
                add(
                    problem(name.into(), ProblemKind::Partitioned, message),
                    vec![
                        Reach::Insert(key.clone()),
                        Reach::WriteColumns { table: key.clone(), columns: Vec::new(), inserts: false },
                    ],
                    Some(PARTITION),
                );
            }
        }
    }
    // New tables whose foreign keys refuse deletes from a table the target knows.
    for (key, new) in live.tables.iter().filter(|(k, _)| !target.tables.contains_key(*k)) {
        for c in new.constraints.iter().filter(|c| c.kind == ConstraintKind::ForeignKey) {
            let Some(parent) = c.references.as_deref().filter(|p| target.tables.contains_key(*p)) else { continue };
            if let Some(reach) = parent_reach(parent, c) {
                let object = format!("{}.{}", display_table(key), c.name);
                let message = format!(
                    "new table {} references {} ({}); the target's deletes or key updates there may be refused",
                    display_table(key),
                    display_table(parent),
                    c.rule()
                );
                let kind = ProblemKind::ReferencedBy { table: display_table(key).into(), definition: c.rule().into() };
                add(problem(object, kind, message), vec![reach], Some(DELETE));
            }
        }
    }
    for (enum_type, values) in &target.enums {
        let now = live.enums.get(enum_type);
        let removed: Vec<String> = values.iter().filter(|v| now.is_none_or(|n| !n.contains(v))).cloned().collect();
        if !removed.is_empty() {
            let message = format!(
                "enum {enum_type} lost the values {}; the target's reads and writes of them fail",
                removed.join(", ")
            );
            let kind = ProblemKind::EnumValuesRemoved { enum_type: enum_type.clone(), removed };
            add(
                problem(enum_type.clone(), kind, message),
                vec![Reach::TypeUse { type_key: enum_type.clone(), writes_only: false }],
                Some(ENUM),
            );
        }
    }
    for (domain, old) in &target.domains {
        let Some(new) = live.domains.get(domain) else { continue };
        let tighter = (new.not_null && !old.not_null) || new.checks.iter().any(|c| !old.checks.contains(c));
        if tighter {
            let message = format!(
                "domain {domain} has a new NOT NULL or CHECK rule; the target's writes to its columns may be refused"
            );
            add(
                problem(domain.clone(), ProblemKind::DomainTightened { domain: domain.clone() }, message),
                vec![Reach::TypeUse { type_key: domain.clone(), writes_only: true }],
                Some(VALUES),
            );
        }
    }
    for (function, overloads) in &target.functions {
        for old in overloads {
            let now = live.functions.get(function).and_then(|o| o.iter().find(|f| f.arguments == old.arguments));
            let change = match now {
                None => "is gone or takes other arguments",
                Some(f) if f.returns != old.returns => "returns another type",
                Some(f) if f.body_digest != old.body_digest => "has another body",
                Some(_) => continue,
            };
            let object = format!("{function}({})", old.arguments);
            let kind = ProblemKind::FunctionChanged { function: function.clone(), change: change.into() };
            if old.returns == "trigger" {
                // A trigger function: it runs on the writes its triggers fire on.
                let reach: Vec<Reach> = target
                    .tables
                    .iter()
                    .flat_map(|(key, t)| {
                        t.triggers.iter().filter(|tr| tr.function == *function).map(|tr| {
                            Reach::Writes(key.clone(), tr.events.iter().filter_map(|e| write_kind(e)).collect())
                        })
                    })
                    .collect();
                let message =
                    format!("trigger function {object} {change}; it runs on the target's writes and may refuse them");
                add(problem(object, kind, message), reach, Some(TRIGGER));
                continue;
            }
            let message = format!("function {object} {change}; the target's calls of it may fail");
            let unseen = (change == "has another body").then_some(BODY);
            add(problem(object, kind, message), vec![Reach::Function(function.clone())], unseen);
        }
    }
    for sequence in target.sequences.iter().filter(|s| !live.sequences.contains(*s)) {
        let message = format!("sequence {sequence} is gone; the target's nextval calls on it fail");
        add(
            problem(sequence.clone(), ProblemKind::SequenceDropped, message),
            vec![Reach::Sequence(sequence.clone())],
            None,
        );
    }
    found
}

type Add<'a> = dyn FnMut(Problem, Vec<Reach>, Option<&'static str>) + 'a;

fn table_differences(live: &Snapshot, key: &str, old: &Table, new: &Table, add: &mut Add<'_>) {
    let name = display_table(key);
    let not_null_before = implied_not_null(old);
    for (column, was) in &old.columns {
        let object = format!("{name}.{column}");
        let Some(now) = new.columns.get(column) else {
            let mut candidates =
                new.columns.iter().filter(|(n, c)| !old.columns.contains_key(*n) && c.data_type == was.data_type);
            let renamed_to = match (candidates.next(), candidates.next()) {
                (Some((n, _)), None) => Some(n.clone()),
                _ => None,
            };
            let hint = renamed_to.as_ref().map(|to| format!(" (it looks renamed to {name}.{to})")).unwrap_or_default();
            let message = format!("column {object} is gone{hint}; the target's queries that name it fail");
            add(
                problem(object, ProblemKind::ColumnDropped { renamed_to }, message),
                vec![Reach::Use(key.into(), Some(column.clone()))],
                None,
            );
            continue;
        };
        if !type_fits(live.engine, was, now) {
            let message = format!(
                "column {object} changed type from {} to {}, which is not a widening; the target may read or write values it no longer fits",
                was.data_type, now.data_type
            );
            let kind = ProblemKind::TypeChanged { from: was.data_type.clone(), to: now.data_type.clone() };
            add(problem(object.clone(), kind, message), vec![Reach::Use(key.into(), Some(column.clone()))], Some(TYPE));
        }
        if now.refuses_writes() && !was.refuses_writes() {
            let message = format!(
                "column {object} is now generated always; the target's writes that give it a value are refused"
            );
            add(
                problem(object.clone(), ProblemKind::BecameGenerated, message),
                vec![Reach::WriteColumns { table: key.into(), columns: vec![column.clone()], inserts: false }],
                None,
            );
        }
        let null_now = now.nullable && !implied_not_null(new).contains(column.as_str());
        if !null_now && !not_null_before.contains(column.as_str()) && was.nullable {
            let message = format!("column {object} is now NOT NULL; the target's writes of NULL there are refused");
            let mut reach =
                vec![Reach::WriteColumns { table: key.into(), columns: vec![column.clone()], inserts: false }];
            if now.default.is_none() && !now.generated {
                reach.push(Reach::InsertOmitting(key.into(), column.clone()));
            }
            add(problem(object.clone(), ProblemKind::BecameRequired, message), reach, Some(VALUES));
        } else if !now.nullable && now.default.is_none() && !now.generated && (was.default.is_some() || was.generated) {
            let message = format!("column {object} lost its default; the target's inserts that leave it out fail");
            add(
                problem(object.clone(), ProblemKind::BecameRequired, message),
                vec![Reach::InsertOmitting(key.into(), column.clone())],
                None,
            );
        }
    }
    for (column, c) in new.columns.iter().filter(|(n, _)| !old.columns.contains_key(*n)) {
        if !c.nullable && c.default.is_none() && !c.generated {
            let object = format!("{name}.{column}");
            let message = format!(
                "new column {object} is NOT NULL without a default; the target does not know it, so its inserts fail"
            );
            add(problem(object, ProblemKind::NewNotNullWithoutDefault, message), vec![Reach::Insert(key.into())], None);
        }
    }
    let lost: Vec<String> = old.writable.iter().filter(|w| !new.writable.contains(w)).cloned().collect();
    if !lost.is_empty() {
        let kinds = lost.iter().filter_map(|w| write_kind(w)).collect();
        let message = format!("view {name} no longer accepts {}; the target's writes through it fail", lost.join(", "));
        add(
            problem(name.into(), ProblemKind::ViewLostWrites { writes: lost }, message),
            vec![Reach::Writes(key.into(), kinds)],
            None,
        );
    }
    if (new.row_security.0 && !old.row_security.0) || new.policies.iter().any(|p| !old.policies.contains(p)) {
        let policy = new.policies.iter().find(|p| !old.policies.contains(p)).map(|p| p.name.clone());
        let message = format!(
            "table {name} has new row-level security; the target's reads may see fewer rows and its writes may be refused"
        );
        add(
            problem(name.into(), ProblemKind::RowSecurity { policy }, message),
            vec![Reach::Use(key.into(), None)],
            Some(RLS),
        );
    }
    rules_differences(key, old, new, add);
}

/// New constraints, unique indexes and triggers of `new` (the table `key`, or a partition of `old`).
fn rules_differences(key: &str, old: &Table, new: &Table, add: &mut Add<'_>) {
    let name = display_table(key);
    let not_null_before = implied_not_null(old);
    let old_keys: Vec<BTreeSet<&str>> = old
        .constraints
        .iter()
        .filter(|c| matches!(c.kind, ConstraintKind::PrimaryKey | ConstraintKind::Unique))
        .map(|c| c.columns.iter().map(String::as_str).collect())
        .chain(
            old.indexes
                .iter()
                .filter(|i| i.unique && !i.partial && !i.columns.is_empty())
                .map(|i| i.columns.iter().map(String::as_str).collect()),
        )
        .collect();
    for c in &new.constraints {
        if old.constraints.iter().any(|o| o.kind == c.kind && o.rule() == c.rule()) {
            continue;
        }
        let columns: BTreeSet<&str> = c.columns.iter().map(String::as_str).collect();
        // Implied by what the target already satisfied: `CHECK (x IS NOT NULL)` by NOT NULL, a key by a
        // narrower key.
        if c.kind == ConstraintKind::Check && is_not_null_check(c).is_some_and(|col| not_null_before.contains(col)) {
            continue;
        }
        if matches!(c.kind, ConstraintKind::PrimaryKey | ConstraintKind::Unique)
            && old_keys.iter().any(|k| !k.is_empty() && k.is_subset(&columns))
            && (c.kind == ConstraintKind::Unique || columns.iter().all(|col| not_null_before.contains(col)))
        {
            continue;
        }
        let only_new = !columns.is_empty() && columns.iter().all(|col| !old.columns.contains_key(*col));
        let all_null =
            columns.iter().all(|col| new.columns.get(*col).is_some_and(|n| n.default.is_none() && !n.generated));
        let object = format!("{name}.{}", c.name);
        let kind =
            ProblemKind::NewConstraint { name: c.name.clone(), constraint: c.kind, definition: c.definition.clone() };
        let message = format!("new {} constraint {object} ({}) may reject the target's writes", c.kind, c.rule());
        let mut reach = Vec::new();
        let null_passes = match c.kind {
            ConstraintKind::ForeignKey => true,
            ConstraintKind::Unique => !c.rule().contains("NULLS NOT DISTINCT"),
            ConstraintKind::Check => null_tolerant(c.rule()),
            _ => false,
        };
        if !(only_new && all_null && null_passes) {
            reach.push(Reach::WriteColumns { table: key.into(), columns: c.columns.clone(), inserts: true });
        }
        if c.kind == ConstraintKind::ForeignKey {
            if let Some(parent) = c.references.as_deref().and_then(|p| parent_reach(p, c)) {
                reach.push(parent);
            }
        }
        if !reach.is_empty() {
            add(problem(object, kind, message), reach, Some(VALUES));
        }
    }
    for index in new.indexes.iter().filter(|i| i.unique && !i.backs_constraint) {
        if old
            .indexes
            .iter()
            .any(|o| o.unique && o.shape() == index.shape() && o.nulls_not_distinct == index.nulls_not_distinct)
        {
            continue;
        }
        let columns: BTreeSet<&str> = index.columns.iter().map(String::as_str).collect();
        if !index.partial
            && !index.nulls_not_distinct
            && old_keys.iter().any(|k| !k.is_empty() && k.is_subset(&columns))
        {
            continue;
        }
        let only_new = !columns.is_empty() && columns.iter().all(|col| !old.columns.contains_key(*col));
        let all_null =
            columns.iter().all(|col| new.columns.get(*col).is_some_and(|n| n.default.is_none() && !n.generated));
        if only_new && all_null && !index.nulls_not_distinct {
            continue;
        }
        let object = format!("{name}.{}", index.name);
        let message = format!("new unique index {object} ({}) may reject the target's writes", index.shape());
        let kind = ProblemKind::NewConstraint {
            name: index.name.clone(),
            constraint: ConstraintKind::Unique,
            definition: index.definition.clone(),
        };
        add(
            problem(object, kind, message),
            vec![Reach::WriteColumns { table: key.into(), columns: index.columns.clone(), inserts: true }],
            Some(VALUES),
        );
    }
    for trigger in &new.triggers {
        let same = old.triggers.iter().any(|o| o.definition == trigger.definition);
        if same || trigger.timing == "instead of" {
            continue;
        }
        let kinds: Vec<WriteKind> = trigger.events.iter().filter_map(|e| write_kind(e)).collect();
        let object = format!("{name}.{}", trigger.name);
        let message = format!(
            "trigger {object} ({} {}) runs on the target's writes and may refuse them",
            trigger.timing,
            trigger.events.join(" or ")
        );
        let kind = ProblemKind::NewTrigger { name: trigger.name.clone(), events: trigger.events.clone() };
        add(problem(object, kind, message), vec![Reach::Writes(key.into(), kinds)], Some(TRIGGER));
    }
}

/// The reach on the referenced table of a foreign key: deletes unless they cascade or set null,
/// key updates unless they cascade.
fn parent_reach(parent: &str, c: &Constraint) -> Option<Reach> {
    let rule = c.rule().to_ascii_uppercase();
    let deletes = !(rule.contains("ON DELETE CASCADE") || rule.contains("ON DELETE SET"));
    let updates = !(rule.contains("ON UPDATE CASCADE") || rule.contains("ON UPDATE SET"));
    let columns = rule
        .split_once("REFERENCES")
        .and_then(|(_, rest)| {
            rest.split_once('(').and_then(|(_, cols)| cols.split_once(')')).map(|(cols, _)| cols.to_owned())
        })
        .map(|cols| cols.split(',').map(|c| c.trim().trim_matches('"').to_ascii_lowercase()).collect())
        .unwrap_or_default();
    (deletes || updates).then(|| Reach::DeleteOrKeyUpdate { table: parent.to_owned(), columns, deletes, updates })
}

fn write_kind(event: &str) -> Option<WriteKind> {
    match event {
        "insert" => Some(WriteKind::Insert),
        "update" => Some(WriteKind::Update),
        "delete" => Some(WriteKind::Delete),
        _ => None,
    }
}

/// Columns that cannot hold NULL: NOT NULL, or a `CHECK (x IS NOT NULL)` (validated or not: a NOT
/// VALID check still holds for every write).
fn implied_not_null(table: &Table) -> BTreeSet<&str> {
    let mut columns: BTreeSet<&str> =
        table.columns.iter().filter(|(_, c)| !c.nullable).map(|(n, _)| n.as_str()).collect();
    columns.extend(table.constraints.iter().filter_map(is_not_null_check));
    columns
}

/// The column of a `CHECK ((x IS NOT NULL))`.
fn is_not_null_check(c: &Constraint) -> Option<&str> {
    if c.kind != ConstraintKind::Check || c.columns.len() != 1 {
        return None;
    }
    let rule = c.rule().to_ascii_uppercase();
    let inner = rule
        .trim_start_matches("CHECK")
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')');
    let column = c.columns[0].to_ascii_uppercase();
    let bare = inner.trim_matches('"');
    (bare == format!("{column} IS NOT NULL") || inner == format!("\"{column}\" IS NOT NULL"))
        .then(|| c.columns[0].as_str())
}

/// A check that NULL in its columns surely passes: comparisons and arithmetic only, no `IS`, no
/// function outside a few that return NULL for NULL.
fn null_tolerant(rule: &str) -> bool {
    let upper = rule.to_ascii_uppercase();
    let body = upper.trim_start_matches("CHECK");
    if [" IS ", "COALESCE", "NULLIF", "NUM_NULLS", "NUM_NONNULLS", "CASE", "CONCAT", "FORMAT", "ARRAY", "ROW("]
        .iter()
        .any(|w| body.contains(w))
    {
        return false;
    }
    let bytes = body.as_bytes();
    let mut word = String::new();
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b == b'_' {
            word.push(b as char);
            continue;
        }
        if b == b'('
            && !word.is_empty()
            && !matches!(
                word.as_str(),
                "LENGTH" | "CHAR_LENGTH" | "LOWER" | "UPPER" | "BTRIM" | "ABS" | "AND" | "OR" | "NOT" | "IN"
            )
        {
            return false;
        }
        word.clear();
    }
    true
}

/// `now` holds every value `was` held, as the engine judges it: SQLite by type affinity (it does not
/// enforce lengths), PostgreSQL by [`widens`].
fn type_fits(engine: Engine, was: &Column, now: &Column) -> bool {
    if was.data_type == now.data_type {
        return true;
    }
    match engine {
        Engine::Sqlite => affinity(&was.data_type) == affinity(&now.data_type),
        Engine::Postgres => widens(&was.data_type, &now.data_type),
    }
}

/// SQLite's type affinity of a declared type (section 3.1 of its datatype rules).
pub(crate) fn affinity(declared: &str) -> &'static str {
    let t = declared.to_ascii_uppercase();
    if t.contains("INT") {
        "INTEGER"
    } else if t.contains("CHAR") || t.contains("CLOB") || t.contains("TEXT") {
        "TEXT"
    } else if t.contains("BLOB") || t.is_empty() {
        "BLOB"
    } else if t.contains("REAL") || t.contains("FLOA") || t.contains("DOUB") {
        "REAL"
    } else {
        "NUMERIC"
    }
}

fn same_shape(a: &Table, b: &Table) -> bool {
    a.kind == b.kind
        && a.columns.len() == b.columns.len()
        && a.columns.iter().all(|(n, c)| b.columns.get(n).is_some_and(|d| d.data_type == c.data_type))
}

/// One expand statement, and the schema as it stands after it (and every statement before it), read
/// in the dry run's rolled-back transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpandStep {
    /// `file:line` of the statement.
    pub location: String,
    pub sql: String,
    pub after: Snapshot,
}

/// A revision the expand stage must not break: the one serving now, and every one in the rollback
/// window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtectedRevision {
    pub revision: u64,
    /// The schema the revision was built against (its stored snapshot).
    pub schema: Snapshot,
    /// Its queries, when it shipped them (precise); `None` for the conservative verdict.
    pub queries: Option<Vec<OldQuery>>,
}

/// Why the expand stage is refused: this statement breaks this revision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpandRefusal {
    pub location: String,
    pub sql: String,
    pub revision: u64,
    pub problems: Vec<Problem>,
    /// What to do instead.
    pub hint: String,
}

/// The gate's check of what the expand stage would run: every problem a statement adds for a
/// protected revision (one not already there before the statement) refuses the release, naming the
/// statement, the revision and why, with a hint.
///
/// `before` is the live schema before the expand stage; `steps` come from
/// `backstop_appdb::Database::dry_run_steps`, one per statement in run order; `protected` holds the
/// revision serving now and every revision in the rollback window, each with its stored snapshot and,
/// when it shipped them, its queries. The engine calls, before the expand stage runs anything:
///
/// ```text
/// // statements: Vec<(String, String)>, ("0007_prices.sql:2", sql) for each expand-stage statement
/// let before = db.snapshot().await?;
/// let steps = db.dry_run_steps(&statements).await?;          // rolled back: nothing stays
/// let protected: Vec<ProtectedRevision> = serving.chain(rollback_window)
///     .map(|r| ProtectedRevision { revision: r.number, schema: r.snapshot, queries: r.queries })
///     .collect();                                             // queries: Option<Vec<OldQuery>>
/// let refusals = backstop_schema::check_expand(&before, &steps, &protected);
/// if !refusals.is_empty() { /* refuse the release: each refusal's location, sql, revision,
///                              problems (object, query, message) and hint */ }
/// ```
pub fn check_expand(before: &Snapshot, steps: &[ExpandStep], protected: &[ProtectedRevision]) -> Vec<ExpandRefusal> {
    let mut refusals = Vec::new();
    for revision in protected {
        let queries = revision.queries.as_deref();
        let mut seen: BTreeSet<String> =
            verdict(&revision.schema, before, queries, &[]).problems.iter().map(|p| p.object.clone()).collect();
        for step in steps {
            let now = verdict(&revision.schema, &step.after, queries, &[]);
            let added: Vec<Problem> = now.problems.into_iter().filter(|p| !seen.contains(&p.object)).collect();
            if added.is_empty() {
                continue;
            }
            seen.extend(added.iter().map(|p| p.object.clone()));
            refusals.push(ExpandRefusal {
                location: step.location.clone(),
                sql: step.sql.clone(),
                revision: revision.revision,
                hint: hint(&added),
                problems: added,
            });
        }
    }
    refusals
}

fn hint(problems: &[Problem]) -> String {
    match problems.first().map(|p| &p.kind) {
        Some(ProblemKind::NewConstraint {
            constraint: ConstraintKind::Unique | ConstraintKind::PrimaryKey | ConstraintKind::Exclusion,
            ..
        }) => {
            "add the unique index in a later release, once the code that never writes duplicates is live and no revision in the rollback window does; remove the duplicates first".into()
        }
        Some(ProblemKind::NewConstraint { .. }) | Some(ProblemKind::DomainTightened { .. }) => {
            "ship the constraint NOT VALID in a later release, once the code that satisfies it is live and no revision in the rollback window writes values it refuses; backfill first, then VALIDATE".into()
        }
        Some(ProblemKind::NewNotNullWithoutDefault) | Some(ProblemKind::BecameRequired) => {
            "add the column nullable or with a default; backfill, then SET NOT NULL once no revision in the rollback window writes NULL".into()
        }
        Some(ProblemKind::NewTrigger { .. }) => "add the trigger after the code it expects is live and outside the rollback window".into(),
        _ => "this statement is not an expand statement for the revisions in the rollback window: move it to the contract stage of a later release".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Domain, Function, Generation, Index, Policy, Trigger};
    use std::collections::BTreeMap;

    fn col(t: &str, nullable: bool) -> Column {
        Column::new(t, nullable, None)
    }

    fn check(name: &str, def: &str, cols: &[&str]) -> Constraint {
        Constraint {
            name: name.into(),
            kind: ConstraintKind::Check,
            definition: def.into(),
            columns: cols.iter().map(|c| (*c).into()).collect(),
            validated: true,
            references: None,
        }
    }

    /// products(id, name, price_cents int, region text, status mood) and orders(id, product_id → products).
    fn base() -> Snapshot {
        let mut s = Snapshot::default();
        let mut products = Table::default();
        let mut id = Column::new("bigint", false, None);
        id.generated = true;
        id.generation = Some(Generation::IdentityByDefault);
        products.columns.insert("id".into(), id);
        products.columns.insert("name".into(), col("character varying(100)", true));
        products.columns.insert("price_cents".into(), col("integer", true));
        products.columns.insert("region".into(), col("text", true));
        let mut status = col("mood", true);
        status.type_key = Some("public.mood".into());
        products.columns.insert("status".into(), status);
        let mut amount = col("positive", true);
        amount.type_key = Some("public.positive".into());
        products.columns.insert("amount".into(), amount);
        products.constraints.push(Constraint {
            name: "products_pkey".into(),
            kind: ConstraintKind::PrimaryKey,
            definition: "PRIMARY KEY (id)".into(),
            columns: vec!["id".into()],
            validated: true,
            references: None,
        });
        let mut orders = Table::default();
        orders.columns.insert("id".into(), col("bigint", false));
        orders.columns.insert("product_id".into(), col("bigint", true));
        orders.constraints.push(Constraint {
            name: "orders_product_id_fkey".into(),
            kind: ConstraintKind::ForeignKey,
            definition: "FOREIGN KEY (product_id) REFERENCES products(id) ON DELETE CASCADE".into(),
            columns: vec!["product_id".into()],
            validated: true,
            references: Some("public.products".into()),
        });
        let mut view = Table {
            kind: crate::model::RelationKind::View,
            writable: vec!["insert".into(), "update".into(), "delete".into()],
            ..Table::default()
        };
        view.columns.insert("id".into(), col("bigint", true));
        s.tables.insert("public.products".into(), products);
        s.tables.insert("public.orders".into(), orders);
        s.tables.insert("public.cheap".into(), view);
        s.enums.insert("public.mood".into(), vec!["ok".into(), "sad".into()]);
        s.domains.insert("public.positive".into(), Domain { base: "integer".into(), not_null: false, checks: vec![] });
        s.functions.insert(
            "public.price_of".into(),
            vec![Function { arguments: "bigint".into(), returns: "integer".into(), body_digest: "a".into() }],
        );
        s.sequences.insert("public.tickets".into());
        s
    }

    fn p(s: &mut Snapshot) -> &mut Table {
        s.tables.get_mut("public.products").unwrap()
    }

    const READ: &str = "SELECT id, name FROM products";
    const INSERT: &str = "INSERT INTO products (name, price_cents) VALUES ($1, $2)";
    const INSERT_NULL: &str = "INSERT INTO products (name, region) VALUES ('a', NULL)";
    const DELETE: &str = "DELETE FROM products WHERE id = $1";
    const EXPLICIT_ID: &str = "INSERT INTO products (id, name) VALUES (7, 'a')";

    type Case = (&'static str, fn(&mut Snapshot), &'static str, bool, Option<bool>);

    /// (label, change, the target's one query, conservative safe, precise safe (None: same as "query
    /// reaches it → unsafe")).
    #[test]
    fn every_rule_of_the_verdict_on_its_change() {
        let cases: Vec<Case> = vec![
            ("no change", |_| {}, INSERT, true, Some(true)),
            (
                "type narrowed, query writes it",
                |s| p(s).columns.get_mut("name").unwrap().data_type = "character varying(50)".into(),
                INSERT,
                false,
                Some(false),
            ),
            (
                "type narrowed, query does not use it",
                |s| p(s).columns.get_mut("name").unwrap().data_type = "character varying(50)".into(),
                DELETE,
                false,
                Some(true),
            ),
            (
                "type widened",
                |s| p(s).columns.get_mut("name").unwrap().data_type = "text".into(),
                INSERT,
                true,
                Some(true),
            ),
            (
                "text to jsonb on a read column",
                |s| p(s).columns.get_mut("name").unwrap().data_type = "jsonb".into(),
                READ,
                false,
                Some(false),
            ),
            (
                "new check on a written column",
                |s| p(s).constraints.push(check("c", "CHECK ((price_cents > 0)) NOT VALID", &["price_cents"])),
                INSERT,
                false,
                Some(false),
            ),
            (
                "new check on a column only read",
                |s| p(s).constraints.push(check("c", "CHECK ((price_cents > 0))", &["price_cents"])),
                READ,
                false,
                Some(true),
            ),
            (
                "new IS NOT NULL check on a new column",
                |s| {
                    p(s).columns.insert("zone".into(), col("text", true));
                    p(s).constraints.push(check("z", "CHECK ((zone IS NOT NULL)) NOT VALID", &["zone"]));
                },
                INSERT,
                false,
                Some(false),
            ),
            (
                "new > check on a new null column",
                |s| {
                    p(s).columns.insert("zone".into(), col("integer", true));
                    p(s).constraints.push(check("z", "CHECK ((zone > 0))", &["zone"]));
                },
                INSERT,
                true,
                Some(true),
            ),
            (
                "set not null, query writes NULL",
                |s| p(s).columns.get_mut("region").unwrap().nullable = false,
                INSERT_NULL,
                false,
                Some(false),
            ),
            (
                "set not null with default, insert omits it",
                |s| {
                    let c = p(s).columns.get_mut("region").unwrap();
                    c.nullable = false;
                    c.default = Some("'eu'".into());
                },
                INSERT,
                false,
                Some(true),
            ),
            (
                "new not null column without default",
                |s| drop(p(s).columns.insert("sku".into(), col("text", false))),
                INSERT,
                false,
                Some(false),
            ),
            (
                "new not null column, query only deletes",
                |s| drop(p(s).columns.insert("sku".into(), col("text", false))),
                DELETE,
                false,
                Some(true),
            ),
            (
                "identity by default became always, query writes id",
                |s| p(s).columns.get_mut("id").unwrap().generation = Some(Generation::IdentityAlways),
                EXPLICIT_ID,
                false,
                Some(false),
            ),
            (
                "identity became always, query leaves id out",
                |s| p(s).columns.get_mut("id").unwrap().generation = Some(Generation::IdentityAlways),
                INSERT,
                false,
                Some(true),
            ),
            (
                "cascade became restrict, query deletes parent",
                |s| {
                    s.tables.get_mut("public.orders").unwrap().constraints[0].definition =
                        "FOREIGN KEY (product_id) REFERENCES products(id)".into()
                },
                DELETE,
                false,
                Some(false),
            ),
            (
                "cascade became restrict, query inserts parent",
                |s| {
                    s.tables.get_mut("public.orders").unwrap().constraints[0].definition =
                        "FOREIGN KEY (product_id) REFERENCES products(id)".into()
                },
                INSERT,
                false,
                Some(true),
            ),
            (
                "enum value removed, query reads the column",
                |s| drop(s.enums.insert("public.mood".into(), vec!["ok".into()])),
                "SELECT status FROM products",
                false,
                Some(false),
            ),
            (
                "enum value added",
                |s| s.enums.get_mut("public.mood").unwrap().push("glad".into()),
                "SELECT status FROM products",
                true,
                Some(true),
            ),
            (
                "domain check added, query writes it",
                |s| s.domains.get_mut("public.positive").unwrap().checks.push("CHECK ((VALUE > 0))".into()),
                "INSERT INTO products (amount) VALUES (1)",
                false,
                Some(false),
            ),
            (
                "function dropped, query calls it",
                |s| drop(s.functions.remove("public.price_of")),
                "SELECT price_of(id) FROM products",
                false,
                Some(false),
            ),
            (
                "sequence dropped, query calls nextval",
                |s| {
                    s.sequences.remove("public.tickets");
                },
                "SELECT nextval('tickets')",
                false,
                Some(false),
            ),
            (
                "sequence dropped, query does not",
                |s| {
                    s.sequences.remove("public.tickets");
                },
                READ,
                false,
                Some(true),
            ),
            (
                "view lost inserts, query inserts",
                |s| s.tables.get_mut("public.cheap").unwrap().writable = vec![],
                "INSERT INTO cheap (id) VALUES (1)",
                false,
                Some(false),
            ),
            (
                "table moved to another schema",
                |s| {
                    let t = s.tables.remove("public.products").unwrap();
                    s.tables.insert("shop.products".into(), t);
                },
                READ,
                false,
                Some(false),
            ),
            (
                "new trigger on insert, query inserts",
                |s| {
                    p(s).triggers.push(Trigger {
                        name: "t".into(),
                        timing: "before".into(),
                        events: vec!["insert".into()],
                        definition: "BEFORE INSERT ON products EXECUTE FUNCTION f()".into(),
                        function: "public.f".into(),
                    })
                },
                INSERT,
                false,
                Some(false),
            ),
            (
                "new trigger on insert, query reads",
                |s| {
                    p(s).triggers.push(Trigger {
                        name: "t".into(),
                        timing: "before".into(),
                        events: vec!["insert".into()],
                        definition: "BEFORE INSERT ON products EXECUTE FUNCTION f()".into(),
                        function: "public.f".into(),
                    })
                },
                READ,
                false,
                Some(true),
            ),
            (
                "row security enabled",
                |s| {
                    p(s).row_security = (true, false);
                    p(s).policies.push(Policy {
                        name: "own".into(),
                        command: "ALL".into(),
                        permissive: true,
                        using: Some("true".into()),
                        with_check: None,
                    });
                },
                READ,
                false,
                Some(false),
            ),
            (
                "unique nulls not distinct on a new column",
                |s| {
                    p(s).columns.insert("code".into(), col("text", true));
                    p(s).indexes.push(Index {
                        name: "u".into(),
                        definition: "CREATE UNIQUE INDEX u ON public.products USING btree (code) NULLS NOT DISTINCT"
                            .into(),
                        unique: true,
                        columns: vec!["code".into()],
                        backs_constraint: false,
                        partial: false,
                        nulls_not_distinct: true,
                    });
                },
                INSERT,
                false,
                Some(false),
            ),
            (
                "plain unique on a new null column",
                |s| {
                    p(s).columns.insert("code".into(), col("text", true));
                    p(s).indexes.push(Index {
                        name: "u".into(),
                        definition: "CREATE UNIQUE INDEX u ON public.products USING btree (code)".into(),
                        unique: true,
                        columns: vec!["code".into()],
                        backs_constraint: false,
                        partial: false,
                        nulls_not_distinct: false,
                    });
                },
                INSERT,
                true,
                Some(true),
            ),
            (
                "a DO block sees nothing of its body",
                |s| p(s).columns.get_mut("name").unwrap().data_type = "character varying(50)".into(),
                "DO $$ BEGIN PERFORM 1; END $$",
                false,
                Some(false),
            ),
        ];
        for (label, change, sql, conservative_safe, precise_safe) in cases {
            let mut live = base();
            change(&mut live);
            let conservative = verdict(&base(), &live, None, &[]);
            assert_eq!(conservative.safe, conservative_safe, "{label}: conservative {conservative:#?}");
            assert!(conservative.problems.iter().all(|p| p.unseen.is_some()), "{label}");
            let queries = [OldQuery::new("src/app.rs:10", sql)];
            let precise = verdict(&base(), &live, Some(&queries), &[]);
            assert_eq!(precise.safe, precise_safe.unwrap_or(false), "{label}: precise {precise:#?}");
            for p in &precise.problems {
                assert_eq!(p.query.as_deref(), Some("src/app.rs:10"), "{label}: names the query");
                assert!(p.message.contains("src/app.rs:10"), "{label}: {}", p.message);
            }
            if precise.safe {
                assert!(!precise.checked.is_empty(), "{label}: a precise safe lists what was checked");
            }
        }
    }

    #[test]
    fn sqlite_type_changes_are_judged_by_affinity() {
        let cases = [
            ("VARCHAR(100)", "VARCHAR(50)", true),
            ("TEXT", "VARCHAR(10)", true),
            ("INTEGER", "BIGINT", true),
            ("INTEGER", "TEXT", false),
            ("TEXT", "BLOB", false),
            ("REAL", "DOUBLE", true),
        ];
        for (from, to, fits) in cases {
            assert_eq!(type_fits(Engine::Sqlite, &col(from, true), &col(to, true)), fits, "{from} -> {to}");
        }
    }

    #[test]
    fn the_expand_gate_names_the_statement_and_revision_that_break() {
        let before = base();
        let mut after_index = base();
        p(&mut after_index).indexes.push(Index {
            name: "i".into(),
            definition: "CREATE INDEX i ON public.products USING btree (name)".into(),
            unique: false,
            columns: vec!["name".into()],
            backs_constraint: false,
            partial: false,
            nulls_not_distinct: false,
        });
        let mut after_check = after_index.clone();
        p(&mut after_check).constraints.push(check(
            "price_positive",
            "CHECK ((price_cents > 0)) NOT VALID",
            &["price_cents"],
        ));
        let steps = vec![
            ExpandStep {
                location: "0002.sql:1".into(),
                sql: "CREATE INDEX i ON products (name)".into(),
                after: after_index,
            },
            ExpandStep {
                location: "0002.sql:2".into(),
                sql: "ALTER TABLE products ADD CONSTRAINT price_positive CHECK (price_cents > 0) NOT VALID".into(),
                after: after_check,
            },
        ];
        let protected = vec![
            ProtectedRevision {
                revision: 4,
                schema: base(),
                queries: Some(vec![OldQuery::new("src/shop.rs:12", INSERT)]),
            },
            ProtectedRevision {
                revision: 3,
                schema: base(),
                queries: Some(vec![OldQuery::new("src/shop.rs:9", READ)]),
            },
        ];
        let refusals = check_expand(&before, &steps, &protected);
        assert_eq!(refusals.len(), 1, "{refusals:#?}");
        assert_eq!((refusals[0].location.as_str(), refusals[0].revision), ("0002.sql:2", 4));
        assert_eq!(refusals[0].problems[0].query.as_deref(), Some("src/shop.rs:12"));
        assert!(refusals[0].hint.contains("NOT VALID"), "{}", refusals[0].hint);
        let _ = BTreeMap::<String, String>::new();
    }
}
