//! The engine and its in-memory view of each app: where its traffic goes and the instances this
//! control plane runs for it. The store is the truth; this mirrors it for this node.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use std::time::Duration;

use backstop_artifacts::ArtifactStore;
use backstop_core::{AppName, OperationKind, OperationState};
use backstop_driver::{Driver, Endpoint, Instance, Traffic};
use backstop_store::{Change, InstanceRecord, InstanceRole, NewAudit, NewOperation, Operation, Store, StoreError};
use chrono::{DateTime, Utc};

use crate::config::{AppConfig, Config};
use crate::error::OpError;

/// One running instance of one revision.
pub struct Running {
    pub revision: u64,
    pub instance: Arc<dyn Instance>,
    /// Where its traffic goes.
    pub endpoint: Endpoint,
    pub started_at: DateTime<Utc>,
}

impl Running {
    pub fn new(app: &AppName, revision: u64, instance: Arc<dyn Instance>, started_at: DateTime<Utc>) -> Arc<Running> {
        let endpoint = Endpoint { addr: instance.addr(), revision, label: format!("{app}@{revision}") };
        Arc::new(Running { revision, instance, endpoint, started_at })
    }

    /// Its record in the store, in `role`.
    pub fn record(
        &self,
        app: &AppName,
        driver: &str,
        role: InstanceRole,
        warm_until: Option<DateTime<Utc>>,
    ) -> InstanceRecord {
        InstanceRecord {
            app: app.to_string(),
            revision: self.revision,
            driver: driver.to_owned(),
            handle: self.instance.handle(),
            role,
            warm_until,
            started_at: self.started_at,
        }
    }
}

/// A running instance and what it does for the app now.
#[derive(Clone)]
pub struct Slot {
    pub running: Arc<Running>,
    pub role: InstanceRole,
    pub warm_until: Option<DateTime<Utc>>,
}

pub struct AppRuntime {
    pub name: AppName,
    /// The app's settings: replaced whole by a reload, read afresh by each step that uses them.
    config: std::sync::RwLock<Arc<AppConfig>>,
    /// Where the app's traffic goes.
    pub traffic: Arc<dyn Traffic>,
    /// The app's own driver, when it is not the engine's (a Kubernetes app).
    driver: Option<Arc<dyn Driver>>,
    /// Held for the whole of an operation, and by the reaper, so that no
    /// instance is stopped while an operation is choosing it.
    pub ops: Arc<tokio::sync::Mutex<()>>,
    slots: Mutex<BTreeMap<u64, Slot>>,
    /// Bumped to cancel the running soak watcher.
    pub soak_generation: AtomicU64,
    /// Recent samples of the traffic signals, for windows.
    pub signals: crate::signals::SignalHistory,
    /// The last judgement of the app's automated analysis (kept in memory only: status shows it).
    analysis: Mutex<Option<crate::analysis::LastAnalysis>>,
    /// An abort asked of a running release: its operation id and who asked.
    abort: tokio::sync::watch::Sender<Option<(u64, String)>>,
}

impl AppRuntime {
    pub fn new(name: AppName, config: AppConfig, traffic: Arc<dyn Traffic>) -> AppRuntime {
        AppRuntime {
            name,
            config: std::sync::RwLock::new(Arc::new(config)),
            traffic,
            driver: None,
            ops: Arc::new(tokio::sync::Mutex::new(())),
            slots: Mutex::new(BTreeMap::new()),
            soak_generation: AtomicU64::new(0),
            signals: Default::default(),
            analysis: Mutex::new(None),
            abort: tokio::sync::watch::channel(None).0,
        }
    }

