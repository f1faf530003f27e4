//! Roll forward over a real control plane and real git repositories made here: a hotfix branched
//! from the tagged release production runs while main moved on, backports found by trailer, patch,
//! or in the tree (hand-resolved, squashed), the debt listed until paid, and the next release from
//! main refused while it lacks a fix production ran, unless the override is given (audited).

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

use crate::harness::{Harness, Out};

/// A git repository in the test's directory, on branch `main`, with its own identity and no
/// global or system configuration.
struct Repo {
    dir: PathBuf,
}

impl Repo {
    fn init(h: &Harness) -> Repo {
        let dir = h.dir.path().join("repo");
        std::fs::create_dir_all(&dir).unwrap();
        let repo = Repo { dir };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    fn try_git(&self, args: &[&str]) -> Output {
        Command::new("git")
            .arg("-C")
            .arg(&self.dir)
            .args(["-c", "user.name=Ana", "-c", "user.email=ana@example.com", "-c", "commit.gpgsign=false"])
            .args(args)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_EDITOR", "true")
            .output()
            .unwrap()
    }

    #[track_caller]
    fn git(&self, args: &[&str]) -> String {
        let out = self.try_git(args);
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn write(&self, file: &str, text: &str) {
        std::fs::write(self.dir.join(file), text).unwrap();
    }

    /// Commit everything as `message`; the new commit's id.
    fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
        self.head()
    }

    fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"])
    }

    fn path(&self) -> &str {
        self.dir.to_str().unwrap()
    }
}

/// Twelve lines of a price module; line `n` (1-based) replaced where asked.
fn price(changes: &[(usize, &str)]) -> String {
    let mut lines: Vec<String> = (1..=12).map(|i| format!("line {i}")).collect();
    lines[4] = "total = price".into();
    for (n, text) in changes {
        lines[n - 1] = (*text).to_owned();
    }
    lines.join("\n") + "\n"
}

fn release(h: &Harness, version: &str, extra: &[&str]) -> Out {
    let art = h.artifact(version, &[]);
    let mut args = vec!["release", "shop", "--artifact", art.to_str().unwrap(), "--version", version];
    args.extend_from_slice(extra);
    h.cli(&args)
}

fn revision(h: &Harness, n: u64) -> Value {
    h.json(&["history", "shop", "--revision", &n.to_string()])["revision"].clone()
}

/// `hotfix check` as JSON, and its exit code.
fn check(h: &Harness, repo: &Repo) -> (i32, Value) {
    let out = h.cli(&["hotfix", "check", "shop", "--repo", repo.path(), "--output", "json"]);
    (out.code(), serde_json::from_str(&out.stdout()).unwrap_or_else(|e| panic!("{e}: {}", out.stderr())))
}

/// The audit entry of `action` and its detail.
fn audited(h: &Harness, action: &str) -> (Value, Value) {
    let audit = h.json(&["audit", "list"]);
    let entry = audit
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == action)
        .unwrap_or_else(|| panic!("no {action} entry: {audit:#}"))
        .clone();
    let detail = entry["detail"].clone();
    (entry, detail)
}

/// The journal steps of the release that recorded `revision`.
fn release_steps(h: &Harness, revision: u64) -> Vec<Value> {
    let ops = h.json(&["operations", "shop"]);
    let recorded = Value::from(format!("revision {revision}"));
    let op = ops
        .as_array()
        .unwrap()
        .iter()
        .find(|o| {
            o["steps"].as_array().unwrap().iter().any(|s| s["step"] == "revision-recorded" && s["detail"] == recorded)
        })
        .unwrap_or_else(|| panic!("no release of revision {revision}: {ops:#}"));
    op["steps"].as_array().unwrap().clone()
}

fn hotfix(report: &Value, revision: u64) -> &Value {
    report["hotfixes"].as_array().unwrap().iter().find(|h| h["revision"] == revision).unwrap()
}

/// Release v1.0.0 from the tag `v1.0.0` on `price(&[])` (after an older commit tagged `v0.9.0`),
/// and wait until it is known-good.
fn first_release(h: &Harness, repo: &Repo) -> String {
    repo.write("price.txt", "price\n");
    repo.commit("start");
    repo.git(&["tag", "v0.9.0"]);
    repo.write("price.txt", &price(&[]));
    let c1 = repo.commit("price module");
    repo.git(&["tag", "v1.0.0"]);
    release(h, "v1.0.0", &["--git-commit", "v1.0.0", "--repo", repo.path()]).ok();
    h.wait_status(1, "known-good");
    c1
}

