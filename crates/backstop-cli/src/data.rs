//! Data-safety commands: `migrate plan|contract`, `check-rollback`, `promote`, and reading the
//! migration and query folders a release ships.

use std::path::Path;

use backstop_api::{ContractOutcome, PlanRequest, PlanView, PromoteRequest, Revision, RollbackCheck};
use backstop_api::{ShippedMigration, ShippedQuery};
use backstop_server::migrations::down_name;
use clap::Subcommand;

use crate::client::{Answer, Client};
use crate::exit::{CliError, CliResult};
use crate::output::out;
use crate::output::{table, wire_text};
use crate::{Global, Output};

#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Which migrations run before the deploy (expand), which after the soak (contract), and why.
    Plan {
        app: String,
        /// Plan this folder as a pending release would ship it (default: the live revision's folder).
        #[arg(long)]
        migrations: Option<std::path::PathBuf>,
    },
    /// Run the live revision's contract migrations, once it is proven and no revision in the
    /// rollback window needs what they remove.
    Contract { app: String },
}

/// The forward migrations of `dir` in run order, each with its `.down.sql` pair when there is one.
pub fn read_shipped(dir: &Path) -> CliResult<Vec<ShippedMigration>> {
    if !dir.is_dir() {
        return Err(CliError::bad_input(
            format!("--migrations {} is not a directory", dir.display()),
            "pass the release's migration folder (numbered .sql files, .up.sql/.down.sql pairs or Flyway V1__name.sql)",
        ));
    }
    let (files, _) = backstop_appdb::read_migrations(dir).map_err(|e| {
        CliError::bad_input(format!("cannot read {}: {e}", dir.display()), "check the folder's permissions")
    })?;
    let mut shipped = Vec::with_capacity(files.len());
    for f in files {
        let down_path = dir.join(down_name(&f.name));
        let down = match std::fs::read_to_string(&down_path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(CliError::bad_input(
                    format!("cannot read {}: {e}", down_path.display()),
                    "check the file's permissions",
                ));
            }
        };
        shipped.push(ShippedMigration { version: f.version, name: f.name, sql: f.sql, down });
    }
    Ok(shipped)
}

/// The queries of `dir`: sqlx offline files (`query-*.json`) when there are any, otherwise every
/// statement of every `.sql` file, named `FILE:LINE`.
pub fn read_queries(dir: &Path) -> CliResult<Vec<ShippedQuery>> {
    let bad = |e: String| CliError::bad_input(e, "pass a folder of .sql query files or sqlx's .sqlx folder");
    let entries = std::fs::read_dir(dir).map_err(|e| bad(format!("--queries {}: {e}", dir.display())))?;
    let mut names: Vec<String> = entries.flatten().filter_map(|e| e.file_name().to_str().map(str::to_owned)).collect();
    names.sort();
    if names.iter().any(|n| n.starts_with("query-") && n.ends_with(".json")) {
        let queries = backstop_appdb::read_sqlx_offline(dir).map_err(|e| bad(e.to_string()))?;
        return Ok(queries.into_iter().map(|(name, sql)| ShippedQuery { name, sql }).collect());
    }
    let mut queries = Vec::new();
    for name in names.iter().filter(|n| n.ends_with(".sql")) {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path).map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?;
        let report = backstop_migrate::analyze(name, &text, backstop_migrate::Dialect::Postgres)
            .map_err(|e| bad(format!("{e}")))?;
        for s in report.statements {
            queries.push(ShippedQuery { name: format!("{name}:{}", s.line), sql: s.sql });
        }
    }
    if queries.is_empty() {
        return Err(bad(format!("--queries {} holds no .sql query and no sqlx query-*.json file", dir.display())));
    }
    Ok(queries)
}

pub async fn migrate(g: &Global, command: MigrateCommand) -> CliResult {
    let c = Client::new(&g.server, g.token.clone())?;
    match command {
        MigrateCommand::Plan { app, migrations } => {
            let shipped = migrations.as_deref().map(read_shipped).transpose()?;
            let answer: Answer<PlanView> =
                c.post(&format!("/v1/apps/{app}/migrations/plan"), &PlanRequest { migrations: shipped }).await?;
            if g.output != Output::Table {
                out!("{}", answer.json());
                return Ok(());
            }
            let plan = &answer.value;
            out!("{} migrations of {}:", plan.app, plan.source);
            if !plan.applied.is_empty() {
                out!("already applied: {}", plan.applied.join(", "));
            }
            let mut rows = Vec::new();
            for m in &plan.migrations {
                let statements: Vec<String> =
                    m.statements.iter().map(|s| format!("{}: {} ({})", s.line, s.kind, wire_text(&s.phase))).collect();
                rows.push(vec![m.file.clone(), wire_text(&m.stage), statements.join("\n"), m.reason.clone()]);
            }
            if rows.is_empty() {
                out!("nothing pending");
            } else {
                out!("{}", table(&["FILE", "STAGE", "STATEMENTS", "WHY"], rows));
            }
            let refusals = &plan.refusals;
            for r in refusals {
                out!("refused: {}:{}: {} ({})\n  help: {}", r.file, r.line, r.message, r.rule, r.help);
            }
            if refusals.is_empty() {
                Ok(())
            } else {
                Err(CliError::failed(
                    format!(
                        "a release with these migrations would be refused ({} {} above)",
                        refusals.len(),
                        if refusals.len() == 1 { "reason" } else { "reasons" }
                    ),
                    "fix each one as its help says, then plan again",
                ))
            }
        }
        MigrateCommand::Contract { app } => {
            let answer: Answer<ContractOutcome> = c.post_empty(&format!("/v1/apps/{app}/migrations/contract")).await?;
            if g.output != Output::Table {
                out!("{}", answer.json());
                return Ok(());
            }
            let v = &answer.value;
            if v.applied.is_empty() {
                out!("{app}: nothing to contract, every migration of revision {} is applied", v.revision);
            } else {
                out!(
                    "{app}: contract applied {} for revision {} (checked revisions {}), operation {}",
                    v.applied.join(", "),
                    v.revision,
                    wire_text(&v.checked),
                    wire_text(&v.operation)
                );
            }
            Ok(())
        }
    }
}

