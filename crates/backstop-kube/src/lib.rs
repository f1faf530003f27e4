//! The Kubernetes driver: each revision of an app is its own Deployment (`web-r7`, labelled with
//! the app and the revision), and the app's traffic is the Service whose selector names one
//! revision. A release creates the revision's Deployment, waits until it is available, then
//! patches the selector: that patch is the swap. A warm revision keeps its replicas; a cold one is
//! scaled to zero and kept, so its pod template is never pruned and an undo to it is a scale-up
//! and a patch.
//!
//! - [`KubeDriver`] implements the engine's `Driver` seam: `start` applies the revision's
//!   Deployment, `adopt` finds it again after a restart, the [`KubeInstance`] waits until it is
//!   available (and every pod runs the release's image digest) and scales it to zero to stop it.
//! - [`KubeTraffic`] implements the `Traffic` seam over the Service's selector; `drain` waits until
//!   the Service's endpoints (the endpoints controller's work) no longer hold the old pods.
//! - [`manifest`] builds the Deployment from the app's template, with no I/O.

pub mod import;
pub mod manifest;
#[cfg(feature = "testbed")]
pub mod testbed;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use backstop_core::image::{ImageRef, reports_digest};
use backstop_driver::{Artifact, Driver, DriverError, Endpoint, Instance, StartSpec, Traffic, TrafficError, chain};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use kube::api::{ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client};
use serde::{Deserialize, Serialize};
use serde_json::json;

pub use manifest::{APP_LABEL, REVISION_LABEL};

/// The field manager of every change backstop applies.
pub const MANAGER: &str = "backstop";

/// How often the state of the cluster is read while waiting for it.
const POLL: Duration = Duration::from_millis(50);

/// An app's `[apps.NAME.kubernetes]` settings, resolved.
#[derive(Debug, Clone)]
pub struct KubeSettings {
    /// `None`: in-cluster, then `$KUBECONFIG`, then `~/.kube/config`.
    pub kubeconfig: Option<PathBuf>,
    pub namespace: String,
    pub service: String,
    /// The Deployment manifest each revision is made from.
    pub template: PathBuf,
    pub replicas: i32,
    /// The container whose image is the release's; the first one when unset.
    pub container: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    #[error("cannot read the kubeconfig {path}: {message}")]
    Kubeconfig { path: PathBuf, message: String },
    #[error("no cluster configuration: {0}")]
    NoCluster(String),
    #[error("{0}")]
    Template(String),
    #[error("the Service {namespace}/{service} {message}")]
    Service { namespace: String, service: String, message: String },
}

/// A client for the cluster the settings name.
pub async fn connect(kubeconfig: Option<&Path>) -> Result<Client, KubeError> {
    let config = match kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path)
                .map_err(|e| KubeError::Kubeconfig { path: path.to_owned(), message: e.to_string() })?;
            kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                .await
                .map_err(|e| KubeError::Kubeconfig { path: path.to_owned(), message: e.to_string() })?
        }
        None => kube::Config::infer().await.map_err(|e| KubeError::NoCluster(e.to_string()))?,
    };
    Client::try_from(config).map_err(|e| KubeError::NoCluster(e.to_string()))
}

/// The Deployment name of an app's revision.
pub fn deployment_name(app: &str, revision: u64) -> String {
    format!("{app}-r{revision}")
}

/// Runs an app's revisions as Deployments.
pub struct KubeDriver {
    client: Client,
    settings: KubeSettings,
    template: Deployment,
    health: String,
}

impl KubeDriver {
    /// Reads and checks the template; `health` is the path of the readiness probe added to a
    /// template without one.
    pub fn new(client: Client, settings: KubeSettings, health: &str) -> Result<KubeDriver, KubeError> {
        let text = std::fs::read_to_string(&settings.template)
            .map_err(|e| KubeError::Template(format!("cannot read {}: {e}", settings.template.display())))?;
        let template = manifest::parse_template(&text, settings.container.as_deref())
            .map_err(|e| KubeError::Template(format!("{}: {e}", settings.template.display())))?;
        Ok(KubeDriver { client, settings, template, health: health.to_owned() })
    }

    fn deployments(&self) -> Api<Deployment> {
        Api::namespaced(self.client.clone(), &self.settings.namespace)
    }

    fn instance(&self, app: &str, revision: u64, image: ImageRef) -> KubeInstance {
        KubeInstance {
            client: self.client.clone(),
            namespace: self.settings.namespace.clone(),
            app: app.to_owned(),
            name: deployment_name(app, revision),
            revision,
            image,
            replicas: self.settings.replicas,
            stopped: AtomicBool::new(false),
        }
    }
}

