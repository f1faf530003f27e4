//! The two seams of the engine: a [`Driver`] runs a revision's instances (start one from a verified
//! artifact, adopt what survived a control-plane crash, probe its health, stop it), and a
//! [`Traffic`] points an app's traffic at one instance, says where it points and drains the one it
//! left.
//!
//! The engine holds both as trait objects and never names what is behind them: no process, pid,
//! port or pod. What identifies an instance is the driver's [`Instance::handle`], a JSON value the
//! store keeps opaque and gives back to [`Driver::adopt`] after a restart.
//!
//! Contracts a driver must keep:
//! - [`Driver::start`] returns an instance that is running, not yet known to be healthy; the engine
//!   points traffic at it only after [`Instance::wait_healthy`] succeeded.
//! - [`Driver::adopt`] takes up exactly the instance the handle recorded, and refuses anything else
//!   (a reused pid, a replaced pod): it never picks up a foreign workload.
//! - Dropping an [`Instance`] never stops it; only [`Instance::stop`] does, and after it returns the
//!   instance serves nothing.
//!
//! Contracts of a traffic implementation:
//! - [`Traffic::switch`] is atomic: every request after it goes to the new endpoint; requests in
//!   flight finish on the old one. When it fails, traffic did not move.
//! - [`Traffic::drain`] returns once no request is in flight on the endpoint (or the timeout passed).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use backstop_core::AppName;
use backstop_core::signals::Counts;

/// Where traffic for one instance goes, the revision it serves, and a label for logs
/// (`app@revision`).
///
/// `addr` is the address a traffic layer that forwards requests itself connects to. Instances on
/// a platform with its own routing have none: a Kubernetes Service selects a revision's pods by
/// label, so the revision is the whole of the endpoint there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub addr: Option<SocketAddr>,
    pub revision: u64,
    pub label: String,
}

/// What a driver starts: a verified file for a driver that runs processes, an image pinned by
/// digest for a container platform. A driver refuses the kind it cannot run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Artifact {
    /// The verified artifact's entrypoint.
    Program(PathBuf),
    /// An OCI image reference with its digest (`registry.example/web@sha256:…`).
    Image(String),
}

/// What to start: one revision of one app, from an artifact already verified against its digest.
#[derive(Debug, Clone)]
pub struct StartSpec {
    pub app: AppName,
    pub revision: u64,
    pub artifact: Artifact,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// The instance's own working directory.
    pub work_dir: PathBuf,
    /// Where its output goes.
    pub log_path: PathBuf,
}

/// One revision a platform kept before backstop arrived (a ReplicaSet of a Deployment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastRevision {
    /// The platform's own number for it.
    pub number: u64,
    pub change_cause: String,
    /// The image pinned by `digest`.
    pub image: String,
    pub digest: backstop_core::Digest,
    /// Where it was read from, for the ledger (`ReplicaSet web-5d8f (revision 3 of Deployment web)`).
    pub origin: String,
}

/// A platform's history, oldest first, and what could not be read as a revision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PastHistory {
    pub revisions: Vec<PastRevision>,
    pub skipped: Vec<String>,
}

/// A driver's failure, as one line that already holds its causes.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("{0}")]
    Start(String),
    #[error("{0}")]
    Adopt(String),
    #[error("{0}")]
    Unhealthy(String),
}

/// An error and its causes on one line, each cause once.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.last().is_some_and(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// A traffic layer's failure to move traffic; traffic stays where it was.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TrafficError(pub String);

/// One running instance of a revision.
#[async_trait]
pub trait Instance: Send + Sync + 'static {
    /// What the store keeps to adopt it after a restart (driver-specific JSON).
    fn handle(&self) -> serde_json::Value;
    /// Where its traffic goes, for a traffic layer that forwards requests itself (none on a
    /// platform that routes by label).
    fn addr(&self) -> Option<SocketAddr>;
    /// A short description for the operations journal (`pid 42 on port 4100`).
    fn describe(&self) -> String;
    fn is_alive(&self) -> bool;
    /// How it ended, once it has (`exited with status 1`, `killed by SIGKILL`).
    fn exit_status(&self) -> Option<String>;
    /// Wait until its health path answers 2xx, within `timeout`.
    async fn wait_healthy(&self, path: &str, timeout: Duration) -> Result<(), DriverError>;
    /// One health probe: the HTTP status its health path answered.
    async fn probe(&self, path: &str, timeout: Duration) -> Result<u16, DriverError>;
    /// Replicas ready and wanted, for an instance made of several (a Deployment's pods); `None`
    /// for a single process.
    async fn replicas(&self) -> Option<(u32, u32)> {
        None
    }
    /// Ask it to stop, wait up to `grace`, then force it; returns once it is gone.
    async fn stop(&self, grace: Duration);
}

impl dyn Instance {
    /// One probe that answered 2xx.
    pub async fn is_healthy(&self, path: &str, timeout: Duration) -> bool {
        self.probe(path, timeout).await.is_ok_and(|code| (200..300).contains(&code))
    }
}

/// Runs instances.
#[async_trait]
pub trait Driver: Send + Sync + 'static {
    /// The name recorded beside each handle.
    fn name(&self) -> &'static str;
    /// Whether its instances run without this control plane (a cluster runs them): stopping
    /// backstop then leaves them and their traffic as they are, instead of stopping them.
    fn outlives_control_plane(&self) -> bool {
        false
    }
    /// Whether it runs images ([`Artifact::Image`]) rather than uploaded files.
    fn runs_images(&self) -> bool {
        false
    }
    /// The history the platform kept of a workload (`deployment/NAME`), for `backstop import`.
    async fn history(&self, source: &str) -> Result<PastHistory, DriverError> {
        Err(DriverError::Adopt(format!("the {} driver has no history to import {source} from", self.name())))
    }
    /// Start an instance; it runs but is not known to be healthy yet.
    async fn start(&self, spec: &StartSpec) -> Result<Arc<dyn Instance>, DriverError>;
    /// Take up again the instance a handle recorded; refused when it is gone or is not that one.
    /// Asynchronous because a platform's driver asks its API what runs.
    async fn adopt(&self, handle: &serde_json::Value) -> Result<Arc<dyn Instance>, DriverError>;
}

/// Routes one app's traffic.
#[async_trait]
pub trait Traffic: Send + Sync + 'static {
    /// Send every new request to `to` (or refuse them all with `None`); returns where it pointed.
    /// A layer in this process switches a pointer and cannot fail; one that asks a platform to
    /// move traffic (a Service's selector) can, and then traffic stays where it was.
    async fn switch(&self, to: Option<&Endpoint>) -> Result<Option<Endpoint>, TrafficError>;
    /// Where traffic goes now, as this layer last set or found it.
    fn current(&self) -> Option<Endpoint>;
    /// Requests in flight on an endpoint now.
    fn inflight(&self, at: &Endpoint) -> usize;
    /// Wait until no request is in flight on `from` (at most `timeout`); true when it drained.
    async fn drain(&self, from: &Endpoint, timeout: Duration) -> bool;
    /// What the traffic layer saw of each revision it routed to since it started, as cumulative
    /// counts; empty when it cannot see requests (a layer that only points traffic elsewhere).
    fn signals(&self) -> Vec<(u64, Counts)> {
        Vec::new()
    }
}
