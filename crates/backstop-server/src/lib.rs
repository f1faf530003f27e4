//! The backstop control plane's HTTP side and its wiring: axum routes over the engine
//! (`api`, `flags` for the admin, OFREP and stream framing), tokens (`auth`), and [`Server`], which
//! picks the store, the driver and the traffic seam and hands them to the [`Engine`].
//! Business decisions live in backstop-engine and the pure crates, not here.

pub mod api;
pub mod auth;
mod changelog;
pub mod flags;
pub mod handover;
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
    #[error("another backstop server runs on {path} and did not hand over: {source}")]
    Handover { path: PathBuf, source: std::io::Error },
    #[error("cannot open the access log {path} (`{key}`)")]
    AccessLog { key: String, path: PathBuf, source: std::io::Error },
    #[error("cannot use the listening sockets passed by the service manager (LISTEN_FDS)")]
    Activation(#[source] std::io::Error),
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
            ServerError::Handover { path, .. } => format!(
                "stop the running server (SIGTERM) or wait for it, then start again; its lock is {}",
                path.join(handover::LOCK_FILE).display()
            ),
            ServerError::Activation(_) => {
                "pass TCP listening sockets only (ListenStream= in the socket unit), or unset LISTEN_FDS".into()
            }
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
        matches!(
            self,
            ServerError::Config(_)
                | ServerError::Bind { .. }
                | ServerError::State { .. }
                | ServerError::AccessLog { .. }
                | ServerError::Activation(_)
        )
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

/// Rotate the instance logs under the state directory that grew past `[server] log_max_bytes`.
fn rotate_instance_logs(server: &backstop_engine::config::ServerConfig) {
    for log in backstop_local::logs::instance_logs(&server.state.join("logs")) {
        match backstop_local::logs::rotate_if_over(&log, server.log_max_bytes, server.log_keep) {
            Ok(true) => tracing::info!(log = %log.display(), "instance log rotated"),
            Ok(false) => {}
            Err(e) => tracing::warn!(log = %log.display(), error = %e, "cannot rotate the instance log"),
        }
    }
}

/// A control plane that has recovered its state and bound its sockets.
pub struct Server {
    ctx: Arc<Ctx>,
    listener: tokio::net::TcpListener,
    /// Each local app's proxy, to close on exit.
    proxies: Vec<Arc<ProxyTraffic>>,
    /// The listening sockets a successor gets.
    listeners: handover::Listeners,
    /// Stop every instance on exit, rather than leave them for the next control plane.
    stop_apps_on_exit: bool,
    /// The state directory's lock, released when serving ends (a successor waits for it).
    lock: Arc<std::sync::Mutex<Option<handover::Lock>>>,
    control: tokio::sync::mpsc::Receiver<handover::Request>,
}

/// How the control plane came to stop serving.
enum Exit {
    /// SIGTERM or SIGINT (or the caller's shutdown future).
    Signal,
    /// A successor took the listeners: answer once accepting stopped, exit once it was told.
    Handover(std::sync::mpsc::SyncSender<()>, std::sync::mpsc::Receiver<()>),
}

/// The state directory's lock if the control plane holding it ends within a second.
async fn lock_soon(state: &std::path::Path) -> std::io::Result<Option<handover::Lock>> {
    let state = state.to_path_buf();
    tokio::task::spawn_blocking(move || handover::lock_within(&state, std::time::Duration::from_secs(1)))
        .await
        .map_err(std::io::Error::other)?
}

fn bind_error(key: String, addr: SocketAddr) -> impl FnOnce(std::io::Error) -> ServerError {
    move |source| ServerError::Bind { key, addr, source }
}

impl Server {
    /// Open state, bind every listener (or take them over from the control plane running on the
    /// same state directory), recover from whatever a previous run left.
    pub async fn start(config: Config) -> Result<Server, ServerError> {
        let state = config.server.state.clone();
        let state_error = |source| ServerError::State { path: state.clone(), source };
        // Created private: it holds the control socket, the database, the artifacts and the logs.
        // A directory the operator made is left as it is.
        std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
            .create(&state)
            .map_err(state_error)?;
        // A running control plane on this state holds the lock: take its listening sockets.
        let mut held = handover::try_lock(&state).map_err(state_error)?;
        let mut predecessor = None;
        if held.is_none() {
            let handover_error = |source| ServerError::Handover { path: state.clone(), source };
            let asked = tokio::task::spawn_blocking({
                let state = state.clone();
                move || handover::Predecessor::ask(&state)
            })
            .await
            .map_err(|e| handover_error(std::io::Error::other(e)))?;
            match asked {
                Ok(Some(p)) => predecessor = Some(p),
                // It may have died since the lock was tried (killed, or it crashed): its lock is
                // free then, and this one starts as after any crash.
                failed => {
                    held = lock_soon(&state).await.map_err(state_error)?;
                    if held.is_none() {
                        let why =
                            failed.err().unwrap_or_else(|| std::io::Error::other("its control socket does not answer"));
                        return Err(handover_error(why));
                    }
                    tracing::warn!("the control plane holding this state ended before it handed over; starting anew");
                }
            }
        }
        let token = auth::load_or_create_token(&state).map_err(state_error)?;
        let eval_token = flags::load_or_create_eval_token(&state).map_err(state_error)?;
        let node = load_or_create_node_id(&state).map_err(state_error)?;
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&state.join("backstop.db"))?);
        let flags = Arc::new(flags::FlagService::load(store.as_ref()).await?);
        let artifacts = ArtifactStore::open(&state.join("artifacts"))?;

        // Sockets to serve on rather than bind: a predecessor's, or a service manager's.
        let mut offered = handover::activated().map_err(ServerError::Activation)?;
        if !offered.is_empty() {
            tracing::info!(sockets = offered.len(), "serving on the listening sockets the service manager passed");
        }
        if let Some(p) = predecessor.as_mut() {
            offered.append(&mut p.listeners);
        }
        let listeners = handover::Listeners::default();
        let listen = config.server.listen;
        let api_listener = match handover::take(&mut offered, listen) {
            Some(l) => l,
            None => bind(listen).await.map_err(bind_error("server.listen".into(), listen))?,
        };
        listeners.add(&api_listener).map_err(bind_error("server.listen".into(), listen))?;
        api_listener.set_nonblocking(true).map_err(bind_error("server.listen".into(), listen))?;
        let listener =
            tokio::net::TcpListener::from_std(api_listener).map_err(bind_error("server.listen".into(), listen))?;
        let mut apps = BTreeMap::new();
        let mut proxies = Vec::new();
        for (name, app) in &config.apps {
            store.ensure_app(name).await?;
            let (rt, proxy) = app_runtime(&config, name, app, &mut offered, &listeners).await?;
            apps.insert(name.clone(), Arc::new(rt));
            proxies.extend(proxy);
        }
        // The wiring picks the driver; nothing else names it.
        let driver = Arc::new(LocalDriver);
        let flag_switch =
            Arc::new(backstop_engine::flags::ServiceSwitch { service: flags.clone(), store: store.clone() });
        let engine = Engine::new(EngineParts { config, store, artifacts, driver, node, apps, flag_switch });
        let ofrep_limiter = flags::RateLimiter::new(engine.config.server.ofrep_rate_limit);
        let ctx = Arc::new(Ctx { engine, token, eval_token, flags, ofrep_limiter });
        // Everything is ready to serve: the predecessor stops accepting and watching, so from here
        // on this one alone supervises the apps.
        let mut took_over = None;
        let lock = match (held, predecessor) {
            (Some(lock), _) => Some(lock),
            (None, Some(p)) => {
                let started = std::time::Instant::now();
                let stopped = tokio::task::spawn_blocking(move || p.stop()).await.map_err(std::io::Error::other);
                match stopped.and_then(|r| r) {
                    Ok(()) => {
                        tracing::info!(after = ?started.elapsed(), "took over the listening sockets");
                        took_over = Some(std::time::Instant::now());
                        None
                    }
                    // It died between handing over its sockets and confirming its stop: this one
                    // has the sockets, and the lock is free once the process is gone.
                    Err(source) => match lock_soon(&state).await.map_err(state_error)? {
                        Some(lock) => {
                            tracing::warn!(error = %source, "the control plane handing over ended before it confirmed; serving on its sockets");
                            took_over = Some(std::time::Instant::now());
                            Some(lock)
                        }
                        None => return Err(ServerError::Handover { path: state.clone(), source }),
                    },
                }
            }
            (None, None) => None,
        };
        let held = Arc::new(std::sync::Mutex::new(lock));
        if held.lock().unwrap_or_else(|e| e.into_inner()).is_none() {
            // The predecessor releases the lock when it exits, once its requests are finished.
            let (state, held) = (state.clone(), held.clone());
            std::thread::spawn(move || match handover::lock(&state) {
                Ok(lock) => *held.lock().unwrap_or_else(|e| e.into_inner()) = Some(lock),
                Err(e) => tracing::error!(error = %e, "cannot take the state directory's lock"),
            });
        }
        let (to_server, control) = tokio::sync::mpsc::channel(8);
        if let Err(e) = handover::serve(&state, listeners.clone(), to_server) {
            tracing::warn!(error = %e, path = %handover::socket_path(&state).display(),
                "no control socket: a restart cannot take over the listeners, and --reload cannot reach this server");
        }
        ctx.recover().await?;
        for proxy in &proxies {
            proxy.proxy().start_accepting();
        }
        if let Some(at) = took_over {
            // Between these two instants neither process accepted: connections waited in the queue.
            tracing::info!(gap_ms = at.elapsed().as_millis() as u64, "accepting on the handed-over sockets");
        }
        Ok(Server { ctx, listener, proxies, listeners, stop_apps_on_exit: true, lock: held, control })
    }

    /// Whether to stop every instance on exit (the default for a control plane run in-process),
    /// or leave them running for the next control plane to re-adopt (`backstop server`).
    pub fn stop_apps_on_exit(mut self, stop: bool) -> Server {
        self.stop_apps_on_exit = stop;
        self
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or(self.ctx.config.server.listen)
    }

    pub fn ctx(&self) -> &Arc<Ctx> {
        &self.ctx
    }

    /// Serve the API until `shutdown` resolves or a successor takes over. Then stop accepting,
    /// let accepted requests finish within `server.handover_window`, and stop every instance
    /// or leave them running (see [`Server::stop_apps_on_exit`]).
    pub async fn serve(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let Server { ctx, listener, mut proxies, listeners, stop_apps_on_exit, lock, mut control } = self;
        let mut running = ctx.config.clone();
        let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        let state = ctx.config.server.state.clone();
        // Once this control plane is done: a successor that took over has its own socket at the
        // path already; otherwise the socket goes, then the lock.
        let kept = listeners.clone();
        let release = move |handed_over: bool| {
            kept.clear();
            if !handed_over {
                let _ = std::fs::remove_file(handover::socket_path(&state));
            }
            drop(lock.lock().unwrap_or_else(|e| e.into_inner()).take());
        };
        let reaper_ctx = ctx.clone();
        let reaper = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            loop {
                tick.tick().await;
                reaper_ctx.reap_expired().await;
                reaper_ctx.watch_serving().await;
                reaper_ctx.sample_signals();
                rotate_instance_logs(&reaper_ctx.config.server);
                // Flag changes another control plane wrote to the same store.
                if let Err(e) = reaper_ctx.flags.catch_up(reaper_ctx.store.as_ref()).await {
                    tracing::warn!(error = %e, "cannot read the flag change feed");
                }
            }
        });
        let router = api::app(ctx.clone());
        // Open flag streams never end by themselves; end them so the graceful shutdown can finish.
        let flags = ctx.flags.clone();
        let (stop_api, api_stopping) = tokio::sync::oneshot::channel::<()>();
        let api = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = api_stopping.await;
                    flags.close();
                })
                .await
        });
        tokio::pin!(shutdown);
        let exit = loop {
            tokio::select! {
                _ = &mut shutdown => break Exit::Signal,
                request = control.recv() => match request {
                    Some(handover::Request::Stop { stopped, told }) => break Exit::Handover(stopped, told),
                    Some(handover::Request::Reload(answer)) => {
                        let _ = answer.send(reload(&ctx, &mut running, &mut proxies, &listeners).await);
                    }
                    None => std::future::pending::<()>().await,
                },
                Some(()) = async { match hangup.as_mut() { Some(h) => h.recv().await, None => None } } => {
                    let answer = reload(&ctx, &mut running, &mut proxies, &listeners).await;
                    if let Some(e) = answer.error {
                        tracing::error!(error = %e.message, hint = %e.hint, "SIGHUP: reload refused, the running config stays");
                    }
                },
            }
        };
        let window = ctx.config.server.handover_window;
        let _ = stop_api.send(());
        reaper.abort();
        let handed_over = matches!(exit, Exit::Handover(..));
        if stop_apps_on_exit && !handed_over {
            let api = tokio::time::timeout(window, api).await;
            ctx.stop_all().await;
            release(false);
            return match api {
                Ok(Ok(result)) => result,
                _ => Ok(()),
            };
        }
        // Leave the instances running: the next control plane re-adopts them. This one stops
        // accepting at once (the sockets stay open while the process lives, and a successor holds
        // them too) and lets what it accepted finish.
        ctx.leave_running();
        let closing: Vec<_> = proxies.iter().map(|p| p.proxy().close(window)).collect();
        let mut told = None;
        if let Exit::Handover(stopped, successor_told) = exit {
            let _ = stopped.send(());
            told = Some(successor_told);
        }
        let started = std::time::Instant::now();
        let api = tokio::time::timeout(window, api).await;
        futures_util::future::join_all(closing).await;
        // The successor waits for this process's `stopped`: exiting before it is written would
        // leave the successor without an answer, and it would refuse to start.
        if let Some(told) = told {
            let _ = tokio::task::spawn_blocking(move || told.recv_timeout(handover::ANSWER_TIMEOUT)).await;
        }
        tracing::info!(after = ?started.elapsed(), handed_over, "stopped; the apps' instances keep running");
        release(handed_over);
        match api {
            Ok(Ok(result)) => result,
            _ => Ok(()),
        }
    }
}

