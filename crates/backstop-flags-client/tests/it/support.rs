//! A control plane in process on a free port with a temporary state
//! directory, and admin calls over HTTP.

use std::path::PathBuf;
use std::time::Duration;

use backstop_flags_client::{Client, State};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub struct ControlPlane {
    _dir: Option<tempfile::TempDir>,
    root: PathBuf,
    port: u16,
    stop: oneshot::Sender<()>,
    serving: JoinHandle<std::io::Result<()>>,
    http: reqwest::Client,
}

/// Keeps the temporary directory alive between a stop and a restart.
pub struct StateDir(tempfile::TempDir);

impl ControlPlane {
    pub async fn start() -> ControlPlane {
        let dir = tempfile::tempdir().unwrap();
        Self::launch(dir, free_port()).await
    }

    pub async fn restart(dir: StateDir, port: u16) -> ControlPlane {
        Self::launch(dir.0, port).await
    }

    async fn launch(dir: tempfile::TempDir, port: u16) -> ControlPlane {
        let root = dir.path().to_owned();
        let path = root.join("backstop.toml");
        let text = format!("[server]\nlisten = \"127.0.0.1:{port}\"\nstate = \"{}\"\n", root.join("state").display());
        let config = backstop_server::Config::parse(&path, &text).unwrap();
        let server = backstop_server::Server::start(config).await.unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = tokio::spawn(server.serve(async move {
            let _ = stopped.await;
        }));
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        ControlPlane { _dir: Some(dir), root, port, stop, serving, http }
    }

    /// Stop serving; the state directory and the port are handed back for a restart.
    pub async fn stop(mut self) -> (StateDir, u16) {
        let _ = self.stop.send(());
        self.serving.await.unwrap().unwrap();
        (StateDir(self._dir.take().unwrap()), self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn token(&self, file: &str) -> String {
        std::fs::read_to_string(self.root.join("state").join(file)).unwrap().trim().to_owned()
    }

    pub fn eval_token(&self) -> String {
        self.token("eval.token")
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}{path}", self.url()))
            .bearer_auth(self.token("admin.token"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    /// Create a flag that may be refused: the status and the answer.
    pub async fn try_create(&self, key: &str, flag: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/v1/flags/{key}", self.url()))
            .bearer_auth(self.token("admin.token"))
            .json(&json!({"flag": flag, "reason": "test"}))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    async fn create(&self, key: &str, flag: Value) {
        self.post(&format!("/v1/flags/{key}"), json!({"flag": flag, "reason": "test"})).await;
    }

    pub async fn create_bool(&self, key: &str, enabled: bool) {
        let flag = json!({"enabled": enabled, "variants": {"on": true, "off": false},
                          "default_variant": "on", "off_variant": "off"});
        self.create(key, flag).await;
    }

    pub async fn create_string(&self, key: &str, value: &str) {
        let flag = json!({"enabled": true, "variants": {"a": value}, "default_variant": "a", "off_variant": "a"});
        self.create(key, flag).await;
    }

    /// A boolean flag serving a 50/50 rollout to everyone.
    pub async fn create_rollout(&self, key: &str) {
        let flag = json!({"enabled": true, "variants": {"on": true, "off": false},
                          "default_variant": "off", "off_variant": "off",
                          "rules": [{"conditions": [], "serve": {"rollout": [{"variant": "on", "weight": 50}, {"variant": "off", "weight": 50}]}}]});
        self.create(key, flag).await;
    }

    /// Switch a flag back on; returns the new configuration version.
    pub async fn on(&self, key: &str) -> u64 {
        let written = self.post(&format!("/v1/flags/{key}/on"), json!({"reason": "fixed"})).await;
        written["config_version"].as_u64().unwrap()
    }

    /// The kill switch; returns the new configuration version.
    pub async fn off(&self, key: &str) -> u64 {
        let written = self.post(&format!("/v1/flags/{key}/off"), json!({"reason": "checkout errors"})).await;
        written["config_version"].as_u64().unwrap()
    }
}

/// Wait (bounded, generously: this asserts behaviour, not speed) for a state.
pub async fn wait_state(client: &Client, pred: impl Fn(&State) -> bool) -> State {
    let mut rx = client.watch_state();
    let waited =
        tokio::time::timeout(Duration::from_secs(30), async { rx.wait_for(|s| pred(s)).await.map(|s| s.clone()) });
    match waited.await {
        Ok(Ok(state)) => state,
        _ => panic!("state not reached; last: {:?}", client.state()),
    }
}
