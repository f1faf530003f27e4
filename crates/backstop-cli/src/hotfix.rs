//! `backstop hotfix start|check` and the git side of `release`: branch a hotfix from the exact
//! commit production runs, find out whether each hotfix's fix reached a branch, and refuse a
//! release whose commit lacks a fix production already ran. The decisions are
//! `backstop_core::hotfix`'s; this module runs git and the API to gather what they read.

mod git;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use backstop_api::{AppStatus, HistoryEntry, MissingHotfix, Revision, RevisionDetail};
use backstop_core::hotfix::{
    self as decide, Absent, Backport, CommitFinding, Gate, HotfixState, branch_name, short_commit,
};
use chrono::Utc;
use clap::Subcommand;
use serde::Serialize;

use self::git::Git;
use crate::client::{Answer, Client};
use crate::exit::{CliError, CliResult};
use crate::output::{age, out};
use crate::{Global, Output};

#[derive(Debug, Subcommand)]
pub enum HotfixCommand {
    /// Create `hotfix/APP-rN-SHORT` from exactly the commit the live revision (or --from-revision N)
    /// was released from, never from main, and say what to do next.
    Start {
        app: String,
        /// The revision to fix (default: the live one).
        #[arg(long, value_name = "N")]
        from_revision: Option<u64>,
        /// The git repository (default: the one the current directory is in).
        #[arg(long, value_name = "PATH")]
        repo: Option<PathBuf>,
    },
    /// Is every hotfix's fix on main? Lists the backport debt with its age and the cherry-pick that
    /// pays it; exit 1 while any is open.
    Check {
        /// One app (default: every app).
        app: Option<String>,
        /// The branch the fixes must reach.
        #[arg(long, value_name = "REF", default_value = "main")]
        main: String,
        #[arg(long, value_name = "PATH")]
        repo: Option<PathBuf>,
    },
}

pub async fn run(g: &Global, command: HotfixCommand) -> CliResult {
    let c = Client::new(&g.server, g.token.clone())?;
    match command {
        HotfixCommand::Start { app, from_revision, repo } => start(&c, g.output, &app, from_revision, repo).await,
        HotfixCommand::Check { app, main, repo } => check(&c, g.output, app, &main, repo).await,
    }
}

fn repository(repo: Option<&Path>) -> CliResult<Git> {
    Git::discover(repo)?.ok_or_else(|| {
        CliError::bad_input(
            "the current directory is not in a git repository",
            "run it from the app's repository, or pass --repo PATH",
        )
    })
}

#[derive(Serialize)]
struct Started {
    app: String,
    revision: u64,
    version: String,
    commit: String,
    tag: Option<String>,
    branch: String,
    /// False when the branch already existed from that commit.
    created: bool,
    next: Vec<String>,
}

