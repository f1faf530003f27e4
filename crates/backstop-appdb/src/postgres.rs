//! Reads a [`Snapshot`] from a PostgreSQL catalog: every table, view and materialized view of every
//! non-system schema, partitions included, with the types, functions, sequences, triggers and
//! policies around them.

use tokio_postgres::{Client, GenericClient, NoTls};

use crate::error::{SchemaError, mask_password};
use backstop_schema::{
    Column, Constraint, ConstraintKind, Domain, Function, Generation, Index, Policy, RelationKind, Snapshot, Table,
    Trigger,
};

/// Schemas that belong to PostgreSQL itself, as a SQL condition on `n.nspname`.
const USER_SCHEMAS: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') \
     AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'";

/// The schema of the database at `url` (a `postgres://` URL or `key=value` string, no TLS).
pub async fn snapshot_postgres(url: &str) -> Result<Snapshot, SchemaError> {
    let client = connect(url).await?;
    read_snapshot(&client).await
}

/// Connects without TLS and drives the connection on the current tokio runtime.
pub(crate) async fn connect(url: &str) -> Result<Client, SchemaError> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(|source| SchemaError::Connect { target: mask_password(url), source })?;
    tokio::spawn(async move {
        // A broken connection surfaces as an error on the client's next query.
        let _ = connection.await;
    });
    Ok(client)
}

/// `schema.name` of a `pg_class` row aliased `c` in namespace `n`.
const KEY: &str = "n.nspname::text || '.' || c.relname::text";

