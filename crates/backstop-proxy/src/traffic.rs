//! The proxy behind the engine's [`backstop_driver::Traffic`] seam: one [`Backend`] per endpoint,
//! kept while traffic may come back to it, so its in-flight count follows it across switches.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use backstop_driver::{Endpoint, Traffic};

use crate::{Backend, Proxy};

/// An app's public proxy as the engine's traffic seam.
pub struct ProxyTraffic {
    proxy: Proxy,
    backends: Mutex<HashMap<SocketAddr, Arc<Backend>>>,
}

impl ProxyTraffic {
    pub fn new(proxy: Proxy) -> ProxyTraffic {
        ProxyTraffic { proxy, backends: Mutex::new(HashMap::new()) }
    }

    pub fn proxy(&self) -> &Proxy {
        &self.proxy
    }

    fn backends(&self) -> MutexGuard<'_, HashMap<SocketAddr, Arc<Backend>>> {
        self.backends.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn backend(&self, at: &Endpoint) -> Arc<Backend> {
        self.backends().entry(at.addr).or_insert_with(|| Backend::new(at.addr, at.label.clone())).clone()
    }
}

fn endpoint(backend: &Backend) -> Endpoint {
    Endpoint { addr: backend.addr(), label: backend.label().to_owned() }
}

#[async_trait]
impl Traffic for ProxyTraffic {
    fn switch(&self, to: Option<&Endpoint>) -> Option<Endpoint> {
        let next = to.map(|at| self.backend(at));
        self.proxy.switch(next).map(|b| endpoint(&b))
    }

    fn current(&self) -> Option<Endpoint> {
        self.proxy.current().map(|b| endpoint(&b))
    }

    fn inflight(&self, at: &Endpoint) -> usize {
        self.backends().get(&at.addr).map_or(0, |b| b.inflight())
    }

    async fn drain(&self, from: &Endpoint, timeout: Duration) -> bool {
        let Some(backend) = self.backends().get(&from.addr).cloned() else { return true };
        let drained = backend.drained(timeout).await;
        // Forget it unless traffic went back to it meanwhile.
        if self.proxy.current().is_none_or(|c| c.addr() != from.addr) {
            self.backends().remove(&from.addr);
        }
        drained
    }
}
