//! Health checks: waiting for a 2xx, timing out, and noticing an early exit.

use std::time::Duration;

use backstop_local::{Exit, LastProbe, LocalError, ProbeError, probe, wait_healthy};

use crate::{PATIENCE, start, testsvc};

#[tokio::test]
async fn wait_healthy_times_out_on_500_naming_the_status() {
    let dir = tempfile::tempdir().unwrap();
    let (instance, _guard) = start(&testsvc::spec(dir.path(), "unhealthy")).await;
    // Once it answers at all, every probe gets the same 500.
    tokio::time::timeout(PATIENCE, async {
        while probe(instance.addr(), "/healthz", PATIENCE).await.is_err() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("service listens");

    let error = wait_healthy(&instance, "/healthz", Duration::from_secs(1)).await.unwrap_err();
    assert!(matches!(error, LocalError::HealthTimeout { last: LastProbe::Status(500), .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!("http://127.0.0.1:{}/healthz did not answer 2xx within 1s: last probe answered 500", instance.port())
    );
    assert!(instance.is_alive());
    instance.stop(PATIENCE).await;
}

#[tokio::test]
async fn wait_healthy_times_out_on_a_silent_port_naming_the_connection_error() {
    let dir = tempfile::tempdir().unwrap();
    let (instance, _guard) = start(&testsvc::spec(dir.path(), "idle")).await;

    let error = wait_healthy(&instance, "/healthz", Duration::from_millis(500)).await.unwrap_err();
    assert!(
        matches!(&error, LocalError::HealthTimeout { last: LastProbe::Failed(ProbeError::Connect(_)), .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("last probe failed: could not connect: "), "{error}");
    instance.stop(PATIENCE).await;
}

#[tokio::test]
async fn wait_healthy_reports_an_early_exit_with_its_status() {
    let dir = tempfile::tempdir().unwrap();
    let spec = testsvc::spec(dir.path(), "crash");
    let (instance, _guard) = start(&spec).await;

    // Far longer than the test takes: the exit ends the wait, not the timeout.
    let error = wait_healthy(&instance, "/healthz", Duration::from_secs(3600)).await.unwrap_err();
    assert!(matches!(error, LocalError::Exited { exit: Exit::Code(3), .. }), "{error:?}");
    assert!(error.to_string().contains("exited with status 3"), "{error}");
    assert!(!instance.is_alive());
    assert_eq!(instance.exit(), Some(Exit::Code(3)));
    assert_eq!(instance.exit_status().as_deref(), Some("exited with status 3"));
    assert!(crate::read_log(&spec.log_path).contains("testsvc: crashing"));
}

#[tokio::test]
async fn probe_of_a_closed_port_fails_to_connect() {
    let port = backstop_local::free_port().unwrap();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let error = probe(addr, "/healthz", PATIENCE).await.unwrap_err();
    assert!(matches!(&error, LocalError::Probe { source: ProbeError::Connect(_), .. }), "{error:?}");
    assert_eq!(error.to_string(), format!("probe of http://127.0.0.1:{port}/healthz failed"));
}

#[tokio::test]
async fn probe_refuses_an_invalid_path() {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], 9));
    let error = probe(addr, "/a path", PATIENCE).await.unwrap_err();
    assert!(matches!(&error, LocalError::Probe { source: ProbeError::InvalidPath { .. }, .. }), "{error:?}");
}
