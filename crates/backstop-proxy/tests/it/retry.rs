//! Requests in flight when their instance dies: a real instance process,
//! killed while it holds the request, and what the client gets.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use backstop_proxy::{Backend, Proxy};
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use crate::support::{Client, PATIENCE, body_text, upstream};

/// An app instance as a separate process: any request answers `instance`,
/// except `/hang`, which prints `hanging` and never answers. Python's standard
/// library, so the instance is a real process the test can SIGKILL.
const INSTANCE: &str = r#"
import http.server, sys, threading
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args):
        pass
    def answer(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        if self.path == "/hang":
            print("hanging", flush=True)
            threading.Event().wait()
        self.send_response(200)
        self.send_header("content-length", "8")
        self.end_headers()
        self.wfile.write(b"instance")
    do_GET = do_POST = do_HEAD = do_OPTIONS = answer
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

struct Instance {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    addr: SocketAddr,
}

impl Instance {
    async fn start() -> Instance {
        let mut child = Command::new("python3")
            .args(["-c", INSTANCE])
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 runs the test instance");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let port: u16 = Self::next(&mut lines).await.parse().unwrap();
        Instance { child, lines, addr: SocketAddr::from(([127, 0, 0, 1], port)) }
    }

    async fn next(lines: &mut Lines<BufReader<ChildStdout>>) -> String {
        tokio::time::timeout(PATIENCE, lines.next_line()).await.unwrap().unwrap().unwrap()
    }

    /// Waits until the instance holds a `/hang` request.
    async fn hanging(&mut self) {
        assert_eq!(Self::next(&mut self.lines).await, "hanging");
    }

    /// SIGKILL, and wait until the process is gone.
    async fn kill(mut self) {
        self.child.kill().await.unwrap();
    }
}

async fn proxy() -> Proxy {
    Proxy::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap()
}

fn request(method: &str, body: &'static str) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri("/hang")
        .header("host", "app.test")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap()
}

/// Sends `req` through the proxy in the background; status and body.
fn send(proxy: &Proxy, req: Request<Full<Bytes>>) -> tokio::task::JoinHandle<(StatusCode, String)> {
    let addr = proxy.local_addr();
    tokio::spawn(async move {
        let response = Client::connect(addr).await.send(req).await;
        let (parts, body) = response.into_parts();
        (parts.status, body_text(body).await)
    })
}

/// A GET already sent to an instance that is killed got 502 (7 in 2,659 in a
/// test with 10 kills); now a request without a body is sent again to the
/// instance switched in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_in_flight_when_its_instance_is_killed_is_retried_on_the_new_instance() {
    let new = upstream("new").await;
    let new_backend = Backend::new(new.addr, "new");
    let proxy = proxy().await;
    for method in ["GET", "HEAD", "OPTIONS", "POST"] {
        let mut old = Instance::start().await;
        let old_backend = Backend::new(old.addr, "old");
        proxy.switch(Some(old_backend.clone()));
        let pending = send(&proxy, request(method, ""));
        old.hanging().await;
        proxy.switch(Some(new_backend.clone()));
        old.kill().await;
        let (status, body) = tokio::time::timeout(PATIENCE, pending).await.unwrap().unwrap();
        assert_eq!(status, StatusCode::OK, "{method}");
        if method != "HEAD" {
            assert_eq!(body, "new", "{method}");
        }
        assert_eq!(old_backend.inflight(), 0, "{method}");
    }
    assert_eq!(new_backend.inflight(), 0);
    assert_eq!(new_backend.served(), 4);
}

/// A request whose body was sent is not replayed (the body is streamed, not
/// kept): the client gets 502, and nothing reaches the new instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_with_a_body_in_flight_when_its_instance_is_killed_gets_502() {
    let new = upstream("new").await;
    let new_backend = Backend::new(new.addr, "new");
    let proxy = proxy().await;
    let mut old = Instance::start().await;
    let old_backend = Backend::new(old.addr, "old");
    proxy.switch(Some(old_backend.clone()));
    let pending = send(&proxy, request("POST", "order=1"));
    old.hanging().await;
    proxy.switch(Some(new_backend.clone()));
    old.kill().await;
    let (status, _) = tokio::time::timeout(PATIENCE, pending).await.unwrap().unwrap();
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(old_backend.inflight(), 0);
    assert_eq!(new.accepted(), 0, "the body was not sent twice");
}
/// The instance dies before its replacement is switched in: with a response
/// timeout, the retry waits for the switch instead of failing on the dead address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_in_flight_when_its_instance_is_killed_waits_for_the_replacement() {
    let new = upstream("new").await;
    let proxy = proxy().await;
    proxy.set_response_timeout(Some(PATIENCE));
    let mut old = Instance::start().await;
    let old_backend = Backend::new(old.addr, "old");
    proxy.switch(Some(old_backend.clone()));
    let pending = send(&proxy, request("GET", ""));
    old.hanging().await;
    old.kill().await;
    proxy.switch(Some(Backend::new(new.addr, "new")));
    let (status, body) = tokio::time::timeout(PATIENCE, pending).await.unwrap().unwrap();
    assert_eq!((status, body.as_str()), (StatusCode::OK, "new"));
    assert_eq!(old_backend.inflight(), 0);
}

/// An instance that is dying but still takes connections: it reads each request and closes the
/// connection without answering. Reports each request it took.
async fn dying_instance() -> (SocketAddr, tokio::sync::mpsc::UnboundedReceiver<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (took, requests) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let _ = took.send(());
            drop(stream);
        }
    });
    (addr, requests)
}

/// The instance dies before its replacement is switched in, and its listener still takes the
/// retry's connection: the retry waits for the switch instead of going to the dying instance
/// (which got it half the time and answered nothing, so the client got 502).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_whose_instance_dies_before_the_switch_is_retried_on_the_replacement() {
    let (old_addr, mut old_requests) = dying_instance().await;
    let new = upstream("new").await;
    let proxy = proxy().await;
    proxy.set_response_timeout(Some(PATIENCE));
    let old_backend = Backend::new(old_addr, "old");
    proxy.switch(Some(old_backend.clone()));
    let pending = send(&proxy, request("GET", ""));
    tokio::time::timeout(PATIENCE, old_requests.recv()).await.unwrap().unwrap();
    // The test decides when the replacement comes: not before the dying instance would have
    // had the retry, had the proxy sent it there at once.
    let early = tokio::time::timeout(Duration::from_millis(300), old_requests.recv()).await;
    assert!(early.is_err(), "the retry went to the dying instance");
    assert!(!pending.is_finished(), "the request ended before the replacement came");
    let new_backend = Backend::new(new.addr, "new");
    proxy.switch(Some(new_backend.clone()));
    let (status, body) = tokio::time::timeout(PATIENCE, pending).await.unwrap().unwrap();
    assert_eq!((status, body.as_str()), (StatusCode::OK, "new"));
    assert_eq!(old_backend.inflight(), 0);
    assert_eq!(new_backend.served(), 1);
    assert!(old_requests.try_recv().is_err(), "the dying instance got the request once");
}
