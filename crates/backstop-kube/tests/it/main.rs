//! The Kubernetes driver and traffic against a real API server and controller manager (see
//! `backstop_kube::testbed`), as the `backstop` user with only the Role of
//! `deploy/kubernetes/rbac.yaml`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use backstop_core::AppName;
use backstop_driver::{Artifact, Driver, Instance, StartSpec, Traffic};
use backstop_kube::testbed::{Testbed, WEB_TEMPLATE, client_from, web_digest, web_image};
use backstop_kube::{KubeDriver, KubeSettings, KubeTraffic};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::Api;

struct Fixture {
    namespace: String,
    driver: KubeDriver,
    traffic: KubeTraffic,
    admin: kube::Client,
    _dir: tempfile::TempDir,
}

/// A namespace with the Role granted, a Service, and the driver and traffic as the `backstop` user.
async fn fixture(namespace: &str) -> Fixture {
    let tb = Testbed::shared();
    let namespace = tb.cp.app_namespace(namespace, &["web"]).await;
    let admin = tb.cp.admin().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let template = dir.path().join("web.yaml");
    std::fs::write(&template, WEB_TEMPLATE).expect("write template");
    let client = client_from(&tb.cp.backstop_kubeconfig).await;
    let settings = KubeSettings {
        kubeconfig: Some(tb.cp.backstop_kubeconfig.clone()),
        namespace: namespace.clone(),
        service: "web".into(),
        template,
        replicas: 2,
        container: None,
    };
    let driver = KubeDriver::new(client.clone(), settings, "/healthz").expect("driver");
    let traffic = KubeTraffic::new(client, &namespace, "web", "web").await.expect("traffic");
    Fixture { namespace, driver, traffic, admin, _dir: dir }
}

fn spec(revision: u64, n: u32) -> StartSpec {
    StartSpec {
        app: "web".parse::<AppName>().expect("name"),
        revision,
        artifact: Artifact::Image(web_image(n)),
        args: vec![],
        env: vec![("BACKSTOP_REVISION".into(), revision.to_string())],
        work_dir: std::env::temp_dir(),
        log_path: std::env::temp_dir().join("unused.log"),
    }
}

const AVAILABLE: Duration = Duration::from_secs(90);