    /// The app's settings as they are now.
    pub fn config(&self) -> Arc<AppConfig> {
        self.config.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Apply settings a reload changed: operations and watchers read them from their next step
    /// on. Where the app listens and what runs it are not changed this way.
    pub fn set_config(&self, config: AppConfig) {
        *self.config.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(config);
    }

    /// Ask the running release `operation` to stop.
    pub(crate) fn request_abort(&self, operation: u64, actor: &str) {
        self.abort.send_replace(Some((operation, actor.to_owned())));
    }

    /// Who asked operation `operation` to stop, if anyone did.
    pub(crate) fn abort_requested(&self, operation: u64) -> Option<String> {
        self.abort.borrow().as_ref().filter(|(id, _)| *id == operation).map(|(_, actor)| actor.clone())
    }

    /// Resolves with who asked once operation `operation` is asked to stop.
    pub(crate) async fn aborted(&self, operation: u64) -> String {
        let mut rx = self.abort.subscribe();
        let asked = rx
            .wait_for(|v| v.as_ref().is_some_and(|(id, _)| *id == operation))
            .await
            .map(|v| v.as_ref().map(|(_, actor)| actor.clone()).unwrap_or_default());
        match asked {
            Ok(actor) => actor,
            // The sender lives as long as the app's runtime; without it, never.
            Err(_) => std::future::pending().await,
        }
    }

    /// Run this app's instances with `driver` instead of the engine's.
    pub fn with_driver(mut self, driver: Arc<dyn Driver>) -> AppRuntime {
        self.driver = Some(driver);
        self
    }

    pub fn slots(&self) -> MutexGuard<'_, BTreeMap<u64, Slot>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remove a slot, releasing the lock before the caller awaits anything.
    pub fn take_slot(&self, revision: u64) -> Option<Slot> {
        self.slots().remove(&revision)
    }

    pub fn slot(&self, revision: u64) -> Option<Slot> {
        self.slots().get(&revision).cloned()
    }

    pub fn next_soak_generation(&self) -> u64 {
        self.soak_generation.fetch_add(1, Ordering::SeqCst) + 1
    }

    pub fn soak_generation(&self) -> u64 {
        self.soak_generation.load(Ordering::SeqCst)
    }

    /// The app's last analysis, if any ran since this control plane started.
    pub fn last_analysis(&self) -> Option<crate::analysis::LastAnalysis> {
        self.analysis.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn set_last_analysis(&self, last: crate::analysis::LastAnalysis) {
        *self.analysis.lock().unwrap_or_else(|e| e.into_inner()) = Some(last);
    }
}

/// What the wiring hands the engine.
pub struct EngineParts {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub artifacts: ArtifactStore,
    pub driver: Arc<dyn Driver>,
    pub node: String,
    pub apps: BTreeMap<AppName, Arc<AppRuntime>>,
    /// Reads and flips flags for the engine's own operations (the kill switch).
    pub flag_switch: Arc<dyn crate::flags::FlagSwitch>,
}

/// Everything the API handlers and background tasks share.
pub struct Engine {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub artifacts: ArtifactStore,
    /// Starts, adopts and stops the apps' instances.
    pub driver: Arc<dyn Driver>,
    /// This control plane's node id (persisted in the state directory): the owner of its leases.
    pub node: String,
    /// The apps by name; a config reload adds to them (see [`Engine::add_apps`]).
    apps: std::sync::RwLock<Arc<BTreeMap<AppName, Arc<AppRuntime>>>>,
    /// Reads and flips flags for the engine's own operations (the kill switch).
    pub flag_switch: Arc<dyn crate::flags::FlagSwitch>,
    me: Weak<Engine>,
}

impl Engine {
    pub fn new(parts: EngineParts) -> Arc<Engine> {
        let EngineParts { config, store, artifacts, driver, node, apps, flag_switch } = parts;
        let apps = std::sync::RwLock::new(Arc::new(apps));
        Arc::new_cyclic(|me| Engine { config, store, artifacts, driver, node, apps, flag_switch, me: me.clone() })
    }

    /// The apps as they are now.
    pub fn apps(&self) -> Arc<BTreeMap<AppName, Arc<AppRuntime>>> {
        self.apps.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Add apps (a config reload): each new name with its runtime; an app already known is kept.
    pub fn add_apps(&self, added: impl IntoIterator<Item = (AppName, Arc<AppRuntime>)>) {
        let mut apps = self.apps.write().unwrap_or_else(|e| e.into_inner());
        let mut next = BTreeMap::clone(&apps);
        for (name, rt) in added {
            next.entry(name).or_insert(rt);
        }
        *apps = Arc::new(next);
    }

    /// Stop serving and stop every instance; the ledger keeps what was live,
    /// so the next start brings it back.
    pub async fn stop_all(&self) {
        for (app, rt) in self.apps().iter() {
            if self.driver_for(rt).outlives_control_plane() {
                // The platform runs the app and routes its traffic: leave both as they are.
                rt.next_soak_generation();
                continue;
            }
            let _guard = rt.ops.lock().await;
            rt.next_soak_generation();
            if let Err(e) = rt.traffic.switch(None).await {
                tracing::error!(app = %app, error = %e, "cannot stop the app's traffic");
            }
            let slots: Vec<_> = std::mem::take(&mut *rt.slots()).into_iter().collect();
            for (revision, slot) in slots {
                rt.traffic.drain(&slot.running.endpoint, rt.config().drain_timeout).await;
                slot.running.instance.stop(rt.config().stop_grace).await;
                if let Err(e) = self.store.apply(app, vec![Change::RemoveInstance { revision }]).await {
                    tracing::error!(app = %app, revision, error = %e, "cannot record a stopped instance");
                }
            }
        }
    }

    /// Stop supervising and leave every instance running, on the books as it is: the next
    /// control plane re-adopts them (warm ones stay warm), as after a crash.
    pub fn leave_running(&self) {
        for rt in self.apps().values() {
            rt.next_soak_generation();
        }
    }

    /// The driver that runs an app's instances.
    pub fn driver_for(&self, rt: &AppRuntime) -> Arc<dyn Driver> {
        rt.driver.clone().unwrap_or_else(|| self.driver.clone())
    }

    /// This context as an owned handle, for background tasks.
    pub(crate) fn me(&self) -> Option<Arc<Engine>> {
        self.me.upgrade()
    }

    pub fn app(&self, name: &str) -> Result<(AppName, Arc<AppRuntime>), OpError> {
        let unknown = || OpError::UnknownApp { app: name.to_owned() };
        let app: AppName = name.parse().map_err(|_| unknown())?;
        let rt = self.apps().get(&app).cloned().ok_or_else(unknown)?;
        Ok((app, rt))
    }

    pub fn state_dir(&self) -> &std::path::Path {
        &self.config.server.state
    }

    pub fn log_path(&self, app: &AppName, revision: u64) -> PathBuf {
        self.state_dir().join("logs").join(app.as_str()).join(format!("{revision}.log"))
    }

    pub fn run_dir(&self, app: &AppName, revision: u64) -> PathBuf {
        self.state_dir().join("run").join(app.as_str()).join(revision.to_string())
    }
}

/// How long an operation's lease on its app lasts without renewal.
pub const LEASE: Duration = Duration::from_secs(30);
/// How often a running operation renews its lease.
pub const LEASE_RENEWAL: Duration = Duration::from_secs(10);

/// What starts an operation (its owner and lease are this node's).
#[derive(Debug, Clone)]
pub struct Begin {
    pub app: AppName,
    pub kind: OperationKind,
    pub actor: String,
    pub target_revision: Option<u64>,
    pub from_revision: Option<u64>,
}

/// A running operation's hold on its app: the app's operation lock in this process, and the
/// store's lease, renewed while it lives. When it is dropped with the operation still running (the
/// task panicked or was cancelled), the operation is ended as failed instead of staying `running`
/// until a restart.
pub struct OpLease {
    _lock: tokio::sync::OwnedMutexGuard<()>,
    renew: tokio::task::JoinHandle<()>,
    store: Arc<dyn Store>,
    app: AppName,
    operation: u64,
    kind: OperationKind,
    node: String,
}

impl Drop for OpLease {
    fn drop(&mut self) {
        self.renew.abort();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let (store, app, id, kind, node) =
            (self.store.clone(), self.app.clone(), self.operation, self.kind, self.node.clone());
        runtime.spawn(async move {
            let running = matches!(store.operation(id).await, Ok(Some(op)) if op.state == OperationState::Running);
            if !running {
                return;
            }
            let error = "the operation's task ended before it finished (an internal error); see the server log";
            tracing::error!(app = %app, operation = id, "operation ended without finishing: marking it failed");
            let changes = vec![
                Change::Step { operation: id, step: "failed".into(), detail: Some(error.into()) },
                Change::Finish { operation: id, state: OperationState::Failed, error: Some(error.into()) },
                Change::Audit(NewAudit {
                    actor: "backstop".into(),
                    action: kind.as_str().into(),
                    outcome: "failed".into(),
                    detail: serde_json::json!({ "operation": id, "error": error }),
                }),
            ];
            if let Err(e) = store.apply_fenced(&app, id, &node, changes).await {
                tracing::error!(app = %app, operation = id, error = %e, "cannot mark an unfinished operation failed");
            }
        });
    }
}

impl Engine {
    /// Start an operation on an app: journal it, take the app's lease in the store (renewed) and its
    /// operation lock here, both held until the returned [`OpLease`] is dropped. Every operation
    /// starts here; `finish_failed` or the switch's fenced commit ends it, and the lease's drop ends
    /// one left running.
    pub async fn begin(&self, rt: &Arc<AppRuntime>, b: Begin) -> Result<(Operation, OpLease), StoreError> {
        let op = self
            .store
            .begin_operation(NewOperation {
                app: b.app.clone(),
                kind: b.kind,
                actor: b.actor,
                target_revision: b.target_revision,
                from_revision: b.from_revision,
                owner: self.node.clone(),
                lease: LEASE,
            })
            .await?;
        let (store, id, node) = (self.store.clone(), op.id, self.node.clone());
        let renew = tokio::spawn(async move {
            loop {
                tokio::time::sleep(LEASE_RENEWAL).await;
                if let Err(e) = store.renew_lease(id, &node, LEASE).await {
                    tracing::warn!(operation = id, error = %e, "cannot renew the operation's lease");
                    if matches!(e, StoreError::LeaseLost { .. }) {
                        return;
                    }
                }
            }
        });
        let lock = rt.ops.clone().lock_owned().await;
        let lease = OpLease {
            _lock: lock,
            renew,
            store: self.store.clone(),
            app: b.app,
            operation: op.id,
            kind: b.kind,
            node: self.node.clone(),
        };
        Ok((op, lease))
    }

    /// Apply changes that belong to `op`, only while this node still holds its lease.
    pub async fn apply_op(&self, app: &AppName, op: &Operation, changes: Vec<Change>) -> Result<(), StoreError> {
        self.store.apply_fenced(app, op.id, &self.node, changes).await
    }

    /// Drain and stop an instance the caller already recorded as `stopping`, and take it off the
    /// books once it is gone: a crash in between leaves it to recovery instead of running forever.
    pub fn retire(&self, app: &AppName, rt: &Arc<AppRuntime>, running: Arc<Running>) {
        let (store, app, rt) = (self.store.clone(), app.clone(), rt.clone());
        tokio::spawn(async move {
            let revision = running.revision;
            rt.traffic.drain(&running.endpoint, rt.config().drain_timeout).await;
            running.instance.stop(rt.config().stop_grace).await;
            // Unless the revision was started again meanwhile (a new instance under the same revision).
            if rt.slot(revision).is_none() {
                if let Err(e) = store.apply(&app, vec![Change::RemoveInstance { revision }]).await {
                    tracing::error!(app = %app, revision, error = %e, "cannot record a stopped instance");
                }
            }
        });
    }
}
