//! The server's own log: one line per change asked of it, refused ones at `warn`, and a JSON form
//! for log shippers.

use std::process::Command;

use serde_json::Value;

use crate::harness::{BIN, Harness};

/// Restart the harness's server with `env` added, its stderr in `log`.
fn reboot_with(h: &mut Harness, env: &[(&str, &str)], log: &std::path::Path) {
    h.stop();
    // --stop-apps-on-exit, as the harness's own: the test leaves no instance behind.
    let child = h.spawn_server_env(&["--stop-apps-on-exit"], env, log);
    h.boot_child(child);
}

/// Failed releases, refused undos and flag flips were logged nowhere but the audit table.
#[test]
fn refused_undo_and_flag_flip_are_logged_as_json_lines() {
    let mut h = Harness::start("");
    let log = h.dir.path().join("json.log");
    reboot_with(&mut h, &[("BACKSTOP_LOG_FORMAT", "json"), ("BACKSTOP_LOG", "info")], &log);
    h.release("v1", &[]).ok();
    assert_eq!(h.cli(&["undo", "shop"]).code(), 1, "nothing to undo to");
    h.cli(&["flag", "create", "new-checkout", "--on"]).ok();
    h.cli(&["flag", "off", "new-checkout", "--reason", "checkout errors"]).ok();
    let unhealthy = h.release("v2", &["--unhealthy"]);
    assert_eq!(unhealthy.code(), 1, "{}", unhealthy.stderr());

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    let find = |path: &str, message: &str| {
        lines
            .iter()
            .filter(|l| l["message"] == message && l["path"].as_str().is_some_and(|p| p.ends_with(path)))
            .cloned()
            .collect::<Vec<_>>()
    };
    let undo = find("/v1/apps/shop/undo", "change refused or failed");
    assert_eq!(undo.len(), 1, "{text}");
    assert_eq!(undo[0]["level"], "WARN");
    assert_eq!(undo[0]["status"], 409);
    assert_eq!(undo[0]["actor"], "tester");
    assert!(undo[0]["code"].as_str().is_some_and(|c| !c.is_empty()), "{}", undo[0]);
    assert!(undo[0]["error"].as_str().is_some_and(|e| e.contains("known-good")), "{}", undo[0]);
    let flips: Vec<Value> = lines
        .iter()
        .filter(|l| l["path"].as_str().is_some_and(|p| p.contains("/v1/flags/new-checkout")))
        .cloned()
        .collect();
    assert!(flips.len() >= 2 && flips.iter().all(|l| l["message"] == "change done"), "{text}");
    let failed = find("/v1/apps/shop/releases", "change refused or failed");
    assert_eq!(failed.len(), 1, "{text}");
    assert!(failed[0]["error"].as_str().is_some_and(|e| e.contains("healthy")), "{}", failed[0]);
    assert_eq!(find("/v1/apps/shop/releases", "change done").len(), 1, "{text}");
}

#[test]
fn a_bad_log_format_or_filter_is_bad_input() {
    let mut h = Harness::start("");
    h.stop();
    for (key, value) in [("BACKSTOP_LOG_FORMAT", "xml"), ("BACKSTOP_LOG", "info,=[")] {
        let out = Command::new(BIN).args(["server", "--config"]).arg(h.config_path()).env(key, value).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{key}={value}: {stderr}");
        assert!(stderr.starts_with("error: ") && stderr.contains(key) && stderr.contains("hint: "), "{stderr}");
    }
}
