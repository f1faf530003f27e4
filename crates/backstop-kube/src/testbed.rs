//! A real Kubernetes control plane on loopback for tests and benchmarks (feature `testbed`).
//!
//! It runs Debian's `etcd`, and `kube-apiserver` and `kube-controller-manager` built by
//! `scripts/kube-testbed.sh` (cached outside the work tree), on free loopback ports, with
//! certificates made by `openssl` and static tokens: `admin` (cluster admin) and `backstop`
//! (only what the Role in `deploy/kubernetes/rbac.yaml` grants, once a test binds it).
//!
//! No kubelet can run here, so [`NodeAgent`] is the one stand-in: it does what a kubelet would
//! report. It registers a node, binds pending pods to it, marks them running and ready with the
//! image they asked for, and force-deletes terminating ones. The pod IPs it reports come from the
//! documentation range 192.0.2.0/24: they are data in API objects only, and nothing connects to
//! them. Everything else (Deployments, ReplicaSets, endpoints) is the real controllers' work.

use std::collections::{BTreeMap, HashMap};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, Node, Pod, Service};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client};
use serde_json::json;

/// The token of the cluster admin, and of the `backstop` user.
pub const ADMIN_TOKEN: &str = "testbed-admin-token";
pub const BACKSTOP_TOKEN: &str = "testbed-backstop-token";
/// The node the agent registers.
pub const NODE: &str = "testbed-node";

/// The Deployment template of the app `web` that tests release: one container `web` serving on
/// port 8080, no readiness probe (the driver adds one on the app's health path).
pub const WEB_TEMPLATE: &str = "apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers:
        - name: web
          image: registry.example/web:latest
          ports: [{ containerPort: 8080 }]
";

/// The `n`th digest of the test images: `sha256:` and `n` in 64 hex digits.
pub fn web_digest(n: u32) -> String {
    format!("sha256:{n:064x}")
}

/// The `n`th image of `web`, pinned by [`web_digest`].
pub fn web_image(n: u32) -> String {
    format!("registry.example/web@{}", web_digest(n))
}

/// A running control plane; dropping it stops every process.
pub struct ControlPlane {
    pub dir: tempfile::TempDir,
    pub url: String,
    /// A kubeconfig for the cluster admin.
    pub admin_kubeconfig: PathBuf,
    /// A kubeconfig for the `backstop` user (RBAC applies).
    pub backstop_kubeconfig: PathBuf,
    pub kubectl: PathBuf,
    children: Vec<Child>,
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        for child in self.children.iter_mut().rev() {
            if let Ok(pid) = i32::try_from(child.id()) {
                let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
            }
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free loopback port")
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("could not run {cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// The directory holding the control-plane binaries, built by `scripts/kube-testbed.sh` when
/// missing (about ten minutes, once per machine).
pub fn binaries() -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/kube-testbed.sh");
    let out = Command::new("bash")
        .arg(&script)
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("could not run {}: {e}", script.display()));
    assert!(out.status.success(), "{} failed", script.display());
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim().lines().last().unwrap_or_default())
}

fn spawn(dir: &Path, name: &str, program: &Path, args: &[String]) -> Child {
    use std::os::unix::process::CommandExt;
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).expect("log file");
    // A watchdog shell runs the program and kills it once this process is gone (a test binary
    // ends without dropping statics); its own process group lets `Drop` stop both at once.
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(r#"p="$1"; shift; "$@" & c=$!; while kill -0 "$p" 2>/dev/null && kill -0 "$c" 2>/dev/null; do sleep 1; done; kill -9 "$c" 2>/dev/null"#)
        .arg("watchdog")
        .arg(std::process::id().to_string())
        .arg(program)
        .process_group(0);
    cmd.args(args)
        .stdout(log.try_clone().expect("log file"))
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {}: {e}", program.display()))
}

