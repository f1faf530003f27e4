//! Precise mode: does each of a revision's queries still prepare against a schema? Plus reading the
//! queries out of sqlx offline files (`.sqlx/query-*.json`).

use std::path::Path;

use serde::Deserialize;
use tokio_postgres::Transaction;

use crate::error::SchemaError;
use crate::postgres::connect;
use crate::runner::run_in_transaction;

/// The outcome for each named query: `Ok` when PostgreSQL prepares it, else the server's message
/// (`column "full_name" does not exist`).
pub type QueryChecks = Vec<(String, Result<(), String>)>;

/// Prepares each query against the database at `url` inside a transaction that is rolled back.
///
/// Preparing parses, resolves every table and column and type-checks the parameters, without running
/// anything: a query on a dropped column fails here.
pub async fn check_queries(url: &str, queries: &[(String, String)]) -> Result<QueryChecks, SchemaError> {
    check(url, None, queries).await
}

/// Like [`check_queries`], against the schema as it would be after `contract_sql` (applied in the same
/// transaction and rolled back): would a revision's queries survive this contract?
pub async fn check_queries_after_contract(
    url: &str,
    contract_sql: &str,
    queries: &[(String, String)],
) -> Result<QueryChecks, SchemaError> {
    check(url, Some(contract_sql), queries).await
}

async fn check(url: &str, contract: Option<&str>, queries: &[(String, String)]) -> Result<QueryChecks, SchemaError> {
    let mut client = connect(url).await?;
    let mut tx = client.transaction().await.map_err(SchemaError::pg("starting the query check transaction"))?;
    if let Some(sql) = contract {
        run_in_transaction(&tx, sql).await?;
    }
    let mut checks = Vec::with_capacity(queries.len());
    for (name, sql) in queries {
        checks.push((name.clone(), prepare(&mut tx, sql).await?));
    }
    tx.rollback().await.map_err(SchemaError::pg("rolling back the query check"))?;
    Ok(checks)
}

/// Prepares `sql` in a savepoint, so a failure does not abort the surrounding transaction.
async fn prepare(tx: &mut Transaction<'_>, sql: &str) -> Result<Result<(), String>, SchemaError> {
    let savepoint = tx.transaction().await.map_err(SchemaError::pg("starting a savepoint"))?;
    let outcome = savepoint.prepare(sql).await.map(drop).map_err(|error| match error.as_db_error() {
        Some(db) => db.message().to_owned(),
        None => error.to_string(),
    });
    savepoint.rollback().await.map_err(SchemaError::pg("rolling back a savepoint"))?;
    Ok(outcome)
}

#[derive(Deserialize)]
struct SqlxQuery {
    query: String,
}

/// The queries of a sqlx offline directory (`.sqlx`): each `query-*.json` file as (file stem, query),
/// sorted by name. Other files are ignored; a `query-*.json` without a `query` string is an error.
pub fn read_sqlx_offline(dir: impl AsRef<Path>) -> Result<Vec<(String, String)>, SchemaError> {
    let dir = dir.as_ref();
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| SchemaError::Io { path, source }
    };
    let mut queries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        let Some(file) = path.file_name().and_then(|n| n.to_str()) else { continue };
        let Some(stem) = file.strip_prefix("query-").and_then(|_| file.strip_suffix(".json")) else { continue };
        let text = std::fs::read_to_string(&path).map_err(io(&path))?;
        let parsed: SqlxQuery =
            serde_json::from_str(&text).map_err(|source| SchemaError::SqlxFile { path: path.clone(), source })?;
        queries.push((stem.to_owned(), parsed.query));
    }
    queries.sort();
    Ok(queries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlx_offline_files_become_named_queries() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write("query-bb.json", r#"{"db_name":"PostgreSQL","query":"SELECT name FROM users","describe":{}}"#);
        write("query-aa.json", r#"{"query":"SELECT id FROM users WHERE id = $1"}"#);
        write("README.md", "not a query");
        write("other.json", "{}");
        let queries = read_sqlx_offline(dir.path()).unwrap();
        assert_eq!(
            queries,
            [
                ("query-aa".to_owned(), "SELECT id FROM users WHERE id = $1".to_owned()),
                ("query-bb".to_owned(), "SELECT name FROM users".to_owned()),
            ]
        );

        write("query-cc.json", r#"{"hash":"cc"}"#);
        let error = read_sqlx_offline(dir.path()).unwrap_err();
        assert!(matches!(&error, SchemaError::SqlxFile { path, .. } if path.ends_with("query-cc.json")), "{error}");

        let missing = read_sqlx_offline(dir.path().join("nope")).unwrap_err();
        assert!(matches!(missing, SchemaError::Io { .. }));
    }
}
