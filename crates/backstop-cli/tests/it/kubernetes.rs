//! A Kubernetes app end to end: the real `backstop` server and CLI against a real API server and
//! controller manager (`backstop_kube::testbed`), as the `backstop` user holding only the Role of
//! `deploy/kubernetes/rbac.yaml`. What the cluster did is read back from the API, never assumed.

use std::path::Path;
use std::time::{Duration, Instant};

use backstop_kube::testbed::{Testbed, WEB_TEMPLATE, web_image};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Endpoints, Service};
use kube::Api;
use kube::api::{Patch, PatchParams};

use crate::harness::*;

/// The cluster as the admin sees it, read synchronously for the CLI tests.
struct Cluster {
    rt: tokio::runtime::Runtime,
    client: kube::Client,
    namespace: String,
}

impl Cluster {
    fn new(namespace: &str) -> Cluster {
        let tb = Testbed::shared();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (client, namespace) =
            rt.block_on(async { (tb.cp.admin().await, tb.cp.app_namespace(namespace, &["web"]).await) });
        Cluster { rt, client, namespace }
    }

    fn selector(&self) -> Option<String> {
        self.rt.block_on(async {
            let api: Api<Service> = Api::namespaced(self.client.clone(), &self.namespace);
            let svc = api.get("web").await.unwrap();
            svc.spec.and_then(|s| s.selector).and_then(|s| s.get(backstop_kube::REVISION_LABEL).cloned())
        })
    }

