//! Benchmark (run by bench/flags.sh, not a test): kill-switch propagation.
//! Connects N stream subscribers (default 1,000) to a running control plane
//! (another process), creates a flag, then flips it several times and
//! measures, for every subscriber, the time from the flip's API call
//! returning (and from it starting) to that subscriber reading the change.
//!
//! Usage: BACKSTOP_URL=… BACKSTOP_TOKEN=ADMIN BACKSTOP_EVAL_TOKEN=EVAL propagation [SUBSCRIBERS] [FLIPS]
//! Prints one `RESULT <p50> <p99> <max>` line (ms, call returned → seen) for the script.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Barrier, mpsc, oneshot};

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("set {name}"))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let subscribers: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let flips: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(5);
    let (url, admin, eval) = (env("BACKSTOP_URL"), env("BACKSTOP_TOKEN"), env("BACKSTOP_EVAL_TOKEN"));

    // One thread: the server has the machine's other core.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        // A fresh flag per run, so runs against the same server do not mix.
        let key = format!("propagation-{}", std::process::id());
        let flag = json!({"enabled": true, "variants": {"on": true, "off": false}, "default_variant": "on", "off_variant": "off"});
        let r = http
            .post(format!("{url}/v1/flags/{key}"))
            .bearer_auth(&admin)
            .json(&json!({"flag": flag, "reason": "bench"}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "create: {}", r.status());

        // Subscribers: each reports the instant it reads each `change` event of the flag.
        let ready = Arc::new(Barrier::new(subscribers + 1));
        let (tx, mut rx) = mpsc::unbounded_channel::<(usize, Instant)>();
        let needle = format!("\"key\":\"{key}\"");
        let addr = url.trim_start_matches("http://").to_owned();
        for id in 0..subscribers {
            let (addr, eval, ready, tx, needle) = (addr.clone(), eval.clone(), ready.clone(), tx.clone(), needle.clone());
            // A bare HTTP/1.1 reader per subscriber, one connection each as
            // separate service instances would have: this process only
            // stands in for them, so it should cost as little CPU as it can.
            tokio::spawn(async move {
                let mut conn = TcpStream::connect(&addr).await.unwrap();
                conn.set_nodelay(true).unwrap();
                let request = format!(
                    "GET /v1/flags/stream HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {eval}\r\nAccept: text/event-stream\r\n\r\n"
                );
                conn.write_all(request.as_bytes()).await.unwrap();
                let mut seen_snapshot = false;
                let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
                let mut chunk = vec![0u8; 16 * 1024];
                loop {
                    let n = match conn.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    let now = Instant::now();
                    buf.extend_from_slice(&chunk[..n]);
                    while let Some(end) = find(&buf, b"\n\n") {
                        let event = &buf[..end + 2];
                        if !seen_snapshot && find(event, b"event: snapshot").is_some() {
                            seen_snapshot = true;
                            buf.drain(..end + 2);
                            ready.wait().await;
                            continue;
                        }
                        if find(event, b"event: change").is_some() && find(event, needle.as_bytes()).is_some() {
                            let _ = tx.send((id, now));
                        }
                        buf.drain(..end + 2);
                    }
                }
            });
        }
        drop(tx);
        ready.wait().await;
        println!("{subscribers} subscribers connected and holding a snapshot");

        // The flips are sent from a thread and runtime of their own, so the
        // moment their answer arrives is not queued behind the subscribers' reads.
        let (flip_tx, mut flip_rx) = mpsc::unbounded_channel::<(&'static str, oneshot::Sender<(Instant, Instant)>)>();
        let (flip_url, flip_admin) = (format!("{url}/v1/flags/{key}"), admin.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let http = reqwest::Client::builder().no_proxy().build().unwrap();
                while let Some((action, done)) = flip_rx.recv().await {
                    let start = Instant::now();
                    let r = http
                        .post(format!("{flip_url}/{action}"))
                        .bearer_auth(&flip_admin)
                        .json(&json!({"reason": "propagation benchmark"}))
                        .send()
                        .await
                        .unwrap();
                    let returned = Instant::now();
                    assert!(r.status().is_success(), "flip: {}", r.status());
                    let _ = done.send((start, returned));
                }
            });
        });

        let mut from_return = Vec::new();
        let mut from_start = Vec::new();
        for flip in 0..flips {
            let action = if flip % 2 == 0 { "off" } else { "on" };
            tokio::time::sleep(Duration::from_millis(300)).await;
            let (done_tx, done_rx) = oneshot::channel();
            flip_tx.send((action, done_tx)).unwrap();
            let mut seen = Vec::with_capacity(subscribers);
            while seen.len() < subscribers {
                let (_, at) = tokio::time::timeout(Duration::from_secs(30), rx.recv())
                    .await
                    .expect("a subscriber never saw the change")
                    .expect("subscribers ended");
                seen.push(at);
            }
            let (start, returned) = done_rx.await.unwrap();
            for at in seen {
                from_start.push(at.saturating_duration_since(start).as_secs_f64() * 1000.0);
                from_return.push(at.saturating_duration_since(returned).as_secs_f64() * 1000.0);
            }
        }
        let stats = |mut v: Vec<f64>| {
            v.sort_by(|a, b| a.partial_cmp(b).unwrap());
            let p = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
            (p(0.5), p(0.99), v[v.len() - 1], v.len())
        };
        let (p50, p99, max, n) = stats(from_return);
        println!("flip API call returned -> subscriber saw it: p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms (n={n})");
        let (s50, s99, smax, _) = stats(from_start);
        println!("flip API call started  -> subscriber saw it: p50 {s50:.2} ms, p99 {s99:.2} ms, max {smax:.2} ms");
        println!("RESULT {p50:.3} {p99:.3} {max:.3} {s50:.3} {s99:.3} {smax:.3}");
        let _ = http
            .delete(format!("{url}/v1/flags/{key}"))
            .bearer_auth(&admin)
            .json(&json!({"reason": "benchmark done"}))
            .send()
            .await;
    });
}