pub(crate) async fn start(
    c: &Client,
    output: Output,
    app: &str,
    from: Option<u64>,
    repo: Option<PathBuf>,
) -> CliResult {
    let git = repository(repo.as_deref())?;
    let n = match from {
        Some(n) => n,
        None => {
            let status: Answer<AppStatus> = c.get(&format!("/v1/apps/{app}/status")).await?;
            status.value.live_revision.ok_or_else(|| {
                CliError::failed(
                    format!("nothing of `{app}` is live, so there is no production commit to branch from"),
                    "pass --from-revision N (`backstop history APP` lists them)",
                )
            })?
        }
    };
    let detail: Answer<RevisionDetail> = c.get(&format!("/v1/apps/{app}/revisions/{n}")).await?;
    let rev = detail.value.revision;
    let recorded = rev.git_commit.clone().ok_or_else(|| {
        CliError::failed(
            format!("revision {n} of `{app}` has no git commit recorded, so its code cannot be found"),
            "branch from its release tag by hand (`git switch -c hotfix/... TAG`), and release with --git-commit from now on",
        )
    })?;
    let commit = git.resolve(&recorded)?.ok_or_else(|| {
        CliError::failed(
            format!(
                "revision {n} of `{app}` was released from commit {recorded}, which the repository at {} does not have",
                git.dir.display()
            ),
            "fetch it (`git fetch --tags origin`), or pass --repo PATH to the repository it was built from",
        )
    })?;
    if let Some(tag) = &rev.git_tag {
        if git.resolve(tag)?.is_some_and(|now| now != commit) {
            eprintln!("warning: tag {tag} has moved since revision {n}; branching from the recorded commit {commit}");
        }
    }
    let branch = branch_name(app, n, &commit);
    if !git.valid_branch(&branch)? {
        return Err(CliError::bad_input(format!("`{branch}` is not a valid branch name"), "rename the app"));
    }
    let created = match git.resolve(&branch)? {
        None => {
            git.create_branch(&branch, &commit)?;
            true
        }
        Some(_) if git.is_ancestor(&commit, &branch)? => false,
        Some(head) => {
            return Err(CliError::failed(
                format!(
                    "branch {branch} already exists at {} and does not start from commit {commit}",
                    short_commit(&head)
                ),
                format!("rename or delete it (`git branch -m {branch} {branch}-old`) and start again"),
            ));
        }
    };
    let next = vec![
        format!("git switch {branch}"),
        "# make the minimal fix, commit it, build the artifact".to_owned(),
        format!("backstop release {app} --artifact PATH --version V --git-commit {branch} --hotfix-of {n}"),
        "git switch main && git cherry-pick -x COMMIT...   # bring the fix back".to_owned(),
        format!("backstop hotfix check {app}"),
    ];
    let started = Started {
        app: app.to_owned(),
        revision: n,
        version: rev.version.clone(),
        commit: commit.clone(),
        tag: rev.git_tag.clone(),
        branch: branch.clone(),
        created,
        next,
    };
    match output {
        Output::Json | Output::Sarif => out!("{}", json(&started)),
        Output::Table => {
            let tag = started.tag.as_ref().map(|t| format!(", tag {t}")).unwrap_or_default();
            let verb = if created { "created" } else { "already exists:" };
            out!(
                "{verb} branch {branch} at {} (revision {n}, {}{tag}), not main",
                short_commit(&commit),
                started.version
            );
            out!("next:");
            for line in &started.next {
                out!("  {line}");
            }
        }
    }
    Ok(())
}

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value).map(|v| crate::output::data(&v)).unwrap_or_default()
}

/// Where a hotfix's fix starts and ends, as git names them.
struct FixRange {
    base: String,
    head: String,
}

/// The commits of a hotfix, resolved in the repository, or why they cannot be.
fn fix_range(git: &Git, hotfix: &Revision, base: Option<&Revision>) -> CliResult<Result<FixRange, String>> {
    let n = hotfix.revision;
    let Some(head) = &hotfix.git_commit else {
        return Ok(Err(format!("hotfix revision {n} has no git commit recorded")));
    };
    let Some(base) = base else {
        return Ok(Err(format!("revision {} (its base) is not in the ledger", hotfix.hotfix_of.unwrap_or_default())));
    };
    let Some(base_commit) = &base.git_commit else {
        return Ok(Err(format!("its base, revision {}, has no git commit recorded", base.revision)));
    };
    let where_ = git.dir.display();
    let Some(head) = git.resolve(head)? else {
        return Ok(Err(format!("commit {head} of revision {n} is not in the repository at {where_}")));
    };
    let Some(base_commit) = git.resolve(base_commit)? else {
        return Ok(Err(format!(
            "commit {base_commit} of revision {} is not in the repository at {where_}",
            base.revision
        )));
    };
    Ok(Ok(FixRange { base: base_commit, head }))
}

/// Whether the fix between `range.base` and `range.head` is in `target`: per commit, merged, a
/// cherry-pick trailer naming it, the same patch id, empty, or its reverse diff applies; or the
/// reverse diff of the whole fix applies (a squashed backport).
fn backport_in(git: &Git, range: &FixRange, target: &str) -> CliResult<Backport> {
    let commits = git.commits(&range.base, &range.head)?;
    if commits.is_empty() {
        return Ok(Backport::NothingToBring);
    }
    let messages = git.messages(target, &range.base)?;
    let target_ids: HashMap<String, String> =
        git.patch_ids(&[target, &format!("^{}", range.base)])?.into_iter().collect();
    let fix_ids: HashMap<String, String> = git
        .patch_ids(&[&format!("{}..{}", range.base, range.head)])?
        .into_iter()
        .map(|(pid, commit)| (commit, pid))
        .collect();
    let mut findings = Vec::with_capacity(commits.len());
    for line in commits {
        let c = &line.commit;
        let mut f = CommitFinding { commit: c.clone(), subject: line.subject.clone(), ..CommitFinding::default() };
        f.merged = git.is_ancestor(c, target)?;
        f.trailer = messages
            .iter()
            .find(|(_, m)| decide::cherry_picked_from(m).iter().any(|t| decide::names_commit(t, c)))
            .map(|(by, _)| by.clone());
        f.patch_id = fix_ids.get(c).and_then(|pid| target_ids.get(pid)).cloned();
        if f.evidence().is_none() {
            let parent = format!("{c}^");
            f.empty = git.same_tree(&parent, c)?;
            f.tree = !f.empty && git.reverse_applies(target, &parent, c)?;
        }
        findings.push(f);
    }
    let whole =
        findings.iter().any(|f| f.evidence().is_none()) && git.reverse_applies(target, &range.base, &range.head)?;
    Ok(decide::backport(&findings, whole))
}

