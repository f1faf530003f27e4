//! One request's trip: pick the live backend, rewrite the request for it, stream the answer back.
//!
//! **What is retried.** A request is tried again, at most once, on the backend
//! that is current at that moment (after a switch, the new instance), when
//! its upstream connection failed before any response came back (the instance
//! died, reset or closed the connection) and either nothing of it was sent or
//! it has no body (`GET`, `HEAD`, `OPTIONS` as clients send them, and any
//! other request with an empty body): those are replayed from their head, as
//! nginx's `proxy_next_upstream error` does. Unlike nginx's default, an empty
//! `POST` is replayed too: the instance that took it died without answering,
//! and a second instance may run it again, so an app whose bodyless `POST`s
//! must run at most once should give them a body or make them idempotent.
//! When the request failed on a new connection (the instance took it and
//! dropped it without answering: it is dying) and its backend is still the
//! current one (the replacement is not switched in yet), the retry waits for
//! the switch, as long as a request whose connection is refused waits for one
//! (the response timeout, at most 10 s; not at all without one), rather than
//! go straight back: a dying instance's listener can still take the retry's
//! connection and drop it too. If no switch comes in that time, it is retried
//! on the same backend. One that failed on a reused connection is retried at
//! once: that is also how an idle connection closed by a live instance, just
//! as the request went out, looks.
//! Not retried: a request whose body was (partly) sent, since the body is
//! streamed and not kept; a response that had started (its head was passed
//! on, so the client sees the connection cut); an upstream that did not
//! answer within the response timeout (504, since the request may still be
//! running there). A connection that fails before the request is written (an
//! idle connection the backend had closed, a refused connect) is not a retry:
//! nothing was sent, so any request moves on.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::PathAndQuery;
use http::{Method, Request, Response, StatusCode};
use hyper::body::{Body, Incoming};

use crate::access_log::{AccessLog, Entry};
use crate::backend::{Backend, Inflight};
use crate::body::ProxyBody;
use crate::deadline::ResponseTimer;
use crate::upstream::{Failed, Pool, Upstream, is_hop_by_hop};

/// State shared by every connection of one proxy.
#[derive(Default)]
pub(crate) struct Shared {
    pub(crate) current: ArcSwapOption<Backend>,
    /// Idle upstream connections, one pool per worker thread. A connection is registered with the
    /// I/O driver of the worker that opened it; used from another worker, each of its readiness
    /// events would wake that worker first, which then wakes the user across threads.
    pools: Box<[Pool]>,
    /// How long the upstream may take to start its answer, in milliseconds; 0 waits forever.
    pub(crate) response_timeout_ms: AtomicU64,
    /// Woken by every switch, for requests waiting for a backend they can reach.
    pub(crate) switched: tokio::sync::Notify,
    /// Where each request is logged, if anywhere.
    pub(crate) access_log: ArcSwapOption<AccessLog>,
}

/// The longest a request waits for another backend when the current one cannot be reached.
const MAX_HOLD: Duration = Duration::from_secs(10);

impl Shared {
    /// For a proxy with `workers` worker threads.
    pub(crate) fn new(workers: usize) -> Shared {
        Shared { pools: (0..workers.max(1)).map(|_| Pool::default()).collect(), ..Shared::default() }
    }

    /// Claims the current backend for one request.
    ///
    /// The claim is counted first and the backend re-checked after: a request
    /// that raced with `switch` either sees the new backend or is counted on
    /// the old one before the switcher can observe it drained.
    fn acquire(&self) -> Option<Inflight> {
        loop {
            let backend = self.current.load_full()?;
            let inflight = Inflight::start(backend);
            if self.current.load().as_ref().is_some_and(|now| Arc::ptr_eq(now, inflight.backend())) {
                return Some(inflight);
            }
        }
    }

