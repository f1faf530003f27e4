//! One function per subcommand: call the API, print data to stdout.

use std::path::Path;

use backstop_artifacts::{self as artifacts, ArtifactError, ArtifactKind};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::client::Client;
use crate::exit::{CliError, CliResult, Exit};
use crate::output::{age, table};
use crate::{AuditCommand, Cli, Command, Output};

pub async fn run(cli: Cli) -> CliResult {
    let g = &cli.global;
    let client = || Client::new(&g.server, g.token.clone());
    match cli.command {
        Command::Server { config } => server(&config).await,
        Command::Demo { keep } => crate::demo::run(keep).await,
        Command::DemoApp(args) => crate::demo_app::run(args).await,
        Command::Lint { paths, dialect } => {
            let format = match g.output {
                Output::Json => crate::lint::LintOutput::Json,
                Output::Sarif => crate::lint::LintOutput::Sarif,
                Output::Table => crate::lint::LintOutput::Human,
            };
            crate::lint::run(&paths, dialect, format)
        }
        Command::Digest { path } => {
            let (digest, kind) = digest_of(&path)?;
            println!("{digest}  {}  {}", kind_name(kind), path.display());
            Ok(())
        }
        Command::Release {
            app,
            artifact,
            version,
            change_cause,
            digest,
            git_commit,
            guarded_by,
            migrations,
            queries,
        } => {
            let c = client()?;
            let args = ReleaseArgs {
                app: &app,
                artifact: &artifact,
                version: &version,
                change_cause: &change_cause,
                digest: digest.as_deref(),
                git_commit: git_commit.as_deref(),
                guarded_by: &guarded_by,
                migrations: migrations.as_deref(),
                queries: queries.as_deref(),
            };
            let outcome = release(&c, &args).await?;
            print_outcome(g.output, "released", &outcome);
            Ok(())
        }
        Command::History { app, revision } => history(&client()?, g.output, &app, revision).await,
        Command::Status { app } => status(&client()?, g.output, &app).await,
        Command::Apps => apps(&client()?, g.output).await,
        Command::KnownGood { app } => {
            let rev: Value = client()?.get(&format!("/v1/apps/{app}/known-good")).await?;
            match g.output {
                Output::Json | Output::Sarif => println!("{}", pretty(&rev)),
                Output::Table => println!(
                    "revision {} ({}, {}) known-good since {}",
                    rev["revision"],
                    rev["version"].as_str().unwrap_or(""),
                    short(&rev["digest"]),
                    rev["known_good_at"].as_str().unwrap_or("?")
                ),
            }
            Ok(())
        }
        Command::Undo { app, to_revision, force } | Command::Rollback { app, revision: to_revision, force } => {
            let outcome: Value = client()?
                .post(&format!("/v1/apps/{app}/undo"), &json!({ "to_revision": to_revision, "force": force }))
                .await?;
            print_outcome(g.output, "rolled back", &outcome);
            Ok(())
        }
        Command::Operations { app, limit } => {
            let ops: Value = client()?.get(&format!("/v1/apps/{app}/operations?limit={limit}")).await?;
            match g.output {
                Output::Json | Output::Sarif => println!("{}", pretty(&ops)),
                Output::Table => println!("{}", operations_table(&ops)),
            }
            Ok(())
        }
        Command::Flag { command } => crate::flag::run(g, command).await,
        Command::CheckRollback { app, revision } => crate::data::check_rollback(g, &app, revision).await,
        Command::Migrate { command } => crate::data::migrate(g, command).await,
        Command::Promote { app, revision, permanent } => crate::data::promote(g, &app, revision, permanent).await,
        Command::Audit { command: AuditCommand::List } => {
            let entries: Value = client()?.get("/v1/audit").await?;
            match g.output {
                Output::Json | Output::Sarif => println!("{}", pretty(&entries)),
                Output::Table => {
                    let rows = entries
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|e| {
                            vec![
                                e["seq"].to_string(),
                                e["at"].as_str().unwrap_or("").to_owned(),
                                e["actor"].as_str().unwrap_or("").to_owned(),
                                e["action"].as_str().unwrap_or("").to_owned(),
                                e["app"].as_str().unwrap_or("-").to_owned(),
                                e["outcome"].as_str().unwrap_or("").to_owned(),
                                e["detail"].as_str().unwrap_or("").to_owned(),
                            ]
                        })
                        .collect();
                    println!("{}", table(&["SEQ", "AT", "ACTOR", "ACTION", "APP", "OUTCOME", "DETAIL"], rows));
                }
            }
            Ok(())
        }
        Command::Audit { command: AuditCommand::Verify } => {
            let v: Value = client()?.get("/v1/audit/verify").await?;
            if g.output != Output::Table {
                println!("{}", pretty(&v));
            }
            if v["ok"].as_bool() == Some(true) {
                if g.output == Output::Table {
                    println!("audit log intact: {} entries, head {}", v["entries"], v["head"].as_str().unwrap_or("-"));
                }
                Ok(())
            } else {
                Err(CliError::failed(
                    format!("audit log tampered: {}", v["break"].as_str().unwrap_or("chain broken")),
                    "the entry named and every one after it can no longer be trusted; compare with a backup of the state directory",
                ))
            }
        }
        Command::Gc => {
            let v: Value = client()?.post("/v1/gc", &json!({})).await?;
            match g.output {
                Output::Json | Output::Sarif => println!("{}", pretty(&v)),
                Output::Table => println!(
                    "removed {} artifacts, freed {} bytes, kept {}",
                    v["removed"].as_array().map_or(0, Vec::len),
                    v["freed_bytes"],
                    v["kept"]
                ),
            }
            Ok(())
        }
    }
}

