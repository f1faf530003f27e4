//! PostgreSQL's own parser (libpg_query): the judge of what is valid PostgreSQL, and the phase and
//! findings of the statements the general SQL parser does not know (ALTER SEQUENCE, CREATE
//! STATISTICS, ALTER DOMAIN, SET SCHEMA, ATTACH/DETACH PARTITION, DO LANGUAGE ..., and the rest).
//!
//! Every PostgreSQL statement is parsed here first: a statement PostgreSQL rejects is a parse error
//! with the position PostgreSQL stops at, whatever the general parser thinks of it. Statements
//! neither rule set knows are contract, with an `unanalyzed-statement` finding naming their kind.

use pg_query::NodeEnum;
use pg_query::protobuf::{
    AlterTableCmd, AlterTableType, ColumnDef, ConstrType, Constraint, DropBehavior, Node, ObjectType, RangeVar,
    TransactionStmtKind,
};

use crate::Phase;
use crate::classify::{Classified, FileState};
use crate::rules::{self, RuleInfo};

/// Parses one statement with PostgreSQL's grammar: its tree, or the byte offset in `sql` where
/// PostgreSQL stops and its message.
pub(crate) fn parse(sql: &str) -> Result<NodeEnum, (usize, String)> {
    match pg_query::parse(sql, 0) {
        Ok(result) => {
            let mut statements = result.protobuf.stmts.into_iter();
            match (statements.next().and_then(|s| s.stmt).and_then(|n| n.node), statements.next()) {
                (Some(node), None) => Ok(node),
                _ => Err((0, "expected exactly one statement".into())),
            }
        }
        Err(pg_query::Error::Parse(message)) => Err((error_offset(sql), message)),
        Err(other) => Err((0, other.to_string())),
    }
}

/// Where PostgreSQL's grammar stops accepting `sql`: the first token after which no continuation
/// can make it valid, found by parsing prefixes ending at token boundaries (a prefix that is only
/// incomplete fails "at end of input"). Runs only for statements that fail to parse.
fn error_offset(sql: &str) -> usize {
    let Ok(scan) = pg_query::scan(sql) else { return 0 };
    let tokens = scan.tokens;
    let end = |i: usize| usize::try_from(tokens[i].end).unwrap_or(0).min(sql.len());
    let viable = |i: usize| match sql.get(..end(i)).map(|prefix| pg_query::parse(prefix, 0)) {
        Some(Ok(_)) => true,
        Some(Err(pg_query::Error::Parse(message))) => message.ends_with("at end of input"),
        _ => false,
    };
    // The first token whose prefix is not viable; viability only ever turns from true to false.
    let (mut low, mut high) = (0, tokens.len());
    while low < high {
        let middle = low + (high - low) / 2;
        if viable(middle) { low = middle + 1 } else { high = middle }
    }
    tokens.get(low).map_or(sql.len(), |t| usize::try_from(t.start).unwrap_or(0))
}

/// A normalised relation name, as `classify::key` makes it: the default schema dropped.
pub(crate) fn relation_key(relation: Option<&RangeVar>) -> String {
    let Some(relation) = relation else { return String::new() };
    match relation.schemaname.as_str() {
        "" | "public" => relation.relname.clone(),
        schema => format!("{schema}.{}", relation.relname),
    }
}

fn display(relation: Option<&RangeVar>) -> String {
    let Some(relation) = relation else { return String::from("?") };
    if relation.schemaname.is_empty() {
        relation.relname.clone()
    } else {
        format!("{}.{}", relation.schemaname, relation.relname)
    }
}

/// A dotted name out of a list of `String` nodes, or of the name parts inside a node.
fn name_of(node: &Node) -> String {
    match &node.node {
        Some(NodeEnum::String(s)) => s.sval.clone(),
        Some(NodeEnum::List(list)) => dotted(&list.items),
        Some(NodeEnum::TypeName(t)) => dotted(&t.names),
        Some(NodeEnum::ObjectWithArgs(o)) => dotted(&o.objname),
        Some(NodeEnum::RangeVar(r)) => display(Some(r)),
        _ => String::from("?"),
    }
}

fn dotted(parts: &[Node]) -> String {
    let names: Vec<String> = parts.iter().map(name_of).filter(|n| n != "pg_catalog").collect();
    names.join(".")
}

