//! A running (or exited) instance: its identity, liveness, exit status, and how to stop it.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;
use tokio::sync::watch;
use tokio::time::{Instant, sleep, timeout, timeout_at};

use crate::LocalError;
use crate::procfs;

/// How often an adopted process (not our child, so no exit notification) is checked for exit.
const EXIT_POLL: Duration = Duration::from_millis(100);
/// How often a stopping process group is checked for remaining members.
const GROUP_POLL: Duration = Duration::from_millis(20);
/// How long [`Instance::stop`] waits after SIGKILL before giving up (a process stuck in uninterruptible
/// sleep cannot die until its I/O completes).
const KILL_WAIT: Duration = Duration::from_secs(5);

/// Identity of a running instance that can be persisted and used to re-adopt it later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProcessId {
    pub pid: u32,
    /// Field 22 of `/proc/<pid>/stat`: clock ticks since boot. Tells the process apart from a later one
    /// that reuses its pid.
    pub start_time: u64,
}

impl ProcessId {
    /// Whether the process is running now: it exists, is not a zombie, and started at `start_time`.
    pub fn is_running(self) -> bool {
        procfs::is_running(self.pid, self.start_time)
    }
}

/// How an instance ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this status code.
    Code(i32),
    /// It was killed by this signal number.
    Signal(i32),
    /// It is gone, and how it ended is not known: it was adopted (not our child), or the task that reaped
    /// it ended with its runtime.
    Unknown,
}

impl From<std::process::ExitStatus> for Exit {
    fn from(status: std::process::ExitStatus) -> Self {
        match (status.code(), status.signal()) {
            (Some(code), _) => Exit::Code(code),
            (None, Some(signal)) => Exit::Signal(signal),
            (None, None) => Exit::Unknown,
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Exit::Code(code) => write!(f, "exited with status {code}"),
            Exit::Signal(number) => match Signal::try_from(number) {
                Ok(signal) => write!(f, "killed by signal {number} ({signal})"),
                Err(_) => write!(f, "killed by signal {number}"),
            },
            Exit::Unknown => f.write_str("exited (status unknown)"),
        }
    }
}

/// A running (or exited) instance, spawned by [`crate::launch`] or re-adopted by [`adopt`].
///
/// Cloning shares the instance; dropping any clone leaves the process running.
#[derive(Debug, Clone)]
pub struct Instance {
    id: ProcessId,
    port: u16,
    /// `Some` for a child we spawned: its reaper task publishes the exit here. `None` for an adopted
    /// process, which is not our child, so only `/proc` tells when it is gone.
    reaped: Option<watch::Receiver<Option<Exit>>>,
}

/// Re-adopt a process recorded earlier as `id`, serving on `port`.
///
/// Fails with [`LocalError::Gone`] if no such process runs: it exited, is a zombie, or its pid now belongs to
/// a process with another start time.
pub fn adopt(id: ProcessId, port: u16) -> Result<Instance, LocalError> {
    if !id.is_running() {
        return Err(LocalError::Gone { pid: id.pid });
    }
    tracing::info!(pid = id.pid, port, "adopted instance");
    Ok(Instance { id, port, reaped: None })
}

impl Instance {
    pub(crate) fn spawned(id: ProcessId, port: u16, reaped: watch::Receiver<Option<Exit>>) -> Self {
        Instance { id, port, reaped: Some(reaped) }
    }

