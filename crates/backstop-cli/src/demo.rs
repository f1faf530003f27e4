//! `backstop demo`: the whole story on this machine in under a minute — a
//! throwaway control plane, a good release, a bad one whose breakage a flag
//! switches off when `incident --execute` takes the kill switch (rung 1, no deploy, with the
//! incident's timeline), an instant rollback to the warm previous
//! version, a refused release, and a second app whose releases ship database
//! migrations: a rename refused, the expand/contract way through, a rollback
//! refused once the old code's column is gone (the ladder then says roll forward), the roll
//! forward walked (a hotfix branched from the commit production runs, released, its backport
//! debt shown and blocking the next release from main until it is paid), and an expand stage
//! that would break the serving revision refused before it runs; and a third app whose automated analysis notices a release
//! failing under traffic and reverts it by itself.

use std::time::{Duration, Instant};

use backstop_api::{
    ContractOutcome, FlagRequest, Incident, IncidentAssessment, Outcome, PromoteRequest, RevisionDetail,
    RevisionStatus, RollbackCheck, UndoRequest, Written,
};

use crate::client::{Answer, Client};
use crate::exit::{CliError, CliResult};
use crate::output::{out, out_part};
use crate::{Output, commands};

fn free_port() -> CliResult<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| CliError::failed(format!("no free port on 127.0.0.1: {e}"), ""))
}

fn say(line: &str) {
    let bold = crate::output::color_stdout();
    if bold {
        out!("\n\x1b[1m== {line}\x1b[0m");
    } else {
        out!("\n== {line}");
    }
}

async fn hit(http: &reqwest::Client, url: &str, n: usize) -> (usize, usize, String) {
    let (mut ok, mut bad, mut last) = (0, 0, String::new());
    for _ in 0..n {
        match http.get(url).send().await {
            Ok(r) => {
                if r.status().is_success() {
                    ok += 1
                } else {
                    bad += 1
                }
                last = format!("{} {}", r.status().as_u16(), r.text().await.unwrap_or_default().trim());
            }
            Err(e) => {
                bad += 1;
                last = e.to_string();
            }
        }
    }
    (ok, bad, last)
}

