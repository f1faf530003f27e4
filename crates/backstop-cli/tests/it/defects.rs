//! The smaller defects an operator met: each test is named after what broke, over the real CLI
//! and control plane.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::*;

/// Run the CLI with no server environment of the harness's.
fn bare(args: &[&str], dir: &std::path::Path) -> Out {
    Out(Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("BACKSTOP_URL")
        .env_remove("BACKSTOP_TOKEN")
        .output()
        .unwrap())
}

/// A plain HTTP server that is not backstop: every request gets `status` with an HTML body.
fn foreign_server(status: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let body = "<html>hello</html>";
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

#[test]
fn history_revision_labels_ran_into_their_values() {
    let h = Harness::start("");
    h.release("v1", &[]).ok();
    h.wait_status(1, "known-good");
    let out = h.cli(&["history", "shop", "--revision", "1"]).ok().stdout();
    let block: Vec<&str> = out.lines().take_while(|l| !l.is_empty()).collect();
    assert!(block.iter().any(|l| l.starts_with("known-good-at:")), "{out}");
    let columns: Vec<usize> = block
        .iter()
        .map(|l| {
            let (label, rest) = l.split_once(':').unwrap_or_else(|| panic!("no label: {l:?}"));
            assert!(rest.starts_with(' '), "the value runs into its label: {l:?}");
            label.len() + 1 + (rest.len() - rest.trim_start().len())
        })
        .collect();
    assert!(columns.windows(2).all(|w| w[0] == w[1]), "values not in one column:\n{out}");
}

#[test]
fn a_server_that_is_not_backstop_got_no_hint() {
    let dir = tempfile::tempdir().unwrap();
    for status in ["404 Not Found", "200 OK", "500 Internal Server Error"] {
        let port = foreign_server(status);
        let url = format!("http://127.0.0.1:{port}");
        let out = bare(&["status", "shop", "--server", &url], dir.path());
        assert_ne!(out.code(), 0, "{status}");
        let err = out.stderr();
        assert!(
            err.contains(&format!("hint: the server at {url} does not answer as a backstop control plane")),
            "{status}: {err}"
        );
        assert_eq!(err.lines().count(), 2, "{status}: {err}");
    }
}

#[test]
fn a_bad_state_directory_exited_1_instead_of_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a-file"), "").unwrap();
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:{}\"\nstate = \"a-file/state\"\n\n[apps.shop]\nlisten = \"127.0.0.1:{}\"\n",
        free_port(),
        free_port()
    );
    std::fs::write(dir.path().join("backstop.toml"), config).unwrap();
    let out = bare(&["server", "--config", "backstop.toml"], dir.path());
    assert_eq!(out.code(), 2, "{}", out.stderr());
    let err = out.stderr();
    assert!(err.contains("error: cannot use state directory"), "{err}");
    assert!(err.contains("hint: check that the `server.state` directory"), "{err}");
}

#[test]
fn a_toml_syntax_error_lost_its_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("backstop.toml"), "[server]\nstate = \"state\"\n[apps.shop\nlisten = \"x\"\n")
        .unwrap();
    let out = bare(&["server", "--config", "backstop.toml"], dir.path());
    assert_eq!(out.code(), 2, "{}", out.stderr());
    let err = out.stderr();
    assert!(err.contains("backstop.toml: line 3, column "), "{err}");
    assert_eq!(err.lines().count(), 2, "{err}");
    assert!(!dir.path().join("state").exists(), "nothing was created");
}

#[test]
fn an_unchecked_rollback_said_it_was_safe_unchecked_check() {
    let h = Harness::start("");
    h.release("v1", &[]).ok();
    h.wait_status(1, "known-good");
    h.release("v2", &[]).ok();
    let out = h.cli(&["check-rollback", "shop", "1"]).ok().stdout();
    assert!(!out.contains("unchecked check"), "{out}");
    assert!(
        out.contains("shop: rolling back to revision 1 was not checked: `shop` has no [apps.shop.database]"),
        "{out}"
    );
}

