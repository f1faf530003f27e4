//! Stopping: SIGTERM, SIGKILL after the grace period, and the whole process group.

use std::time::Duration;

use backstop_local::{Exit, ProcessId, adopt, wait_healthy};
use nix::sys::signal::Signal;

use crate::{PATIENCE, read_log, start, stat_field, testsvc};

#[tokio::test]
async fn stop_terminates_the_instance() {
    let dir = tempfile::tempdir().unwrap();
    let (instance, _guard) = start(&testsvc::spec(dir.path(), "healthy")).await;
    wait_healthy(&instance, "/healthz", PATIENCE).await.unwrap();

    instance.stop(PATIENCE).await;
    assert!(!instance.is_alive());
    assert_eq!(instance.exit(), Some(Exit::Signal(Signal::SIGTERM as i32)));
    assert!(!instance.id().is_running());
    // Stopping again is harmless.
    instance.stop(PATIENCE).await;
}

#[tokio::test]
async fn absurd_durations_overflowed_deadlines() {
    let dir = tempfile::tempdir().unwrap();
    let (instance, _guard) = start(&testsvc::spec(dir.path(), "healthy")).await;
    // A timeout or grace too long to add to the clock is waited on as "a very long time".
    wait_healthy(&instance, "/healthz", Duration::MAX).await.unwrap();
    instance.stop(Duration::MAX).await;
    assert!(!instance.is_alive());
}

#[tokio::test]
async fn stop_kills_an_instance_that_ignores_sigterm_after_grace() {
    let dir = tempfile::tempdir().unwrap();
    let (instance, _guard) = start(&testsvc::spec(dir.path(), "stubborn")).await;
    // It listens only once its SIGTERM handler is in place.
    wait_healthy(&instance, "/healthz", PATIENCE).await.unwrap();

    instance.stop(Duration::from_millis(300)).await;
    assert!(!instance.is_alive());
    assert_eq!(instance.exit(), Some(Exit::Signal(Signal::SIGKILL as i32)));
    assert_eq!(instance.exit_status().as_deref(), Some("killed by signal 9 (SIGKILL)"));
}

#[tokio::test]
async fn stop_kills_the_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let spec = testsvc::spec(dir.path(), "family");
    let (instance, _guard) = start(&spec).await;
    // It logs the grandchild's pid before it listens.
    wait_healthy(&instance, "/healthz", PATIENCE).await.unwrap();
    let log = read_log(&spec.log_path);
    let grandchild: u32 = log
        .lines()
        // libtest's "test testsvc::serve ... " may precede it on the line.
        .find_map(|line| line.split_once("testsvc: grandchild ").map(|(_, pid)| pid))
        .unwrap_or_else(|| panic!("no grandchild in log:\n{log}"))
        .parse()
        .unwrap();
    assert_eq!(stat_field(grandchild, 5), instance.id().pid.to_string(), "grandchild's pgid");
    let grandchild = ProcessId { pid: grandchild, start_time: backstop_local::process_start_time(grandchild).unwrap() };
    assert!(grandchild.is_running());

    instance.stop(PATIENCE).await;
    assert!(!instance.is_alive());
    assert!(!grandchild.is_running());
    assert!(adopt(grandchild, 0).is_err());
}
