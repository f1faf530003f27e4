//! In-memory view of each app: its proxy and the instances backstop runs for it.
//! The store is the truth; this mirrors it for the processes of this control plane.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use backstop_core::AppName;
use backstop_local::Instance;
use backstop_proxy::{Backend, Proxy};
use backstop_store::artifacts::ArtifactStore;
use backstop_store::{InstanceRole, Store};
use chrono::{DateTime, Utc};

use crate::config::{AppConfig, Config};
use crate::error::OpError;

/// One running process of one revision.
pub struct Running {
    pub revision: u64,
    pub instance: Instance,
    pub backend: Arc<Backend>,
    pub started_at: DateTime<Utc>,
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
    pub config: AppConfig,
    pub proxy: Proxy,
    /// Held for the whole of an operation, and by the reaper, so that no
    /// instance is stopped while an operation is choosing it.
    pub ops: tokio::sync::Mutex<()>,
    slots: Mutex<BTreeMap<u64, Slot>>,
    /// Bumped to cancel the running soak watcher.
    pub soak_generation: AtomicU64,
}

impl AppRuntime {
    pub fn new(name: AppName, config: AppConfig, proxy: Proxy) -> AppRuntime {
        AppRuntime {
            name,
            config,
            proxy,
            ops: tokio::sync::Mutex::new(()),
            slots: Mutex::new(BTreeMap::new()),
            soak_generation: AtomicU64::new(0),
        }
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
}

/// Everything the API handlers and background tasks share.
pub struct Ctx {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub artifacts: ArtifactStore,
    pub apps: BTreeMap<AppName, Arc<AppRuntime>>,
    pub token: String,
    /// Evaluates flags and reads the flag stream; refused on every mutating route.
    pub eval_token: String,
    pub flags: Arc<crate::flags::FlagService>,
    pub(crate) me: Weak<Ctx>,
}

impl Ctx {
    /// This context as an owned handle, for background tasks.
    pub(crate) fn me(&self) -> Option<Arc<Ctx>> {
        self.me.upgrade()
    }

    pub fn app(&self, name: &str) -> Result<(AppName, Arc<AppRuntime>), OpError> {
        let unknown = || OpError::UnknownApp { app: name.to_owned() };
        let app: AppName = name.parse().map_err(|_| unknown())?;
        let rt = self.apps.get(&app).cloned().ok_or_else(unknown)?;
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
