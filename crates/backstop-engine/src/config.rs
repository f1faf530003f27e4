//! The server's configuration file (`backstop.toml`): parsed, defaulted and
//! validated up front, so a bad key is reported with its file and name
//! before anything starts.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use backstop_core::AppName;
use backstop_core::analysis::{AnalysisConfig, OnFailure};
use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: `{key}` {message}")]
    Invalid { path: PathBuf, key: String, message: String },
}

#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub server: ServerConfig,
    pub apps: BTreeMap<AppName, AppConfig>,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub state: PathBuf,
    /// Artifacts of this many most recent known-good revisions per app are never collected.
    pub keep_known_good: usize,
    /// OFREP evaluations per second per token (one second of burst); 0 is no limit.
    pub ofrep_rate_limit: u32,
    /// How long a control plane that hands its listeners to a successor (or stops) gives the
    /// requests it accepted to finish.
    pub handover_window: Duration,
    /// An instance log is rotated once it grows past this many bytes.
    pub log_max_bytes: u64,
    /// How many rotated copies of an instance log are kept (`N.log.1` the newest).
    pub log_keep: usize,
}

/// The default `server.handover_window`.
pub const DEFAULT_HANDOVER_WINDOW: Duration = Duration::from_secs(30);

/// The default size at which an instance log is rotated: 10 MiB.
pub const DEFAULT_LOG_MAX_BYTES: u64 = 10 * 1024 * 1024;
/// The smallest `log_max_bytes` taken: below it the log would rotate on every few lines.
pub const MIN_LOG_MAX_BYTES: u64 = 4096;
/// The most rotated copies `log_keep` allows.
pub const MAX_LOG_KEEP: usize = 100;

/// The default OFREP rate limit per token: far above what one service asks.
pub const DEFAULT_OFREP_RATE_LIMIT: u32 = 10_000;

#[derive(Debug, Clone)]
pub struct AppConfig {
    /// The public address of backstop's proxy for a local app; none on Kubernetes, where the
    /// app's Service is its address.
    pub listen: Option<SocketAddr>,
    /// `driver = "kubernetes"`: the app runs on a cluster (`[apps.NAME.kubernetes]`).
    pub kubernetes: Option<KubernetesConfig>,
    pub health: String,
    pub soak: Duration,
    pub keep_warm: Duration,
    pub health_timeout: Duration,
    pub drain_timeout: Duration,
    pub stop_grace: Duration,
    /// Consecutive failed health checks during soak that fail a revision.
    pub soak_failures: u32,
    pub health_interval: Duration,
    /// How long an instance may take to start answering a proxied request before the client gets
    /// 504; zero waits forever.
    pub response_timeout: Duration,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// The app's database, when its releases ship migrations.
    pub database: Option<DatabaseConfig>,
    /// Automated analysis of each release's own traffic during its soak (`[apps.NAME.analysis]`);
    /// without it a revision is judged by its health checks alone.
    pub analysis: Option<AnalysisConfig>,
    /// Refuse a release while the way back from it is not ready (`require_rollback_ready = true`).
    pub require_rollback_ready: bool,
    /// The proxy's access log (`access_log = "PATH"`, relative to the config file); none by default.
    pub access_log: Option<PathBuf>,
}

/// `[apps.NAME.kubernetes]`, with paths resolved against the config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubernetesConfig {
    /// `None`: in-cluster, then `$KUBECONFIG`, then `~/.kube/config`.
    pub kubeconfig: Option<PathBuf>,
    pub namespace: String,
    pub service: String,
    pub template: PathBuf,
    pub replicas: u32,
    pub container: Option<String>,
}

/// The most replicas a revision may ask for.
pub const MAX_REPLICAS: u32 = 1000;

