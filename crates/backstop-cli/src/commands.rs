//! One function per subcommand: call the API, print data to stdout.

use std::path::Path;

use backstop_api::{
    AbortOutcome, AppStatus, AuditEntry, AuditQuery, AuditVerify, GcSummary, HistoryEntry, ListQuery, Operation,
    Outcome, ReleaseRequest, Revision, RevisionDetail, RevisionStatus, UndoRequest, Uploaded,
};
use backstop_artifacts::{self as artifacts, ArtifactError, ArtifactKind};
use chrono::{DateTime, Utc};

use crate::client::{Answer, Client};
use crate::exit::{CliError, CliResult, Exit};
use crate::output::out;
use crate::output::{Listing, Row, age, table, wire_text};
use crate::{AuditCommand, Cli, Command, Output};

pub async fn run(mut cli: Cli) -> CliResult {
    if let Some(path) = cli.global.token_file.take() {
        cli.global.token = Some(read_token_file(&path)?);
    }
    crate::client::set_actor(cli.global.actor.clone());
    crate::output::set_no_headers(cli.global.no_headers);
    crate::output::set_format(cli.global.format);
    cli.global.output = cli.global.format.output();
    let g = &cli.global;
    let client = || Client::new(&g.server, g.token.clone());
    match cli.command {
        Command::Server { config, stop_apps_on_exit, reload } => {
            if reload {
                server_reload(&config).await
            } else {
                server(&config, stop_apps_on_exit).await
            }
        }
        Command::Completion { shell } => {
            let mut cmd = crate::help::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "backstop", &mut script);
            crate::output::out_part!("{}", String::from_utf8_lossy(&script));
            Ok(())
        }
        Command::Man { dir } => man(dir.as_deref()),
        Command::Version => {
            let version = env!("CARGO_PKG_VERSION");
            match g.output {
                Output::Json | Output::Sarif => {
                    out!(
                        "{}",
                        crate::output::data(&serde_json::json!({ "version": version, "commit": crate::GIT_COMMIT }))
                    )
                }
                Output::Table => out!("backstop {version} (commit {})", crate::GIT_COMMIT),
            }
            Ok(())
        }
        Command::Config { command: crate::ConfigCommand::Check { config } } => {
            let c = load_server_config(&config)?;
            let apps: Vec<&str> = c.apps.keys().map(|a| a.as_str()).collect();
            match g.output {
                Output::Json | Output::Sarif => out!(
                    "{}",
                    crate::output::data(&serde_json::json!({
                        "config": config.display().to_string(),
                        "ok": true,
                        "listen": c.server.listen.to_string(),
                        "state": c.server.state.display().to_string(),
                        "apps": apps,
                    }))
                ),
                Output::Table => out!(
                    "{}: ok; listen {}, state {}, {} app{}{}{}",
                    config.display(),
                    c.server.listen,
                    c.server.state.display(),
                    apps.len(),
                    if apps.len() == 1 { "" } else { "s" },
                    if apps.is_empty() { "" } else { ": " },
                    apps.join(", ")
                ),
            }
            Ok(())
        }
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
            out!("{digest}  {}  {}", kind_name(kind), path.display());
            Ok(())
        }
        Command::Release {
            app,
            artifact,
            version,
            change_cause,
            digest,
            git_commit,
            hotfix_of,
            allow_missing_hotfix,
            repo,
            guarded_by,
            migrations,
            queries,
            api,
            messages,
            allow_breaking,
            wait,
        } => {
            // Read the contracts before anything else touches the server or the repository.
            let contracts = crate::compat::read(api.as_deref(), messages.as_deref(), &allow_breaking)?;
            let c = client()?;
            let git = crate::hotfix::prepare_release(
                &c,
                &app,
                git_commit.as_deref(),
                hotfix_of,
                allow_missing_hotfix.as_deref(),
                repo.as_deref(),
            )
            .await?;
            let args = ReleaseArgs {
                app: &app,
                artifact: &artifact,
                version: &version,
                change_cause: &change_cause,
                digest: digest.as_deref(),
                git: &git,
                guarded_by: &guarded_by,
                migrations: migrations.as_deref(),
                queries: queries.as_deref(),
                contracts: &contracts,
            };
            let phase = ReleasePhase::default();
            let work = async {
                let outcome = release_in(&c, &args, &phase).await?;
                print_outcome(g.output, "released", &outcome);
                if wait {
                    wait_proven(&c, &app, outcome.value.revision).await?;
                }
                Ok(())
            };
            tokio::select! {
                done = work => done,
                () = interrupted() => Err(release_interrupted(&c, &app, &phase).await),
            }
        }
        Command::Import { app, deployment } => {
            let req = backstop_api::ImportRequest { source: format!("deployment/{deployment}") };
            let v: Answer<backstop_api::ImportOutcome> =
                client()?.post(&format!("/v1/apps/{app}/import"), &req).await?;
            match g.output {
                Output::Json | Output::Sarif => out!("{}", v.json()),
                Output::Table => {
                    for r in &v.value.imported {
                        out!("revision {}: {}", r.revision, r.origin);
                    }
                    for s in &v.value.skipped {
                        out!("skipped: {s}");
                    }
                    out!("{app}: revision {} is live, run by backstop", v.value.outcome.revision);
                }
            }
            Ok(())
        }
        Command::Abort { app } => {
            let v: Answer<AbortOutcome> = client()?.post_empty(&format!("/v1/apps/{app}/abort")).await?;
            match g.output {
                Output::Json | Output::Sarif => out!("{}", v.json()),
                Output::Table => out!("{}", abort_text(&v.value)),
            }
            Ok(())
        }
        Command::History { app, revision } => history(&client()?, g.output, &app, revision).await,
        Command::Status { app, watch: false } => status(&client()?, g.output, &app).await,
        Command::Status { app, watch: true } => status_watch(&client()?, g.output, &app).await,
        Command::Signals { app } => signals(&client()?, g.output, &app).await,
        Command::Apps => apps(&client()?, g.output).await,
        Command::KnownGood { app } => {
            let answer: Answer<Revision> = client()?.get(&format!("/v1/apps/{app}/known-good")).await?;
            let rev = &answer.value;
            match g.output {
                Output::Json | Output::Sarif => out!("{}", answer.json()),
                Output::Table => out!(
                    "revision {} ({}, {}) known-good since {}",
                    rev.revision,
                    rev.version,
                    rev.digest.short(),
                    rev.known_good_at.as_ref().map_or_else(|| "?".to_owned(), wire_text)
                ),
            }
            Ok(())
        }
        Command::Compat { app, against, api, messages } => {
            crate::compat::run(&client()?, &app, against, api.as_deref(), messages.as_deref(), g.output).await
        }
        Command::Undo { app, to_revision, force } | Command::Rollback { app, revision: to_revision, force } => {
            let outcome: Answer<Outcome> =
                client()?.post(&format!("/v1/apps/{app}/undo"), &UndoRequest { to_revision, force }).await?;
            print_outcome(g.output, "rolled back", &outcome);
            Ok(())
        }
        Command::Operations { app, limit, since } => {
            let query = ListQuery { limit: Some(limit), since };
            let ops: Answer<Vec<Operation>> =
                client()?.get_query(&format!("/v1/apps/{app}/operations"), &query).await?;
            match g.output {
                Output::Json | Output::Sarif => out!("{}", ops.json()),
                Output::Table => crate::output::print_listing(operations_listing(&ops.value)),
            }
            Ok(())
        }
        Command::Logs { app, revision, follow, bytes } => {
            logs(&client()?, g.output, &app, revision, follow, bytes).await
        }
        Command::Flag { command } => crate::flag::run(g, command).await,
        Command::Hotfix { command } => crate::hotfix::run(g, command).await,
        Command::Incident(args) => crate::incident::incident(g, args).await,
        Command::Report { app, since } => crate::incident::report(g, app, since).await,
        Command::Drill(args) => crate::incident::drill(g, args).await,
        Command::CheckRollback { app, revision } => crate::data::check_rollback(g, &app, revision).await,
        Command::Migrate { command } => crate::data::migrate(g, command).await,
        Command::Promote { app, revision, permanent } => crate::data::promote(g, &app, revision, permanent).await,
        Command::Audit { command: AuditCommand::List { limit, after, since, app } } => {
            let query = AuditQuery { limit, after, since, app };
            let entries: Answer<Vec<AuditEntry>> = client()?.get_query("/v1/audit", &query).await?;
            match g.output {
                Output::Json | Output::Sarif => out!("{}", entries.json()),
                Output::Table => {
                    let rows = entries
                        .value
                        .iter()
                        .map(|e| Row {
                            name: format!("audit/{}", e.seq),
                            cells: vec![
                                e.seq.to_string(),
                                e.at.clone(),
                                e.actor.clone(),
                                e.action.clone(),
                                e.app.clone().unwrap_or_else(|| "-".to_owned()),
                                e.outcome.clone(),
                                match &e.detail {
                                    serde_json::Value::String(s) => s.clone(),
                                    other => other.to_string(),
                                },
                            ],
                        })
                        .collect();
                    crate::output::print_listing(Listing {
                        header: &["SEQ", "AT", "ACTOR", "ACTION", "APP", "OUTCOME", "DETAIL"],
                        wide: &[],
                        rows,
                    });
                }
            }
            Ok(())
        }
        Command::Audit { command: AuditCommand::Verify } => {
            let v: Answer<AuditVerify> = client()?.get("/v1/audit/verify").await?;
            if g.output != Output::Table {
                out!("{}", v.json());
            }
            match v.value {
                AuditVerify::Intact { entries, head } => {
                    if g.output == Output::Table {
                        out!("audit log intact: {entries} entries, head {}", head.as_deref().unwrap_or("-"));
                    }
                    Ok(())
                }
                AuditVerify::Broken { reason, .. } => Err(CliError::failed(
                    format!("audit log tampered: {reason}"),
                    "the entry named and every one after it can no longer be trusted; compare with a backup of the state directory",
                )),
            }
        }
        Command::Gc { dry_run } => {
            let path = if dry_run { "/v1/gc?dry_run=true" } else { "/v1/gc" };
            let v: Answer<GcSummary> = client()?.post_empty(path).await?;
            match g.output {
                Output::Json | Output::Sarif => out!("{}", v.json()),
                Output::Table => out!("{}", gc_text(&v.value)),
            }
            Ok(())
        }
    }
}