/// `hotfix start` for the live revision; the branch it made.
fn start(h: &Harness, repo: &Repo) -> String {
    let started = h.json(&["hotfix", "start", "shop", "--repo", repo.path()]);
    started["branch"].as_str().unwrap().to_owned()
}

#[test]
fn hotfix_start_branches_from_the_tagged_release_while_main_has_moved_on() {
    let h = Harness::start("");
    let repo = Repo::init(&h);
    let c1 = first_release(&h, &repo);
    let r1 = revision(&h, 1);
    assert_eq!((r1["git_commit"].as_str(), r1["git_tag"].as_str()), (Some(c1.as_str()), Some("v1.0.0")), "{r1:#}");

    repo.write("price.txt", &price(&[(2, "unreleased work on main")]));
    let main_moved = repo.commit("unreleased work");

    let out = h.cli(&["hotfix", "start", "shop", "--repo", repo.path()]);
    out.ok();
    let branch = format!("hotfix/shop-r1-{}", &c1[..7]);
    assert!(
        out.stdout().starts_with(&format!("created branch {branch} at {} (revision 1, v1.0.0, tag v1.0.0)", &c1[..7])),
        "{}",
        out.stdout()
    );
    assert!(out.stdout().contains(&format!("--git-commit {branch} --hotfix-of 1")), "{}", out.stdout());
    assert_eq!(repo.git(&["rev-parse", &branch]), c1, "the branch starts at the released commit, not at main");
    assert_eq!(repo.git(&["rev-parse", "main"]), main_moved);
    assert_eq!(repo.git(&["branch", "--show-current"]), "main", "the user's checkout is left alone");
    // Again: the branch is there already, from that commit.
    let again = h.json(&["hotfix", "start", "shop", "--from-revision", "1", "--repo", repo.path()]);
    assert_eq!((again["branch"].as_str(), again["created"].as_bool()), (Some(branch.as_str()), Some(false)));

    // A "hotfix" of revision 1 built on an older release is refused: it would drop what 1 shipped.
    repo.git(&["switch", "-q", "-c", "fix-on-old", "v0.9.0"]);
    repo.write("fix.txt", "fix\n");
    repo.commit("fix on the old release");
    let art = h.artifact("v1.0.1-old", &[]);
    let wrong = h.cli(&[
        "release",
        "shop",
        "--artifact",
        art.to_str().unwrap(),
        "--version",
        "v1.0.1",
        "--git-commit",
        "fix-on-old",
        "--hotfix-of",
        "1",
        "--repo",
        repo.path(),
    ]);
    assert_eq!(wrong.code(), 1, "{}", wrong.stderr());
    assert!(wrong.stderr().contains("is not built on revision 1's commit"), "{}", wrong.stderr());
    assert_eq!(h.json(&["history", "shop"]).as_array().unwrap().len(), 1, "nothing was recorded");

    repo.git(&["switch", "-q", &branch]);
    repo.write("price.txt", &price(&[(5, "total = price + tax")]));
    let fix = repo.commit("fix: add tax to the total");
    repo.git(&["tag", "v1.0.1"]);
    release(&h, "v1.0.1", &["--git-commit", "v1.0.1", "--hotfix-of", "1", "--repo", repo.path()]).ok();
    let r2 = revision(&h, 2);
    assert_eq!(r2["hotfix_of"], 1, "{r2:#}");
    assert_eq!((r2["git_commit"].as_str(), r2["git_tag"].as_str()), (Some(fix.as_str()), Some("v1.0.1")));
    let status = h.cli(&["status", "shop"]);
    assert!(status.stdout().contains("hotfix of 1"), "{}", status.stdout());
    let history = h.cli(&["history", "shop"]);
    assert!(history.stdout().contains("hotfix-of-1"), "{}", history.stdout());
    let (_, detail) = audited(&h, "release.hotfix");
    assert_eq!((detail["revision"].as_u64(), detail["hotfix_of"].as_u64()), (Some(2), Some(1)), "{detail:#}");
}