/// Wait (generously) until the Service's endpoints hold exactly the pods of `revision`.
async fn endpoints_follow(f: &Fixture, revision: u64) -> Vec<String> {
    let prefix = format!("web-r{revision}-");
    let deadline = Instant::now() + AVAILABLE;
    loop {
        let pods = f.traffic.endpoint_pods().await.expect("endpoints");
        if pods.len() == 2 && pods.iter().all(|p| p.starts_with(&prefix)) {
            return pods;
        }
        assert!(Instant::now() < deadline, "endpoints never moved to revision {revision}: {pods:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn started(f: &Fixture, revision: u64, n: u32) -> Arc<dyn Instance> {
    let instance = f.driver.start(&spec(revision, n)).await.expect("start");
    instance.wait_healthy("/healthz", AVAILABLE).await.expect("available");
    instance
}

async fn selector_revision(f: &Fixture) -> Option<String> {
    let api: Api<Service> = Api::namespaced(f.admin.clone(), &f.namespace);
    let svc = api.get("web").await.expect("service");
    svc.spec.and_then(|s| s.selector).and_then(|s| s.get(backstop_kube::REVISION_LABEL).cloned())
}

async fn replicas(f: &Fixture, name: &str) -> Option<i32> {
    let api: Api<Deployment> = Api::namespaced(f.admin.clone(), &f.namespace);
    api.get(name).await.expect("deployment").spec.and_then(|s| s.replicas)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_releases_move_the_selector_and_the_endpoints_follow() {
    let f = fixture("two-releases").await;
    let r1 = started(&f, 1, 1).await;
    let e1 = backstop_kube::endpoint("web", 1);
    f.traffic.switch(Some(&e1)).await.expect("switch to 1");
    assert_eq!(selector_revision(&f).await.as_deref(), Some("1"));
    endpoints_follow(&f, 1).await;

    let _r2 = started(&f, 2, 2).await;
    let e2 = backstop_kube::endpoint("web", 2);
    let before = f.traffic.switch(Some(&e2)).await.expect("switch to 2");
    assert_eq!(before.map(|e| e.revision), Some(1));
    endpoints_follow(&f, 2).await;
    assert!(f.traffic.drain(&e1, AVAILABLE).await, "revision 1's pods left the endpoints");

    // Undo to the warm revision 1: one selector patch, its pods never went away.
    assert_eq!(replicas(&f, "web-r1").await, Some(2));
    f.traffic.switch(Some(&e1)).await.expect("undo");
    endpoints_follow(&f, 1).await;
    assert_eq!(r1.probe("/healthz", AVAILABLE).await.expect("probe"), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_revision_is_kept_at_zero_and_comes_back_by_scaling_up() {
    let f = fixture("cold-undo").await;
    let r1 = started(&f, 1, 1).await;
    f.traffic.switch(Some(&backstop_kube::endpoint("web", 1))).await.expect("switch");
    let _r2 = started(&f, 2, 2).await;
    f.traffic.switch(Some(&backstop_kube::endpoint("web", 2))).await.expect("switch");
    r1.stop(Duration::from_secs(30)).await;
    assert!(!r1.is_alive());
    assert_eq!(replicas(&f, "web-r1").await, Some(0), "kept, scaled to zero");

    // After a restart the handle finds it again, cold.
    let adopted = f.driver.adopt(&r1.handle()).await.expect("adopt");
    assert!(!adopted.is_alive(), "adopted as cold");

    // A cold undo: scale up, wait available, then the patch.
    let again = started(&f, 1, 1).await;
    assert!(again.is_alive());
    assert_eq!(replicas(&f, "web-r1").await, Some(2));
    f.traffic.switch(Some(&backstop_kube::endpoint("web", 1))).await.expect("switch back");
    endpoints_follow(&f, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revision_whose_pods_never_become_ready_is_not_available() {
    let f = fixture("never-ready").await;
    let _r1 = started(&f, 1, 1).await;
    f.traffic.switch(Some(&backstop_kube::endpoint("web", 1))).await.expect("switch");
    Testbed::shared().keep_unready(&f.namespace, backstop_kube::REVISION_LABEL, "2");
    let r2 = f.driver.start(&spec(2, 2)).await.expect("start");
    let e = r2.wait_healthy("/healthz", Duration::from_secs(5)).await.expect_err("never available");
    assert!(e.to_string().contains("0/2 pods ready"), "{e}");
    assert_eq!(r2.probe("/healthz", AVAILABLE).await.expect("probe"), 503);
    assert_eq!(selector_revision(&f).await.as_deref(), Some("1"), "the selector stayed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_reporting_another_digest_are_refused() {
    let f = fixture("wrong-digest").await;
    Testbed::shared()
        .report_image_id(&web_image(7), &format!("docker-pullable://registry.example/web@{}", web_digest(8)));
    let r = f.driver.start(&spec(1, 7)).await.expect("start");
    let e = r.wait_healthy("/healthz", AVAILABLE).await.expect_err("refused");
    assert!(e.to_string().contains(&web_digest(8)), "names what the pod runs: {e}");
    assert!(e.to_string().contains("refusing pods"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adopt_refuses_a_deployment_that_runs_another_image() {
    let f = fixture("adopt-other").await;
    let r1 = started(&f, 1, 1).await;
    let mut handle = r1.handle();
    handle["image"] = serde_json::json!(web_image(9));
    let e = f.driver.adopt(&handle).await.err().expect("refused");
    assert!(e.to_string().contains("not the recorded"), "{e}");
    assert!(f.driver.adopt(&r1.handle()).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tag_without_digest_is_refused_before_anything_is_created() {
    let f = fixture("tag-only").await;
    let mut s = spec(1, 1);
    s.artifact = Artifact::Image("registry.example/web:v2".into());
    let e = f.driver.start(&s).await.err().expect("refused");
    assert!(e.to_string().contains("not pinned by digest"), "{e}");
    let api: Api<Deployment> = Api::namespaced(f.admin.clone(), &f.namespace);
    assert!(api.get_opt("web-r1").await.expect("read").is_none(), "nothing was created");
}