/// Reads the snapshot through `client`, which may be a transaction that sees uncommitted changes.
///
/// Eleven catalog queries, sent together so that they share the round trips: relations (with their
/// partition parent and bound, row security and, for views, the writes they accept), columns,
/// constraints, indexes, enums, domains, functions, sequences, triggers and policies.
pub(crate) async fn read_snapshot(client: &impl GenericClient) -> Result<Snapshot, SchemaError> {
    let mut snapshot = Snapshot::default();
    let tables = format!(
        "SELECT {KEY}, c.relkind::text, \
                (SELECT pn.nspname::text || '.' || p.relname::text FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent \
                 JOIN pg_namespace pn ON pn.oid = p.relnamespace WHERE i.inhrelid = c.oid AND c.relispartition), \
                pg_get_expr(c.relpartbound, c.oid), c.relrowsecurity, c.relforcerowsecurity, \
                CASE WHEN c.relkind = 'v' THEN pg_relation_is_updatable(c.oid, true) ELSE 0 END \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p', 'v', 'm') AND {USER_SCHEMAS}"
    );
    let columns = format!(
        "SELECT {KEY}, a.attname::text, format_type(a.atttypid, a.atttypmod), \
                NOT a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attidentity::text, a.attgenerated::text, \
                CASE WHEN a.attcollation <> t.typcollation THEN co.collname::text END, \
                (SELECT tn.nspname::text || '.' || tt.typname::text FROM pg_type tt \
                 JOIN pg_namespace tn ON tn.oid = tt.typnamespace \
                 WHERE tt.oid = CASE WHEN t.typelem <> 0 AND t.typlen = -1 THEN t.typelem ELSE t.oid END) \
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_type t ON t.oid = a.atttypid LEFT JOIN pg_collation co ON co.oid = a.attcollation \
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
         WHERE c.relkind IN ('r', 'p', 'v', 'm') AND a.attnum > 0 AND NOT a.attisdropped AND {USER_SCHEMAS}"
    );
    let constraints = format!(
        "SELECT {KEY}, con.conname::text, con.contype::text, pg_get_constraintdef(con.oid), \
                ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY AS k(num, ord) \
                      JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num ORDER BY k.ord), \
                con.convalidated, \
                (SELECT fn.nspname::text || '.' || f.relname::text FROM pg_class f \
                 JOIN pg_namespace fn ON fn.oid = f.relnamespace WHERE f.oid = con.confrelid) \
         FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p') AND {USER_SCHEMAS} ORDER BY 1, 2"
    );
    let indexes = format!(
        "SELECT {KEY}, i.relname::text, pg_get_indexdef(ix.indexrelid), ix.indisunique, \
                ARRAY(SELECT a.attname::text FROM unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(num, ord) \
                      JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.num ORDER BY k.ord), \
                EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = ix.indexrelid AND con.conrelid = ix.indrelid), \
                ix.indpred IS NOT NULL, ix.indnullsnotdistinct \
         FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class c ON c.oid = ix.indrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p', 'm') AND {USER_SCHEMAS} ORDER BY 1, 2"
    );
    let enums = format!(
        "SELECT n.nspname::text || '.' || t.typname::text, \
                ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) \
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.typtype = 'e' AND {USER_SCHEMAS}"
    );
    let domains = format!(
        "SELECT n.nspname::text || '.' || t.typname::text, format_type(t.typbasetype, t.typtypmod), t.typnotnull, \
                ARRAY(SELECT pg_get_constraintdef(k.oid) FROM pg_constraint k WHERE k.contypid = t.oid AND k.contype = 'c' ORDER BY 1) \
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.typtype = 'd' AND {USER_SCHEMAS}"
    );
    let functions = format!(
        "SELECT n.nspname::text || '.' || p.proname::text, pg_get_function_identity_arguments(p.oid), \
                COALESCE(pg_get_function_result(p.oid), ''), md5(COALESCE(p.prosrc, '')) \
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {USER_SCHEMAS} ORDER BY 1, 2"
    );
    let sequences = format!(
        "SELECT {KEY} FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'S' AND {USER_SCHEMAS}"
    );
    let triggers = format!(
        "SELECT {KEY}, tg.tgname::text, pg_get_triggerdef(tg.oid), tg.tgtype::int, \
                pn.nspname::text || '.' || p.proname::text \
         FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_proc p ON p.oid = tg.tgfoid JOIN pg_namespace pn ON pn.oid = p.pronamespace \
         WHERE NOT tg.tgisinternal AND tg.tgparentid = 0 AND {USER_SCHEMAS} ORDER BY 1, 2"
    );
    let policies = "SELECT schemaname::text || '.' || tablename::text, policyname::text, cmd, permissive = 'PERMISSIVE', \
                qual, with_check FROM pg_policies ORDER BY 1, 2";
    let query = |sql: String, context: &'static str| async move {
        client.query(&sql, &[]).await.map_err(SchemaError::pg(context))
    };
    let (table_rows, column_rows, constraint_rows, index_rows, enum_rows, domain_rows, function_rows) = tokio::try_join!(
        query(tables, "listing tables"),
        query(columns, "reading columns"),
        query(constraints, "reading constraints"),
        query(indexes, "reading indexes"),
        query(enums, "reading enums"),
        query(domains, "reading domains"),
        query(functions, "reading functions"),
    )?;
    let (sequence_rows, trigger_rows, policy_rows) = tokio::try_join!(
        query(sequences, "reading sequences"),
        query(triggers, "reading triggers"),
        query(policies.to_owned(), "reading policies"),
    )?;
    for row in table_rows {
        let kind = match row.get::<_, &str>(1) {
            "v" => RelationKind::View,
            "m" => RelationKind::MaterializedView,
            _ => RelationKind::Table,
        };
        let mask: i32 = row.get(6);
        let writable = [(8, "insert"), (4, "update"), (16, "delete")]
            .into_iter()
            .filter(|(bit, _)| mask & bit != 0)
            .map(|(_, event)| event.to_owned())
            .collect();
        let table = Table {
            kind,
            partitioned: row.get::<_, &str>(1) == "p",
            partition_of: row.get(2),
            partition_bound: row.get(3),
            row_security: (row.get(4), row.get(5)),
            writable,
            ..Table::default()
        };
        snapshot.tables.insert(row.get(0), table);
    }

    for row in column_rows {
        let Some(table) = snapshot.tables.get_mut(row.get::<_, &str>(0)) else { continue };
        let generation = match (row.get::<_, &str>(5), row.get::<_, &str>(6)) {
            ("a", _) => Some(Generation::IdentityAlways),
            ("d", _) => Some(Generation::IdentityByDefault),
            (_, "s" | "v") => Some(Generation::Expression),
            _ => None,
        };
        let generated = generation.is_some();
        table.columns.insert(
            row.get(1),
            Column {
                data_type: row.get(2),
                nullable: row.get(3),
                // For a generated column the stored expression is the generation, not a default.
                default: if generated { None } else { row.get(4) },
                generated,
                generation,
                collation: row.get(7),
                type_key: row.get(8),
            },
        );
    }

    for row in constraint_rows {
        let Some(table) = snapshot.tables.get_mut(row.get::<_, &str>(0)) else { continue };
        let kind = match row.get::<_, &str>(2) {
            "p" => ConstraintKind::PrimaryKey,
            "u" => ConstraintKind::Unique,
            "f" => ConstraintKind::ForeignKey,
            "c" => ConstraintKind::Check,
            "n" => ConstraintKind::NotNull,
            "x" => ConstraintKind::Exclusion,
            _ => ConstraintKind::Other,
        };
        table.constraints.push(Constraint {
            name: row.get(1),
            kind,
            definition: row.get(3),
            columns: row.get(4),
            validated: row.get(5),
            references: row.get(6),
        });
    }

    for row in index_rows {
        let Some(table) = snapshot.tables.get_mut(row.get::<_, &str>(0)) else { continue };
        table.indexes.push(Index {
            name: row.get(1),
            definition: row.get(2),
            unique: row.get(3),
            columns: row.get(4),
            backs_constraint: row.get(5),
            partial: row.get(6),
            nulls_not_distinct: row.get(7),
        });
    }

    for row in enum_rows {
        snapshot.enums.insert(row.get(0), row.get(1));
    }
    for row in domain_rows {
        let checks: Vec<String> = row.get(3);
        let checks = checks.iter().map(|c| c.strip_suffix(" NOT VALID").unwrap_or(c).to_owned()).collect();
        snapshot.domains.insert(row.get(0), Domain { base: row.get(1), not_null: row.get(2), checks });
    }
    for row in function_rows {
        snapshot.functions.entry(row.get(0)).or_default().push(Function {
            arguments: row.get(1),
            returns: row.get(2),
            body_digest: row.get(3),
        });
    }
    snapshot.sequences = sequence_rows.iter().map(|row| row.get(0)).collect();
    for row in trigger_rows {
        let Some(table) = snapshot.tables.get_mut(row.get::<_, &str>(0)) else { continue };
        let name: String = row.get(1);
        let text: String = row.get(2);
        let tgtype: i32 = row.get(3);
        let timing = if tgtype & 64 != 0 {
            "instead of"
        } else if tgtype & 2 != 0 {
            "before"
        } else {
            "after"
        };
        let events = [(4, "insert"), (16, "update"), (8, "delete"), (32, "truncate")]
            .into_iter()
            .filter(|(bit, _)| tgtype & bit != 0)
            .map(|(_, event)| event.to_owned())
            .collect();
        // The definition without `CREATE TRIGGER name`, so a renamed trigger compares equal.
        let definition = text.split_once(&format!("{name} ")).map_or(text.clone(), |(_, rest)| rest.to_owned());
        table.triggers.push(Trigger { name, timing: timing.to_owned(), events, definition, function: row.get(4) });
    }
    for row in policy_rows {
        let Some(table) = snapshot.tables.get_mut(row.get::<_, &str>(0)) else { continue };
        table.policies.push(Policy {
            name: row.get(1),
            command: row.get(2),
            permissive: row.get(3),
            using: row.get(4),
            with_check: row.get(5),
        });
    }
    Ok(snapshot)
}
