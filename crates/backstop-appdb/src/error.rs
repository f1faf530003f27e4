//! The error type of the crate: every failure names the database, file or migration involved.

use std::path::PathBuf;

/// Why reading a schema, running migrations or checking queries failed.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("cannot connect to postgres at {target}")]
    Connect {
        /// The connection string with any password masked.
        target: String,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("postgres failed while {context}")]
    Postgres {
        context: &'static str,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("sqlite failed on {path} while {context}")]
    Sqlite {
        path: PathBuf,
        context: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("no sqlite database at {path}")]
    SqliteMissing { path: PathBuf },
    #[error("migration {version} cannot be analysed")]
    Parse {
        version: String,
        #[source]
        source: backstop_migrate::ParseError,
    },
    #[error(
        "{file}:{line}: migration {version} has a contract statement ({kind}); the expand stage runs only expand and backfill statements, run it in the contract stage once the previous revision is permanent"
    )]
    ContractInExpand { version: String, file: String, line: u32, kind: String },
    #[error(
        "migration {version} was applied with checksum {applied} but its file now has checksum {current}; never edit an applied migration, add a new one"
    )]
    ChecksumMismatch { version: String, applied: String, current: String },
    #[error("{file}:{line}: migration {version} failed{}", if *.outside_transaction { " outside a transaction: the statements before it stay applied" } else { "; its transaction was rolled back" })]
    Statement {
        version: String,
        file: String,
        line: u32,
        /// The migration ran statement by statement (it holds `CONCURRENTLY` or `VACUUM`).
        outside_transaction: bool,
        #[source]
        source: tokio_postgres::Error,
    },
    #[error("{file}:{line}: migration {version} failed; its transaction was rolled back")]
    SqliteStatement {
        version: String,
        file: String,
        line: u32,
        #[source]
        source: Box<rusqlite::Error>,
    },
    #[error("cannot read {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a sqlx offline query file (json with a \"query\" string)")]
    SqlxFile {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

impl SchemaError {
    pub(crate) fn pg(context: &'static str) -> impl FnOnce(tokio_postgres::Error) -> SchemaError {
        move |source| SchemaError::Postgres { context, source }
    }
}

/// The connection string with the password replaced by `***`, for error messages.
pub(crate) fn mask_password(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((userinfo, host)) = rest.rsplit_once('@') {
            if let Some((user, _)) = userinfo.split_once(':') {
                return format!("{scheme}://{user}:***@{host}");
            }
        }
        return url.to_owned();
    }
    url.split_whitespace()
        .map(|pair| if pair.starts_with("password=") { "password=***" } else { pair })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        let cases = [
            ("postgres://app:s3cret@db:5432/app", "postgres://app:***@db:5432/app"),
            ("postgresql://app@db/app", "postgresql://app@db/app"),
            ("host=db user=app password=s3cret dbname=app", "host=db user=app password=*** dbname=app"),
            ("host=/tmp port=5433", "host=/tmp port=5433"),
        ];
        for (url, masked) in cases {
            assert_eq!(mask_password(url), masked);
        }
    }
}
