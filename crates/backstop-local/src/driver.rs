//! The local driver behind the engine's [`backstop_driver::Driver`] seam: each instance is a child
//! process on a free loopback port; its handle is `{"pid", "start_time", "port"}`, and adoption
//! checks the kernel's start time so a reused pid is never taken up.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use backstop_driver::{Driver, DriverError, StartSpec};
use serde::{Deserialize, Serialize};

use crate::{Instance, LaunchSpec, ProcessId};

/// Runs instances as supervised child processes of this machine.
#[derive(Debug, Default, Clone, Copy)]
pub struct LocalDriver;

/// What the store keeps of a local instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Handle {
    pid: u32,
    start_time: u64,
    port: u16,
}

use backstop_driver::chain;

#[async_trait]
impl Driver for LocalDriver {
    fn name(&self) -> &'static str {
        "local"
    }

    async fn start(&self, spec: &StartSpec) -> Result<Arc<dyn backstop_driver::Instance>, DriverError> {
        let backstop_driver::Artifact::Program(program) = &spec.artifact else {
            return Err(DriverError::Start(
                "the local driver runs programs, not images; give a file or directory as the artifact".into(),
            ));
        };
        let port = crate::free_port().map_err(|e| DriverError::Start(format!("no free port: {e}")))?;
        let launch = LaunchSpec {
            program: program.clone(),
            args: spec.args.clone(),
            env: spec.env.clone(),
            cwd: spec.work_dir.clone(),
            log_path: spec.log_path.clone(),
            port,
        };
        let instance = crate::launch(&launch).await.map_err(|e| DriverError::Start(chain(&e)))?;
        Ok(Arc::new(instance))
    }

    async fn adopt(&self, handle: &serde_json::Value) -> Result<Arc<dyn backstop_driver::Instance>, DriverError> {
        let h: Handle = serde_json::from_value(handle.clone())
            .map_err(|e| DriverError::Adopt(format!("not a local instance handle ({e}): {handle}")))?;
        let instance = crate::adopt(ProcessId { pid: h.pid, start_time: h.start_time }, h.port)
            .map_err(|e| DriverError::Adopt(chain(&e)))?;
        Ok(Arc::new(instance))
    }
}

#[async_trait]
impl backstop_driver::Instance for Instance {
    fn handle(&self) -> serde_json::Value {
        let id = self.id();
        serde_json::to_value(Handle { pid: id.pid, start_time: id.start_time, port: self.port() }).unwrap_or_default()
    }

    fn addr(&self) -> Option<SocketAddr> {
        Some(Instance::addr(self))
    }

    fn describe(&self) -> String {
        format!("pid {} on port {}", self.id().pid, self.port())
    }

    fn is_alive(&self) -> bool {
        Instance::is_alive(self)
    }

    fn exit_status(&self) -> Option<String> {
        Instance::exit_status(self)
    }

    async fn wait_healthy(&self, path: &str, timeout: Duration) -> Result<(), DriverError> {
        crate::wait_healthy(self, path, timeout).await.map_err(|e| DriverError::Unhealthy(chain(&e)))
    }

    async fn probe(&self, path: &str, timeout: Duration) -> Result<u16, DriverError> {
        crate::probe(Instance::addr(self), path, timeout).await.map_err(|e| DriverError::Unhealthy(chain(&e)))
    }

    async fn stop(&self, grace: Duration) {
        Instance::stop(self, grace).await
    }
}