    fn set_selector(&self, revision: &str) {
        self.rt.block_on(async {
            let api: Api<Service> = Api::namespaced(self.client.clone(), &self.namespace);
            let patch = serde_json::json!({ "spec": { "selector": { backstop_kube::REVISION_LABEL: revision } } });
            api.patch("web", &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
        });
    }

    fn replicas(&self, name: &str) -> Option<i32> {
        self.rt.block_on(async {
            let api: Api<Deployment> = Api::namespaced(self.client.clone(), &self.namespace);
            api.get_opt(name).await.unwrap().and_then(|d| d.spec).and_then(|s| s.replicas)
        })
    }

    fn endpoint_pods(&self) -> Vec<String> {
        self.rt.block_on(async {
            let api: Api<Endpoints> = Api::namespaced(self.client.clone(), &self.namespace);
            let ep = api.get_opt("web").await.unwrap();
            ep.and_then(|e| e.subsets)
                .unwrap_or_default()
                .into_iter()
                .flat_map(|s| s.addresses.unwrap_or_default())
                .filter_map(|a| a.target_ref.and_then(|t| t.name))
                .collect()
        })
    }

    /// Wait (generously) until the endpoints hold exactly the two pods of `revision`.
    fn wait_endpoints(&self, revision: u64) {
        let prefix = format!("web-r{revision}-");
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let pods = self.endpoint_pods();
            if pods.len() == 2 && pods.iter().all(|p| p.starts_with(&prefix)) {
                return;
            }
            assert!(Instant::now() < deadline, "endpoints never moved to revision {revision}: {pods:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_replicas(&self, name: &str, want: i32) {
        let deadline = Instant::now() + Duration::from_secs(90);
        while self.replicas(name) != Some(want) {
            assert!(Instant::now() < deadline, "{name} never had {want} replicas: {:?}", self.replicas(name));
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn apps_config(dir: &Path, namespace: &str, health_timeout: &str) -> String {
    let template = dir.join("web.yaml");
    std::fs::write(&template, WEB_TEMPLATE).unwrap();
    format!(
        "[apps.web]\ndriver = \"kubernetes\"\nhealth = \"/healthz\"\nsoak = \"500ms\"\nkeep_warm = \"10m\"\n\
         health_timeout = \"{health_timeout}\"\nhealth_interval = \"200ms\"\n\
         [apps.web.kubernetes]\nkubeconfig = \"{}\"\nnamespace = \"{namespace}\"\nservice = \"web\"\n\
         template = \"{}\"\nreplicas = 2\n",
        Testbed::shared().cp.backstop_kubeconfig.display(),
        template.display()
    )
}

fn release(h: &Harness, n: u32, version: &str, cause: &str) -> Out {
    h.cli(&["release", "web", "--artifact", &web_image(n), "--version", version, "--change-cause", cause])
}

fn history(h: &Harness) -> Vec<serde_json::Value> {
    h.json(&["history", "web"]).as_array().unwrap().clone()
}

fn status_of(h: &Harness, n: u64) -> String {
    history(h).iter().find(|r| r["revision"] == n).map(|r| r["status"].as_str().unwrap().to_owned()).unwrap_or_default()
}

fn wait_status(h: &Harness, n: u64, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = status_of(h, n);
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "revision {n} stayed {got}, expected {want}: {}", h.server_log());
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn releases_and_undos_move_the_service_selector_and_the_endpoints_follow() {
    let cluster = Cluster::new("e2e-releases");
    let h = Harness::start_with(|dir| apps_config(dir, &cluster.namespace, "60s"));

    release(&h, 1, "v1", "first").ok();
    assert_eq!(cluster.selector().as_deref(), Some("1"));
    cluster.wait_endpoints(1);
    wait_status(&h, 1, "known-good");

    release(&h, 2, "v2", "second").ok();
    assert_eq!(cluster.selector().as_deref(), Some("2"));
    cluster.wait_endpoints(2);
    assert_eq!(cluster.replicas("web-r1"), Some(2), "the previous revision stays warm");

    // Undo to the warm revision: one selector patch.
    let out = h.cli(&["undo", "web", "--output", "json"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let undo: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!((undo["revision"].as_u64(), undo["warm"].as_bool()), (Some(1), Some(true)), "{undo}");
    assert_eq!(cluster.selector().as_deref(), Some("1"));
    cluster.wait_endpoints(1);

    // Nothing disappeared from history and no change-cause was overwritten.
    let rows = history(&h);
    let causes: Vec<(u64, String)> = rows
        .iter()
        .map(|r| (r["revision"].as_u64().unwrap(), r["change_cause"].as_str().unwrap().to_owned()))
        .collect();
    assert!(causes.contains(&(1, "first".into())) && causes.contains(&(2, "second".into())), "{causes:?}");
    assert_eq!(rows.len(), 2);
    let status = h.json(&["status", "web"]);
    assert_eq!(status["driver"], "kubernetes");
    let live = status["instances"].as_array().unwrap().iter().find(|i| i["revision"] == 1).cloned().unwrap();
    assert_eq!((live["ready_replicas"].as_u64(), live["replicas"].as_u64()), (Some(2), Some(2)), "{live}");
    assert!(h.cli(&["status", "web"]).stdout().contains("2/2 ready"));
    assert_eq!(status["listen"], format!("Service {}/web", cluster.namespace));
}

#[test]
fn a_release_that_never_becomes_available_leaves_the_selector_and_fails() {
    let cluster = Cluster::new("e2e-unready");
    let h = Harness::start_with(|dir| apps_config(dir, &cluster.namespace, "6s"));
    release(&h, 1, "v1", "first").ok();
    cluster.wait_endpoints(1);

    Testbed::shared().keep_unready(&cluster.namespace, backstop_kube::REVISION_LABEL, "2");
    let out = release(&h, 2, "v2", "never ready");
    assert_ne!(out.code(), 0, "the release failed: {}", out.stdout());
    assert!(out.stderr().contains("0/2 pods ready"), "{}", out.stderr());
    assert_eq!(cluster.selector().as_deref(), Some("1"), "traffic stayed");
    assert_eq!(status_of(&h, 2), "failed");
    cluster.wait_replicas("web-r2", 0);

    // Pods that report another digest than the release's are refused the same way.
    Testbed::shared().report_image_id(&web_image(3), &format!("docker-pullable://{}", web_image(4)));
    let out = release(&h, 3, "v3", "wrong digest");
    assert_ne!(out.code(), 0);
    assert!(out.stderr().contains("refusing pods"), "{}", out.stderr());
    assert_eq!(cluster.selector().as_deref(), Some("1"));

    // A tag without a digest never reaches the server.
    let out = h.cli(&["release", "web", "--artifact", "registry.example/web:v4", "--version", "v4"]);
    assert_eq!(out.code(), 2, "{}", out.stderr());
    assert!(out.stderr().contains("not pinned by digest") && out.stderr().contains("hint:"), "{}", out.stderr());
}

#[test]
fn a_control_plane_sigkill_mid_release_is_recovered_from_the_cluster() {
    let cluster = Cluster::new("e2e-crash");
    let mut h = Harness::start_with(|dir| apps_config(dir, &cluster.namespace, "60s"));
    release(&h, 1, "v1", "first").ok();
    wait_status(&h, 1, "known-good");
    cluster.wait_endpoints(1);

    // Revision 2's pods stay unready, so the release waits; kill the control plane then.
    Testbed::shared().keep_unready(&cluster.namespace, backstop_kube::REVISION_LABEL, "2");
    let (token, api) = (h.token(), h.api_port);
    let background = std::thread::spawn(move || {
        std::process::Command::new(BIN)
            .args(["release", "web", "--artifact", &web_image(2), "--version", "v2"])
            .env("BACKSTOP_URL", format!("http://127.0.0.1:{api}"))
            .env("BACKSTOP_TOKEN", token)
            .output()
            .unwrap()
    });
    cluster.wait_replicas("web-r2", 2);
    h.kill9();
    let _ = background.join();
    // A half-switched Service, as a crash between the patch and the ledger's commit leaves it.
    cluster.set_selector("2");

    h.boot();
    // Recovery reads the cluster and puts it where the ledger says.
    wait_status(&h, 2, "failed");
    assert_eq!(cluster.selector().as_deref(), Some("1"));
    cluster.wait_endpoints(1);
    cluster.wait_replicas("web-r2", 0);
    let ops = h.json(&["operations", "web"]);
    let interrupted =
        ops.as_array().unwrap().iter().find(|o| o["kind"] == "release" && o["steps"][0]["detail"] == "revision 2");
    assert_eq!(interrupted.map(|o| o["state"].as_str().unwrap()), Some("reverted"), "{ops}");

    // Stopping backstop leaves the app serving: the cluster runs it, not the control plane.
    h.stop();
    assert_eq!(cluster.selector().as_deref(), Some("1"));
    assert_eq!(cluster.replicas("web-r1"), Some(2));
    cluster.wait_endpoints(1);
}

fn replica_sets(cluster: &Cluster) -> usize {
    cluster.rt.block_on(async {
        let api: Api<k8s_openapi::api::apps::v1::ReplicaSet> =
            Api::namespaced(cluster.client.clone(), &cluster.namespace);
        api.list(&Default::default()).await.unwrap().items.len()
    })
}

fn kubectl(cluster: &Cluster, args: &[&str]) {
    let out = Testbed::shared().cp.kubectl().args(["-n", &cluster.namespace]).args(args).output().unwrap();
    assert!(out.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn import_reads_a_deployments_history_and_undo_reaches_an_imported_revision() {
    let cluster = Cluster::new("e2e-import");
    // A Deployment the team ran before backstop: three revisions, each with its change-cause.
    let dir = tempfile::tempdir().unwrap();
    let legacy = WEB_TEMPLATE
        .replace("name: web }", "name: legacy, annotations: { kubernetes.io/change-cause: first } }")
        .replace("registry.example/web:latest", &web_image(11));
    std::fs::write(dir.path().join("legacy.yaml"), legacy).unwrap();
    kubectl(&cluster, &["apply", "-f", &dir.path().join("legacy.yaml").to_string_lossy()]);
    let deadline = Instant::now() + Duration::from_secs(90);
    for (n, cause) in [(12u32, "second"), (13, "third")] {
        while replica_sets(&cluster) < (n - 11) as usize {
            assert!(Instant::now() < deadline, "the deployment controller made no ReplicaSet");
            std::thread::sleep(Duration::from_millis(50));
        }
        let patch = serde_json::json!({
            "metadata": { "annotations": { "kubernetes.io/change-cause": cause } },
            "spec": { "template": { "spec": { "containers": [{ "name": "web", "image": web_image(n) }] } } }
        });
        kubectl(&cluster, &["patch", "deployment", "legacy", "-p", &patch.to_string()]);
    }
    while replica_sets(&cluster) < 3 {
        assert!(Instant::now() < deadline, "the deployment controller made no third ReplicaSet");
        std::thread::sleep(Duration::from_millis(50));
    }

    let h = Harness::start_with(|dir| apps_config(dir, &cluster.namespace, "60s"));
    let out = h.cli(&["import", "web", "--deployment", "legacy"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let rows = history(&h);
    let got: Vec<(u64, String)> = rows
        .iter()
        .map(|r| (r["revision"].as_u64().unwrap(), r["change_cause"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(got, vec![(1, "first".into()), (2, "second".into()), (3, "third".into())]);
    assert_eq!(status_of(&h, 1), "known-good");
    assert_eq!(cluster.selector().as_deref(), Some("3"), "backstop runs the newest");
    cluster.wait_endpoints(3);

    // Undo to an imported revision: a cold start of its image, then the patch.
    let out = h.cli(&["undo", "web", "--output", "json"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    let undo: serde_json::Value = serde_json::from_str(&out.stdout()).unwrap();
    assert_eq!((undo["revision"].as_u64(), undo["warm"].as_bool()), (Some(2), Some(false)), "{undo}");
    assert_eq!(cluster.selector().as_deref(), Some("2"));
    cluster.wait_endpoints(2);
    let images = cluster.rt.block_on(async {
        let api: Api<Deployment> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
        backstop_kube::manifest::image_of(&api.get("web-r2").await.unwrap(), None)
    });
    assert_eq!(images, Some(web_image(12)), "revision 2 runs the image its ReplicaSet ran");
    // History kept every revision and its change-cause.
    let causes: Vec<String> = history(&h).iter().map(|r| r["change_cause"].as_str().unwrap().to_owned()).collect();
    assert_eq!(causes, vec!["first", "second", "third"]);
    // A second import is refused: the ledger is the truth now.
    let again = h.cli(&["import", "web", "--deployment", "legacy"]);
    assert_ne!(again.code(), 0);
    assert!(again.stderr().contains("has revisions already"), "{}", again.stderr());
}
