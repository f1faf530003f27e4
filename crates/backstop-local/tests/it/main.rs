//! Integration tests of the local driver: real child processes (this test binary, re-executed as a small
//! HTTP service, see `testsvc`) and real HTTP on 127.0.0.1.

mod adopt;
mod health;
mod launch;
mod stop;
mod testsvc;

use std::path::Path;
use std::time::Duration;

use backstop_local::{Instance, LaunchSpec, ProcessId};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// A bound for waits that succeed quickly unless something is broken.
const PATIENCE: Duration = Duration::from_secs(30);

/// SIGKILLs the instance's process group when dropped, so a failing test leaves no process behind.
struct KillOnDrop(ProcessId);

impl KillOnDrop {
    fn new(instance: &Instance) -> Self {
        KillOnDrop(instance.id())
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let ProcessId { pid, start_time } = self.0;
        if backstop_local::process_start_time(pid) == Some(start_time) {
            let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
    }
}

/// Launch `spec`, with a guard that kills it if the test ends early.
async fn start(spec: &LaunchSpec) -> (Instance, KillOnDrop) {
    let instance = backstop_local::launch(spec).await.expect("launch");
    let guard = KillOnDrop::new(&instance);
    (instance, guard)
}

/// Fields of `/proc/<pid>/stat` by their 1-based number (2, the command name, excepted).
fn stat_field(pid: u32, number: usize) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let (_, rest) = text.rsplit_once(')').expect("command name");
    rest.split_whitespace().nth(number - 3).expect("field").to_owned()
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}
