//! HTTP/1.1 reverse proxy for one app's public listener, with an upstream that can be swapped while serving.
//!
//! [`Proxy::switch`] replaces the [`Backend`] atomically: each request picks
//! the backend that is current when it arrives and stays there, so requests
//! already in flight on the old backend finish on it while new ones go to the
//! new one. [`Backend::drained`] tells when the old one has no request left:
//! a request counts until its response body has been handed over completely
//! or the client went away.
//!
//! Built to keep up with nginx in front of the same app:
//! - `proxy`: worker threads of its own, each a single-threaded tokio runtime;
//!   one accepts and hands each connection to the least busy worker.
//! - `upstream`: the crate's own small HTTP/1.1 client (hyper serves only the
//!   client side): the request head encoded once into one buffer and written
//!   in one call, the response head parsed in place with `httparse`, no
//!   channel or task between the request and its connection, so a request is
//!   served without a wake-up of another task or thread. Idle keep-alive
//!   connections are pooled per worker: a connection stays with the worker
//!   whose I/O driver it is registered with.
//! - `deadline`: the response timeout on one timer per client connection,
//!   re-armed about once per timeout period rather than twice per request; the
//!   connection's idle check (`proxy`) replaces hyper's per-request
//!   header-read timer. A timer registered per request costs instructions, and
//!   registering one earlier than the wheel's next expiry wakes the worker's
//!   I/O driver through its eventfd, one extra system call and wake-up for
//!   about every fourth request under load.
//! - `forward`: the request and response rewriting; bodies stream through.
//!   A request without a body whose instance fails before answering (it died
//!   mid-request) is retried once on the backend current then; a request
//!   whose body was sent, or whose response had started, is not (the
//!   `forward` module docs list exactly what is and is not retried).
//!
//! - `access_log`: off unless set; when on, one bounded-queue hand-off per
//!   request to a writer thread, dropped and counted when the queue is full.
//!
//! - `meter`: per-revision requests, failures and latency histogram, two
//!   atomic additions per request (three when it failed), in the worker's own
//!   shard of the meter so that workers do not contend for its cache lines.
//!
//! Not supported: HTTP/2, protocol upgrades (WebSocket), `CONNECT`.

mod access_log;
mod backend;
mod body;
mod deadline;
mod forward;
mod meter;
mod proxy;
mod traffic;
mod upstream;

use std::net::SocketAddr;

pub use access_log::{ACCESS_LOG_QUEUE, AccessLog};
pub use backend::Backend;
pub use meter::Meter;
pub use proxy::Proxy;
pub use traffic::ProxyTraffic;

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the proxy worker threads for {addr}")]
    Start {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}
