//! Benchmark (run by bench/flags.sh, not a test): kill-switch propagation.
//! Starts a control plane, opens N stream subscribers (default 1,000), then
//! flips a flag several times and measures, for every subscriber, the time
//! from the flip's API call returning to that subscriber reading the change.
//!
//! Usage: propagation [SUBSCRIBERS] [FLIPS]

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::{Barrier, mpsc};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let subscribers: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let flips: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(5);

    // The control plane on a runtime (and threads) of its own.
    let dir = tempfile::tempdir().expect("temp dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let root = dir.path().to_owned();
    let server_root = root.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let path = server_root.join("backstop.toml");
            let text = format!(
                "[server]\nlisten = \"127.0.0.1:{port}\"\nstate = \"{}\"\n",
                server_root.join("state").display()
            );
            let config = backstop_server::Config::parse(&path, &text).unwrap();
            let server = backstop_server::Server::start(config).await.unwrap();
            server.serve(std::future::pending()).await.unwrap();
        });
    });

    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder().no_proxy().pool_max_idle_per_host(0).build().unwrap();
        let token = |f: &str| std::fs::read_to_string(root.join("state").join(f)).map(|t| t.trim().to_owned());
        let admin = loop {
            if let (Ok(t), Ok(r)) = (token("admin.token"), http.get(format!("{url}/v1/health")).send().await) {
                if r.status().is_success() {
                    break t;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let eval = token("eval.token").unwrap();
        let flag = json!({"enabled": true, "variants": {"on": true, "off": false}, "default_variant": "on", "off_variant": "off"});
        let r = http
            .post(format!("{url}/v1/flags/new-checkout"))
            .bearer_auth(&admin)
            .json(&json!({"flag": flag, "reason": "bench"}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "create: {}", r.status());

        // Subscribers: each reports the instant it reads each `change` event.
        let ready = Arc::new(Barrier::new(subscribers + 1));
        let (tx, mut rx) = mpsc::unbounded_channel::<(usize, Instant)>();
        for id in 0..subscribers {
            let (http, url, eval, ready, tx) = (http.clone(), url.clone(), eval.clone(), ready.clone(), tx.clone());
            tokio::spawn(async move {
                let mut resp = http.get(format!("{url}/v1/flags/stream")).bearer_auth(eval).send().await.unwrap();
                let mut seen_snapshot = false;
                let mut buf = String::new();
                while let Ok(Some(chunk)) = resp.chunk().await {
                    let now = Instant::now();
                    buf.push_str(&String::from_utf8_lossy(&chunk));
                    while let Some(end) = buf.find("\n\n") {
                        let event: String = buf.drain(..end + 2).collect();
                        if event.contains("event: snapshot") && !seen_snapshot {
                            seen_snapshot = true;
                            ready.wait().await;
                        } else if event.contains("event: change") {
                            let _ = tx.send((id, now));
                        }
                    }
                }
            });
        }
        drop(tx);
        ready.wait().await;
        println!("{subscribers} subscribers connected and holding a snapshot");

        let mut from_return = Vec::new();
        let mut from_start = Vec::new();
        for flip in 0..flips {
            let action = if flip % 2 == 0 { "off" } else { "on" };
            tokio::time::sleep(Duration::from_millis(200)).await;
            let start = Instant::now();
            let r = http
                .post(format!("{url}/v1/flags/new-checkout/{action}"))
                .bearer_auth(&admin)
                .json(&json!({"reason": "propagation benchmark"}))
                .send()
                .await
                .unwrap();
            let returned = Instant::now();
            assert!(r.status().is_success(), "flip: {}", r.status());
            let mut got = 0;
            while got < subscribers {
                let (_, at) = tokio::time::timeout(Duration::from_secs(30), rx.recv())
                    .await
                    .expect("a subscriber never saw the change")
                    .expect("subscribers ended");
                from_start.push(at.saturating_duration_since(start).as_secs_f64() * 1000.0);
                from_return.push(at.saturating_duration_since(returned).as_secs_f64() * 1000.0);
                got += 1;
            }
        }
        let stats = |mut v: Vec<f64>| {
            v.sort_by(|a, b| a.partial_cmp(b).unwrap());
            let p = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
            format!("p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (n={})", p(0.5), p(0.99), v[v.len() - 1], v.len())
        };
        println!("flip API call returned -> subscriber saw it: {}", stats(from_return));
        println!("flip API call started  -> subscriber saw it: {}", stats(from_start));
    });
    drop(dir);
}
