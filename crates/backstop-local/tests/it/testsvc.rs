//! The service under test: this test binary, re-executed with `--exact testsvc::serve` and
//! `BACKSTOP_LOCAL_TEST_SERVE=<mode>`, becomes a small HTTP server on `$PORT`.
//!
//! Modes:
//! - `healthy`: 200 on `/healthz`, 404 elsewhere.
//! - `unhealthy`: 500 everywhere.
//! - `crash`: exits with status 3 at once.
//! - `stubborn`: like `healthy`, but SIGTERM does nothing.
//! - `family`: starts a grandchild (mode `idle`) in its group, logs its pid, then like `healthy`.
//! - `idle`: sleeps forever, serves nothing.

use std::path::Path;

use backstop_local::LaunchSpec;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const MODE_VAR: &str = "BACKSTOP_LOCAL_TEST_SERVE";
const TEST_NAME: &str = "testsvc::serve";
pub const GREETING: &str = "hello from the spec";

/// A no-op in a normal test run; the whole service when this process was launched by a test.
#[test]
fn serve() {
    if let Ok(mode) = std::env::var(MODE_VAR) {
        run(&mode);
    }
}

/// A spec launching the test service in `mode`, with its working directory and log under `dir` (neither
/// exists yet).
pub fn spec(dir: &Path, mode: &str) -> LaunchSpec {
    LaunchSpec {
        program: std::env::current_exe().expect("current exe"),
        args: self_args(),
        env: vec![(MODE_VAR.into(), mode.into()), ("TESTSVC_GREETING".into(), GREETING.into())],
        cwd: dir.join("run").join("cwd"),
        log_path: dir.join("logs").join("instance.log"),
        port: backstop_local::free_port().expect("free port"),
    }
}

fn self_args() -> Vec<String> {
    [TEST_NAME, "--exact", "--nocapture", "--test-threads=1"].map(String::from).to_vec()
}

fn run(mode: &str) -> ! {
    match mode {
        "crash" => {
            println!("testsvc: crashing");
            std::process::exit(3);
        }
        "idle" => loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        },
        _ => {}
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        // Once tokio handles SIGTERM, its default action (exit) is gone for good.
        let _sigterm = (mode == "stubborn").then(|| {
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("sigterm handler")
        });
        if mode == "family" {
            let mut grandchild = std::process::Command::new(std::env::current_exe().expect("current exe"))
                .args(self_args())
                .env(MODE_VAR, "idle")
                .spawn()
                .expect("spawn grandchild");
            println!("testsvc: grandchild {}", grandchild.id());
            std::thread::spawn(move || grandchild.wait());
        }
        let port: u16 = std::env::var("PORT").expect("PORT").parse().expect("PORT is a port");
        let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
        println!("testsvc: greeting {}", std::env::var("TESTSVC_GREETING").unwrap_or_default());
        println!("testsvc: {mode} on 127.0.0.1:{port}");
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let mode = mode.to_owned();
            tokio::spawn(async move { answer(stream, &mode).await });
        }
    })
}

async fn answer(mut stream: TcpStream, mode: &str) {
    let mut request = Vec::new();
    let mut buffer = [0; 1024];
    while !request.windows(4).any(|window| window == b"\r\n\r\n") && request.len() < 16 * 1024 {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buffer[..n]),
        }
    }
    let text = String::from_utf8_lossy(&request);
    let path = text.split_whitespace().nth(1).unwrap_or("");
    let status = match (mode, path) {
        ("unhealthy", _) => "500 Internal Server Error",
        (_, "/healthz") => "200 OK",
        _ => "404 Not Found",
    };
    let response = format!("HTTP/1.1 {status}\r\ncontent-length: 3\r\nconnection: close\r\n\r\n{}", &status[..3]);
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}