/// The backport of `hotfix` in `target`, or why it cannot be decided.
fn backport_of(git: &Git, hotfix: &Revision, all: &[HistoryEntry], target: &str) -> CliResult<Backport> {
    let base = all.iter().map(|e| &e.revision).find(|r| Some(r.revision) == hotfix.hotfix_of);
    match fix_range(git, hotfix, base)? {
        Ok(range) => backport_in(git, &range, target),
        Err(reason) => Ok(Backport::Unverifiable { reason }),
    }
}

#[derive(Serialize)]
struct CheckReport {
    main: String,
    main_commit: String,
    hotfixes: Vec<HotfixState>,
    debt: usize,
}

pub(crate) async fn check(
    c: &Client,
    output: Output,
    app: Option<String>,
    main: &str,
    repo: Option<PathBuf>,
) -> CliResult {
    let git = repository(repo.as_deref())?;
    let main_commit = git.resolve(main)?.ok_or_else(|| {
        CliError::bad_input(
            format!("`{main}` is not a branch or commit of the repository at {}", git.dir.display()),
            "pass --main REF, the branch the fixes must reach",
        )
    })?;
    let apps = match app {
        Some(app) => vec![app],
        None => {
            let all: Answer<Vec<AppStatus>> = c.get("/v1/apps").await?;
            all.value.into_iter().map(|a| a.app).collect()
        }
    };
    let now = Utc::now();
    let mut hotfixes = Vec::new();
    for app in apps {
        let history: Answer<Vec<HistoryEntry>> = c.get(&format!("/v1/apps/{app}/revisions")).await?;
        for entry in history.value.iter().filter(|e| e.revision.hotfix_of.is_some()) {
            let backport = backport_of(&git, &entry.revision, &history.value, &main_commit)?;
            hotfixes.push(decide::state(&entry.revision, backport, now));
        }
    }
    let debt = hotfixes.iter().filter(|h| h.debt).count();
    let report = CheckReport { main: main.to_owned(), main_commit, hotfixes, debt };
    match output {
        Output::Json | Output::Sarif => out!("{}", json(&report)),
        Output::Table => out!("{}", check_text(&report, now)),
    }
    if debt > 0 {
        return Err(CliError::failed(
            format!("{debt} hotfix{} not on {main}: backport debt", if debt == 1 { " is" } else { "es are" }),
            format!(
                "run each `git cherry-pick -x` above on {main}; a fix brought back another way counts once a commit on {main} says `(cherry picked from commit …)`"
            ),
        ));
    }
    Ok(())
}

fn check_text(r: &CheckReport, now: chrono::DateTime<Utc>) -> String {
    if r.hotfixes.is_empty() {
        return "no hotfix has been released".to_owned();
    }
    let mut out = String::new();
    for h in &r.hotfixes {
        let head = format!("{} revision {} ({}, hotfix of {})", h.app, h.revision, h.version, h.hotfix_of);
        let state = match &h.backport {
            Backport::Present { found } => {
                let how: Vec<String> = found.iter().map(|f| evidence_text(&f.commit, &f.evidence)).collect();
                format!("on {}: {}", r.main, how.join("; "))
            }
            Backport::NothingToBring => "nothing to bring back (no commit beyond its base)".to_owned(),
            Backport::Missing { missing } => format!("missing on {}: {}", r.main, absent_text(missing)),
            Backport::Unverifiable { reason } => format!("cannot tell: {reason}"),
        };
        let mark = if h.debt {
            format!("DEBT for {}", age(h.created_at, now))
        } else if !h.required && h.backport.is_missing() {
            format!("not required ({})", h.status.as_str())
        } else {
            "ok".to_owned()
        };
        out += &format!("{head}: {mark}\n  {state}\n");
        if let Some(cmd) = &h.command {
            out += &format!("  pay it: {cmd}\n");
        }
    }
    out.trim_end().to_owned()
}

