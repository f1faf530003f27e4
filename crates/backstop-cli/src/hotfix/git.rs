//! The user's git repository, through the `git` binary: the same tool, configuration and object
//! store the user has, and its own commands for what the hotfix workflow asks (`patch-id
//! --stable`, `apply --reverse --check`), rather than a reimplementation of them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::exit::{CliError, CliResult};

/// Variables that would point git somewhere else than the repository named by `-C`.
const REDIRECTS: [&str; 4] = ["GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR"];

/// A repository's top directory.
pub struct Git {
    pub dir: PathBuf,
}

/// A commit of a range, oldest first.
pub struct CommitLine {
    pub commit: String,
    pub subject: String,
}

impl Git {
    /// The repository at `repo`, or the one the current directory is in; `None` when no `repo`
    /// was named and the current directory is in none (or git is not installed).
    pub fn discover(repo: Option<&Path>) -> CliResult<Option<Git>> {
        let start = repo.map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let probe = Git { dir: start.clone() };
        let args = ["rev-parse", "--show-toplevel"];
        let out = match probe.command(&args).output() {
            Err(e) if repo.is_none() && e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            other => other.map_err(|e| spawn_error(&args, &e))?,
        };
        let top = out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim_end().to_owned());
        match top {
            Some(top) => Ok(Some(Git { dir: PathBuf::from(top) })),
            None if repo.is_some() => Err(CliError::bad_input(
                format!("{} is not a git repository", start.display()),
                "pass --repo PATH to the repository the artifacts are built from",
            )),
            None => Ok(None),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("git");
        cmd.arg("-C").arg(&self.dir).args(args).stdin(Stdio::null());
        for var in REDIRECTS {
            cmd.env_remove(var);
        }
        cmd.env("GIT_TERMINAL_PROMPT", "0").env("LC_ALL", "C");
        cmd
    }

    fn output(&self, mut cmd: Command, args: &[&str]) -> CliResult<Output> {
        cmd.output().map_err(|e| spawn_error(args, &e))
    }

    /// Run git; its stdout, or an error naming the command and git's own message.
    pub fn run(&self, args: &[&str]) -> CliResult<String> {
        let out = self.output(self.command(args), args)?;
        if !out.status.success() {
            return Err(failed(args, &out));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Run a git probe: its stdout when it succeeded, `None` when it said no.
    pub fn try_run(&self, args: &[&str]) -> CliResult<Option<String>> {
        let out = self.output(self.command(args), args)?;
        Ok(out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned()))
    }

    /// The full id of the commit `name` (a commit id, tag or branch) names, if the repository has it.
    pub fn resolve(&self, name: &str) -> CliResult<Option<String>> {
        let spec = format!("{name}^{{commit}}");
        let found = self.try_run(&["rev-parse", "--verify", "--quiet", "--end-of-options", &spec])?;
        Ok(found.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()))
    }

    /// `name` is a tag of this repository.
    pub fn is_tag(&self, name: &str) -> CliResult<bool> {
        let tag = format!("refs/tags/{name}");
        Ok(self.try_run(&["rev-parse", "--verify", "--quiet", "--end-of-options", &tag])?.is_some())
    }

    /// `ancestor` is in the history of `of` (or is it).
    pub fn is_ancestor(&self, ancestor: &str, of: &str) -> CliResult<bool> {
        let args = ["merge-base", "--is-ancestor", ancestor, of];
        let out = self.output(self.command(&args), &args)?;
        match out.status.code() {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            _ => Err(failed(&args, &out)),
        }
    }