/// `logs`: the tail of the instance log, then (with `follow`) what is written after it.
async fn logs(c: &Client, output: Output, app: &str, revision: Option<u64>, follow: bool, bytes: u64) -> CliResult {
    let path = format!("/v1/apps/{app}/logs");
    let mut query = backstop_api::LogQuery { revision, bytes: Some(bytes), offset: None };
    loop {
        let chunk: Answer<backstop_api::LogChunk> = c.get_query(&path, &query).await?;
        match output {
            // Following, an empty read is not news.
            Output::Json | Output::Sarif if query.offset.is_some() && chunk.value.text.is_empty() => {}
            Output::Json | Output::Sarif => out!("{}", chunk.raw),
            Output::Table if !chunk.value.text.is_empty() => crate::output::out_part!("{}", chunk.value.text),
            Output::Table => {}
        }
        if !follow {
            return Ok(());
        }
        // The same revision from now on, even when another becomes live.
        query = backstop_api::LogQuery {
            revision: Some(chunk.value.revision),
            bytes: Some(backstop_api::MAX_LOG_BYTES),
            offset: Some(chunk.value.next),
        };
        if chunk.value.next == chunk.value.size {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
    }
}

/// The longest token file read: a token is 64 characters, so anything near this is not one.
const MAX_TOKEN_FILE: u64 = 4096;

/// The admin token from `--token-file`: the file's content, trimmed. At most 4 KiB is read, so a
/// device or a pipe that does not end is refused rather than read forever.
fn read_token_file(path: &Path) -> CliResult<String> {
    use std::io::Read;
    let bad = |message: String| {
        CliError::bad_input(message, "pass --token-file the path of the server's STATE/admin.token (or a copy of it)")
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_TOKEN_FILE + 1).read_to_end(&mut bytes))
        .map_err(|e| bad(format!("cannot read the token file {}: {e}", path.display())))?;
    if bytes.len() as u64 > MAX_TOKEN_FILE {
        return Err(bad(format!(
            "the token file {} holds more than {MAX_TOKEN_FILE} bytes: it is not a token",
            path.display()
        )));
    }
    let text = String::from_utf8(bytes).map_err(|_| bad(format!("the token file {} is not text", path.display())))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(CliError::bad_input(
            format!("the token file {} is empty", path.display()),
            "it should hold the content of the server's STATE/admin.token",
        ));
    }
    Ok(token.to_owned())
}

