//! A small HTTP/1.1 client for the backends: keep-alive connections driven by the requests that use them.
//!
//! A connection has no task of its own: a request writes its head (encoded
//! once, in one buffer, by `forward`) and reads the response head in the
//! client connection's task, and the response body then reads the rest as the
//! client's connection asks for it. Between requests a connection rests,
//! unpolled, in the client connection's slot or in its worker's [`Pool`]; one
//! that the backend closed meanwhile shows up as closed when it is checked
//! before its next request ([`Upstream::ready`]) and is thrown away.
//!
//! Response heads are parsed with `httparse` into the header map handed to the
//! client, whose values share the bytes read from the socket. Bounds: a head of
//! at most [`MAX_HEAD`] bytes and [`MAX_HEADERS`] fields, a chunk-size line of
//! at most [`MAX_CHUNK_LINE`] bytes, trailers of at most [`MAX_TRAILERS`] bytes
//! (read and dropped). Anything past them, and anything that does not parse,
//! fails the request with 502, without a retry: the backend answered, wrongly.
//!
//! Bodies: the request's is sent as its `Content-Length` says, or chunked when
//! the client's request had none; the response's is read by `Content-Length`,
//! chunked, or (neither) until the backend closes, and handed on as the bytes
//! arrive. A response that comes before the request body was sent in full is
//! passed on and its connection closed after it.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use http::StatusCode;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::body::{Body, Incoming};
use tokio::io::AsyncWrite;
use tokio::net::TcpStream;

use crate::backend::Backend;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle connections one worker keeps for client connections to come, across all backends.
const POOL_MAX_IDLE: usize = 1024;
/// The largest response head (status line and header fields) taken from a backend.
pub(crate) const MAX_HEAD: usize = 64 * 1024;
/// The most header fields in one response head.
pub(crate) const MAX_HEADERS: usize = 128;
/// The longest chunk-size line (with its extensions) of a chunked response body.
pub(crate) const MAX_CHUNK_LINE: usize = 4 * 1024;
/// The most bytes of trailer fields after a chunked body; they are read and dropped.
pub(crate) const MAX_TRAILERS: usize = 64 * 1024;
/// How much room a read from a backend is given.
const READ_SIZE: usize = 16 * 1024;

