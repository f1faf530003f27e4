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

/// A token or an actor that an HTTP header cannot carry (a newline pasted with it, a control
/// character in `$USER`) was reported as "lost the connection during the call", with a hint to
/// look for an operation's outcome, although nothing was sent.
#[test]
fn a_token_with_a_newline_was_reported_as_a_lost_connection() {
    let h = Harness::start("");
    let token = h.token();
    let pasted = format!("{token}\nextra");
    let with_tab = format!("{token}\tx");
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case<'_>; 4] = [
        ("--token", &[("BACKSTOP_TOKEN", pasted.as_str())], "the token"),
        ("--token", &[("BACKSTOP_TOKEN", with_tab.as_str())], "the token"),
        ("--actor", &[("BACKSTOP_ACTOR", "ana\nroot")], "the actor"),
        ("$USER", &[("USER", "ana\u{1b}[2J"), ("BACKSTOP_ACTOR", "")], "the actor"),
    ];
    for (what, env, message) in cases {
        let mut env = env.to_vec();
        if !env.iter().any(|(k, _)| *k == "BACKSTOP_TOKEN") {
            env.push(("BACKSTOP_TOKEN", token.as_str()));
        }
        let out = h.cli_with(&["status", "shop"], &env);
        assert_eq!(out.code(), 2, "{what}: {}", out.stderr());
        assert!(out.stderr().contains(message), "{what}: {}", out.stderr());
        assert!(!out.stderr().contains("lost the connection"), "{what}: {}", out.stderr());
        assert_two_lines(&out);
    }
    // A token with only surrounding whitespace (a file's last newline) is fine.
    let trailing = format!("  {token}\n");
    assert_eq!(h.cli_with(&["status", "shop"], &[("BACKSTOP_TOKEN", trailing.as_str())]).code(), 0);
}

/// `--token-file /dev/zero` (or any file that does not end) read forever, growing without bound.
#[test]
fn a_token_file_without_end_was_read_forever() {
    let h = Harness::start("");
    let start = std::time::Instant::now();
    let out = h.cli_with(&["status", "shop", "--token-file", "/dev/zero"], &[]);
    assert_eq!(out.code(), 2, "{}", out.stderr());
    assert!(out.stderr().contains("token file"), "{}", out.stderr());
    assert_two_lines(&out);
    println!("refused /dev/zero as a token file in {:?}", start.elapsed());
    let token_file = h.dir.path().join("token");
    std::fs::write(&token_file, format!("{}\n", h.token())).unwrap();
    assert_eq!(h.cli_with(&["status", "shop", "--token-file", token_file.to_str().unwrap()], &[]).code(), 0);
}

/// `flag create --file /dev/zero` read without end; an oversized file was read whole first.
#[test]
fn a_flag_file_that_is_a_device_read_without_end() {
    let h = Harness::start("");
    let big = h.dir.path().join("big.json");
    std::fs::write(&big, format!("{{\"pad\": \"{}\"}}", "x".repeat(2 << 20))).unwrap();
    for file in ["/dev/zero", big.to_str().unwrap()] {
        let out = h.cli(&["flag", "create", "checkout", "--file", file]);
        assert_eq!(out.code(), 2, "{file}: {}", out.stderr());
        assert!(out.stderr().contains("is not a flag file"), "{file}: {}", out.stderr());
        assert_two_lines(&out);
    }
    assert_eq!(h.cli(&["flag", "list", "-o", "name"]).ok().stdout(), "", "nothing was created");
}