/// What `gc` removed (or would), an artifact a line, then the totals.
fn gc_text(v: &GcSummary) -> String {
    let verb = if v.dry_run { "would remove" } else { "removed" };
    let mut out: String = v.removed.iter().map(|d| format!("{verb} {d}\n")).collect();
    out += &v.removed_logs.iter().map(|r| format!("{verb} the instance logs of {r}\n")).collect::<String>();
    out += &format!(
        "{verb} {} artifact{} and the logs of {} revision{}, {} {} bytes, kept {}",
        v.removed.len(),
        if v.removed.len() == 1 { "" } else { "s" },
        v.removed_logs.len(),
        if v.removed_logs.len() == 1 { "" } else { "s" },
        if v.dry_run { "would free" } else { "freed" },
        v.freed_bytes,
        v.kept
    );
    out
}

/// `man`: backstop.1 on stdout, or every page into `dir`.
fn man(dir: Option<&Path>) -> CliResult {
    let cmd = crate::help::command();
    match dir {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut page)
                .map_err(|e| CliError::failed(format!("cannot write the man page: {e}"), ""))?;
            crate::output::out_part!("{}", String::from_utf8_lossy(&page));
        }
        Some(dir) => {
            let unwritable = |e: std::io::Error| {
                CliError::bad_input(
                    format!("cannot write man pages into {}: {e}", dir.display()),
                    "pass --dir a directory you can write to (it is created if missing)",
                )
            };
            std::fs::create_dir_all(dir).map_err(unwritable)?;
            clap_mangen::generate_to(cmd, dir).map_err(unwritable)?;
            out!("wrote man pages into {}", dir.display());
        }
    }
    Ok(())
}

async fn server(config: &Path, stop_apps_on_exit: bool) -> CliResult {
    let config = load_server_config(config)?;
    init_logging()?;
    let server = backstop_server::Server::start(config).await.map_err(|e| {
        let exit = if e.is_bad_input() { Exit::BadInput } else { Exit::Failed };
        CliError::new(exit, error_chain(&e), e.hint())
    })?;
    tracing::info!(addr = %server.local_addr(), "backstop control plane ready");
    server
        .stop_apps_on_exit(stop_apps_on_exit)
        .serve(backstop_server::shutdown_signal())
        .await
        .map_err(|e| CliError::failed(format!("the API server stopped: {e}"), "see the log above"))
}

