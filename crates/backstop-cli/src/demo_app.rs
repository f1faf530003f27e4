//! The demo service `backstop demo` releases: a tiny HTTP app on $PORT whose
//! behaviour (good, broken, failing a share of requests, unhealthy, crashing)
//! is set by flags, so that releases of it can go right and wrong on purpose.
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
// What `--guard-flag` guards: one of the ways to be broken.
#[command(group(clap::ArgGroup::new("breakage").args(["broken", "fail_percent"]).multiple(true)))]
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
    /// Answer 500 on this percentage of requests to / (0 to 100, fractions allowed), spread
    /// evenly: a release that fails some of its traffic while its health check passes.
    #[arg(long, value_parser = parse_percent)]
    pub fail_percent: Option<f64>,
    /// Be broken (or fail its percentage) only after serving this many requests to / (a release
    /// that goes bad after its soak).
    #[arg(long)]
    pub healthy_for: Option<u64>,
    /// Be broken (or fail its percentage) only while this boolean flag is on for the request.
    #[arg(long, requires = "breakage")]
    pub guard_flag: Option<String>,
}

fn parse_percent(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(format!("`{s}` is not a percentage from 0 to 100")),
    }
}

/// Parts per million of a percentage, so the spread is exact integer arithmetic.
fn per_million(percent: f64) -> u64 {
    (percent.clamp(0.0, 100.0) * 10_000.0).round() as u64
}

/// Whether request `i` (counted from 0) is one of the failing ones at `ppm` parts per million:
/// exactly when the running count of failures owed, floor(i·ppm / 10⁶), steps up. So failures
/// are spread evenly and the share after n requests is within one request of the target.
pub fn fails(i: u64, ppm: u64) -> bool {
    let owed = |n: u64| u128::from(n) * u128::from(ppm) / 1_000_000;
    owed(i.saturating_add(1)) > owed(i)
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
    let ppm = args.fail_percent.map_or(0, per_million);
    let healthy_for = args.healthy_for.unwrap_or(0);
    let served = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
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
                let i = served.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                async move {
                    let failing = i >= healthy_for && (broken || fails(i, ppm));
                    if failing && new_path(guard.as_deref()) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_spread_evenly_at_the_asked_share() {
        // (percent, requests, failures among them, the first failing requests)
        let cases: [(f64, u64, u64, &[u64]); 6] = [
            (0.0, 1000, 0, &[]),
            (30.0, 10, 3, &[3, 6, 9]),
            (30.0, 1000, 300, &[3, 6, 9, 13]),
            (0.5, 1000, 5, &[199, 399]),
            (100.0, 7, 7, &[0, 1, 2]),
            (50.0, 4, 2, &[1, 3]),
        ];
        for (percent, n, want, first) in cases {
            let ppm = per_million(percent);
            let failing: Vec<u64> = (0..n).filter(|&i| fails(i, ppm)).collect();
            assert_eq!(failing.len() as u64, want, "{percent}%");
            assert_eq!(&failing[..first.len()], first, "{percent}%");
        }
        // The last request of all neither overflows nor panics.
        assert!(fails(u64::MAX - 1, per_million(100.0)));
    }

    #[test]
    fn percentages_outside_0_to_100_are_refused() {
        for (input, ok) in [
            ("30", true),
            ("0.2", true),
            ("100", true),
            ("0", true),
            ("101", false),
            ("-1", false),
            ("x", false),
            ("NaN", false),
        ] {
            assert_eq!(parse_percent(input).is_ok(), ok, "{input}");
        }
    }
}