pub async fn run(keep: bool) -> CliResult {
    let fail = |what: &str, e: std::io::Error| {
        CliError::failed(format!("{what}: {e}"), "check that the temporary directory is writable")
    };
    let tmp = tempfile::Builder::new()
        .prefix("backstop-demo-")
        .tempdir()
        .map_err(|e| fail("cannot create a state directory", e))?;
    let root = tmp.path().to_owned();
    let (api_port, app_port, accounts_port, search_port) = (free_port()?, free_port()?, free_port()?, free_port()?);
    let config_path = root.join("backstop.toml");
    let config_text = format!(
        "[server]\nlisten = \"127.0.0.1:{api_port}\"\nstate = \"{}\"\n\n[apps.shop]\nlisten = \"127.0.0.1:{app_port}\"\nhealth = \"/healthz\"\nsoak = \"2s\"\nkeep_warm = \"10m\"\nhealth_timeout = \"3s\"\nhealth_interval = \"200ms\"\nenv = {{ BACKSTOP_FLAGS_URL = \"http://127.0.0.1:{api_port}\", BACKSTOP_FLAGS_TOKEN_FILE = \"{}\" }}\n",
        root.join("state").display(),
        root.join("state").join("eval.token").display()
    ) + &format!(
        "\n[apps.accounts]\nlisten = \"127.0.0.1:{accounts_port}\"\nhealth = \"/healthz\"\nsoak = \"1s\"\nhealth_timeout = \"3s\"\nhealth_interval = \"200ms\"\n[apps.accounts.database]\nurl = \"sqlite://accounts.db\"\n"
    ) + &format!(
        "\n[apps.search]\nlisten = \"127.0.0.1:{search_port}\"\nhealth = \"/healthz\"\nsoak = \"2s\"\nhealth_timeout = \"3s\"\nhealth_interval = \"200ms\"\n[apps.search.analysis]\nmax_error_ratio = 0.01\nmin_requests = 50\non_failure = \"revert\"\n"
    );
    std::fs::write(&config_path, &config_text).map_err(|e| fail("cannot write the demo config", e))?;
    let exe = std::env::current_exe().map_err(|e| fail("cannot find this executable", e))?;
    let v2 = vec!["--broken", "--guard-flag", "new-checkout"];
    for (name, flags) in [
        ("v1", vec![]),
        ("v2", v2),
        ("v3", vec!["--unhealthy"]),
        ("a1", vec![]),
        ("a2", vec![]),
        ("a3", vec![]),
        ("a3.1", vec![]),
        ("a4", vec!["--unhealthy"]),
        ("s1", vec![]),
        ("s2", vec!["--fail-percent", "30"]),
    ] {
        crate::demo_app::write_artifact(&root.join(format!("artifacts/{name}")), &exe, name, &flags)
            .map_err(|e| fail("cannot write a demo artifact", e))?;
    }

    say(&format!(
        "starting a control plane on 127.0.0.1:{api_port}, app `shop` public on 127.0.0.1:{app_port}, app `accounts` on 127.0.0.1:{accounts_port}"
    ));
    out!("{config_text}");
    let config =
        backstop_server::Config::parse(&config_path, &config_text).map_err(|e| CliError::failed(e.to_string(), ""))?;
    let server = backstop_server::Server::start(config)
        .await
        .map_err(|e| CliError::failed(commands::error_chain(&e), e.hint()))?;
    let token = server.ctx().token.clone();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(async move {
        let _ = stop_rx.await;
    }));

    let mut result = story(&root, api_port, app_port, token.clone()).await;
    if result.is_ok() {
        result = analysis_scene(&root, api_port, search_port, token).await;
    }

    let _ = stop_tx.send(());
    let _ = serving.await;
    if keep {
        let kept = tmp.keep();
        out!("\nstate kept in {}", kept.display());
    }
    result
}