#[test]
fn an_unknown_operation_hint_named_status_for_operations() {
    let h = Harness::start("");
    let (code, body) = http_get(h.api_port, "/v1/operations/999").unwrap();
    assert_eq!(code, 404);
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["hint"], "`backstop operations APP` lists recent operations", "{body}");
}

#[test]
fn gc_had_no_dry_run_and_did_not_say_what_it_removed() {
    let h = Harness::start("soak = \"0s\"\n");
    h.release("v1", &[]).ok();
    h.release("v2", &["--unhealthy"]); // failed: its artifact is collectable
    let digest = h.json(&["history", "shop"])[1]["digest"].as_str().unwrap().to_owned();
    let stored = h.state().join("artifacts/sha256").join(digest.trim_start_matches("sha256:"));
    let audited = || h.json(&["audit", "list"]).as_array().unwrap().iter().filter(|e| e["action"] == "gc").count();

    let dry = h.cli(&["gc", "--dry-run"]).ok().stdout();
    assert!(dry.contains(&format!("would remove {digest}\n")), "{dry}");
    assert!(dry.contains("would remove 1 artifact and the logs of 1 revision, would free "), "{dry}");
    assert!(stored.exists(), "a dry run deletes nothing");
    assert_eq!(audited(), 0, "a dry run is not audited");

    let real = h.cli(&["gc"]).ok().stdout();
    assert!(real.contains(&format!("removed {digest}\n")), "{real}");
    assert!(real.contains("removed 1 artifact and the logs of 1 revision, freed "), "{real}");
    assert!(!stored.exists());
    assert_eq!(audited(), 1);
}

/// Regression: the instance logs of revisions were never deleted, so they piled up release after
/// release. gc removes those of a revision whose artifact it removes and that runs nowhere.
#[test]
fn the_logs_of_a_collected_revision_were_never_deleted() {
    let h = Harness::start("soak = \"0s\"\n");
    h.release("v1", &[]).ok();
    h.release("v2", &["--unhealthy"]); // failed: its artifact is collectable
    let logs = h.state().join("logs/shop");
    let (kept, collected) = (logs.join("1.log"), logs.join("2.log"));
    assert!(kept.exists() && collected.exists(), "both revisions ran and logged");
    std::fs::write(logs.join("2.log.1"), "an older rotated copy\n").unwrap();

    let dry = h.json(&["gc", "--dry-run"]);
    assert_eq!(dry["removed_logs"], serde_json::json!(["shop/2"]), "{dry}");
    assert!(collected.exists(), "a dry run deletes nothing");

    let real = h.cli(&["gc"]).ok().stdout();
    assert!(real.contains("removed the instance logs of shop/2\n"), "{real}");
    assert!(!collected.exists() && !logs.join("2.log.1").exists(), "the log and its rotated copy are gone");
    assert!(kept.exists(), "the live revision's log stays");
    assert_eq!(h.public_get(), (200, "shop v1\n".into()));
    let audit = h.json(&["audit", "list"]);
    let entry = audit.as_array().unwrap().iter().find(|e| e["action"] == "gc").unwrap();
    assert_eq!(entry["detail"]["removed_logs"], serde_json::json!(["shop/2"]), "{entry}");
}

#[test]
fn audit_detail_was_json_inside_a_string() {
    let h = Harness::start("");
    h.release("v1", &[]).ok();
    let audit = h.json(&["audit", "list"]);
    let release = audit.as_array().unwrap().iter().find(|e| e["action"] == "release").unwrap();
    assert!(release["detail"].is_object(), "{release}");
    assert_eq!(release["detail"]["revision"], 1, "{release}");
    // The hash chain still covers what was stored.
    assert_eq!(h.json(&["audit", "verify"])["ok"], true);
}