/// `[apps.NAME.database]`.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub db: backstop_appdb::Database,
    /// Run the contract stage as soon as the release that ships it is proven and the gate allows it
    /// (`contract = "auto"`); by default only `backstop migrate contract APP` runs it.
    pub auto_contract: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    server: RawServer,
    #[serde(default)]
    apps: BTreeMap<String, RawApp>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<String>,
    state: String,
    keep_known_good: Option<usize>,
    ofrep_rate_limit: Option<u32>,
    handover_window: Option<String>,
    log_max_bytes: Option<u64>,
    log_keep: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApp {
    listen: Option<String>,
    driver: Option<String>,
    kubernetes: Option<RawKubernetes>,
    health: Option<String>,
    soak: Option<String>,
    keep_warm: Option<String>,
    health_timeout: Option<String>,
    drain_timeout: Option<String>,
    stop_grace: Option<String>,
    soak_failures: Option<u32>,
    health_interval: Option<String>,
    response_timeout: Option<String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    database: Option<RawDatabase>,
    analysis: Option<RawAnalysis>,
    #[serde(default)]
    require_rollback_ready: bool,
    access_log: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAnalysis {
    max_error_ratio: Option<f64>,
    max_p99: Option<String>,
    relative: Option<bool>,
    min_requests: Option<u64>,
    on_failure: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKubernetes {
    kubeconfig: Option<String>,
    namespace: Option<String>,
    service: String,
    template: String,
    replicas: Option<u32>,
    container: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    url: String,
    contract: Option<String>,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:7878";

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Config::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text)
            .map_err(|e| ConfigError::Parse { path: path.to_owned(), message: parse_message(text, &e) })?;
        let invalid = |key: String, message: String| ConfigError::Invalid { path: path.to_owned(), key, message };
        let addr = |key: String, value: &str| -> Result<SocketAddr, ConfigError> {
            value
                .parse::<SocketAddr>()
                .map_err(|_| invalid(key, format!("is `{value}`, expected an address like 127.0.0.1:8080")))
        };
        // Every duration has an upper bound, so no later date or timer arithmetic can overflow.
        let dur = |key: String, value: Option<&str>, default: Duration| -> Result<Duration, ConfigError> {
            let Some(v) = value else { return Ok(default) };
            let d = humantime::parse_duration(v)
                .map_err(|_| invalid(key.clone(), format!("is `{v}`, expected a duration like 30s, 10m or 500ms")))?;
            let max = max_duration(&key);
            if d > max {
                return Err(invalid(
                    key,
                    format!("is `{v}`, longer than the limit of {}", humantime::format_duration(max)),
                ));
            }
            Ok(d)
        };

        let listen = addr("server.listen".into(), raw.server.listen.as_deref().unwrap_or(DEFAULT_LISTEN))?;
        if raw.server.state.trim().is_empty() {
            return Err(invalid("server.state".into(), "is empty, expected a directory path".into()));
        }
        let mut state = PathBuf::from(&raw.server.state);
        if state.is_relative() {
            // Relative to the config file, so the same file works from any working directory.
            state = config_dir(path).join(state);
        }
        let server = ServerConfig {
            listen,
            state,
            keep_known_good: raw.server.keep_known_good.unwrap_or(5),
            ofrep_rate_limit: raw.server.ofrep_rate_limit.unwrap_or(DEFAULT_OFREP_RATE_LIMIT),
            handover_window: dur(
                "server.handover_window".into(),
                raw.server.handover_window.as_deref(),
                DEFAULT_HANDOVER_WINDOW,
            )?,
            log_max_bytes: raw.server.log_max_bytes.unwrap_or(DEFAULT_LOG_MAX_BYTES),
            log_keep: raw.server.log_keep.unwrap_or(3),
        };
        if server.log_max_bytes < MIN_LOG_MAX_BYTES {
            return Err(invalid(
                "server.log_max_bytes".into(),
                format!("is {}, expected at least {MIN_LOG_MAX_BYTES}", server.log_max_bytes),
            ));
        }
        if server.log_keep > MAX_LOG_KEEP {
            return Err(invalid(
                "server.log_keep".into(),
                format!("is {}, expected 0 to {MAX_LOG_KEEP}", server.log_keep),
            ));
        }

        let mut apps = BTreeMap::new();
        let mut seen: BTreeMap<SocketAddr, String> = BTreeMap::from([(listen, "server.listen".to_owned())]);
        for (name, app) in raw.apps {
            let k = |field: &str| format!("apps.{name}.{field}");
            let app_name: AppName = name
                .parse()
                .map_err(|e: backstop_core::name::AppNameError| invalid(format!("apps.{name}"), e.to_string()))?;
            let kubernetes = match (app.driver.as_deref(), app.kubernetes) {
                (None | Some("local"), None) => None,
                (None | Some("local"), Some(_)) => {
                    return Err(invalid(k("kubernetes"), "is set, but the app's driver is not \"kubernetes\"".into()));
                }
                (Some("kubernetes"), None) => {
                    return Err(invalid(
                        k("kubernetes"),
                        "is missing: a Kubernetes app needs namespace, service and template".into(),
                    ));
                }
                (Some("kubernetes"), Some(raw)) => {
                    Some(kubernetes_config(raw, &config_dir(path)).map_err(|(key, m)| invalid(k(&key), m))?)
                }
                (Some(other), _) => {
                    return Err(invalid(k("driver"), format!("is `{other}`, expected \"local\" or \"kubernetes\"")));
                }
            };
            let listen = match (&kubernetes, app.listen.as_deref()) {
                (None, Some(l)) => Some(addr(k("listen"), l)?),
                (None, None) => {
                    return Err(invalid(k("listen"), "is missing: the public address of the app's proxy".into()));
                }
                (Some(_), Some(_)) => {
                    return Err(invalid(
                        k("listen"),
                        "is set, but a Kubernetes app is reached through its Service, not backstop's proxy".into(),
                    ));
                }
                (Some(_), None) => None,
            };
            if let Some(listen) = listen {
                if let Some(other) = seen.insert(listen, k("listen")) {
                    return Err(invalid(k("listen"), format!("uses {listen}, already taken by `{other}`")));
                }
            }
            let health = app.health.unwrap_or_else(|| "/healthz".into());
            if !health.starts_with('/') {
                return Err(invalid(k("health"), format!("is `{health}`, expected a path starting with /")));
            }
            let soak_failures = app.soak_failures.unwrap_or(3);
            if soak_failures == 0 {
                return Err(invalid(k("soak_failures"), "must be at least 1".into()));
            }
            for key in app.env.keys() {
                if key == "PORT" {
                    return Err(invalid(k("env"), "must not set PORT: backstop assigns it to each instance".into()));
                }
            }
            let database = match app.database {
                None => None,
                Some(raw) => Some(DatabaseConfig {
                    db: match backstop_appdb::Database::parse(&raw.url).map_err(|m| invalid(k("database.url"), m))? {
                        // Relative to the config file, like the state directory.
                        backstop_appdb::Database::Sqlite { path: file } if file.is_relative() => {
                            backstop_appdb::Database::Sqlite { path: config_dir(path).join(file) }
                        }
                        db => db,
                    },
                    auto_contract: match raw.contract.as_deref() {
                        None | Some("manual") => false,
                        Some("auto") => true,
                        Some(other) => {
                            return Err(invalid(
                                k("database.contract"),
                                format!("is `{other}`, expected \"manual\" or \"auto\""),
                            ));
                        }
                    },
                }),
            };
            let analysis = match app.analysis {
                None => None,
                Some(raw) => {
                    let max_p99 = match raw.max_p99.as_deref() {
                        None => None,
                        Some(v) => Some(dur(k("analysis.max_p99"), Some(v), Duration::ZERO)?),
                    };
                    Some(analysis_config(raw, max_p99).map_err(|(key, message)| invalid(k(&key), message))?)
                }
            };
            let access_log = match app.access_log.as_deref() {
                None => None,
                Some(p) if p.trim().is_empty() => {
                    return Err(invalid(k("access_log"), "is empty, expected a file path".into()));
                }
                Some(_) if kubernetes.is_some() => {
                    return Err(invalid(
                        k("access_log"),
                        "is set, but a Kubernetes app's requests do not go through backstop's proxy".into(),
                    ));
                }
                // Relative to the config file, like the state directory.
                Some(p) => Some(config_dir(path).join(p)),
            };
            let cfg = AppConfig {
                listen,
                kubernetes,
                health,
                soak: dur(k("soak"), app.soak.as_deref(), Duration::from_secs(30))?,
                keep_warm: dur(k("keep_warm"), app.keep_warm.as_deref(), Duration::from_secs(600))?,
                health_timeout: dur(k("health_timeout"), app.health_timeout.as_deref(), Duration::from_secs(30))?,
                drain_timeout: dur(k("drain_timeout"), app.drain_timeout.as_deref(), Duration::from_secs(30))?,
                stop_grace: dur(k("stop_grace"), app.stop_grace.as_deref(), Duration::from_secs(10))?,
                health_interval: dur(k("health_interval"), app.health_interval.as_deref(), Duration::from_secs(1))?,
                response_timeout: dur(k("response_timeout"), app.response_timeout.as_deref(), Duration::from_secs(60))?,
                soak_failures,
                args: app.args,
                env: app.env,
                database,
                analysis,
                require_rollback_ready: app.require_rollback_ready,
                access_log,
            };
            if cfg.health_interval.is_zero() {
                return Err(invalid(k("health_interval"), "must be longer than 0s".into()));
            }
            apps.insert(app_name, cfg);
        }
        Ok(Config { path: path.to_owned(), server, apps })
    }
}

