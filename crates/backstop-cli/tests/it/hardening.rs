//! Regressions of the hardening issue that live in the control plane: each test is named after
//! what broke, and runs the real server.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::{BIN, Harness, Out, http_get, http_request, pid_alive};

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

fn request(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    http_request(port, method, path, headers, body).unwrap()
}

fn eval_token(h: &Harness) -> String {
    std::fs::read_to_string(h.state().join("eval.token")).unwrap().trim().to_owned()
}

#[test]
fn eval_token_as_x_api_key_on_a_mutating_route_is_forbidden_not_unauthorized() {
    let h = Harness::start("");
    let eval = eval_token(&h);
    let (status, body) = request(h.api_port, "POST", "/v1/gc", &[("X-API-Key", &eval)], b"");
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("\"forbidden\""), "{body}");
    let (status, _) = request(h.api_port, "POST", "/v1/gc", &[("X-API-Key", "not-a-token")], b"");
    assert_eq!(status, 401);
    let audit = h.json(&["audit", "list"]);
    assert!(!audit.to_string().contains("\"gc\""), "a refused call left an audit entry: {audit}");
}

#[test]
fn lower_case_bearer_scheme_is_accepted() {
    let h = Harness::start("");
    let token = h.token();
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let (status, body) =
            request(h.api_port, "POST", "/v1/gc", &[("Authorization", &format!("{scheme} {token}"))], b"");
        assert_eq!(status, 200, "{scheme}: {body}");
    }
}

#[test]
fn garbage_tar_upload_answers_400_without_internal_paths() {
    let h = Harness::start("");
    let token = h.token();
    let auth = format!("Bearer {token}");
    let digest = format!("/v1/artifacts/sha256:{}", "cd".repeat(32));
    let garbage = vec![0x5au8; 8192];
    let (status, body) = request(
        h.api_port,
        "PUT",
        &digest,
        &[("Authorization", &auth), ("Content-Type", "application/x-tar")],
        &garbage,
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("tar"), "{body}");
    let state = h.state().canonicalize().unwrap();
    assert!(!body.contains(state.to_str().unwrap()) && !body.contains("/tmp/"), "internal path leaked: {body}");
    let (status, _) = request(h.api_port, "GET", &digest, &[], b"");
    assert_eq!(status, 404, "nothing was stored");
}

#[test]
fn state_database_is_readable_by_its_owner_only() {
    let h = Harness::start("");
    let mode = std::fs::metadata(h.state().join("backstop.db")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn migration_planning_was_open_to_anyone() {
    let h = Harness::start("");
    let path = "/v1/apps/shop/migrations/plan";
    let (status, body) = request(h.api_port, "POST", path, &[("Content-Type", "application/json")], b"{}");
    assert_eq!(status, 401, "{body}");
    let eval = eval_token(&h);
    let (status, _) =
        request(h.api_port, "POST", path, &[("Content-Type", "application/json"), ("X-API-Key", &eval)], b"{}");
    assert_eq!(status, 403);
    let auth = format!("Bearer {}", h.token());
    let (status, body) =
        request(h.api_port, "POST", path, &[("Content-Type", "application/json"), ("Authorization", &auth)], b"{}");
    assert_ne!(status, 401, "{body}");
    assert_ne!(status, 403, "{body}");
}

#[test]
fn flag_keys_dot_and_dot_dot_were_accepted_and_then_unreachable() {
    let h = Harness::start("");
    for key in [".", ".."] {
        let out = h.cli(&["flag", "create", key, "--reason", "try"]);
        assert_eq!(out.code(), 2, "{}", out.stderr());
        assert!(out.stderr().starts_with("error:") && out.stderr().contains("hint:"), "{}", out.stderr());
        // The server refuses it too, for clients that skip the CLI.
        let auth = format!("Bearer {}", h.token());
        let body = r#"{"flag": {"enabled": true, "variants": {"on": true, "off": false}, "default_variant": "on", "off_variant": "off", "rules": []}, "reason": "try"}"#;
        let (status, answer) = request(
            h.api_port,
            "POST",
            &format!("/v1/flags/{key}"),
            &[("Authorization", &auth), ("Content-Type", "application/json")],
            body.as_bytes(),
        );
        assert_eq!(status, 400, "{answer}");
    }
    let list = h.json(&["flag", "list"]);
    assert_eq!(list.to_string().matches("\"key\"").count(), 0, "{list}");
}

#[test]
fn unknown_fields_in_flag_requests_were_silently_ignored() {
    let h = Harness::start("");
    let auth = format!("Bearer {}", h.token());
    let body = br#"{"flag": {"enabled": true, "variants": {"on": true, "off": false}, "default_variant": "on", "off_variant": "off", "rules": []}, "reason": "x", "reasn": "typo"}"#;
    let (status, answer) = request(
        h.api_port,
        "POST",
        "/v1/flags/checkout",
        &[("Authorization", &auth), ("Content-Type", "application/json")],
        body,
    );
    assert_eq!(status, 400, "{answer}");
    assert!(answer.contains("reasn"), "the unknown field is named: {answer}");
}
