//! The proxy's cost per request, for profilers: an upstream, the proxy and a
//! client in one process, REQUESTS keep-alive GETs over CONNS connections.
//!
//! `proxy_cost [REQUESTS] [CONNS] [direct]`: with `direct`, the client talks
//! to the upstream without the proxy, so that under
//! `valgrind --tool=callgrind` the difference of the two runs' instruction
//! counts, divided by REQUESTS, is what the proxy costs per request
//! (`COST=1 bench/proxy.sh` does both). `BACKSTOP_PROXY_WORKERS` sets the
//! proxy's worker threads (1 by default); the response timeout is the
//! control plane's default, 60 s.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Instant;

use backstop_proxy::{Backend, Proxy};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Empty, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

/// An upstream on its own thread answering every request with a short body.
fn upstream() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the upstream");
    let addr = listener.local_addr().expect("upstream address");
    listener.set_nonblocking(true).expect("non-blocking listener");
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async move {
            let listener = TcpListener::from_std(listener).expect("listener");
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    let service = service_fn(|_req| async {
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"hello, world\n"))))
                    });
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
    });
    addr
}

async fn client(addr: SocketAddr, requests: usize) {
    let stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(conn);
    for _ in 0..requests {
        let req = Request::get("/").header("host", "app.test").body(Empty::<Bytes>::new()).expect("request");
        sender.ready().await.expect("ready");
        let response = sender.send_request(req).await.expect("response");
        assert!(response.status().is_success(), "{}", response.status());
        response.into_body().collect().await.expect("body");
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let requests: usize = args.next().map_or(20_000, |a| a.parse().expect("REQUESTS is a number"));
    let conns: usize = args.next().map_or(8, |a| a.parse().expect("CONNS is a number"));
    let direct = args.next().as_deref() == Some("direct");
    let upstream = upstream();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async move {
        let (target, _proxy) = if direct {
            (upstream, None)
        } else {
            // Set here rather than through `Proxy::default_workers`, so older builds measure alike.
            let workers = std::env::var("BACKSTOP_PROXY_WORKERS").ok().and_then(|w| w.parse().ok()).unwrap_or(1);
            let addr = SocketAddr::from(([127, 0, 0, 1], 0));
            let proxy = Proxy::bind_with_workers(addr, workers).await.expect("bind the proxy");
            proxy.set_response_timeout(Some(std::time::Duration::from_secs(60)));
            proxy.switch(Some(Backend::new(upstream, "upstream")));
            (proxy.local_addr(), Some(proxy))
        };
        // Warm up: connections to the upstream exist before counting starts.
        client(target, 10).await;
        let started = Instant::now();
        let clients: Vec<_> = (0..conns).map(|_| tokio::spawn(client(target, requests / conns))).collect();
        for c in clients {
            c.await.expect("client task");
        }
        let elapsed = started.elapsed();
        let done = requests / conns * conns;
        println!(
            "{} {done} requests over {conns} connections in {:.3} s: {:.0} req/s",
            if direct { "direct" } else { "proxied" },
            elapsed.as_secs_f64(),
            done as f64 / elapsed.as_secs_f64()
        );
    });
}