/// What the store keeps of a Kubernetes instance.
#[derive(Debug, Serialize, Deserialize)]
struct Handle {
    namespace: String,
    app: String,
    deployment: String,
    revision: u64,
    image: String,
}

#[async_trait]
impl Driver for KubeDriver {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    fn outlives_control_plane(&self) -> bool {
        true
    }

    fn runs_images(&self) -> bool {
        true
    }

    async fn history(&self, source: &str) -> Result<backstop_driver::PastHistory, DriverError> {
        let Some(name) = source.strip_prefix("deployment/") else {
            return Err(DriverError::Adopt(format!("`{source}` is not a workload to import: give deployment/NAME")));
        };
        import::read(&self.client, &self.settings.namespace, name, self.settings.container.as_deref())
            .await
            .map_err(DriverError::Adopt)
    }

    async fn start(&self, spec: &StartSpec) -> Result<Arc<dyn Instance>, DriverError> {
        let Artifact::Image(image) = &spec.artifact else {
            return Err(DriverError::Start(
                "a Kubernetes app runs an image: release it with --artifact REPOSITORY@sha256:<digest>".into(),
            ));
        };
        let image = ImageRef::parse(image).map_err(|e| DriverError::Start(format!("{e}; {}", e.hint())))?;
        let app = spec.app.as_str();
        let deployment = manifest::revision_deployment(
            &self.template,
            &manifest::RevisionSpec {
                app,
                revision: spec.revision,
                namespace: &self.settings.namespace,
                image: &image.pinned(),
                replicas: self.settings.replicas,
                container: self.settings.container.as_deref(),
                health: &self.health,
                env: &spec.env,
            },
        )
        .map_err(DriverError::Start)?;
        let name = deployment_name(app, spec.revision);
        self.deployments()
            .patch(&name, &PatchParams::apply(MANAGER).force(), &Patch::Apply(&deployment))
            .await
            .map_err(|e| {
                DriverError::Start(format!("cannot apply Deployment {}/{name}: {}", self.settings.namespace, chain(&e)))
            })?;
        Ok(Arc::new(self.instance(app, spec.revision, image)))
    }

    async fn adopt(&self, handle: &serde_json::Value) -> Result<Arc<dyn Instance>, DriverError> {
        let h: Handle = serde_json::from_value(handle.clone())
            .map_err(|e| DriverError::Adopt(format!("not a Kubernetes instance handle ({e}): {handle}")))?;
        if h.namespace != self.settings.namespace {
            return Err(DriverError::Adopt(format!(
                "recorded in namespace {}, the app now runs in {}",
                h.namespace, self.settings.namespace
            )));
        }
        let image = ImageRef::parse(&h.image).map_err(|e| DriverError::Adopt(e.to_string()))?;
        let found = self
            .deployments()
            .get_opt(&h.deployment)
            .await
            .map_err(|e| DriverError::Adopt(format!("cannot read Deployment {}: {}", h.deployment, chain(&e))))?
            .ok_or_else(|| DriverError::Adopt(format!("Deployment {}/{} is gone", h.namespace, h.deployment)))?;
        // Only the Deployment backstop made for this revision, still running this image.
        let labels = found.metadata.labels.clone().unwrap_or_default();
        let revision_label = h.revision.to_string();
        if labels.get(APP_LABEL) != Some(&h.app) || labels.get(REVISION_LABEL) != Some(&revision_label) {
            return Err(DriverError::Adopt(format!(
                "Deployment {} is not {} revision {}",
                h.deployment, h.app, h.revision
            )));
        }
        let runs = manifest::image_of(&found, self.settings.container.as_deref());
        if runs.as_deref() != Some(image.pinned().as_str()) {
            return Err(DriverError::Adopt(format!(
                "Deployment {} runs {}, not the recorded {}",
                h.deployment,
                runs.unwrap_or_else(|| "no image".into()),
                image.pinned()
            )));
        }
        let scaled_down = found.spec.as_ref().and_then(|s| s.replicas) == Some(0);
        let instance = self.instance(&h.app, h.revision, image);
        instance.stopped.store(scaled_down, Ordering::SeqCst);
        Ok(Arc::new(instance))
    }
}

/// One revision's Deployment.
pub struct KubeInstance {
    client: Client,
    namespace: String,
    app: String,
    name: String,
    revision: u64,
    image: ImageRef,
    replicas: i32,
    stopped: AtomicBool,
}

/// How far a Deployment is from available, read from its status and its pods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Availability {
    pub ready: i32,
    pub wanted: i32,
    /// Pods running another image than the release's.
    pub wrong_image: Vec<String>,
    pub available: bool,
}

