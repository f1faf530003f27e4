//! The backstop command line: `backstop server` runs the control plane, every
//! other subcommand is a client of its HTTP API.

mod client;
mod commands;
mod compat;
mod data;
mod demo;
pub mod demo_app;
pub mod exit;
mod flag;
mod help;
mod hotfix;
mod incident;
mod lint;
mod output;
mod sarif;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::exit::{CliError, Exit};

#[derive(Debug, Parser)]
#[command(
    name = "backstop",
    version,
    about = "The release safety net: know what is live, what was good, and get back to it fast"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// Control plane URL.
    #[arg(long, global = true, env = "BACKSTOP_URL", default_value = client::DEFAULT_SERVER)]
    pub server: String,
    /// Admin token (the content of STATE/admin.token) for mutating calls.
    #[arg(long, global = true, env = "BACKSTOP_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Read the admin token from this file (STATE/admin.token, or a secret mounted in CI).
    #[arg(long, global = true, env = "BACKSTOP_TOKEN_FILE", value_name = "PATH", conflicts_with = "token")]
    pub token_file: Option<PathBuf>,
    /// The name recorded as who acted, in the audit log and operation journals (default: $USER).
    #[arg(long, global = true, env = "BACKSTOP_ACTOR", value_name = "NAME")]
    pub actor: Option<String>,
    /// Print listings (history, operations, audit list, flag list and history, apps) without
    /// their header line, for scripts.
    #[arg(long, global = true)]
    pub no_headers: bool,
    /// Output format.
    #[arg(long = "output", short = 'o', global = true, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// What the commands print, from `format`: `wide` and `name` are tables, `yaml` is data.
    #[arg(skip = Output::Table)]
    pub output: Output,
}

/// The `-o` formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people: aligned listings, plain sentences.
    Table,
    /// Listings with more columns (commits, images, actors, times in full).
    Wide,
    /// Listings as one identifier per line (`shop/3`, an operation id), for scripts.
    Name,
    /// The API's JSON, pretty-printed.
    Json,
    /// The API's answer as YAML.
    Yaml,
    /// SARIF 2.1.0 (`lint` and `compat`; other commands print JSON).
    Sarif,
}

impl Format {
    /// The way a command prints under this format: a table (in some shape) or data.
    pub fn output(self) -> Output {
        match self {
            Format::Table | Format::Wide | Format::Name => Output::Table,
            Format::Json | Format::Yaml => Output::Json,
            Format::Sarif => Output::Sarif,
        }
    }
}

/// How a command prints: tables for people, or the data (`Json` stands for YAML too: the
/// printing of data follows `-o`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Table,
    Json,
    Sarif,
}