async fn bind(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await?.into_std()
}

/// Re-read the config file: add the new apps (their listeners bound, then served) or change
/// nothing and say why.
async fn reload(
    ctx: &Arc<Ctx>,
    running: &mut Config,
    proxies: &mut Vec<Arc<ProxyTraffic>>,
    listeners: &handover::Listeners,
) -> handover::ReloadAnswer {
    let refuse = |code: &str, message: String, hint: &str| handover::ReloadAnswer {
        added: Vec::new(),
        changed: Vec::new(),
        error: Some(handover::ReloadError { code: code.into(), message, hint: hint.into() }),
    };
    let next = match Config::load(&running.path) {
        Ok(next) => next,
        Err(e) => {
            return refuse("bad_config", error::chain(&e), "fix the named key in the config file and reload again");
        }
    };
    let plan = match backstop_engine::config::reload_plan(running, &next) {
        Ok(plan) => plan,
        Err((key, why)) => {
            return refuse(
                "refused",
                format!("{}: `{key}` {why}", running.path.display()),
                "undo that change in the file, or restart instead of reloading",
            );
        }
    };
    // Everything is bound and opened before anything is served or applied: all or nothing.
    let mut access_logs = Vec::new();
    for name in &plan.changed {
        let app = &next.apps[name];
        let proxy = app.listen.and_then(|addr| proxies.iter().find(|p| p.proxy().local_addr() == addr)).cloned();
        let log = match (&app.access_log, &proxy) {
            (Some(path), Some(_)) if running.apps[name].access_log.as_ref() == Some(path) => None,
            (Some(path), Some(_)) => match backstop_proxy::AccessLog::open(path) {
                Ok(log) => Some(Some(Arc::new(log))),
                Err(source) => {
                    let e =
                        ServerError::AccessLog { key: format!("apps.{name}.access_log"), path: path.clone(), source };
                    return refuse("bad_config", error::chain(&e), &e.hint());
                }
            },
            (None, _) => Some(None),
            (Some(_), None) => None,
        };
        access_logs.push((name.clone(), proxy, log));
    }
    let bound = handover::Listeners::default();
    let mut built = Vec::new();
    for name in &plan.added {
        let app = &next.apps[name];
        let made = match ctx.store.ensure_app(name).await {
            Ok(()) => app_runtime(&next, name, app, &mut Vec::new(), &bound).await,
            Err(e) => Err(e.into()),
        };
        match made {
            Ok((rt, proxy)) => built.push((name.clone(), Arc::new(rt), proxy)),
            Err(e) => {
                let code = if e.is_bad_input() { "bad_config" } else { "refused" };
                return refuse(code, error::chain(&e), &e.hint());
            }
        }
    }
    listeners.absorb(bound);
    let mut names = Vec::new();
    ctx.add_apps(built.iter().map(|(name, rt, _)| (name.clone(), rt.clone())));
    for (name, _, proxy) in built {
        if let Some(proxy) = proxy {
            proxy.proxy().start_accepting();
            proxies.push(proxy);
        }
        tracing::info!(app = %name, "reload: app added");
        names.push(name.to_string());
    }
    let apps = ctx.apps();
    let mut changed = Vec::new();
    for (name, proxy, log) in access_logs {
        let app = &next.apps[&name];
        if let Some(rt) = apps.get(&name) {
            rt.set_config(app.clone());
        }
        if let Some(proxy) = proxy {
            proxy.proxy().set_response_timeout(Some(app.response_timeout).filter(|t| !t.is_zero()));
            if let Some(log) = log {
                proxy.proxy().set_access_log(log);
            }
        }
        tracing::info!(app = %name, "reload: settings changed");
        changed.push(name.to_string());
    }
    *running = next;
    handover::ReloadAnswer { added: names, changed, error: None }
}

