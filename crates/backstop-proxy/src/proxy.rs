//! The public listener: worker threads, accepting and balancing connections, graceful shutdown.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use http::HeaderValue;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::{self, JoinSet};

use crate::backend::Backend;
use crate::forward::{Activity, ClientConn, Shared, forward};
use crate::{AccessLog, ProxyError};

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
    /// One per worker thread, closed when the thread has finished; taken by the first close.
    finished: std::sync::Mutex<Vec<oneshot::Receiver<()>>>,
    /// False until [`Proxy::start_accepting`] for a proxy started held.
    accepting: watch::Sender<bool>,
    /// Each worker's count of the client connections it was given and has not finished.
    opens: Vec<Arc<AtomicUsize>>,
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
        // Moves to the first worker's runtime.
        let listener = listener.into_std().map_err(bind_error)?;
        Proxy::serve_listener(listener, workers, true)
    }

    /// Starts serving on a socket that already listens (one handed over by a previous control
    /// plane), on `workers` threads (at least one). Unless `accepting`, connections wait in the
    /// socket's queue until [`Proxy::start_accepting`] (once traffic has somewhere to go).
    pub fn serve_listener(
        listener: std::net::TcpListener,
        workers: usize,
        accepting: bool,
    ) -> Result<Proxy, ProxyError> {
        let addr = listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let bind_error = |source| ProxyError::Bind { addr, source };
        let local_addr = listener.local_addr().map_err(bind_error)?;
        listener.set_nonblocking(true).map_err(bind_error)?;
        let start_error = |source| ProxyError::Start { addr: local_addr, source };

        let shared = Arc::new(Shared::new(workers));
        let (stop, stopped) = watch::channel(None);
        let (accepting, accept_gate) = watch::channel(accepting);
        let mut intakes = Vec::new();
        let mut runtimes = Vec::new();
        let mut opens = Vec::new();
        for _ in 0..workers.max(1) {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(start_error)?;
            let (handoff, intake) = mpsc::unbounded_channel();
            let open = Arc::new(AtomicUsize::new(0));
            intakes.push(Intake { handoff, open: open.clone() });
            opens.push(open.clone());
            runtimes.push((runtime, intake, open));
        }

        let mut acceptor = Some((listener, intakes));
        let mut finished = Vec::new();
        for (index, (runtime, intake, open)) in runtimes.into_iter().enumerate() {
            let (shared, stopped, acceptor) = (shared.clone(), stopped.clone(), acceptor.take());
            let mut gate = accept_gate.clone();
            let (done, finished_rx) = oneshot::channel::<()>();
            let thread = std::thread::Builder::new().name(format!("proxy:{}", local_addr.port()));
            thread
                .spawn(move || {
                    crate::meter::use_shard(index);
                    runtime.block_on(async move {
                        if let Some((listener, intakes)) = acceptor {
                            match TcpListener::from_std(listener) {
                                Ok(listener) => {
                                    let mut stop = stopped.clone();
                                    drop(tokio::spawn(async move {
                                        tokio::select! {
                                            biased;
                                            _ = stop.changed() => return,
                                            open = gate.wait_for(|open| *open) => if open.is_err() { return },
                                        }
                                        accept_loop(listener, intakes, stop).await;
                                    }));
                                }
                                Err(e) => tracing::error!(addr = %local_addr, error = %e, "proxy cannot listen"),
                            }
                        }
                        worker_loop(index, shared, intake, open, stopped).await;
                    });
                    // Connections still open are cut when the runtime goes.
                    drop(runtime);
                    drop(done);
                })
                .map_err(start_error)?;
            finished.push(finished_rx);
        }
        tracing::debug!(addr = %local_addr, workers = finished.len(), "proxy listening");
        Ok(Proxy { shared, local_addr, stop, finished: std::sync::Mutex::new(finished), accepting, opens })
    }

    /// Client connections accepted and not yet finished, across the workers.
    pub fn open_connections(&self) -> usize {
        self.opens.iter().map(|o| o.load(Ordering::Relaxed)).filter(|n| *n < GONE).sum()
    }

    /// Starts accepting connections, for a proxy started held.
    pub fn start_accepting(&self) {
        self.accepting.send_replace(true);
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

    /// Logs every request to `log` from now on (`None`: stops logging).
    pub fn set_access_log(&self, log: Option<Arc<AccessLog>>) {
        self.shared.access_log.store(log);
    }

    pub fn current(&self) -> Option<Arc<Backend>> {
        self.shared.current.load_full()
    }

    /// Stops accepting, lets in-flight requests finish (for at most
    /// `timeout`, after which remaining connections are closed), then returns.
    pub async fn shutdown(self, timeout: Duration) {
        self.close(timeout).await;
    }

    /// As [`Proxy::shutdown`], through a shared reference: stops accepting, lets in-flight requests
    /// finish within `timeout`, and returns once the workers have ended. Another handle on the
    /// listening socket (one handed to a successor) keeps it open, and connections wait in its
    /// queue rather than being refused.
    /// Accepting stops at once, before the returned future is polled.
    pub fn close(&self, timeout: Duration) -> impl Future<Output = ()> + Send + 'static {
        self.stop.send_replace(Some(timeout));
        let finished = std::mem::take(&mut *self.finished.lock().unwrap_or_else(|e| e.into_inner()));
        async move {
            for finished in finished {
                // Never sent, only closed: the worker thread has ended.
                let _ = finished.await;
            }
        }
    }
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proxy")
            .field("local_addr", &self.local_addr)
            .field("workers", &self.finished.lock().map_or(0, |f| f.len()))
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
    worker: usize,
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
                        let task = conns.spawn(serve_connection(stream, peer, worker, shared.clone(), closing));
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
    // Connections accepted but not yet taken up are served like the others: their clients
    // already sent, or are sending, a request.
    while let Ok((stream, peer)) = intake.try_recv() {
        match TcpStream::from_std(stream) {
            Ok(stream) => {
                let (close, closing) = oneshot::channel();
                let _ = close.send(());
                conns.spawn(serve_connection(stream, peer, worker, shared.clone(), closing));
            }
            Err(e) => {
                tracing::warn!(%peer, error = %e, "cannot take over a connection");
                open.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
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

/// How long a stopping proxy waits for the next request of a connection between requests.
const NEXT_REQUEST_GRACE: Duration = Duration::from_secs(2);

/// Serves one client connection until it closes, finishing gracefully once
/// `closing` fires (or its sender is gone).
///
/// A connection that starts no request for [`CLIENT_IDLE`] while none is being served (an idle
/// keep-alive connection, or one whose request head never completes) is closed gracefully at the
/// next check, and cut at the one after if it is still open (a head still incomplete). This takes
/// the place of hyper's header-read timeout, which re-arms a timer for every request and wakes the
/// worker's I/O driver to do so.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    worker: usize,
    shared: Arc<Shared>,
    mut closing: oneshot::Receiver<()>,
) {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(%peer, error = %e, "cannot set TCP_NODELAY");
    }
    let client_ip = HeaderValue::try_from(peer.ip().to_canonical().to_string()).ok();
    let client = Arc::new(ClientConn::new(shared, worker, client_ip));
    let watched = client.clone();
    let service = service_fn(move |req| {
        let client = client.clone();
        async move { Ok::<_, Infallible>(forward(client, req).await) }
    });
    let connection = http1::Builder::new().header_read_timeout(None).serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let mut watch = IdleWatch::new(CLIENT_IDLE);
    let mut seen = watched.activity();
    let mut asked_to_close = false;
    let result = loop {
        let event = std::future::poll_fn(|cx| {
            if let Poll::Ready(result) = connection.as_mut().poll(cx) {
                return Poll::Ready(Event::Done(result));
            }
            if Pin::new(&mut closing).poll(cx).is_ready() {
                return Poll::Ready(Event::Closing);
            }
            if watch.poll_fired(cx) {
                return Poll::Ready(Event::Check);
            }
            Poll::Pending
        })
        .await;
        match event {
            Event::Done(result) => break result,
            Event::Closing => {
                // A connection between requests may have the next one already on the wire (a
                // fresh connection surely was opened to send one): closing it now would lose that
                // request, the client seeing the connection close with no answer. Wait for it,
                // briefly, serve it, and close after it; a client reconnects to the successor.
                let at_close = watched.activity();
                if !at_close.serving {
                    let grace = tokio::time::sleep(NEXT_REQUEST_GRACE);
                    tokio::pin!(grace);
                    let done = std::future::poll_fn(|cx| {
                        if let Poll::Ready(result) = connection.as_mut().poll(cx) {
                            return Poll::Ready(Some(result));
                        }
                        if watched.activity().started > at_close.started || grace.as_mut().poll(cx).is_ready() {
                            return Poll::Ready(None);
                        }
                        Poll::Pending
                    })
                    .await;
                    if let Some(result) = done {
                        break result;
                    }
                }
                connection.as_mut().graceful_shutdown();
                break connection.await;
            }
            Event::Check => {
                let now = watched.activity();
                match idle_step(seen, now, asked_to_close) {
                    IdleStep::KeepOpen => asked_to_close = false,
                    IdleStep::AskToClose => {
                        connection.as_mut().graceful_shutdown();
                        asked_to_close = true;
                    }
                    IdleStep::Cut => {
                        tracing::debug!(%peer, "closing a client connection that started no request");
                        break Ok(());
                    }
                }
                seen = now;
                watch.rearm(CLIENT_IDLE);
            }
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "client connection ended with an error");
    }
}

/// How long a client connection may start no request, while none is being served, before it is
/// closed (between once and twice this long, see `serve_connection`).
const CLIENT_IDLE: Duration = Duration::from_secs(30);

enum Event {
    Done(hyper::Result<()>),
    Closing,
    Check,
}

/// What a periodic check does with a client connection.
#[derive(Debug, PartialEq, Eq)]
enum IdleStep {
    KeepOpen,
    /// Close it once nothing is being written (a keep-alive connection between requests).
    AskToClose,
    /// Drop it: asked before, and still no request (a request head that never completes).
    Cut,
}

/// `before` and `now` are a connection's [`Activity`] at the previous check and at this one.
fn idle_step(before: Activity, now: Activity, asked_to_close: bool) -> IdleStep {
    if now.serving || now.started != before.started {
        IdleStep::KeepOpen
    } else if asked_to_close {
        IdleStep::Cut
    } else {
        IdleStep::AskToClose
    }
}

/// A periodic check on one connection, on a timer that stays registered between checks: the
/// connection's task polls it only once per period, and otherwise only looks whether it fired.
struct IdleWatch {
    sleep: Pin<Box<tokio::time::Sleep>>,
    /// Polled since the last re-arm, so its wake-up is registered.
    armed: bool,
}

impl IdleWatch {
    fn new(period: Duration) -> IdleWatch {
        IdleWatch { sleep: Box::pin(tokio::time::sleep(period)), armed: false }
    }

    fn poll_fired(&mut self, cx: &mut Context<'_>) -> bool {
        if self.armed {
            return self.sleep.is_elapsed();
        }
        self.armed = true;
        self.sleep.as_mut().poll(cx).is_ready()
    }

    fn rearm(&mut self, period: Duration) {
        self.sleep.as_mut().reset(tokio::time::Instant::now() + period);
        self.armed = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn an_idle_connection_is_asked_to_close_then_cut() {
        let at = |started, serving| Activity { started, serving };
        let cases = [
            // (before, now, asked to close already, step)
            (at(0, false), at(0, false), false, IdleStep::AskToClose),
            (at(0, false), at(0, false), true, IdleStep::Cut),
            (at(3, false), at(4, false), false, IdleStep::KeepOpen),
            (at(3, false), at(4, false), true, IdleStep::KeepOpen),
            (at(3, true), at(3, true), false, IdleStep::KeepOpen),
            (at(3, true), at(3, true), true, IdleStep::KeepOpen),
            (at(3, true), at(3, false), false, IdleStep::AskToClose),
        ];
        for (before, now, asked, step) in cases {
            assert_eq!(idle_step(before, now, asked), step, "{before:?} -> {now:?}, asked {asked}");
        }
    }

    /// One connection served by `serve_connection` in this (paused-clock) runtime; the client end.
    async fn served(shared: Arc<Shared>) -> TcpStream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (stream, peer) = listener.accept().await.unwrap();
        let (close, closing) = oneshot::channel();
        tokio::spawn(async move {
            serve_connection(stream, peer, 0, shared, closing).await;
            drop(close);
        });
        client
    }

    /// Reads until the peer closes; everything read, and how long it took.
    async fn until_closed(client: &mut TcpStream) -> (String, Duration) {
        let start = tokio::time::Instant::now();
        let mut all = Vec::new();
        let read = tokio::time::timeout(20 * CLIENT_IDLE, client.read_to_end(&mut all)).await;
        assert!(read.is_ok(), "the connection was not closed");
        (String::from_utf8_lossy(&all).into_owned(), start.elapsed())
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_head_that_never_completes_is_cut() {
        let mut client = served(Arc::new(Shared::new(1))).await;
        client.write_all(b"GET / HTTP/1.1\r\nhost: app.test\r\n").await.unwrap();
        let (answer, after) = until_closed(&mut client).await;
        assert_eq!(answer, "");
        assert!(after >= CLIENT_IDLE, "closed after {after:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_keep_alive_connection_is_closed() {
        let mut client = served(Arc::new(Shared::new(1))).await;
        client.write_all(b"GET / HTTP/1.1\r\nhost: app.test\r\n\r\n").await.unwrap();
        let (answer, after) = until_closed(&mut client).await;
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        assert!(after >= CLIENT_IDLE, "closed after {after:?}");
    }

    /// A request that takes several idle periods to be answered is not cut off.
    #[tokio::test(start_paused = true)]
    async fn a_slow_answer_is_not_cut_off() {
        let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let backend = Backend::new(upstream.local_addr().unwrap(), "slow");
        tokio::spawn(async move {
            let (stream, _) = upstream.accept().await.unwrap();
            let service = service_fn(|_req| async {
                tokio::time::sleep(3 * CLIENT_IDLE).await;
                let body = http_body_util::Full::new(bytes::Bytes::from_static(b"slow answer"));
                Ok::<_, Infallible>(http::Response::new(body))
            });
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
        let shared = Arc::new(Shared::new(1));
        shared.current.store(Some(backend));
        let mut client = served(shared).await;
        client.write_all(b"GET / HTTP/1.1\r\nhost: app.test\r\nconnection: close\r\n\r\n").await.unwrap();
        let (answer, after) = until_closed(&mut client).await;
        assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("slow answer"), "{answer}");
        assert!(after >= 3 * CLIENT_IDLE, "answered after {after:?}");
    }
}
