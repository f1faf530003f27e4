//! The demo service `backstop demo` releases: a tiny HTTP app on $PORT whose
//! behaviour (good, broken, unhealthy, crashing) is set by flags, so that
//! releases of it can go right and wrong on purpose.
//!
//! With `--guard-flag KEY` its breakage sits behind a feature flag, read
//! with the Rust SDK from the control plane in `BACKSTOP_FLAGS_URL` with
//! the token in the file `BACKSTOP_FLAGS_TOKEN_FILE`: it takes the broken
//! "new checkout" only while the flag is on, so `backstop flag off KEY`
//! fixes it with no deploy. Without a flag configuration it takes the old
//! path, never the risky one.

use std::time::Duration;

use axum::Router;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use clap::Args;
use serde::Deserialize;

use crate::exit::{CliError, CliResult};

#[derive(Debug, Clone, Args)]
pub struct DemoAppArgs {
    /// The version it reports.
    #[arg(long = "app-version")]
    pub app_version: String,
    /// Answer 500 on / (a bad release whose health check still passes).
    #[arg(long)]
    pub broken: bool,
    /// Answer 503 on /healthz (a release that never becomes healthy).
    #[arg(long)]
    pub unhealthy: bool,
    /// Exit with status 70 this many milliseconds after start.
    #[arg(long)]
    pub crash_after_ms: Option<u64>,
    /// Be broken only while this boolean flag is on for the request.
    #[arg(long, requires = "broken")]
    pub guard_flag: Option<String>,
}

/// Whether a request takes the new (here: broken) path: without a guard
/// flag, always; with one, only when the flag positively says so.
fn new_path(guard: Option<&(String, backstop_flags_client::Client)>) -> bool {
    let Some((key, client)) = guard else { return true };
    let ctx = backstop_flags_client::Context::new().with_targeting_key("demo-user");
    client.evaluate_bool(key, &ctx).map(|r| r.value).unwrap_or(false)
}

fn flag_client() -> CliResult<backstop_flags_client::Client> {
    let missing = |what: &str| {
        CliError::bad_input(
            format!("--guard-flag needs {what}"),
            "set BACKSTOP_FLAGS_URL and BACKSTOP_FLAGS_TOKEN_FILE in the app's `env` in backstop.toml",
        )
    };
    let url = std::env::var("BACKSTOP_FLAGS_URL").map_err(|_| missing("BACKSTOP_FLAGS_URL"))?;
    let file = std::env::var("BACKSTOP_FLAGS_TOKEN_FILE").map_err(|_| missing("BACKSTOP_FLAGS_TOKEN_FILE"))?;
    let token = std::fs::read_to_string(&file)
        .map_err(|e| CliError::bad_input(format!("cannot read {file}: {e}"), "point it at STATE/eval.token"))?;
    Ok(backstop_flags_client::Client::connect(backstop_flags_client::ClientConfig::new(url, token.trim())))
}

#[derive(Deserialize)]
struct Slow {
    ms: Option<u64>,
}

pub async fn run(args: DemoAppArgs) -> CliResult {
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).ok_or_else(|| {
        CliError::bad_input("PORT is not set to a port number", "the demo app is started by backstop, which sets PORT")
    })?;
    let version = args.app_version.clone();
    let (broken, unhealthy) = (args.broken, args.unhealthy);
    let guard = match &args.guard_flag {
        Some(key) => Some(std::sync::Arc::new((key.clone(), flag_client()?))),
        None => None,
    };
    let v1 = version.clone();
    let v2 = version.clone();
    let app = Router::new()
        .route(
            "/",
            get(move || {
                let v = v1.clone();
                let guard = guard.clone();
                async move {
                    if broken && new_path(guard.as_deref()) {
                        (
                            StatusCode::INTERNAL_SERVER_ERROR,
                            [("x-demo-version", v.clone())],
                            format!("shop {v}: checkout exploded\n"),
                        )
                    } else {
                        (StatusCode::OK, [("x-demo-version", v.clone())], format!("shop {v}\n"))
                    }
                }
            }),
        )
        .route(
            "/slow",
            get(move |Query(q): Query<Slow>| {
                let v = v2.clone();
                async move {
                    tokio::time::sleep(Duration::from_millis(q.ms.unwrap_or(500))).await;
                    format!("shop {v} (slow)\n")
                }
            }),
        )
        .route(
            "/healthz",
            get(move || async move {
                if unhealthy {
                    (StatusCode::SERVICE_UNAVAILABLE, "unhealthy\n").into_response()
                } else {
                    "ok\n".into_response()
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| CliError::failed(format!("demo app cannot listen on port {port}: {e}"), ""))?;
    eprintln!("demo app {version} listening on 127.0.0.1:{port}");
    if let Some(ms) = args.crash_after_ms {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            eprintln!("demo app {} crashing on purpose", args.app_version);
            std::process::exit(70);
        });
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(backstop_server::shutdown_signal())
        .await
        .map_err(|e| CliError::failed(format!("demo app failed: {e}"), ""))
}

/// Write a directory artifact whose `run` starts this binary as the demo app.
pub fn write_artifact(
    dir: &std::path::Path,
    exe: &std::path::Path,
    version: &str,
    flags: &[&str],
) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)?;
    let script = format!(
        "#!/bin/sh\n# demo service {version}\nexec '{}' demo-app --app-version '{version}' {} \"$@\"\n",
        exe.display(),
        flags.join(" ")
    );
    let run = dir.join("run");
    std::fs::write(&run, script)?;
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755))?;
    std::fs::write(dir.join("VERSION"), format!("{version}\n"))?;
    Ok(())
}
