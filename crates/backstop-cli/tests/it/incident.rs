//! The recovery ladder over a real control plane: each rung recommended and taken in the situation
//! that calls for it, the incident's timeline, the delivery report computed from it, and drills.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::{Harness, http_get};

/// A harness whose app can read flags through the SDK (the demo app's `--guard-flag`).
fn with_flags(extra: &str) -> Harness {
    let mut h = Harness::start(extra);
    h.stop();
    h.app_extra = format!(
        "{extra}env = {{ BACKSTOP_FLAGS_URL = \"http://127.0.0.1:{}\", BACKSTOP_FLAGS_TOKEN_FILE = \"{}\" }}\n",
        h.api_port,
        h.state().join("eval.token").display()
    );
    std::fs::write(h.config_path(), h.config_text()).unwrap();
    h.boot();
    h
}

/// Release `version` of the demo app with its `flags`, and more CLI arguments.
fn release(h: &Harness, version: &str, flags: &[&str], extra: &[&str]) {
    let art = h.artifact(version, flags);
    let mut args = vec!["release", "shop", "--artifact", art.to_str().unwrap(), "--version", version];
    args.extend_from_slice(extra);
    h.cli(&args).ok();
}

/// Poll the public address until it answers `status` (bounded).
fn wait_public(h: &Harness, status: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (got, body) = h.public_get();
        if got == status {
            return body;
        }
        assert!(Instant::now() < deadline, "public address kept answering {got}: {body}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn rung<'a>(a: &'a Value, name: &str) -> &'a Value {
    a["rungs"].as_array().unwrap().iter().find(|r| r["rung"] == name).unwrap()
}

fn warm(h: &Harness) -> Vec<u64> {
    h.json(&["status", "shop"])["warm_revisions"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect()
}

#[test]
fn a_guarded_bad_release_gets_the_kill_switch_and_the_incident_times_its_recovery() {
    let h = with_flags("");
    h.cli(&["flag", "create", "new-checkout", "--on"]).ok();
    release(&h, "v1", &[], &[]);
    h.wait_status(1, "known-good");
    release(&h, "v2", &["--broken", "--guard-flag", "new-checkout"], &["--guarded-by", "new-checkout"]);
    assert!(wait_public(&h, 500).contains("checkout exploded"));

    let ladder = h.json(&["incident", "shop"]);
    assert_eq!(ladder["recommended"], "kill-switch", "{ladder:#}");
    assert_eq!(ladder["incident"], Value::Null, "asking records nothing");
    assert_eq!(rung(&ladder, "kill-switch")["available"], true);
    assert!(ladder["command"].as_str().unwrap().starts_with("backstop flag off new-checkout"), "{ladder:#}");
    let text = h.cli(&["incident", "shop"]);
    assert!(text.ok().stdout().contains("✓ kill-switch: "), "{}", text.stdout());

    let done = h.json(&["incident", "shop", "--execute"]);
    assert_eq!(done["taken"], "kill-switch", "{done:#}");
    let id = done["incident"].as_u64().unwrap();
    assert_eq!(h.json(&["flag", "show", "new-checkout"])["enabled"], false);
    assert_eq!(wait_public(&h, 200).trim(), "shop v2", "same revision, old code path");
    assert_eq!(h.json(&["status", "shop"])["live_revision"], 2, "no deploy happened");

    // Traffic on the mitigated revision brings the recovery mark.
    wait_until("the incident records its recovery", || {
        for _ in 0..20 {
            let _ = http_get(h.app_port, "/");
        }
        h.json(&["incident", "show", &id.to_string()])["recovered_at"].is_string()
    });
    let record = h.json(&["incident", "show", &id.to_string()]);
    for key in ["detected_at", "decided_at", "mitigated_at", "recovered_at"] {
        assert!(record[key].is_string(), "{key} missing: {record:#}");
    }
    assert_eq!((record["revision"].clone(), record["rung"].clone()), (json!(2), json!("kill-switch")));
    let recovery = record["recovery_ms"].as_u64().unwrap();

    let report = h.json(&["report", "shop"]);
    assert_eq!(report["releases"], 2, "{report:#}");
    assert_eq!(report["change_failure_rate"], 0.5, "revision 2 caused the incident: {report:#}");
    assert_eq!(report["recovery_median_ms"], recovery, "{report:#}");

    h.cli(&["incident", "close", &id.to_string(), "--note", "checkout fixed behind the flag"]).ok();
    let listed = h.json(&["incident", "list"]);
    assert_eq!(listed[0]["note"], "checkout fixed behind the flag");
    assert!(listed[0]["closed_at"].is_string());
    let actions: Vec<String> = h
        .json(&["audit", "list"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "incident")
        .map(|e| e["outcome"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(actions, ["opened", "mitigated", "recovered", "closed"]);
}

#[test]
fn an_unguarded_bad_release_with_the_previous_warm_gets_the_traffic_swap() {
    let h = Harness::start("");
    release(&h, "v1", &[], &[]);
    h.wait_status(1, "known-good");
    release(&h, "v2", &["--broken"], &[]);
    wait_public(&h, 500);
    let ladder = h.json(&["incident", "shop"]);
    assert_eq!(ladder["recommended"], "traffic-swap", "{ladder:#}");
    assert_eq!(rung(&ladder, "kill-switch")["available"], false);
    assert_eq!(ladder["target_revision"], 1);

    let done = h.json(&["incident", "shop", "--execute"]);
    assert_eq!(done["taken"], "traffic-swap", "{done:#}");
    assert_eq!(h.public_get(), (200, "shop v1\n".into()));
    let record = &done["record"];
    assert!(record["mitigated_at"].is_string(), "{done:#}");
    assert!(record["operation"].is_u64(), "the swap was a journaled operation: {done:#}");
}

#[test]
fn a_bad_release_whose_previous_is_no_longer_warm_gets_a_redeploy() {
    let h = Harness::start("keep_warm = \"200ms\"\n");
    release(&h, "v1", &[], &[]);
    h.wait_status(1, "known-good");
    release(&h, "v2", &["--broken"], &[]);
    wait_public(&h, 500);
    wait_until("revision 1 is stopped", || warm(&h).is_empty());
    let ladder = h.json(&["incident", "shop"]);
    assert_eq!(ladder["recommended"], "redeploy", "{ladder:#}");
    assert_eq!(rung(&ladder, "traffic-swap")["available"], false);
    assert!(rung(&ladder, "traffic-swap")["reason"].as_str().unwrap().contains("not warm"), "{ladder:#}");

    let done = h.json(&["incident", "shop", "--execute"]);
    assert_eq!(done["taken"], "redeploy", "{done:#}");
    assert_eq!(h.public_get(), (200, "shop v1\n".into()));
}

/// The stored copy of a revision's artifact.
fn stored_artifact(h: &Harness, revision: u64) -> std::path::PathBuf {
    let history = h.json(&["history", "shop"]);
    let rev = history.as_array().unwrap().iter().find(|r| r["revision"] == revision).unwrap();
    let digest = rev["digest"].as_str().unwrap();
    let hex = digest.trim_start_matches("sha256:");
    h.state().join("artifacts").join("sha256").join(hex)
}

#[test]
fn a_tampered_artifact_and_no_warm_instance_leave_only_rolling_forward() {
    let h = Harness::start("keep_warm = \"200ms\"\n");
    release(&h, "v1", &[], &[]);
    h.wait_status(1, "known-good");
    release(&h, "v2", &["--broken"], &["--git-commit", "4f2a9c1"]);
    wait_public(&h, 500);
    wait_until("revision 1 is stopped", || warm(&h).is_empty());
    let stored = stored_artifact(&h, 1);
    assert!(stored.join("run").is_file(), "artifact layout: {}", stored.display());
    std::fs::write(stored.join("VERSION"), "v1 but changed\n").unwrap();

    let ladder = h.json(&["incident", "shop"]);
    assert_eq!(ladder["recommended"], "roll-forward", "{ladder:#}");
    assert_eq!(rung(&ladder, "redeploy")["available"], false, "{ladder:#}");
    assert!(rung(&ladder, "redeploy")["reason"].as_str().unwrap().contains("digest"), "{ladder:#}");
    assert!(
        ladder["command"].as_str().unwrap().starts_with("backstop hotfix start shop --from-revision 2"),
        "{ladder:#}"
    );

    let out = h.cli(&["incident", "shop", "--execute"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    assert!(out.stderr().starts_with("error: only rolling forward is left for `shop`"), "{}", out.stderr());
    assert!(
        out.stderr()
            .contains("hint: start the fix from what runs in production: backstop hotfix start shop --from-revision 2"),
        "{}",
        out.stderr()
    );
    assert_eq!(h.public_get().0, 500, "nothing was moved");
    let record = &h.json(&["incident", "list"])[0];
    assert_eq!(record["rung"], "roll-forward");
    assert_eq!(record["mitigated_at"], Value::Null);
}

#[test]
fn a_target_that_cannot_run_on_todays_schema_is_passed_over_for_rolling_forward() {
    let h = Harness::start("soak = \"1s\"\n[apps.shop.database]\nurl = \"sqlite://shop.db\"\n");
    let folder = |name: &str, files: &[(&str, &str)]| {
        let dir = h.dir.path().join("migrations").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for (file, text) in files {
            std::fs::write(dir.join(file), text).unwrap();
        }
        dir
    };
    let base = ("0001_users.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY, full_name TEXT, nickname TEXT);");
    let v1 = folder("v1", &[base]);
    release(&h, "v1", &[], &["--migrations", path(&v1)]);
    h.wait_status(1, "known-good");
    release(&h, "v2", &[], &["--migrations", path(&v1)]);
    h.wait_status(2, "known-good");
    // The schema moves on under revision 1 outside backstop (a contract through backstop would need
    // revision 2 permanent, and then no rollback goes to 1 at all).
    rusqlite::Connection::open(h.dir.path().join("shop.db"))
        .unwrap()
        .execute_batch("ALTER TABLE users DROP COLUMN nickname;")
        .unwrap();
    assert!(warm(&h).contains(&1), "revision 1 still runs warm");

    let ladder = h.json(&["incident", "shop"]);
    let swap = rung(&ladder, "traffic-swap");
    assert_eq!((swap["available"].clone(), swap["safe"].clone()), (json!(true), json!(false)), "{ladder:#}");
    assert!(swap["reason"].as_str().unwrap().contains("nickname"), "the reason names what is gone: {ladder:#}");
    assert_eq!(rung(&ladder, "redeploy")["safe"], false);
    assert_eq!(ladder["recommended"], "roll-forward", "{ladder:#}");
    // Executing never takes the unsafe swap.
    let out = h.cli(&["incident", "shop", "--execute"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    assert_eq!(h.json(&["status", "shop"])["live_revision"], 2);
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn a_swap_drill_moves_traffic_there_and_back_and_records_its_figures() {
    let h = Harness::start("");
    release(&h, "v1", &[], &[]);
    h.wait_status(1, "known-good");
    release(&h, "v2", &[], &[]);
    let dry = h.json(&["drill", "shop", "--dry-run"]);
    assert_eq!(dry["readiness"]["ready"], true, "{dry:#}");
    assert_eq!(dry["drill"], Value::Null);
    let done = h.json(&["drill", "shop"]);
    let drill = &done["drill"];
    assert_eq!(drill["outcome"], "succeeded", "{done:#}");
    let phases: Vec<&str> = drill["figures"].as_array().unwrap().iter().map(|p| p["phase"].as_str().unwrap()).collect();
    assert_eq!(phases, ["probe", "swap", "swap-back"]);
    assert_eq!(h.public_get(), (200, "shop v2\n".into()), "traffic is back on the live revision");
    assert_eq!(h.json(&["status", "shop"])["live_revision"], 2, "the ledger never moved");
    assert_eq!(h.json(&["drill", "list"]).as_array().unwrap().len(), 1);
}

#[test]
fn a_redeploy_drill_measures_the_cold_start_that_readiness_then_uses() {
    let h = Harness::start("keep_warm = \"200ms\"\n");
    release(&h, "v1", &[], &[]);
    h.wait_status(1, "known-good");
    release(&h, "v2", &[], &[]);
    wait_until("revision 1 is stopped", || warm(&h).is_empty());
    let out = h.cli(&["drill", "shop", "--dry-run"]);
    assert_eq!(out.code(), 1, "a cold target never measured is not ready: {}", out.stdout());
    assert!(
        out.stdout().contains("✗ warm: revision 1 is cold and its cold start was never measured"),
        "{}",
        out.stdout()
    );

    let done = h.json(&["drill", "shop", "--rung", "redeploy"]);
    let drill = &done["drill"];
    assert_eq!(drill["outcome"], "succeeded", "{done:#}");
    assert_eq!(drill["figures"][0]["phase"], "cold-start");
    assert!(warm(&h).is_empty(), "the drilled instance was stopped");
    assert_eq!(h.public_get(), (200, "shop v2\n".into()));
    let dry = h.json(&["drill", "shop", "--dry-run"]);
    assert_eq!(dry["readiness"]["ready"], true, "{dry:#}");
    // A swap drill needs a warm target: refused and recorded as failed.
    let out = h.cli(&["drill", "shop"]);
    assert_eq!(out.code(), 1, "{}", out.stdout());
    assert_eq!(h.json(&["drill", "list", "--app", "shop"])[0]["outcome"], "failed");
}

#[test]
fn require_rollback_ready_refuses_a_release_without_a_proven_way_back_and_names_why() {
    let h = Harness::start("soak = \"3s\"\nrequire_rollback_ready = true\n");
    release(&h, "v1", &[], &[]);
    let art = h.artifact("v2", &[]);
    let out = h.cli(&["release", "shop", "--artifact", art.to_str().unwrap(), "--version", "v2"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    let err = out.stderr();
    assert!(
        err.starts_with(
            "error: release of `shop` refused, its rollback is not ready: known-good: revision 1, live now, is soaking"
        ),
        "{err}"
    );
    assert!(err.contains("hint: a release needs a proven way back"), "{err}");
    assert_eq!(h.json(&["history", "shop"]).as_array().unwrap().len(), 1, "no revision recorded");
    h.wait_status(1, "known-good");
    release(&h, "v2", &[], &[]);
    assert_eq!(h.public_get(), (200, "shop v2\n".into()));
}