#[derive(Debug, Subcommand)]
#[expect(clippy::large_enum_variant, reason = "parsed once per run; boxing the release's arguments buys nothing")]
pub enum Command {
    /// Run the control plane (API, proxies, instance supervision).
    ///
    /// A server started on the state directory of a running one takes over its listening
    /// sockets and instances without dropping a connection; the old one finishes its requests
    /// within `server.handover_window` and exits. SIGTERM or Ctrl-C leaves the apps running for
    /// the next start to re-adopt; SIGHUP re-reads the config, as `--reload` does (new apps,
    /// changed settings).
    Server {
        #[arg(long, short, env = "BACKSTOP_CONFIG", default_value = "backstop.toml")]
        config: PathBuf,
        /// Stop every app's instances when the server stops (SIGTERM, Ctrl-C), rather than leave
        /// them running for the next start.
        #[arg(long, conflicts_with = "reload")]
        stop_apps_on_exit: bool,
        /// Ask the server running with this config to re-read it, start the apps added to it and
        /// apply changed app settings, then exit: 0 when applied, 2 when the file is bad, 1 when a
        /// change needs a restart (the server section, an app's listen; the running config stays).
        #[arg(long)]
        reload: bool,
    },
    /// Release a new version: upload the artifact, start it, health-check it, move traffic.
    Release {
        app: String,
        /// An executable file, or a directory with an executable `run` at its top.
        #[arg(long)]
        artifact: PathBuf,
        #[arg(long)]
        version: String,
        #[arg(long, default_value = "")]
        change_cause: String,
        /// Refuse the release unless the artifact has this digest.
        #[arg(long)]
        digest: Option<String>,
        /// The commit (or tag) the artifact was built from; with a repository at hand, a tag is
        /// recorded with the commit it names, and a commit that lacks the fix of a hotfix
        /// production ran is refused.
        #[arg(long)]
        git_commit: Option<String>,
        /// This release is a hotfix of revision N: built from N's commit plus the fix.
        #[arg(long, value_name = "N")]
        hotfix_of: Option<u64>,
        /// Release even though the commit lacks the fix of a hotfix production ran (recorded in the
        /// audit log with the reason).
        #[arg(long, value_name = "REASON")]
        allow_missing_hotfix: Option<String>,
        /// The git repository of --git-commit (default: the one the current directory is in).
        #[arg(long, value_name = "PATH")]
        repo: Option<PathBuf>,
        /// A feature flag guarding this release's risky changes (repeatable); the kill switch to try first.
        #[arg(long = "guarded-by", value_name = "FLAG")]
        guarded_by: Vec<String>,
        /// The release's whole migration folder: expand migrations run before the deploy, contract
        /// migrations wait for `backstop migrate contract` after the soak.
        #[arg(long, value_name = "DIR")]
        migrations: Option<PathBuf>,
        /// The queries the release's code runs (.sql files or sqlx's .sqlx folder), for precise
        /// rollback checks.
        #[arg(long, value_name = "DIR")]
        queries: Option<PathBuf>,
        /// The release's OpenAPI 3.x description (YAML or JSON): checked against every revision of
        /// the rollback window, both directions, and kept with the revision.
        #[arg(long, value_name = "FILE")]
        api: Option<PathBuf>,
        /// The release's message schemas: produces/NAME.json and consumes/NAME.json (JSON Schema).
        #[arg(long, value_name = "DIR")]
        messages: Option<PathBuf>,
        /// Release even though the contracts break rule RULE for a revision in the rollback window
        /// (repeatable; recorded in the audit log with the reason).
        #[arg(long, num_args = 2, value_names = ["RULE", "REASON"], action = clap::ArgAction::Append)]
        allow_breaking: Vec<String>,
        /// Wait until the revision is proven: exit 0 once it is known-good, 1 when it failed its
        /// soak, was reverted or ended unproven (for CI pipelines).
        #[arg(long)]
        wait: bool,
    },
    /// Revisions of an app, newest last.
    History {
        app: String,
        #[arg(long)]
        revision: Option<u64>,
    },
    /// What is live, warm and known-good, and what `undo` would do now.
    Status {
        app: String,
        /// Print again whenever it changes, until no operation runs and the live revision has
        /// settled (neither deploying nor soaking); on a terminal, a progress line on stderr.
        #[arg(long, short)]
        watch: bool,
    },
    /// What the proxy saw of each revision's traffic: requests, failures, error ratio, p50/p99
    /// latency over the last minute and since it went live.
    Signals { app: String },
    /// All configured apps.
    Apps,
    /// The last known-good revision.
    KnownGood { app: String },
    /// Move traffic back to the last known-good revision (or --to-revision N).
    Undo {
        app: String,
        #[arg(long)]
        to_revision: Option<u64>,
        /// Roll back even onto a schema the target cannot use (recorded in the audit log).
        #[arg(long)]
        force: bool,
    },
    /// Stop the app's release: one still starting never takes traffic (its revision fails); one
    /// soaking is reverted as an automatic revert would.
    Abort { app: String },
    /// Adopt the history a Kubernetes Deployment kept (its ReplicaSets, their change-causes and
    /// images) into an app without revisions: the newest becomes live, run by backstop, the older
    /// ones known-good, so `undo` reaches what ran before backstop.
    Import {
        app: String,
        /// The Deployment whose ReplicaSets are the history, in the app's namespace.
        #[arg(long)]
        deployment: String,
    },
    /// Alias of `undo APP [--to-revision N]`.
    Rollback {
        app: String,
        revision: Option<u64>,
        #[arg(long)]
        force: bool,
    },
    /// Would these contracts (or the live revision's) break a revision of the rollback window?
    /// Answers only; exit 1 on a breaking finding.
    Compat {
        app: String,
        /// Compare with revision N only (default: every revision of the rollback window).
        #[arg(long, value_name = "N")]
        against: Option<u64>,
        /// An OpenAPI 3.x description to check (default: the live revision's).
        #[arg(long, value_name = "FILE")]
        api: Option<PathBuf>,
        /// A messages folder to check: produces/NAME.json and consumes/NAME.json.
        #[arg(long, value_name = "DIR")]
        messages: Option<PathBuf>,
    },
    /// Can revision R run on the app's database as it is now? Answers only; moves nothing.
    CheckRollback { app: String, revision: u64 },
    /// Database migrations of an app's releases.
    Migrate {
        #[command(subcommand)]
        command: data::MigrateCommand,
    },
    /// Declare revision R permanent: no rollback goes further back, so contracts may drop what
    /// older revisions needed.
    Promote {
        app: String,
        revision: u64,
        #[arg(long)]
        permanent: bool,
    },
    /// An instance's log (stdout and stderr of the live revision, or of REVISION): its tail, or
    /// followed with -f. Needs the admin token.
    Logs {
        app: String,
        /// The revision whose log to print (default: the live one).
        revision: Option<u64>,
        /// Keep printing what is written, until interrupted.
        #[arg(long, short)]
        follow: bool,
        /// Print at most the last N bytes first (1 to 1048576).
        #[arg(long, value_name = "N", default_value_t = 64 * 1024)]
        bytes: u64,
    },
    /// Recent operations of an app, with their journals.
    Operations {
        app: String,
        /// The newest N operations (1 to 1000).
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Only operations started since: an RFC 3339 time or a duration back from now (`2h`).
        #[arg(long)]
        since: Option<String>,
    },
    /// What to do now: every rung of the recovery ladder (kill switch, traffic swap, redeploy,
    /// roll forward) from the facts, and with --execute the first safe one taken; also
    /// `incident list|show ID|close ID --note TEXT`.
    Incident(incident::IncidentArgs),
    /// Delivery figures from the ledger: release frequency, change failure rate, recovery time.
    Report {
        app: Option<String>,
        /// How far back (`30d`, `12h`).
        #[arg(long, default_value = "30d")]
        since: String,
    },
    /// Practise the rollback: readiness with --dry-run, else perform the rung and time it; also
    /// `drill list`.
    Drill(incident::DrillArgs),
    /// Roll forward: `hotfix start APP` branches from the commit production runs, `hotfix check`
    /// lists the fixes not yet back on main.
    Hotfix {
        #[command(subcommand)]
        command: hotfix::HotfixCommand,
    },
    /// Feature flags: `backstop flag off KEY --reason "..."` is the kill switch.
    Flag {
        #[command(subcommand)]
        command: flag::FlagCommand,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Delete artifacts that no protected revision refers to, listing each.
    Gc {
        /// List what would be deleted and delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Lint migration files or folders: phase of each statement, findings with help.
    Lint {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = lint::LintDialect::Postgres)]
        dialect: lint::LintDialect,
    },
    /// Print the digest backstop computes for an artifact path.
    Digest { path: PathBuf },
    /// Start a throwaway control plane, release a good and a bad version of a demo service, roll back.
    Demo {
        /// Keep the state directory and print where it is.
        #[arg(long)]
        keep: bool,
    },
    /// Print a shell completion script: `backstop completion bash > /etc/bash_completion.d/backstop`.
    Completion {
        /// The shell to complete in.
        shell: clap_complete::Shell,
    },
    /// Print the man page, or with --dir write one page per command into DIR.
    Man {
        /// Write backstop.1 and backstop-COMMAND.1 pages here instead of printing backstop.1.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// The version and the commit this binary was built from.
    Version,
    /// The server's config file: `config check` reads and validates it without starting anything.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// The demo service (what `backstop demo` releases).
    #[command(hide = true)]
    DemoApp(demo_app::DemoAppArgs),
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Read and validate the config as `backstop server` would; exit 2 on the first problem.
    Check {
        /// The config file to check.
        #[arg(long, short, env = "BACKSTOP_CONFIG", default_value = "backstop.toml")]
        config: PathBuf,
    },
}

/// The commit this binary was built from ("unknown" when built outside git).
pub const GIT_COMMIT: &str = env!("BACKSTOP_GIT_COMMIT");

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Print the entries, oldest first.
    List {
        /// At most N entries (1 to 1000; 1000 by default).
        #[arg(long)]
        limit: Option<usize>,
        /// Only entries after this sequence number (the next page).
        #[arg(long)]
        after: Option<u64>,
        /// Only entries written since: an RFC 3339 time or a duration back from now (`2h`).
        #[arg(long)]
        since: Option<String>,
        /// Only entries about this app.
        #[arg(long)]
        app: Option<String>,
    },
    /// Recompute the hash chain and report the first broken entry.
    Verify,
}

