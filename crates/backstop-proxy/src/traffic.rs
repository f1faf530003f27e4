//! The proxy behind the engine's [`backstop_driver::Traffic`] seam: one [`Backend`] per endpoint,
//! kept while traffic may come back to it, so its in-flight count follows it across switches.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use backstop_core::signals::Counts;
use backstop_driver::{Endpoint, Traffic, TrafficError};

use crate::{Backend, Meter, Proxy};

/// Revisions whose signals are kept: the newest ones routed to.
const KEPT_METERS: usize = 32;

/// An app's public proxy as the engine's traffic seam.
pub struct ProxyTraffic {
    proxy: Proxy,
    backends: Mutex<HashMap<SocketAddr, Arc<Backend>>>,
    /// Each revision's signals, shared by its backends (a restarted instance keeps counting in it).
    meters: Mutex<BTreeMap<u64, Arc<Meter>>>,
}

impl ProxyTraffic {
    pub fn new(proxy: Proxy) -> ProxyTraffic {
        ProxyTraffic { proxy, backends: Mutex::new(HashMap::new()), meters: Mutex::new(BTreeMap::new()) }
    }

    pub fn proxy(&self) -> &Proxy {
        &self.proxy
    }

    fn backends(&self) -> MutexGuard<'_, HashMap<SocketAddr, Arc<Backend>>> {
        self.backends.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn meters(&self) -> MutexGuard<'_, BTreeMap<u64, Arc<Meter>>> {
        self.meters.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn meter(&self, revision: u64) -> Arc<Meter> {
        let mut meters = self.meters();
        let meter = meters.entry(revision).or_default().clone();
        while meters.len() > KEPT_METERS {
            meters.pop_first();
        }
        meter
    }

    fn backend(&self, at: &Endpoint, addr: SocketAddr) -> Arc<Backend> {
        let mut backends = self.backends();
        match backends.get(&addr) {
            Some(backend) if backend.revision() == at.revision => backend.clone(),
            _ => {
                let backend = Backend::metered(addr, at.label.clone(), at.revision, self.meter(at.revision));
                backends.insert(addr, backend.clone());
                backend
            }
        }
    }

    /// The in-memory switch; it cannot fail for an endpoint with an address.
    pub fn point(&self, to: Option<&Endpoint>) -> Result<Option<Endpoint>, TrafficError> {
        let next = match to {
            Some(at) => {
                let addr = at
                    .addr
                    .ok_or_else(|| TrafficError(format!("{} has no address the proxy can forward to", at.label)))?;
                Some(self.backend(at, addr))
            }
            None => None,
        };
        Ok(self.proxy.switch(next).map(|b| endpoint(&b)))
    }
}

fn endpoint(backend: &Backend) -> Endpoint {
    Endpoint { addr: Some(backend.addr()), revision: backend.revision(), label: backend.label().to_owned() }
}

#[async_trait]
impl Traffic for ProxyTraffic {
    async fn switch(&self, to: Option<&Endpoint>) -> Result<Option<Endpoint>, TrafficError> {
        self.point(to)
    }

    fn current(&self) -> Option<Endpoint> {
        self.proxy.current().map(|b| endpoint(&b))
    }

    fn inflight(&self, at: &Endpoint) -> usize {
        at.addr.and_then(|addr| self.backends().get(&addr).map(|b| b.inflight())).unwrap_or(0)
    }

    async fn drain(&self, from: &Endpoint, timeout: Duration) -> bool {
        let Some(addr) = from.addr else { return true };
        let Some(backend) = self.backends().get(&addr).cloned() else { return true };
        let drained = backend.drained(timeout).await;
        // Forget it unless traffic went back to it meanwhile.
        if self.proxy.current().is_none_or(|c| c.addr() != addr) {
            self.backends().remove(&addr);
        }
        drained
    }

    fn signals(&self) -> Vec<(u64, Counts)> {
        self.meters().iter().map(|(revision, meter)| (*revision, meter.snapshot())).collect()
    }
}
