//! What an operator hits in the first hour: a config with relative paths run from its own folder,
//! and output piped into a reader that stops early.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{BIN, free_port, http_get};

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
        .args(["server", "--config", "backstop.toml"])
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
    let _ = server.kill();
    let _ = server.wait();
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