/// One HTTP/1.1 connection to a backend.
pub(crate) struct Upstream {
    backend: Arc<Backend>,
    stream: TcpStream,
    /// Bytes read from the backend and not consumed yet.
    buf: BytesMut,
    /// The backend keeps the connection open after the current response.
    keep_alive: bool,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    #[error("cannot connect")]
    Connect(#[source] io::Error),
    #[error("connecting timed out")]
    Timeout,
}

/// Why a request got no response head.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SendError {
    #[error("writing the request failed")]
    Write(#[source] io::Error),
    #[error("reading the response failed")]
    Read(#[source] io::Error),
    #[error("the connection closed before a complete response head")]
    Closed,
    #[error("reading the request body from the client failed")]
    ClientBody(#[source] hyper::Error),
    #[error("invalid response head: {0}")]
    Invalid(&'static str),
    #[error("invalid response head")]
    Parse(#[source] httparse::Error),
    #[error("response head larger than {MAX_HEAD} bytes or {MAX_HEADERS} fields")]
    TooLarge,
}

impl SendError {
    /// The connection broke before an answer, as when the instance dies mid-request: a request
    /// that can be sent again is. A backend that answered wrongly is not asked again.
    pub(crate) fn connection_lost(&self) -> bool {
        matches!(self, SendError::Write(_) | SendError::Read(_) | SendError::Closed)
    }
}

/// A request that got no response head.
pub(crate) struct Failed {
    pub(crate) error: SendError,
    /// Nothing of the request was written; its body, if it had one, comes back untouched.
    pub(crate) unsent: bool,
    pub(crate) body: Option<Incoming>,
}

/// A response head, hop-by-hop fields removed, and how its body is framed.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) framing: Framing,
}

/// How the rest of a response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// This many bytes remain.
    Length(u64),
    Chunked(Chunk),
    /// Until the backend closes the connection.
    UntilClose,
    /// Complete.
    Done,
}

/// Where a chunked body's decoding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chunk {
    /// Expecting a chunk-size line.
    Size,
    /// This many bytes of the chunk's data remain.
    Data(u64),
    /// Expecting the CRLF after a chunk's data.
    DataEnd,
    /// After the last chunk: trailer fields until an empty line, this many bytes of them so far.
    Trailers(usize),
}

impl Framing {
    pub(crate) fn is_done(&self) -> bool {
        matches!(self, Framing::Done | Framing::Length(0))
    }

    /// The exact length of the rest, when known.
    pub(crate) fn exact(&self) -> Option<u64> {
        match self {
            Framing::Length(n) => Some(*n),
            Framing::Done => Some(0),
            _ => None,
        }
    }
}

/// What one step of decoding a body from buffered bytes gave.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Data(Bytes),
    /// More bytes are needed from the connection.
    More,
    End,
}

/// A response body that breaks its framing.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    #[error("invalid chunked response body: {0}")]
    Chunked(&'static str),
    #[error("the backend closed the connection before the end of the response body")]
    Truncated,
}

impl From<BodyError> for io::Error {
    fn from(e: BodyError) -> io::Error {
        let kind = match e {
            BodyError::Chunked(_) => io::ErrorKind::InvalidData,
            BodyError::Truncated => io::ErrorKind::UnexpectedEof,
        };
        io::Error::new(kind, e)
    }
}

impl Upstream {
    pub(crate) async fn connect(backend: &Arc<Backend>) -> Result<Upstream, ConnectError> {
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(backend.addr()))
            .await
            .map_err(|_| ConnectError::Timeout)?
            .map_err(ConnectError::Connect)?;
        stream.set_nodelay(true).map_err(ConnectError::Connect)?;
        Ok(Upstream { backend: backend.clone(), stream, buf: BytesMut::new(), keep_alive: true })
    }

    pub(crate) fn is_for(&self, backend: &Backend) -> bool {
        std::ptr::eq(&*self.backend, backend)
    }

    /// Whether the connection can take another request once its current response is read.
    pub(crate) fn reusable(&self) -> bool {
        self.keep_alive && self.buf.is_empty()
    }

    /// Whether an idle connection takes a request now; false if the backend closed it (or sent
    /// something unasked). Does not wait, and makes no system call unless the worker's I/O
    /// driver saw the socket become readable since the last read, which left it drained.
    pub(crate) fn ready(&mut self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        self.make_room();
        match self.stream.try_read_buf(&mut self.buf) {
            Err(e) => e.kind() == io::ErrorKind::WouldBlock,
            // Closed, or bytes nobody asked for.
            Ok(_) => false,
        }
    }

    /// Room in the buffer for a read; the space of bytes taken out is reused once they are dropped.
    fn make_room(&mut self) {
        if self.buf.capacity() - self.buf.len() < READ_SIZE / 4 {
            self.buf.reserve(READ_SIZE);
        }
    }

