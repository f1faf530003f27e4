//! The backstop control plane's HTTP side and its wiring: axum routes over the engine
//! (`api`, `flags` for the admin, OFREP and stream framing), tokens (`auth`), and [`Server`], which
//! picks the store, the driver and the traffic seam and hands them to the [`Engine`].
//! Business decisions live in backstop-engine and the pure crates, not here.

pub mod api;
pub mod auth;
pub mod flags;
mod incidents;
mod listing;
mod metrics;
pub mod openapi;
mod wire;

pub use backstop_engine::{Engine, EngineParts, config, error, migrations, ops};

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use backstop_artifacts::{ArtifactError, ArtifactStore};
use backstop_driver::Traffic;
use backstop_local::LocalDriver;
use backstop_proxy::{Proxy, ProxyError, ProxyTraffic};
use backstop_store::{SqliteStore, Store, StoreError};

pub use config::{Config, ConfigError};
pub use error::OpError;

/// What the HTTP handlers share: the engine, and what only HTTP needs (tokens, the flag service
/// with its stream fan-out). Derefs to the engine.
pub struct Ctx {
    pub engine: Arc<Engine>,
    pub token: String,
    /// Evaluates flags and reads the flag stream; refused on every mutating route.
    pub eval_token: String,
    pub flags: Arc<flags::FlagService>,
    /// The OFREP evaluation rate limit per token.
    pub ofrep_limiter: flags::RateLimiter,
}

impl std::ops::Deref for Ctx {
    type Target = Engine;

