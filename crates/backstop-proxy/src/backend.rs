//! Upstream instances and the in-flight accounting that makes draining exact.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use http::HeaderValue;
use tokio::sync::Notify;

use crate::Meter;

/// One upstream instance that the proxy can route to.
///
/// A request counts as in flight from the moment it is routed here until the
/// response body has been handed completely to the client connection, or the
/// client went away. So `inflight() == 0` after a switch means no request is
/// still using this instance.
pub struct Backend {
    addr: SocketAddr,
    label: String,
    /// `Host` for a request that has none (HTTP/1.0), made once rather than per request.
    host: Option<HeaderValue>,
    /// The revision it serves, and that revision's traffic signals (shared by its backends).
    revision: u64,
    meter: Arc<Meter>,
    inflight: AtomicUsize,
    served: AtomicU64,
    /// Tasks inside `drained`; only then is a wake-up worth a lock.
    waiters: AtomicUsize,
    drain: Notify,
}

impl Backend {
    pub fn new(addr: SocketAddr, label: impl Into<String>) -> Arc<Backend> {
        Backend::metered(addr, label, 0, Arc::default())
    }

    /// A backend of `revision` whose requests count in `meter`.
    pub fn metered(addr: SocketAddr, label: impl Into<String>, revision: u64, meter: Arc<Meter>) -> Arc<Backend> {
        Arc::new(Backend {
            addr,
            label: label.into(),
            host: HeaderValue::try_from(addr.to_string()).ok(),
            revision,
            meter,
            inflight: AtomicUsize::new(0),
            served: AtomicU64::new(0),
            waiters: AtomicUsize::new(0),
            drain: Notify::new(),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// The `Host` header naming this backend's address.
    pub(crate) fn host_header(&self) -> Option<&HeaderValue> {
        self.host.as_ref()
    }

    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// The traffic signals of its revision.
    pub fn meter(&self) -> &Arc<Meter> {
        &self.meter
    }

    /// Requests currently being served through this backend.
    pub fn inflight(&self) -> usize {
        self.inflight.load(Ordering::SeqCst)
    }

    /// Requests whose upstream response was streamed to the end (or until the
    /// client went away) through this backend.
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    /// Wait until no request is in flight, up to `timeout`; true if drained.
    pub async fn drained(&self, timeout: Duration) -> bool {
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let wait = async {
            loop {
                let notified = self.drain.notified();
                tokio::pin!(notified);
                // Register before checking, so a wake-up in between is not lost.
                notified.as_mut().enable();
                if self.inflight() == 0 {
                    return;
                }
                notified.await;
            }
        };
        let drained = tokio::time::timeout(timeout, wait).await.is_ok();
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        drained
    }
}

impl fmt::Debug for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Backend")
            .field("addr", &self.addr)
            .field("label", &self.label)
            .field("inflight", &self.inflight())
            .field("served", &self.served())
            .finish()
    }
}

/// One request's claim on a backend; dropping it ends the request.
pub(crate) struct Inflight {
    backend: Arc<Backend>,
    /// Whether the backend answered, so that the request counts as served.
    answered: bool,
}

impl Inflight {
    /// Counts a request on `backend`. Callers must check afterwards that the
    /// backend is still the current one (see `Shared::acquire`).
    pub(crate) fn start(backend: Arc<Backend>) -> Inflight {
        // SeqCst pairs with the load in `drained` and the pointer swap: an
        // increment that precedes the re-check of the current backend is
        // visible to anyone who switched away and then looks at `inflight`.
        backend.inflight.fetch_add(1, Ordering::SeqCst);
        Inflight { backend, answered: false }
    }

    pub(crate) fn backend(&self) -> &Arc<Backend> {
        &self.backend
    }

    pub(crate) fn answered(mut self) -> Inflight {
        self.answered = true;
        self
    }
}

impl Drop for Inflight {
    fn drop(&mut self) {
        let backend = &self.backend;
        if self.answered {
            backend.served.fetch_add(1, Ordering::Relaxed);
        }
        if backend.inflight.fetch_sub(1, Ordering::SeqCst) == 1 && backend.waiters.load(Ordering::SeqCst) > 0 {
            backend.drain.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backend() -> Arc<Backend> {
        Backend::new(SocketAddr::from(([127, 0, 0, 1], 9)), "test")
    }

    #[tokio::test]
    async fn drained_waits_for_the_last_request() {
        let b = backend();
        let first = Inflight::start(b.clone()).answered();
        let second = Inflight::start(b.clone());
        assert_eq!(b.inflight(), 2);
        assert!(!b.drained(Duration::ZERO).await);

        let waiter = tokio::spawn({
            let b = b.clone();
            async move { b.drained(Duration::from_secs(30)).await }
        });
        drop(first);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "one request is still in flight");
        drop(second);
        assert!(waiter.await.unwrap());
        assert_eq!(b.inflight(), 0);
        assert_eq!(b.served(), 1, "only answered requests count as served");
    }

    #[tokio::test]
    async fn idle_backend_is_drained_at_once() {
        assert!(backend().drained(Duration::ZERO).await);
    }
}