#[test]
fn the_audit_actor_ignored_actor_and_user() {
    let h = Harness::start("");
    let token = h.token();
    let last_actor = || {
        let audit = h.json(&["audit", "list"]);
        audit.as_array().unwrap().last().unwrap()["actor"].as_str().unwrap().to_owned()
    };
    h.cli(&["--actor", "ana", "gc"]).ok();
    assert_eq!(last_actor(), "admin:ana", "--actor wins, recorded with the token's role");
    h.cli(&["gc"]).ok();
    assert_eq!(last_actor(), "admin:tester", "$BACKSTOP_ACTOR");
    let out = Out(Command::new(BIN)
        .args(["gc"])
        .env("BACKSTOP_URL", format!("http://127.0.0.1:{}", h.api_port))
        .env("BACKSTOP_TOKEN", &token)
        .env_remove("BACKSTOP_ACTOR")
        .env("USER", "bob")
        .output()
        .unwrap());
    out.ok();
    assert_eq!(last_actor(), "admin:bob", "$USER when nothing else is given");
}

#[test]
fn there_was_no_token_file_option() {
    let h = Harness::start("");
    let file = h.dir.path().join("token");
    std::fs::write(&file, format!("{}\n", h.token())).unwrap();
    let out = h.cli_with(&["gc", "--token-file", file.to_str().unwrap()], &[]);
    out.ok();
    let missing = h.cli_with(&["gc", "--token-file", "/does/not/exist"], &[]);
    assert_eq!(missing.code(), 2, "{}", missing.stderr());
    assert!(missing.stderr().contains("error: cannot read the token file /does/not/exist"), "{}", missing.stderr());
    assert!(missing.stderr().contains("hint: "), "{}", missing.stderr());
    std::fs::write(&file, "  \n").unwrap();
    let empty = h.cli_with(&["gc", "--token-file", file.to_str().unwrap()], &[]);
    assert_eq!(empty.code(), 2, "{}", empty.stderr());
    assert!(empty.stderr().contains("is empty"), "{}", empty.stderr());
}

#[test]
fn instance_logs_were_never_rotated() {
    let app_port = free_port();
    // Keys before the first app's table belong to the harness's `[server]`.
    let h = Harness::start_with(|_| {
        format!(
            "log_max_bytes = 4096\nlog_keep = 1\n\n[apps.shop]\nlisten = \"127.0.0.1:{app_port}\"\nhealth = \"/healthz\"\nsoak = \"0s\"\n"
        )
    });
    h.release("v1", &[]).ok();
    let log = h.state().join("logs/shop/1.log");
    // What the instance would print: appended past the limit.
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    f.write_all(&b"0123456789abcdef\n".repeat(400)).unwrap();
    let rotated = h.state().join("logs/shop/1.log.1");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !rotated.exists() {
        assert!(Instant::now() < deadline, "not rotated: {}", h.server_log());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(std::fs::metadata(&rotated).unwrap().len() > 4096);
    assert!(std::fs::metadata(&log).unwrap().len() < 4096, "the live log was cut");

    // The limit is validated: too small a value is bad config, exit 2.
    let bad = h.dir.path().join("bad.toml");
    std::fs::write(&bad, "[server]\nstate = \"s\"\nlog_max_bytes = 10\n").unwrap();
    let out = bare(&["server", "--config", bad.to_str().unwrap()], h.dir.path());
    assert_eq!(out.code(), 2, "{}", out.stderr());
    assert!(out.stderr().contains("`server.log_max_bytes` is 10, expected at least 4096"), "{}", out.stderr());
}

#[test]
fn there_was_no_logs_command_and_failure_hints_did_not_name_the_log() {
    let h = Harness::start("");
    h.release("v1", &[]).ok();
    let log = h.state().join("logs/shop/1.log");
    std::fs::OpenOptions::new().append(true).open(&log).unwrap().write_all(b"first line\nsecond line\n").unwrap();
    let out = h.cli(&["logs", "shop"]).ok().stdout();
    assert!(out.ends_with("first line\nsecond line\n"), "{out}");
    let tail = h.cli(&["logs", "shop", "1", "--bytes", "12"]).ok().stdout();
    assert_eq!(tail, "second line\n");
    // Logs may hold secrets: the admin token is needed.
    let anonymous = h.cli_with(&["logs", "shop"], &[]);
    assert_eq!(anonymous.code(), 1, "{}", anonymous.stderr());
    let none = h.cli(&["logs", "shop", "9"]);
    assert_eq!(none.code(), 2, "{}", none.stderr());

    // -f prints what is written after it started.
    let mut follow = Command::new(BIN)
        .args(["logs", "shop", "-f"])
        .env("BACKSTOP_URL", format!("http://127.0.0.1:{}", h.api_port))
        .env("BACKSTOP_TOKEN", h.token())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = follow.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 1024];
        while !String::from_utf8_lossy(&seen).contains("written later") {
            match stdout.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
        String::from_utf8_lossy(&seen).into_owned()
    });
    std::fs::OpenOptions::new().append(true).open(&log).unwrap().write_all(b"written later\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !reader.is_finished() {
        assert!(Instant::now() < deadline, "-f did not print the new line");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = follow.kill();
    let _ = follow.wait();
    assert!(reader.join().unwrap().contains("written later"));

    // A release that fails names where its log is.
    let failed = h.release("v2", &["--unhealthy"]);
    assert_eq!(failed.code(), 1, "{}", failed.stderr());
    assert!(
        failed.stderr().contains("`backstop logs APP 2` prints the instance's log (STATE/logs/APP/2.log)"),
        "{}",
        failed.stderr()
    );
}