/// Lowercase words of an object type: `ObjectMatview` → "materialized view".
fn object_words(object: ObjectType) -> String {
    let name = object.as_str_name().trim_start_matches("OBJECT_").to_ascii_lowercase();
    match name.as_str() {
        "matview" => "materialized view".into(),
        "tabconstraint" | "domconstraint" => "constraint".into(),
        "statistic_ext" => "statistics".into(),
        "foreign_table" => "foreign table".into(),
        "event_trigger" => "event trigger".into(),
        other => other.replace('_', " "),
    }
}

/// "AlterPolicyStmt" → "alter policy": the kind of a statement no rule knows.
fn statement_words(node: &NodeEnum) -> String {
    let debug = format!("{node:?}");
    let variant = debug.split(['(', ' ', '{']).next().unwrap_or("statement");
    let variant = variant.trim_end_matches("Stmt");
    let mut words = String::new();
    for (i, c) in variant.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            words.push(' ');
        }
        words.push(c.to_ascii_lowercase());
    }
    words
}

/// Phase and kind of a statement only PostgreSQL's parser knows.
pub(crate) fn classify(node: &NodeEnum, state: &FileState) -> Classified {
    use Phase::{Backfill, Contract, Expand};
    let data_change = |kind: &str, relation: Option<&RangeVar>| {
        let new = state.is_new_key(&relation_key(relation));
        Classified::new(if new { Expand } else { Backfill }, kind)
    };
    match node {
        NodeEnum::CreateStmt(_) => Classified::new(Expand, "create table"),
        NodeEnum::CreateTableAsStmt(_) => Classified::new(Expand, "create table as"),
        NodeEnum::CreateSeqStmt(_) => Classified::new(Expand, "create sequence"),
        NodeEnum::CreateStatsStmt(_) => Classified::new(Expand, "create statistics"),
        NodeEnum::CreateFunctionStmt(f) => {
            Classified::new(Expand, if f.is_procedure { "create procedure" } else { "create function" })
        }
        NodeEnum::CreateDomainStmt(_) => Classified::new(Expand, "create domain"),
        NodeEnum::CreateEnumStmt(_) | NodeEnum::CompositeTypeStmt(_) | NodeEnum::CreateRangeStmt(_) => {
            Classified::new(Expand, "create type")
        }
        NodeEnum::ViewStmt(_) => Classified::new(Expand, "create view"),
        NodeEnum::IndexStmt(_) => Classified::new(Expand, "create index"),
        NodeEnum::CreateTrigStmt(_) => Classified::new(Expand, "create trigger"),
        NodeEnum::CreateSchemaStmt(_) => Classified::new(Expand, "create schema"),
        NodeEnum::CreateExtensionStmt(_) => Classified::new(Expand, "create extension"),
        NodeEnum::CreatePolicyStmt(_) => Classified::new(Expand, "create policy"),
        NodeEnum::CreateCastStmt(_) => Classified::new(Expand, "create cast"),
        NodeEnum::DefineStmt(d) => Classified::new(Expand, format!("create {}", object_words(d.kind()))),
        NodeEnum::CreateRoleStmt(_) => Classified::new(Expand, "create role"),
        NodeEnum::CommentStmt(_) => Classified::new(Expand, "comment on"),
        NodeEnum::SecLabelStmt(_) => Classified::new(Expand, "security label"),
        NodeEnum::AlterOwnerStmt(_) => Classified::new(Expand, "owner to"),
        NodeEnum::AlterFunctionStmt(_) => Classified::new(Expand, "alter function"),
        NodeEnum::AlterStatsStmt(_) => Classified::new(Expand, "alter statistics"),
        NodeEnum::GrantStmt(_) | NodeEnum::GrantRoleStmt(_) if grant(node) == Some(true) => {
            Classified::new(Expand, "grant")
        }
        NodeEnum::GrantStmt(_) | NodeEnum::GrantRoleStmt(_) => Classified::new(Contract, "revoke"),
        // Default privileges apply to objects created later: nothing the previous code uses changes.
        NodeEnum::AlterDefaultPrivilegesStmt(_) => Classified::new(Expand, "alter default privileges"),
        NodeEnum::AlterSeqStmt(seq) => {
            if seq.options.iter().all(harmless_sequence_option) {
                Classified::new(Expand, "alter sequence")
            } else {
                Classified::new(Contract, "alter sequence")
            }
        }
        NodeEnum::AlterDomainStmt(domain) => match domain.subtype.as_str() {
            "T" if domain.def.is_some() => Classified::new(Expand, "alter domain set default"),
            "T" => Classified::new(Contract, "alter domain drop default"),
            "N" => Classified::new(Contract, "alter domain drop not null"),
            "O" => Classified::new(Contract, "alter domain set not null"),
            "C" => Classified::new(Expand, "alter domain add constraint"),
            "X" => Classified::new(Contract, "alter domain drop constraint"),
            "V" => Classified::new(Expand, "alter domain validate constraint"),
            _ => Classified::unanalyzed("alter domain"),
        },
        NodeEnum::AlterEnumStmt(e) if e.old_val.is_empty() => Classified::new(Expand, "alter type add value"),
        NodeEnum::AlterEnumStmt(_) => Classified::new(Contract, "alter type rename value"),
        NodeEnum::AlterTableStmt(alter) => {
            let prefix = format!("alter {}", object_words(alter.objtype()));
            let new = state.is_new_key(&relation_key(alter.relation.as_ref()));
            let mut phase = Expand;
            let mut kinds: Vec<&'static str> = Vec::new();
            let mut unanalyzed = false;
            for cmd in alter.cmds.iter().filter_map(alter_cmd) {
                let (op_phase, kind) = alter_table_operation(cmd).unwrap_or_else(|| {
                    unanalyzed = true;
                    (Contract, "other")
                });
                phase = phase.max(if new { Expand } else { op_phase });
                if !kinds.contains(&kind) {
                    kinds.push(kind);
                }
            }
            Classified { phase, kind: format!("{prefix} {}", kinds.join(", ")), unanalyzed: unanalyzed && !new }
        }
        NodeEnum::RenameStmt(rename) => {
            let new = state.is_new_key(&relation_key(rename.relation.as_ref()));
            let object = rename.rename_type();
            let kind = match object {
                ObjectType::ObjectColumn => "alter table rename column".to_owned(),
                ObjectType::ObjectTabconstraint => "alter table rename constraint".to_owned(),
                ObjectType::ObjectTable => "alter table rename".to_owned(),
                other => format!("alter {} rename", object_words(other)),
            };
            Classified::new(if new { Expand } else { Contract }, kind)
        }
        NodeEnum::AlterObjectSchemaStmt(moved) => {
            let new = state.is_new_key(&relation_key(moved.relation.as_ref()));
            let kind = format!("alter {} set schema", object_words(moved.object_type()));
            Classified::new(if new { Expand } else { Contract }, kind)
        }
        NodeEnum::DropStmt(drop) => {
            let object = drop.remove_type();
            let new = matches!(object, ObjectType::ObjectTable | ObjectType::ObjectView | ObjectType::ObjectMatview)
                && drop.objects.iter().all(|o| state.is_new_key(&table_key(o)));
            Classified::new(if new { Expand } else { Contract }, format!("drop {}", object_words(object)))
        }
        NodeEnum::DoStmt(_) => Classified::unanalyzed("do"),
        NodeEnum::CallStmt(_) => Classified::unanalyzed("call"),
        NodeEnum::InsertStmt(i) => data_change("insert", i.relation.as_ref()),
        NodeEnum::UpdateStmt(u) => data_change("update", u.relation.as_ref()),
        NodeEnum::DeleteStmt(d) => data_change("delete", d.relation.as_ref()),
        NodeEnum::MergeStmt(_) => Classified::new(Backfill, "merge"),
        NodeEnum::CopyStmt(_) => Classified::new(Backfill, "copy"),
        NodeEnum::TruncateStmt(_) => Classified::new(Backfill, "truncate"),
        NodeEnum::RefreshMatViewStmt(_) => Classified::new(Backfill, "refresh materialized view"),
        NodeEnum::SelectStmt(select) => {
            let writes = select.with_clause.as_ref().is_some_and(|with| {
                with.ctes.iter().any(|cte| match &cte.node {
                    Some(NodeEnum::CommonTableExpr(cte)) => cte.ctequery.as_ref().is_some_and(|q| {
                        matches!(
                            q.node,
                            Some(
                                NodeEnum::InsertStmt(_)
                                    | NodeEnum::UpdateStmt(_)
                                    | NodeEnum::DeleteStmt(_)
                                    | NodeEnum::MergeStmt(_)
                            )
                        )
                    }),
                    _ => false,
                })
            });
            if writes {
                Classified::new(Backfill, "query with data-modifying cte")
            } else {
                Classified::new(Expand, "select")
            }
        }
        NodeEnum::TransactionStmt(t) => Classified::new(
            Expand,
            match t.kind() {
                TransactionStmtKind::TransStmtBegin | TransactionStmtKind::TransStmtStart => "begin",
                TransactionStmtKind::TransStmtCommit => "commit",
                TransactionStmtKind::TransStmtSavepoint => "savepoint",
                TransactionStmtKind::TransStmtRelease => "release savepoint",
                _ => "rollback",
            },
        ),
        NodeEnum::VariableSetStmt(_) => Classified::new(Expand, "set"),
        NodeEnum::VariableShowStmt(_) => Classified::new(Expand, "show"),
        NodeEnum::VacuumStmt(_) => Classified::new(Expand, "vacuum"),
        NodeEnum::ClusterStmt(_) => Classified::new(Expand, "cluster"),
        NodeEnum::ReindexStmt(_) => Classified::new(Expand, "reindex"),
        NodeEnum::LockStmt(_) => Classified::new(Expand, "lock table"),
        NodeEnum::NotifyStmt(_) | NodeEnum::ListenStmt(_) => Classified::new(Expand, "notify"),
        NodeEnum::ExplainStmt(_) | NodeEnum::CheckPointStmt(_) | NodeEnum::DiscardStmt(_) => {
            Classified::new(Expand, statement_words(node))
        }
        other => Classified::unanalyzed(statement_words(other)),
    }
}