    /// Reads what the backend sent into the buffer; `Ok(0)` when it closed.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        self.make_room();
        tokio_util::io::poll_read_buf(Pin::new(&mut self.stream), cx, &mut self.buf)
    }

    /// Writes `bytes` in full.
    fn poll_write_all(&mut self, cx: &mut Context<'_>, bytes: &mut impl Buf) -> Poll<io::Result<()>> {
        while bytes.has_remaining() {
            let n = ready!(Pin::new(&mut self.stream).poll_write(cx, bytes.chunk()))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            bytes.advance(n);
        }
        Poll::Ready(Ok(()))
    }

    /// Sends a request, its `head` encoded in full and its `body` (framed chunked if `chunked`),
    /// and waits for the response head. `head_request`: the request is a `HEAD`, whose response
    /// has no body whatever its fields say.
    pub(crate) async fn send(
        &mut self,
        head: &[u8],
        body: Option<Incoming>,
        chunked: bool,
        head_request: bool,
    ) -> Result<Head, Failed> {
        let mut out = head;
        if let Err(e) = poll_fn(|cx| self.poll_write_all(cx, &mut out)).await {
            return Err(Failed { error: SendError::Write(e), unsent: out.len() == head.len(), body });
        }
        let sent_early = match body {
            Some(mut body) => match self.send_body(&mut body, chunked, head_request).await {
                Ok(early) => early,
                Err(error) => return Err(Failed { error, unsent: false, body: None }),
            },
            None => None,
        };
        let head = match sent_early {
            Some(head) => {
                // The answer came before the whole request body: the connection is mid-request.
                self.keep_alive = false;
                Ok(head)
            }
            None => poll_fn(|cx| self.poll_head(cx, head_request)).await,
        };
        head.map_err(|error| Failed { error, unsent: false, body: None })
    }

    /// Streams the request body; the response head if it came before the body was sent in full.
    async fn send_body(
        &mut self,
        body: &mut Incoming,
        chunked: bool,
        head_request: bool,
    ) -> Result<Option<Head>, SendError> {
        let mut pending: Option<Bytes> = None;
        let mut finished = false;
        poll_fn(|cx| {
            loop {
                if let Some(out) = &mut pending {
                    match self.poll_write_all(cx, out) {
                        Poll::Ready(Ok(())) => pending = None,
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(SendError::Write(e))),
                        Poll::Pending => return self.poll_head(cx, head_request).map(|head| head.map(Some)),
                    }
                }
                if finished {
                    return Poll::Ready(Ok(None));
                }
                match Pin::new(&mut *body).poll_frame(cx) {
                    Poll::Ready(Some(Ok(frame))) => {
                        if let Ok(data) = frame.into_data() {
                            if !data.is_empty() {
                                pending = Some(if chunked { chunk(&data) } else { data });
                            }
                        }
                    }
                    Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(SendError::ClientBody(e))),
                    Poll::Ready(None) => {
                        finished = true;
                        if chunked {
                            pending = Some(Bytes::from_static(b"0\r\n\r\n"));
                        }
                    }
                    Poll::Pending => return self.poll_head(cx, head_request).map(|head| head.map(Some)),
                }
            }
        })
        .await
    }

    /// Reads until a complete response head is buffered, and parses it.
    fn poll_head(&mut self, cx: &mut Context<'_>, head_request: bool) -> Poll<Result<Head, SendError>> {
        loop {
            if !self.buf.is_empty() {
                if let Some(parsed) = parse_head(&mut self.buf, head_request)? {
                    self.keep_alive = parsed.keep_alive;
                    return Poll::Ready(Ok(parsed.head));
                }
                if self.buf.len() >= MAX_HEAD {
                    return Poll::Ready(Err(SendError::TooLarge));
                }
            }
            if ready!(self.poll_fill(cx)).map_err(SendError::Read)? == 0 {
                return Poll::Ready(Err(SendError::Closed));
            }
        }
    }

    /// The next piece of a response body framed by `framing`; `None` at its end.
    pub(crate) fn poll_body(&mut self, framing: &mut Framing, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        loop {
            match decode(framing, &mut self.buf) {
                Ok(Step::Data(bytes)) => return Poll::Ready(Some(Ok(bytes))),
                Ok(Step::End) => return Poll::Ready(None),
                Ok(Step::More) => {}
                Err(e) => {
                    self.keep_alive = false;
                    return Poll::Ready(Some(Err(e.into())));
                }
            }
            match ready!(self.poll_fill(cx)) {
                Ok(0) if *framing == Framing::UntilClose => {
                    *framing = Framing::Done;
                    self.keep_alive = false;
                    return Poll::Ready(None);
                }
                Ok(0) => {
                    self.keep_alive = false;
                    return Poll::Ready(Some(Err(BodyError::Truncated.into())));
                }
                Ok(_) => {}
                Err(e) => {
                    self.keep_alive = false;
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
    }
}

/// One chunk of a chunked request body.
fn chunk(data: &Bytes) -> Bytes {
    let size = format!("{:x}\r\n", data.len());
    let mut out = BytesMut::with_capacity(size.len() + data.len() + 2);
    out.extend_from_slice(size.as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out.freeze()
}

/// A parsed response head and whether the connection stays open after its body.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub(crate) head: Head,
    pub(crate) keep_alive: bool,
}

/// Parses a response head at the start of `buf`, taking its bytes out of it; `None` if it is not
/// complete yet. Interim (1xx) responses before it are skipped.
pub(crate) fn parse_head(buf: &mut BytesMut, head_request: bool) -> Result<Option<Parsed>, SendError> {
    loop {
        // Where each field's name and value are in the head, so that the head's bytes can be
        // taken out of the buffer (the parser's borrow ended) and shared by the values.
        let mut spans = [(0u32, 0u32, 0u32, 0u32); MAX_HEADERS];
        let (len, code, minor, fields) = {
            let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut response = httparse::Response::new(&mut fields);
            let len = match response.parse(buf) {
                Ok(httparse::Status::Complete(len)) => len,
                Ok(httparse::Status::Partial) => return Ok(None),
                Err(httparse::Error::TooManyHeaders) => return Err(SendError::TooLarge),
                Err(e) => return Err(SendError::Parse(e)),
            };
            if len > MAX_HEAD {
                return Err(SendError::TooLarge);
            }
            let base = buf.as_ptr() as usize;
            let offset = |s: &[u8]| (s.as_ptr() as usize - base) as u32;
            let count = response.headers.len();
            for (span, field) in spans.iter_mut().zip(response.headers.iter()) {
                *span = (
                    offset(field.name.as_bytes()),
                    field.name.len() as u32,
                    offset(field.value),
                    field.value.len() as u32,
                );
            }
            (len, response.code.unwrap_or(0), response.version.unwrap_or(1), count)
        };
        let status = StatusCode::from_u16(code).map_err(|_| SendError::Invalid("status code"))?;
        if status.is_informational() {
            if status == StatusCode::SWITCHING_PROTOCOLS {
                return Err(SendError::Invalid("101 without an upgrade asked for"));
            }
            buf.advance(len);
            continue;
        }
        let bytes = buf.split_to(len).freeze();
        return head_from(&bytes, &spans[..fields], status, minor, head_request).map(Some);
    }
}

fn head_from(
    bytes: &Bytes,
    spans: &[(u32, u32, u32, u32)],
    status: StatusCode,
    minor: u8,
    head_request: bool,
) -> Result<Parsed, SendError> {
    let mut headers = HeaderMap::with_capacity(spans.len());
    let mut content_length: Option<u64> = None;
    let mut transfer_encoding: Option<bool> = None;
    let mut close = false;
    let mut keep_alive_token = false;
    let mut listed = false;
    for &(name_at, name_len, value_at, value_len) in spans {
        let name = &bytes[name_at as usize..(name_at + name_len) as usize];
        let (value_at, value_len) = (value_at as usize, value_len as usize);
        let name = HeaderName::from_bytes(name).map_err(|_| SendError::Invalid("header name"))?;
        let raw = &bytes[value_at..value_at + value_len];
        if name == header::CONTENT_LENGTH {
            let n = parse_length(raw).ok_or(SendError::Invalid("Content-Length"))?;
            if content_length.is_some_and(|earlier| earlier != n) {
                return Err(SendError::Invalid("conflicting Content-Length"));
            }
            content_length = Some(n);
        } else if name == header::TRANSFER_ENCODING {
            // Chunked when the last coding is: the body is chunked and only then ends by itself.
            let last = raw.rsplit(|&b| b == b',').next().unwrap_or_default();
            transfer_encoding = Some(last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
            continue;
        } else if name == header::CONNECTION {
            for token in raw.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                if token.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    keep_alive_token = true;
                } else if !token.is_empty() {
                    listed = true;
                }
            }
            continue;
        } else if is_hop_by_hop(&name) {
            continue;
        }
        let value = HeaderValue::from_maybe_shared(bytes.slice(value_at..value_at + value_len))
            .map_err(|_| SendError::Invalid("header value"))?;
        headers.append(name, value);
    }
    if listed {
        // Fields the `Connection` field names are for this connection only.
        for &(name_at, name_len, value_at, value_len) in spans {
            if bytes[name_at as usize..(name_at + name_len) as usize].eq_ignore_ascii_case(b"connection") {
                let raw = &bytes[value_at as usize..(value_at + value_len) as usize];
                for token in raw.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                    if let Ok(name) = HeaderName::from_bytes(token) {
                        headers.remove(name);
                    }
                }
            }
        }
    }
    let bodyless = head_request || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
    let framing = match (transfer_encoding, content_length) {
        _ if bodyless => Framing::Done,
        (Some(true), _) => Framing::Chunked(Chunk::Size),
        (Some(false), _) => Framing::UntilClose,
        (None, Some(n)) => Framing::Length(n),
        (None, None) => Framing::UntilClose,
    };
    if transfer_encoding.is_some() && content_length.is_some() {
        // Both: the transfer coding wins, and the length must not reach the client.
        headers.remove(header::CONTENT_LENGTH);
        close = true;
    }
    let persistent = if minor >= 1 { !close } else { keep_alive_token && !close };
    let keep_alive = persistent && framing != Framing::UntilClose;
    Ok(Parsed { head: Head { status, headers, framing }, keep_alive })
}