    pub fn id(&self) -> ProcessId {
        self.id
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:port`, where the instance serves.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// Whether this instance was re-adopted by pid rather than spawned by this process.
    pub fn is_adopted(&self) -> bool {
        self.reaped.is_none()
    }

    /// How the instance ended, or `None` while it runs.
    ///
    /// A spawned child counts as running until it is reaped, and then its real status is known. An adopted
    /// process ends when `/proc` shows it gone, a zombie, or another process under its pid.
    pub fn exit(&self) -> Option<Exit> {
        if let Some(reaped) = &self.reaped {
            let exit = *reaped.borrow();
            // While the reaper task lives, it alone knows; once it is gone without a status (its runtime
            // shut down), fall back to `/proc`.
            if exit.is_some() || reaped.has_changed().is_ok() {
                return exit;
            }
        }
        (!self.id.is_running()).then_some(Exit::Unknown)
    }

    pub fn is_alive(&self) -> bool {
        self.exit().is_none()
    }

    /// Human text such as "exited with status 3" or "killed by signal 9 (SIGKILL)", once the instance has
    /// ended and how is known (never for an adopted process).
    pub fn exit_status(&self) -> Option<String> {
        self.exit().filter(|exit| *exit != Exit::Unknown).map(|exit| exit.to_string())
    }

    /// Resolves when the process has exited: for a spawned child once it is reaped, for an adopted process
    /// by polling `/proc`.
    pub async fn exited(&self) {
        if let Some(reaped) = &self.reaped {
            let mut reaped = reaped.clone();
            if reaped.wait_for(Option::is_some).await.is_ok() {
                return;
            }
        }
        while self.id.is_running() {
            sleep(EXIT_POLL).await;
        }
    }

    /// Stop the instance: SIGTERM to its process group, wait up to `grace` for the group to be gone, then
    /// SIGKILL the group. Returns once the process and every live member of its group are gone.
    ///
    /// The group is signalled only while it is still ours: its leader (whose pid is the group id) is this
    /// instance, or has exited without its pid being taken by another process. A process stuck after SIGKILL
    /// (uninterruptible sleep) is waited for a few seconds, then left with a warning; `is_alive` tells.
    pub async fn stop(&self, grace: Duration) {
        let Ok(raw) = i32::try_from(self.id.pid) else {
            return;
        };
        let group = Pid::from_raw(raw);
        if !self.owns_group() {
            return;
        }
        tracing::info!(pid = self.id.pid, ?grace, "stopping instance");
        self.signal_group(group, Signal::SIGTERM);
        if timeout_at(deadline_after(grace), self.gone(raw)).await.is_ok() {
            return;
        }
        tracing::warn!(pid = self.id.pid, ?grace, "instance outlived its grace period; killing its process group");
        self.signal_group(group, Signal::SIGKILL);
        if timeout(KILL_WAIT, self.gone(raw)).await.is_err() {
            tracing::warn!(pid = self.id.pid, "instance still present after SIGKILL");
        }
    }

    /// Whether the process group named after our pid is still ours to signal. It is while its leader is
    /// this instance (alive or zombie), or absent: a pid cannot be reused while a group of that id has
    /// members, so a group without a leader is our leftovers.
    fn owns_group(&self) -> bool {
        procfs::stat(self.id.pid).is_none_or(|stat| stat.start_time == self.id.start_time)
    }

    fn signal_group(&self, group: Pid, signal: Signal) {
        match signal::killpg(group, signal) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(error) => tracing::warn!(pid = self.id.pid, %signal, %error, "could not signal process group"),
        }
    }

    /// Resolves when the leader has exited and no live process is left in its group.
    async fn gone(&self, pgid: i32) {
        self.exited().await;
        while self.owns_group() && group_is_live(pgid) {
            sleep(GROUP_POLL).await;
        }
    }
}

fn group_is_live(pgid: i32) -> bool {
    // `kill(-pgid, 0)` answers "no such group" cheaply; otherwise the group may hold only zombies, which
    // count as gone, so look closer.
    signal::killpg(Pid::from_raw(pgid), None) != Err(Errno::ESRCH) && procfs::group_has_live_members(pgid)
}

/// `now + d`, saturating: an absurd duration waits "forever" (a year) instead of overflowing.
pub(crate) fn deadline_after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d).unwrap_or_else(|| now + Duration::from_secs(365 * 24 * 60 * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_reads_like_a_sentence() {
        assert_eq!(Exit::Code(3).to_string(), "exited with status 3");
        assert_eq!(Exit::Signal(9).to_string(), "killed by signal 9 (SIGKILL)");
        assert_eq!(Exit::Signal(99).to_string(), "killed by signal 99");
        assert_eq!(Exit::Unknown.to_string(), "exited (status unknown)");
    }

    #[test]
    fn exit_from_status() {
        assert_eq!(Exit::from(std::process::ExitStatus::from_raw(3 << 8)), Exit::Code(3));
        assert_eq!(Exit::from(std::process::ExitStatus::from_raw(9)), Exit::Signal(9));
    }

    #[test]
    fn futures_are_send() {
        fn assert_send<T: Send>(_: T) {}
        let instance = Instance { id: ProcessId { pid: 1, start_time: 1 }, port: 1, reaped: None };
        assert_send(instance.exited());
        assert_send(instance.stop(Duration::ZERO));
        assert_send(crate::wait_healthy(&instance, "/", Duration::ZERO));
    }
}
