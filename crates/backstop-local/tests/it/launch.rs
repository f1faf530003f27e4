//! Launching: environment, working directory, log file, process group and refused programs.

use std::os::unix::fs::PermissionsExt;

use backstop_local::{LocalError, launch, wait_healthy};

use crate::{PATIENCE, read_log, start, stat_field, testsvc};

#[tokio::test]
async fn launched_service_serves_on_port_in_cwd_and_logs() {
    let dir = tempfile::tempdir().unwrap();
    let spec = testsvc::spec(dir.path(), "healthy");
    std::fs::create_dir_all(spec.log_path.parent().unwrap()).unwrap();
    std::fs::write(&spec.log_path, "from an earlier run\n").unwrap();

    let (instance, _guard) = start(&spec).await;
    assert_eq!(instance.port(), spec.port);
    assert_eq!(instance.addr().to_string(), format!("127.0.0.1:{}", spec.port));
    assert!(!instance.is_adopted());
    wait_healthy(&instance, "/healthz", PATIENCE).await.expect("healthy");
    assert!(instance.is_alive());
    assert_eq!(instance.exit_status(), None);

    assert_eq!(backstop_local::probe(instance.addr(), "/healthz", PATIENCE).await.unwrap(), 200);
    assert_eq!(backstop_local::probe(instance.addr(), "/elsewhere", PATIENCE).await.unwrap(), 404);

    let pid = instance.id().pid;
    let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap();
    assert_eq!(cwd, spec.cwd.canonicalize().unwrap());

    let log = read_log(&spec.log_path);
    assert!(log.starts_with("from an earlier run\n"), "log was truncated:\n{log}");
    assert!(log.contains(&format!("testsvc: healthy on 127.0.0.1:{}", spec.port)), "log:\n{log}");
    assert!(log.contains(&format!("testsvc: greeting {}", testsvc::GREETING)), "log:\n{log}");

    instance.stop(PATIENCE).await;
}

#[tokio::test]
async fn instance_leads_its_own_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let (instance, _guard) = start(&testsvc::spec(dir.path(), "healthy")).await;
    let pid = instance.id().pid;
    assert_eq!(stat_field(pid, 5), pid.to_string(), "pgid of the instance");
    assert_ne!(stat_field(std::process::id(), 5), pid.to_string(), "our own pgid");
    assert_eq!(stat_field(pid, 22), instance.id().start_time.to_string());
    instance.stop(PATIENCE).await;
}

#[tokio::test]
async fn dropping_an_instance_leaves_it_running() {
    let dir = tempfile::tempdir().unwrap();
    let (instance, _guard) = start(&testsvc::spec(dir.path(), "healthy")).await;
    wait_healthy(&instance, "/healthz", PATIENCE).await.unwrap();
    let (id, port) = (instance.id(), instance.port());
    drop(instance);

    let adopted = backstop_local::adopt(id, port).expect("still running");
    assert_eq!(backstop_local::probe(adopted.addr(), "/healthz", PATIENCE).await.unwrap(), 200);
    adopted.stop(PATIENCE).await;
    assert!(!adopted.is_alive());
}

#[tokio::test]
async fn program_without_execute_bit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("app");
    std::fs::write(&program, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o644)).unwrap();
    let spec = backstop_local::LaunchSpec { program: program.clone(), ..testsvc::spec(dir.path(), "healthy") };

    let error = launch(&spec).await.unwrap_err();
    assert!(matches!(&error, LocalError::NotExecutable { path } if *path == program), "{error:?}");
    assert_eq!(error.to_string(), format!("program {} is not an executable file", program.display()));

    let spec = backstop_local::LaunchSpec { program: dir.path().to_owned(), ..spec };
    assert!(matches!(launch(&spec).await, Err(LocalError::NotExecutable { .. })));
}

#[tokio::test]
async fn missing_or_relative_program_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("nowhere");
    let spec = backstop_local::LaunchSpec { program: program.clone(), ..testsvc::spec(dir.path(), "healthy") };
    let error = launch(&spec).await.unwrap_err();
    assert!(matches!(&error, LocalError::ProgramMissing { path } if *path == program), "{error:?}");

    let spec = backstop_local::LaunchSpec { program: "bin/app".into(), ..spec };
    assert!(matches!(launch(&spec).await, Err(LocalError::RelativeProgram { .. })));
}

#[test]
fn free_port_is_bindable() {
    let port = backstop_local::free_port().unwrap();
    assert_ne!(port, 0);
    drop(std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind the free port"));
}
