//! Snapshots of the CLI's human output: exit code, stdout and stderr together, with what differs
//! between runs (temporary paths, times, ages, ports, PIDs, digests) filtered, and table padding
//! collapsed (its width follows the filtered values).

use std::process::Command;

use crate::harness::*;

/// The filters every snapshot here goes through.
fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("snapshots");
    s.set_prepend_module_to_snapshot(false);
    for (pattern, replacement) in [
        (r"/tmp/[A-Za-z0-9._/-]+", "[PATH]"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", "[TIME]"),
        (r"\b\d\d:\d\d:\d\d\b", "[CLOCK]"),
        (r"sha256:[0-9a-f]{64}", "sha256:[DIGEST]"),
        (r"\b[0-9a-f]{12}\b", "[SHORT]"),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
        (r"\bpid \d+", "pid [PID]"),
        (r"\bport \d+", "port [PORT]"),
        (r"(?m)^(\d+)\s+(serving|warm|starting)\s+\d+\s+\d+", "$1  $2  [PID]  [PORT]"),
        (r"\b\d+(\.\d+)?(ms|s|m|h|d)\b", "[AGE]"),
        (r"about \d+(\.\d+)? (ms|s|min)\b", "about [DURATION]"),
        (r"  +", "  "),
    ] {
        s.add_filter(pattern, replacement);
    }
    s
}

/// Exit code, stdout and stderr as one text.
fn shown(out: &Out) -> String {
    format!("exit: {}\n--- stdout\n{}--- stderr\n{}", out.code(), out.stdout(), out.stderr())
}

#[test]
fn human_output_of_the_main_commands() {
    let h = Harness::start("");
    h.release("v1", &[]).ok();
    h.wait_status(1, "known-good");
    h.release("v2", &[]).ok();
    h.wait_status(2, "known-good");
    settings().bind(|| {
        insta::assert_snapshot!("history", shown(&h.cli(&["history", "shop"])));
        insta::assert_snapshot!("history_revision", shown(&h.cli(&["history", "shop", "--revision", "2"])));
        insta::assert_snapshot!("status", shown(&h.cli(&["status", "shop"])));
        insta::assert_snapshot!("operations", shown(&h.cli(&["operations", "shop"])));
        insta::assert_snapshot!("incident", shown(&h.cli(&["incident", "shop"])));
    });
}

#[test]
fn human_output_of_errors() {
    let h = Harness::start("");
    let art = h.artifact("v1", &[]);
    let art = art.to_str().unwrap();
    let not_backstop = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for s in listener.incoming() {
                use std::io::{Read, Write};
                let Ok(mut s) = s else { continue };
                let _ = s.read(&mut [0u8; 4096]);
                let _ = s.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            }
        });
        format!("http://127.0.0.1:{port}")
    };
    settings().bind(|| {
        insta::assert_snapshot!("error_unknown_app", shown(&h.cli(&["history", "nope"])));
        insta::assert_snapshot!("error_nothing_to_undo", shown(&h.cli(&["undo", "shop"])));
        insta::assert_snapshot!("error_no_known_good", shown(&h.cli(&["known-good", "shop"])));
        insta::assert_snapshot!(
            "error_missing_artifact",
            shown(&h.cli(&["release", "shop", "--artifact", "/does/not/exist", "--version", "v1"]))
        );
        insta::assert_snapshot!(
            "error_no_token",
            shown(&h.cli_with(&["release", "shop", "--artifact", art, "--version", "v1"], &[]))
        );
        insta::assert_snapshot!("error_not_backstop", shown(&h.cli(&["status", "shop", "--server", &not_backstop])));
        let unreachable = format!("http://127.0.0.1:{}", free_port());
        insta::assert_snapshot!("error_unreachable", shown(&h.cli(&["status", "shop", "--server", &unreachable])));
        let bad = h.dir.path().join("bad.toml");
        std::fs::write(&bad, "[server]\nstate = \"s\"\n[apps.shop\n").unwrap();
        let out = Out(Command::new(BIN).args(["config", "check", "--config"]).arg(&bad).output().unwrap());
        insta::assert_snapshot!("error_config_syntax", shown(&out));
    });
}