/// `backstop server --reload`: the running server re-reads its config, all or nothing.
async fn server_reload(path: &Path) -> CliResult {
    let config = load_server_config(path)?;
    let state = config.server.state.clone();
    let asked = tokio::task::spawn_blocking(move || backstop_server::handover::reload(&state))
        .await
        .map_err(|e| CliError::failed(format!("cannot ask the server to reload: {e}"), "try again"))?;
    let socket = backstop_server::handover::socket_path(&config.server.state);
    let answer = match asked {
        Ok(Some(answer)) => answer,
        Ok(None) => {
            return Err(CliError::new(
                Exit::Unreachable,
                format!("no backstop server answers on {}", socket.display()),
                "start it with `backstop server --config FILE`; --reload talks to a running one",
            ));
        }
        Err(e) => {
            return Err(CliError::failed(
                format!("cannot ask the server on {} to reload: {e}", socket.display()),
                "check that the server runs as this user, and its log",
            ));
        }
    };
    if let Some(e) = answer.error {
        let exit = if e.code == "bad_config" { Exit::BadInput } else { Exit::Failed };
        return Err(CliError::new(exit, format!("reload refused, the running config stays: {}", e.message), e.hint));
    }
    let list = |names: &[String]| if names.is_empty() { "none".to_owned() } else { names.join(", ") };
    out!(
        "reloaded {}: apps added: {}; settings changed: {}",
        path.display(),
        list(&answer.added),
        list(&answer.changed)
    );
    Ok(())
}

fn load_server_config(config: &Path) -> CliResult<backstop_server::Config> {
    backstop_server::Config::load(config).map_err(|e| {
        let hint = match &e {
            backstop_server::ConfigError::Read { .. } => {
                "pass --config PATH to an existing file (see README for a minimal one)"
            }
            _ => "fix the named key in the config file",
        };
        CliError::bad_input(error_chain(&e), hint)
    })
}