/// The analysis settings from their raw keys (defaults from [`AnalysisConfig::default`]), checked;
/// an error is the key under `apps.NAME.` and the message.
fn analysis_config(raw: RawAnalysis, max_p99: Option<Duration>) -> Result<AnalysisConfig, (String, String)> {
    let defaults = AnalysisConfig::default();
    let on_failure = match raw.on_failure.as_deref() {
        None => defaults.on_failure,
        Some("revert") => OnFailure::Revert,
        Some("kill-switch") => OnFailure::KillSwitch,
        Some("pause") => OnFailure::Pause,
        Some(other) => {
            return Err((
                "analysis.on_failure".into(),
                format!("is `{other}`, expected \"revert\", \"kill-switch\" or \"pause\""),
            ));
        }
    };
    let cfg = AnalysisConfig {
        max_error_ratio: raw.max_error_ratio.unwrap_or(defaults.max_error_ratio),
        max_p99,
        relative: raw.relative.unwrap_or(defaults.relative),
        min_requests: raw.min_requests.unwrap_or(defaults.min_requests),
        on_failure,
    };
    cfg.validate().map_err(|message| split_key(&message))?;
    Ok(cfg)
}

/// The Kubernetes settings from their raw keys; an error is the key under `apps.NAME.` and the
/// message.
fn kubernetes_config(raw: RawKubernetes, dir: &Path) -> Result<KubernetesConfig, (String, String)> {
    // Names as Kubernetes requires them (RFC 1123 labels), so a typo fails here, not on the cluster.
    let dns_label = |key: &str, v: &str| -> Result<String, (String, String)> {
        let ok = !v.is_empty()
            && v.len() <= 63
            && v.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !v.starts_with('-')
            && !v.ends_with('-');
        if ok {
            Ok(v.to_owned())
        } else {
            Err((
                format!("kubernetes.{key}"),
                format!("is `{v}`, expected a Kubernetes name (lowercase letters, digits, -)"),
            ))
        }
    };
    let resolve = |p: &str| {
        let p = PathBuf::from(p);
        if p.is_relative() { dir.join(p) } else { p }
    };
    let replicas = raw.replicas.unwrap_or(1);
    if replicas == 0 || replicas > MAX_REPLICAS {
        return Err(("kubernetes.replicas".into(), format!("is {replicas}, expected 1 to {MAX_REPLICAS}")));
    }
    if raw.template.trim().is_empty() {
        return Err(("kubernetes.template".into(), "is empty, expected the path of a Deployment manifest".into()));
    }
    Ok(KubernetesConfig {
        kubeconfig: raw.kubeconfig.as_deref().map(resolve),
        namespace: dns_label("namespace", raw.namespace.as_deref().unwrap_or("default"))?,
        service: dns_label("service", &raw.service)?,
        template: resolve(&raw.template),
        replicas,
        container: match raw.container {
            Some(c) => Some(dns_label("container", &c)?),
            None => None,
        },
    })
}

