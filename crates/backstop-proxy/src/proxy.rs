//! The public listener: worker threads, accepting and balancing connections, graceful shutdown.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::HeaderValue;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::{self, JoinSet};

use crate::ProxyError;
use crate::backend::Backend;
use crate::forward::{ClientConn, Shared, forward};

/// Pause after a failed `accept` (out of file descriptors, say) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The `open` count of a worker that has ended, so that it is never the least busy.
const GONE: usize = usize::MAX / 2;

/// `Some(drain bound)` once the proxy stops; the sender dropped means stop without a bound.
type StopSignal = watch::Receiver<Option<Duration>>;

/// A running reverse proxy on one public address.
///
/// The proxy runs on worker threads of its own, each with a single-threaded
/// tokio runtime, like the worker processes of nginx: a client connection and
/// the upstream connections it uses stay on one thread, with no work stealing
/// or cross-thread wake-ups per request, and the proxy does not compete with
/// whatever else the caller's runtime does. The first worker also accepts,
/// handing each connection to the worker with the fewest open ones.
///
/// Dropping the `Proxy` stops accepting and lets open connections finish
/// their current request in the background; [`Proxy::shutdown`] does the same
/// but waits for them, bounded.
pub struct Proxy {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    stop: watch::Sender<Option<Duration>>,
    /// One per worker thread, closed when the thread has finished.
    finished: Vec<oneshot::Receiver<()>>,
}

impl Proxy {
    /// Binds the public listener and starts serving on [`Proxy::default_workers`] threads.
    pub async fn bind(addr: SocketAddr) -> Result<Proxy, ProxyError> {
        Proxy::bind_with_workers(addr, Proxy::default_workers()).await
    }