/// The server's log on stderr: `BACKSTOP_LOG` filters it (`info` by default, `RUST_LOG` syntax),
/// `BACKSTOP_LOG_FORMAT=json` writes one JSON object per line for log shippers.
pub fn init_logging() -> CliResult<()> {
    let format = std::env::var("BACKSTOP_LOG_FORMAT").unwrap_or_default();
    let filter = match std::env::var("BACKSTOP_LOG") {
        Err(_) => tracing_subscriber::EnvFilter::new("info"),
        Ok(spec) => tracing_subscriber::EnvFilter::try_new(&spec).map_err(|e| {
            CliError::bad_input(
                format!("BACKSTOP_LOG={spec:?} is not a log filter: {e}"),
                "use a level (`info`, `debug`) or targets with levels (`info,backstop_engine=debug`)",
            )
        })?,
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format.as_str() {
        "" | "text" => {
            let _ = builder.with_ansi(crate::output::color_stderr()).try_init();
        }
        "json" => {
            let _ = builder.json().flatten_event(true).with_current_span(false).try_init();
        }
        other => {
            return Err(CliError::bad_input(
                format!("BACKSTOP_LOG_FORMAT={other:?} is not a log format"),
                "use `text` (the default) or `json`",
            ));
        }
    }
    Ok(())
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
/// `release --wait`: follow the revision until its soak ends, one line on stderr per change of
/// status; Ok once it is known-good (or live on an app without a soak).
async fn wait_proven(c: &Client, app: &str, revision: u64) -> CliResult {
    let mut last = None;
    loop {
        let v: Answer<RevisionDetail> = c.get(&format!("/v1/apps/{app}/revisions/{revision}")).await?;
        let r = &v.value.revision;
        if last != Some(r.status) {
            match (r.status, r.soak_until) {
                (RevisionStatus::Soaking, Some(until)) => {
                    eprintln!("revision {revision}: soaking until {}", until.format("%H:%M:%S"))
                }
                (status, _) => eprintln!("revision {revision}: {}", status.as_str()),
            }
            last = Some(r.status);
        }
        let why = || r.status_reason.clone().unwrap_or_default();
        match r.status {
            RevisionStatus::KnownGood | RevisionStatus::Permanent => return Ok(()),
            RevisionStatus::Live if r.status_reason.is_none() => return Ok(()),
            RevisionStatus::Deploying | RevisionStatus::Soaking => {}
            other => {
                return Err(CliError::failed(
                    format!("revision {revision} of `{app}` is {}: {}", other.as_str(), why()),
                    format!("`backstop status {app}` shows what serves now; `backstop history {app}` the reasons"),
                ));
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

pub struct ReleaseArgs<'a> {
    pub app: &'a str,
    pub artifact: &'a Path,
    pub version: &'a str,
    pub change_cause: &'a str,
    /// Refuse unless the artifact has this digest.
    pub digest: Option<&'a str>,
    /// The commit, tag and hotfix links, as `hotfix::prepare_release` decided them.
    pub git: &'a crate::hotfix::ReleaseGit,
    pub guarded_by: &'a [String],
    pub migrations: Option<&'a Path>,
    pub queries: Option<&'a Path>,
    /// The contracts (`--api`, `--messages`) and `--allow-breaking`, read by `compat::read`.
    pub contracts: &'a backstop_api::ReleaseContracts,
}

/// How far `release` got, for what an interrupt says: the release operation's id once known, and
/// whether the release was asked for at all.
#[derive(Default)]
pub struct ReleasePhase {
    requested: std::sync::atomic::AtomicBool,
    operation: std::sync::Mutex<Option<u64>>,
}

/// The first SIGINT or SIGTERM.
async fn interrupted() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
}

/// What an interrupted `release` says: the server goes on with it, and how to stop it.
async fn release_interrupted(c: &Client, app: &str, phase: &ReleasePhase) -> CliError {
    let known = *phase.operation.lock().unwrap_or_else(|e| e.into_inner());
    let operation = match known {
        Some(id) => Some(id),
        None if phase.requested.load(std::sync::atomic::Ordering::SeqCst) => {
            let status = tokio::time::timeout(
                std::time::Duration::from_secs(3),
                c.get::<AppStatus>(&format!("/v1/apps/{app}/status")),
            )
            .await;
            match status {
                Ok(Ok(s)) => {
                    s.value.running_operation.filter(|o| o.kind == backstop_api::OperationKind::Release).map(|o| o.id)
                }
                _ => None,
            }
        }
        None => {
            return CliError::new(
                Exit::Interrupted,
                "release interrupted before it was asked for; nothing was started",
                "",
            );
        }
    };
    let message = match operation {
        Some(id) => format!("release continues as operation {id}; `backstop abort {app}` to stop it"),
        None => format!("release was asked for and may continue on the server; `backstop abort {app}` to stop it"),
    };
    CliError::new(Exit::Interrupted, message, format!("`backstop status {app}` shows where it is"))
}

fn abort_text(v: &AbortOutcome) -> String {
    let traffic = v.traffic_on.map_or_else(|| "nothing serves".to_owned(), |n| format!("traffic on revision {n}"));
    if v.before_traffic {
        format!(
            "{}: release of revision {} aborted before it took traffic (operation {}); {traffic}",
            v.app, v.revision, v.operation
        )
    } else {
        format!("{}: revision {} aborted during its soak (operation {}); {traffic}", v.app, v.revision, v.operation)
    }
}

pub async fn release(c: &Client, args: &ReleaseArgs<'_>) -> CliResult<Answer<Outcome>> {
    release_in(c, args, &ReleasePhase::default()).await
}

/// `release`, telling `phase` how far it got.
pub async fn release_in(c: &Client, args: &ReleaseArgs<'_>, phase: &ReleasePhase) -> CliResult<Answer<Outcome>> {
    let ReleaseArgs {
        app,
        artifact,
        version,
        change_cause,
        digest: expected,
        git,
        guarded_by,
        migrations,
        queries,
        contracts,
    } = *args;
    if version.trim().is_empty() {
        return Err(CliError::bad_input(
            "--version is empty",
            "pass the version being released, e.g. --version v2.4.0",
        ));
    }
    let image = image_artifact(artifact)?;
    let (digest, kind) = match &image {
        Some(image) => (image.digest.clone(), None),
        None => digest_of(artifact).map(|(d, k)| (d, Some(k)))?,
    };
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
    let _: Answer<AppStatus> = c.get(&format!("/v1/apps/{app}/status")).await?;
    if let Some(kind) = kind {
        // An image is pulled by the cluster, not uploaded.
        upload(c, artifact, kind, &digest).await?;
    }
    let req = ReleaseRequest {
        image: image.map(|i| i.to_string()),
        digest,
        version: version.to_owned(),
        change_cause: change_cause.to_owned(),
        git_commit: git.git_commit.clone(),
        git_tag: git.git_tag.clone(),
        hotfix_of: git.hotfix_of,
        carries_hotfixes: git.carries.clone(),
        missing_hotfixes: git.missing.clone(),
        allow_missing_hotfix: git.allow_missing.clone(),
        guarded_by: guarded_by.to_vec(),
        migrations,
        queries,
        contracts: contracts.clone(),
    };
    phase.requested.store(true, std::sync::atomic::Ordering::SeqCst);
    let outcome: Answer<Outcome> = c.post(&format!("/v1/apps/{app}/releases"), &req).await?;
    *phase.operation.lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome.value.operation);
    Ok(outcome)
}

/// An `--artifact` that is an image reference rather than a file: `REPOSITORY@sha256:<digest>`.
/// A path on disk is always a file; a reference with a tag and no digest is refused.
fn image_artifact(artifact: &Path) -> CliResult<Option<backstop_core::image::ImageRef>> {
    if artifact.exists() {
        return Ok(None);
    }
    let Some(text) = artifact.to_str() else { return Ok(None) };
    let looks_like_image = text.contains('@') || (text.contains(':') && !text.starts_with('.'));
    if !looks_like_image {
        return Ok(None);
    }
    backstop_core::image::ImageRef::parse(text)
        .map(Some)
        .map_err(|e| CliError::bad_input(format!("--artifact {e}"), e.hint()))
}

/// Upload the artifact, unless the server holds its digest already: streamed from disk (a
/// directory is packed into a temporary file first), with a progress bar when stderr is a terminal.
async fn upload(c: &Client, artifact: &Path, kind: ArtifactKind, digest: &backstop_core::Digest) -> CliResult {
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    if c.exists(&format!("/v1/artifacts/{digest}")).await? {
        if tty {
            eprintln!("artifact {} is on the server already: not uploaded", digest.short());
        }
        return Ok(());
    }
    let unreadable = |e: std::io::Error| {
        CliError::bad_input(format!("cannot read {}: {e}", artifact.display()), "check the --artifact path")
    };
    let (content_type, file) = match kind {
        ArtifactKind::File => ("application/octet-stream", std::fs::File::open(artifact).map_err(unreadable)?),
        ArtifactKind::Dir => {
            let packed = || -> std::io::Result<std::fs::File> {
                let mut file = tempfile::tempfile()?;
                artifacts::tar_dir(artifact, &mut file)?;
                std::io::Seek::rewind(&mut file)?;
                Ok(file)
            };
            let file = packed().map_err(|e| {
                CliError::bad_input(
                    format!("cannot pack {}: {e}", artifact.display()),
                    "check the directory's permissions and the temporary directory's free space",
                )
            })?;
            ("application/x-tar", file)
        }
    };
    let len = file.metadata().map_err(unreadable)?.len();
    let bar = tty.then(|| {
        let bar = indicatif::ProgressBar::new(len);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("uploading {bar:30} {bytes}/{total_bytes} {bytes_per_sec} {eta}")
        {
            bar.set_style(style);
        }
        bar
    });
    let uploaded: CliResult<Answer<Uploaded>> =
        c.put_file(&format!("/v1/artifacts/{digest}"), content_type, file, len, bar.clone()).await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    uploaded?;
    if tty {
        eprintln!("uploaded {} ({len} bytes)", digest.short());
    }
    Ok(())
}

fn print_outcome(output: Output, verb: &str, answer: &Answer<Outcome>) {
    let o = &answer.value;
    match output {
        Output::Json | Output::Sarif => out!("{}", answer.json()),
        Output::Table => {
            let from = match o.from_revision {
                Some(f) => format!(" (was revision {f})"),
                None => String::new(),
            };
            let how = if o.warm { ", warm swap" } else { "" };
            out!(
                "{} {verb}: revision {} {} {} is live{from}{how}, status {}, operation {}",
                o.app,
                o.revision,
                o.version,
                o.digest.short(),
                o.status.as_str(),
                o.operation
            );
        }
    }
}

pub async fn history(c: &Client, output: Output, app: &str, revision: Option<u64>) -> CliResult {
    if let Some(n) = revision {
        let v: Answer<RevisionDetail> = c.get(&format!("/v1/apps/{app}/revisions/{n}")).await?;
        match output {
            Output::Json | Output::Sarif => out!("{}", v.json()),
            Output::Table => out!("{}", revision_text(&v.value)),
        }
        return Ok(());
    }
    let rows: Answer<Vec<HistoryEntry>> = c.get(&format!("/v1/apps/{app}/revisions")).await?;
    if output != Output::Table {
        out!("{}", rows.json());
        return Ok(());
    }
    crate::output::print_listing(history_listing(&rows.value, Utc::now()));
    Ok(())
}

/// One revision, a field a line, then its operations.
fn revision_text(v: &RevisionDetail) -> String {
    let r = &v.revision;
    let text = |s: &str| s.to_owned();
    let opt = |s: Option<String>| s.unwrap_or_else(|| "-".to_owned());
    let time = |t: Option<&DateTime<Utc>>| opt(t.map(wire_text));
    let fields = [
        ("revision", r.revision.to_string()),
        ("version", text(&r.version)),
        ("digest", r.digest.to_string()),
        ("change_cause", text(&r.change_cause)),
        ("git_commit", opt(r.git_commit.clone())),
        ("git_tag", opt(r.git_tag.clone())),
        ("hotfix_of", opt(r.hotfix_of.map(|n| n.to_string()))),
        ("guarded_by", if r.guarded_by.is_empty() { "-".to_owned() } else { r.guarded_by.join(", ") }),
        ("actor", text(&r.actor)),
        ("created_at", wire_text(&r.created_at)),
        ("status", text(r.status.as_str())),
        ("status_reason", opt(r.status_reason.clone())),
        ("live_since", time(r.live_since.as_ref())),
        ("known_good_at", time(r.known_good_at.as_ref())),
    ];
    let mut lines: Vec<(String, String)> =
        fields.into_iter().map(|(key, val)| (format!("{}:", key.replace('_', "-")), val)).collect();
    let db = &v.database;
    if !db.migrations.is_empty() {
        lines.push(("migrations:".into(), db.migrations.join(", ")));
    }
    if db.queries > 0 {
        lines.push(("queries:".into(), db.queries.to_string()));
    }
    if let Some(at) = &db.schema_recorded_at {
        lines.push(("schema:".into(), wire_text(at)));
    }
    labelled(&lines)
        + "\n"
        + &crate::output::render(operations_listing(&v.operations), crate::output::Shape::Table, false)
}

/// `label: value` lines with the values in one column, one space past the longest label.
fn labelled(lines: &[(String, String)]) -> String {
    let width = lines.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0) + 1;
    lines.iter().map(|(k, v)| format!("{k:<width$}{v}\n")).collect()
}

/// `history APP`: a revision a row, newest first; `-o wide` adds where it came from and who
/// released it.
fn history_listing(rows: &[HistoryEntry], now: DateTime<Utc>) -> Listing<'static> {
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
            let hotfix = r.revision.hotfix_of.map(|n| format!("hotfix-of-{n}"));
            marks.extend(hotfix.as_deref());
            let rev = &r.revision;
            let commit = match (&rev.git_commit, &rev.git_tag) {
                (Some(c), Some(t)) => format!("{} ({t})", &c[..c.len().min(12)]),
                (Some(c), None) => c[..c.len().min(12)].to_owned(),
                (None, Some(t)) => t.clone(),
                (None, None) => "-".to_owned(),
            };
            Row {
                name: format!("{}/{}", rev.app, rev.revision),
                cells: vec![
                    format!("{}{}", rev.revision, if r.live { " *" } else { "" }),
                    rev.version.clone(),
                    rev.digest.short().to_owned(),
                    rev.change_cause.clone(),
                    rev.status.as_str().to_owned(),
                    age(rev.created_at, now),
                    marks.join(","),
                    commit,
                    rev.image.clone().unwrap_or_else(|| "-".to_owned()),
                    rev.actor.clone(),
                    wire_text(&rev.created_at),
                ],
            }
        })
        .collect();
    Listing {
        header: &["REVISION", "VERSION", "DIGEST", "CHANGE-CAUSE", "STATUS", "AGE", "MARK"],
        wide: &["COMMIT", "IMAGE", "ACTOR", "CREATED"],
        rows: body,
    }
}

