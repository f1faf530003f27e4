//! The response body sent to clients: an upstream body streamed through, or a short local answer.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

use crate::backend::Inflight;
use crate::deadline::ResponseTimer;
use crate::forward::ClientConn;
use crate::upstream::{Framing, Upstream};

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
/// It reads the body from the upstream connection it arrives on. When it is
/// dropped (hyper drops it once the last frame is taken, or when the client
/// goes away) the request stops counting as in flight, and the connection goes
/// back to the client connection for its next request if the body was
/// complete and the backend keeps the connection open.
struct Streamed {
    framing: Framing,
    /// `None` once the connection failed.
    upstream: Option<Upstream>,
    client: Arc<ClientConn>,
    /// The client connection's timer, given back with the connection.
    timer: ResponseTimer,
    _inflight: Inflight,
}

impl ProxyBody {
    pub(crate) fn upstream(
        upstream: Upstream,
        framing: Framing,
        client: Arc<ClientConn>,
        inflight: Inflight,
        timer: ResponseTimer,
    ) -> ProxyBody {
        ProxyBody {
            kind: Kind::Upstream(Streamed { framing, upstream: Some(upstream), client, timer, _inflight: inflight }),
        }
    }

    pub(crate) fn full(bytes: Bytes) -> ProxyBody {
        ProxyBody { kind: Kind::Full(Some(bytes)) }
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match &mut self.get_mut().kind {
            Kind::Upstream(s) => {
                let Some(upstream) = &mut s.upstream else { return Poll::Ready(None) };
                let next = upstream.poll_body(&mut s.framing, cx);
                if let Poll::Ready(Some(Err(_))) = &next {
                    s.upstream = None;
                }
                next.map(|next| next.map(|data| data.map(Frame::data)))
            }
            Kind::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Upstream(s) => s.framing.is_done(),
            Kind::Full(bytes) => bytes.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Upstream(s) => s.framing.exact().map_or_else(SizeHint::default, SizeHint::with_exact),
            Kind::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
        }
    }
}

impl Drop for Streamed {
    fn drop(&mut self) {
        // An unfinished body leaves the connection mid-response: it closes.
        let complete = self.framing.is_done();
        let upstream = self.upstream.take().filter(|up| complete && up.reusable());
        self.client.put_back(upstream, std::mem::take(&mut self.timer));
    }
}