fn evidence_text(commit: &str, e: &decide::Evidence) -> String {
    let c = short_commit(commit);
    match e {
        decide::Evidence::Merged => format!("{c} merged"),
        decide::Evidence::Trailer { commit } => format!("{c} cherry-picked as {}", short_commit(commit)),
        decide::Evidence::PatchId { commit } => format!("{c} same patch as {}", short_commit(commit)),
        decide::Evidence::Empty => format!("{c} changes nothing"),
        decide::Evidence::Tree => format!("{c} change present in the tree"),
    }
}

fn absent_text(missing: &[Absent]) -> String {
    missing.iter().map(|a| format!("{} \"{}\"", short_commit(&a.commit), a.subject)).collect::<Vec<_>>().join(", ")
}

/// What `release` sends about git and hotfixes, decided before anything is uploaded.
#[derive(Debug, Clone, Default)]
pub struct ReleaseGit {
    pub git_commit: Option<String>,
    pub git_tag: Option<String>,
    pub hotfix_of: Option<u64>,
    pub carries: Vec<u64>,
    pub missing: Vec<MissingHotfix>,
    pub allow_missing: Option<String>,
}

impl ReleaseGit {
    /// A release that names a commit and asks nothing of git.
    pub fn commit(git_commit: Option<&str>) -> ReleaseGit {
        ReleaseGit { git_commit: git_commit.map(str::to_owned), ..ReleaseGit::default() }
    }
}

/// The git part of `release`: resolve `--git-commit` (a tag is recorded with the commit it names),
/// check that a `--hotfix-of N` release is built on revision N's commit, and refuse a commit that
/// lacks the fix of a hotfix production ran, unless `--allow-missing-hotfix REASON`.
pub async fn prepare_release(
    c: &Client,
    app: &str,
    git_commit: Option<&str>,
    hotfix_of: Option<u64>,
    allow_missing: Option<&str>,
    repo: Option<&Path>,
) -> CliResult<ReleaseGit> {
    if let Some(reason) = allow_missing {
        if reason.trim().is_empty() {
            return Err(CliError::bad_input(
                "--allow-missing-hotfix needs a reason",
                "say why the release may go out without the fix, e.g. --allow-missing-hotfix \"fix reverted on purpose\"",
            ));
        }
    }
    let Some(name) = git_commit else {
        if let Some(n) = hotfix_of {
            return Err(CliError::bad_input(
                format!("--hotfix-of {n} needs --git-commit"),
                "pass the commit (or tag) the hotfix was built from: the fix is what lies between it and revision N's",
            ));
        }
        // Without a commit nothing can show the release carries a hotfix's fix.
        if allow_missing.is_none() {
            let history: Answer<Vec<HistoryEntry>> = c.get(&format!("/v1/apps/{app}/revisions")).await?;
            let running: Vec<String> = history
                .value
                .iter()
                .filter(|e| decide::in_production(&e.revision))
                .map(|e| e.revision.revision.to_string())
                .collect();
            if !running.is_empty() {
                return Err(CliError::bad_input(
                    format!(
                        "cannot check that this release carries the fix of hotfix revision {}: it names no --git-commit",
                        running.join(", ")
                    ),
                    "pass --git-commit COMMIT (what the artifact was built from), or --allow-missing-hotfix REASON",
                ));
            }
        }
        return Ok(ReleaseGit { allow_missing: allow_missing.map(|r| r.trim().to_owned()), ..ReleaseGit::default() });
    };
    if let Some(problem) = decide::git_name_problem(name) {
        return Err(CliError::bad_input(format!("--git-commit {problem}"), "pass a commit id or a tag"));
    }
    let history: Answer<Vec<HistoryEntry>> = c.get(&format!("/v1/apps/{app}/revisions")).await?;
    let all = &history.value;
    let required: Vec<&Revision> = all.iter().map(|e| &e.revision).filter(|r| decide::in_production(r)).collect();
    let Some(git) = Git::discover(repo)? else {
        return unchecked(name, hotfix_of, allow_missing, &required);
    };
    let commit = git.resolve(name)?.ok_or_else(|| {
        CliError::bad_input(
            format!("`{name}` is not a commit of the repository at {}", git.dir.display()),
            "pass the commit or tag the artifact was built from, or --repo PATH to its repository",
        )
    })?;
    let git_tag = (name != commit && git.is_tag(name)?).then(|| name.to_owned());
    if let Some(n) = hotfix_of {
        check_hotfix_base(&git, app, all, n, &commit)?;
    }
    let mut carries = Vec::new();
    let mut missing = Vec::new();
    for hotfix in required {
        match backport_of(&git, hotfix, all, &commit)? {
            Backport::Missing { missing: absent } => missing.push(MissingHotfix {
                revision: hotfix.revision,
                commits: absent.into_iter().map(|a| a.commit).collect(),
            }),
            Backport::Unverifiable { .. } => missing.push(MissingHotfix {
                revision: hotfix.revision,
                commits: hotfix.git_commit.iter().cloned().collect(),
            }),
            Backport::Present { .. } | Backport::NothingToBring => carries.push(hotfix.revision),
        }
    }
    let revisions: Vec<u64> = missing.iter().map(|m| m.revision).collect();
    if let Gate::Refused { .. } = decide::gate(&revisions, allow_missing) {
        return Err(missing_error(app, name, &missing));
    }
    if !missing.is_empty() {
        eprintln!("warning: {}; allowed: {}", missing_text(name, &missing), allow_missing.unwrap_or_default().trim());
    }
    Ok(ReleaseGit {
        git_commit: Some(commit),
        git_tag,
        hotfix_of,
        carries,
        missing,
        allow_missing: allow_missing.map(|r| r.trim().to_owned()),
    })
}

