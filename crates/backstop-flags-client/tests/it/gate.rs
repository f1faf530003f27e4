//! A loopback HTTP proxy in front of a control plane that, while told to,
//! refuses the flag stream (as a proxy that cannot pass Server-Sent Events
//! would) and passes every other request through unchanged.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub struct Gate {
    pub port: u16,
    refuse: Arc<AtomicBool>,
    /// Stream requests refused so far.
    pub refused: Arc<AtomicUsize>,
    /// `GET /v1/flags` requests passed so far.
    pub polls: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Gate {
    pub async fn start(upstream: u16) -> Gate {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let refuse = Arc::new(AtomicBool::new(true));
        let refused = Arc::new(AtomicUsize::new(0));
        let polls = Arc::new(AtomicUsize::new(0));
        let (r, rc, pc) = (refuse.clone(), refused.clone(), polls.clone());
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                tokio::spawn(handle(conn, upstream, r.clone(), rc.clone(), pc.clone()));
            }
        });
        Gate { port, refuse, refused, polls, task }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn let_streams_through(&self) {
        self.refuse.store(false, Ordering::SeqCst);
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(
    mut conn: TcpStream,
    upstream: u16,
    refuse: Arc<AtomicBool>,
    refused: Arc<AtomicUsize>,
    polls: Arc<AtomicUsize>,
) {
    // Read the request head (the SDK's requests are GETs without a body).
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let target = text.split(' ').nth(1).unwrap_or("").to_owned();
    if target.starts_with("/v1/flags/stream") && refuse.load(Ordering::SeqCst) {
        refused.fetch_add(1, Ordering::SeqCst);
        let _ = conn.write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
        return;
    }
    if target == "/v1/flags" {
        polls.fetch_add(1, Ordering::SeqCst);
    }
    // One request per connection, so each one is seen here.
    let (line, rest) = text.split_once("\r\n").unwrap_or((&text, ""));
    let forwarded = format!("{line}\r\nconnection: close\r\n{rest}");
    let Ok(mut up) = TcpStream::connect(("127.0.0.1", upstream)).await else { return };
    if up.write_all(forwarded.as_bytes()).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut conn, &mut up).await;
}
