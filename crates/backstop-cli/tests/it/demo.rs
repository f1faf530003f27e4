//! The README's first command: `backstop demo` tells the whole story, end to end.

use crate::harness::BIN;

#[test]
fn the_demo_tells_the_whole_story() {
    let out = std::process::Command::new(BIN).arg("demo").env("NO_COLOR", "1").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "demo failed: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    let in_order = [
        "20 requests to http://127.0.0.1:",
        "20 requests: 0 ok, 20 FAILED; last answer: 500 shop v2",
        "recommended: kill-switch",
        "took: kill-switch (incident 1)",
        "requests succeed again",
        "  recovered  2",
        "(warm swap: true)",
        "error: revision 3 failed: never became healthy",
        "error: release refused: 0002_rename.sql:1: renaming column `full_name` of `users`",
        "rolling back to revision 2 now: safe = true (conservative check)",
        "error: contract refused, revisions still in the rollback window need what it removes: users.full_name (needed by revision 1, 2)",
        "contract applied [\"0004\"]",
        "safe = false: column users.full_name is gone",
        "error: rollback to revision 2 refused: revision 3 is permanent, and nothing older runs again",
        "recommended: roll-forward",
        "backstop hotfix start accounts --from-revision 3",
        "created branch hotfix/accounts-r3-",
        "(revision 3, a3, tag accounts-a3), not main",
        "revision 4 is soaking (hotfix of 3, from ",
        "accounts revision 4 (a3.1, hotfix of 3): DEBT for",
        "error: 1 hotfix is not on main: backport debt",
        "error: release of `accounts` refused:",
        "accounts revision 4 (a3.1, hotfix of 3): ok",
        "error: release refused, its expand stage would break a revision that may still serve: 0005_unique_name.sql:1 would break revision 4",
        "hint: nothing ran and traffic did not move; add the unique index in a later release",
        "analysis reverted revision 2 by itself",
        "reason: analysis failed: error ratio",
        "20 requests: 20 ok, 0 failed; last answer: 200 shop s1",
    ];
    let mut from = 0;
    for line in in_order {
        match stdout[from..].find(line) {
            Some(at) => from += at + line.len(),
            None => panic!("the demo did not print {line:?} (in order):\n{stdout}"),
        }
    }
}