/// Refuse an option typed for a command it means nothing to: `--server` or `--token` for a
/// command that runs here (`lint`, `digest`, …), `-o sarif` outside `lint` and `compat`. Values
/// from the environment (`BACKSTOP_URL` in a shell profile) are not refused.
fn check_scope(m: &clap::ArgMatches) -> Result<(), CliError> {
    let Some((name, sub)) = m.subcommand() else { return Ok(()) };
    let typed = |id: &str| {
        sub.try_contains_id(id).unwrap_or(false) && sub.value_source(id) == Some(clap::parser::ValueSource::CommandLine)
    };
    if help::LOCAL.contains(&name) {
        if let Some(id) = help::CLIENT_OPTIONS.iter().find(|id| typed(id)) {
            let flag = format!("--{}", id.replace('_', "-"));
            return Err(CliError::bad_input(
                format!("{flag} means nothing to `backstop {name}`: it runs here, without a control plane"),
                format!("drop {flag}"),
            ));
        }
    }
    if typed("format") && sub.get_one::<Format>("format") == Some(&Format::Sarif) && !["lint", "compat"].contains(&name)
    {
        return Err(CliError::bad_input(
            format!("`-o sarif` is for `lint` and `compat`, not `{name}`"),
            "use -o json (or yaml) for data",
        ));
    }
    Ok(())
}

/// Parse the command line, run, and map the result to an exit code.
pub fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let matches = help::command_for(&args).try_get_matches_from(&args);
    if let Ok(m) = &matches {
        if let Err(e) = check_scope(m) {
            return e.report();
        }
    }
    let parsed = matches.and_then(|matches| <Cli as clap::FromArgMatches>::from_arg_matches(&matches));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { Exit::BadInput } else { Exit::Ok };
            let _ = e.print();
            return code.into();
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return CliError::failed(format!("cannot start the async runtime: {e}"), "").report(),
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => e.report(),
    }
}