impl KubeInstance {
    fn deployments(&self) -> Api<Deployment> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// The Deployment's availability now, checking each pod's image digest.
    pub async fn availability(&self) -> Result<Availability, DriverError> {
        let d = self
            .deployments()
            .get_opt(&self.name)
            .await
            .map_err(|e| DriverError::Unhealthy(format!("cannot read Deployment {}: {}", self.name, chain(&e))))?
            .ok_or_else(|| DriverError::Unhealthy(format!("Deployment {}/{} is gone", self.namespace, self.name)))?;
        let wanted = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let status = d.status.clone().unwrap_or_default();
        let generation = d.metadata.generation.unwrap_or(0);
        let observed = status.observed_generation.unwrap_or(0) >= generation;
        let ready = status.ready_replicas.unwrap_or(0);
        let rolled = status.updated_replicas.unwrap_or(0) == wanted
            && status.available_replicas.unwrap_or(0) == wanted
            && status.replicas.unwrap_or(0) == wanted;
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.namespace);
        let selector = format!("{APP_LABEL}={},{REVISION_LABEL}={}", self.app, self.revision);
        let list = pods
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|e| DriverError::Unhealthy(format!("cannot list pods of {}: {}", self.name, chain(&e))))?;
        let mut wrong_image = Vec::new();
        for pod in &list.items {
            let statuses = pod.status.as_ref().and_then(|s| s.container_statuses.clone()).unwrap_or_default();
            for c in statuses {
                if !c.image_id.is_empty() && !reports_digest(&c.image_id, &self.image.digest) {
                    wrong_image.push(format!(
                        "pod {} container {} runs {}",
                        pod.metadata.name.clone().unwrap_or_default(),
                        c.name,
                        c.image_id
                    ));
                }
            }
        }
        let available = observed && rolled && wanted > 0 && wrong_image.is_empty();
        Ok(Availability { ready, wanted, wrong_image, available })
    }
}

#[async_trait]
impl Instance for KubeInstance {
    fn handle(&self) -> serde_json::Value {
        serde_json::to_value(Handle {
            namespace: self.namespace.clone(),
            app: self.app.clone(),
            deployment: self.name.clone(),
            revision: self.revision,
            image: self.image.pinned(),
        })
        .unwrap_or_default()
    }

    fn addr(&self) -> Option<SocketAddr> {
        None
    }

    fn describe(&self) -> String {
        format!(
            "Deployment {}/{} ({} replicas of {})",
            self.namespace,
            self.name,
            self.replicas,
            self.image.digest.short()
        )
    }

    fn is_alive(&self) -> bool {
        !self.stopped.load(Ordering::SeqCst)
    }

    fn exit_status(&self) -> Option<String> {
        self.stopped.load(Ordering::SeqCst).then(|| "scaled to zero".to_owned())
    }