/// `AnalysisConfig::validate` starts its message with the key at fault: name it as the config does.
fn split_key(message: &str) -> (String, String) {
    const KEYS: [&str; 3] = ["max_error_ratio", "min_requests", "max_p99"];
    match message.split_once(' ') {
        Some((key, rest)) if KEYS.contains(&key) => (format!("analysis.{key}"), rest.to_owned()),
        _ => ("analysis".into(), message.to_owned()),
    }
}

/// The longest value a duration key accepts: a soak or keep-warm time of a month, the hand-over
/// window ten minutes, a timeout, grace or interval of a day.
pub fn max_duration(key: &str) -> Duration {
    const DAY: u64 = 24 * 60 * 60;
    if key == "server.handover_window" {
        Duration::from_secs(10 * 60)
    } else if key.ends_with(".soak") || key.ends_with(".keep_warm") {
        Duration::from_secs(30 * DAY)
    } else {
        Duration::from_secs(DAY)
    }
}

/// What a reload does: the apps it starts, and the apps whose settings it replaces.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ReloadPlan {
    pub added: Vec<AppName>,
    pub changed: Vec<AppName>,
}

/// What reloading `next` over `running` would do, or the key of a change only a restart can make
/// and why: the `[server]` section, an app removed, where an app listens or what runs it. Pure.
pub fn reload_plan(running: &Config, next: &Config) -> Result<ReloadPlan, (String, String)> {
    const RESTART: &str = "a reload adds apps and changes their settings, not the server's, where an app \
                           listens or what runs it: restart to apply it (a `backstop server` started on the \
                           same state takes over without downtime)";
    if format!("{:?}", running.server) != format!("{:?}", next.server) {
        return Err(("server".into(), format!("changed; {RESTART}")));
    }
    let mut plan = ReloadPlan::default();
    for (name, app) in &running.apps {
        let Some(now) = next.apps.get(name) else {
            return Err((format!("apps.{name}"), format!("was removed; {RESTART}")));
        };
        if now.listen != app.listen {
            return Err((format!("apps.{name}.listen"), format!("changed; {RESTART}")));
        }
        if format!("{:?}", now.kubernetes) != format!("{:?}", app.kubernetes) {
            return Err((format!("apps.{name}.kubernetes"), format!("changed; {RESTART}")));
        }
        if format!("{now:?}") != format!("{app:?}") {
            plan.changed.push(name.clone());
        }
    }
    plan.added = next.apps.keys().filter(|name| !running.apps.contains_key(*name)).cloned().collect();
    Ok(plan)
}

/// The config file's directory as an absolute path: relative paths in the file are resolved against
/// it, and a config named without a directory (`backstop.toml`) has the current one, not `""`.
fn config_dir(config: &Path) -> PathBuf {
    let dir = match config.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned())
}

