//! Regression: a panic inside an operation left it `running`, so every later release or undo of
//! the app was refused until a restart. The engine runs here with the real SQLite store and artifact
//! store; the driver is a fault injector that panics on start (a real driver cannot be made to
//! panic on purpose), and traffic is an in-memory pointer (nothing is served in this test).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use backstop_artifacts::ArtifactStore;
use backstop_core::{Digest, OperationState};
use backstop_driver::{Driver, DriverError, Endpoint, Instance, StartSpec, Traffic, TrafficError};
use backstop_engine::flags::{Current, FlagChange, FlagService, Frames, ServiceSwitch};
use backstop_engine::ops::ReleaseRequest;
use backstop_engine::{AppRuntime, Config, Engine, EngineParts, OpError};
use backstop_store::{SqliteStore, Store};

struct PanickingDriver;

#[async_trait]
impl Driver for PanickingDriver {
    fn name(&self) -> &'static str {
        "panicking"
    }

    async fn start(&self, _spec: &StartSpec) -> Result<Arc<dyn Instance>, DriverError> {
        panic!("injected: the driver panicked while starting an instance");
    }

    async fn adopt(&self, _handle: &serde_json::Value) -> Result<Arc<dyn Instance>, DriverError> {
        Err(DriverError::Adopt("nothing to adopt".into()))
    }
}

#[derive(Default)]
struct Pointer(Mutex<Option<Endpoint>>);

#[async_trait]
impl Traffic for Pointer {
    async fn switch(&self, to: Option<&Endpoint>) -> Result<Option<Endpoint>, TrafficError> {
        Ok(std::mem::replace(&mut *self.0.lock().unwrap(), to.cloned()))
    }
    fn current(&self) -> Option<Endpoint> {
        self.0.lock().unwrap().clone()
    }
    fn inflight(&self, _at: &Endpoint) -> usize {
        0
    }
    async fn drain(&self, _from: &Endpoint, _timeout: Duration) -> bool {
        true
    }
}

/// Flag changes presented as nothing: this test has no subscribers.
struct Plain;

impl Frames for Plain {
    type Change = ();
    type Cache = ();
    fn change(_: &FlagChange, _: &Current<Plain>) {}
}

fn release(digest: &Digest, version: &str) -> ReleaseRequest {
    serde_json::from_value(serde_json::json!({ "digest": digest, "version": version })).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_inside_an_operation_left_it_running() {
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("backstop.toml");
    let text = "[server]\nstate = \"state\"\n[apps.shop]\nlisten = \"127.0.0.1:1\"\nhealth = \"/healthz\"\n";
    let config = Config::parse(&config_path, text).unwrap();
    std::fs::create_dir_all(&config.server.state).unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&config.server.state.join("backstop.db")).unwrap());
    let artifacts = ArtifactStore::open(&config.server.state.join("artifacts")).unwrap();
    let bytes = b"#!/bin/sh\nexit 0\n".to_vec();
    let digest = Digest::of_bytes(&bytes);
    artifacts.ingest_file(&bytes[..], &digest).unwrap();
    let mut apps = BTreeMap::new();
    for (name, app) in &config.apps {
        store.ensure_app(name).await.unwrap();
        let traffic: Arc<dyn Traffic> = Arc::new(Pointer::default());
        apps.insert(name.clone(), Arc::new(AppRuntime::new(name.clone(), app.clone(), traffic)));
    }
    let engine = Engine::new(EngineParts {
        config,
        store: store.clone(),
        artifacts,
        driver: Arc::new(PanickingDriver),
        node: "node-test".into(),
        apps,
        flag_switch: Arc::new(ServiceSwitch {
            service: Arc::new(FlagService::<Plain>::load(store.as_ref()).await.unwrap()),
            store: store.clone(),
        }),
    });

    let e = engine.clone();
    let d = digest.clone();
    let joined = tokio::spawn(async move { e.release("shop", release(&d, "v1"), "admin").await }).await;
    assert!(joined.is_err_and(|e| e.is_panic()), "the injected panic happened");

    // The operation is ended as failed, not left running.
    let deadline = Instant::now() + Duration::from_secs(20);
    let op = loop {
        let ops = store.operations(&"shop".parse().unwrap(), 10).await.unwrap();
        let op = ops.into_iter().next().expect("the release was journaled");
        if op.state != OperationState::Running {
            break op;
        }
        assert!(Instant::now() < deadline, "the operation stayed running after a panic");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(op.state, OperationState::Failed);
    assert!(op.error.is_some_and(|e| e.contains("internal error")));

    // And the app takes the next operation (this one fails cleanly: nothing is busy).
    let e = engine.clone();
    let next = tokio::spawn(async move { e.release("shop", release(&digest, "v2"), "admin").await }).await;
    match next {
        Err(join) => assert!(join.is_panic(), "the second release reached the driver again"),
        Ok(Err(OpError::Busy { .. })) => panic!("the app stayed busy after a panicked operation"),
        Ok(other) => panic!("unexpected: {other:?}"),
    }
}