/// `Some(is_grant)` for GRANT/REVOKE statements.
fn grant(node: &NodeEnum) -> Option<bool> {
    match node {
        NodeEnum::GrantStmt(g) => Some(g.is_grant),
        NodeEnum::GrantRoleStmt(g) => Some(g.is_grant),
        _ => None,
    }
}

/// ALTER SEQUENCE options that cannot make the previous code's inserts fail or collide.
fn harmless_sequence_option(option: &Node) -> bool {
    match &option.node {
        Some(NodeEnum::DefElem(d)) => matches!(d.defname.as_str(), "restart" | "owned_by" | "cache" | "start"),
        _ => false,
    }
}

fn alter_cmd(node: &Node) -> Option<&AlterTableCmd> {
    match &node.node {
        Some(NodeEnum::AlterTableCmd(cmd)) => Some(cmd),
        _ => None,
    }
}

fn table_key(object: &Node) -> String {
    match &object.node {
        Some(NodeEnum::List(list)) => {
            let parts: Vec<String> = list.items.iter().map(name_of).collect();
            match parts.as_slice() {
                [schema, table] if schema == "public" => table.clone(),
                _ => parts.join("."),
            }
        }
        _ => name_of(object),
    }
}

fn column_def(cmd: &AlterTableCmd) -> Option<&ColumnDef> {
    match cmd.def.as_deref().and_then(|d| d.node.as_ref()) {
        Some(NodeEnum::ColumnDef(column)) => Some(column),
        _ => None,
    }
}

