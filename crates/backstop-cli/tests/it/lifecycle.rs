//! Release, traffic, undo, health failures, soak, tampering, locking, audit, auth.

use std::time::Duration;

use crate::harness::*;

#[test]
fn two_releases_move_traffic_and_undo_brings_it_back_warm() {
    let h = Harness::start("");
    h.release("v1", &[]).ok();
    assert_eq!(h.public_get(), (200, "shop v1\n".into()));
    h.wait_status(1, "known-good");

    let out = h.release("v2", &[]);
    out.ok();
    assert!(out.stdout().contains("revision 2"), "{}", out.stdout());
    assert_eq!(h.public_get(), (200, "shop v2\n".into()));

    let status = h.json(&["status", "shop"]);
    assert_eq!(status["live_revision"], 2);
    assert_eq!(status["known_good_revision"], 1);
    assert_eq!(status["warm_revisions"], serde_json::json!([1]));

    let undo = h.cli(&["undo", "shop", "--output", "json"]);
    undo.ok();
    let undo: serde_json::Value = serde_json::from_str(&undo.stdout()).unwrap();
    assert_eq!(undo["revision"], 1);
    assert_eq!(undo["warm"], true, "the previous instance was still running");
    assert_eq!(h.public_get(), (200, "shop v1\n".into()));

    let history = h.json(&["history", "shop"]);
    let rows = history.as_array().unwrap();
    assert_eq!(rows.len(), 2, "undo must not invent a revision");
    assert_eq!(rows[0]["change_cause"], "ship v1", "change-cause is never rewritten");
    assert_eq!(rows[0]["live"], true);
    assert_eq!(rows[1]["status"], "rolled-back");
    assert_eq!(rows[1]["change_cause"], "ship v2");
    assert_eq!(rows[1]["warm"], true, "the abandoned revision stays warm for a redo");

    // The table marks live and last known-good.
    let table = h.cli(&["history", "shop"]);
    table.ok();
    let lines: Vec<String> = table.stdout().lines().map(str::to_owned).collect();
    assert!(lines[0].starts_with("REVISION"), "{}", table.stdout());
    assert!(lines[1].starts_with("1 *") && lines[1].contains("last-known-good"), "{}", table.stdout());
    assert!(h.cli(&["known-good", "shop"]).ok().stdout().contains("revision 1"));

    // The rollback alias with an explicit revision: redo revision 2.
    h.cli(&["rollback", "shop", "2"]).ok();
    assert_eq!(h.public_get(), (200, "shop v2\n".into()));
}