async fn server(config: &Path) -> CliResult {
    let config = backstop_server::Config::load(config).map_err(|e| {
        let hint = match &e {
            backstop_server::ConfigError::Read { .. } => {
                "pass --config PATH to an existing file (see README for a minimal one)"
            }
            _ => "fix the named key in the config file",
        };
        CliError::bad_input(error_chain(&e), hint)
    })?;
    init_logging();
    let server = backstop_server::Server::start(config).await.map_err(|e| {
        let exit = if e.is_bad_input() { Exit::BadInput } else { Exit::Failed };
        CliError::new(exit, error_chain(&e), e.hint())
    })?;
    tracing::info!(addr = %server.local_addr(), "backstop control plane ready");
    server
        .serve(backstop_server::shutdown_signal())
        .await
        .map_err(|e| CliError::failed(format!("the API server stopped: {e}"), "see the log above"))
}

pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("BACKSTOP_LOG").unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(crate::output::color_stderr())
        .try_init();
}

pub use backstop_server::error::chain as error_chain;

fn kind_name(kind: ArtifactKind) -> &'static str {
    match kind {
        ArtifactKind::File => "file",
        ArtifactKind::Dir => "directory",
    }
}

fn digest_of(path: &Path) -> CliResult<(backstop_core::Digest, ArtifactKind)> {
    artifacts::digest_path(path).map_err(|e| {
        let hint = match &e {
            ArtifactError::NotFound { .. } => "check the --artifact path",
            ArtifactError::NotExecutable { .. } => "chmod +x it, or ship a directory with an executable `run`",
            ArtifactError::NoEntrypoint { .. } => "put an executable file named `run` at the top of the directory",
            ArtifactError::Unsupported { .. } => "replace links and special files with regular files",
            _ => "check the path and its permissions",
        };
        CliError::bad_input(error_chain(&e), hint)
    })
}

