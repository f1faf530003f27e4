//! The public listener: accepting connections, serving them, and shutting down gracefully.

use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use http::HeaderValue;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};

use crate::ProxyError;
use crate::backend::Backend;
use crate::forward::{Shared, forward};

/// Idle upstream connections kept per backend; enough for every client
/// connection of a benchmark to find a warm one.
const POOL_MAX_IDLE_PER_BACKEND: usize = 1024;
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause after a failed `accept` (out of file descriptors, say) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// A running reverse proxy on one public address.
///
/// Serving happens in background tasks. Dropping the `Proxy` stops accepting
/// and lets open connections finish their current request in the background;
/// [`Proxy::shutdown`] does the same but waits for them, bounded.
pub struct Proxy {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<Duration>>,
    task: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Binds the public listener and starts serving in background tasks.
    pub async fn bind(addr: SocketAddr) -> Result<Proxy, ProxyError> {
        let bind_error = |source| ProxyError::Bind { addr, source };
        let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;

        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_max_idle_per_host(POOL_MAX_IDLE_PER_BACKEND)
            .build(connector);
        let shared = Arc::new(Shared { current: ArcSwapOption::empty(), client });

        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(accept_loop(listener, shared.clone(), stopped));
        tracing::debug!(addr = %local_addr, "proxy listening");
        Ok(Proxy { shared, local_addr, stop: Some(stop), task: Some(task) })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Atomically routes all new requests to `backend` (`None`: no live
    /// instance, answered with 503), returning the previous backend.
    pub fn switch(&self, backend: Option<Arc<Backend>>) -> Option<Arc<Backend>> {
        self.shared.current.swap(backend)
    }

    pub fn current(&self) -> Option<Arc<Backend>> {
        self.shared.current.load_full()
    }

    /// Stops accepting, lets in-flight requests finish (for at most
    /// `timeout`, after which remaining connections are closed), then returns.
    pub async fn shutdown(mut self, timeout: Duration) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(timeout);
        }
        if let Some(task) = self.task.take() {
            if let Err(e) = task.await {
                tracing::error!(addr = %self.local_addr, error = %e, "proxy accept loop failed");
            }
        }
    }
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("local_addr", &self.local_addr)
            .field("current", &self.current())
            .finish_non_exhaustive()
    }
}

/// Accepts until told to stop, then drains the open connections.
///
/// `stop` carries the drain bound; if the `Proxy` was dropped instead, the
/// connections finish in the background without one.
async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stop: oneshot::Receiver<Duration>) {
    let (closing, closing_rx) = watch::channel(());
    let mut conns = JoinSet::new();
    let bound = loop {
        tokio::select! {
            biased;
            bound = &mut stop => break bound.ok(),
            Some(done) = conns.join_next(), if !conns.is_empty() => {
                if let Err(e) = done {
                    tracing::error!(error = %e, "proxy connection task failed");
                }
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    conns.spawn(serve_connection(stream, peer, shared.clone(), closing_rx.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    };
    drop(listener);
    closing.send_replace(());
    let all_closed = async { while conns.join_next().await.is_some() {} };
    match bound {
        None => all_closed.await,
        Some(bound) => {
            if tokio::time::timeout(bound, all_closed).await.is_err() {
                tracing::warn!(open = conns.len(), "closing proxy connections still busy after the drain timeout");
                conns.shutdown().await;
            }
        }
    }
}

/// Serves one client connection until it closes, finishing gracefully once `closing` fires.
async fn serve_connection(stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>, mut closing: watch::Receiver<()>) {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(%peer, error = %e, "cannot set TCP_NODELAY");
    }
    let conn = Arc::new(Conn { shared, client_ip: HeaderValue::try_from(peer.ip().to_canonical().to_string()).ok() });
    let service = service_fn(move |req| {
        let conn = conn.clone();
        async move { Ok::<_, Infallible>(forward(&conn.shared, conn.client_ip.as_ref(), req).await) }
    });
    let connection = http1::Builder::new().timer(TokioTimer::new()).serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = closing.changed() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "client connection ended with an error");
    }
}

/// Per-connection context handed to each request.
struct Conn {
    shared: Arc<Shared>,
    client_ip: Option<HeaderValue>,
}
