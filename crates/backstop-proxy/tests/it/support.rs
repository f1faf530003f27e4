//! Test upstreams that answer with their own name, and a plain HTTP/1.1 client.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::channel::{Channel, Sender};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};

/// Generous bound for waits that only end early when something is broken.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A small upstream server answering with its name.
///
/// Paths:
/// - `/slow` waits until the test opens the gate, then answers the name;
/// - `/echo` answers the request head (one `name: value` line per header,
///   plus `uri:`) followed by a blank line and the request body;
/// - `/stream-in` reports its first request-body chunk as an event, then echoes the body;
/// - `/stream-out` sends `first,`, waits for the gate, then sends `second`;
/// - `/close` answers the name and closes the connection;
/// - anything else answers the name.
pub struct Upstream {
    pub addr: SocketAddr,
    pub gate: Arc<Semaphore>,
    pub events: mpsc::UnboundedReceiver<String>,
    accepted: Arc<AtomicUsize>,
    open: Arc<AtomicUsize>,
}

impl Upstream {
    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }
}

struct State {
    name: &'static str,
    gate: Arc<Semaphore>,
    events: mpsc::UnboundedSender<String>,
}

type TestBody = BoxBody<Bytes, Infallible>;

pub async fn upstream(name: &'static str) -> Upstream {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let gate = Arc::new(Semaphore::new(0));
    let (events, events_rx) = mpsc::unbounded_channel();
    let state = Arc::new(State { name, gate: gate.clone(), events });
    let accepted = Arc::new(AtomicUsize::new(0));
    let open = Arc::new(AtomicUsize::new(0));
    let (accepted_count, open_count) = (accepted.clone(), open.clone());
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            accepted_count.fetch_add(1, Ordering::SeqCst);
            open_count.fetch_add(1, Ordering::SeqCst);
            let (state, open_count) = (state.clone(), open_count.clone());
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let state = state.clone();
                    async move { Ok::<_, Infallible>(answer(&state, req).await) }
                });
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                open_count.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    Upstream { addr, gate, events: events_rx, accepted, open }
}

async fn answer(state: &State, req: Request<Incoming>) -> Response<TestBody> {
    match req.uri().path() {
        "/slow" => {
            state.gate.acquire().await.unwrap().forget();
            text(state.name)
        }
        "/echo" => {
            let mut head = format!("uri: {}\n", req.uri());
            for (name, value) in req.headers() {
                head.push_str(&format!("{name}: {}\n", value.to_str().unwrap()));
            }
            let body = req.into_body().collect().await.unwrap().to_bytes();
            text(format!("{head}\n{}", String::from_utf8_lossy(&body)))
        }
        "/stream-in" => {
            let mut body = req.into_body();
            let mut all = Vec::new();
            let mut first = true;
            while let Some(frame) = body.frame().await {
                if let Ok(data) = frame.unwrap().into_data() {
                    if first {
                        state.events.send(String::from_utf8_lossy(&data).into_owned()).unwrap();
                        first = false;
                    }
                    all.extend_from_slice(&data);
                }
            }
            text(all)
        }
        "/stream-out" => {
            let (mut tx, body) = Channel::<Bytes, Infallible>::new(1);
            let gate = state.gate.clone();
            tokio::spawn(async move {
                tx.send_data(Bytes::from_static(b"first,")).await.unwrap();
                gate.acquire().await.unwrap().forget();
                tx.send_data(Bytes::from_static(b"second")).await.unwrap();
            });
            Response::new(body.boxed())
        }
        "/close" => {
            let mut response = text(state.name);
            response.headers_mut().insert("connection", http::HeaderValue::from_static("close"));
            response
        }
        _ => text(state.name),
    }
}

fn text(body: impl Into<Bytes>) -> Response<TestBody> {
    Response::new(Full::new(body.into()).boxed())
}

/// An address nothing listens on.
pub async fn dead_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

/// One keep-alive client connection.
pub struct Client<B> {
    sender: SendRequest<B>,
}

impl<B> Client<B>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    pub async fn connect(addr: SocketAddr) -> Client<B> {
        let stream = TcpStream::connect(addr).await.unwrap();
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
        tokio::spawn(conn);
        Client { sender }
    }

    pub async fn send(&mut self, req: Request<B>) -> Response<Incoming> {
        self.try_send(req).await.unwrap()
    }

    pub async fn try_send(&mut self, req: Request<B>) -> hyper::Result<Response<Incoming>> {
        self.sender.ready().await?;
        self.sender.send_request(req).await
    }
}

impl Client<Full<Bytes>> {
    pub async fn get(&mut self, path: &str) -> (http::StatusCode, http::HeaderMap, String) {
        let req = Request::get(path).header("host", "app.test").body(Full::default()).unwrap();
        let response = self.send(req).await;
        let (parts, body) = response.into_parts();
        (parts.status, parts.headers, body_text(body).await)
    }
}

/// GET `path` on a fresh connection; status, headers and body text.
pub async fn get(addr: SocketAddr, path: &str) -> (http::StatusCode, http::HeaderMap, String) {
    Client::connect(addr).await.get(path).await
}

pub async fn body_text(body: Incoming) -> String {
    String::from_utf8(body.collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

/// A request body the test feeds chunk by chunk.
pub fn streamed_body() -> (Sender<Bytes, Infallible>, Channel<Bytes, Infallible>) {
    Channel::new(1)
}

/// Waits until `check` holds, polling; panics after [`PATIENCE`].
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let wait = async {
        while !check() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    if tokio::time::timeout(PATIENCE, wait).await.is_err() {
        panic!("timed out waiting until {what}");
    }
}