/// What `backstop release` sends.
pub struct ReleaseArgs<'a> {
    pub app: &'a str,
    pub artifact: &'a Path,
    pub version: &'a str,
    pub change_cause: &'a str,
    /// Refuse unless the artifact has this digest.
    pub digest: Option<&'a str>,
    pub git_commit: Option<&'a str>,
    pub guarded_by: &'a [String],
    pub migrations: Option<&'a Path>,
    pub queries: Option<&'a Path>,
}

pub async fn release(c: &Client, args: &ReleaseArgs<'_>) -> CliResult<Value> {
    let ReleaseArgs {
        app,
        artifact,
        version,
        change_cause,
        digest: expected,
        git_commit,
        guarded_by,
        migrations,
        queries,
    } = *args;
    if version.trim().is_empty() {
        return Err(CliError::bad_input(
            "--version is empty",
            "pass the version being released, e.g. --version v2.4.0",
        ));
    }
    let (digest, kind) = digest_of(artifact)?;
    if let Some(expected) = expected {
        let expected: backstop_core::Digest =
            expected.parse().map_err(|e: backstop_core::digest::DigestParseError| {
                CliError::bad_input(e.to_string(), "digests look like sha256:<64 hex digits>")
            })?;
        if expected != digest {
            return Err(CliError::bad_input(
                format!("artifact {} has digest {digest}, not the expected {expected}", artifact.display()),
                "nothing was started; check that you are releasing the artifact your build produced",
            ));
        }
    }
    // Read the folders before anything is uploaded, so bad input changes nothing.
    let migrations = migrations.map(crate::data::read_shipped).transpose()?;
    let queries = queries.map(crate::data::read_queries).transpose()?.unwrap_or_default();
    // Check the app exists before uploading anything.
    let _: Value = c.get(&format!("/v1/apps/{app}/status")).await?;
    let (content_type, body) = match kind {
        ArtifactKind::File => ("application/octet-stream", read_file(artifact)?),
        ArtifactKind::Dir => {
            let mut buf = Vec::new();
            artifacts::tar_dir(artifact, &mut buf).map_err(|e| {
                CliError::bad_input(
                    format!("cannot pack {}: {e}", artifact.display()),
                    "check the directory's permissions",
                )
            })?;
            ("application/x-tar", buf)
        }
    };
    let _: Value = c.put_body(&format!("/v1/artifacts/{digest}"), content_type, body).await?;
    c.post(
        &format!("/v1/apps/{app}/releases"),
        &json!({
            "digest": digest, "version": version, "change_cause": change_cause,
            "git_commit": git_commit, "guarded_by": guarded_by,
            "migrations": migrations, "queries": queries,
        }),
    )
    .await
}

fn read_file(path: &Path) -> CliResult<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| CliError::bad_input(format!("cannot read {}: {e}", path.display()), "check the --artifact path"))
}

