//! Bodies: the response body sent to clients (an upstream body streamed
//! through, or a short local answer) and the request body sent upstream (the
//! client's, or none for a request without one, which can then be sent again).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};

use crate::backend::Inflight;
use crate::deadline::ResponseTimer;
use crate::forward::ClientConn;
use crate::upstream::Upstream;

/// Response body of the proxy.
pub(crate) struct ProxyBody {
    kind: Kind,
}

enum Kind {
    Upstream(Streamed),
    Full(Option<Bytes>),
}

/// An upstream response body together with everything the request holds.
///
/// It drives the upstream connection the body arrives on. When it is dropped
/// (hyper drops it once the last frame is taken, or when the client goes
/// away) the request stops counting as in flight, and the connection goes back
/// to the client connection for its next request if the body was complete.
struct Streamed {
    body: Incoming,
    /// The body reported its end (for a chunked body, `is_end_stream` never does).
    ended: bool,
    upstream: Option<Upstream>,
    client: Arc<ClientConn>,
    /// The client connection's timer, given back with the connection.
    timer: ResponseTimer,
    _inflight: Inflight,
}

impl ProxyBody {
    pub(crate) fn upstream(
        body: Incoming,
        upstream: Upstream,
        client: Arc<ClientConn>,
        inflight: Inflight,
        timer: ResponseTimer,
    ) -> ProxyBody {
        ProxyBody {
            kind: Kind::Upstream(Streamed {
                body,
                ended: false,
                upstream: Some(upstream),
                client,
                timer,
                _inflight: inflight,
            }),
        }
    }

    pub(crate) fn full(bytes: Bytes) -> ProxyBody {
        ProxyBody { kind: Kind::Full(Some(bytes)) }
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match &mut self.get_mut().kind {
            Kind::Upstream(s) => s.poll_frame(cx),
            Kind::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Upstream(s) => s.body.is_end_stream(),
            Kind::Full(bytes) => bytes.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Upstream(s) => s.body.size_hint(),
            Kind::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
        }
    }
}

/// The body of a request sent upstream.
pub(crate) enum RequestBody {
    /// The client's body, streamed through.
    Client(Incoming),
    /// No body: the request can be replayed from its head alone.
    Empty,
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            RequestBody::Client(body) => Pin::new(body).poll_frame(cx),
            RequestBody::Empty => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            RequestBody::Client(body) => body.is_end_stream(),
            RequestBody::Empty => true,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            RequestBody::Client(body) => body.size_hint(),
            RequestBody::Empty => SizeHint::with_exact(0),
        }
    }
}

impl Streamed {
    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let mut frame = Pin::new(&mut self.body).poll_frame(cx);
        if frame.is_pending() {
            // The connection reads what the body is waiting for.
            if let Some(upstream) = &mut self.upstream {
                if !upstream.poll_drive(cx) {
                    self.upstream = None;
                }
            }
            frame = Pin::new(&mut self.body).poll_frame(cx);
        }
        if let Poll::Ready(None) = frame {
            self.ended = true;
        }
        frame
    }
}

impl Drop for Streamed {
    fn drop(&mut self) {
        // An unfinished body leaves the connection mid-response: it closes.
        let complete = self.ended || self.body.is_end_stream();
        let upstream = self.upstream.take().filter(|_| complete);
        self.client.put_back(upstream, std::mem::take(&mut self.timer));
    }
}