/// An app's runtime: its proxy on the app's public address (taken over from `predecessor` when it
/// listens there; held until recovery has pointed it) or its Kubernetes driver and Service.
async fn app_runtime(
    config: &Config,
    name: &backstop_core::AppName,
    app: &backstop_engine::config::AppConfig,
    offered: &mut Vec<std::net::TcpListener>,
    listeners: &handover::Listeners,
) -> Result<(backstop_engine::AppRuntime, Option<Arc<ProxyTraffic>>), ServerError> {
    if let Some(k) = &app.kubernetes {
        return Ok((kubernetes_app(name, app, k).await?, None));
    }
    let key = format!("apps.{name}.listen");
    let Some(listen) = app.listen else {
        return Err(ConfigError::Invalid { path: config.path.clone(), key, message: "is missing".into() }.into());
    };
    let listener = match handover::take(offered, listen) {
        Some(l) => l,
        None => bind(listen).await.map_err(bind_error(key.clone(), listen))?,
    };
    listeners.add(&listener).map_err(bind_error(key.clone(), listen))?;
    // Held until recovery has pointed it at the live instance: until then connections wait.
    let proxy = Proxy::serve_listener(listener, Proxy::default_workers(), false).map_err(|e| match e {
        ProxyError::Bind { addr, source } => ServerError::Bind { key: key.clone(), addr, source },
        other => ServerError::Bind { key: key.clone(), addr: listen, source: std::io::Error::other(other.to_string()) },
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
    let traffic = Arc::new(ProxyTraffic::new(proxy));
    let rt = backstop_engine::AppRuntime::new(name.clone(), app.clone(), traffic.clone());
    Ok((rt, Some(traffic)))
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