fn print_outcome(output: Output, verb: &str, o: &Value) {
    match output {
        Output::Json | Output::Sarif => println!("{}", pretty(o)),
        Output::Table => {
            let from = match o["from_revision"].as_u64() {
                Some(f) => format!(" (was revision {f})"),
                None => String::new(),
            };
            let how = if o["warm"].as_bool() == Some(true) { ", warm swap" } else { "" };
            println!(
                "{} {verb}: revision {} {} {} is live{from}{how}, status {}, operation {}",
                o["app"].as_str().unwrap_or("app"),
                o["revision"],
                o["version"].as_str().unwrap_or(""),
                short(&o["digest"]),
                o["status"].as_str().unwrap_or(""),
                o["operation"]
            );
        }
    }
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

fn short(digest: &Value) -> String {
    digest.as_str().and_then(|d| d.strip_prefix("sha256:")).map(|h| h.chars().take(12).collect()).unwrap_or_default()
}

#[derive(Deserialize)]
struct HistoryRow {
    revision: u64,
    version: String,
    digest: String,
    change_cause: String,
    status: String,
    created_at: DateTime<Utc>,
    live: bool,
    last_known_good: bool,
    warm: bool,
}

pub async fn history(c: &Client, output: Output, app: &str, revision: Option<u64>) -> CliResult {
    if let Some(n) = revision {
        let v: Value = c.get(&format!("/v1/apps/{app}/revisions/{n}")).await?;
        match output {
            Output::Json | Output::Sarif => println!("{}", pretty(&v)),
            Output::Table => {
                let r = &v["revision"];
                for key in [
                    "revision",
                    "version",
                    "digest",
                    "change_cause",
                    "git_commit",
                    "guarded_by",
                    "actor",
                    "created_at",
                    "status",
                    "status_reason",
                    "live_since",
                    "known_good_at",
                ] {
                    let val = match &r[key] {
                        Value::String(s) => s.clone(),
                        Value::Null => "-".into(),
                        Value::Array(items) if items.is_empty() => "-".into(),
                        Value::Array(items) => items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "),
                        other => other.to_string(),
                    };
                    println!("{:<14}{val}", format!("{}:", key.replace('_', "-")));
                }
                let db = &v["database"];
                let migrations: Vec<&str> =
                    db["migrations"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
                if !migrations.is_empty() {
                    println!("{:<14}{}", "migrations:", migrations.join(", "));
                }
                if db["queries"].as_u64().unwrap_or(0) > 0 {
                    println!("{:<14}{}", "queries:", db["queries"]);
                }
                if let Some(at) = db["schema_recorded_at"].as_str() {
                    println!("{:<14}{at}", "schema:");
                }
                println!("\n{}", operations_table(&v["operations"]));
            }
        }
        return Ok(());
    }
    let rows: Value = c.get(&format!("/v1/apps/{app}/revisions")).await?;
    if output != Output::Table {
        println!("{}", pretty(&rows));
        return Ok(());
    }
    let parsed: Vec<HistoryRow> = serde_json::from_value(rows).map_err(|e| {
        CliError::failed(format!("unexpected history answer: {e}"), "is the server a backstop of the same version?")
    })?;
    println!("{}", history_table(&parsed, Utc::now()));
    Ok(())
}

fn history_table(rows: &[HistoryRow], now: DateTime<Utc>) -> String {
    let body = rows
        .iter()
        .map(|r| {
            let mut marks = Vec::new();
            if r.live {
                marks.push("live");
            }
            if r.last_known_good {
                marks.push("last-known-good");
            }
            if r.warm {
                marks.push("warm");
            }
            vec![
                format!("{}{}", r.revision, if r.live { " *" } else { "" }),
                r.version.clone(),
                r.digest.trim_start_matches("sha256:").chars().take(12).collect(),
                r.change_cause.clone(),
                r.status.clone(),
                age(r.created_at, now),
                marks.join(","),
            ]
        })
        .collect();
    table(&["REVISION", "VERSION", "DIGEST", "CHANGE-CAUSE", "STATUS", "AGE", "MARK"], body)
}

fn operations_table(ops: &Value) -> String {
    let rows = ops
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| {
            let steps: Vec<&str> =
                o["steps"].as_array().into_iter().flatten().filter_map(|s| s["step"].as_str()).collect();
            vec![
                o["id"].to_string(),
                o["kind"].as_str().unwrap_or("").to_owned(),
                o["state"].as_str().unwrap_or("").to_owned(),
                o["actor"].as_str().unwrap_or("").to_owned(),
                o["started_at"].as_str().unwrap_or("").to_owned(),
                steps.join(" > "),
                o["error"].as_str().unwrap_or("").to_owned(),
            ]
        })
        .collect();
    table(&["OPERATION", "KIND", "STATE", "ACTOR", "STARTED", "STEPS", "ERROR"], rows)
}

pub async fn status(c: &Client, output: Output, app: &str) -> CliResult {
    let v: Value = c.get(&format!("/v1/apps/{app}/status")).await?;
    match output {
        Output::Json | Output::Sarif => println!("{}", pretty(&v)),
        Output::Table => println!("{}", status_text(&v)),
    }
    Ok(())
}

fn status_text(v: &Value) -> String {
    let rev = |r: &Value| -> String {
        if r.is_null() {
            "none".into()
        } else {
            format!(
                "revision {} ({}, {}, {})",
                r["revision"],
                r["version"].as_str().unwrap_or(""),
                short(&r["digest"]),
                r["status"].as_str().unwrap_or("")
            )
        }
    };
    let mut out =
        format!("app:         {} on {}\n", v["app"].as_str().unwrap_or(""), v["listen"].as_str().unwrap_or(""));
    out += &format!("live:        {}\n", rev(&v["live"]));
    out += &format!("known-good:  {}\n", rev(&v["known_good"]));
    let warm: Vec<String> = v["warm_revisions"].as_array().into_iter().flatten().map(|w| w.to_string()).collect();
    out += &format!(
        "warm:        {}\n",
        if warm.is_empty() { "none".to_owned() } else { format!("revision {}", warm.join(", ")) }
    );
    if let Some(op) = v["running_operation"].as_object() {
        out += &format!(
            "running:     operation {} ({}) by {}\n",
            op["id"],
            op["kind"].as_str().unwrap_or(""),
            op["actor"].as_str().unwrap_or("")
        );
    }
    let rows: Vec<Vec<String>> = v["instances"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            vec![
                i["revision"].to_string(),
                i["role"].as_str().unwrap_or("").to_owned(),
                i["pid"].to_string(),
                i["port"].to_string(),
                if i["alive"].as_bool() == Some(true) { "yes".into() } else { "no".into() },
                i["inflight"].to_string(),
            ]
        })
        .collect();
    if !rows.is_empty() {
        out += "\n";
        out += &table(&["REVISION", "ROLE", "PID", "PORT", "ALIVE", "IN-FLIGHT"], rows);
    }
    out.trim_end().to_owned()
}