fn constraint(node: Option<&Node>) -> Option<&Constraint> {
    match node.and_then(|d| d.node.as_ref()) {
        Some(NodeEnum::Constraint(c)) => Some(c),
        _ => None,
    }
}

fn column_constraints(column: &ColumnDef) -> impl Iterator<Item = &Constraint> {
    column.constraints.iter().filter_map(|c| constraint(Some(c)))
}

/// Whether the column rejects NULL and gets no value from a default, identity or expression.
fn not_null_without_default(column: &ColumnDef) -> bool {
    let kinds: Vec<ConstrType> = column_constraints(column).map(Constraint::contype).collect();
    let not_null =
        column.is_not_null || kinds.iter().any(|k| matches!(k, ConstrType::ConstrNotnull | ConstrType::ConstrPrimary));
    let fills = column.raw_default.is_some()
        || is_serial(column)
        || kinds
            .iter()
            .any(|k| matches!(k, ConstrType::ConstrDefault | ConstrType::ConstrIdentity | ConstrType::ConstrGenerated));
    not_null && !fills
}

fn is_serial(column: &ColumnDef) -> bool {
    let name = column.type_name.as_ref().map(|t| dotted(&t.names)).unwrap_or_default();
    matches!(name.as_str(), "serial" | "serial2" | "serial4" | "serial8" | "smallserial" | "bigserial")
}