/// `operations APP`; `-o wide` adds the revisions it went between and when it ended.
fn operations_listing(ops: &[Operation]) -> Listing<'static> {
    let rev = |n: Option<u64>| n.map_or_else(|| "-".to_owned(), |n| n.to_string());
    let rows = ops
        .iter()
        .map(|o| {
            let steps: Vec<&str> = o.steps.iter().map(|s| s.step.as_str()).collect();
            Row {
                name: format!("{}/operation/{}", o.app, o.id),
                cells: vec![
                    o.id.to_string(),
                    wire_text(&o.kind),
                    wire_text(&o.state),
                    o.actor.clone(),
                    wire_text(&o.started_at),
                    steps.join(" > "),
                    o.error.clone().unwrap_or_default(),
                    rev(o.from_revision),
                    rev(o.target_revision),
                    o.ended_at.as_ref().map_or_else(|| "-".to_owned(), wire_text),
                ],
            }
        })
        .collect();
    Listing {
        header: &["OPERATION", "KIND", "STATE", "ACTOR", "STARTED", "STEPS", "ERROR"],
        wide: &["FROM", "TARGET", "ENDED"],
        rows,
    }
}

pub async fn status(c: &Client, output: Output, app: &str) -> CliResult {
    let v: Answer<AppStatus> = c.get(&format!("/v1/apps/{app}/status")).await?;
    match output {
        Output::Json | Output::Sarif => out!("{}", v.json()),
        Output::Table => out!("{}", status_text(&v.value)),
    }
    Ok(())
}

