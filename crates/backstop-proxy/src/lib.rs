//! HTTP/1.1 reverse proxy for one app's public listener, with an upstream that can be swapped while serving.
//!
//! [`Proxy::switch`] replaces the [`Backend`] atomically: each request picks
//! the backend that is current when it arrives and stays there, so requests
//! already in flight on the old backend finish on it while new ones go to the
//! new one. [`Backend::drained`] tells when the old one has no request left.
//!
//! Not supported: HTTP/2, protocol upgrades (WebSocket), `CONNECT`.

mod backend;
mod body;
mod forward;
mod proxy;

use std::net::SocketAddr;

pub use backend::Backend;
pub use proxy::Proxy;

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}