    async fn wait_healthy(&self, _path: &str, timeout: Duration) -> Result<(), DriverError> {
        // The pods' own readiness probes decide; the template got one on the health path if it
        // had none.
        let deadline = Instant::now() + timeout;
        let mut last;
        loop {
            match self.availability().await {
                Ok(a) if !a.wrong_image.is_empty() => {
                    return Err(DriverError::Unhealthy(format!(
                        "refusing pods that do not run the release's image {}: {}",
                        self.image.pinned(),
                        a.wrong_image.join("; ")
                    )));
                }
                Ok(a) if a.available => return Ok(()),
                Ok(a) => last = format!("{}/{} pods ready", a.ready, a.wanted),
                Err(e) => last = e.to_string(),
            }
            if Instant::now() >= deadline {
                return Err(DriverError::Unhealthy(format!(
                    "Deployment {}/{} not available within {}: {}",
                    self.namespace,
                    self.name,
                    humanize(timeout),
                    last
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn probe(&self, _path: &str, _timeout: Duration) -> Result<u16, DriverError> {
        // Readiness as the cluster sees it: 200 when every replica is ready, 503 otherwise.
        let a = self.availability().await?;
        if !a.wrong_image.is_empty() {
            return Err(DriverError::Unhealthy(a.wrong_image.join("; ")));
        }
        Ok(if a.ready >= a.wanted && a.wanted > 0 { 200 } else { 503 })
    }

    async fn replicas(&self) -> Option<(u32, u32)> {
        let a = self.availability().await.ok()?;
        Some((u32::try_from(a.ready).unwrap_or(0), u32::try_from(a.wanted).unwrap_or(0)))
    }

    async fn stop(&self, grace: Duration) {
        // Scaled to zero and kept: its pod template stays for a later undo.
        let patch = json!({ "spec": { "replicas": 0 } });
        if let Err(e) = self.deployments().patch(&self.name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            if !matches!(&e, kube::Error::Api(s) if s.code == 404) {
                tracing::error!(deployment = %self.name, error = %chain(&e), "cannot scale a revision to zero");
                return;
            }
        }
        self.stopped.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + grace + Duration::from_secs(5);
        while Instant::now() < deadline {
            match self.deployments().get_opt(&self.name).await {
                Ok(Some(d)) if d.status.as_ref().and_then(|s| s.replicas).unwrap_or(0) > 0 => {}
                _ => return,
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

fn humanize(d: Duration) -> String {
    if d.as_millis() % 1000 == 0 { format!("{}s", d.as_secs()) } else { format!("{}ms", d.as_millis()) }
}

/// An app's Service as its traffic: the selector names the live revision.
pub struct KubeTraffic {
    client: Client,
    namespace: String,
    service: String,
    app: String,
    current: std::sync::Mutex<Option<Endpoint>>,
}

impl KubeTraffic {
    /// Reads the Service; it must exist (backstop moves its selector, it does not own it).
    pub async fn new(client: Client, namespace: &str, service: &str, app: &str) -> Result<KubeTraffic, KubeError> {
        let err =
            |message: String| KubeError::Service { namespace: namespace.into(), service: service.into(), message };
        let api: Api<Service> = Api::namespaced(client.clone(), namespace);
        let svc = api
            .get_opt(service)
            .await
            .map_err(|e| err(format!("cannot be read: {}", chain(&e))))?
            .ok_or_else(|| err("does not exist; create it (any selector: backstop sets it)".into()))?;
        let selector = svc.spec.and_then(|s| s.selector).unwrap_or_default();
        let current = match (selector.get(APP_LABEL), selector.get(REVISION_LABEL)) {
            (Some(a), Some(r)) if a == app => r.parse::<u64>().ok().map(|revision| endpoint(app, revision)),
            _ => None,
        };
        Ok(KubeTraffic {
            client,
            namespace: namespace.into(),
            service: service.into(),
            app: app.into(),
            current: std::sync::Mutex::new(current),
        })
    }

    fn current_lock(&self) -> std::sync::MutexGuard<'_, Option<Endpoint>> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The pods the Service's endpoints hold now, ready or not, by name.
    pub async fn endpoint_pods(&self) -> Result<Vec<String>, TrafficError> {
        let api: Api<Endpoints> = Api::namespaced(self.client.clone(), &self.namespace);
        let ep = api
            .get_opt(&self.service)
            .await
            .map_err(|e| TrafficError(format!("cannot read the endpoints of {}: {}", self.service, chain(&e))))?;
        let mut pods = Vec::new();
        for subset in ep.and_then(|e| e.subsets).unwrap_or_default() {
            let all =
                subset.addresses.unwrap_or_default().into_iter().chain(subset.not_ready_addresses.unwrap_or_default());
            pods.extend(all.filter_map(|a| a.target_ref.and_then(|t| t.name)));
        }
        Ok(pods)
    }
}

/// The endpoint of an app's revision on Kubernetes: the revision itself.
pub fn endpoint(app: &str, revision: u64) -> Endpoint {
    Endpoint { addr: None, revision, label: format!("{app}@{revision}") }
}

#[async_trait]
impl Traffic for KubeTraffic {
    async fn switch(&self, to: Option<&Endpoint>) -> Result<Option<Endpoint>, TrafficError> {
        // `none` selects no pod: the app refuses traffic rather than serving a revision the
        // ledger does not call live.
        let revision = to.map_or_else(|| "none".to_owned(), |e| e.revision.to_string());
        let patch = json!({ "spec": { "selector": { APP_LABEL: self.app, REVISION_LABEL: revision } } });
        let api: Api<Service> = Api::namespaced(self.client.clone(), &self.namespace);
        api.patch(&self.service, &PatchParams::default(), &Patch::Merge(&patch)).await.map_err(|e| {
            TrafficError(format!(
                "cannot patch the selector of Service {}/{}: {}",
                self.namespace,
                self.service,
                chain(&e)
            ))
        })?;
        let next = to.map(|e| endpoint(&self.app, e.revision));
        Ok(std::mem::replace(&mut *self.current_lock(), next))
    }

    fn current(&self) -> Option<Endpoint> {
        self.current_lock().clone()
    }

    fn inflight(&self, _at: &Endpoint) -> usize {
        // Requests go from the Service to the pods directly; backstop does not see them.
        0
    }

    async fn drain(&self, from: &Endpoint, timeout: Duration) -> bool {
        // Drained once the endpoints controller took the revision's pods out of the Service.
        let prefix = format!("{}-", deployment_name(&self.app, from.revision));
        let deadline = Instant::now() + timeout;
        loop {
            match self.endpoint_pods().await {
                Ok(pods) if !pods.iter().any(|p| p.starts_with(&prefix)) => return true,
                _ if Instant::now() >= deadline => return false,
                _ => tokio::time::sleep(POLL).await,
            }
        }
    }
}
