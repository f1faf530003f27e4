//! Crash consistency: SIGKILL the control plane at random points of a
//! release, an undo, a drain and an upload, restart it, and check what must
//! hold after any crash. The seed is printed; `BACKSTOP_CRASH_SEED=N`
//! replays a failing run.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::harness::*;

/// splitmix64: enough randomness for kill points, reproducible from a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn millis(&mut self, below: u64) -> Duration {
        Duration::from_millis(self.next() % below)
    }
}

#[derive(Debug, Clone, Copy)]
enum Scene {
    Release,
    Undo,
    Drain,
    Upload,
}

const SCENES: [Scene; 4] = [Scene::Release, Scene::Undo, Scene::Drain, Scene::Upload];
const KILLS: usize = 12;

#[test]
fn sigkill_at_random_points_leaves_a_consistent_control_plane() {
    let seed = std::env::var("BACKSTOP_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
    });
    eprintln!("crash test seed: BACKSTOP_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let mark = format!("crash-{seed}");

    let mut h = Harness::start(&format!(
        "soak = \"200ms\"\nkeep_warm = \"10m\"\ndrain_timeout = \"5s\"\nenv = {{ CRASH_MARK = \"{mark}\" }}\n"
    ));
    h.release("v1", &[]).ok();
    h.wait_status(1, "known-good");
    let mut next_version = 2;

    for round in 0..KILLS {
        let scene = SCENES[round % SCENES.len()];
        let before = revisions(&h);
        let delay = rng.millis(1500);
        eprintln!("round {round}: {scene:?}, kill after {delay:?}");
        let slow = match scene {
            Scene::Release => {
                drop(h.release_in_background(&format!("v{next_version}"), &[]));
                next_version += 1;
                std::thread::sleep(delay);
                None
            }
            Scene::Drain => {
                // A slow request holds the live instance; one release makes it the
                // warm one, the next stops it, and that stop waits for the request.
                let slow = hold_slow_request(h.app_port);
                h.release(&format!("v{next_version}"), &[]);
                drop(h.release_in_background(&format!("v{}", next_version + 1), &[]));
                next_version += 2;
                std::thread::sleep(delay);
                Some(slow)
            }
            Scene::Undo => {
                let token = h.token();
                let api = h.api_port;
                drop(std::thread::spawn(move || {
                    std::process::Command::new(BIN)
                        .args(["undo", "shop"])
                        .env("BACKSTOP_URL", format!("http://127.0.0.1:{api}"))
                        .env("BACKSTOP_TOKEN", token)
                        .output()
                }));
                std::thread::sleep(delay);
                None
            }
            Scene::Upload => {
                drop(start_upload(h.api_port, &h.token()));
                std::thread::sleep(delay.min(Duration::from_millis(400)));
                None
            }
        };
        h.kill9();
        drop(slow);
        h.boot();
        check_invariants(&h, &before, &mark, round);
    }
}

/// Revision number → version, as the history tells it.
fn revisions(h: &Harness) -> BTreeMap<u64, String> {
    let history = h.json(&["history", "shop"]);
    history
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["revision"].as_u64().unwrap(), r["version"].as_str().unwrap_or_default().to_owned()))
        .collect()
}

fn check_invariants(h: &Harness, before: &BTreeMap<u64, String>, mark: &str, round: usize) {
    let context = |what: &str| format!("round {round}: {what}\n--- server log ---\n{}", h.server_log());

    // No operation stays running once recovery is done.
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        let status = h.json(&["status", "shop"]);
        if status["running_operation"].is_null() {
            break status;
        }
        assert!(Instant::now() < deadline, "{}", context(&format!("an operation stayed running: {status}")));
        std::thread::sleep(Duration::from_millis(50));
    };

    // No revision lost or rewritten.
    let after = revisions(h);
    for (n, version) in before {
        assert_eq!(after.get(n), Some(version), "{}", context(&format!("revision {n} changed: {after:?}")));
    }

    // The public port serves the live revision.
    let live = status["live_revision"].as_u64();
    if let Some(live) = live {
        let version = &after[&live];
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = h.public_get();
            if got == (200, format!("shop {version}\n")) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{}",
                context(&format!("public port answered {got:?}, live is {version}"))
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    // The audit chain verifies.
    let audit = h.cli(&["audit", "verify"]);
    assert_eq!(audit.code(), 0, "{}", context(&format!("audit verify: {}", audit.stderr())));

    // Every instance process this app started is on the books; recovery may
    // still be stopping some, so wait for the two to agree.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = h.json(&["status", "shop"]);
        let booked: Vec<u32> = status["instances"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|i| i["pid"].as_u64().map(|p| p as u32))
            .collect();
        let orphans: Vec<u32> = marked_processes(mark).into_iter().filter(|p| !booked.contains(p)).collect();
        if orphans.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{}",
            context(&format!("instance processes outside the books: {orphans:?} (books: {booked:?})"))
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // No upload spool is left behind anywhere under the state directory.
    let spools = spool_files(&h.state());
    assert!(spools.is_empty(), "{}", context(&format!("spool files left: {spools:?}")));
}

/// Live processes whose environment carries this run's mark.
fn marked_processes(mark: &str) -> Vec<u32> {
    let needle = format!("CRASH_MARK={mark}");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else { continue };
        if environ.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()) && pid_alive(pid) {
            found.push(pid);
        }
    }
    found
}

fn spool_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let path = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(path);
            } else if e.file_name().to_string_lossy().starts_with(".upload-") {
                out.push(path);
            }
        }
    }
    out
}

/// A request the live instance answers only after 3 s; held open while the
/// connection lives.
fn hold_slow_request(port: u16) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "GET /slow?ms=3000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    s
}

/// An artifact upload that sends its header and part of its body, then
/// keeps trickling, so the server is killed with a spool file open.
fn start_upload(port: u16, token: &str) -> std::thread::JoinHandle<()> {
    let digest = format!("sha256:{}", "ab".repeat(32));
    let token = token.to_owned();
    std::thread::spawn(move || {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else { return };
        let head = format!(
            "PUT /v1/artifacts/{digest} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/x-tar\r\nContent-Length: 104857600\r\n\r\n"
        );
        if s.write_all(head.as_bytes()).is_err() {
            return;
        }
        let chunk = vec![0u8; 64 * 1024];
        for _ in 0..200 {
            if s.write_all(&chunk).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    })
}
