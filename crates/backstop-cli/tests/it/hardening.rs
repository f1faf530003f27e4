//! Regressions of the hardening issue that live in the control plane: each test is named after
//! what broke, and runs the real server.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::{BIN, Harness, Out, http_get, pid_alive};

fn wait_until(what: &str, bound: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + bound;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_crash_while_an_old_instance_drains_left_it_running_forever() {
    // A long drain, so the old instance is still draining when the control plane dies.
    let mut h = Harness::start("drain_timeout = \"30s\"\n");
    h.release("v1", &[]).ok();
    let status = h.json(&["status", "shop"]);
    let v1_pid = status["instances"][0]["pid"].as_u64().unwrap() as u32;

    // Hold a slow request on v1 for the whole test.
    let port = h.app_port;
    let slow = std::thread::spawn(move || http_get(port, "/slow?ms=20000"));
    wait_until("the slow request is in flight on v1", Duration::from_secs(20), || {
        let s = h.json(&["status", "shop"]);
        s["instances"].as_array().unwrap().iter().any(|i| i["revision"] == 1 && i["inflight"].as_u64() >= Some(1))
    });
    h.release("v2", &[]).ok(); // v1 stays warm
    h.release("v3", &[]).ok(); // v1 is no longer kept: it drains, then stops
    let s = h.json(&["status", "shop"]);
    assert!(!s["instances"].as_array().unwrap().iter().any(|i| i["revision"] == 1), "v1 left the app's instances: {s}");
    h.kill9();
    assert!(pid_alive(v1_pid), "v1 is still draining when the control plane dies");

    // The restarted control plane finds v1 on the books (stopping) and stops it.
    h.boot();
    wait_until("the drained v1 process is gone", Duration::from_secs(30), || !pid_alive(v1_pid));
    let s = h.json(&["status", "shop"]);
    assert_eq!(s["live_revision"], 3, "{s}");
    assert!(!s["instances"].as_array().unwrap().iter().any(|i| i["revision"] == 1), "{s}");
    assert_eq!(http_get(h.app_port, "/").unwrap().0, 200);
    drop(slow);
}

#[test]
fn absurd_durations_were_accepted_and_then_wedged_the_app() {
    for (key, value) in [
        ("soak", "300000y"),
        ("keep_warm", "300000y"),
        ("health_timeout", "300000000000y"),
        ("stop_grace", "300000000000y"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("backstop.toml");
        let text = format!("[server]\nstate = \"s\"\n[apps.shop]\nlisten = \"127.0.0.1:1\"\n{key} = \"{value}\"\n");
        std::fs::write(&path, text).unwrap();
        let out = Out(Command::new(BIN).args(["server", "--config"]).arg(&path).output().unwrap());
        assert_eq!(out.code(), 2, "{key}: {}", out.stderr());
        assert!(
            out.stderr().contains(&format!("`apps.shop.{key}` is `{value}`, longer than the limit")),
            "{}",
            out.stderr()
        );
        assert!(!dir.path().join("s").exists(), "no state written for a bad config");
    }
}
