//! Reads a [`Snapshot`] from a PostgreSQL catalog: every table, view and materialized view of every
//! non-system schema (partitions are read through their parent).

use tokio_postgres::{Client, GenericClient, NoTls};

use crate::error::{SchemaError, mask_password};
use backstop_schema::{Column, Constraint, ConstraintKind, Index, RelationKind, Snapshot, Table};

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

/// Reads the snapshot through `client`, which may be a transaction that sees uncommitted changes.
pub(crate) async fn read_snapshot(client: &impl GenericClient) -> Result<Snapshot, SchemaError> {
    let mut snapshot = Snapshot::default();
    let tables = format!(
        "SELECT n.nspname::text || '.' || c.relname::text, c.relkind::text \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p', 'v', 'm') AND NOT c.relispartition AND {USER_SCHEMAS}"
    );
    let columns = format!(
        "SELECT n.nspname::text || '.' || c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), \
                NOT a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attidentity <> '' OR a.attgenerated <> '' \
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
         WHERE c.relkind IN ('r', 'p', 'v', 'm') AND a.attnum > 0 AND NOT a.attisdropped AND {USER_SCHEMAS}"
    );
    let constraints = format!(
        "SELECT n.nspname::text || '.' || c.relname::text, con.conname::text, con.contype::text, \
                pg_get_constraintdef(con.oid), \
                ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY AS k(num, ord) \
                      JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num ORDER BY k.ord) \
         FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p') AND {USER_SCHEMAS} ORDER BY 1, 2"
    );
    let indexes = format!(
        "SELECT n.nspname::text || '.' || c.relname::text, i.relname::text, pg_get_indexdef(ix.indexrelid), \
                ix.indisunique, \
                ARRAY(SELECT a.attname::text FROM unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(num, ord) \
                      JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.num ORDER BY k.ord), \
                EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = ix.indexrelid AND con.conrelid = ix.indrelid) \
         FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class c ON c.oid = ix.indrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('r', 'p', 'm') AND {USER_SCHEMAS} ORDER BY 1, 2"
    );
    // The four catalog queries are independent: sent together, they share the round trips.
    let (table_rows, column_rows, constraint_rows, index_rows) = tokio::try_join!(
        async { client.query(&tables, &[]).await.map_err(SchemaError::pg("listing tables")) },
        async { client.query(&columns, &[]).await.map_err(SchemaError::pg("reading columns")) },
        async { client.query(&constraints, &[]).await.map_err(SchemaError::pg("reading constraints")) },
        async { client.query(&indexes, &[]).await.map_err(SchemaError::pg("reading indexes")) },
    )?;
    for row in table_rows {
        let kind = match row.get::<_, &str>(1) {
            "v" => RelationKind::View,
            "m" => RelationKind::MaterializedView,
            _ => RelationKind::Table,
        };
        snapshot.tables.insert(row.get(0), Table { kind, ..Table::default() });
    }

    for row in column_rows {
        let Some(table) = snapshot.tables.get_mut(row.get::<_, &str>(0)) else { continue };
        let generated: bool = row.get(5);
        table.columns.insert(
            row.get(1),
            Column {
                data_type: row.get(2),
                nullable: row.get(3),
                // For a generated column the stored expression is the generation, not a default.
                default: if generated { None } else { row.get(4) },
                generated,
                generation: None,
                collation: None,
                type_key: None,
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
            validated: true,
            references: None,
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
            partial: false,
            nulls_not_distinct: false,
        });
    }
    Ok(snapshot)
}
