//! Benchmark (run by `bench/kube.sh`): on one real control plane (`backstop_kube::testbed`),
//! (a) `backstop release` of a Kubernetes app, CLI start to exit;
//! (b) `backstop undo` to a warm revision, from the CLI's start to the Service's endpoints holding
//!     only the old revision's pods;
//! (c) `kubectl rollout undo` of a plain Deployment with the same template and replicas, from the
//!     CLI's start to its new ReplicaSet being available.
//!
//! Usage: kube_undo_bench BACKSTOP_BIN [ROUNDS]

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use backstop_kube::testbed::{Testbed, WEB_TEMPLATE, web_image};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Endpoints;
use kube::Api;

/// The tests' template with two replicas and a readiness probe of its own, so that the plain
/// Deployment `kubectl rollout undo` runs is the same as what backstop releases.
fn template() -> String {
    let probe = "          readinessProbe: { httpGet: { path: /healthz, port: 8080 }, periodSeconds: 2 }\n";
    WEB_TEMPLATE.replace("spec:\n  selector:", "spec:\n  replicas: 2\n  selector:") + probe
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run");
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Wait until `revision` is known-good (its soak is short).
async fn wait_known_good(bin: &PathBuf, url: &str, token: &str, revision: u32) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = Command::new(bin)
            .args(["history", "web", "--output", "json"])
            .env("BACKSTOP_URL", url)
            .env("BACKSTOP_TOKEN", token)
            .output()
            .expect("history");
        let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let ok = rows
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["revision"] == u64::from(revision) && r["status"] == "known-good"));
        if ok {
            return;
        }
        assert!(Instant::now() < deadline, "revision {revision} never became known-good");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let bin = PathBuf::from(args.next().expect("usage: kube_undo_bench BACKSTOP_BIN [ROUNDS]"));
    let rounds: u32 = args.next().and_then(|r| r.parse().ok()).unwrap_or(5);
    let tb = Testbed::shared();
    let ns = tb.cp.app_namespace("bench", &["web", "plain"]).await;
    let admin = tb.cp.admin().await;
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("web.yaml"), template()).expect("template");
    let api_port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:{api_port}\"\nstate = \"state\"\n[apps.web]\ndriver = \"kubernetes\"\n\
         soak = \"100ms\"\nhealth_timeout = \"60s\"\n[apps.web.kubernetes]\nkubeconfig = \"{}\"\nnamespace = \"{ns}\"\n\
         service = \"web\"\ntemplate = \"web.yaml\"\nreplicas = 2\n",
        tb.cp.backstop_kubeconfig.display()
    );
    std::fs::write(dir.path().join("backstop.toml"), config).expect("config");
    let mut server = Command::new(&bin)
        .args(["server", "--config"])
        .arg(dir.path().join("backstop.toml"))
        .stderr(std::fs::File::create(dir.path().join("server.log")).expect("log"))
        .spawn()
        .expect("server");
    let url = format!("http://127.0.0.1:{api_port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !dir.path().join("state/admin.token").exists()
        || std::net::TcpStream::connect(("127.0.0.1", api_port)).is_err()
    {
        assert!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let token = std::fs::read_to_string(dir.path().join("state/admin.token")).expect("token").trim().to_owned();
    let cli = |args: &[&str]| {
        let mut c = Command::new(&bin);
        c.args(args).env("BACKSTOP_URL", &url).env("BACKSTOP_TOKEN", &token).stdout(Stdio::null());
        c
    };
    let endpoints: Api<Endpoints> = Api::namespaced(admin.clone(), &ns);
    let only = |revision: u32, prefix: &'static str| {
        let endpoints = endpoints.clone();
        async move {
            let want = format!("{prefix}{revision}-");
            loop {
                let pods: Vec<String> = endpoints
                    .get_opt(if prefix == "web-r" { "web" } else { "plain" })
                    .await
                    .ok()
                    .flatten()
                    .and_then(|e| e.subsets)
                    .unwrap_or_default()
                    .into_iter()
                    .flat_map(|s| s.addresses.unwrap_or_default())
                    .filter_map(|a| a.target_ref.and_then(|t| t.name))
                    .collect();
                if pods.len() == 2 && pods.iter().all(|p| p.starts_with(&want)) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };

    // (a) and (b): release N, then undo to N-1 (warm).
    let (mut releases, mut undos) = (Vec::new(), Vec::new());
    let mut n = 1;
    run(&mut cli(&["release", "web", "--artifact", &web_image(n), "--version", "v1"]));
    wait_known_good(&bin, &url, &token, n).await;
    for _ in 0..rounds {
        n += 1;
        let t = Instant::now();
        run(&mut cli(&["release", "web", "--artifact", &web_image(n), "--version", &format!("v{n}")]));
        releases.push(ms(t.elapsed()));
        only(n, "web-r").await;
        // Undo goes to the newest known-good revision older than the live one (warm: the one
        // the release left); wait until the release is proven so the next round's undo has it.
        wait_known_good(&bin, &url, &token, n).await;
        let t = Instant::now();
        let out = cli(&["undo", "web", "--output", "json"]).stdout(Stdio::piped()).output().expect("undo");
        assert!(out.status.success(), "undo: {}", String::from_utf8_lossy(&out.stderr));
        let undo: serde_json::Value = serde_json::from_slice(&out.stdout).expect("undo json");
        let target = undo["revision"].as_u64().expect("revision") as u32;
        assert!(undo["warm"].as_bool() == Some(true), "the undo was not a swap: {undo}");
        only(target, "web-r").await;
        undos.push(ms(t.elapsed()));
        // The next round releases on top of the revision undone to.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // (c) the same on a plain Deployment with kubectl.
    let plain = template().replace("web", "plain").replace("registry.example/plain:latest", &web_image(1000));
    std::fs::write(dir.path().join("plain.yaml"), &plain).expect("plain");
    let kubectl = |args: &[&str]| {
        let mut c = tb.cp.kubectl();
        c.args(["-n", &ns]).args(args).stdout(Stdio::null());
        c
    };
    run(&mut kubectl(&["apply", "-f", &dir.path().join("plain.yaml").to_string_lossy()]));
    let deployments: Api<Deployment> = Api::namespaced(admin.clone(), &ns);
    let available = || {
        let deployments = deployments.clone();
        async move {
            loop {
                if let Ok(d) = deployments.get("plain").await {
                    let s = d.status.unwrap_or_default();
                    let gen_ok = s.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0);
                    if gen_ok
                        && s.updated_replicas == Some(2)
                        && s.available_replicas == Some(2)
                        && s.replicas == Some(2)
                    {
                        return;
                    }
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    available().await;
    let mut kubectl_undos = Vec::new();
    for round in 0..rounds {
        run(&mut kubectl(&["set", "image", "deployment/plain", &format!("plain={}", web_image(2000 + round))]));
        available().await;
        let t = Instant::now();
        run(&mut kubectl(&["rollout", "undo", "deployment/plain"]));
        available().await;
        kubectl_undos.push(ms(t.elapsed()));
    }
    let _ = server.kill();
    let _ = server.wait();
    let show = |name: &str, v: &[f64]| println!("{name:<40} median {:>8.1} ms  runs {v:.1?}", median(v.to_vec()));
    show("backstop release (CLI start to exit)", &releases);
    show("backstop undo, warm (to endpoints)", &undos);
    show("kubectl rollout undo (to RS available)", &kubectl_undos);
    println!("ratio kubectl/backstop undo: {:.2}", median(kubectl_undos) / median(undos));
}
