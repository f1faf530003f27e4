//! Starting an artifact as a supervised child process in its own process group.

use std::io;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::fs;
use tokio::process::Command;
use tokio::sync::watch;

use crate::instance::{Exit, Instance, ProcessId};
use crate::{LocalError, procfs};

/// What to run and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchSpec {
    /// Absolute path of the executable to run.
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Extra environment on top of this process's own. `PORT` is always set to [`LaunchSpec::port`].
    pub env: Vec<(String, String)>,
    /// Working directory, created if missing.
    pub cwd: PathBuf,
    /// Standard output and error are appended here; the file and its parents are created if missing.
    pub log_path: PathBuf,
    pub port: u16,
}

/// Start `spec.program` as a child in a new process group, with `PORT` set, standard input from
/// `/dev/null` and its output appended to the log file.
///
/// The child is reaped by a task on the current runtime, which records its exit status. Dropping the
/// returned [`Instance`] leaves the process running.
pub async fn launch(spec: &LaunchSpec) -> Result<Instance, LocalError> {
    check_program(&spec.program).await?;
    fs::create_dir_all(&spec.cwd).await.map_err(|source| LocalError::CreateDir { path: spec.cwd.clone(), source })?;
    let stdout =
        open_log(&spec.log_path).await.map_err(|source| LocalError::OpenLog { path: spec.log_path.clone(), source })?;
    let stderr = stdout.try_clone().map_err(|source| LocalError::OpenLog { path: spec.log_path.clone(), source })?;

    let mut child = Command::new(&spec.program)
        .args(&spec.args)
        // A service manager's socket activation is the control plane's, not the instance's.
        .env_remove("LISTEN_FDS")
        .env_remove("LISTEN_PID")
        .env_remove("LISTEN_FDNAMES")
        .envs(spec.env.iter().map(|(key, value)| (key, value)))
        .env("PORT", spec.port.to_string())
        .current_dir(&spec.cwd)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        // setpgid(0, 0): a group of its own, out of reach of signals sent to ours.
        .process_group(0)
        .kill_on_drop(false)
        .spawn()
        .map_err(|source| LocalError::Spawn { program: spec.program.clone(), source })?;

    // The child is not reaped before `wait` is polled, so its pid and `/proc` entry are still there.
    let pid = child.id();
    let start_time = pid.and_then(procfs::process_start_time);
    if start_time.is_none() {
        // Never leave a process running that nobody could identify later.
        let _ = child.start_kill();
    }
    let (reaped_tx, reaped) = watch::channel(None);
    tokio::spawn(async move {
        let exit = match child.wait().await {
            Ok(status) => Exit::from(status),
            Err(error) => {
                tracing::warn!(?pid, %error, "could not wait for instance");
                Exit::Unknown
            }
        };
        tracing::info!(?pid, %exit, "instance ended");
        reaped_tx.send_replace(Some(exit));
    });
    let (Some(pid), Some(start_time)) = (pid, start_time) else {
        return Err(LocalError::Unidentified { pid: pid.unwrap_or_default() });
    };
    tracing::info!(pid, port = spec.port, program = %spec.program.display(), "launched instance");
    Ok(Instance::spawned(ProcessId { pid, start_time }, spec.port, reaped))
}

/// A port on 127.0.0.1 that was free a moment ago (bound, read, released).
pub fn free_port() -> io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

async fn check_program(path: &Path) -> Result<(), LocalError> {
    if !path.is_absolute() {
        return Err(LocalError::RelativeProgram { path: path.to_owned() });
    }
    let metadata = match fs::metadata(path).await {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return Err(LocalError::ProgramMissing { path: path.to_owned() });
        }
        Err(source) => return Err(LocalError::InspectProgram { path: path.to_owned(), source }),
    };
    if !metadata.is_file() || metadata.permissions().mode() & 0o111 == 0 {
        return Err(LocalError::NotExecutable { path: path.to_owned() });
    }
    Ok(())
}

async fn open_log(path: &Path) -> io::Result<std::fs::File> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).await?;
    }
    let file = fs::OpenOptions::new().create(true).append(true).open(path).await?;
    Ok(file.into_std().await)
}