fn parse_length(raw: &[u8]) -> Option<u64> {
    let raw = raw.trim_ascii();
    if raw.is_empty() || raw.len() > 19 || !raw.iter().all(u8::is_ascii_digit) {
        return None;
    }
    raw.iter().try_fold(0u64, |n, &d| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))
}

/// Headers that describe one connection and are not forwarded (RFC 9110 §7.6.1), `Connection`
/// itself aside. `Transfer-Encoding` is decided afresh on each side.
pub(crate) const HOP_BY_HOP: [HeaderName; 6] = [
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

pub(crate) fn is_hop_by_hop(name: &HeaderName) -> bool {
    HOP_BY_HOP.contains(name)
}

/// Takes the next piece of a body framed by `framing` out of `buf`.
pub(crate) fn decode(framing: &mut Framing, buf: &mut BytesMut) -> Result<Step, BodyError> {
    loop {
        match framing {
            Framing::Done | Framing::Length(0) => {
                *framing = Framing::Done;
                return Ok(Step::End);
            }
            Framing::Length(n) => {
                if buf.is_empty() {
                    return Ok(Step::More);
                }
                let take = buf.len().min(usize::try_from(*n).unwrap_or(usize::MAX));
                *n -= take as u64;
                return Ok(Step::Data(buf.split_to(take).freeze()));
            }
            Framing::UntilClose => {
                if buf.is_empty() {
                    return Ok(Step::More);
                }
                return Ok(Step::Data(buf.split().freeze()));
            }
            Framing::Chunked(Chunk::Data(n)) => {
                if buf.is_empty() {
                    return Ok(Step::More);
                }
                let take = buf.len().min(usize::try_from(*n).unwrap_or(usize::MAX));
                *n -= take as u64;
                if *n == 0 {
                    *framing = Framing::Chunked(Chunk::DataEnd);
                }
                return Ok(Step::Data(buf.split_to(take).freeze()));
            }
            Framing::Chunked(Chunk::DataEnd) => {
                if buf.len() < 2 {
                    return Ok(Step::More);
                }
                if &buf[..2] != b"\r\n" {
                    return Err(BodyError::Chunked("no CRLF after a chunk"));
                }
                buf.advance(2);
                *framing = Framing::Chunked(Chunk::Size);
            }
            Framing::Chunked(Chunk::Size) => {
                let Some(end) = buf.iter().take(MAX_CHUNK_LINE).position(|&b| b == b'\n') else {
                    if buf.len() >= MAX_CHUNK_LINE {
                        return Err(BodyError::Chunked("chunk-size line too long"));
                    }
                    return Ok(Step::More);
                };
                let line = buf[..end].strip_suffix(b"\r").ok_or(BodyError::Chunked("chunk-size line without CR"))?;
                let size = line.split(|&b| b == b';').next().unwrap_or_default().trim_ascii();
                let size = parse_hex(size).ok_or(BodyError::Chunked("chunk size"))?;
                buf.advance(end + 1);
                *framing = Framing::Chunked(if size == 0 { Chunk::Trailers(0) } else { Chunk::Data(size) });
            }
            Framing::Chunked(Chunk::Trailers(seen)) => {
                let Some(end) = buf.iter().position(|&b| b == b'\n') else {
                    if *seen + buf.len() > MAX_TRAILERS {
                        return Err(BodyError::Chunked("trailers too large"));
                    }
                    return Ok(Step::More);
                };
                *seen += end + 1;
                if *seen > MAX_TRAILERS {
                    return Err(BodyError::Chunked("trailers too large"));
                }
                let empty = buf[..end] == *b"\r" || end == 0;
                buf.advance(end + 1);
                if empty {
                    *framing = Framing::Done;
                }
            }
        }
    }
}

fn parse_hex(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        let v = (d as char).to_digit(16)?;
        Some((n << 4) | u64::from(v))
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, head_request: bool) -> Result<Option<Parsed>, SendError> {
        parse_head(&mut BytesMut::from(text), head_request)
    }

    #[test]
    fn response_heads_give_their_framing_and_persistence() {
        type Case = (&'static str, bool, Framing, bool);
        let cases: [Case; 12] = [
            ("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n", false, Framing::Length(5), true),
            ("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n", true, Framing::Done, true),
            ("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n", false, Framing::Chunked(Chunk::Size), true),
            ("HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n", false, Framing::Chunked(Chunk::Size), true),
            ("HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\n", false, Framing::UntilClose, false),
            ("HTTP/1.1 200 OK\r\n\r\n", false, Framing::UntilClose, false),
            ("HTTP/1.1 204 No Content\r\n\r\n", false, Framing::Done, true),
            ("HTTP/1.1 304 Not Modified\r\ncontent-length: 9\r\n\r\n", false, Framing::Done, true),
            ("HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n", false, Framing::Length(0), false),
            ("HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\n", false, Framing::Length(2), false),
            ("HTTP/1.0 200 OK\r\ncontent-length: 2\r\nconnection: keep-alive\r\n\r\n", false, Framing::Length(2), true),
            (
                "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n",
                false,
                Framing::Length(1),
                true,
            ),
        ];
        for (text, head_request, framing, keep_alive) in cases {
            let parsed = parse(text, head_request).unwrap().unwrap();
            assert_eq!((parsed.head.framing, parsed.keep_alive), (framing, keep_alive), "{text:?}");
        }
    }

    #[test]
    fn hop_by_hop_fields_and_those_connection_names_are_removed_from_responses() {
        let text = "HTTP/1.1 200 OK\r\nconnection: keep-alive, X-Custom\r\nconnection: x-other\r\n\
                    keep-alive: timeout=5\r\nx-custom: 1\r\nx-other: 2\r\nte: trailers\r\nupgrade: h2c\r\n\
                    proxy-connection: keep-alive\r\ntrailer: x-t\r\nx-kept: 3\r\ncontent-length: 0\r\n\r\n";
        let parsed = parse(text, false).unwrap().unwrap();
        let mut left: Vec<_> = parsed.head.headers.keys().map(|k| k.as_str()).collect();
        left.sort_unstable();
        assert_eq!(left, ["content-length", "x-kept"]);
        assert!(parsed.keep_alive);
    }

    #[test]
    fn a_length_with_a_transfer_coding_is_dropped_and_the_connection_closed() {
        let text = "HTTP/1.1 200 OK\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n";
        let parsed = parse(text, false).unwrap().unwrap();
        assert_eq!(parsed.head.framing, Framing::Chunked(Chunk::Size));
        assert!(parsed.head.headers.get("content-length").is_none());
        assert!(!parsed.keep_alive);
    }

    #[test]
    fn incomplete_heads_wait_and_bad_ones_are_refused() {
        assert!(parse("HTTP/1.1 200 OK\r\ncontent-le", false).unwrap().is_none());
        assert!(parse("", false).unwrap().is_none());
        let bad = [
            "garbage\r\n\r\n",
            "HTTP/1.1 abc OK\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: 1x\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: 99999999999999999999\r\n\r\n",
            "HTTP/1.1 101 Switching Protocols\r\n\r\n",
            "HTTP/1.1 200 OK\r\nbad name: 1\r\n\r\n",
        ];
        for text in bad {
            assert!(parse(text, false).is_err(), "{text:?}");
        }
        let many: String = (0..=MAX_HEADERS).map(|i| format!("x-{i}: 1\r\n")).collect();
        let text = format!("HTTP/1.1 200 OK\r\n{many}\r\n");
        assert!(matches!(parse(&text, false), Err(SendError::TooLarge)));
    }

    /// Decodes `wire` fed in pieces of `step` bytes; the body and what is left in the buffer.
    fn decode_all(mut framing: Framing, wire: &[u8], step: usize) -> Result<(Vec<u8>, Vec<u8>), BodyError> {
        let mut buf = BytesMut::new();
        let mut body = Vec::new();
        let mut fed = 0;
        loop {
            match decode(&mut framing, &mut buf)? {
                Step::Data(bytes) => body.extend_from_slice(&bytes),
                Step::End => return Ok((body, buf.to_vec())),
                Step::More if fed < wire.len() => {
                    let next = (fed + step).min(wire.len());
                    buf.extend_from_slice(&wire[fed..next]);
                    fed = next;
                }
                Step::More => return Err(BodyError::Truncated),
            }
        }
    }

    #[test]
    fn bodies_decode_whatever_pieces_they_arrive_in() {
        type Case = (Framing, &'static str, &'static str, &'static str);
        let cases: [Case; 5] = [
            (Framing::Length(5), "hello", "hello", ""),
            (Framing::Length(5), "helloNEXT", "hello", "NEXT"),
            (
                Framing::Chunked(Chunk::Size),
                "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\nNEXT",
                "hello, world",
                "NEXT",
            ),
            (Framing::Chunked(Chunk::Size), "A\r\n0123456789\r\n0\r\nx-trailer: 1\r\n\r\n", "0123456789", ""),
            (Framing::Done, "NEXT", "", "NEXT"),
        ];
        for (framing, wire, body, left) in cases {
            for step in 1..=wire.len().max(1) {
                let (got, rest) = decode_all(framing, wire.as_bytes(), step).unwrap();
                // What is left is only what was fed past the end.
                assert_eq!(String::from_utf8(got).unwrap(), body, "{wire:?} in pieces of {step}");
                assert!(left.as_bytes().starts_with(&rest), "{wire:?} in pieces of {step}: left {rest:?}");
            }
        }
    }

    #[test]
    fn broken_chunked_bodies_are_errors() {
        let long_line = format!("1{}\r\n", " ".repeat(MAX_CHUNK_LINE));
        let long_trailers = format!("0\r\nx: {}\r\n\r\n", "a".repeat(MAX_TRAILERS));
        let cases = ["z\r\n", "5\r\nhelloXX", "5\nhello\r\n", "11111111111111111\r\n", &long_line, &long_trailers];
        for wire in cases {
            let got = decode_all(Framing::Chunked(Chunk::Size), wire.as_bytes(), 64);
            assert!(matches!(got, Err(BodyError::Chunked(_))), "{wire:?}: {got:?}");
        }
        let got = decode_all(Framing::Chunked(Chunk::Size), b"5\r\nhel", 64);
        assert!(matches!(got, Err(BodyError::Truncated)), "{got:?}");
    }
}
