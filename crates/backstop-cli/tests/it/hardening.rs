//! Regressions of the hardening issue that live in the control plane: each test is named after
//! what broke, and runs the real server.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::{BIN, Harness, Out, http_get, http_request, pid_alive, server_io};

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

#[test]
fn flag_definitions_were_readable_without_a_token_while_the_stream_needed_one() {
    let h = Harness::start("");
    h.cli(&["flag", "create", "kill", "--on", "--reason", "new"]).ok();
    let (eval, admin) = (eval_token(&h), h.token());
    let (eval_bearer, admin_bearer) = (format!("Bearer {eval}"), format!("Bearer {admin}"));
    for path in ["/v1/flags", "/v1/flags/kill", "/v1/flags/kill/history", "/v1/flags/stream"] {
        for headers in [&[][..], &[("Authorization", "Bearer not-a-token")][..], &[("X-API-Key", "not-a-token")][..]] {
            let (status, body) = request(h.api_port, "GET", path, headers, b"");
            assert_eq!(status, 401, "{path} {headers:?}: {body}");
            let error: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(error["error"]["code"], "unauthorized", "{body}");
            assert!(error["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
            assert!(error["error"]["hint"].as_str().is_some_and(|h| h.contains("STATE/eval.token")), "{body}");
            assert!(!body.contains("variants"), "no definition leaks: {body}");
        }
        if path.ends_with("/stream") {
            continue; // An event stream does not end: its 200 is checked in the flag tests.
        }
        for headers in [
            [("X-API-Key", eval.as_str())],
            [("Authorization", eval_bearer.as_str())],
            [("Authorization", admin_bearer.as_str())],
        ] {
            let (status, body) = request(h.api_port, "GET", path, &headers, b"");
            assert_eq!(status, 200, "{path} {headers:?}: {body}");
            assert!(body.contains("\"kill\""), "{body}");
        }
    }

    // The CLI sends its token on reads; without one it says which token to use.
    for args in [&["flag", "list"][..], &["flag", "show", "kill"], &["flag", "history", "kill"]] {
        let out = h.cli(args).ok().stdout();
        assert!(out.contains("kill") || out.contains("create"), "{args:?}: {out}");
        let read_only = h.cli_with(args, &[("BACKSTOP_TOKEN", &eval)]);
        assert_eq!(read_only.code(), 0, "the evaluation token reads: {}", read_only.stderr());
        let anonymous = h.cli_with(args, &[]);
        assert_eq!(anonymous.code(), 1, "{args:?}: {}", anonymous.stderr());
        assert!(anonymous.stderr().contains("STATE/eval.token"), "{}", anonymous.stderr());
    }
}

/// Replace a stored flag's JSON behind the control plane's back (it must be stopped).
fn damage_flag(h: &Harness, key: &str, json: &str) {
    let db = rusqlite::Connection::open(h.state().join("backstop.db")).unwrap();
    let changed = db.execute("UPDATE flags SET flag = ?1 WHERE key = ?2", [json, key]).unwrap();
    assert_eq!(changed, 1, "flag {key} is stored");
}

#[test]
fn an_unreadable_stored_flag_was_only_logged_and_could_not_be_removed() {
    let mut h = Harness::start("");
    for key in ["banner", "kill", "newer", "torn"] {
        h.cli(&["flag", "create", key, "--on", "--reason", "new"]).ok();
    }
    h.stop();
    // One written by a newer version (a field this one does not know), one cut short on disk.
    damage_flag(
        &h,
        "newer",
        r#"{"key":"newer","enabled":true,"variants":{"on":true,"off":false},"default_variant":"on","off_variant":"off","rules":[],"version":1,"schedule":"nightly"}"#,
    );
    damage_flag(&h, "torn", r#"{"key":"torn","enabled":tr"#);
    h.boot();

    // The others are still served, over OFREP and in the list.
    let (port, eval) = (h.api_port, eval_token(&h));
    let evaluate = |key: &str| {
        let path = format!("/ofrep/v1/evaluate/flags/{key}");
        let (status, body) = request(port, "POST", &path, &[("X-API-Key", &eval)], br#"{"context":{}}"#);
        (status, serde_json::from_str::<serde_json::Value>(&body).unwrap())
    };
    for key in ["banner", "kill"] {
        let (status, v) = evaluate(key);
        assert_eq!((status, v["value"].clone()), (200, serde_json::json!(true)), "{key}: {v}");
    }
    let (status, v) = evaluate("newer");
    assert_eq!(
        (status, v["errorCode"].as_str()),
        (404, Some("FLAG_NOT_FOUND")),
        "an unreadable flag is served to nobody"
    );

    // The unreadable ones are reported, not only logged.
    let list = h.json(&["flag", "list"]);
    let keys: Vec<&str> = list["flags"].as_array().unwrap().iter().map(|f| f["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["banner", "kill"], "{list}");
    let unreadable = list["unreadable"].as_array().unwrap();
    assert_eq!(unreadable.iter().map(|u| u["key"].as_str().unwrap()).collect::<Vec<_>>(), ["newer", "torn"]);
    assert!(unreadable[0]["error"].as_str().unwrap().contains("schedule"), "{list}");
    assert!(!unreadable[1]["error"].as_str().unwrap().is_empty(), "{list}");

    let table = h.cli(&["flag", "list"]);
    table.ok();
    assert!(table.stdout().contains("banner") && table.stdout().contains("kill"), "{}", table.stdout());
    let warnings: Vec<String> = table.stderr().lines().map(str::to_owned).collect();
    assert_eq!(warnings.len(), 2, "one line per unreadable flag: {}", table.stderr());
    for (line, key) in warnings.iter().zip(["newer", "torn"]) {
        assert!(line.starts_with(&format!("warning: flag `{key}` cannot be read: ")), "{line}");
        assert!(line.contains(&format!("hint: delete it with `backstop flag delete {key} --reason")), "{line}");
    }
    let show = h.cli(&["flag", "show", "newer"]);
    assert_eq!(show.code(), 1, "{}", show.stderr());
    assert!(
        show.stderr().contains("cannot be read") && show.stderr().contains("flag delete newer"),
        "{}",
        show.stderr()
    );

    // Delete removes them, recorded like any delete.
    for key in ["newer", "torn"] {
        h.cli(&["flag", "delete", key, "--reason", "unreadable after the downgrade"]).ok();
        let history = h.json(&["flag", "history", key]);
        let last = history.as_array().unwrap().last().unwrap().clone();
        assert_eq!(
            (last["action"].as_str(), last["reason"].as_str()),
            (Some("delete"), Some("unreadable after the downgrade"))
        );
    }
    let list = h.json(&["flag", "list"]);
    assert_eq!(list["unreadable"], serde_json::json!([]), "{list}");
    assert_eq!(list["flags"].as_array().unwrap().len(), 2, "{list}");
    let table = h.cli(&["flag", "list"]);
    table.ok();
    assert_eq!(table.stderr(), "", "no warning left");
    let audit = h.json(&["audit", "list"]);
    let deletes = audit.as_array().unwrap().iter().filter(|e| e["action"] == "flag.delete").count();
    assert_eq!(deletes, 2, "{audit}");
    h.cli(&["audit", "verify"]).ok();

    // And they stay gone after a restart.
    h.kill9();
    h.boot();
    let list = h.json(&["flag", "list"]);
    assert_eq!((list["flags"].as_array().unwrap().len(), list["unreadable"].clone()), (2, serde_json::json!([])));
    assert_eq!(evaluate("kill").0, 200);
}

/// The control socket hands the public listeners to whoever asks and stops the control plane:
/// started under a permissive umask (a careless unit file or shell), the state directory and the
/// socket were open to every local user, who could take the app's port.
#[test]
fn another_local_user_could_take_the_listeners_through_the_control_socket() {
    let mut h = Harness::start("");
    h.stop();
    std::fs::remove_dir_all(h.state()).unwrap();
    // Others may pass through the test's folder (a temp dir is 0700), as through /var/lib.
    std::fs::set_permissions(h.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut sh = Command::new("sh");
    sh.args(["-c", "umask 000 && exec \"$0\" server --config \"$1\" --stop-apps-on-exit", BIN]).arg(h.config_path());
    h.boot_child(server_io(&mut sh, &h.dir.path().join("server.log")).spawn().unwrap());

    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let socket = h.state().join("server.sock");
    assert_eq!(mode(&h.state()) & 0o077, 0, "the state directory is the owner's alone");
    assert_eq!(mode(&socket), 0o600, "the control socket is the owner's alone");

    // Another user asks for the listeners. Only root (who owns what this test made) can become
    // another user here.
    if std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&socket).unwrap()) == 0 {
        // perl-base is part of every Debian system, and any user may run it.
        let ask = r#"my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or do { print "REFUSED $!\n"; exit 0 };
                     print $s "handover\n"; my $n = sysread($s, my $buf, 4096); print "GOT ", ($n // 0), "\n";"#;
        let out = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "perl", "-MIO::Socket::UNIX", "-e", ask])
            .arg(&socket)
            .output()
            .expect("setpriv and perl run");
        let said = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert!(said.starts_with("REFUSED") || said == "GOT 0", "another user was answered: {said:?} {out:?}");
    }

    // The owner's control plane still serves, and its owner still reloads it.
    assert_eq!(http_get(h.api_port, "/v1/health").unwrap().0, 200);
    let reload = h.cli(&["server", "--config", h.config_path().to_str().unwrap(), "--reload"]);
    assert_eq!(reload.code(), 0, "{}", reload.stderr());
}
