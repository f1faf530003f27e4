//! Keep-alive HTTP/1.1 connections to backends, driven by the requests that use them.
//!
//! A connection has no task of its own: while a request uses it, the request's
//! future and then its response body poll it, all inside the client
//! connection's task. That saves a task wake-up and a cross-thread hand-off per
//! request compared with a pooled client whose connections run in their own
//! tasks. Between requests a connection rests, unpolled, in the client
//! connection's slot or in its worker's [`Pool`]; one that the backend closed
//! meanwhile shows up as closed when it is polled again and is thrown away.

use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper::client::conn::{TrySendError, http1};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::backend::Backend;
use crate::body::RequestBody;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle connections one worker keeps for client connections to come, across all backends.
const POOL_MAX_IDLE: usize = 1024;

/// One HTTP/1.1 connection to a backend.
pub(crate) struct Upstream {
    backend: Arc<Backend>,
    sender: http1::SendRequest<RequestBody>,
    /// `None` once closed. Dropping it at once fails a request still queued
    /// on it, handing the request back, instead of leaving it waiting.
    /// Boxed: it is large, and an `Upstream` moves a few times per request.
    conn: Option<Box<http1::Connection<TokioIo<TcpStream>, RequestBody>>>,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    #[error("cannot connect")]
    Connect(#[source] io::Error),
    #[error("connecting timed out")]
    Timeout,
    #[error("HTTP handshake failed")]
    Handshake(#[source] hyper::Error),
    #[error("new connection closed before the request was sent")]
    Closed,
}

impl Upstream {
    pub(crate) async fn connect(backend: &Arc<Backend>) -> Result<Upstream, ConnectError> {
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(backend.addr()))
            .await
            .map_err(|_| ConnectError::Timeout)?
            .map_err(ConnectError::Connect)?;
        stream.set_nodelay(true).map_err(ConnectError::Connect)?;
        let (sender, conn) = http1::handshake(TokioIo::new(stream)).await.map_err(ConnectError::Handshake)?;
        Ok(Upstream { backend: backend.clone(), sender, conn: Some(Box::new(conn)) })
    }

    pub(crate) fn is_for(&self, backend: &Backend) -> bool {
        std::ptr::eq(&*self.backend, backend)
    }

    /// Lets the connection do its I/O; false once it has closed.
    pub(crate) fn poll_drive(&mut self, cx: &mut Context<'_>) -> bool {
        if let Some(conn) = &mut self.conn {
            if let Poll::Ready(result) = Pin::new(&mut **conn).poll(cx) {
                if let Err(e) = result {
                    tracing::debug!(backend = self.backend.label(), error = %e, "upstream connection failed");
                }
                self.conn = None;
            }
        }
        self.conn.is_some()
    }

    /// Whether the connection takes a request now; false if it closed.
    ///
    /// The connection is driven first, so a close the backend sent while it
    /// sat idle (an instance that exited) is seen here, before a request is
    /// written into it and lost. Does not wait: a fresh or idle connection
    /// takes a request at once, anything else is not worth waiting for.
    pub(crate) async fn ready(&mut self) -> bool {
        poll_fn(|cx| {
            if !self.poll_drive(cx) {
                return Poll::Ready(false);
            }
            Poll::Ready(matches!(self.sender.poll_ready(cx), Poll::Ready(Ok(()))))
        })
        .await
    }

    /// Sends `req` and waits for the response head, driving the connection meanwhile.
    /// The request comes back in the error if it was not sent at all.
    pub(crate) async fn send(
        &mut self,
        req: Request<RequestBody>,
    ) -> Result<Response<Incoming>, TrySendError<Request<RequestBody>>> {
        let response = self.sender.try_send_request(req);
        let mut response = std::pin::pin!(response);
        poll_fn(|cx| {
            if let Poll::Ready(result) = response.as_mut().poll(cx) {
                return Poll::Ready(result);
            }
            // A connection that closed has failed the response future: poll it once more.
            self.poll_drive(cx);
            response.as_mut().poll(cx)
        })
        .await
    }
}

/// Idle connections that outlived the client connection that last used them.
#[derive(Default)]
pub(crate) struct Pool {
    idle: Mutex<Vec<Upstream>>,
}

impl Pool {
    /// An idle connection to `backend`, if any. Connections to other backends
    /// are dropped on the way: only the current backend gets new requests.
    pub(crate) fn take(&self, backend: &Backend) -> Option<Upstream> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(up) = idle.pop() {
            if up.is_for(backend) {
                return Some(up);
            }
        }
        None
    }

    pub(crate) fn put(&self, up: Upstream) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < POOL_MAX_IDLE {
            idle.push(up);
        }
    }
}
