//! Bad input: one `error:` line, one `hint:` line, a documented exit code, nothing half-written.

use std::process::Command;

use crate::harness::*;

fn assert_two_lines(out: &Out) {
    let err = out.stderr();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(lines[0].starts_with("error: ") && lines[1].starts_with("hint: "), "{err}");
}

#[test]
fn bad_input_table() {
    let h = Harness::start("");
    let good = h.artifact("v1", &[]);
    let plain = h.dir.path().join("not-executable");
    std::fs::write(&plain, "#!/bin/sh\n").unwrap();
    let good = good.to_str().unwrap();
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (vec!["history", "nope"], 2, "app `nope` is not configured"),
        (vec!["release", "nope", "--artifact", good, "--version", "v1"], 2, "app `nope` is not configured"),
        (vec!["release", "shop", "--artifact", "/does/not/exist", "--version", "v1"], 2, "does not exist"),
        (vec!["release", "shop", "--artifact", plain.to_str().unwrap(), "--version", "v1"], 2, "is not executable"),
        (vec!["release", "shop", "--artifact", good, "--version", "v1", "--digest", "md5:xyz"], 2, "is not a digest"),
        (vec!["undo", "shop", "--to-revision", "7"], 2, "revision 7 of `shop` does not exist"),
        (vec!["undo", "shop"], 1, "nothing has been released yet"),
        (vec!["history", "shop", "--revision", "3"], 2, "revision 3 of `shop` does not exist"),
        (vec!["known-good", "shop"], 2, "has no known-good revision"),
    ];
    for (args, code, message) in cases {
        let out = h.cli(&args);
        assert_eq!(out.code(), code, "{args:?}: {}", out.stderr());
        assert!(out.stderr().contains(message), "{args:?}: {}", out.stderr());
        assert_two_lines(&out);
    }
    assert!(h.json(&["history", "shop"]).as_array().unwrap().is_empty(), "nothing was recorded");
}

#[test]
fn an_unreachable_server_exits_3() {
    let port = free_port();
    let out = Out(Command::new(BIN)
        .args(["status", "shop"])
        .env("BACKSTOP_URL", format!("http://127.0.0.1:{port}"))
        .output()
        .unwrap());
    assert_eq!(out.code(), 3);
    assert!(out.stderr().contains(&format!("cannot reach the control plane at http://127.0.0.1:{port}")));
    assert_two_lines(&out);
}

#[test]
fn bad_config_names_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backstop.toml");
    std::fs::write(&path, "[server]\nstate = \"s\"\n[apps.shop]\nlisten = \"127.0.0.1:1\"\nsoak = \"soon\"\n").unwrap();
    let out = Out(Command::new(BIN).args(["server", "--config"]).arg(&path).output().unwrap());
    assert_eq!(out.code(), 2);
    assert!(out.stderr().contains(&format!("{}: `apps.shop.soak` is `soon`", path.display())), "{}", out.stderr());
    assert_two_lines(&out);
    assert!(!dir.path().join("s").exists(), "no state written for a bad config");

    let missing = Out(Command::new(BIN).args(["server", "--config", "/no/such/backstop.toml"]).output().unwrap());
    assert_eq!(missing.code(), 2);
    assert!(missing.stderr().contains("cannot read config file /no/such/backstop.toml"), "{}", missing.stderr());
}

#[test]
fn a_port_in_use_names_the_key() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backstop.toml");
    std::fs::write(
        &path,
        format!(
            "[server]\nlisten = \"127.0.0.1:{}\"\nstate = \"s\"\n[apps.shop]\nlisten = \"127.0.0.1:{port}\"\n",
            free_port()
        ),
    )
    .unwrap();
    let out = Out(Command::new(BIN).args(["server", "--config"]).arg(&path).output().unwrap());
    assert_eq!(out.code(), 2, "{}", out.stderr());
    assert!(
        out.stderr().contains(&format!("cannot listen on 127.0.0.1:{port} (`apps.shop.listen`)")),
        "{}",
        out.stderr()
    );
    assert!(out.stderr().contains("hint: another process holds that port"), "{}", out.stderr());
}

#[test]
fn usage_errors_exit_2() {
    let out = Out(Command::new(BIN).args(["release", "shop"]).output().unwrap());
    assert_eq!(out.code(), 2);
}