async fn apps(c: &Client, output: Output) -> CliResult {
    let v: Value = c.get("/v1/apps").await?;
    match output {
        Output::Json | Output::Sarif => println!("{}", pretty(&v)),
        Output::Table => {
            let rows = v
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| {
                    vec![
                        a["app"].as_str().unwrap_or("").to_owned(),
                        a["listen"].as_str().unwrap_or("").to_owned(),
                        a["live_revision"].as_u64().map_or("-".into(), |n| n.to_string()),
                        a["known_good_revision"].as_u64().map_or("-".into(), |n| n.to_string()),
                    ]
                })
                .collect();
            println!("{}", table(&["APP", "LISTEN", "LIVE", "KNOWN-GOOD"], rows));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_table_marks_live_and_known_good() {
        let now = Utc::now();
        let row = |n: u64, status: &str, live: bool, kg: bool| HistoryRow {
            revision: n,
            version: format!("v{n}"),
            digest: format!("sha256:{}", "ab".repeat(32)),
            change_cause: format!("cause {n}"),
            status: status.into(),
            created_at: now - chrono::Duration::seconds(90),
            live,
            last_known_good: kg,
            warm: false,
        };
        let out = history_table(&[row(1, "known-good", false, true), row(2, "soaking", true, false)], now);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("REVISION"));
        assert!(
            lines[1].contains("known-good") && lines[1].contains("last-known-good") && lines[1].contains("90s"),
            "{out}"
        );
        assert!(lines[2].starts_with("2 *") && lines[2].contains("live") && lines[2].contains("abababababab"), "{out}");
    }

    #[test]
    fn error_chain_does_not_repeat_causes() {
        let e = backstop_server::ConfigError::Read {
            path: "/nope/backstop.toml".into(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        };
        let text = error_chain(&e);
        assert!(text.starts_with("cannot read config file /nope/backstop.toml: "), "{text}");
        assert_eq!(text.matches("not found").count(), 1, "{text}");
    }
}