    fn deref(&self) -> &Engine {
        &self.engine
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot use state directory {path}")]
    State { path: PathBuf, source: std::io::Error },
    #[error("cannot open the state database")]
    Store(#[from] StoreError),
    #[error("cannot open the artifact store")]
    Artifacts(#[from] ArtifactError),
    #[error("cannot listen on {addr} (`{key}`)")]
    Bind { key: String, addr: SocketAddr, source: std::io::Error },
    #[error("`{key}`: {message}")]
    Kubernetes { key: String, message: String },
    #[error("cannot open the access log {path} (`{key}`)")]
    AccessLog { key: String, path: PathBuf, source: std::io::Error },
}

impl ServerError {
    pub fn hint(&self) -> String {
        match self {
            ServerError::Config(_) => "fix the named key in the config file and start again".into(),
            ServerError::State { .. } => {
                "check that the `server.state` directory exists or can be created and is writable".into()
            }
            ServerError::Store(StoreError::NewerSchema { .. }) => {
                "run the newer backstop, or point `server.state` at another directory".into()
            }
            ServerError::Store(_) | ServerError::Artifacts(_) => {
                "check the state directory's disk and permissions".into()
            }
            ServerError::Bind { key, source, .. } if source.kind() == std::io::ErrorKind::AddrInUse => {
                format!("another process holds that port: stop it or change `{key}` in the config")
            }
            ServerError::Bind { key, .. } => format!("change `{key}` to an address this machine can listen on"),
            ServerError::AccessLog { key, .. } => {
                format!("check that the directory exists and is writable, or change `{key}` in the config")
            }
            ServerError::Kubernetes { key, .. } => format!(
                "check `{key}` and that the cluster answers with the Role of deploy/kubernetes/rbac.yaml (README: Kubernetes)"
            ),
        }
    }

    /// Bad input (config) versus a failure of the environment.
    pub fn is_bad_input(&self) -> bool {
        matches!(self, ServerError::Config(_) | ServerError::Bind { .. })
    }
}

/// A Kubernetes app's runtime: its Service as traffic, Deployments per revision as its driver.
async fn kubernetes_app(
    name: &backstop_core::AppName,
    app: &backstop_engine::config::AppConfig,
    k: &backstop_engine::config::KubernetesConfig,
) -> Result<backstop_engine::AppRuntime, ServerError> {
    let err =
        |key: &str, message: String| ServerError::Kubernetes { key: format!("apps.{name}.kubernetes.{key}"), message };
    let client = backstop_kube::connect(k.kubeconfig.as_deref()).await.map_err(|e| err("kubeconfig", e.to_string()))?;
    let settings = backstop_kube::KubeSettings {
        kubeconfig: k.kubeconfig.clone(),
        namespace: k.namespace.clone(),
        service: k.service.clone(),
        template: k.template.clone(),
        replicas: i32::try_from(k.replicas).unwrap_or(i32::MAX),
        container: k.container.clone(),
    };
    let driver = backstop_kube::KubeDriver::new(client.clone(), settings, &app.health)
        .map_err(|e| err("template", e.to_string()))?;
    let traffic = backstop_kube::KubeTraffic::new(client, &k.namespace, &k.service, name.as_str())
        .await
        .map_err(|e| err("service", e.to_string()))?;
    Ok(backstop_engine::AppRuntime::new(name.clone(), app.clone(), Arc::new(traffic)).with_driver(Arc::new(driver)))
}

/// A control plane that has recovered its state and bound its sockets.
pub struct Server {
    ctx: Arc<Ctx>,
    listener: tokio::net::TcpListener,
}

impl Server {
    /// Open state, bind every listener, recover from whatever a previous run left.
    pub async fn start(config: Config) -> Result<Server, ServerError> {
        let state = config.server.state.clone();
        std::fs::create_dir_all(&state).map_err(|source| ServerError::State { path: state.clone(), source })?;
        let token =
            auth::load_or_create_token(&state).map_err(|source| ServerError::State { path: state.clone(), source })?;
        let eval_token = flags::load_or_create_eval_token(&state)
            .map_err(|source| ServerError::State { path: state.clone(), source })?;
        let node =
            load_or_create_node_id(&state).map_err(|source| ServerError::State { path: state.clone(), source })?;
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&state.join("backstop.db"))?);
        let flags = Arc::new(flags::FlagService::load(store.as_ref()).await?);
        let artifacts = ArtifactStore::open(&state.join("artifacts"))?;

        let listener = tokio::net::TcpListener::bind(config.server.listen)
            .await
            .map_err(|source| ServerError::Bind { key: "server.listen".into(), addr: config.server.listen, source })?;
        let mut apps = BTreeMap::new();
        for (name, app) in &config.apps {
            store.ensure_app(name).await?;
            if let Some(k) = &app.kubernetes {
                let rt = kubernetes_app(name, app, k).await?;
                apps.insert(name.clone(), Arc::new(rt));
                continue;
            }
            let Some(listen) = app.listen else {
                return Err(ConfigError::Invalid {
                    path: config.path.clone(),
                    key: format!("apps.{name}.listen"),
                    message: "is missing".into(),
                }
                .into());
            };
            let proxy = Proxy::bind(listen).await.map_err(|e| match e {
                ProxyError::Bind { addr, source } => {
                    ServerError::Bind { key: format!("apps.{name}.listen"), addr, source }
                }
                other => ServerError::Bind {
                    key: format!("apps.{name}.listen"),
                    addr: listen,
                    source: std::io::Error::other(other.to_string()),
                },
            })?;
            proxy.set_response_timeout(Some(app.response_timeout).filter(|t| !t.is_zero()));
            if let Some(path) = &app.access_log {
                let log = backstop_proxy::AccessLog::open(path).map_err(|source| ServerError::AccessLog {
                    key: format!("apps.{name}.access_log"),
                    path: path.clone(),
                    source,
                })?;
                proxy.set_access_log(Some(Arc::new(log)));
            }
            let traffic: Arc<dyn Traffic> = Arc::new(ProxyTraffic::new(proxy));
            apps.insert(name.clone(), Arc::new(backstop_engine::AppRuntime::new(name.clone(), app.clone(), traffic)));
        }
        // The wiring picks the driver; nothing else names it.
        let driver = Arc::new(LocalDriver);
        let flag_switch =
            Arc::new(backstop_engine::flags::ServiceSwitch { service: flags.clone(), store: store.clone() });
        let engine = Engine::new(EngineParts { config, store, artifacts, driver, node, apps, flag_switch });
        let ofrep_limiter = flags::RateLimiter::new(engine.config.server.ofrep_rate_limit);
        let ctx = Arc::new(Ctx { engine, token, eval_token, flags, ofrep_limiter });
        ctx.recover().await?;
        Ok(Server { ctx, listener })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or(self.ctx.config.server.listen)
    }

    pub fn ctx(&self) -> &Arc<Ctx> {
        &self.ctx
    }

    /// Serve the API until `shutdown` resolves, then stop every instance.
    pub async fn serve(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let ctx = self.ctx.clone();
        let reaper_ctx = ctx.clone();
        let reaper = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            loop {
                tick.tick().await;
                reaper_ctx.reap_expired().await;
                reaper_ctx.watch_serving().await;
                reaper_ctx.sample_signals();
                // Flag changes another control plane wrote to the same store.
                if let Err(e) = reaper_ctx.flags.catch_up(reaper_ctx.store.as_ref()).await {
                    tracing::warn!(error = %e, "cannot read the flag change feed");
                }
            }
        });
        let router = api::app(ctx.clone());
        // Open flag streams never end by themselves; end them so the graceful shutdown can finish.
        let flags = ctx.flags.clone();
        let shutdown = async move {
            shutdown.await;
            flags.close();
        };
        let result = axum::serve(self.listener, router).with_graceful_shutdown(shutdown).await;
        reaper.abort();
        ctx.stop_all().await;
        result
    }
}

/// This control plane's node id, the owner of its operation leases: created once in the state
/// directory (`node.id`), so a restart is recognised as the same node.
fn load_or_create_node_id(state: &std::path::Path) -> std::io::Result<String> {
    let path = state.join("node.id");
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => Ok(id.trim().to_owned()),
        Ok(_) => Err(std::io::Error::other(format!("{} is empty", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let id = format!("node-{}", hex::encode(rand::random::<[u8; 8]>()));
            std::fs::write(&path, format!("{id}\n"))?;
            Ok(id)
        }
        Err(e) => Err(e),
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = ctrl_c.await;
            return;
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
}