#[test]
fn there_were_no_shell_completions() {
    let dir = tempfile::tempdir().unwrap();
    for (shell, marker) in [("bash", "complete -F"), ("zsh", "#compdef backstop"), ("fish", "complete -c backstop")] {
        let out = bare(&["completion", shell], dir.path());
        out.ok();
        let script = out.stdout();
        assert!(script.contains(marker), "{shell}: {}", &script[..script.len().min(300)]);
        assert!(script.contains("release") && script.contains("known-good"), "{shell} completes the commands");
    }
    // bash reads it back without a syntax error.
    let script = bare(&["completion", "bash"], dir.path()).stdout();
    std::fs::write(dir.path().join("backstop.bash"), script).unwrap();
    let check = Command::new("bash").arg("-n").arg(dir.path().join("backstop.bash")).output().unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
    let bad = bare(&["completion", "tcsh"], dir.path());
    assert_eq!(bad.code(), 2);
}

#[test]
fn there_was_no_man_page() {
    let dir = tempfile::tempdir().unwrap();
    let page = bare(&["man"], dir.path()).ok().stdout();
    assert!(page.starts_with(".ie \\n(.g .ds Aq") || page.contains(".TH backstop"), "{}", &page[..page.len().min(200)]);
    assert!(page.contains("release"), "the page lists the commands");
    let out = dir.path().join("man1");
    bare(&["man", "--dir", out.to_str().unwrap()], dir.path()).ok();
    for page in ["backstop.1", "backstop-release.1", "backstop-undo.1"] {
        assert!(out.join(page).exists(), "{page}");
    }
}

#[test]
fn there_was_no_version_command_with_the_commit() {
    let dir = tempfile::tempdir().unwrap();
    let out = bare(&["version"], dir.path()).ok().stdout();
    assert!(out.starts_with(&format!("backstop {} (commit ", env!("CARGO_PKG_VERSION"))), "{out}");
    let json: serde_json::Value =
        serde_json::from_str(&bare(&["version", "-o", "json"], dir.path()).ok().stdout()).unwrap();
    let commit = json["commit"].as_str().unwrap();
    assert!(commit == "unknown" || commit.chars().all(|c| c.is_ascii_hexdigit()), "{json}");
    // Built in a git checkout, the commit is HEAD's.
    if let Ok(head) = Command::new("git").args(["rev-parse", "--short=12", "HEAD"]).output() {
        if head.status.success() {
            assert_eq!(commit, String::from_utf8_lossy(&head.stdout).trim());
        }
    }
}

