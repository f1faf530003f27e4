//! A control plane killed with SIGKILL comes back consistent.

use std::time::{Duration, Instant};

use crate::harness::*;

#[test]
fn killed_during_a_release_the_server_reverts_it_and_keeps_serving() {
    let mut h = Harness::start("health_timeout = \"30s\"\n");
    h.release("v1", &[]).ok();
    h.wait_status(1, "known-good");
    let v1_pid = h.json(&["status", "shop"])["instances"][0]["pid"].as_u64().unwrap() as u32;

    // A release that will sit in its health check.
    let pending = h.release_in_background("v2", &["--unhealthy"]);
    let deadline = Instant::now() + Duration::from_secs(15);
    let v2_pid = loop {
        let status = h.json(&["status", "shop"]);
        if let Some(i) = status["instances"].as_array().unwrap().iter().find(|i| i["revision"] == 2) {
            break i["pid"].as_u64().unwrap() as u32;
        }
        assert!(Instant::now() < deadline, "v2 never started");
        std::thread::sleep(Duration::from_millis(20));
    };

    h.kill9();
    let client = pending.join().unwrap();
    assert_ne!(client.status.code(), Some(0), "the client saw the control plane go away");
    assert!(String::from_utf8_lossy(&client.stderr).contains("error:"));
    assert!(pid_alive(v1_pid), "instances outlive the control plane");

    h.boot();
    // Traffic is on v1, served by the very same (re-adopted) process.
    assert_eq!(h.public_get(), (200, "shop v1\n".into()));
    let status = h.json(&["status", "shop"]);
    assert_eq!(status["live_revision"], 1);
    assert!(status["running_operation"].is_null(), "no lock left behind: {status}");
    assert_eq!(status["instances"][0]["pid"].as_u64().unwrap() as u32, v1_pid);
    assert!(!pid_alive(v2_pid), "the half-started instance was stopped");
    let history = h.json(&["history", "shop"]);
    assert_eq!(history[1]["status"], "failed");
    assert!(history[1]["status_reason"].as_str().unwrap().contains("interrupted"), "{history}");
    let ops = h.json(&["operations", "shop"]);
    assert_eq!(ops[0]["state"], "reverted", "{ops}");

    // And the app is operable again.
    h.release("v3", &[]).ok();
    assert_eq!(h.public_get(), (200, "shop v3\n".into()));
}

#[test]
fn killed_while_idle_the_server_re_adopts_live_and_warm_instances() {
    let mut h = Harness::start("");
    h.release("v1", &[]).ok();
    h.wait_status(1, "known-good");
    h.release("v2", &[]).ok();
    let before = h.json(&["status", "shop"]);
    h.kill9();
    // The app's port is served by backstop's proxy, which died with it.
    assert_eq!(h.public_get().0, 0);
    h.boot();
    assert_eq!(h.public_get(), (200, "shop v2\n".into()));
    let after = h.json(&["status", "shop"]);
    let identity = |status: &serde_json::Value| -> Vec<String> {
        status["instances"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| format!("{} {} {} {} {}", i["revision"], i["role"], i["pid"], i["port"], i["warm_until"]))
            .collect()
    };
    assert_eq!(identity(&after), identity(&before), "same processes, same roles, same keep-warm deadline");
    assert_eq!(identity(&after).len(), 2);
    // The warm previous revision is still a pointer swap away.
    let undo: serde_json::Value =
        serde_json::from_str(&h.cli(&["undo", "shop", "--output", "json"]).ok().stdout()).unwrap();
    assert_eq!(undo["warm"], true);
    assert_eq!(h.public_get(), (200, "shop v1\n".into()));
}

#[test]
fn a_graceful_restart_brings_the_live_revision_back() {
    let mut h = Harness::start("");
    h.release("v1", &[]).ok();
    let pid = h.json(&["status", "shop"])["instances"][0]["pid"].as_u64().unwrap() as u32;
    h.stop();
    assert!(!pid_alive(pid), "a graceful stop stops the instances");
    h.boot();
    assert_eq!(h.public_get(), (200, "shop v1\n".into()));
    let ops = h.json(&["operations", "shop"]);
    assert_eq!(ops[0]["kind"], "recover", "{ops}");
}

#[test]
fn a_live_instance_that_dies_after_its_soak_is_restarted() {
    let h = Harness::start("");
    h.release("v1", &[]).ok();
    h.wait_status(1, "known-good");
    let pid = h.json(&["status", "shop"])["instances"][0]["pid"].as_u64().unwrap() as i32;
    nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).unwrap();
    let gone = Instant::now() + Duration::from_secs(10);
    while pid_alive(pid as u32) {
        assert!(Instant::now() < gone, "the instance survived SIGKILL");
        std::thread::sleep(Duration::from_millis(5));
    }
    // A request arriving while nothing listens is held until the restarted instance serves it.
    assert_eq!(h.public_get(), (200, "shop v1\n".into()), "{}", h.server_log());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = h.json(&["status", "shop"]);
        let instances = status["instances"].as_array().unwrap().clone();
        let restarted = instances.iter().any(|i| i["role"] == "serving" && i["alive"] == true && i["pid"] != pid);
        if restarted && h.public_get() == (200, "shop v1\n".into()) {
            break;
        }
        assert!(Instant::now() < deadline, "not restarted: {status}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let ops = h.json(&["operations", "shop"]);
    assert_eq!(ops[0]["kind"], "recover", "{ops}");
    assert_eq!(ops[0]["state"], "succeeded", "{ops}");
    assert!(ops[0]["steps"][0]["detail"].as_str().unwrap().contains("killed by signal 9"), "{ops}");
    assert_eq!(h.revision_status(1), "known-good", "a crash after the soak does not unprove the revision");
}
