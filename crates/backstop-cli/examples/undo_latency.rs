//! Benchmark (run by bench/proxy.sh, not a test): time from starting
//! `backstop undo` to the first request answered by the warm previous
//! version, measured by a client polling the app's public address.
//!
//! Usage: undo_latency BACKSTOP_BIN APP_PORT WORK_DIR ROUNDS
//! (BACKSTOP_URL and BACKSTOP_TOKEN in the environment; app `shop` live.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The live revision's number and version.
fn live(bin: &str) -> (u64, String) {
    let out = Command::new(bin).args(["status", "shop", "-o", "json"]).output().expect("status");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status json");
    (
        v["live"]["revision"].as_u64().expect("a live revision"),
        v["live"]["version"].as_str().expect("a version").to_owned(),
    )
}

/// GET / on a kept-alive connection; returns the x-demo-version header.
fn get_version(conn: &mut BufReader<TcpStream>) -> std::io::Result<String> {
    conn.get_mut().write_all(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")?;
    let mut version = String::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if conn.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let lower = l.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("x-demo-version:") {
            version = v.trim().to_owned();
        } else if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; length];
    conn.read_exact(&mut body)?;
    Ok(version)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (bin, port, work, rounds) =
        (&args[1], args[2].parse::<u16>().unwrap(), &args[3], args[4].parse::<usize>().unwrap());
    let mut latencies = Vec::new();
    let mut cli_times = Vec::new();
    for i in 0..rounds {
        let (previous_revision, previous) = live(bin);
        let version = format!("lat{i}");
        let dir = format!("{work}/art/{version}");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(format!("{dir}/run"), format!("#!/bin/sh\nexec {bin} demo-app --app-version {version}\n"))
            .unwrap();
        Command::new("chmod").args(["+x", &format!("{dir}/run")]).status().unwrap();
        let ok = Command::new(bin)
            .args(["release", "shop", "--artifact", &dir, "--version", &version])
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(ok.success(), "release failed");

        let seen: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let poller = {
            let (seen, stop, previous) = (seen.clone(), stop.clone(), previous.clone());
            std::thread::spawn(move || {
                let mut conn = BufReader::new(TcpStream::connect(("127.0.0.1", port)).unwrap());
                while !stop.load(Ordering::Relaxed) {
                    match get_version(&mut conn) {
                        Ok(v) if v == previous => {
                            *seen.lock().unwrap() = Some(Instant::now());
                            return;
                        }
                        Ok(_) => {}
                        Err(_) => conn = BufReader::new(TcpStream::connect(("127.0.0.1", port)).unwrap()),
                    }
                }
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        let t0 = Instant::now();
        let to = previous_revision.to_string();
        let out = Command::new(bin).args(["undo", "shop", "--to-revision", &to, "-o", "json"]).output().unwrap();
        let cli = t0.elapsed();
        assert!(out.status.success(), "undo failed: {}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["warm"], true, "undo target was not warm");
        let deadline = Instant::now() + Duration::from_secs(5);
        while seen.lock().unwrap().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        stop.store(true, Ordering::Relaxed);
        poller.join().unwrap();
        let at = seen.lock().unwrap().expect("previous version never answered");
        latencies.push(at.duration_since(t0).as_secs_f64() * 1000.0);
        cli_times.push(cli.as_secs_f64() * 1000.0);
    }
    let stats = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let p = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        format!("median {:.1} ms, p90 {:.1} ms, max {:.1} ms (n={})", p(0.5), p(0.9), v[v.len() - 1], v.len())
    };
    println!("undo -> first request on the warm previous version: {}", stats(latencies));
    println!("undo CLI wall time:                                 {}", stats(cli_times));
}