#[test]
fn there_was_no_config_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backstop.toml");
    std::fs::write(
        &path,
        "[server]\nlisten = \"127.0.0.1:7979\"\nstate = \"state\"\n\n[apps.shop]\nlisten = \"127.0.0.1:8081\"\n",
    )
    .unwrap();
    let out = bare(&["config", "check"], dir.path()).ok().stdout();
    assert!(out.starts_with("backstop.toml: ok; listen 127.0.0.1:7979, state "), "{out}");
    assert!(out.trim_end().ends_with("1 app: shop"), "{out}");
    assert!(!dir.path().join("state").exists(), "a check creates nothing");

    std::fs::write(&path, "[server]\nstate = \"state\"\nlog_keep = -1\n").unwrap();
    let bad = bare(&["config", "check", "--config", path.to_str().unwrap()], dir.path());
    assert_eq!(bad.code(), 2, "{}", bad.stderr());
    assert!(bad.stderr().contains("line 3, column "), "{}", bad.stderr());
    let missing = bare(&["config", "check", "--config", "/nope.toml"], dir.path());
    assert_eq!(missing.code(), 2);
    assert!(missing.stderr().contains("hint: pass --config PATH"), "{}", missing.stderr());
}

#[test]
fn listings_had_no_no_headers_option() {
    let h = Harness::start("");
    h.release("v1", &[]).ok();
    for args in [&["history", "shop"][..], &["operations", "shop"], &["audit", "list"], &["apps"], &["flag", "list"]] {
        let with = h.cli(args).ok().stdout();
        let mut plain = args.to_vec();
        plain.push("--no-headers");
        let without = h.cli(&plain).ok().stdout();
        let header = with.lines().next().unwrap_or_default();
        assert!(header.chars().all(|c| !c.is_ascii_lowercase()), "{args:?}: the first line is the header: {with}");
        assert_eq!(without.lines().collect::<Vec<_>>(), with.lines().skip(1).collect::<Vec<_>>(), "{args:?}");
    }
}

#[test]
fn help_had_no_examples_and_arguments_had_no_description() {
    let dir = tempfile::tempdir().unwrap();
    for command in ["release", "undo", "logs", "flag", "gc"] {
        let help = bare(&[command, "--help"], dir.path()).ok().stdout();
        assert!(help.contains(&format!("Examples:\n  backstop {command}")), "{command}: {help}");
    }
    let undo = bare(&["undo", "--help"], dir.path()).ok().stdout();
    assert!(undo.contains("The app, as named under [apps.NAME] in the server's config"), "{undo}");
    // The man page carries them too.
    let page = bare(&["man", "--dir", dir.path().join("man").to_str().unwrap()], dir.path());
    page.ok();
    let release = std::fs::read_to_string(dir.path().join("man/backstop-release.1")).unwrap();
    assert!(release.contains("Examples:"), "{release}");
}

#[test]
fn a_lost_connection_hint_named_status_for_the_operations_outcome() {
    // A server that takes the request and hangs up without answering.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { continue };
            let _ = s.read(&mut [0u8; 4096]);
            drop(s);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let out = bare(&["undo", "shop", "--server", &format!("http://127.0.0.1:{port}"), "--token", "t"], dir.path());
    assert_eq!(out.code(), 1, "{}", out.stderr());
    assert!(out.stderr().contains("error: lost the connection to"), "{}", out.stderr());
    assert!(out.stderr().contains("`backstop operations APP` shows the operation's outcome"), "{}", out.stderr());
}