pub async fn check_rollback(g: &Global, app: &str, revision: u64) -> CliResult {
    let c = Client::new(&g.server, g.token.clone())?;
    let answer: Answer<RollbackCheck> = c.get(&format!("/v1/apps/{app}/revisions/{revision}/rollback-check")).await?;
    let v = &answer.value;
    if g.output != Output::Table {
        out!("{}", answer.json());
    } else {
        let mode = wire_text(&v.mode);
        if v.safe && v.mode == backstop_api::CheckMode::Unchecked {
            let why = v.note.as_deref().unwrap_or("there is no schema to compare");
            out!("{app}: rolling back to revision {revision} was not checked: {why}");
        } else if v.safe {
            let note = v.note.as_ref().map(|n| format!(" ({n})")).unwrap_or_default();
            out!("{app}: rolling back to revision {revision} is safe, {mode} check{note}");
        } else {
            out!("{app}: rolling back to revision {revision} is NOT safe, {mode} check:");
            for p in &v.problems {
                out!("  {}: {}", p.object, p.message);
            }
            for d in &v.down {
                out!(
                    "  since then: {} (down: {}{})",
                    d.version,
                    d.down.as_deref().unwrap_or("none"),
                    if d.loses_data.is_empty() {
                        String::new()
                    } else {
                        format!(", loses data: {}", d.loses_data.join("; "))
                    }
                );
            }
            out!("  advice: {}", v.advice);
        }
    }
    if v.safe {
        Ok(())
    } else {
        let objects: Vec<&str> = v.problems.iter().map(|p| p.object.as_str()).collect();
        Err(CliError::failed(
            format!("revision {revision} cannot run on the schema as it is now: {}", objects.join(", ")),
            v.advice.clone(),
        ))
    }
}

pub async fn promote(g: &Global, app: &str, revision: u64, permanent: bool) -> CliResult {
    if !permanent {
        return Err(CliError::bad_input(
            "promote needs --permanent",
            format!("`backstop promote {app} {revision} --permanent` declares that no rollback will go further back"),
        ));
    }
    let c = Client::new(&g.server, g.token.clone())?;
    let answer: Answer<Revision> =
        c.post(&format!("/v1/apps/{app}/revisions/{revision}/promote"), &PromoteRequest { permanent: true }).await?;
    let v = &answer.value;
    match g.output {
        Output::Table => {
            out!("{app}: revision {} ({}) is permanent; rollbacks will not go further back", v.revision, v.version)
        }
        _ => out!("{}", answer.json()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_read_with_their_down_pairs() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write("0001_users.up.sql", "CREATE TABLE users (id int);");
        write("0001_users.down.sql", "DROP TABLE users;");
        write("0002_name.up.sql", "ALTER TABLE users ADD COLUMN name text;");
        let shipped = read_shipped(dir.path()).unwrap();
        let found: Vec<(&str, &str, Option<&str>)> =
            shipped.iter().map(|m| (m.version.as_str(), m.name.as_str(), m.down.as_deref())).collect();
        assert_eq!(
            found,
            [("0001", "0001_users.up.sql", Some("DROP TABLE users;")), ("0002", "0002_name.up.sql", None)]
        );
        let err = read_shipped(&dir.path().join("missing")).unwrap_err();
        assert_eq!(err.exit, crate::exit::Exit::BadInput);
    }

    #[test]
    fn queries_come_from_sql_files_or_sqlx_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("users.sql"),
            "SELECT id, name FROM users;\n\nINSERT INTO users (name) VALUES ($1);",
        )
        .unwrap();
        let queries = read_queries(dir.path()).unwrap();
        let names: Vec<&str> = queries.iter().map(|q| q.name.as_str()).collect();
        assert_eq!(names, ["users.sql:1", "users.sql:3"]);
        assert_eq!(queries[1].sql, "INSERT INTO users (name) VALUES ($1)");

        let sqlx = tempfile::tempdir().unwrap();
        std::fs::write(sqlx.path().join("query-ab12.json"), r#"{"db_name":"PostgreSQL","query":"SELECT 1"}"#).unwrap();
        let queries = read_queries(sqlx.path()).unwrap();
        assert_eq!((queries[0].name.as_str(), queries[0].sql.as_str()), ("query-ab12", "SELECT 1"));

        let empty = tempfile::tempdir().unwrap();
        assert!(read_queries(empty.path()).is_err());
    }
}