    /// The commits of `head` not in `base`, merges left out, oldest first.
    pub fn commits(&self, base: &str, head: &str) -> CliResult<Vec<CommitLine>> {
        let range = format!("{base}..{head}");
        let text = self.run(&["log", "--no-merges", "--reverse", "--format=%H%x09%s", &range])?;
        Ok(text
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(commit, subject)| CommitLine { commit: commit.to_owned(), subject: subject.to_owned() })
            .collect())
    }

    /// The messages of the commits of `target` not in `base`: (commit, message).
    pub fn messages(&self, target: &str, base: &str) -> CliResult<Vec<(String, String)>> {
        let not_base = format!("^{base}");
        let text = self.run(&["log", "--no-merges", "--format=%H%x00%B%x1e", target, &not_base])?;
        Ok(text
            .split('\x1e')
            .filter_map(|record| record.trim_start_matches('\n').split_once('\0'))
            .map(|(c, m)| (c.to_owned(), m.to_owned()))
            .collect())
    }

    /// `git patch-id --stable` of every commit in `range` (`log` arguments): (patch id, commit).
    pub fn patch_ids(&self, range: &[&str]) -> CliResult<Vec<(String, String)>> {
        let mut log_args = vec!["log", "-p", "--no-merges", "--no-color", "--no-ext-diff", "--format=commit %H"];
        log_args.extend_from_slice(range);
        let mut log = self
            .command(&log_args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| spawn_error(&log_args, &e))?;
        let Some(stdout) = log.stdout.take() else {
            return Err(CliError::failed("git log gave no output pipe", ""));
        };
        let pid_args = ["patch-id", "--stable"];
        let mut pid = self.command(&pid_args);
        pid.stdin(Stdio::from(stdout));
        let out = self.output(pid, &pid_args)?;
        let logged = log.wait_with_output().map_err(|e| spawn_error(&log_args, &e))?;
        if !logged.status.success() {
            return Err(failed(&log_args, &logged));
        }
        if !out.status.success() {
            return Err(failed(&pid_args, &out));
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(p, c)| (p.to_owned(), c.to_owned()))
            .collect())
    }

    /// `from` and `to` have the same tree: the change between them is empty.
    pub fn same_tree(&self, from: &str, to: &str) -> CliResult<bool> {
        let args = ["diff", "--quiet", "--no-ext-diff", from, to];
        let out = self.output(self.command(&args), &args)?;
        match out.status.code() {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            _ => Err(failed(&args, &out)),
        }
    }

    /// The change from `from` to `to` is already in `target`'s tree: its reverse applies there
    /// (`git apply --cached --reverse --check` on a scratch index holding `target`'s tree, so no
    /// working tree or index of the user's is touched). Context may shrink to one line each side,
    /// so a backport whose neighbouring lines moved on still counts.
    pub fn reverse_applies(&self, target: &str, from: &str, to: &str) -> CliResult<bool> {
        let diff_args = ["diff", "--binary", "--no-color", "--no-ext-diff", "--full-index", from, to];
        let diff = self.output(self.command(&diff_args), &diff_args)?;
        if !diff.status.success() {
            return Err(failed(&diff_args, &diff));
        }
        if diff.stdout.is_empty() {
            return Ok(true);
        }
        let scratch = tempfile::tempdir()
            .map_err(|e| CliError::failed(format!("cannot create a scratch directory: {e}"), "check TMPDIR"))?;
        let index = scratch.path().join("index");
        let read_args = ["read-tree", target];
        let mut read = self.command(&read_args);
        read.env("GIT_INDEX_FILE", &index);
        let out = self.output(read, &read_args)?;
        if !out.status.success() {
            return Err(failed(&read_args, &out));
        }
        let apply_args = ["apply", "--cached", "--reverse", "--check", "-C1", "-"];
        let mut apply = self.command(&apply_args);
        apply.env("GIT_INDEX_FILE", &index).stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null());
        let mut child = apply.spawn().map_err(|e| spawn_error(&apply_args, &e))?;
        if let Some(mut stdin) = child.stdin.take() {
            // A patch git refuses early closes the pipe: that is a "no", not an error.
            let _ = stdin.write_all(&diff.stdout);
        }
        let status = child.wait().map_err(|e| spawn_error(&apply_args, &e))?;
        Ok(status.success())
    }

    /// A branch name git accepts.
    pub fn valid_branch(&self, name: &str) -> CliResult<bool> {
        Ok(self.try_run(&["check-ref-format", "--branch", name])?.is_some())
    }

    /// Create branch `name` at `commit` without switching to it.
    pub fn create_branch(&self, name: &str, commit: &str) -> CliResult<()> {
        self.run(&["branch", "--no-track", "--end-of-options", name, commit]).map(drop)
    }
}

fn spawn_error(args: &[&str], e: &std::io::Error) -> CliError {
    if e.kind() == std::io::ErrorKind::NotFound {
        CliError::bad_input("git is not installed (or not on PATH)", "install git: the hotfix workflow runs it")
    } else {
        CliError::failed(format!("cannot run git {}: {e}", args.first().unwrap_or(&"")), "")
    }
}

fn failed(args: &[&str], out: &Output) -> CliError {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("no message");
    CliError::failed(
        format!("git {} failed: {first}", args.iter().take(2).copied().collect::<Vec<_>>().join(" ")),
        "check the repository (`git status`, `git fsck`) and try again",
    )
}
