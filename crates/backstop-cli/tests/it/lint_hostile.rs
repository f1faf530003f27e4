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
