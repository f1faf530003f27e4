//! What an operator hits in the first hour: a config with relative paths run from its own folder,
//! and output piped into a reader that stops early.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{BIN, free_port, http_get, stop_gracefully};

#[test]
fn a_relative_state_directory_broke_every_release() {
    let dir = tempfile::Builder::new().prefix("backstop-it-").tempdir().unwrap();
    let (api, app) = (free_port(), free_port());
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:{api}\"\nstate = \"state\"\n\n[apps.shop]\nlisten = \"127.0.0.1:{app}\"\nhealth = \"/healthz\"\nsoak = \"200ms\"\n"
    );
    std::fs::write(dir.path().join("backstop.toml"), config).unwrap();
    // Started from the config's own folder with a bare file name, as `backstop server` in a project.
    let mut server = Command::new(BIN)
        .args(["server", "--config", "backstop.toml", "--stop-apps-on-exit"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !matches!(http_get(api, "/v1/health"), Ok((200, _))) {
        assert!(Instant::now() < deadline, "the server did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    let art = dir.path().join("v1");
    backstop_cli::demo_app::write_artifact(&art, std::path::Path::new(BIN), "v1", &[]).unwrap();
    let token = std::fs::read_to_string(dir.path().join("state/admin.token")).unwrap();
    let out = Command::new(BIN)
        .args(["release", "shop", "--artifact", art.to_str().unwrap(), "--version", "v1"])
        .env("BACKSTOP_URL", format!("http://127.0.0.1:{api}"))
        .env("BACKSTOP_TOKEN", token.trim())
        .output()
        .unwrap();
    // SIGTERM with --stop-apps-on-exit: the instance goes too, none is left behind.
    stop_gracefully(&mut server);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(http_get(app, "/").map(|(s, _)| s).unwrap_or(0), 0, "the server is gone with its proxy");
}

#[test]
fn piping_output_into_a_reader_that_stops_early_crashed_the_cli() {
    let dir = tempfile::Builder::new().prefix("backstop-it-").tempdir().unwrap();
    // Far more findings than a pipe holds, so the CLI is still writing when the reader leaves.
    let sql: String = (0..4000).map(|i| format!("ALTER TABLE users ADD COLUMN c{i} integer NOT NULL;\n")).collect();
    std::fs::write(dir.path().join("0001_many.sql"), sql).unwrap();
    let out = Command::new("bash")
        .args(["-c", "set -o pipefail; \"$0\" lint \"$1\" | head -n 1 >/dev/null", BIN])
        .arg(dir.path().join("0001_many.sql"))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "a reader that stopped early is not a failure: {stderr}");
}

#[test]
fn a_release_that_died_in_its_soak_exited_0_and_the_pipeline_looked_green() {
    let h = crate::harness::Harness::start("soak = \"3s\"\n");
    let wait = |version: &str, flags: &[&str]| {
        let art = h.artifact(version, flags);
        h.cli(&["release", "shop", "--artifact", art.to_str().unwrap(), "--version", version, "--wait"])
    };
    let good = wait("v1", &[]);
    assert_eq!(good.code(), 0, "{}", good.stderr());
    assert!(good.stderr().contains("revision 1: known-good"), "{}", good.stderr());
    assert_eq!(h.revision_status(1), "known-good", "--wait returned only once it was proven");

    // Healthy at first, then it dies inside its soak: reverted, and --wait says so with exit 1.
    let bad = wait("v2", &["--crash-after-ms", "800"]);
    assert_eq!(bad.code(), 1, "{}", bad.stderr());
    assert!(
        bad.stderr().contains("error: revision 2 of `shop` is failed: instance died during soak"),
        "{}",
        bad.stderr()
    );
    assert_eq!(h.public_get(), (200, "shop v1\n".into()));
}

#[test]
fn promote_permanent_did_not_stop_undo_for_an_app_without_a_database() {
    let h = crate::harness::Harness::start("");
    for n in 1..=3u64 {
        h.release(&format!("v{n}"), &[]).ok();
        h.wait_status(n, "known-good");
    }
    h.cli(&["promote", "shop", "3", "--permanent"]).ok();

    // A plain undo would go to 2, older than the permanent revision: refused, naming it.
    let out = h.cli(&["undo", "shop"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    let err = out.stderr();
    assert!(
        err.starts_with("error: rollback to revision 2 refused: revision 3 is permanent, and nothing older runs again"),
        "{err}"
    );
    assert!(err.contains("hint: roll forward"), "{err}");
    // Named explicitly, and by the alias: the same refusal.
    let out = h.cli(&["rollback", "shop", "1"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    assert!(out.stderr().contains("revision 3 is permanent"), "{}", out.stderr());
    assert_eq!(h.public_get(), (200, "shop v3\n".into()), "traffic stays");
    assert_eq!(h.json(&["status", "shop"])["undo"]["revision"], serde_json::Value::Null);
    let status = h.cli(&["status", "shop"]).ok().stdout();
    assert!(status.contains("undo:              refused: rollback to revision 2 refused"), "{status}");

    // A newer release can still be undone back to the permanent revision.
    h.release("v4", &[]).ok();
    h.wait_status(4, "known-good");
    h.cli(&["undo", "shop"]).ok();
    assert_eq!(h.public_get(), (200, "shop v3\n".into()));
}

#[test]
fn undo_and_status_disagreed_after_undoing_back_to_an_older_revision() {
    let h = crate::harness::Harness::start("");
    h.release("v1", &[]).ok();
    h.wait_status(1, "known-good");
    h.release("v2", &[]).ok();
    h.wait_status(2, "known-good");

    let before = h.json(&["status", "shop"]);
    assert_eq!(before["undo"], serde_json::json!({"revision": 1, "warm": true, "refused": null, "hint": null}));
    let text = h.cli(&["status", "shop"]).ok().stdout();
    assert!(text.contains("undo:              → revision 1 (warm swap)"), "{text}");

    h.cli(&["undo", "shop"]).ok();
    assert_eq!(h.public_get(), (200, "shop v1\n".into()));

    // Live 1, newest known-good 2 (undone), and status says what undo does now: nothing older.
    let after = h.json(&["status", "shop"]);
    assert_eq!((after["live_revision"].as_u64(), after["known_good_revision"].as_u64()), (Some(1), Some(2)));
    assert_eq!(after["undo"]["revision"], serde_json::Value::Null, "{after}");
    let refused = after["undo"]["refused"].as_str().unwrap().to_owned();
    let text = h.cli(&["status", "shop"]).ok().stdout();
    assert!(text.contains("live:              revision 1"), "{text}");
    assert!(text.contains("newest known-good: revision 2"), "{text}");
    assert!(text.contains(&format!("undo:              refused: {refused}")), "{text}");

    // The undo itself says the same thing status said.
    let out = h.cli(&["undo", "shop"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    assert_eq!(out.stderr().lines().next().unwrap(), format!("error: {refused}"));
    assert_eq!(refused, "no known-good revision older than the live revision 1");
    assert_eq!(h.public_get(), (200, "shop v1\n".into()));

    // Going forward again is explicit; afterwards a plain undo goes back to 1 as before.
    h.cli(&["undo", "shop", "--to-revision", "2"]).ok();
    assert_eq!(h.public_get(), (200, "shop v2\n".into()));
    assert_eq!(h.json(&["status", "shop"])["undo"]["revision"], 1);

    // A revision an undo left is never a plain undo's target, even once it is older than live.
    h.cli(&["undo", "shop"]).ok();
    h.release("v3", &[]).ok();
    h.wait_status(3, "known-good");
    assert_eq!(h.json(&["status", "shop"])["undo"]["revision"], 1, "2 was undone, so undo skips it");
    h.cli(&["undo", "shop"]).ok();
    assert_eq!(h.public_get(), (200, "shop v1\n".into()));
}

/// The running release operation of `shop`, once it has started its instance.
fn wait_release_started(h: &crate::harness::Harness) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = h.json(&["status", "shop"]);
        let op = &status["running_operation"];
        let started = op["steps"].as_array().is_some_and(|s| s.iter().any(|s| s["step"] == "started"));
        if op["kind"] == "release" && started {
            return op["id"].as_u64().unwrap();
        }
        assert!(Instant::now() < deadline, "the release never started its instance: {status}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn ctrl_c_left_a_release_running_silently_and_nothing_could_stop_it() {
    let h = crate::harness::Harness::start("health_timeout = \"5m\"\n");
    h.release("v1", &[]).ok();
    h.wait_status(1, "known-good");

    // A release that never becomes healthy, interrupted while the server waits for its health check.
    let art = h.artifact("v2", &["--unhealthy"]);
    let release = Command::new(BIN)
        .args(["release", "shop", "--artifact", art.to_str().unwrap(), "--version", "v2", "--wait"])
        .env("BACKSTOP_URL", format!("http://127.0.0.1:{}", h.api_port))
        .env("BACKSTOP_TOKEN", h.token())
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let operation = wait_release_started(&h);
    let instance = h.json(&["status", "shop"])["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["revision"] == 2)
        .map(|i| i["pid"].as_u64().unwrap() as u32)
        .expect("revision 2's instance is starting");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(release.id() as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    let out = release.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr
            .contains(&format!("error: release continues as operation {operation}; `backstop abort shop` to stop it")),
        "{stderr}"
    );
    assert_eq!(h.json(&["status", "shop"])["running_operation"]["id"], operation, "the server goes on with it");

    // Abort while it waits for health: its instance is stopped, traffic never left revision 1.
    let out = h.cli(&["abort", "shop"]);
    out.ok();
    assert!(
        out.stdout().contains(&format!(
            "shop: release of revision 2 aborted before it took traffic (operation {operation}); traffic on revision 1"
        )),
        "{}",
        out.stdout()
    );
    assert!(!crate::harness::pid_alive(instance), "the starting instance is stopped");
    assert_eq!(h.public_get(), (200, "shop v1\n".into()));
    assert_eq!(h.revision_status(2), "failed");
    let detail = h.json(&["history", "shop", "--revision", "2"]);
    assert_eq!(
        detail["revision"]["status_reason"],
        "release of revision 2 aborted by admin:tester before it took traffic"
    );
    let op =
        h.json(&["operations", "shop"]).as_array().unwrap().iter().find(|o| o["id"] == operation).cloned().unwrap();
    assert_eq!(op["state"], "reverted", "{op}");
    let steps: Vec<&str> = op["steps"].as_array().unwrap().iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert!(steps.ends_with(&["abort-requested", "aborted"]), "{steps:?}");
    assert!(h.json(&["status", "shop"])["running_operation"].is_null());

    // Nothing left to abort: refused, with what to do instead.
    let out = h.cli(&["abort", "shop"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    assert!(out.stderr().starts_with("error: nothing to abort on `shop`"), "{}", out.stderr());
    assert!(out.stderr().contains("hint: abort stops a release while it starts or soaks"), "{}", out.stderr());
}

#[test]
fn abort_during_the_soak_reverts_like_an_automatic_revert() {
    let h = crate::harness::Harness::start("soak = \"1s\"\n");
    h.release("v1", &[]).ok();
    h.wait_status(1, "known-good");
    std::fs::write(h.config_path(), h.config_text().replace("soak = \"1s\"", "soak = \"10m\"")).unwrap();
    let mut h = h;
    h.stop();
    h.boot();
    h.release("v2", &[]).ok();
    assert_eq!(h.revision_status(2), "soaking");
    assert_eq!(h.public_get(), (200, "shop v2\n".into()));

    let out = h.cli(&["abort", "shop"]);
    out.ok();
    assert!(out.stdout().contains("shop: revision 2 aborted during its soak"), "{}", out.stdout());
    assert!(out.stdout().ends_with("traffic on revision 1\n"), "{}", out.stdout());
    assert_eq!(h.public_get(), (200, "shop v1\n".into()));
    assert_eq!(h.revision_status(2), "failed");
    let ops = h.json(&["operations", "shop"]);
    let abort = &ops[0];
    assert_eq!((abort["kind"].as_str(), abort["state"].as_str()), (Some("abort"), Some("succeeded")), "{ops}");
    let status = h.json(&["status", "shop"]);
    assert_eq!(status["live_revision"], 1);
    assert_eq!(status["known_good_revision"], 1);
}

#[test]
fn status_had_no_watch_to_follow_a_release_until_it_settled() {
    let h = crate::harness::Harness::start("soak = \"2s\"\n");
    h.release("v1", &[]).ok();
    h.wait_status(1, "known-good");
    h.release("v2", &[]).ok();
    // Returns by itself once revision 2 is proven; each change printed once.
    let out = h.cli(&["status", "shop", "--watch"]);
    out.ok();
    let text = out.stdout();
    let soaking = text.find("soaking)").unwrap_or_else(|| panic!("no soaking status: {text}"));
    let proven = text.rfind("live:              revision 2 (v2,").map(|at| &text[at..]).unwrap();
    assert!(proven.lines().next().unwrap().ends_with("known-good)"), "{text}");
    assert!(soaking < text.len() - proven.len(), "soaking is printed before known-good: {text}");
    assert_eq!(h.revision_status(2), "known-good");
    // Machines get one JSON document a line; a settled app prints once and returns.
    let out = h.cli(&["status", "shop", "--watch", "-o", "json"]);
    let lines: Vec<serde_json::Value> = out.ok().stdout().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1, "{}", out.stdout());
    assert_eq!(lines[0]["live_revision"], 2);
}

/// A loopback TCP relay to `to` that counts the bytes clients send through it.
fn counting_relay(to: u16) -> (u16, std::sync::Arc<std::sync::atomic::AtomicU64>) {
    use std::io::{Read, Write};
    use std::sync::atomic::Ordering;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = sent.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", to)) else { continue };
            let (mut client_r, mut server_w) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let counter = counter.clone();
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n) = client_r.read(&mut buf) {
                    if n == 0 || server_w.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    counter.fetch_add(n as u64, Ordering::SeqCst);
                }
                let _ = server_w.shutdown(std::net::Shutdown::Write);
            });
            let (mut server_r, mut client_w) = (server, client);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut server_r, &mut client_w);
                let _ = client_w.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    (port, sent)
}

#[test]
fn an_upload_was_read_whole_into_memory_and_sent_again_when_the_server_had_it() {
    use std::sync::atomic::Ordering;
    const PADDING: u64 = 96 << 20;
    const DATA_LIMIT_KIB: u64 = 64 << 10;
    let h = crate::harness::Harness::start("");
    let art = h.artifact("v1", &[]);
    // Written out (a sparse file would be packed as a special entry).
    let mut padding = std::fs::File::create(art.join("padding.bin")).unwrap();
    let mib = vec![7u8; 1 << 20];
    for _ in 0..PADDING >> 20 {
        std::io::Write::write_all(&mut padding, &mib).unwrap();
    }
    drop(padding);
    let (relay, sent) = counting_relay(h.api_port);
    // The CLI may hold less in memory than the artifact's size: it has to stream it.
    let release = |version: &str| {
        Command::new("bash")
            .args(["-c", "ulimit -d \"$1\" && exec \"$0\" \"${@:2}\"", BIN, &DATA_LIMIT_KIB.to_string()])
            .args(["release", "shop", "--artifact", art.to_str().unwrap(), "--version", version])
            .env("BACKSTOP_URL", format!("http://127.0.0.1:{relay}"))
            .env("BACKSTOP_TOKEN", h.token())
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    };
    let first = release("v1");
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let uploaded = sent.load(Ordering::SeqCst);
    assert!(uploaded > PADDING, "the artifact went through the relay: {uploaded} bytes");
    assert_eq!(h.public_get(), (200, "shop v1\n".into()));

    // The same artifact again: the server has its digest, so nothing is uploaded.
    let again = release("v1-again");
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    let second = sent.load(Ordering::SeqCst) - uploaded;
    assert!(second < 1 << 20, "{second} bytes sent for an artifact the server holds");
    assert_eq!(h.json(&["history", "shop"]).as_array().unwrap().len(), 2);
}