/// `status --watch`: the status again on every change, until the app settles.
async fn status_watch(c: &Client, output: Output, app: &str) -> CliResult {
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut last: Option<String> = None;
    loop {
        let v: Answer<AppStatus> = c.get(&format!("/v1/apps/{app}/status")).await?;
        let text = match output {
            Output::Json | Output::Sarif => v.raw.to_string(),
            Output::Table => status_text(&v.value),
        };
        if last.as_ref() != Some(&text) {
            if tty {
                eprint!("\r\x1b[2K");
            }
            match output {
                Output::Table if last.is_some() => out!("\n{text}"),
                _ => out!("{text}"),
            }
            last = Some(text);
        }
        if tty {
            eprint!("\r\x1b[2K{}", progress_line(&v.value, Utc::now()));
        }
        if settled(&v.value) {
            if tty {
                eprintln!();
            }
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

/// No operation runs and the live revision (if any) is neither deploying nor soaking.
fn settled(v: &AppStatus) -> bool {
    v.running_operation.is_none()
        && !v.live.as_ref().is_some_and(|r| matches!(r.status, RevisionStatus::Deploying | RevisionStatus::Soaking))
}

/// One line of where the app is: the running operation's last step, or the live revision's soak.
fn progress_line(v: &AppStatus, now: DateTime<Utc>) -> String {
    if let Some(op) = &v.running_operation {
        let step = op.steps.last().map_or("begun", |s| s.step.as_str());
        return format!("operation {} ({}): {step}", op.id, wire_text(&op.kind));
    }
    match &v.live {
        None => "nothing live".to_owned(),
        Some(r) => match (r.status, r.live_since, r.soak_until) {
            (RevisionStatus::Soaking, Some(since), Some(until)) => {
                let total = (until - since).num_seconds().max(0);
                let done = (now - since).num_seconds().clamp(0, total);
                format!("revision {}: soaking {done}/{total} s", r.revision)
            }
            (status, _, _) => format!("revision {}: {}", r.revision, status.as_str()),
        },
    }
}

pub async fn signals(c: &Client, output: Output, app: &str) -> CliResult {
    let v: Answer<backstop_api::AppSignals> = c.get(&format!("/v1/apps/{app}/signals")).await?;
    match output {
        Output::Json | Output::Sarif => out!("{}", v.json()),
        Output::Table => out!("{}", signals_text(&v.value)),
    }
    Ok(())
}

fn signals_text(v: &backstop_api::AppSignals) -> String {
    if v.revisions.is_empty() {
        return format!("{}: no traffic through the proxy yet", v.app);
    }
    let ms = |m: Option<f64>| m.map_or_else(|| "-".to_owned(), |m| format!("{m:.1} ms"));
    let ratio = |r: Option<f64>| r.map_or_else(|| "-".to_owned(), |r| format!("{:.2}%", r * 100.0));
    let mut rows = Vec::new();
    for r in &v.revisions {
        let name = if r.live { format!("{} (live)", r.revision) } else { r.revision.to_string() };
        for (label, w) in [("last minute", &r.last_minute), ("since live", &r.total)] {
            rows.push(vec![
                name.clone(),
                label.to_owned(),
                w.requests.to_string(),
                w.failures.to_string(),
                ratio(w.error_ratio),
                ms(w.p50_ms),
                ms(w.p99_ms),
            ]);
        }
    }
    table(&["REVISION", "WINDOW", "REQUESTS", "FAILURES", "ERRORS", "P50", "P99"], rows).trim_end().to_owned()
}

fn status_text(v: &AppStatus) -> String {
    let rev = |r: Option<&Revision>| -> String {
        match r {
            None => "none".into(),
            Some(r) => {
                let hotfix = r.hotfix_of.map(|n| format!(", hotfix of {n}")).unwrap_or_default();
                format!("revision {} ({}, {}, {}{hotfix})", r.revision, r.version, r.digest.short(), r.status.as_str())
            }
        }
    };
    let mut out = format!("app:               {} on {}\n", v.app, v.listen);
    out += &format!("live:              {}\n", rev(v.live.as_ref()));
    if let Some(reason) = v.live.as_ref().and_then(|r| r.status_reason.as_deref()) {
        out += &format!("                   {reason}\n");
    }
    if let Some(a) = &v.analysis {
        let action = a.action.map(|x| format!(" ({})", x.as_str())).unwrap_or_default();
        out += &format!("analysis:          {}{action}: {}\n", a.verdict.as_str(), a.summary);
    }
    out += &format!("newest known-good: {}\n", rev(v.known_good.as_ref()));
    let warm: Vec<String> = v.warm_revisions.iter().map(u64::to_string).collect();
    out += &format!(
        "warm:              {}\n",
        if warm.is_empty() { "none".to_owned() } else { format!("revision {}", warm.join(", ")) }
    );
    if let Some(undo) = &v.undo {
        out += &format!("{}\n", undo_line(undo));
    }
    if let Some(op) = &v.running_operation {
        out += &format!("running:           operation {} ({}) by {}\n", op.id, wire_text(&op.kind), op.actor);
    }
    let rows: Vec<Vec<String>> = v
        .instances
        .iter()
        .map(|i| {
            vec![
                i.revision.to_string(),
                wire_text(&i.role),
                i.pid.to_string(),
                i.port.to_string(),
                match (i.ready_replicas, i.replicas) {
                    (Some(ready), Some(wanted)) => format!("{ready}/{wanted} ready"),
                    _ if i.alive => "yes".into(),
                    _ => "no".into(),
                },
                i.inflight.to_string(),
            ]
        })
        .collect();
    if !rows.is_empty() {
        out += "\n";
        out += &table(&["REVISION", "ROLE", "PID", "PORT", "ALIVE", "IN-FLIGHT"], rows);
    }
    out.trim_end().to_owned()
}

/// What a plain `undo` would do now, as `status` says it.
fn undo_line(undo: &backstop_api::UndoPreview) -> String {
    match (undo.revision, &undo.refused) {
        (Some(n), _) if undo.warm => format!("undo:              → revision {n} (warm swap)"),
        (Some(n), _) => format!("undo:              → revision {n} (cold start)"),
        (None, refused) => {
            let why = refused.as_deref().unwrap_or("nothing to go back to");
            match &undo.hint {
                Some(hint) => format!("undo:              refused: {why}\n                   {hint}"),
                None => format!("undo:              refused: {why}"),
            }
        }
    }
}

async fn apps(c: &Client, output: Output) -> CliResult {
    let v: Answer<Vec<AppStatus>> = c.get("/v1/apps").await?;
    match output {
        Output::Json | Output::Sarif => out!("{}", v.json()),
        Output::Table => {
            let rows = v
                .value
                .iter()
                .map(|a| Row {
                    name: a.app.clone(),
                    cells: vec![
                        a.app.clone(),
                        a.listen.clone(),
                        a.live_revision.map_or("-".into(), |n| n.to_string()),
                        a.known_good_revision.map_or("-".into(), |n| n.to_string()),
                        a.driver.clone(),
                        a.live.as_ref().map_or("-".into(), |r| r.version.clone()),
                        a.instances.len().to_string(),
                        a.running_operation.as_ref().map_or("-".into(), |o| format!("{} {}", wire_text(&o.kind), o.id)),
                    ],
                })
                .collect();
            crate::output::print_listing(Listing {
                header: &["APP", "LISTEN", "LIVE", "KNOWN-GOOD"],
                wide: &["DRIVER", "VERSION", "INSTANCES", "RUNNING"],
                rows,
            });
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
        let row = |n: u64, status: &str, live: bool, kg: bool| HistoryEntry {
            revision: Revision {
                app: "shop".parse().unwrap(),
                revision: n,
                version: format!("v{n}"),
                digest: format!("sha256:{}", "ab".repeat(32)).parse().unwrap(),
                change_cause: format!("cause {n}"),
                git_commit: None,
                image: None,
                git_tag: None,
                hotfix_of: None,
                guarded_by: Vec::new(),
                actor: "admin".into(),
                created_at: now - chrono::Duration::seconds(90),
                status: status.parse().unwrap(),
                status_reason: None,
                live_since: None,
                soak_until: None,
                known_good_at: None,
                undone_at: None,
            },
            live,
            last_known_good: kg,
            warm: false,
        };
        let listing = history_listing(&[row(1, "known-good", false, true), row(2, "soaking", true, false)], now);
        let out = crate::output::render(listing, crate::output::Shape::Table, false);
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
