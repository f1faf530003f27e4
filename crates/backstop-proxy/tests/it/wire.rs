//! What backends put on the wire, byte for byte, and what the client gets through the proxy:
//! chunked bodies, bodies until close, connections closed between requests, bad response heads.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use backstop_proxy::{Backend, Proxy};
use http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::support::{Client, PATIENCE, get};

/// A backend that answers the Nth request head (counted over all connections, from 0) with the
/// bytes `answer(N)` gives, closing the connection after it when the flag says so.
struct Scripted {
    addr: SocketAddr,
    requests: Arc<AtomicUsize>,
    accepted: Arc<AtomicUsize>,
    /// One message per connection the backend closed.
    closed: mpsc::UnboundedReceiver<()>,
}

async fn scripted(answer: impl Fn(usize) -> (Vec<u8>, bool) + Send + Sync + 'static) -> Scripted {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (requests, accepted) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (closed_tx, closed) = mpsc::unbounded_channel();
    let answer = Arc::new(answer);
    let (count, conns) = (requests.clone(), accepted.clone());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            conns.fetch_add(1, Ordering::SeqCst);
            let (answer, count, closed_tx) = (answer.clone(), count.clone(), closed_tx.clone());
            tokio::spawn(async move {
                let mut pending = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => pending.extend_from_slice(&buf[..n]),
                        }
                        continue;
                    };
                    pending.drain(..end + 4);
                    let (bytes, close) = answer(count.fetch_add(1, Ordering::SeqCst));
                    if stream.write_all(&bytes).await.is_err() {
                        return;
                    }
                    if close {
                        drop(stream);
                        let _ = closed_tx.send(());
                        return;
                    }
                }
            });
        }
    });
    Scripted { addr, requests, accepted, closed }
}

async fn proxy_to(addr: SocketAddr) -> Proxy {
    // One worker: every client connection shares the same upstream pool.
    let proxy = Proxy::bind_with_workers(SocketAddr::from(([127, 0, 0, 1], 0)), 1).await.unwrap();
    proxy.set_response_timeout(Some(PATIENCE));
    proxy.switch(Some(Backend::new(addr, "scripted")));
    proxy
}

const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nx-app: 1\r\n\r\n\
    5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nx-trailer: t\r\n\r\n";

#[tokio::test]
async fn chunked_upstream_response_reaches_the_client_and_keeps_the_connection() {
    let backend = scripted(|_| (CHUNKED.to_vec(), false)).await;
    let proxy = proxy_to(backend.addr).await;
    let mut client = Client::connect(proxy.local_addr()).await;
    for _ in 0..3 {
        let (status, headers, body) = client.get("/").await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "hello, world"));
        assert_eq!(headers["x-app"], "1");
        assert!(headers.get("x-trailer").is_none());
    }
    assert_eq!(backend.accepted.load(Ordering::SeqCst), 1, "the connection was not kept");
}

#[tokio::test]
async fn response_without_a_length_is_read_until_the_backend_closes() {
    let backend = scripted(|n| (format!("HTTP/1.1 200 OK\r\n\r\nuntil close {n}").into_bytes(), true)).await;
    let proxy = proxy_to(backend.addr).await;
    let mut client = Client::connect(proxy.local_addr()).await;
    assert_eq!(client.get("/").await.2, "until close 0");
    assert_eq!(client.get("/").await.2, "until close 1");
    assert_eq!(backend.accepted.load(Ordering::SeqCst), 2);
}

/// The backend closes its keep-alive connection after each answer without saying so (no
/// `Connection: close`): the next request gets a fresh connection and the client no error,
/// whether the close arrived before the request went out or races with it.
#[tokio::test]
async fn upstream_closing_an_idle_keep_alive_connection_gets_a_fresh_one_without_an_error() {
    let mut backend =
        scripted(|n| (format!("HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n{}", n % 10).into_bytes(), true)).await;
    let proxy = proxy_to(backend.addr).await;
    let mut client = Client::connect(proxy.local_addr()).await;
    // The close has arrived before the next request.
    for n in 0..5 {
        let (status, _, body) = client.get("/").await;
        assert_eq!((status, body), (StatusCode::OK, n.to_string()));
        tokio::time::timeout(PATIENCE, backend.closed.recv()).await.unwrap().unwrap();
    }
    // Back to back: the close may race with the next request.
    for _ in 0..50 {
        let (status, _, body) = client.get("/").await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

/// A backend whose answer does not parse, or whose head is larger than the proxy takes, answered:
/// the client gets 502, and the request is not sent again (a retry is for an instance that died).
#[tokio::test]
async fn bad_or_oversize_upstream_response_heads_answer_502_without_a_retry() {
    let huge = format!("HTTP/1.1 200 OK\r\nx-big: {}\r\ncontent-length: 0\r\n\r\n", "a".repeat(70 * 1024));
    let many: String = (0..200).map(|i| format!("x-{i}: 1\r\n")).collect();
    let many = format!("HTTP/1.1 200 OK\r\n{many}content-length: 0\r\n\r\n");
    let cases = [
        huge,
        many,
        "NOT HTTP AT ALL\r\n\r\n".to_owned(),
        "HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nx".to_owned(),
    ];
    for answer in cases {
        let bytes = answer.clone().into_bytes();
        let backend = scripted(move |_| (bytes.clone(), false)).await;
        let proxy = proxy_to(backend.addr).await;
        let (status, headers, _) = get(proxy.local_addr(), "/").await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{:.60}", answer);
        assert_eq!(headers["x-backstop"], "bad-gateway");
        assert_eq!(backend.requests.load(Ordering::SeqCst), 1, "retried after {:.60}", answer);
        assert_eq!(proxy.current().unwrap().inflight(), 0);
    }
}

/// A body cut short by the backend closing: the client's connection is cut too (it cannot be
/// told otherwise once the head is sent), and the next request gets a fresh upstream connection.
#[tokio::test]
async fn a_truncated_upstream_body_cuts_the_client_and_is_not_reused() {
    let backend = scripted(|n| match n {
        0 => (b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort".to_vec(), true),
        _ => (b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".to_vec(), false),
    })
    .await;
    let proxy = proxy_to(backend.addr).await;
    let mut client = Client::connect(proxy.local_addr()).await;
    let req = http::Request::get("/").header("host", "app.test").body(http_body_util::Full::default()).unwrap();
    // Cut before the head, or during the body, depending on when the proxy's writes went out.
    if let Ok(response) = client.try_send(req).await {
        assert_eq!(response.status(), StatusCode::OK);
        assert!(http_body_util::BodyExt::collect(response.into_body()).await.is_err());
    }
    let (status, _, body) = get(proxy.local_addr(), "/").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));
    assert_eq!(backend.accepted.load(Ordering::SeqCst), 2);
    assert_eq!(proxy.current().unwrap().inflight(), 0);
}