/// A TOML reader's error on one line, led by where it is: `line 3, column 8: invalid table header`.
fn parse_message(text: &str, e: &toml::de::Error) -> String {
    let message = one_line(e.message());
    match e.span() {
        Some(span) => {
            let (line, column) = line_column(text, span.start);
            let source: String = text.lines().nth(line - 1).unwrap_or("").trim().chars().take(80).collect();
            if source.is_empty() {
                format!("line {line}, column {column}: {message}")
            } else {
                format!("line {line}, column {column}: {message} (at `{source}`)")
            }
        }
        None => message,
    }
}

/// The 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn one_line(s: &str) -> String {
    // toml's messages span several lines (with a source excerpt); keep them on one.
    s.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('|')).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("/etc/backstop/backstop.toml"), text)
    }

    const MINIMAL: &str = r#"
[server]
listen = "127.0.0.1:7878"
state  = "/var/lib/backstop"
[apps.shop]
listen    = "127.0.0.1:8080"
health    = "/healthz"
soak      = "30s"
keep_warm = "10m"
"#;

    #[test]
    fn instance_log_rotation_is_bounded() {
        let with = |keys: &str| parse(&MINIMAL.replace("[apps.shop]", &format!("{keys}\n[apps.shop]")));
        let c = with("").unwrap();
        assert_eq!((c.server.log_max_bytes, c.server.log_keep), (DEFAULT_LOG_MAX_BYTES, 3));
        let c = with("log_max_bytes = 65536\nlog_keep = 0").unwrap();
        assert_eq!((c.server.log_max_bytes, c.server.log_keep), (65536, 0));
        for (keys, key) in [("log_max_bytes = 10", "server.log_max_bytes"), ("log_keep = 101", "server.log_keep")] {
            let err = with(keys).unwrap_err();
            assert!(err.to_string().contains(&format!("`{key}`")), "{keys}: {err}");
        }
    }

    #[test]
    fn minimal_config_from_the_docs() {
        let c = parse(MINIMAL).unwrap();
        let shop = &c.apps[&"shop".parse::<AppName>().unwrap()];
        assert_eq!(shop.soak, Duration::from_secs(30));
        assert_eq!(shop.keep_warm, Duration::from_secs(600));
        assert_eq!(shop.health, "/healthz");
        assert_eq!(shop.response_timeout, Duration::from_secs(60));
        assert_eq!(c.server.state, PathBuf::from("/var/lib/backstop"));
    }

    #[test]
    fn database_section_is_optional_and_parsed() {
        let shop = |c: &Config| c.apps[&"shop".parse::<AppName>().unwrap()].clone();
        assert!(shop(&parse(MINIMAL).unwrap()).database.is_none());
        let text =
            format!("{MINIMAL}[apps.shop.database]\nurl = \"postgres://shop@127.0.0.1/shop\"\ncontract = \"auto\"\n");
        let db = shop(&parse(&text).unwrap()).database.unwrap();
        assert_eq!(db.db, backstop_appdb::Database::parse("postgres://shop@127.0.0.1/shop").unwrap());
        assert!(
            matches!(&db.db, backstop_appdb::Database::Postgres { url, .. } if url == "postgres://shop@127.0.0.1/shop")
        );
        assert!(db.auto_contract);
    }

    #[test]
    fn analysis_section_is_optional_and_parsed_with_defaults() {
        let shop = |c: &Config| c.apps[&"shop".parse::<AppName>().unwrap()].clone();
        assert!(shop(&parse(MINIMAL).unwrap()).analysis.is_none());
        let full = format!(
            "{MINIMAL}[apps.shop.analysis]\nmax_error_ratio = 0.02\nmax_p99 = \"500ms\"\nrelative = false\n\
             min_requests = 50\non_failure = \"kill-switch\"\n"
        );
        let want = AnalysisConfig {
            max_error_ratio: 0.02,
            max_p99: Some(Duration::from_millis(500)),
            relative: false,
            min_requests: 50,
            on_failure: OnFailure::KillSwitch,
        };
        assert_eq!(shop(&parse(&full).unwrap()).analysis, Some(want));
        let empty = format!("{MINIMAL}[apps.shop.analysis]\n");
        assert_eq!(shop(&parse(&empty).unwrap()).analysis, Some(AnalysisConfig::default()));
        // A whole number is a ratio too.
        let one = format!("{MINIMAL}[apps.shop.analysis]\nmax_error_ratio = 0\n");
        assert!(matches!(parse(&one), Err(ConfigError::Invalid { .. })));
        for (value, want) in [("revert", OnFailure::Revert), ("pause", OnFailure::Pause)] {
            let text = format!("{MINIMAL}[apps.shop.analysis]\non_failure = \"{value}\"\n");
            assert_eq!(shop(&parse(&text).unwrap()).analysis.unwrap().on_failure, want);
        }
    }

    #[test]
    fn analysis_errors_name_the_key() {
        let section = |body: &str| format!("{MINIMAL}[apps.shop.analysis]\n{body}\n");
        // (body, key, part of the message)
        let cases = [
            ("max_error_ratio = 0.0", "apps.shop.analysis.max_error_ratio", "above 0"),
            ("max_error_ratio = 0.7", "apps.shop.analysis.max_error_ratio", "at most 0.5"),
            ("max_error_ratio = -1.0", "apps.shop.analysis.max_error_ratio", "above 0"),
            ("max_error_ratio = nan", "apps.shop.analysis.max_error_ratio", "NaN"),
            ("min_requests = 0", "apps.shop.analysis.min_requests", "between 1 and 1000000"),
            ("min_requests = 2000000", "apps.shop.analysis.min_requests", "between 1 and 1000000"),
            ("max_p99 = \"0ms\"", "apps.shop.analysis.max_p99", "between 1ms and 10min"),
            ("max_p99 = \"1h\"", "apps.shop.analysis.max_p99", "between 1ms and 10min"),
            ("max_p99 = \"quick\"", "apps.shop.analysis.max_p99", "expected a duration"),
            ("max_p99 = \"300000000000y\"", "apps.shop.analysis.max_p99", "limit"),
            ("on_failure = \"panic\"", "apps.shop.analysis.on_failure", "\"kill-switch\""),
        ];
        for (body, key, part) in cases {
            match parse(&section(body)) {
                Err(ConfigError::Invalid { key: got, message, .. }) => {
                    assert_eq!(got, key, "{body}");
                    assert!(message.contains(part), "{body}: {message}");
                }
                other => panic!("{body}: expected Invalid, got {other:?}"),
            }
        }
        // An unknown key, or a value of the wrong type, is refused by the reader, naming it.
        for (body, part) in [("max_eror_ratio = 0.1", "max_eror_ratio"), ("relative = \"yes\"", "relative")] {
            let err = parse(&section(body)).unwrap_err();
            assert!(matches!(err, ConfigError::Parse { .. }), "{body}: {err}");
            assert!(err.to_string().contains(part), "{body}: {err}");
        }
    }

    #[test]
    fn handover_window_defaults_and_is_bounded() {
        assert_eq!(parse(MINIMAL).unwrap().server.handover_window, DEFAULT_HANDOVER_WINDOW);
        let with = |v: &str| MINIMAL.replacen("[apps.shop]", &format!("handover_window = \"{v}\"\n[apps.shop]"), 1);
        // (value, the window, or part of the message)
        let cases = [
            ("0s", Ok(Duration::ZERO)),
            ("5s", Ok(Duration::from_secs(5))),
            ("10m", Ok(Duration::from_secs(600))),
            ("11m", Err("longer than the limit of 10m")),
            ("soon", Err("expected a duration")),
        ];
        for (value, want) in cases {
            match (parse(&with(value)), want) {
                (Ok(c), Ok(d)) => assert_eq!(c.server.handover_window, d, "{value}"),
                (Err(ConfigError::Invalid { key, message, .. }), Err(part)) => {
                    assert_eq!(key, "server.handover_window", "{value}");
                    assert!(message.contains(part), "{value}: {message}");
                }
                (got, _) => panic!("{value}: unexpected {got:?}"),
            }
        }
    }

    #[test]
    fn a_reload_adds_apps_and_changes_settings_and_refuses_what_needs_a_restart() {
        let other = "[apps.cart]\nlisten = \"127.0.0.1:8081\"\n";
        let running = parse(MINIMAL).unwrap();
        // (next config, (apps added, apps changed), or the key refused)
        type Want = Result<(Vec<&'static str>, Vec<&'static str>), &'static str>;
        let cases: [(String, Want); 9] = [
            (MINIMAL.into(), Ok((vec![], vec![]))),
            (format!("{MINIMAL}{other}"), Ok((vec!["cart"], vec![]))),
            (MINIMAL.replace("soak      = \"30s\"", "soak = \"1m\""), Ok((vec![], vec!["shop"]))),
            (
                format!("{}{other}", MINIMAL.replace("keep_warm = \"10m\"", "keep_warm = \"1h\"\nenv = { A = \"1\" }")),
                Ok((vec!["cart"], vec!["shop"])),
            ),
            (MINIMAL.replace("127.0.0.1:8080", "127.0.0.1:8082"), Err("apps.shop.listen")),
            (MINIMAL.replace("127.0.0.1:7878", "127.0.0.1:7879"), Err("server")),
            (MINIMAL.replace("[apps.shop]", "[apps.cart]"), Err("apps.shop")),
            (MINIMAL.replace("[server]", "[server]\nhandover_window = \"5s\""), Err("server")),
            (MINIMAL.replace("soak      = \"30s\"", "soak = \"30s\""), Ok((vec![], vec![]))),
        ];
        for (text, want) in cases {
            let next = parse(&text).unwrap();
            match (reload_plan(&running, &next), want) {
                (Ok(plan), Ok((added, changed))) => {
                    let names = |v: &[AppName]| v.iter().map(|a| a.as_str().to_owned()).collect::<Vec<_>>();
                    assert_eq!(names(&plan.added), added, "{text}");
                    assert_eq!(names(&plan.changed), changed, "{text}");
                }
                (Err((key, message)), Err(k)) => {
                    assert_eq!(key, k, "{text}");
                    assert!(message.contains("restart"), "{message}");
                }
                (got, _) => panic!("{text}: unexpected {got:?}"),
            }
        }
    }

    const KUBE: &str = r#"