/// Phase and kind of one `ALTER TABLE` command on an existing table, `None` when backstop has no rule.
fn alter_table_operation(cmd: &AlterTableCmd) -> Option<(Phase, &'static str)> {
    use AlterTableType as At;
    use Phase::{Contract, Expand};
    Some(match cmd.subtype() {
        At::AtAddColumn => {
            let contract = column_def(cmd).is_some_and(not_null_without_default);
            (if contract { Contract } else { Expand }, "add column")
        }
        At::AtColumnDefault if cmd.def.is_some() => (Expand, "alter column set default"),
        At::AtColumnDefault => (Contract, "alter column drop default"),
        At::AtDropNotNull => (Contract, "alter column drop not null"),
        At::AtSetNotNull => (Contract, "alter column set not null"),
        At::AtDropColumn => (Contract, "drop column"),
        At::AtAddConstraint => (Expand, "add constraint"),
        At::AtValidateConstraint => (Expand, "validate constraint"),
        At::AtDropConstraint => (Contract, "drop constraint"),
        At::AtAlterConstraint => match cmd.def.as_deref().and_then(|d| d.node.as_ref()) {
            Some(NodeEnum::AtalterConstraint(c))
                if c.alter_deferrability && c.deferrable && !c.alter_enforceability =>
            {
                (Expand, "alter constraint deferrable")
            }
            _ => (Contract, "alter constraint"),
        },
        At::AtAlterColumnType => (Contract, "alter column type"),
        At::AtAttachPartition => (Expand, "attach partition"),
        At::AtDetachPartition | At::AtDetachPartitionFinalize => (Contract, "detach partition"),
        At::AtAddIdentity | At::AtSetIdentity => (Expand, "alter column identity"),
        At::AtDropIdentity => (Contract, "alter column drop identity"),
        At::AtChangeOwner => (Expand, "owner to"),
        At::AtSetStatistics => (Expand, "alter column set statistics"),
        At::AtSetStorage | At::AtSetCompression | At::AtSetOptions | At::AtResetOptions => {
            (Expand, "alter column set storage")
        }
        At::AtSetRelOptions
        | At::AtResetRelOptions
        | At::AtReplaceRelOptions
        | At::AtSetLogged
        | At::AtSetUnLogged
        | At::AtSetTableSpace
        | At::AtSetAccessMethod
        | At::AtReplicaIdentity
        | At::AtClusterOn
        | At::AtDropCluster => (Expand, "set storage"),
        At::AtEnableTrig
        | At::AtEnableAlwaysTrig
        | At::AtEnableReplicaTrig
        | At::AtDisableTrig
        | At::AtEnableTrigAll
        | At::AtDisableTrigAll
        | At::AtEnableTrigUser
        | At::AtDisableTrigUser => (Expand, "enable or disable trigger"),
        At::AtEnableRowSecurity | At::AtDisableRowSecurity | At::AtForceRowSecurity | At::AtNoForceRowSecurity => {
            (Expand, "row level security")
        }
        _ => return None,
    })
}

/// What a statement only PostgreSQL's parser knows leaves behind for later statements of the file.
pub(crate) fn observe(node: &NodeEnum, state: &mut FileState) {
    match node {
        NodeEnum::CreateStmt(create) => state.note_created_table(relation_key(create.relation.as_ref())),
        NodeEnum::ViewStmt(view) => state.note_created_table(relation_key(view.view.as_ref())),
        NodeEnum::CreateTableAsStmt(create) => {
            let relation = create.into.as_ref().and_then(|into| into.rel.as_ref());
            state.note_created_table(relation_key(relation));
        }
        NodeEnum::TransactionStmt(t) => match t.kind() {
            TransactionStmtKind::TransStmtBegin | TransactionStmtKind::TransStmtStart => state.in_transaction = true,
            TransactionStmtKind::TransStmtCommit | TransactionStmtKind::TransStmtRollback => {
                state.in_transaction = false
            }
            _ => {}
        },
        _ => {}
    }
}

/// Whether the statement waits for a lock that blocks reads or writes of an existing table.
pub(crate) fn takes_lock(node: &NodeEnum, state: &FileState) -> bool {
    match node {
        NodeEnum::AlterTableStmt(alter) => !state.is_new_key(&relation_key(alter.relation.as_ref())),
        NodeEnum::RenameStmt(rename) => {
            rename.relation.is_some() && !state.is_new_key(&relation_key(rename.relation.as_ref()))
        }
        NodeEnum::AlterObjectSchemaStmt(moved) => {
            moved.relation.is_some() && !state.is_new_key(&relation_key(moved.relation.as_ref()))
        }
        NodeEnum::IndexStmt(index) => !index.concurrent && !state.is_new_key(&relation_key(index.relation.as_ref())),
        NodeEnum::CreateTrigStmt(trigger) => !state.is_new_key(&relation_key(trigger.relation.as_ref())),
        NodeEnum::DropStmt(drop) => match drop.remove_type() {
            ObjectType::ObjectTable | ObjectType::ObjectView | ObjectType::ObjectMatview => {
                drop.objects.iter().any(|o| !state.is_new_key(&table_key(o)))
            }
            ObjectType::ObjectIndex => !drop.concurrent,
            ObjectType::ObjectTrigger => true,
            _ => false,
        },
        NodeEnum::LockStmt(_) | NodeEnum::ClusterStmt(_) => true,
        _ => false,
    }
}