    /// `BACKSTOP_PROXY_WORKERS` when it is a positive number, else one worker thread per core.
    pub fn default_workers() -> usize {
        let configured = std::env::var("BACKSTOP_PROXY_WORKERS").ok().and_then(|v| v.trim().parse::<usize>().ok());
        configured.filter(|&n| n > 0).unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// Binds the public listener and starts serving on `workers` threads (at least one).
    pub async fn bind_with_workers(addr: SocketAddr, workers: usize) -> Result<Proxy, ProxyError> {
        let bind_error = |source| ProxyError::Bind { addr, source };
        let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;
        // Moves to the first worker's runtime.
        let listener = listener.into_std().map_err(bind_error)?;
        let start_error = |source| ProxyError::Start { addr: local_addr, source };

        let shared = Arc::new(Shared::default());
        let (stop, stopped) = watch::channel(None);
        let mut intakes = Vec::new();
        let mut runtimes = Vec::new();
        for _ in 0..workers.max(1) {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(start_error)?;
            let (handoff, intake) = mpsc::unbounded_channel();
            let open = Arc::new(AtomicUsize::new(0));
            intakes.push(Intake { handoff, open: open.clone() });
            runtimes.push((runtime, intake, open));
        }

        let mut acceptor = Some((listener, intakes));
        let mut finished = Vec::new();
        for (runtime, intake, open) in runtimes {
            let (shared, stopped, acceptor) = (shared.clone(), stopped.clone(), acceptor.take());
            let (done, finished_rx) = oneshot::channel::<()>();
            let thread = std::thread::Builder::new().name(format!("proxy:{}", local_addr.port()));
            thread
                .spawn(move || {
                    runtime.block_on(async move {
                        if let Some((listener, intakes)) = acceptor {
                            match TcpListener::from_std(listener) {
                                Ok(listener) => drop(tokio::spawn(accept_loop(listener, intakes, stopped.clone()))),
                                Err(e) => tracing::error!(addr = %local_addr, error = %e, "proxy cannot listen"),
                            }
                        }
                        worker_loop(shared, intake, open, stopped).await;
                    });
                    // Connections still open are cut when the runtime goes.
                    drop(runtime);
                    drop(done);
                })
                .map_err(start_error)?;
            finished.push(finished_rx);
        }
        tracing::debug!(addr = %local_addr, workers = finished.len(), "proxy listening");
        Ok(Proxy { shared, local_addr, stop, finished })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Atomically routes all new requests to `backend` (`None`: no live
    /// instance, answered with 503), returning the previous backend.
    pub fn switch(&self, backend: Option<Arc<Backend>>) -> Option<Arc<Backend>> {
        let old = self.shared.current.swap(backend);
        self.shared.switched.notify_waiters();
        old
    }

    /// How long an upstream may take to start answering (status line and headers) before the
    /// client gets 504 and the upstream connection is closed; `None` waits forever (the default).
    /// A body that is slow once started is not cut off. With a timeout, a request whose backend
    /// refuses connections also waits (up to the timeout, at most 10 s) for a switch to another
    /// backend, such as a crashed instance's restart, instead of getting 502 at once.
    pub fn set_response_timeout(&self, timeout: Option<Duration>) {
        let ms = timeout.map_or(0, |t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX).max(1));
        self.shared.response_timeout_ms.store(ms, Ordering::Relaxed);
    }

    pub fn current(&self) -> Option<Arc<Backend>> {
        self.shared.current.load_full()
    }

    /// Stops accepting, lets in-flight requests finish (for at most
    /// `timeout`, after which remaining connections are closed), then returns.
    pub async fn shutdown(self, timeout: Duration) {
        self.stop.send_replace(Some(timeout));
        for finished in self.finished {
            // Never sent, only closed: the worker thread has ended.
            let _ = finished.await;
        }
    }
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("local_addr", &self.local_addr)
            .field("workers", &self.finished.len())
            .field("current", &self.current())
            .finish_non_exhaustive()
    }
}

/// Where the acceptor hands connections to one worker.
struct Intake {
    handoff: mpsc::UnboundedSender<(std::net::TcpStream, SocketAddr)>,
    /// Connections handed to the worker and not yet finished.
    open: Arc<AtomicUsize>,
}

/// Accepts until told to stop, handing each connection to the least busy worker.
async fn accept_loop(listener: TcpListener, intakes: Vec<Intake>, mut stop: StopSignal) {
    loop {
        let accepted = tokio::select! {
            biased;
            _ = stop.changed() => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "cannot accept a connection");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        // Leaves this runtime's I/O driver for the worker's.
        let mut handed = match stream.into_std() {
            Ok(stream) => (stream, peer),
            Err(e) => {
                tracing::warn!(%peer, error = %e, "cannot hand over a connection");
                continue;
            }
        };
        loop {
            let Some(intake) = intakes.iter().min_by_key(|intake| intake.open.load(Ordering::Relaxed)) else {
                return;
            };
            if intake.open.load(Ordering::Relaxed) >= GONE {
                tracing::error!(%peer, "no proxy worker left to serve a connection");
                break;
            }
            intake.open.fetch_add(1, Ordering::Relaxed);
            match intake.handoff.send(handed) {
                Ok(()) => break,
                // That worker has ended (it can only have panicked): never pick it again.
                Err(mpsc::error::SendError(back)) => {
                    intake.open.store(GONE, Ordering::Relaxed);
                    handed = back;
                }
            }
        }
    }
}

/// Serves the connections handed to this worker until told to stop, then drains them.
///
/// The drain is bounded by the stop signal's value, or unbounded if the
/// `Proxy` was dropped.
async fn worker_loop(
    shared: Arc<Shared>,
    mut intake: mpsc::UnboundedReceiver<(std::net::TcpStream, SocketAddr)>,
    open: Arc<AtomicUsize>,
    mut stop: StopSignal,
) {
    let mut conns = JoinSet::new();
    // One close signal per connection rather than one shared watch channel:
    // a pending shared `Notify` takes a lock each time a connection is polled.
    let mut closers: HashMap<task::Id, oneshot::Sender<()>> = HashMap::new();
    let mut intake_open = true;
    let bound = loop {
        tokio::select! {
            biased;
            changed = stop.changed() => match changed {
                Ok(()) => {
                    if let Some(bound) = *stop.borrow_and_update() {
                        break Some(bound);
                    }
                }
                Err(_) => break None,
            },
            Some(done) = conns.join_next_with_id(), if !conns.is_empty() => {
                let id = match done {
                    Ok((id, ())) => id,
                    Err(e) => {
                        tracing::error!(error = %e, "proxy connection task failed");
                        e.id()
                    }
                };
                closers.remove(&id);
                open.fetch_sub(1, Ordering::Relaxed);
            }
            handed = intake.recv(), if intake_open => match handed {
                Some((stream, peer)) => match TcpStream::from_std(stream) {
                    Ok(stream) => {
                        let (close, closing) = oneshot::channel();
                        let task = conns.spawn(serve_connection(stream, peer, shared.clone(), closing));
                        closers.insert(task.id(), close);
                    }
                    Err(e) => {
                        tracing::warn!(%peer, error = %e, "cannot take over a connection");
                        open.fetch_sub(1, Ordering::Relaxed);
                    }
                },
                // The acceptor is gone; serve what is open until told to stop.
                None => intake_open = false,
            },
        }
    };
    for (_, close) in closers.drain() {
        let _ = close.send(());
    }
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

/// Serves one client connection until it closes, finishing gracefully once
/// `closing` fires (or its sender is gone).
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    mut closing: oneshot::Receiver<()>,
) {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(%peer, error = %e, "cannot set TCP_NODELAY");
    }
    let client_ip = HeaderValue::try_from(peer.ip().to_canonical().to_string()).ok();
    let client = Arc::new(ClientConn::new(shared, client_ip));
    let service = service_fn(move |req| {
        let client = client.clone();
        async move { Ok::<_, Infallible>(forward(client, req).await) }
    });
    let connection = http1::Builder::new().timer(TokioTimer::new()).serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let result = tokio::select! {
        biased;
        result = connection.as_mut() => result,
        _ = &mut closing => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "client connection ended with an error");
    }
}