[server]
state = "/var/lib/backstop"
[apps.web]
driver = "kubernetes"
[apps.web.kubernetes]
namespace = "shop"
service = "web"
template = "deploy/web.yaml"
replicas = 2
"#;

    #[test]
    fn a_kubernetes_app_is_parsed_with_paths_beside_the_config() {
        let c = parse(KUBE).unwrap();
        let web = &c.apps[&"web".parse::<AppName>().unwrap()];
        assert_eq!(web.listen, None);
        let k = web.kubernetes.clone().unwrap();
        assert_eq!(k.template, PathBuf::from("/etc/backstop/deploy/web.yaml"));
        assert_eq!((k.namespace.as_str(), k.service.as_str(), k.replicas), ("shop", "web", 2));
        assert_eq!(k.kubeconfig, None);
        let default_ns = parse(&KUBE.replace("namespace = \"shop\"\n", "")).unwrap();
        assert_eq!(
            default_ns.apps[&"web".parse::<AppName>().unwrap()].kubernetes.clone().unwrap().namespace,
            "default"
        );
    }

    #[test]
    fn kubernetes_settings_errors_name_the_key() {
        // (config, key, part of the message)
        let cases = [
            (KUBE.replace("driver = \"kubernetes\"", "driver = \"nomad\""), "apps.web.driver", "\"kubernetes\""),
            (KUBE.replace("replicas = 2", "replicas = 0"), "apps.web.kubernetes.replicas", "1 to 1000"),
            (KUBE.replace("replicas = 2", "replicas = 5000"), "apps.web.kubernetes.replicas", "1 to 1000"),
            (
                KUBE.replace("namespace = \"shop\"", "namespace = \"Shop_1\""),
                "apps.web.kubernetes.namespace",
                "Kubernetes name",
            ),
            (KUBE.replace("service = \"web\"", "service = \"-web\""), "apps.web.kubernetes.service", "Kubernetes name"),
            (
                KUBE.replace("template = \"deploy/web.yaml\"", "template = \" \""),
                "apps.web.kubernetes.template",
                "empty",
            ),
            (
                KUBE.replace("driver = \"kubernetes\"\n", "driver = \"kubernetes\"\nlisten = \"127.0.0.1:8080\"\n"),
                "apps.web.listen",
                "Service",
            ),
            (KUBE.replace("driver = \"kubernetes\"\n", ""), "apps.web.kubernetes", "not \"kubernetes\""),
            (
                MINIMAL.replace("[apps.shop]\n", "[apps.shop]\ndriver = \"kubernetes\"\n"),
                "apps.shop.kubernetes",
                "missing",
            ),
            (MINIMAL.replace("listen    = \"127.0.0.1:8080\"\n", ""), "apps.shop.listen", "missing"),
        ];
        for (text, key, part) in cases {
            match parse(&text) {
                Err(ConfigError::Invalid { key: got, message, .. }) => {
                    assert_eq!(got, key, "{text}");
                    assert!(message.contains(part), "{text}: {message}");
                }
                other => panic!("{text}: expected Invalid, got {other:?}"),
            }
        }
    }

    #[test]
    fn an_access_log_is_off_by_default_and_a_relative_one_is_beside_the_config_file() {
        assert_eq!(parse(MINIMAL).unwrap().apps[&"shop".parse::<AppName>().unwrap()].access_log, None);
        let c = parse(&format!("{MINIMAL}access_log = \"logs/shop.log\"\n")).unwrap();
        assert_eq!(
            c.apps[&"shop".parse::<AppName>().unwrap()].access_log,
            Some(PathBuf::from("/etc/backstop/logs/shop.log"))
        );
        let c = parse(&format!("{MINIMAL}access_log = \"/var/log/shop.log\"\n")).unwrap();
        assert_eq!(c.apps[&"shop".parse::<AppName>().unwrap()].access_log, Some(PathBuf::from("/var/log/shop.log")));
    }

    #[test]
    fn relative_state_is_beside_the_config_file() {
        let c = parse("[server]\nstate = \"state\"\n").unwrap();
        assert_eq!(c.server.state, PathBuf::from("/etc/backstop/state"));
    }

    #[test]
    fn a_relative_state_directory_beside_a_config_named_without_a_directory_is_absolute() {
        let c = Config::parse(Path::new("backstop.toml"), "[server]\nstate = \"state\"\n").unwrap();
        assert!(c.server.state.is_absolute(), "{}", c.server.state.display());
        let here = std::env::current_dir().unwrap();
        assert_eq!(c.server.state.strip_prefix(&here).unwrap(), Path::new("state"));
        assert_eq!(c.server.listen.to_string(), DEFAULT_LISTEN);
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            (MINIMAL.replace("\"30s\"", "\"thirty\""), "apps.shop.soak"),
            (MINIMAL.replace("127.0.0.1:8080", "localhost"), "apps.shop.listen"),
            (MINIMAL.replace("127.0.0.1:8080", "127.0.0.1:7878"), "apps.shop.listen"),
            (MINIMAL.replace("\"/healthz\"", "\"healthz\""), "apps.shop.health"),
            (format!("{MINIMAL}response_timeout = \"soon\"\n"), "apps.shop.response_timeout"),
            (format!("{MINIMAL}access_log = \" \"\n"), "apps.shop.access_log"),
            (MINIMAL.replace("apps.shop]", "apps.Shop]"), "apps.Shop"),
            (format!("{MINIMAL}env = {{ PORT = \"1\" }}\n"), "apps.shop.env"),
            (format!("{MINIMAL}[apps.shop.database]\nurl = \"mysql://db/shop\"\n"), "apps.shop.database.url"),
            (
                format!("{MINIMAL}[apps.shop.database]\nurl = \"sqlite://shop.db\"\ncontract = \"sometimes\"\n"),
                "apps.shop.database.contract",
            ),
        ];
        for (text, key) in cases {
            match parse(&text) {
                Err(ConfigError::Invalid { key: got, .. }) => assert_eq!(got, key),
                other => panic!("{key}: expected Invalid, got {other:?}"),
            }
        }
    }

    #[test]
    fn absurd_durations_are_refused_naming_the_key() {
        for key in [
            "soak",
            "keep_warm",
            "health_timeout",
            "drain_timeout",
            "stop_grace",
            "health_interval",
            "response_timeout",
        ] {
            let text = if key == "soak" {
                MINIMAL.replace("\"30s\"", "\"300000y\"")
            } else if key == "keep_warm" {
                MINIMAL.replace("\"10m\"", "\"300000y\"")
            } else {
                format!("{MINIMAL}{key} = \"300000000000y\"\n")
            };
            match parse(&text) {
                Err(ConfigError::Invalid { key: got, message, .. }) => {
                    assert_eq!(got, format!("apps.shop.{key}"));
                    assert!(message.contains("limit"), "{key}: {message}");
                }
                other => panic!("{key}: expected Invalid, got {other:?}"),
            }
        }
        // The limits themselves are accepted.
        let at_limit = format!("{}stop_grace = \"1day\"\n", MINIMAL.replace("\"10m\"", "\"30days\""));
        assert!(parse(&at_limit).is_ok());
    }

    #[test]
    fn line_column_table() {
        for (text, offset, want) in [
            ("", 0, (1, 1)),
            ("abc", 2, (1, 3)),
            ("a\nbc", 2, (2, 1)),
            ("a\nbc", 3, (2, 2)),
            ("é\nx", 3, (2, 1)),
            ("ab", 99, (1, 3)),
        ] {
            assert_eq!(line_column(text, offset), want, "{text:?} at {offset}");
        }
    }

    #[test]
    fn a_syntax_error_says_its_line_and_column() {
        let err = parse("[server]\nlisten = \"127.0.0.1:7878\"\n[apps.web\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("line 3, column "), "{text}");
        assert!(!text.contains(" | "), "no source excerpt on the one line: {text}");
    }

    #[test]
    fn unknown_keys_and_syntax_errors_are_refused_with_the_file() {
        for text in [MINIMAL.replace("keep_warm", "keep_wram"), "[server\n".to_owned()] {
            let err = parse(&text).unwrap_err();
            let msg = err.to_string();
            assert!(matches!(err, ConfigError::Parse { .. }), "{msg}");
            assert!(msg.starts_with("/etc/backstop/backstop.toml:"), "{msg}");
            assert!(!msg.contains('\n'), "{msg}");
        }
        let msg = parse(&MINIMAL.replace("keep_warm", "keep_wram")).unwrap_err().to_string();
        assert!(msg.contains("keep_wram"), "{msg}");
    }
}