async fn story(root: &std::path::Path, api_port: u16, app_port: u16, token: String) -> CliResult {
    let c = Client::new(&format!("http://127.0.0.1:{api_port}"), Some(token))?;
    let http = reqwest::Client::builder().no_proxy().build().map_err(|e| CliError::failed(e.to_string(), ""))?;
    let public = format!("http://127.0.0.1:{app_port}/");
    let art = |v: &str| root.join(format!("artifacts/{v}"));

    say("release v1 (good)");
    let o = release(&c, &art("v1"), "v1", "first release of the shop", Some("1111111")).await?;
    out!("revision {} is {}", o.value.revision, o.value.status.as_str());
    out!("waiting for v1 to survive its 2s soak...");
    wait_known_good(&c, 1).await?;
    let (ok, bad, last) = hit(&http, &public, 20).await;
    out!("20 requests to {public}: {ok} ok, {bad} failed; last answer: {last}");

    say("release v2 (passes its health check, but its new checkout, behind flag new-checkout, is broken)");
    let flag =
        FlagRequest { flag: crate::flag::boolean_flag("new-checkout", "the v2 checkout".into(), true), reason: None };
    let _: Answer<Written> = c.post("/v1/flags/new-checkout", &flag).await?;
    let o = release_guarded(&c, &art("v2"), "v2", "new checkout flow", Some("2222222"), "new-checkout").await?;
    out!("revision {} is {}", o.value.revision, o.value.status.as_str());
    // The service's SDK client connects in the background; wait until the new checkout is on.
    let deadline = Instant::now() + Duration::from_secs(10);
    while hit(&http, &public, 1).await.1 == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (ok, bad, last) = hit(&http, &public, 20).await;
    out!("20 requests: {ok} ok, {bad} FAILED; last answer: {last}");

    say("backstop incident shop: what now? the ladder, decided from facts");
    let ladder: Answer<IncidentAssessment> = c.get("/v1/apps/shop/incident").await?;
    out_part!("{}", ladder.value.text);

    say("backstop incident shop --execute: rung 1, the kill switch (no deploy, v2 keeps running)");
    let started = Instant::now();
    let done: Answer<IncidentAssessment> = c.post_empty("/v1/apps/shop/incidents").await?;
    let taken = done.value.taken.map_or("nothing", |r| r.as_str());
    out!("took: {taken} (incident {})", done.value.incident.unwrap_or_default());
    let mut fixed = None;
    while started.elapsed() < Duration::from_secs(10) {
        if hit(&http, &public, 1).await.1 == 0 {
            fixed = Some(started.elapsed());
            break;
        }
    }
    match fixed {
        Some(took) => out!("requests succeed again {:.1} ms after the decision", took.as_secs_f64() * 1000.0),
        None => out!("unexpected: still failing 10 s after the flip"),
    }
    if let Some(id) = done.value.incident {
        // Recovery is marked once the analysis of the traffic since mitigation passes.
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut record: Answer<Incident> = c.get(&format!("/v1/incidents/{id}")).await?;
        while record.value.recovered_at.is_none() && Instant::now() < deadline {
            hit(&http, &public, 20).await;
            record = c.get(&format!("/v1/incidents/{id}")).await?;
        }
        say(&format!("backstop incident show {id}: the timeline"));
        out_part!("{}", crate::incident::timeline_text(&record.value));
    }
    let (ok, bad, last) = hit(&http, &public, 20).await;
    out!("20 requests: {ok} ok, {bad} failed; last answer: {last}");

    say("rung 2, undo: traffic back to the last known-good revision, still running warm");
    let started = Instant::now();
    let o: Answer<Outcome> = c.post("/v1/apps/shop/undo", &UndoRequest::default()).await?;
    let took = started.elapsed();
    out!(
        "rolled back to revision {} in {:.1} ms (warm swap: {})",
        o.value.revision,
        took.as_secs_f64() * 1000.0,
        o.value.warm
    );
    let (ok, bad, last) = hit(&http, &public, 20).await;
    out!("20 requests: {ok} ok, {bad} failed; last answer: {last}");

    say("release v3 (never becomes healthy): refused, traffic never leaves v1");
    match release(&c, &art("v3"), "v3", "faster search", None).await {
        Ok(_) => out!("unexpected: v3 went live"),
        Err(e) => out!("error: {}\nhint: {}", e.message, e.hint),
    }
    let (ok, bad, last) = hit(&http, &public, 20).await;
    out!("20 requests: {ok} ok, {bad} failed; last answer: {last}");

    say("backstop history shop");
    commands::history(&c, Output::Table, "shop", None).await?;
    say("backstop status shop");
    commands::status(&c, Output::Table, "shop").await?;

    data_safety(&c, root).await
}

