//! A process's state, process group and kernel start time, from `/proc/<pid>/stat` as the
//! `procfs` crate reads it (the command name in parentheses may hold spaces and parentheses of
//! its own; the crate counts the fields from the last one).

/// The fields of `/proc/<pid>/stat` this crate uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stat {
    /// Field 3: `R`, `S`, `D`, `Z`, …
    pub(crate) state: char,
    /// Field 5: the process group id.
    pub(crate) pgrp: i32,
    /// Field 22: when the process started, in clock ticks since boot. With the pid it identifies a process
    /// for good: a reused pid comes with a later start time.
    pub(crate) start_time: u64,
}

impl Stat {
    /// A zombie (or dead) process has exited and only waits to be reaped.
    pub(crate) fn is_dead(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }
}

pub(crate) fn stat(pid: u32) -> Option<Stat> {
    let pid = i32::try_from(pid).ok()?;
    procfs::process::Process::new(pid).ok()?.stat().ok().map(|s| from_procfs(&s))
}

fn from_procfs(s: &procfs::process::Stat) -> Stat {
    Stat { state: s.state, pgrp: s.pgrp, start_time: s.starttime }
}

/// The kernel start time of process `pid` (field 22 of `/proc/<pid>/stat`, clock ticks since boot), or
/// `None` if there is no such process.
pub fn process_start_time(pid: u32) -> Option<u64> {
    stat(pid).map(|stat| stat.start_time)
}

/// Whether `pid` is a live (not zombie) process that started at `start_time`.
pub(crate) fn is_running(pid: u32, start_time: u64) -> bool {
    stat(pid).is_some_and(|stat| stat.start_time == start_time && !stat.is_dead())
}

/// Whether any live (not zombie) process is in process group `pgid`. Zombies are left out because their
/// reaping is up to their parent (often init), not to us.
pub(crate) fn group_has_live_members(pgid: i32) -> bool {
    let Ok(all) = procfs::process::all_processes() else {
        return false;
    };
    all.filter_map(Result::ok)
        .filter_map(|p| p.stat().ok())
        .map(|s| from_procfs(&s))
        .any(|stat| stat.pgrp == pgid && !stat.is_dead())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A command name with spaces and parentheses of its own, read from a real process.
    #[test]
    fn reads_a_process_with_an_awkward_command_name() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("my (odd) app");
        std::os::unix::fs::symlink("/bin/sleep", &exe).unwrap();
        let mut child = std::process::Command::new(&exe).arg("30").spawn().unwrap();
        let stat = stat(child.id()).expect("the child's stat");
        assert!(matches!(stat.state, 'R' | 'S'), "{stat:?}");
        assert!(is_running(child.id(), stat.start_time));
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!is_running(child.id(), stat.start_time), "a reaped child is gone");
    }

    #[test]
    fn zombies_are_dead() {
        let stat = |state| Stat { state, pgrp: 1, start_time: 1 };
        assert!(stat('Z').is_dead());
        assert!(stat('X').is_dead());
        assert!(!stat('S').is_dead());
        assert!(!stat('D').is_dead());
    }

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        let stat = stat(me).expect("own stat");
        assert!(is_running(me, stat.start_time));
        assert!(!is_running(me, stat.start_time + 1));
        assert!(group_has_live_members(stat.pgrp));
    }
}
