//! The response body sent to clients: an upstream body streamed through, or a short local answer.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};

use crate::backend::Inflight;

/// Response body of the proxy.
///
/// An upstream body carries the request's [`Inflight`] claim, so the backend
/// stops counting the request only when hyper has taken the last frame or the
/// client connection dropped the body.
pub(crate) struct ProxyBody {
    kind: Kind,
}

enum Kind {
    Upstream { body: Incoming, _inflight: Inflight },
    Full(Option<Bytes>),
}

impl ProxyBody {
    pub(crate) fn upstream(body: Incoming, inflight: Inflight) -> ProxyBody {
        ProxyBody { kind: Kind::Upstream { body, _inflight: inflight } }
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
            Kind::Upstream { body, .. } => Pin::new(body).poll_frame(cx),
            Kind::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Upstream { body, .. } => body.is_end_stream(),
            Kind::Full(bytes) => bytes.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Upstream { body, .. } => body.size_hint(),
            Kind::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
        }
    }
}
