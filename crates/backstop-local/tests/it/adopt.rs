//! Adoption by pid and start time, as a restarted control plane does it.

use backstop_local::{LocalError, ProcessId, adopt, probe, wait_healthy};

use crate::{PATIENCE, start, testsvc};

#[tokio::test]
async fn adopted_instance_is_alive_probed_and_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let (instance, _guard) = start(&testsvc::spec(dir.path(), "healthy")).await;
    wait_healthy(&instance, "/healthz", PATIENCE).await.unwrap();

    let adopted = adopt(instance.id(), instance.port()).expect("adopt");
    assert!(adopted.is_adopted());
    assert!(adopted.is_alive());
    assert_eq!(adopted.id(), instance.id());
    assert_eq!(probe(adopted.addr(), "/healthz", PATIENCE).await.unwrap(), 200);
    wait_healthy(&adopted, "/healthz", PATIENCE).await.unwrap();

    adopted.stop(PATIENCE).await;
    assert!(!adopted.is_alive());
    assert_eq!(adopted.exit_status(), None, "an adopted process's exit status is unknown");
    instance.exited().await;
    assert!(!instance.is_alive());
}

#[tokio::test]
async fn adopting_with_another_start_time_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (instance, _guard) = start(&testsvc::spec(dir.path(), "healthy")).await;
    let ProcessId { pid, start_time } = instance.id();

    let reused = ProcessId { pid, start_time: start_time + 1 };
    let error = adopt(reused, instance.port()).unwrap_err();
    assert!(matches!(error, LocalError::Gone { pid: gone } if gone == pid), "{error:?}");
    assert_eq!(error.to_string(), format!("process {pid} is gone (not running, or its pid was reused)"));
    assert!(instance.is_alive());
    instance.stop(PATIENCE).await;
}

#[tokio::test]
async fn adopting_an_exited_process_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (instance, _guard) = start(&testsvc::spec(dir.path(), "crash")).await;
    instance.exited().await;
    assert!(matches!(adopt(instance.id(), instance.port()), Err(LocalError::Gone { .. })));

    let never = ProcessId { pid: 4_000_000_000, start_time: 1 };
    assert!(matches!(adopt(never, 1), Err(LocalError::Gone { pid: 4_000_000_000 })));
}
