//! Automated analysis end to end: real traffic from client threads through the real proxy to demo
//! services that fail a set share of requests, judged by the soak watcher.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::*;

/// Traffic on the app's public address from a few client threads until dropped.
struct Load {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    threads: Vec<JoinHandle<()>>,
}

impl Load {
    fn start(port: u16, threads: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let threads = (0..threads)
            .map(|_| {
                let (stop, sent) = (stop.clone(), sent.clone());
                std::thread::spawn(move || {
                    while !stop.load(Ordering::SeqCst) {
                        let _ = http_get(port, "/");
                        sent.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        Load { stop, sent, threads }
    }

    fn sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Poll `probe` until it gives a value, for at most `bound`.
#[track_caller]
fn wait_for<T>(h: &Harness, what: &str, bound: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + bound;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}: {}", h.server_log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn revision(h: &Harness, n: u64) -> Value {
    h.json(&["history", "shop"]).as_array().unwrap().iter().find(|r| r["revision"] == n).cloned().unwrap_or_default()
}

fn wait_status(h: &Harness, n: u64, status: &str, bound: Duration) -> Value {
    wait_for(h, &format!("revision {n} to be {status}"), bound, || {
        let r = revision(h, n);
        (r["status"] == status).then_some(r)
    })
}

/// The detail of step `name` of the newest operation of `kind`, read as JSON.
fn step_json(ops: &Value, kind: &str, name: &str) -> Value {
    let op = ops.as_array().unwrap().iter().find(|o| o["kind"] == kind).unwrap_or_else(|| panic!("no {kind}: {ops}"));
    let step = op["steps"].as_array().unwrap().iter().find(|s| s["step"] == name);
    let detail = step.and_then(|s| s["detail"].as_str()).unwrap_or_else(|| panic!("no step {name}: {op}"));
    serde_json::from_str(detail).unwrap()
}

/// The evidence names the counts, and the failed check's statistic reached its threshold.
#[track_caller]
fn assert_evidence(evidence: &Value, revision: u64) {
    assert_eq!(evidence["revision"], revision, "{evidence}");
    assert_eq!(evidence["verdict"], "fail", "{evidence}");
    let (requests, failures) = (evidence["requests"].as_u64().unwrap(), evidence["failures"].as_u64().unwrap());
    assert!(requests > 0 && failures > 0 && failures < requests, "{evidence}");
    let check = evidence["evidence"].as_array().unwrap().iter().find(|c| c["failed"] == true).unwrap();
    assert_eq!(check["check"], "error-ratio", "{evidence}");
    assert!(check["statistic"].as_f64().unwrap() >= check["threshold"].as_f64().unwrap(), "{evidence}");
    assert_eq!(check["ceiling"], 0.01, "{evidence}");
}

const ANALYSIS: &str = "[apps.shop.analysis]\nmax_error_ratio = 0.01\nmin_requests = 50\n";

#[test]
fn a_release_failing_under_load_is_reverted_by_analysis_long_before_its_soak_ends() {
    let h = Harness::start(&format!("soak = \"15s\"\n{ANALYSIS}"));
    let load = Load::start(h.app_port, 3);
    h.release("v1", &[]).ok();
    wait_status(&h, 1, "known-good", Duration::from_secs(60));
    assert_eq!(h.json(&["status", "shop"])["analysis"]["verdict"], "pass");

    h.release("v2", &["--fail-percent", "30"]).ok();
    let released = Instant::now();
    let failed = wait_status(&h, 2, "failed", Duration::from_secs(60));
    // Healthy by its health check all along: only the analysis could fail it, and well inside the soak.
    assert!(released.elapsed() < Duration::from_secs(10), "reverted after {:?}", released.elapsed());
    let reason = failed["status_reason"].as_str().unwrap();
    assert!(reason.starts_with("analysis failed: error ratio"), "{reason}");
    assert!(load.sent() > 0);
    drop(load);
    assert_eq!(h.public_get(), (200, "shop v1\n".into()));

    let ops = h.json(&["operations", "shop"]);
    let revert = &ops[0];
    assert_eq!((revert["kind"].as_str(), revert["state"].as_str()), (Some("auto-revert"), Some("succeeded")), "{ops}");
    assert_eq!(revert["actor"], "backstop:analysis");
    assert_evidence(&step_json(&ops, "auto-revert", "analysis-failed"), 2);
    let evidence = step_json(&ops, "auto-revert", "analysis-failed");
    assert_eq!(evidence["baseline"]["revision"], 1, "{evidence}");
    assert!(evidence["baseline"]["requests"].as_u64().unwrap() >= 50, "{evidence}");
}

#[test]
fn a_healthy_release_with_a_little_noise_becomes_known_good() {
    // Enough traffic inside the soak even on a loaded machine: 20 requests in 6 s from 3 clients.
    let config = ANALYSIS.replace("0.01", "0.02").replace("min_requests = 50", "min_requests = 20");
    let h = Harness::start(&format!("soak = \"6s\"\n{config}"));
    let _load = Load::start(h.app_port, 3);
    h.release("v1", &["--fail-percent", "0.5"]).ok();
    wait_status(&h, 1, "known-good", Duration::from_secs(60));
    h.release("v2", &["--fail-percent", "0.5"]).ok();
    wait_status(&h, 2, "known-good", Duration::from_secs(60));
    let status = h.json(&["status", "shop"]);
    assert_eq!(status["analysis"]["revision"], 2, "{status}");
    assert_eq!(status["analysis"]["verdict"], "pass", "{status}");
    assert!(status["analysis"]["requests"].as_u64().unwrap() >= 20, "{status}");
    let text = h.cli(&["status", "shop"]);
    assert!(text.ok().stdout().contains("analysis:          pass: error ratio"), "{}", text.stdout());
}

#[test]
fn too_little_traffic_leaves_a_revision_unproven() {
    let h = Harness::start(&format!("soak = \"2s\"\n{ANALYSIS}"));
    h.release("v1", &[]).ok();
    for _ in 0..5 {
        assert_eq!(h.public_get().0, 200);
    }
    let live = wait_status(&h, 1, "live", Duration::from_secs(30));
    let reason = live["status_reason"].as_str().unwrap();
    assert!(
        reason.starts_with("analysis inconclusive: ") && reason.ends_with(" of the 50 requests needed"),
        "{reason}"
    );
    let status = h.json(&["status", "shop"]);
    assert_eq!(status["known_good_revision"], Value::Null, "{status}");
    assert_eq!(status["analysis"]["verdict"], "inconclusive", "{status}");
    let text = h.cli(&["status", "shop"]);
    let text = text.ok().stdout();
    assert!(text.contains("analysis inconclusive: "), "{text}");
    assert!(text.contains("analysis:          inconclusive: too little traffic"), "{text}");
    // The soak is over: it stays unproven, whatever traffic comes later.
    for _ in 0..60 {
        h.public_get();
    }
    assert_eq!(revision(&h, 1)["status"], "live");
    let known_good = h.cli(&["known-good", "shop"]);
    assert_ne!(known_good.code(), 0, "{}", known_good.stdout());
}

#[test]
fn the_kill_switch_turns_the_guard_flag_off_and_the_answers_recover() {
    let mut h = Harness::start("");
    h.stop();
    h.app_extra = format!(
        "soak = \"8s\"\nenv = {{ BACKSTOP_FLAGS_URL = \"http://127.0.0.1:{}\", BACKSTOP_FLAGS_TOKEN_FILE = \"{}\" }}\n\
         {ANALYSIS}on_failure = \"kill-switch\"\n",
        h.api_port,
        h.state().join("eval.token").display()
    );
    std::fs::write(h.config_path(), h.config_text()).unwrap();
    h.boot();
    h.cli(&["flag", "create", "new-checkout", "--on"]).ok();
    h.release("v1", &[]).ok();
    let load = Load::start(h.app_port, 3);
    let art = h.artifact("v2", &["--fail-percent", "30", "--guard-flag", "new-checkout"]);
    let art = art.to_str().unwrap();
    h.cli(&["release", "shop", "--artifact", art, "--version", "v2", "--guarded-by", "new-checkout"]).ok();

    wait_for(&h, "the kill switch", Duration::from_secs(30), || {
        (h.json(&["flag", "show", "new-checkout"])["enabled"] == false).then_some(())
    });
    let ops = h.json(&["operations", "shop"]);
    let kill = &ops[0];
    assert_eq!((kill["kind"].as_str(), kill["state"].as_str()), (Some("kill-switch"), Some("succeeded")), "{ops}");
    assert_eq!(kill["actor"], "backstop:analysis");
    assert_evidence(&step_json(&ops, "kill-switch", "analysis-failed"), 2);
    let flag_off = kill["steps"].as_array().unwrap().iter().find(|s| s["step"] == "flag-off").unwrap();
    assert!(flag_off["detail"].as_str().unwrap().contains("`new-checkout` turned off"), "{kill}");
    let history = h.json(&["flag", "history", "new-checkout"]);
    assert_eq!(history.as_array().unwrap().last().unwrap()["actor"], "backstop:analysis", "{history}");

    // The answers recover with no deploy: traffic stays on revision 2.
    drop(load);
    let mut healthy_in_a_row = 0;
    wait_for(&h, "answers to recover", Duration::from_secs(30), || {
        healthy_in_a_row = if h.public_get() == (200, "shop v2\n".into()) { healthy_in_a_row + 1 } else { 0 };
        (healthy_in_a_row >= 50).then_some(())
    });
    let status = h.json(&["status", "shop"]);
    assert_eq!(status["live_revision"], 2, "{status}");
    assert_eq!(status["analysis"]["action"], "kill-switch", "{status}");
    // Never promoted: at the end of its soak it is live, unproven, saying why.
    let live = wait_status(&h, 2, "live", Duration::from_secs(30));
    let reason = live["status_reason"].as_str().unwrap();
    assert!(
        reason.starts_with("analysis failed: ") && reason.ends_with("kill switch turned off new-checkout"),
        "{reason}"
    );
    assert_eq!(h.json(&["history", "shop"]).as_array().unwrap().len(), 2, "no deploy happened");
}

#[test]
fn a_kill_switch_without_guard_flags_reverts_and_says_why() {
    let h = Harness::start(&format!("soak = \"4s\"\n{ANALYSIS}on_failure = \"kill-switch\"\n"));
    let _load = Load::start(h.app_port, 3);
    h.release("v1", &[]).ok();
    wait_status(&h, 1, "known-good", Duration::from_secs(60));
    h.release("v2", &["--fail-percent", "30"]).ok();
    wait_status(&h, 2, "failed", Duration::from_secs(60));
    let ops = h.json(&["operations", "shop"]);
    assert_eq!(ops[0]["kind"], "auto-revert", "{ops}");
    assert_evidence(&step_json(&ops, "auto-revert", "analysis-failed"), 2);
    let steps: Vec<&str> = ops[0]["steps"].as_array().unwrap().iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert_eq!(&steps[..2], ["analysis-failed", "kill-switch-unavailable"], "{ops}");
    let why = ops[0]["steps"][1]["detail"].as_str().unwrap();
    assert!(why.contains("without --guarded-by flags") && why.ends_with("reverting instead"), "{why}");
    assert!(ops.as_array().unwrap().iter().all(|o| o["kind"] != "kill-switch"), "{ops}");
}

#[test]
fn pause_records_the_failure_and_leaves_the_revision_serving_unproven() {
    let h = Harness::start(&format!("soak = \"4s\"\n{ANALYSIS}on_failure = \"pause\"\n"));
    h.release("v1", &[]).ok();
    let _load = Load::start(h.app_port, 3);
    h.release("v2", &["--fail-percent", "30"]).ok();
    let paused = wait_for(&h, "the paused audit entry", Duration::from_secs(30), || {
        let audit = h.json(&["audit", "list"]);
        audit.as_array().unwrap().iter().find(|e| e["action"] == "analysis" && e["outcome"] == "paused").cloned()
    });
    assert_eq!(paused["actor"], "backstop:analysis", "{paused}");
    assert_evidence(&paused["detail"], 2);
    let live = wait_status(&h, 2, "live", Duration::from_secs(30));
    let reason = live["status_reason"].as_str().unwrap();
    assert!(reason.starts_with("analysis failed: ") && reason.ends_with("paused for an operator"), "{reason}");
    let status = h.json(&["status", "shop"]);
    assert_eq!((status["live_revision"].clone(), status["analysis"]["action"].clone()), (2.into(), "pause".into()));
    let ops = h.json(&["operations", "shop"]);
    assert_eq!(ops[0]["kind"], "release", "no operation moved traffic: {ops}");
}

/// After its soak a live revision is still watched: when it goes bad later, analysis opens an
/// incident with its evidence and the ladder's decision, and moves nothing by itself.
#[test]
fn a_revision_that_goes_bad_after_its_soak_opens_an_incident() {
    let h = Harness::start(&format!("soak = \"1s\"\n{ANALYSIS}"));
    let load = Load::start(h.app_port, 2);
    h.release("v1", &[]).ok();
    wait_status(&h, 1, "known-good", Duration::from_secs(60));
    h.release("v2", &["--broken", "--healthy-for", "3000"]).ok();
    wait_status(&h, 2, "known-good", Duration::from_secs(60));
    let incident = wait_for(&h, "an incident opened by analysis", Duration::from_secs(60), || {
        let all = h.json(&["incident", "list"]);
        all.as_array().unwrap().first().cloned()
    });
    drop(load);
    assert_eq!(incident["opened_by"], "backstop:analysis", "{incident:#}");
    assert_eq!(incident["revision"], 2);
    assert_eq!(incident["facts"]["analysis"]["check"], "error-ratio-after-soak", "{incident:#}");
    assert!(incident["facts"]["analysis"]["statistic"].as_f64().unwrap() >= 13.8, "{incident:#}");
    assert_eq!(incident["decision"]["recommended"], "traffic-swap", "{incident:#}");
    assert_eq!(incident["mitigated_at"], Value::Null, "analysis opens it; it does not act alone");
    assert_eq!(h.json(&["status", "shop"])["live_revision"], 2);
}