    /// When `failed` cannot be reached: waits until the proxy is switched to another backend
    /// (a restarted instance) and claims that one, or gives up after `hold`.
    async fn other_than(&self, failed: &Arc<Backend>, hold: Duration) -> Option<Inflight> {
        let deadline = tokio::time::Instant::now() + hold;
        loop {
            let notified = self.switched.notified();
            tokio::pin!(notified);
            // Registered before the check, so a switch in between is not missed.
            notified.as_mut().enable();
            match self.current.load().as_ref() {
                Some(now) if !Arc::ptr_eq(now, failed) => return self.acquire(),
                None => return None,
                Some(_) => {}
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }

    /// How long a request whose backend cannot be reached waits for another one: as long as an
    /// answer may take to start, at most [`MAX_HOLD`]; not at all without a response timeout.
    fn hold(&self) -> Duration {
        Duration::from_millis(self.response_timeout_ms.load(Ordering::Relaxed)).min(MAX_HOLD)
    }

    fn is_current_backend(&self, backend: &Arc<Backend>) -> bool {
        self.current.load().as_ref().is_some_and(|now| Arc::ptr_eq(now, backend))
    }

    fn is_current(&self, upstream: &Upstream) -> bool {
        self.current.load().as_ref().is_some_and(|now| upstream.is_for(now))
    }

    /// Keeps an idle upstream connection for the client connections of `worker` to use.
    /// One to a backend switched away from is closed instead: kept, it would
    /// hold the old instance's connection open for nothing.
    fn park(&self, worker: usize, upstream: Upstream) {
        if let Some(pool) = self.pools.get(worker).filter(|_| self.is_current(&upstream)) {
            pool.put(upstream);
        }
    }
}

/// One client connection, as seen by its requests.
pub(crate) struct ClientConn {
    shared: Arc<Shared>,
    /// The worker thread serving the connection, whose pool it takes upstream connections from.
    worker: usize,
    /// The client's IP address, for `X-Forwarded-For`.
    client_ip: Option<HeaderValue>,
    /// Requests started on this connection, for the idle check.
    started: AtomicU64,
    /// What the connection keeps from one request to the next. HTTP/1.1 serves a connection's
    /// requests one after another, so the lock is never contended; it is there for `Sync`.
    slots: Mutex<Slots>,
}

#[derive(Default)]
struct Slots {
    /// The upstream connection this client's last request used, kept for its next one.
    idle: Option<Upstream>,
    /// The timer of the requests' response timeouts; taken out while a request uses it.
    timer: ResponseTimer,
    /// A request is being served: from its first look for an upstream connection until its
    /// response is complete or abandoned.
    serving: bool,
}

/// What a client connection has been doing, as its idle check sees it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Activity {
    /// Requests started so far.
    pub(crate) started: u64,
    /// Whether a request is being served now.
    pub(crate) serving: bool,
}

impl ClientConn {
    pub(crate) fn new(shared: Arc<Shared>, worker: usize, client_ip: Option<HeaderValue>) -> ClientConn {
        ClientConn { shared, worker, client_ip, started: AtomicU64::new(0), slots: Mutex::default() }
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn activity(&self) -> Activity {
        Activity { started: self.started.load(Ordering::Relaxed), serving: self.slots().serving }
    }

    /// Takes back what a request used once its response is complete: its upstream connection,
    /// if it can take another request, and the timer.
    pub(crate) fn put_back(&self, upstream: Option<Upstream>, timer: ResponseTimer) {
        let upstream = upstream.filter(|up| self.shared.is_current(up));
        let spare = {
            let mut slots = self.slots();
            slots.timer = timer;
            slots.serving = false;
            upstream.and_then(|up| slots.idle.replace(up))
        };
        if let Some(spare) = spare {
            self.shared.park(self.worker, spare);
        }
    }

    /// An idle upstream connection to `backend`: this client's own, else one from the pool.
    /// Also hands out the connection's timer into `timer`, the first time for a request.
    fn take_idle(&self, backend: &Backend, timer: &mut Option<ResponseTimer>) -> Option<Upstream> {
        let own = {
            let mut slots = self.slots();
            if timer.is_none() {
                *timer = Some(std::mem::take(&mut slots.timer));
                slots.serving = true;
            }
            slots.idle.take()
        };
        match own {
            Some(up) if up.is_for(backend) => Some(up),
            _ => self.shared.pools.get(self.worker).and_then(|pool| pool.take(backend)),
        }
    }
}

impl Drop for ClientConn {
    fn drop(&mut self) {
        if let Some(up) = self.slots.get_mut().unwrap_or_else(PoisonError::into_inner).idle.take() {
            self.shared.park(self.worker, up);
        }
    }
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_BACKSTOP: HeaderName = HeaderName::from_static("x-backstop");

/// Proxies one request to the current backend; never fails, errors become 5xx answers.
///
/// The request counts in the signals of the backend that answered it (or on whose account the
/// proxy answered 502 or 504): its latency until the response head, and a failure when the client
/// gets a 5xx status. The latency is measured with the monotonic clock (two reads per request,
/// each a few tens of nanoseconds through the vDSO), not a coarse per-worker timestamp: a coarse
/// clock ticks every few milliseconds, too slow for requests that take a tenth of one.
pub(crate) async fn forward(client: Arc<ClientConn>, req: Request<Incoming>) -> Response<ProxyBody> {
    let start = Instant::now();
    // Only this connection's task writes the count (its requests come one at a time): a plain
    // store, not a locked addition.
    client.started.store(client.started.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
    let Some(log) = client.shared.access_log.load_full() else {
        return route(client, req, start).await;
    };
    let (at, method, uri, version) = (SystemTime::now(), req.method().clone(), req.uri().clone(), req.version());
    let client_ip = client.client_ip.clone();
    let response = route(client, req, start).await;
    let status = response.status().as_u16();
    log.record(Entry { at, client: client_ip, method, uri, version, status, latency: start.elapsed() });
    response
}

async fn route(client: Arc<ClientConn>, req: Request<Incoming>, start: Instant) -> Response<ProxyBody> {
    if req.method() == Method::CONNECT {
        return local(StatusCode::METHOD_NOT_ALLOWED, "connect", "CONNECT is not supported\n");
    }
    let Some(inflight) = client.shared.acquire() else {
        return local(StatusCode::SERVICE_UNAVAILABLE, "no-backend", "no live instance\n");
    };
    forward_to(client, req, inflight, start).await
}

/// Sends the request to the claimed backend (or, retrying, to the one current then) and records
/// it in the signals of the backend it ends on.
async fn forward_to(
    client: Arc<ClientConn>,
    req: Request<Incoming>,
    mut inflight: Inflight,
    start: Instant,
) -> Response<ProxyBody> {
    let (parts, body) = req.into_parts();
    let mut body = (!body.is_end_stream()).then_some(body);
    // A body of unknown length (the client's was chunked) goes upstream chunked.
    let chunked = body.is_some() && !parts.headers.contains_key(header::CONTENT_LENGTH);
    let head_request = parts.method == Method::HEAD;
    // The head is encoded once; a request without a body can be sent again from it.
    let mut head = Vec::with_capacity(HEAD_CAPACITY);
    encode_request(&mut head, &parts, client.client_ip.as_ref(), inflight.backend(), chunked);
    drop(parts);
    let replayable = body.is_none();

    let hold = client.shared.hold();
    let mut timer = None;
    let mut retried = false;
    // When the response timeout of the current attempt started: at the request's arrival, and
    // afresh after a wait for another backend and for the retry.
    let mut attempt_start = start;
    loop {
        let backend = inflight.backend();
        let (mut upstream, reused) = match client.take_idle(backend, &mut timer) {
            Some(mut up) => {
                if !up.ready() {
                    // The backend closed it while it was idle; nothing was sent.
                    continue;
                }
                (up, true)
            }
            None => match Upstream::connect(backend).await {
                Ok(up) => (up, false),
                Err(e) => {
                    // Nothing was sent, so any request may go to the instance that replaces this
                    // one (a crashed instance being restarted) if it comes in time.
                    if !hold.is_zero() {
                        if let Some(next) = client.shared.other_than(backend, hold).await {
                            inflight = next;
                            attempt_start = Instant::now();
                            continue;
                        }
                    }
                    let answer = bad_gateway(backend, &e);
                    return answered_here(&client, inflight, timer, start, answer);
                }
            },
        };
        let timeout_ms = client.shared.response_timeout_ms.load(Ordering::Relaxed);
        let send = upstream.send(&head, body.take(), chunked, head_request);
        let sent = if timeout_ms == 0 {
            send.await
        } else {
            let deadline = tokio::time::Instant::from_std(attempt_start) + Duration::from_millis(timeout_ms);
            match timer.get_or_insert_with(ResponseTimer::default).within(deadline, send).await {
                Some(sent) => sent,
                // The connection is dropped with its late answer; the request counts as done.
                None => {
                    let answer = gateway_timeout(backend, timeout_ms);
                    return answered_here(&client, inflight, timer, start, answer);
                }
            }
        };
        match sent {
            Ok(answer) => {
                backend.meter().record(start.elapsed(), answer.status.is_server_error());
                let timer = timer.unwrap_or_default();
                let body = ProxyBody::upstream(upstream, answer.framing, client, inflight.answered(), timer);
                let mut response = Response::new(body);
                *response.status_mut() = answer.status;
                *response.headers_mut() = answer.headers;
                return response;
            }
            Err(Failed { error, unsent, body: back }) => {
                if unsent {
                    body = back;
                    if reused {
                        // Not sent: an idle connection the backend had closed. Try another.
                        continue;
                    }
                }
                if retried || !(unsent || replayable) || !error.connection_lost() {
                    let answer = bad_gateway(backend, &error);
                    return answered_here(&client, inflight, timer, start, answer);
                }
                retried = true;
                tracing::info!(backend = backend.label(), error = %chain(&error), "upstream failed before answering; retrying once");
                // On whichever backend is current now: after a switch, the new instance.
                let next = if !reused && !hold.is_zero() && client.shared.is_current_backend(backend) {
                    // A new connection taken and dropped without an answer: the instance is
                    // dying, and its listener may still take the retry's connection before
                    // it goes. Wait for its replacement instead, as a refused connection does.
                    match client.shared.other_than(backend, hold).await {
                        Some(next) => Some(next),
                        None => client.shared.acquire(),
                    }
                } else {
                    client.shared.acquire()
                };
                let Some(next) = next else {
                    let answer = bad_gateway(inflight.backend(), &error);
                    return answered_here(&client, inflight, timer, start, answer);
                };
                inflight = next;
                attempt_start = Instant::now();
            }
        }
    }
}

/// Room for a typical request head, so that encoding it does not grow the buffer.
const HEAD_CAPACITY: usize = 512;

/// Ends a request the proxy answered itself on `inflight`'s account: records it, gives the timer
/// back to the connection, and stops counting it in flight.
fn answered_here(
    client: &ClientConn,
    inflight: Inflight,
    timer: Option<ResponseTimer>,
    start: Instant,
    answer: Response<ProxyBody>,
) -> Response<ProxyBody> {
    inflight.backend().meter().record(start.elapsed(), answer.status().is_server_error());
    if let Some(timer) = timer {
        client.put_back(None, timer);
    }
    answer
}

/// Encodes a client's request head for the upstream into `out`: origin-form target, HTTP/1.1,
/// hop-by-hop fields left out (and those the `Connection` field names), `X-Forwarded-*` added,
/// a `Host` if the client sent none (HTTP/1.0), and `Transfer-Encoding: chunked` if `chunked`.
fn encode_request(
    out: &mut Vec<u8>,
    parts: &http::request::Parts,
    client_ip: Option<&HeaderValue>,
    backend: &Backend,
    chunked: bool,
) {
    let headers = &parts.headers;
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b' ');
    // Origin-form for the upstream: the connection already says which host it is.
    out.extend_from_slice(parts.uri.path_and_query().map_or("/", PathAndQuery::as_str).as_bytes());
    // Upstream connections are keep-alive HTTP/1.1 whatever the client speaks.
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let seen = Seen::scan(headers);
    let listed = if seen.connection { connection_listed(headers) } else { Vec::new() };
    for (name, value) in headers {
        let dropped = (seen.connection || seen.hop_by_hop)
            && (*name == header::CONNECTION || is_hop_by_hop(name) || listed.contains(name));
        // Every earlier X-Forwarded-For goes into the one written below.
        if dropped || (seen.forwarded_for && client_ip.is_some() && *name == X_FORWARDED_FOR) {
            continue;
        }
        field(out, name.as_str(), value.as_bytes());
    }
    if let Some(ip) = client_ip {
        out.extend_from_slice(b"x-forwarded-for: ");
        if seen.forwarded_for {
            for earlier in headers.get_all(X_FORWARDED_FOR) {
                out.extend_from_slice(earlier.as_bytes());
                out.extend_from_slice(b", ");
            }
        }
        out.extend_from_slice(ip.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !seen.forwarded_proto {
        out.extend_from_slice(b"x-forwarded-proto: http\r\n");
    }
    match &seen.host {
        Some(host) if !seen.forwarded_host => field(out, "x-forwarded-host", host.as_bytes()),
        Some(_) => {}
        None => {
            if let Some(host) = backend.host_header() {
                field(out, "host", host.as_bytes());
            }
        }
    }
    if chunked {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

fn field(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// The fields a `Connection` field names, which are for the client's connection only.
fn connection_listed(headers: &HeaderMap) -> Vec<HeaderName> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|token| HeaderName::from_bytes(token.trim().as_bytes()).ok())
        .collect()
}

fn gateway_timeout(backend: &Backend, ms: u64) -> Response<ProxyBody> {
    tracing::warn!(backend = backend.label(), addr = %backend.addr(), timeout_ms = ms, "upstream did not answer in time");
    local(StatusCode::GATEWAY_TIMEOUT, "gateway-timeout", "gateway timeout\n")
}

fn bad_gateway(backend: &Backend, error: &dyn std::error::Error) -> Response<ProxyBody> {
    tracing::warn!(backend = backend.label(), addr = %backend.addr(), error = %chain(error), "upstream request failed");
    local(StatusCode::BAD_GATEWAY, "bad-gateway", "bad gateway\n")
}

/// An error with its causes, for one log line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// What one pass over a message's headers found: which of the headers the
/// proxy removes or adds are there. Most messages have none of the hop-by-hop
/// ones, so the common case costs one walk over the headers and no lookup
/// by name.
#[derive(Default)]
struct Seen {
    /// A `Connection` header, which may name more headers to remove.
    connection: bool,
    /// Any other hop-by-hop header.
    hop_by_hop: bool,
    forwarded_for: bool,
    forwarded_proto: bool,
    forwarded_host: bool,
    /// The first `Host` value.
    host: Option<HeaderValue>,
}

impl Seen {
    fn scan(headers: &HeaderMap) -> Seen {
        let mut seen = Seen::default();
        for name in headers.keys() {
            if *name == header::CONNECTION {
                seen.connection = true;
            } else if *name == header::HOST {
                seen.host = headers.get(header::HOST).cloned();
            } else if is_hop_by_hop(name) {
                seen.hop_by_hop = true;
            } else if *name == X_FORWARDED_FOR {
                seen.forwarded_for = true;
            } else if *name == X_FORWARDED_PROTO {
                seen.forwarded_proto = true;
            } else if *name == X_FORWARDED_HOST {
                seen.forwarded_host = true;
            }
        }
        seen
    }
}

/// A short plain-text answer made by the proxy itself.
fn local(status: StatusCode, tag: &'static str, text: &'static str) -> Response<ProxyBody> {
    let mut response = Response::new(ProxyBody::full(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    headers.insert(X_BACKSTOP, HeaderValue::from_static(tag));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(HeaderName::from_static(name), HeaderValue::from_static(value));
        }
        map
    }

    /// The request head `encode_request` writes for `pairs`, one line per field after the request
    /// line, sorted.
    fn encoded(method: &str, uri: &str, pairs: &[(&'static str, &'static str)], chunked: bool) -> Vec<String> {
        let mut req = Request::builder().method(method).uri(uri);
        for (name, value) in pairs {
            req = req.header(*name, *value);
        }
        let (parts, ()) = req.body(()).unwrap().into_parts();
        let backend = Backend::new(std::net::SocketAddr::from(([127, 0, 0, 1], 8080)), "test");
        let ip = HeaderValue::from_static("10.0.0.9");
        let mut out = Vec::new();
        encode_request(&mut out, &parts, Some(&ip), &backend, chunked);
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with("\r\n\r\n"), "{text:?}");
        let mut lines: Vec<String> = text.trim_end().split("\r\n").map(str::to_owned).collect();
        lines[1..].sort_unstable();
        lines
    }

    #[test]
    fn hop_by_hop_headers_and_connection_listed_ones_are_left_out() {
        let lines = encoded(
            "GET",
            "/a?b=1",
            &[
                ("connection", "keep-alive, X-Custom"),
                ("connection", "x-other"),
                ("keep-alive", "timeout=5"),
                ("x-custom", "1"),
                ("x-other", "2"),
                ("te", "trailers"),
                ("upgrade", "websocket"),
                ("proxy-connection", "keep-alive"),
                ("transfer-encoding", "chunked"),
                ("x-kept", "3"),
                ("host", "example.test"),
            ],
            false,
        );
        let expected = [
            "GET /a?b=1 HTTP/1.1",
            "host: example.test",
            "x-forwarded-for: 10.0.0.9",
            "x-forwarded-host: example.test",
            "x-forwarded-proto: http",
            "x-kept: 3",
        ];
        assert_eq!(lines, expected);
    }

    #[test]
    fn request_heads_are_rewritten_for_the_upstream() {
        type Case =
            (&'static str, &'static str, &'static [(&'static str, &'static str)], bool, &'static [&'static str]);
        let cases: [Case; 4] = [
            (
                "GET",
                "http://app.test/x?y",
                &[("host", "app.test")],
                false,
                &[
                    "GET /x?y HTTP/1.1",
                    "host: app.test",
                    "x-forwarded-for: 10.0.0.9",
                    "x-forwarded-host: app.test",
                    "x-forwarded-proto: http",
                ],
            ),
            (
                "POST",
                "/",
                &[
                    ("x-forwarded-for", "1.1.1.1"),
                    ("x-forwarded-for", "2.2.2.2"),
                    ("x-forwarded-proto", "https"),
                    ("x-forwarded-host", "edge.test"),
                    ("host", "app.test"),
                ],
                true,
                &[
                    "POST / HTTP/1.1",
                    "host: app.test",
                    "transfer-encoding: chunked",
                    "x-forwarded-for: 1.1.1.1, 2.2.2.2, 10.0.0.9",
                    "x-forwarded-host: edge.test",
                    "x-forwarded-proto: https",
                ],
            ),
            // HTTP/1.0 without a Host: the backend's address.
            (
                "HEAD",
                "/",
                &[],
                false,
                &["HEAD / HTTP/1.1", "host: 127.0.0.1:8080", "x-forwarded-for: 10.0.0.9", "x-forwarded-proto: http"],
            ),
            (
                "PUT",
                "/p",
                &[("content-length", "3"), ("host", "a")],
                false,
                &[
                    "PUT /p HTTP/1.1",
                    "content-length: 3",
                    "host: a",
                    "x-forwarded-for: 10.0.0.9",
                    "x-forwarded-host: a",
                    "x-forwarded-proto: http",
                ],
            ),
        ];
        for (method, uri, pairs, chunked, expected) in cases {
            assert_eq!(encoded(method, uri, pairs, chunked), expected, "{method} {uri} {pairs:?}");
        }
    }

    #[test]
    fn one_pass_sees_each_header_the_proxy_rewrites() {
        type Pairs = &'static [(&'static str, &'static str)];
        let cases: [(Pairs, [bool; 5], Option<&str>); 5] = [
            (&[], [false; 5], None),
            (&[("host", "a.test"), ("accept", "*/*")], [false; 5], Some("a.test")),
            (&[("connection", "close")], [true, false, false, false, false], None),
            (&[("transfer-encoding", "chunked"), ("te", "trailers")], [false, true, false, false, false], None),
            (
                &[("x-forwarded-for", "1.1.1.1"), ("x-forwarded-proto", "https"), ("x-forwarded-host", "e.test")],
                [false, false, true, true, true],
                None,
            ),
        ];
        for (pairs, flags, host) in cases {
            let seen = Seen::scan(&headers(pairs));
            let got = [seen.connection, seen.hop_by_hop, seen.forwarded_for, seen.forwarded_proto, seen.forwarded_host];
            assert_eq!(got, flags, "{pairs:?}");
            assert_eq!(seen.host.as_ref().map(|h| h.to_str().unwrap()), host, "{pairs:?}");
        }
    }
}