#[test]
fn hotfix_start_refuses_a_revision_without_a_commit_and_a_commit_the_repo_lacks() {
    let h = Harness::start("");
    let repo = Repo::init(&h);
    repo.write("price.txt", &price(&[]));
    repo.commit("price module");
    release(&h, "v1", &[]).ok();
    let out = h.cli(&["hotfix", "start", "shop", "--repo", repo.path()]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    assert!(out.stderr().starts_with("error: revision 1 of `shop` has no git commit recorded"), "{}", out.stderr());

    // Released from outside any repository, so recorded as given: the repository has no such commit.
    let elsewhere = "0123456789abcdef0123456789abcdef01234567";
    release(&h, "v2", &["--git-commit", elsewhere]).ok();
    let out = h.cli(&["hotfix", "start", "shop", "--repo", repo.path()]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    assert!(
        out.stderr().contains(&format!("released from commit {elsewhere}, which the repository at {}", repo.path())),
        "{}",
        out.stderr()
    );
    assert!(repo.git(&["branch", "--list", "hotfix/*"]).is_empty(), "no branch was made");

    // A hotfix whose commits the repository lacks cannot be shown to be on main: debt, not a pass.
    let fix_elsewhere = "89abcdef0123456789abcdef0123456789abcdef";
    release(&h, "v2.0.1", &["--git-commit", fix_elsewhere, "--hotfix-of", "2"]).ok();
    h.wait_status(3, "known-good");
    let (code, report) = check(&h, &repo);
    assert_eq!(code, 1, "{report:#}");
    let unknown = hotfix(&report, 3);
    assert_eq!((unknown["backport"]["state"].as_str(), unknown["debt"].as_bool()), (Some("unverifiable"), Some(true)));
    assert!(unknown["backport"]["reason"].as_str().unwrap().contains("is not in the repository"), "{unknown:#}");

    let not_a_repo = h.cli(&["hotfix", "start", "shop"]);
    assert_eq!(not_a_repo.code(), 2, "{}", not_a_repo.stderr());
}

#[test]
fn a_hand_resolved_conflict_and_a_squashed_backport_both_count_as_backported() {
    let h = Harness::start("");
    let repo = Repo::init(&h);
    first_release(&h, &repo);
    // Hotfix A of revision 1: line 5.
    let branch_a = start(&h, &repo);
    repo.git(&["switch", "-q", &branch_a]);
    repo.write("price.txt", &price(&[(5, "total = price + tax")]));
    let fix_a = repo.commit("fix: add tax to the total");
    release(&h, "v1.0.1", &["--git-commit", &fix_a, "--hotfix-of", "1", "--repo", repo.path()]).ok();
    h.wait_status(2, "known-good");

    // Main moved on: the same line and one two lines above it.
    repo.git(&["switch", "-q", "main"]);
    repo.write("price.txt", &price(&[(3, "line 3 reworded"), (5, "total = price * qty")]));
    repo.commit("quantities");
    let (code, report) = check(&h, &repo);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(hotfix(&report, 2)["debt"], true, "{report:#}");

    // The cherry-pick conflicts; resolved by hand to the fix's line, committed without a trailer.
    assert!(!repo.try_git(&["cherry-pick", &fix_a]).status.success(), "the cherry-pick conflicts");
    repo.write("price.txt", &price(&[(3, "line 3 reworded"), (5, "total = price + tax")]));
    repo.git(&["add", "price.txt"]);
    repo.git(&["cherry-pick", "--continue"]);
    let msg = repo.git(&["log", "-1", "--format=%B"]);
    assert!(!msg.contains("cherry picked from"), "no trailer: {msg}");
    let (code, report) = check(&h, &repo);
    assert_eq!(code, 0, "{report:#}");
    let a = hotfix(&report, 2);
    assert_eq!(a["backport"]["state"], "present", "{a:#}");
    assert_eq!(a["backport"]["found"][0]["evidence"]["by"], "tree", "{a:#}");

    // Hotfix B of revision 2, two commits where the second rewrites the first's line.
    let branch_b = start(&h, &repo);
    assert!(branch_b.starts_with(&format!("hotfix/shop-r2-{}", &fix_a[..7])), "{branch_b}");
    repo.git(&["switch", "-q", &branch_b]);
    repo.write("price.txt", &price(&[(5, "total = price + tax"), (9, "round(total)")]));
    repo.commit("fix: round the total");
    repo.write("price.txt", &price(&[(5, "total = price + tax"), (9, "round_half_even(total)")]));
    let fix_b = repo.commit("fix: round half to even");
    release(&h, "v1.0.2", &["--git-commit", &fix_b, "--hotfix-of", "2", "--repo", repo.path()]).ok();
    h.wait_status(3, "known-good");
    let (code, report) = check(&h, &repo);
    assert_eq!(code, 1, "{report:#}");
    let b = hotfix(&report, 3);
    assert_eq!(b["backport"]["missing"].as_array().unwrap().len(), 2, "{b:#}");

    // Squashed into one commit on main: no trailer, no equal patch, the first commit's own change
    // is not in the tree; the whole fix is.
    repo.git(&["switch", "-q", "main"]);
    repo.git(&["merge", "-q", "--squash", &branch_b]);
    repo.git(&["commit", "-q", "-m", "rounding fixes from production"]);
    let (code, report) = check(&h, &repo);
    assert_eq!(code, 0, "{report:#}");
    let b = hotfix(&report, 3);
    assert_eq!(b["backport"]["state"], "present", "{b:#}");
    assert_eq!(b["debt"], false);
    let human = h.cli(&["hotfix", "check", "--repo", repo.path()]);
    human.ok();
    assert!(human.stdout().contains("shop revision 3 (v1.0.2, hotfix of 2): ok"), "{}", human.stdout());
}

#[test]
fn a_missing_backport_is_debt_and_blocks_the_next_release_from_main_unless_allowed_and_audited() {
    let h = Harness::start("");
    let repo = Repo::init(&h);
    first_release(&h, &repo);
    let branch = start(&h, &repo);
    repo.git(&["switch", "-q", &branch]);
    repo.write("price.txt", &price(&[(5, "total = price + tax")]));
    let fix = repo.commit("fix: add tax to the total");
    release(&h, "v1.0.1", &["--git-commit", &fix, "--hotfix-of", "1", "--repo", repo.path()]).ok();
    h.wait_status(2, "known-good");
    repo.git(&["switch", "-q", "main"]);
    repo.write("readme.txt", "new feature\n");
    repo.commit("feature work");

    let (code, report) = check(&h, &repo);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["debt"], 1);
    let debt = hotfix(&report, 2);
    assert_eq!(debt["command"].as_str(), Some(format!("git cherry-pick -x {fix}").as_str()), "{debt:#}");
    assert!(debt["age_secs"].as_i64().unwrap() >= 0, "{debt:#}");
    let human = h.cli(&["hotfix", "check", "shop", "--repo", repo.path()]);
    assert_eq!(human.code(), 1);
    assert!(human.stdout().contains("shop revision 2 (v1.0.1, hotfix of 1): DEBT for "), "{}", human.stdout());
    assert!(human.stdout().contains(&format!("{} \"fix: add tax to the total\"", &fix[..7])), "{}", human.stdout());
    assert!(human.stderr().starts_with("error: 1 hotfix is not on main: backport debt"), "{}", human.stderr());

    // The next release from main would bring the bug back: refused, nothing recorded.
    let refused = release(&h, "v1.1.0", &["--git-commit", "main", "--repo", repo.path()]);
    assert_eq!(refused.code(), 1, "{}", refused.stderr());
    assert!(
        refused.stderr().contains(&format!("lacks the fix of hotfix revision 2 (commits {})", &fix[..7])),
        "{}",
        refused.stderr()
    );
    assert!(refused.stderr().contains(&format!("hint: bring the fix back (`git cherry-pick -x {fix}`)")));
    assert_eq!(h.json(&["history", "shop"]).as_array().unwrap().len(), 2, "nothing was recorded");
    // Without a repository it cannot be checked, so it is not let through either.
    let blind = release(&h, "v1.1.0", &["--git-commit", "main"]);
    assert_eq!(blind.code(), 2, "{}", blind.stderr());
    assert!(blind.stderr().contains("cannot check that `main` carries the fix of hotfix revision 2"));
    let blank = release(&h, "v1.1.0", &["--git-commit", "main", "--repo", repo.path(), "--allow-missing-hotfix", " "]);
    assert_eq!(blank.code(), 2, "{}", blank.stderr());

    // Allowed with a reason: released, and the reason is in the audit log and the journal.
    let reason = "tax moves to the new pricing service";
    let allowed =
        release(&h, "v1.1.0", &["--git-commit", "main", "--repo", repo.path(), "--allow-missing-hotfix", reason]);
    allowed.ok();
    let (entry, detail) = audited(&h, "release.allow-missing-hotfix");
    assert_eq!((entry["actor"].as_str(), entry["app"].as_str()), (Some("admin:tester"), Some("shop")), "{entry:#}");
    assert_eq!(detail["reason"], reason, "{detail:#}");
    assert_eq!(detail["revision"], 3, "{detail:#}");
    assert_eq!(detail["missing"][0]["revision"], 2, "{detail:#}");
    assert_eq!(detail["missing"][0]["commits"][0].as_str(), Some(fix.as_str()), "{detail:#}");
    let steps = release_steps(&h, 3);
    assert!(steps.iter().any(|s| s["step"] == "missing-hotfix-allowed"), "{steps:#?}");
    h.cli(&["audit", "verify"]).ok();

    // Paid with a cherry-pick: the debt is gone and the next release carries the fix.
    repo.git(&["cherry-pick", "-x", &fix]);
    let (code, report) = check(&h, &repo);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(hotfix(&report, 2)["backport"]["found"][0]["evidence"]["by"], "trailer", "{report:#}");
    h.wait_status(3, "known-good");
    release(&h, "v1.2.0", &["--git-commit", "main", "--repo", repo.path()]).ok();
    let steps = release_steps(&h, 4);
    let carried = steps.iter().find(|s| s["step"] == "hotfixes-carried").cloned();
    assert_eq!(carried.unwrap_or_default()["detail"], "carries the fix of hotfix revisions 2", "{steps:#?}");
}

#[test]
fn a_hotfix_release_still_runs_the_migration_gate() {
    let h = Harness::start("[apps.shop.database]\nurl = \"sqlite://shop.db\"\n");
    let repo = Repo::init(&h);
    first_release(&h, &repo);
    let branch = start(&h, &repo);
    repo.git(&["switch", "-q", &branch]);
    repo.write("fix.txt", "fix\n");
    let fix = repo.commit("fix");
    let migrations = h.dir.path().join("migrations");
    std::fs::create_dir_all(&migrations).unwrap();
    std::fs::write(migrations.join("0001_users.sql"), "CREATE TABLE users (id integer, name text);\n").unwrap();
    std::fs::write(migrations.join("0002_rename.sql"), "ALTER TABLE users RENAME COLUMN name TO full_name;\n").unwrap();
    let out = release(
        &h,
        "v1.0.1",
        &[
            "--git-commit",
            &fix,
            "--hotfix-of",
            "1",
            "--repo",
            repo.path(),
            "--migrations",
            migrations.to_str().unwrap(),
        ],
    );
    assert_eq!(out.code(), 1, "{}", out.stderr());
    assert!(out.stderr().starts_with("error: release refused"), "{}", out.stderr());
    assert_eq!(h.json(&["history", "shop"]).as_array().unwrap().len(), 1, "nothing was recorded");
}

/// Regression: a release with no `--git-commit` (or a plain API call that reported nothing
/// about hotfixes) went out without the fix of the hotfix production ran. Now the CLI refuses it
/// (exit 2, naming the hotfix), the server refuses a request that leaves a hotfix in production
/// unaccounted for (409 `missing_hotfix`), and `--allow-missing-hotfix` lets it through with the
/// hotfix recorded as missing in the audit log.
#[test]
fn a_release_without_a_git_commit_bypassed_the_missing_hotfix_gate() {
    let h = Harness::start("");
    let repo = Repo::init(&h);
    first_release(&h, &repo);
    let branch = start(&h, &repo);
    repo.git(&["switch", "-q", &branch]);
    repo.write("price.txt", &price(&[(5, "total = price + tax")]));
    let fix = repo.commit("fix: add tax to the total");
    release(&h, "v1.0.1", &["--git-commit", &fix, "--hotfix-of", "1", "--repo", repo.path()]).ok();
    h.wait_status(2, "known-good");

    let blind = release(&h, "v1.1.0", &[]);
    assert_eq!(blind.code(), 2, "{}", blind.stderr());
    assert!(
        blind
            .stderr()
            .contains("cannot check that this release carries the fix of hotfix revision 2: it names no --git-commit"),
        "{}",
        blind.stderr()
    );
    assert!(blind.stderr().contains("hint: pass --git-commit"), "{}", blind.stderr());

    // The API itself: a release naming v1's digest and nothing about hotfixes.
    let digest = revision(&h, 1)["digest"].as_str().unwrap().to_owned();
    let body = serde_json::json!({ "digest": digest, "version": "v1.1.0" }).to_string();
    let (status, answer) = crate::harness::http_request(
        h.api_port,
        "POST",
        "/v1/apps/shop/releases",
        &[("Authorization", &format!("Bearer {}", h.token())), ("Content-Type", "application/json")],
        body.as_bytes(),
    )
    .unwrap();
    assert_eq!(status, 409, "{answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["error"]["code"], "missing_hotfix", "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("hotfix revision 2"), "{answer}");
    assert_eq!(h.json(&["history", "shop"]).as_array().unwrap().len(), 2, "nothing was recorded");

    let reason = "rebuilt from an old pipeline, fix follows in v1.2";
    release(&h, "v1.1.0", &["--allow-missing-hotfix", reason]).ok();
    let (_, detail) = audited(&h, "release.allow-missing-hotfix");
    assert_eq!(detail["reason"], reason, "{detail:#}");
    assert_eq!(detail["revision"], 3, "{detail:#}");
    assert_eq!(detail["missing"][0]["revision"], 2, "{detail:#}");
    assert_eq!(detail["missing"][0]["commits"][0].as_str(), Some(fix.as_str()), "{detail:#}");
}