fn kubeconfig(url: &str, ca: &Path, token: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: testbed\n  cluster:\n    server: {url}\n    certificate-authority: {}\n\
         users:\n- name: user\n  user:\n    token: {token}\ncontexts:\n- name: testbed\n  context:\n    cluster: testbed\n    user: user\n\
         current-context: testbed\n",
        ca.display()
    )
}

impl ControlPlane {
    /// Start etcd, the API server and the controller manager; returns once the API answers.
    pub async fn start() -> ControlPlane {
        let bin = binaries();
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        let path = |f: &str| d.join(f);

        // Certificates: a CA, the API server's serving certificate, the service-account key.
        run(Command::new("openssl").args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]).args([
            "-subj",
            "/CN=testbed-ca",
            "-keyout",
            path("ca.key").to_str().unwrap_or_default(),
            "-out",
            path("ca.crt").to_str().unwrap_or_default(),
        ]));
        std::fs::write(path("san.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n").expect("write");
        run(Command::new("openssl")
            .args(["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=kube-apiserver"])
            .args([
                "-keyout",
                path("server.key").to_str().unwrap_or_default(),
                "-out",
                path("server.csr").to_str().unwrap_or_default(),
            ]));
        run(Command::new("openssl").args(["x509", "-req", "-days", "2", "-CAcreateserial"]).args([
            "-in",
            path("server.csr").to_str().unwrap_or_default(),
            "-CA",
            path("ca.crt").to_str().unwrap_or_default(),
            "-CAkey",
            path("ca.key").to_str().unwrap_or_default(),
            "-extfile",
            path("san.cnf").to_str().unwrap_or_default(),
            "-out",
            path("server.crt").to_str().unwrap_or_default(),
        ]));
        run(Command::new("openssl").args(["genrsa", "-out", path("sa.key").to_str().unwrap_or_default(), "2048"]));
        std::fs::write(
            path("tokens.csv"),
            format!("{ADMIN_TOKEN},admin,1,\"system:masters\"\n{BACKSTOP_TOKEN},backstop,2,\"backstop\"\n"),
        )
        .expect("write");

        let etcd_port = free_port();
        let peer_port = free_port();
        let api_port = free_port();
        let url = format!("https://127.0.0.1:{api_port}");
        let s = |p: PathBuf| p.to_string_lossy().into_owned();

        let mut children = Vec::new();
        children.push(spawn(
            d,
            "etcd",
            Path::new("etcd"),
            &[
                format!("--data-dir={}", s(path("etcd"))),
                format!("--listen-client-urls=http://127.0.0.1:{etcd_port}"),
                format!("--advertise-client-urls=http://127.0.0.1:{etcd_port}"),
                format!("--listen-peer-urls=http://127.0.0.1:{peer_port}"),
                format!("--initial-advertise-peer-urls=http://127.0.0.1:{peer_port}"),
                format!("--initial-cluster=default=http://127.0.0.1:{peer_port}"),
                "--unsafe-no-fsync".into(),
            ],
        ));
        children.push(spawn(
            d,
            "kube-apiserver",
            &bin.join("kube-apiserver"),
            &[
                format!("--etcd-servers=http://127.0.0.1:{etcd_port}"),
                "--bind-address=127.0.0.1".into(),
                "--advertise-address=127.0.0.1".into(),
                format!("--secure-port={api_port}"),
                "--insecure-port=0".into(),
                format!("--cert-dir={}", s(path("certs"))),
                format!("--tls-cert-file={}", s(path("server.crt"))),
                format!("--tls-private-key-file={}", s(path("server.key"))),
                format!("--token-auth-file={}", s(path("tokens.csv"))),
                "--authorization-mode=RBAC".into(),
                format!("--service-account-key-file={}", s(path("sa.key"))),
                format!("--service-account-signing-key-file={}", s(path("sa.key"))),
                "--service-account-issuer=https://kubernetes.default.svc".into(),
                "--service-cluster-ip-range=10.96.0.0/24".into(),
                "--disable-admission-plugins=ServiceAccount".into(),
                "--enable-priority-and-fairness=false".into(),
                "--profiling=false".into(),
            ],
        ));
        let ca = path("ca.crt");
        let admin_kubeconfig = path("admin.kubeconfig");
        let backstop_kubeconfig = path("backstop.kubeconfig");
        std::fs::write(&admin_kubeconfig, kubeconfig(&url, &ca, ADMIN_TOKEN)).expect("write");
        std::fs::write(&backstop_kubeconfig, kubeconfig(&url, &ca, BACKSTOP_TOKEN)).expect("write");
        let mut cp = ControlPlane {
            dir,
            url,
            admin_kubeconfig: admin_kubeconfig.clone(),
            backstop_kubeconfig,
            kubectl: bin.join("kubectl"),
            children,
        };
        let client = cp.admin().await;
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let api: Api<Namespace> = Api::all(client.clone());
            if api.get_opt("default").await.ok().flatten().is_some() {
                break;
            }
            assert!(Instant::now() < deadline, "the API server never answered; see {}", cp.log("kube-apiserver"));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let cm = spawn(
            cp.dir.path(),
            "kube-controller-manager",
            &bin.join("kube-controller-manager"),
            &[
                format!("--kubeconfig={}", s(admin_kubeconfig)),
                "--leader-elect=false".into(),
                "--controllers=*,-nodelifecycle,-nodeipam,-cloud-node-lifecycle,-service,-route,-attachdetach,\
                 -persistentvolume-binder,-persistentvolume-expander,-pvc-protection,-pv-protection,-ttl,\
                 -serviceaccount-token"
                    .into(),
                "--port=0".into(),
                "--secure-port=0".into(),
                "--use-service-account-credentials=false".into(),
            ],
        );
        cp.children.push(cm);
        cp
    }

    fn log(&self, name: &str) -> String {
        let text = std::fs::read_to_string(self.dir.path().join(format!("{name}.log"))).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(30).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    /// A client with the cluster admin's rights.
    pub async fn admin(&self) -> Client {
        client_from(&self.admin_kubeconfig).await
    }

    /// A fresh namespace for one test.
    pub async fn namespace(&self, name: &str) -> String {
        let api: Api<Namespace> = Api::all(self.admin().await);
        api.create(
            &PostParams::default(),
            &serde_json::from_value(json!({ "metadata": { "name": name } })).expect("ns"),
        )
        .await
        .expect("create namespace");
        name.to_owned()
    }

    /// A fresh namespace where the `backstop` user holds its Role, with a Service for each of
    /// `apps`: named after the app, selecting `app: NAME`, port 80 to the pods' 8080.
    pub async fn app_namespace(&self, name: &str, apps: &[&str]) -> String {
        let namespace = self.namespace(name).await;
        self.grant_backstop(&namespace);
        let services: Api<Service> = Api::namespaced(self.admin().await, &namespace);
        for app in apps {
            let svc = json!({ "metadata": { "name": app },
                "spec": { "selector": { "app": app }, "ports": [{ "port": 80, "targetPort": 8080, "protocol": "TCP" }] } });
            services
                .create(&PostParams::default(), &serde_json::from_value(svc).expect("service"))
                .await
                .expect("create service");
        }
        namespace
    }

    /// Grant the `backstop` user the Role of `deploy/kubernetes/rbac.yaml` in `namespace`.
    pub fn grant_backstop(&self, namespace: &str) {
        let role = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/kubernetes/rbac.yaml");
        let out = Command::new(&self.kubectl)
            .args(["--kubeconfig", &self.admin_kubeconfig.to_string_lossy(), "-n", namespace, "apply", "-f"])
            .arg(&role)
            .output()
            .expect("kubectl");
        assert!(out.status.success(), "kubectl apply rbac: {}", String::from_utf8_lossy(&out.stderr));
        let out = Command::new(&self.kubectl)
            .args(["--kubeconfig", &self.admin_kubeconfig.to_string_lossy(), "-n", namespace])
            .args(["create", "rolebinding", "backstop", "--role=backstop", "--user=backstop"])
            .output()
            .expect("kubectl");
        assert!(out.status.success(), "kubectl rolebinding: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// `kubectl` against this cluster as the admin.
    pub fn kubectl(&self) -> Command {
        let mut cmd = Command::new(&self.kubectl);
        cmd.args(["--kubeconfig", &self.admin_kubeconfig.to_string_lossy()]);
        cmd
    }
}

/// A client from a kubeconfig file.
pub async fn client_from(path: &Path) -> Client {
    let kc = Kubeconfig::read_from(path).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await.expect("config");
    Client::try_from(config).expect("client")
}

/// What the agent reports unlike a healthy kubelet would.
#[derive(Debug, Default, Clone)]
pub struct Quirks {
    /// Pods in this namespace with this label value stay running but never ready.
    pub unready: Vec<(String, String, String)>,
    /// Image reference → the image ID its containers report (another digest than asked for).
    pub image_ids: HashMap<String, String>,
}

/// One control plane and node agent for a whole test binary, on a runtime of their own (each
/// test's runtime ends with the test; these must outlive every test). Its processes die with
/// the test process (each runs under a watchdog).
pub struct Testbed {
    pub cp: ControlPlane,
    quirks: Arc<Mutex<Quirks>>,
}

impl Testbed {
    pub fn shared() -> &'static Testbed {
        static TESTBED: std::sync::OnceLock<Testbed> = std::sync::OnceLock::new();
        TESTBED.get_or_init(|| {
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::Builder::new()
                .name("testbed".into())
                .spawn(move || {
                    let rt = tokio::runtime::Builder::new_multi_thread()
                        .worker_threads(2)
                        .enable_all()
                        .build()
                        .expect("testbed runtime");
                    rt.block_on(async move {
                        let cp = ControlPlane::start().await;
                        let client = cp.admin().await;
                        register_node(&client).await;
                        let quirks = Arc::new(Mutex::new(Quirks::default()));
                        tokio::spawn(agent_loop(client, quirks.clone()));
                        let _ = tx.send(Testbed { cp, quirks });
                        std::future::pending::<()>().await;
                    });
                })
                .expect("testbed thread");
            rx.recv().expect("the testbed did not start")
        })
    }

    /// Keep the pods of `namespace` labelled `key=value` unready.
    pub fn keep_unready(&self, namespace: &str, key: &str, value: &str) {
        self.quirks.lock().unwrap_or_else(|e| e.into_inner()).unready.push((
            namespace.into(),
            key.into(),
            value.into(),
        ));
    }

    /// Containers asking for `image` report `image_id` instead.
    pub fn report_image_id(&self, image: &str, image_id: &str) {
        self.quirks.lock().unwrap_or_else(|e| e.into_inner()).image_ids.insert(image.into(), image_id.into());
    }
}

async fn register_node(client: &Client) {
    let nodes: Api<Node> = Api::all(client.clone());
    let node = json!({ "metadata": { "name": NODE, "labels": { "kubernetes.io/hostname": NODE } } });
    if nodes.get_opt(NODE).await.ok().flatten().is_none() {
        nodes
            .create(&PostParams::default(), &serde_json::from_value(node).expect("node"))
            .await
            .expect("register node");
    }
    let status = json!({ "status": { "conditions": [{ "type": "Ready", "status": "True", "reason": "KubeletReady",
        "lastHeartbeatTime": now(), "lastTransitionTime": now() }],
        "addresses": [{ "type": "InternalIP", "address": "192.0.2.254" }] } });
    nodes.patch_status(NODE, &PatchParams::default(), &Patch::Merge(status)).await.expect("node status");
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

async fn agent_loop(client: Client, quirks: Arc<Mutex<Quirks>>) {
    let pods: Api<Pod> = Api::all(client.clone());
    let mut ips: BTreeMap<String, u8> = BTreeMap::new();
    let mut next_ip: u8 = 1;
    loop {
        if let Ok(list) = pods.list(&ListParams::default()).await {
            let q = quirks.lock().unwrap_or_else(|e| e.into_inner()).clone();
            for pod in list.items {
                let ns = pod.metadata.namespace.clone().unwrap_or_default();
                let name = pod.metadata.name.clone().unwrap_or_default();
                let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
                if pod.metadata.deletion_timestamp.is_some() {
                    let _ =
                        api.delete(&name, &DeleteParams { grace_period_seconds: Some(0), ..Default::default() }).await;
                    continue;
                }
                let Some(spec) = pod.spec.as_ref() else { continue };
                if spec.node_name.is_none() {
                    let binding = json!({ "apiVersion": "v1", "kind": "Binding", "metadata": { "name": name },
                        "target": { "apiVersion": "v1", "kind": "Node", "name": NODE } });
                    let _ = api
                        .create_subresource::<serde_json::Value, serde_json::Value>(
                            "binding",
                            &name,
                            &PostParams::default(),
                            &binding,
                        )
                        .await;
                    continue;
                }
                let uid = pod.metadata.uid.clone().unwrap_or_default();
                let ip = *ips.entry(uid).or_insert_with(|| {
                    let ip = next_ip;
                    next_ip = if next_ip >= 250 { 1 } else { next_ip + 1 };
                    ip
                });
                let labels = pod.metadata.labels.clone().unwrap_or_default();
                let ready = !q.unready.iter().any(|(n, k, v)| *n == ns && labels.get(k) == Some(v));
                let containers: Vec<serde_json::Value> = spec
                    .containers
                    .iter()
                    .map(|c| {
                        let image = c.image.clone().unwrap_or_default();
                        let image_id =
                            q.image_ids.get(&image).cloned().unwrap_or_else(|| format!("docker-pullable://{image}"));
                        json!({ "name": c.name, "image": image, "imageID": image_id, "ready": ready, "started": true,
                            "restartCount": 0, "state": { "running": { "startedAt": now() } } })
                    })
                    .collect();
                if reported(&pod, ready, &containers) {
                    continue;
                }
                let flag = if ready { "True" } else { "False" };
                let t = now();
                let status = json!({ "status": {
                    "phase": "Running", "hostIP": "192.0.2.254", "podIP": format!("192.0.2.{ip}"),
                    "podIPs": [{ "ip": format!("192.0.2.{ip}") }], "startTime": t,
                    "conditions": [
                        { "type": "Initialized", "status": "True", "lastTransitionTime": t },
                        { "type": "PodScheduled", "status": "True", "lastTransitionTime": t },
                        { "type": "ContainersReady", "status": flag, "lastTransitionTime": t },
                        { "type": "Ready", "status": flag, "lastTransitionTime": t },
                    ],
                    "containerStatuses": containers,
                } });
                let _ = api.patch_status(&name, &PatchParams::default(), &Patch::Merge(status)).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether the pod's status already says what the agent would report.
fn reported(pod: &Pod, ready: bool, containers: &[serde_json::Value]) -> bool {
    let Some(status) = pod.status.as_ref() else { return false };
    let is_ready = status
        .conditions
        .as_ref()
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == "True");
    let ids: Vec<String> = status
        .container_statuses
        .as_ref()
        .map(|cs| cs.iter().map(|c| c.image_id.clone()).collect())
        .unwrap_or_default();
    let want: Vec<String> = containers.iter().map(|c| c["imageID"].as_str().unwrap_or_default().to_owned()).collect();
    status.phase.as_deref() == Some("Running") && is_ready == ready && ids == want
}