/// No repository to check in: the commit goes as named, and a hotfix production ran cannot be
/// shown to be in it, so that needs the override.
fn unchecked(
    name: &str,
    hotfix_of: Option<u64>,
    allow_missing: Option<&str>,
    required: &[&Revision],
) -> CliResult<ReleaseGit> {
    let missing: Vec<MissingHotfix> = required
        .iter()
        .map(|r| MissingHotfix { revision: r.revision, commits: r.git_commit.iter().cloned().collect() })
        .collect();
    if !missing.is_empty() && allow_missing.is_none() {
        let list: Vec<String> = missing.iter().map(|m| m.revision.to_string()).collect();
        return Err(CliError::bad_input(
            format!(
                "cannot check that `{name}` carries the fix of hotfix revision {}: the current directory is not in a git repository",
                list.join(", ")
            ),
            "run it from the app's repository or pass --repo PATH (or --allow-missing-hotfix REASON)",
        ));
    }
    Ok(ReleaseGit {
        git_commit: Some(name.to_owned()),
        git_tag: None,
        hotfix_of,
        carries: Vec::new(),
        missing,
        allow_missing: allow_missing.map(|r| r.trim().to_owned()),
    })
}

/// A hotfix of revision `n` is built on revision `n`'s commit, not on main.
fn check_hotfix_base(git: &Git, app: &str, all: &[HistoryEntry], n: u64, commit: &str) -> CliResult {
    let Some(base) = all.iter().map(|e| &e.revision).find(|r| r.revision == n) else {
        return Err(CliError::bad_input(
            format!("revision {n} of `{app}` does not exist"),
            format!("`backstop history {app}` lists the revisions"),
        ));
    };
    let Some(recorded) = &base.git_commit else {
        return Err(CliError::failed(
            format!("revision {n} of `{app}` has no git commit recorded, so a hotfix of it cannot be told apart"),
            "release the fix as an ordinary release",
        ));
    };
    let Some(base_commit) = git.resolve(recorded)? else {
        return Err(CliError::failed(
            format!("commit {recorded} of revision {n} is not in the repository at {}", git.dir.display()),
            "fetch it (`git fetch --tags origin`), or pass --repo PATH",
        ));
    };
    if !git.is_ancestor(&base_commit, commit)? {
        return Err(CliError::failed(
            format!(
                "commit {} is not built on revision {n}'s commit {}: a hotfix starts from what production ran",
                short_commit(commit),
                short_commit(&base_commit)
            ),
            format!("`backstop hotfix start {app} --from-revision {n}` makes the branch to fix on"),
        ));
    }
    Ok(())
}

fn missing_text(name: &str, missing: &[MissingHotfix]) -> String {
    let parts: Vec<String> = missing
        .iter()
        .map(|m| {
            let commits: Vec<&str> = m.commits.iter().map(|c| short_commit(c)).collect();
            format!("hotfix revision {} (commits {})", m.revision, commits.join(", "))
        })
        .collect();
    format!("`{name}` lacks the fix of {}", parts.join("; "))
}

fn missing_error(app: &str, name: &str, missing: &[MissingHotfix]) -> CliError {
    let commits: Vec<&str> = missing.iter().flat_map(|m| m.commits.iter().map(String::as_str)).collect();
    CliError::failed(
        format!("release of `{app}` refused: {}, which production already runs", missing_text(name, missing)),
        format!(
            "bring the fix back (`git cherry-pick -x {}`) and build again, or pass --allow-missing-hotfix REASON (recorded in the audit log)",
            commits.join(" ")
        ),
    )
}