/// The findings of a statement only PostgreSQL's parser knows.
pub(crate) fn check(node: &NodeEnum, state: &FileState, hit: &mut impl FnMut(&'static RuleInfo, String)) {
    match node {
        NodeEnum::AlterTableStmt(alter) => {
            let table = display(alter.relation.as_ref());
            if state.is_new_key(&relation_key(alter.relation.as_ref())) {
                return;
            }
            let key = relation_key(alter.relation.as_ref());
            for cmd in alter.cmds.iter().filter_map(alter_cmd) {
                check_alter_table(&table, &key, cmd, state, hit);
            }
        }
        NodeEnum::RenameStmt(rename) => {
            if rename.relation.is_some() && state.is_new_key(&relation_key(rename.relation.as_ref())) {
                return;
            }
            let relation = display(rename.relation.as_ref());
            match rename.rename_type() {
                ObjectType::ObjectColumn => hit(
                    rules::RENAMING_COLUMN,
                    format!("renaming column `{}` of `{relation}` to `{}`", rename.subname, rename.newname),
                ),
                ObjectType::ObjectTable => {
                    hit(rules::RENAMING_TABLE, format!("renaming table `{relation}` to `{}`", rename.newname))
                }
                other => {
                    let old = match (&rename.relation, rename.object.as_deref()) {
                        (_, Some(object)) => name_of(object),
                        (Some(_), None) if !rename.subname.is_empty() => rename.subname.clone(),
                        (Some(_), None) => relation,
                        (None, None) => rename.subname.clone(),
                    };
                    hit(
                        rules::RENAMING_OBJECT,
                        format!("renaming {} `{old}` to `{}`", object_words(other), rename.newname),
                    )
                }
            }
        }
        NodeEnum::AlterObjectSchemaStmt(moved) => {
            if moved.relation.is_some() && state.is_new_key(&relation_key(moved.relation.as_ref())) {
                return;
            }
            let name = match (&moved.relation, moved.object.as_deref()) {
                (Some(relation), _) => display(Some(relation)),
                (None, Some(object)) => name_of(object),
                (None, None) => String::from("?"),
            };
            hit(
                rules::RENAMING_OBJECT,
                format!(
                    "moving {} `{name}` to schema `{}`: the previous code still finds it under the old name",
                    object_words(moved.object_type()),
                    moved.newschema
                ),
            );
        }
        NodeEnum::AlterEnumStmt(e) if !e.old_val.is_empty() => hit(
            rules::RENAMING_OBJECT,
            format!("renaming value '{}' of enum `{}` to '{}'", e.old_val, dotted(&e.type_name), e.new_val),
        ),
        NodeEnum::DropStmt(drop) => check_drop(drop, state, hit),
        NodeEnum::GrantStmt(_) | NodeEnum::GrantRoleStmt(_) if grant(node) == Some(false) => {
            hit(rules::REVOKING_PRIVILEGES, "REVOKE takes away privileges the previous code may use".into())
        }
        NodeEnum::AlterSeqStmt(seq) if !seq.options.iter().all(harmless_sequence_option) => {
            let options: Vec<String> = seq
                .options
                .iter()
                .filter(|o| !harmless_sequence_option(o))
                .filter_map(|o| match &o.node {
                    Some(NodeEnum::DefElem(d)) => Some(d.defname.to_uppercase()),
                    _ => None,
                })
                .collect();
            hit(
                rules::ALTERING_SEQUENCE,
                format!("ALTER SEQUENCE {} changes {}", display(seq.sequence.as_ref()), options.join(", ")),
            );
        }
        NodeEnum::AlterDomainStmt(domain) => {
            let name = dotted(&domain.type_name);
            match domain.subtype.as_str() {
                "T" if domain.def.is_none() => {
                    hit(rules::DROPPING_DEFAULT, format!("dropping the default of domain `{name}`"))
                }
                "O" => hit(
                    rules::SETTING_NOT_NULL,
                    format!("domain `{name}` becomes NOT NULL: every column of that type is scanned"),
                ),
                "C" if constraint(domain.def.as_deref()).is_some_and(|c| !c.skip_validation) => hit(
                    rules::CONSTRAINT_WITHOUT_NOT_VALID,
                    format!("a constraint on domain `{name}` is checked against every column of that type"),
                ),
                _ => {}
            }
        }
        NodeEnum::IndexStmt(index) => {
            let table = display(index.relation.as_ref());
            let name = if index.idxname.is_empty() { String::new() } else { format!(" {}", index.idxname) };
            if !index.concurrent && !state.is_new_key(&relation_key(index.relation.as_ref())) {
                hit(
                    rules::INDEX_WITHOUT_CONCURRENTLY,
                    format!(
                        "CREATE INDEX{name} on existing table `{table}` without CONCURRENTLY blocks writes while it builds"
                    ),
                );
            }
            if index.concurrent && state.in_transaction {
                hit(
                    rules::CONCURRENT_IN_TRANSACTION,
                    format!("CREATE INDEX CONCURRENTLY{name} runs inside BEGIN ... COMMIT"),
                );
            }
        }
        NodeEnum::TruncateStmt(t) if t.behavior() == DropBehavior::DropCascade => {
            let names: Vec<String> = t.relations.iter().map(|r| format!("`{}`", name_of(r))).collect();
            hit(
                rules::TRUNCATE_CASCADE,
                format!("TRUNCATE {} CASCADE also empties every table referencing it", names.join(", ")),
            );
        }
        _ => {}
    }
}

fn check_drop(drop: &pg_query::protobuf::DropStmt, state: &FileState, hit: &mut impl FnMut(&'static RuleInfo, String)) {
    let object = drop.remove_type();
    let existing: Vec<String> = drop
        .objects
        .iter()
        .filter(|o| {
            !matches!(object, ObjectType::ObjectTable | ObjectType::ObjectView | ObjectType::ObjectMatview)
                || !state.is_new_key(&table_key(o))
        })
        .map(|o| format!("`{}`", name_of(o)))
        .collect();
    if existing.is_empty() {
        return;
    }
    let names = existing.join(", ");
    match object {
        ObjectType::ObjectTable => hit(rules::DROPPING_TABLE, format!("dropping table {names}")),
        ObjectType::ObjectIndex if !drop.concurrent => hit(
            rules::INDEX_WITHOUT_CONCURRENTLY,
            format!("DROP INDEX {names} without CONCURRENTLY blocks reads and writes of its table"),
        ),
        ObjectType::ObjectIndex | ObjectType::ObjectStatisticExt => {}
        other => hit(rules::DROPPING_OBJECT, format!("dropping {} {names}", object_words(other))),
    }
}

fn check_alter_table(
    table: &str,
    key: &str,
    cmd: &AlterTableCmd,
    state: &FileState,
    hit: &mut impl FnMut(&'static RuleInfo, String),
) {
    use AlterTableType as At;
    match cmd.subtype() {
        At::AtAddColumn => {
            let Some(column) = column_def(cmd) else { return };
            check_add_column(table, column, hit);
        }
        At::AtColumnDefault if cmd.def.is_none() => {
            hit(rules::DROPPING_DEFAULT, format!("dropping the default of column `{}` of `{table}`", cmd.name))
        }
        At::AtDropIdentity => hit(
            rules::DROPPING_DEFAULT,
            format!("dropping the identity of column `{}` of `{table}`: inserts without it get NULL", cmd.name),
        ),
        At::AtSetNotNull if !state.has_validated_not_null_key(key, &cmd.name) => {
            hit(rules::SETTING_NOT_NULL, format!("column `{}` of existing table `{table}` becomes NOT NULL", cmd.name))
        }
        At::AtDropColumn => hit(rules::DROPPING_COLUMN, format!("dropping column `{}` of `{table}`", cmd.name)),
        At::AtAlterColumnType => {
            hit(rules::CHANGING_COLUMN_TYPE, format!("changing the type of column `{}` of `{table}`", cmd.name))
        }
        At::AtDetachPartition | At::AtDetachPartitionFinalize => {
            let partition = match cmd.def.as_deref().and_then(|d| d.node.as_ref()) {
                Some(NodeEnum::PartitionCmd(p)) => display(p.name.as_ref()),
                _ => String::from("?"),
            };
            hit(rules::DETACHING_PARTITION, format!("detaching partition `{partition}` from `{table}`"))
        }
        At::AtAddConstraint => {
            let Some(c) = constraint(cmd.def.as_deref()) else { return };
            let name = if c.conname.is_empty() { String::new() } else { format!(" {}", c.conname) };
            match c.contype() {
                ConstrType::ConstrForeign | ConstrType::ConstrCheck if !c.skip_validation => hit(
                    rules::CONSTRAINT_WITHOUT_NOT_VALID,
                    format!(
                        "constraint{name} on existing table `{table}` is checked against every row while writes wait"
                    ),
                ),
                ConstrType::ConstrPrimary if c.indexname.is_empty() => hit(
                    rules::ADDING_PRIMARY_KEY,
                    format!(
                        "ADD PRIMARY KEY on existing table `{table}` builds its index under an ACCESS EXCLUSIVE lock"
                    ),
                ),
                ConstrType::ConstrUnique if c.indexname.is_empty() => hit(
                    rules::ADDING_UNIQUE,
                    format!("ADD UNIQUE on existing table `{table}` builds its index under an ACCESS EXCLUSIVE lock"),
                ),
                _ => {}
            }
        }
        _ => {}
    }
}

fn check_add_column(table: &str, column: &ColumnDef, hit: &mut impl FnMut(&'static RuleInfo, String)) {
    let name = &column.colname;
    if not_null_without_default(column) {
        hit(
            rules::NOT_NULL_WITHOUT_DEFAULT,
            format!("column `{name}` is added to existing table `{table}` as NOT NULL without a default"),
        );
    }
    let default = column_constraints(column)
        .filter(|c| c.contype() == ConstrType::ConstrDefault)
        .find_map(|c| c.raw_expr.as_deref())
        .or(column.raw_default.as_deref());
    if let Some(function) = default.and_then(volatile_call) {
        hit(
            rules::VOLATILE_DEFAULT,
            format!(
                "column `{name}` of `{table}` gets the default {function}(), which may be volatile and rewrite the table"
            ),
        );
    }
    for c in column_constraints(column) {
        match c.contype() {
            ConstrType::ConstrForeign | ConstrType::ConstrCheck => hit(
                rules::ADDING_COLUMN_WITH_CONSTRAINT,
                format!(
                    "column `{name}` is added to existing table `{table}` with an inline {}",
                    if c.contype() == ConstrType::ConstrForeign { "REFERENCES" } else { "CHECK" }
                ),
            ),
            ConstrType::ConstrPrimary => hit(
                rules::ADDING_PRIMARY_KEY,
                format!(
                    "column `{name}` is added as PRIMARY KEY of existing table `{table}`, building its index under an ACCESS EXCLUSIVE lock"
                ),
            ),
            ConstrType::ConstrUnique => hit(
                rules::ADDING_UNIQUE,
                format!(
                    "column `{name}` is added as UNIQUE to existing table `{table}`, building its index under an ACCESS EXCLUSIVE lock"
                ),
            ),
            ConstrType::ConstrIdentity | ConstrType::ConstrGenerated => hit(
                rules::ADDING_SERIAL_COLUMN,
                format!("column `{name}` fills every existing row of `{table}`, rewriting it"),
            ),
            _ => {}
        }
    }
    if is_serial(column) {
        hit(
            rules::ADDING_SERIAL_COLUMN,
            format!("column `{name}` (serial) fills every existing row of `{table}`, rewriting it"),
        );
    }
}

/// The first function in a default expression that is not known to be immutable or stable.
fn volatile_call(expr: &Node) -> Option<String> {
    let mut stack = vec![expr];
    while let Some(node) = stack.pop() {
        match &node.node {
            Some(NodeEnum::FuncCall(call)) => {
                let name = dotted(&call.funcname);
                if !rules::is_known_stable_function(&name) {
                    return Some(name);
                }
                stack.extend(&call.args);
            }
            Some(NodeEnum::TypeCast(cast)) => stack.extend(cast.arg.as_deref()),
            Some(NodeEnum::AExpr(e)) => stack.extend(e.lexpr.as_deref().into_iter().chain(e.rexpr.as_deref())),
            Some(NodeEnum::CoalesceExpr(c)) => stack.extend(&c.args),
            Some(NodeEnum::List(l)) => stack.extend(&l.items),
            Some(NodeEnum::AArrayExpr(a)) => stack.extend(&a.elements),
            _ => {}
        }
    }
    None
}