#[test]
fn a_release_that_never_gets_healthy_leaves_traffic_on_the_previous_revision() {
    let h = Harness::start("health_timeout = \"1s\"\n");
    h.release("v1", &[]).ok();
    let out = h.release("v2", &["--unhealthy"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    assert!(out.stderr().starts_with("error: revision 2 failed: never became healthy"), "{}", out.stderr());
    assert!(out.stderr().contains("hint: traffic stays on revision 1"), "{}", out.stderr());
    assert_eq!(h.public_get(), (200, "shop v1\n".into()));
    assert_eq!(h.revision_status(2), "failed");
    let status = h.json(&["status", "shop"]);
    assert_eq!(status["live_revision"], 1);
    let instances = status["instances"].as_array().unwrap();
    assert_eq!(instances.len(), 1, "the failed instance was stopped: {status}");
}

#[test]
fn a_revision_that_dies_during_its_soak_is_reverted_automatically() {
    let h = Harness::start("soak = \"1s\"\n");
    h.release("v1", &[]).ok();
    h.wait_status(1, "known-good");
    h.release("v2", &["--crash-after-ms", "300"]).ok();
    h.wait_status(2, "failed");
    assert_eq!(h.public_get(), (200, "shop v1\n".into()));
    let status = h.json(&["status", "shop"]);
    assert_eq!(status["live_revision"], 1);
    let history = h.json(&["history", "shop"]);
    assert!(history[1]["status_reason"].as_str().unwrap().contains("died during soak"), "{history}");
    let ops = h.json(&["operations", "shop"]);
    assert_eq!(ops[0]["kind"], "auto-revert", "{ops}");
    assert_eq!(ops[0]["state"], "succeeded", "{ops}");
}

#[test]
fn a_tampered_artifact_is_refused_naming_both_digests() {
    // keep_warm 0s: the previous instance is stopped at once, so undo must cold-start and verify.
    let h = Harness::start("keep_warm = \"0s\"\n");
    h.release("v1", &[]).ok();
    h.wait_status(1, "known-good");
    h.release("v2", &[]).ok();
    let v1 = h.json(&["history", "shop"])[0]["digest"].as_str().unwrap().to_owned();
    // Wait until the reaper stopped the warm v1.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !h.json(&["status", "shop"])["warm_revisions"].as_array().unwrap().is_empty() {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(50));
    }
    let stored = h.state().join("artifacts/sha256").join(v1.trim_start_matches("sha256:"));
    std::fs::write(stored.join("VERSION"), "v1-evil\n").unwrap();

    let out = h.cli(&["undo", "shop"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    let err = out.stderr();
    assert!(err.contains(&format!("expected {v1}")), "{err}");
    assert!(err.contains("found sha256:"), "{err}");
    assert!(err.contains("hint:"), "{err}");
    assert_eq!(h.public_get(), (200, "shop v2\n".into()), "traffic stays where it was");
}

#[test]
fn a_digest_mismatch_is_refused_before_anything_starts() {
    let h = Harness::start("");
    let art = h.artifact("v1", &[]);
    let wrong = format!("sha256:{}", "0".repeat(64));
    let out = h.cli(&["release", "shop", "--artifact", art.to_str().unwrap(), "--version", "v1", "--digest", &wrong]);
    assert_eq!(out.code(), 2, "{}", out.stderr());
    assert!(out.stderr().contains(&format!("not the expected {wrong}")), "{}", out.stderr());
    assert!(h.json(&["history", "shop"]).as_array().unwrap().is_empty());
    // The right digest is accepted.
    let digest = h.cli(&["digest", art.to_str().unwrap()]).ok().stdout().split_whitespace().next().unwrap().to_owned();
    h.cli(&["release", "shop", "--artifact", art.to_str().unwrap(), "--version", "v1", "--digest", &digest]).ok();
    assert_eq!(h.public_get().0, 200);
}

#[test]
fn a_second_concurrent_operation_is_refused_naming_the_first() {
    let h = Harness::start("health_timeout = \"4s\"\n");
    h.release("v1", &[]).ok();
    let slow = h.release_in_background("v2", &["--unhealthy"]);
    // Wait until the slow release holds the lock.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while h.json(&["status", "shop"])["running_operation"].is_null() {
        assert!(std::time::Instant::now() < deadline, "release never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = h.release("v3", &[]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    assert!(out.stderr().contains("(release) is already running on `shop`"), "{}", out.stderr());
    let undo = h.cli(&["undo", "shop", "--to-revision", "1"]);
    assert_eq!(undo.code(), 1);
    assert!(undo.stderr().contains("already running"), "{}", undo.stderr());
    let first = slow.join().unwrap();
    assert_eq!(first.status.code(), Some(1));
    // The lock is released: the next operation goes through.
    h.release("v3", &[]).ok();
    assert_eq!(h.public_get(), (200, "shop v3\n".into()));
}

#[test]
fn the_audit_log_detects_a_tampered_entry() {
    let h = Harness::start("");
    h.release("v1", &[]).ok();
    h.release("v2", &[]).ok();
    let verify = h.cli(&["audit", "verify"]);
    verify.ok();
    assert!(verify.stdout().starts_with("audit log intact"), "{}", verify.stdout());
    let entries = h.json(&["audit", "list"]);
    assert!(
        entries.as_array().unwrap().iter().any(|e| e["action"] == "release" && e["actor"] == "admin:tester"),
        "{entries}"
    );

    let db = rusqlite::Connection::open(h.state().join("backstop.db")).unwrap();
    db.execute_batch("DROP TRIGGER audit_no_update; UPDATE audit SET actor = 'someone-else' WHERE seq = 1;").unwrap();
    drop(db);
    let verify = h.cli(&["audit", "verify"]);
    assert_eq!(verify.code(), 1);
    assert!(
        verify.stderr().contains("audit log tampered: audit entry 1 does not match its hash"),
        "{}",
        verify.stderr()
    );
}

#[test]
fn a_wrong_or_missing_token_is_refused_and_changes_nothing() {
    let h = Harness::start("");
    let art = h.artifact("v1", &[]);
    let args = ["release", "shop", "--artifact", art.to_str().unwrap(), "--version", "v1"];
    let wrong = h.cli_with(&args, &[("BACKSTOP_TOKEN", "not-the-token")]);
    assert_eq!(wrong.code(), 1);
    assert!(wrong.stderr().contains("error: the token is not valid"), "{}", wrong.stderr());
    let missing = h.cli_with(&args, &[]);
    assert_eq!(missing.code(), 1);
    assert!(missing.stderr().contains("needs the admin token"), "{}", missing.stderr());
    assert!(missing.stderr().contains("hint: set BACKSTOP_TOKEN"), "{}", missing.stderr());
    // Reads need no token; nothing was recorded or stored.
    assert!(h.json(&["history", "shop"]).as_array().unwrap().is_empty());
    assert_eq!(std::fs::read_dir(h.state().join("artifacts/sha256")).unwrap().count(), 0);
    assert_eq!(h.public_get().0, 503, "nothing serves");
}

#[test]
fn gc_keeps_the_artifacts_of_known_good_revisions() {
    let h = Harness::start("soak = \"0s\"\n");
    h.release("v1", &[]).ok();
    h.release("v2", &["--unhealthy"]); // failed: its artifact is collectable
    let gc = h.json(&["gc"]);
    assert_eq!(gc["removed"].as_array().unwrap().len(), 1, "{gc}");
    let history = h.json(&["history", "shop"]);
    let live = history[0]["digest"].as_str().unwrap().trim_start_matches("sha256:").to_owned();
    assert!(h.state().join("artifacts/sha256").join(live).exists());
    // The collection is audited as the store's own action, under no app.
    let audit = h.json(&["audit", "list"]);
    let entry = audit.as_array().unwrap().iter().rev().find(|e| e["action"] == "gc").unwrap();
    assert_eq!(entry["app"], serde_json::Value::Null, "{entry}");
    assert!(entry["detail"]["freed_bytes"].is_u64(), "{entry}");
    assert_eq!(h.json(&["audit", "verify"])["ok"], true);
}

#[test]
fn a_release_records_the_flags_that_guard_it() {
    let h = Harness::start("");
    let art = h.artifact("v1", &[]);
    let art = art.to_str().unwrap();
    let base = ["release", "shop", "--artifact", art, "--version", "v1"];

    let missing = h.cli(&[&base[..], &["--guarded-by", "new-checkout"]].concat());
    assert_eq!(missing.code(), 2, "{}", missing.stderr());
    assert!(
        missing.stderr().contains("flag `new-checkout` named by --guarded-by does not exist"),
        "{}",
        missing.stderr()
    );
    assert!(missing.stderr().contains("hint: create it first"), "{}", missing.stderr());
    assert!(h.json(&["history", "shop"]).as_array().unwrap().is_empty(), "nothing recorded");

    h.cli(&["flag", "create", "new-checkout", "--description", "the new checkout flow", "--on"]).ok();
    h.cli(&[&base[..], &["--guarded-by", "new-checkout"]].concat()).ok();
    let history = h.json(&["history", "shop"]);
    assert_eq!(history[0]["guarded_by"], serde_json::json!(["new-checkout"]));
    let status = h.json(&["status", "shop"]);
    assert_eq!(status["live"]["guarded_by"], serde_json::json!(["new-checkout"]));
    let shown = h.cli(&["history", "shop", "--revision", "1"]);
    assert!(shown.ok().stdout().contains("new-checkout"), "{}", shown.stdout());
}