/// The `search` app has automated analysis: a release that fails 30 % of its requests under
/// traffic is noticed by the proxy's signals and reverted, with no one at the keyboard.
async fn analysis_scene(root: &std::path::Path, api_port: u16, search_port: u16, token: String) -> CliResult {
    let c = Client::new(&format!("http://127.0.0.1:{api_port}"), Some(token))?;
    let http = reqwest::Client::builder().no_proxy().build().map_err(|e| CliError::failed(e.to_string(), ""))?;
    let public = format!("http://127.0.0.1:{search_port}/");
    // Traffic all along, as real users would send it.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let (http, public, stop) = (http.clone(), public.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = http.get(&public).send().await;
            }
        })
    };
    let result = async {
        say("app `search` judges each release by its own traffic ([apps.search.analysis]: at most 1 % failures)");
        let art = |v: &str| root.join(format!("artifacts/{v}"));
        release_app(&c, "search", &art("s1"), "s1", "search", None, &[], None).await?;
        wait_known_good_app(&c, "search", 1).await?;
        out!("revision 1 served its soak under traffic and passed its analysis: known-good");

        say("release s2: healthy by its health check, but it fails 30 % of real requests");
        let started = Instant::now();
        release_app(&c, "search", &art("s2"), "s2", "faster ranking", None, &[], None).await?;
        let deadline = Instant::now() + Duration::from_secs(20);
        let failed = loop {
            let v: Answer<RevisionDetail> = c.get("/v1/apps/search/revisions/2").await?;
            if v.value.revision.status == RevisionStatus::Failed || Instant::now() > deadline {
                break v.value.revision;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let signals: Answer<backstop_api::AppSignals> = c.get("/v1/apps/search/signals").await?;
        let bad = signals.value.revisions.iter().find(|r| r.revision == 2);
        out!(
            "analysis reverted revision 2 by itself, {:.0} ms after the release started ({} of its {} requests failed); reason: {}",
            started.elapsed().as_secs_f64() * 1000.0,
            bad.map_or(0, |r| r.total.failures),
            bad.map_or(0, |r| r.total.requests),
            failed.status_reason.as_deref().unwrap_or("-"),
        );
        let (ok, bad, last) = hit(&http, &public, 20).await;
        out!("20 requests: {ok} ok, {bad} failed; last answer: {last}");
        Ok::<(), CliError>(())
    }
    .await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = load.await;
    result
}

/// The `accounts` app: its releases ship migrations to its (SQLite) database.
async fn data_safety(c: &Client, root: &std::path::Path) -> CliResult {
    let folder = |name: &str, files: &[(&str, &str)]| -> CliResult<std::path::PathBuf> {
        let dir = root.join("migrations").join(name);
        std::fs::create_dir_all(&dir)
            .map_err(|e| CliError::failed(format!("cannot write {}: {e}", dir.display()), ""))?;
        for (file, sql) in files {
            std::fs::write(dir.join(file), sql)
                .map_err(|e| CliError::failed(format!("cannot write {file}: {e}"), ""))?;
        }
        Ok(dir)
    };
    let users = ("0001_users.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY, full_name TEXT NOT NULL);\n");
    let add = ("0002_add_name.sql", "ALTER TABLE users ADD COLUMN name TEXT;\n");
    let copy = ("0003_copy_name.sql", "UPDATE users SET name = full_name WHERE name IS NULL;\n");
    let drop = ("0004_drop_full_name.sql", "ALTER TABLE users DROP COLUMN full_name;\n");
    let rename = ("0002_rename.sql", "ALTER TABLE users RENAME COLUMN full_name TO name;\n");
    let art = |v: &str| root.join(format!("artifacts/{v}"));
    fn show<T>(r: CliResult<Answer<T>>, ok: &dyn Fn(&T) -> String) {
        match r {
            Ok(v) => out!("{}", ok(&v.value)),
            Err(e) => out!("error: {}\nhint: {}", e.message, e.hint),
        }
    }
    let live = |v: &Outcome| format!("revision {} is {}", v.revision, v.status.as_str());

    // The accounts app's own repository: each release is built from a commit of it, so a hotfix
    // can branch from exactly what production runs.
    let repo = Repo::init(&root.join("repo"))?;
    let built = |version: &str, message: &str| -> CliResult<Option<String>> {
        let Some(repo) = &repo else { return Ok(None) };
        repo.commit("accounts/VERSION", &format!("{version}\n"), message)?;
        repo.git(&["tag", &format!("accounts-{version}")])?;
        Ok(Some(format!("accounts-{version}")))
    };

    say("data safety: app `accounts` ships its migrations with each release (SQLite here, PostgreSQL alike)");
    let v1 = folder("a1", &[users])?;
    let tag = built("a1", "Users with a full name")?;
    show(release_git(c, &repo, &art("a1"), "a1", "users with full_name", tag.as_deref(), &v1).await, &live);
    wait_known_good_app(c, "accounts", 1).await?;

    say("a release renaming users.full_name to name in one step: refused, nothing runs");
    let bad = folder("a2-rename", &[users, rename])?;
    show(release_app(c, "accounts", &art("a2"), "a2", "rename full_name", None, &[], Some(&bad)).await, &live);

    say("the expand/contract way, release a2: add `name` and copy the data before the new code starts");
    let v2 = folder("a2", &[users, add, copy])?;
    let tag = built("a2", "Read users.name")?;
    show(release_git(c, &repo, &art("a2"), "a2", "read name", tag.as_deref(), &v2).await, &live);
    wait_known_good_app(c, "accounts", 2).await?;

    say("release a3 ships the drop of full_name: it waits for the contract stage, after the soak");
    let v3 = folder("a3", &[users, add, copy, drop])?;
    let tag = built("a3", "Drop users.full_name")?;
    show(release_git(c, &repo, &art("a3"), "a3", "drop full_name", tag.as_deref(), &v3).await, &live);
    wait_known_good_app(c, "accounts", 3).await?;
    let check: Answer<RollbackCheck> = c.get("/v1/apps/accounts/revisions/2/rollback-check").await?;
    out!(
        "rolling back to revision 2 now: safe = {} ({} check)",
        check.value.safe,
        crate::output::wire_text(&check.value.mode)
    );

    say("backstop migrate contract accounts: refused while revisions 1 and 2 may still be rolled back to");
    let contract = |v: &ContractOutcome| {
        use crate::output::wire_text;
        format!("contract applied {} (checked revisions {})", wire_text(&v.applied), wire_text(&v.checked))
    };
    show(c.post_empty("/v1/apps/accounts/migrations/contract").await, &contract);

    say("backstop promote accounts 3 --permanent, then the contract runs");
    let _: Answer<backstop_api::Revision> =
        c.post("/v1/apps/accounts/revisions/3/promote", &PromoteRequest { permanent: true }).await?;
    show(c.post_empty("/v1/apps/accounts/migrations/contract").await, &contract);

    say("backstop check-rollback accounts 2: a2's code reads users.full_name, which is gone");
    let check: Answer<RollbackCheck> = c.get("/v1/apps/accounts/revisions/2/rollback-check").await?;
    out!("safe = {}: {}", check.value.safe, check.value.summary());

    say("backstop undo accounts --to-revision 2: refused, revision 3 is permanent and nothing older runs again");
    let undo = UndoRequest { to_revision: Some(2), force: false };
    show(c.post("/v1/apps/accounts/undo", &undo).await, &live);

    say("backstop incident accounts: every way back is locked by the schema, so the ladder says roll forward");
    let ladder: Answer<IncidentAssessment> = c.get("/v1/apps/accounts/incident").await?;
    out_part!("{}", ladder.value.text);

    let main_tag = match &repo {
        Some(repo) => Some(roll_forward(c, repo, &art("a3.1"), &v3).await?),
        None => {
            out!("(git is not installed: the roll-forward scene is skipped)");
            None
        }
    };

    say(
        "release a4 (unhealthy, too) adds a unique index on users.name in its expand stage: revision 4 (the hotfix), serving, may write duplicate names; refused before anything runs",
    );
    let unique = ("0005_unique_name.sql", "CREATE UNIQUE INDEX users_name_unique ON users (name);\n");
    let v4 = folder("a4", &[users, add, copy, drop, unique])?;
    show(release_git(c, &repo, &art("a4"), "a4", "unique names", main_tag.as_deref(), &v4).await, &live);
    Ok(())
}

/// The last rung, walked: branch from the commit revision 3 runs (main has moved on), fix,
/// release as a hotfix, and see the backport debt block main's next release until it is paid.
/// Returns the main commit the next release is built from.
async fn roll_forward(
    c: &Client,
    repo: &Repo,
    artifact: &std::path::Path,
    migrations: &std::path::Path,
) -> CliResult<String> {
    let show = |r: CliResult| {
        if let Err(e) = r {
            out!("error: {}\nhint: {}", e.message, e.hint);
        }
    };
    say("meanwhile main has moved on: the next feature's commit lands after accounts-a3");
    repo.commit("accounts/NEXT", "unique names\n", "Start on unique user names")?;

    say("backstop hotfix start accounts: a branch from exactly the commit revision 3 was released from");
    crate::hotfix::start(c, Output::Table, "accounts", None, Some(repo.dir.clone())).await?;
    let a3 = repo.git(&["rev-parse", "accounts-a3^{commit}"])?;
    let branch = backstop_core::hotfix::branch_name("accounts", 3, &a3);
    repo.git(&["switch", "-q", &branch])?;
    let fix = repo.commit("accounts/LIMITS", "name: at most 200 characters\n", "Refuse names over 200 characters")?;

    say(
        "backstop release accounts --hotfix-of 3: the fix goes out through the same gates (digest, migrations, rollback verdict)",
    );
    let git = crate::hotfix::prepare_release(c, "accounts", Some(&branch), Some(3), None, Some(&repo.dir)).await?;
    let o = release_app_git(c, "accounts", artifact, "a3.1", "hotfix: limit name length", &git, &[], Some(migrations))
        .await?;
    out!("revision {} is {} (hotfix of 3, from {})", o.value.revision, o.value.status.as_str(), &fix[..7]);
    wait_known_good_app(c, "accounts", o.value.revision).await?;

    say("backstop hotfix check accounts: production runs a fix that main does not have");
    repo.git(&["switch", "-q", "main"])?;
    show(crate::hotfix::check(c, Output::Table, Some("accounts".into()), "main", Some(repo.dir.clone())).await);

    say("a release built from main now would bring the bug back: refused");
    let head = repo.git(&["rev-parse", "HEAD"])?;
    show(crate::hotfix::prepare_release(c, "accounts", Some(&head), None, None, Some(&repo.dir)).await.map(|_| ()));

    say("git cherry-pick -x the fix onto main, and the debt is paid");
    repo.git(&["cherry-pick", "-x", &fix])?;
    show(crate::hotfix::check(c, Output::Table, Some("accounts".into()), "main", Some(repo.dir.clone())).await);
    repo.git(&["rev-parse", "HEAD"])
}

/// A throwaway git repository for the demo's app, driven through the `git` binary.
struct Repo {
    dir: std::path::PathBuf,
}

impl Repo {
    /// `None` when git is not installed.
    fn init(dir: &std::path::Path) -> CliResult<Option<Repo>> {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::failed(format!("cannot create {}: {e}", dir.display()), ""))?;
        let repo = Repo { dir: dir.to_owned() };
        match repo.command(&["init", "-q", "-b", "main"]).output() {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(CliError::failed(format!("cannot run git: {e}"), "")),
            Ok(out) if !out.status.success() => {
                Err(CliError::failed(format!("git init failed: {}", String::from_utf8_lossy(&out.stderr).trim()), ""))
            }
            Ok(_) => Ok(Some(repo)),
        }
    }

    fn command(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new("git");
        cmd.arg("-C").arg(&self.dir).args(["-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null"]).args(args);
        for var in ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR"] {
            cmd.env_remove(var);
        }
        for (var, value) in [
            ("GIT_AUTHOR_NAME", "Demo"),
            ("GIT_AUTHOR_EMAIL", "demo@example.invalid"),
            ("GIT_COMMITTER_NAME", "Demo"),
            ("GIT_COMMITTER_EMAIL", "demo@example.invalid"),
            ("GIT_CONFIG_NOSYSTEM", "1"),
            ("GIT_CONFIG_GLOBAL", "/dev/null"),
        ] {
            cmd.env(var, value);
        }
        cmd.stdin(std::process::Stdio::null());
        cmd
    }

    fn git(&self, args: &[&str]) -> CliResult<String> {
        let out = self
            .command(args)
            .output()
            .map_err(|e| CliError::failed(format!("cannot run git {}: {e}", args.join(" ")), ""))?;
        if !out.status.success() {
            return Err(CliError::failed(
                format!("git {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()),
                "",
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// Writes `file`, commits it, and returns the commit.
    fn commit(&self, file: &str, text: &str, message: &str) -> CliResult<String> {
        let path = self.dir.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| CliError::failed(format!("cannot write {file}: {e}"), ""))?;
        }
        std::fs::write(&path, text).map_err(|e| CliError::failed(format!("cannot write {file}: {e}"), ""))?;
        self.git(&["add", file])?;
        self.git(&["commit", "-q", "-m", message])?;
        self.git(&["rev-parse", "HEAD"])
    }
}

/// An `accounts` release from `tag` of the demo repository, through the release's git checks.
async fn release_git(
    c: &Client,
    repo: &Option<Repo>,
    artifact: &std::path::Path,
    version: &str,
    change_cause: &str,
    tag: Option<&str>,
    migrations: &std::path::Path,
) -> CliResult<Answer<Outcome>> {
    let git = match (repo, tag) {
        (Some(repo), Some(tag)) => {
            crate::hotfix::prepare_release(c, "accounts", Some(tag), None, None, Some(&repo.dir)).await?
        }
        _ => crate::hotfix::ReleaseGit::default(),
    };
    release_app_git(c, "accounts", artifact, version, change_cause, &git, &[], Some(migrations)).await
}

async fn release(
    c: &Client,
    artifact: &std::path::Path,
    version: &str,
    change_cause: &str,
    git_commit: Option<&str>,
) -> CliResult<Answer<Outcome>> {
    release_app(c, "shop", artifact, version, change_cause, git_commit, &[], None).await
}

async fn release_guarded(
    c: &Client,
    artifact: &std::path::Path,
    version: &str,
    change_cause: &str,
    git_commit: Option<&str>,
    flag: &str,
) -> CliResult<Answer<Outcome>> {
    release_app(c, "shop", artifact, version, change_cause, git_commit, &[flag.to_owned()], None).await
}

#[expect(clippy::too_many_arguments, reason = "the release command's own arguments, spelled out")]
async fn release_app(
    c: &Client,
    app: &str,
    artifact: &std::path::Path,
    version: &str,
    change_cause: &str,
    git_commit: Option<&str>,
    guarded_by: &[String],
    migrations: Option<&std::path::Path>,
) -> CliResult<Answer<Outcome>> {
    let git = crate::hotfix::ReleaseGit::commit(git_commit);
    release_app_git(c, app, artifact, version, change_cause, &git, guarded_by, migrations).await
}

#[expect(clippy::too_many_arguments, reason = "the release command's own arguments, spelled out")]
async fn release_app_git(
    c: &Client,
    app: &str,
    artifact: &std::path::Path,
    version: &str,
    change_cause: &str,
    git: &crate::hotfix::ReleaseGit,
    guarded_by: &[String],
    migrations: Option<&std::path::Path>,
) -> CliResult<Answer<Outcome>> {
    let args = commands::ReleaseArgs {
        app,
        artifact,
        version,
        change_cause,
        digest: None,
        git,
        guarded_by,
        migrations,
        queries: None,
    };
    commands::release(c, &args).await
}

async fn wait_known_good(c: &Client, revision: u64) -> CliResult {
    wait_known_good_app(c, "shop", revision).await
}

async fn wait_known_good_app(c: &Client, app: &str, revision: u64) -> CliResult {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v: Answer<RevisionDetail> = c.get(&format!("/v1/apps/{app}/revisions/{revision}")).await?;
        match v.value.revision.status {
            RevisionStatus::KnownGood => return Ok(()),
            RevisionStatus::Failed => {
                return Err(CliError::failed(format!("revision {revision} failed its soak"), "see the instance log"));
            }
            _ if Instant::now() > deadline => return Err(CliError::failed("soak did not finish in 30s", "")),
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}
