//! Reading `/proc/<pid>/stat`: a process's state, process group and kernel start time.

use std::fs;

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
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
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
    let Ok(entries) = fs::read_dir("/proc") else {
        return false;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(stat)
        .any(|stat| stat.pgrp == pgid && !stat.is_dead())
}

/// The command name (field 2) is in parentheses and may itself contain spaces and parentheses, so the
/// fields are counted from the last `)`.
fn parse_stat(text: &str) -> Option<Stat> {
    let (_, rest) = text.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |number: usize| fields.get(number - 3).copied();
    Some(Stat { state: field(3)?.chars().next()?, pgrp: field(5)?.parse().ok()?, start_time: field(22)?.parse().ok()? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields_after_an_awkward_command_name() {
        let text = "4242 (my (odd) app) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 3 0 987654 1000 50 \
                    18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
        assert_eq!(parse_stat(text), Some(Stat { state: 'S', pgrp: 4242, start_time: 987654 }));
    }

    #[test]
    fn rejects_truncated_or_garbled_text() {
        for text in ["", "12 (x) S 1 2", "12 (x) S 1 two 3 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 5", "12 x S"] {
            assert_eq!(parse_stat(text), None, "{text:?}");
        }
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
