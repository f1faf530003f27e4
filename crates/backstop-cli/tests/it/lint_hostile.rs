//! `backstop lint` on hostile input: statements built to exhaust a parser's or a visitor's stack.

use std::process::Command;

use crate::harness::{BIN, Out};

/// Writes `sql` into a fresh folder as one migration and lints it with the real binary.
fn lint_one(sql: &str) -> Out {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("0001_hostile.sql");
    std::fs::write(&file, sql).unwrap();
    Out(Command::new(BIN).arg("lint").arg(&file).env("NO_COLOR", "1").output().unwrap())
}

#[test]
fn lint_survives_select_with_160k_terms() {
    let out = lint_one(&format!("SELECT 1{};\n", "+1".repeat(160_000)));
    assert_eq!(out.code(), 2, "stdout: {}\nstderr: {}", out.stdout(), out.stderr());
    assert!(out.stderr().contains("nests deeper than 1000 levels"), "{}", out.stderr());
    assert!(out.stderr().contains("hint:"), "{}", out.stderr());
}

#[test]
fn lint_survives_deep_parentheses() {
    let out = lint_one(&format!("SELECT {}1{};\n", "(".repeat(200_000), ")".repeat(200_000)));
    assert_eq!(out.code(), 2, "stdout: {}\nstderr: {}", out.stdout(), out.stderr());
    assert!(out.stderr().contains("nests deeper than 1000 levels"), "{}", out.stderr());
}

#[test]
fn one_unparseable_file_no_longer_hides_the_findings_of_the_others() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("0001_ok.sql"), "CREATE TABLE IF NOT EXISTS t (id int);\n").unwrap();
    std::fs::write(dir.path().join("0002_bad.sql"), "SELECT 1;\nCREATE TABLE u (id int;\n").unwrap();
    std::fs::write(dir.path().join("0003_drop.sql"), "SET lock_timeout = '1s';\nDROP VIEW v;\n").unwrap();
    let run = |format: &str| {
        Out(Command::new(BIN).args(["lint", "--output", format]).arg(dir.path()).env("NO_COLOR", "1").output().unwrap())
    };

    let json = run("json");
    assert_eq!(json.code(), 2, "{}", json.stderr());
    assert!(json.stderr().contains("0002_bad.sql:2:23: cannot parse sql"), "{}", json.stderr());
    let v: serde_json::Value = serde_json::from_str(&json.stdout()).unwrap();
    let errors = v["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{v}");
    assert_eq!((errors[0]["line"].as_u64(), errors[0]["column"].as_u64()), (Some(2), Some(23)), "{v}");
    assert!(errors[0]["file"].as_str().unwrap().ends_with("0002_bad.sql"), "{v}");
    let rules: Vec<&str> = v["findings"].as_array().unwrap().iter().map(|f| f["rule"].as_str().unwrap()).collect();
    assert!(rules.contains(&"dropping-object"), "the file after the bad one is still linted: {v}");

    let sarif = run("sarif");
    assert_eq!(sarif.code(), 2);
    let v: serde_json::Value = serde_json::from_str(&sarif.stdout()).unwrap();
    let results = v["runs"][0]["results"].as_array().unwrap();
    let parse = results.iter().find(|r| r["ruleId"] == "parse-error").expect("a parse-error result");
    assert_eq!(parse["locations"][0]["physicalLocation"]["region"]["startLine"], 2);
    assert!(results.iter().any(|r| r["ruleId"] == "dropping-object"), "{v}");

    let human = run("table");
    assert_eq!(human.code(), 2);
    assert!(
        human.stdout().contains("dropping-object") && human.stdout().contains("cannot parse"),
        "{}",
        human.stdout()
    );
}

/// `backstop lint /dev/zero` (or a pipe that never ends) read without end.
#[test]
fn lint_of_a_device_read_without_end() {
    for path in ["/dev/zero", "/dev/urandom"] {
        let mut child = Command::new(BIN)
            .args(["lint", path])
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Fail, rather than hang the suite, if it reads on.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("backstop lint {path} still reads after 60 s");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let out = Out(child.wait_with_output().unwrap());
        assert_eq!(out.code(), 2, "{path}: {}", out.stderr());
        assert!(out.stderr().contains("is neither a file nor a folder"), "{path}: {}", out.stderr());
        assert!(out.stderr().lines().nth(1).is_some_and(|l| l.starts_with("hint: ")), "{}", out.stderr());
    }
}
