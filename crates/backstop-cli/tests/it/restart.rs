//! Restart, upgrade and reload of the control plane itself: the apps never notice.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::harness::{Harness, http_get, pid_alive};

/// The app's instances by revision: (revision, pid, role).
fn instances(h: &Harness) -> Vec<(u64, u32, String)> {
    let status = h.json(&["status", "shop"]);
    let mut all: Vec<(u64, u32, String)> = status["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (i["revision"].as_u64().unwrap(), i["pid"].as_u64().unwrap() as u32, i["role"].as_str().unwrap().to_owned())
        })
        .collect();
    all.sort();
    all
}

/// A harness whose control plane leaves the apps running when it stops and gives its requests
/// `window` to finish at a hand-over.
fn harness_leaving_apps_running(window: &str) -> Harness {
    let mut h = Harness::start("");
    h.stop();
    let text = h.config_text().replace("handover_window = \"0s\"", &format!("handover_window = \"{window}\""));
    std::fs::write(h.config_path(), text).unwrap();
    h.boot_with(&[]);
    h
}

/// Waits for `child` to exit; how long it took.
fn wait_exit(child: &mut std::process::Child, bound: Duration) -> Duration {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(start.elapsed() < bound, "the process did not exit within {bound:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
    start.elapsed()
}

/// A client hitting the app's public port, one request per connection, until told to stop.
struct Load {
    stop: Arc<AtomicBool>,
    served: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<(Vec<String>, Duration)>,
}

impl Load {
    fn start(port: u16) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(AtomicU64::new(0));
        let (stopping, counting) = (stop.clone(), served.clone());
        let thread = std::thread::spawn(move || {
            let mut failures = Vec::new();
            let mut slowest = Duration::ZERO;
            while !stopping.load(Ordering::Relaxed) {
                let sent = Instant::now();
                match http_get(port, "/") {
                    Ok((200, body)) if body.starts_with("shop v") => {
                        counting.fetch_add(1, Ordering::Relaxed);
                    }
                    other => failures.push(format!("{other:?}")),
                }
                slowest = slowest.max(sent.elapsed());
            }
            (failures, slowest)
        });
        Load { stop, served, thread }
    }

    fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    fn wait_served(&self, at_least: u64) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.served() < at_least {
            assert!(Instant::now() < deadline, "the load served only {} requests", self.served());
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn finish(self) -> (Vec<String>, Duration) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

/// One GET on `conn` (HTTP/1.1, kept alive): the status, and whether the server said it closes
/// the connection after it.
fn keep_alive_get(conn: &mut std::net::TcpStream) -> std::io::Result<(u16, bool)> {
    use std::io::{Read, Write};
    conn.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if conn.read(&mut byte)? == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "closed before an answer"));
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let length: usize =
        head.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
    let mut body = vec![0u8; length];
    conn.read_exact(&mut body)?;
    Ok((status, head.contains("connection: close")))
}

/// A client on kept-alive connections, as wrk and most HTTP clients are: it reconnects only when
/// the server says it closes. A request lost on a reused connection is a failure.
struct KeepAliveLoad {
    stop: Arc<AtomicBool>,
    served: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<Vec<String>>,
}

impl KeepAliveLoad {
    fn start(port: u16) -> KeepAliveLoad {
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(AtomicU64::new(0));
        let (stopping, counting) = (stop.clone(), served.clone());
        let thread = std::thread::spawn(move || {
            let mut failures = Vec::new();
            let mut conn: Option<std::net::TcpStream> = None;
            while !stopping.load(Ordering::Relaxed) {
                let stream = match conn.take() {
                    Some(c) => c,
                    None => match std::net::TcpStream::connect(("127.0.0.1", port)) {
                        Ok(c) => {
                            c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                            c
                        }
                        Err(e) => {
                            failures.push(format!("connect: {e}"));
                            continue;
                        }
                    },
                };
                let mut stream = stream;
                match keep_alive_get(&mut stream) {
                    Ok((200, closing)) => {
                        counting.fetch_add(1, Ordering::Relaxed);
                        if !closing {
                            conn = Some(stream);
                        }
                    }
                    other => failures.push(format!("{other:?}")),
                }
            }
            failures
        });
        KeepAliveLoad { stop, served, thread }
    }

    fn finish(self) -> (u64, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        let failures = self.thread.join().unwrap();
        (self.served.load(Ordering::Relaxed), failures)
    }
}

/// Done means for a restart: a new control plane started on the running one's state takes its
/// listeners over under continuous load, and no request fails; the instances are re-adopted
/// (same pids), the warm revision stays warm and `undo` is still a pointer swap.
#[test]
fn a_restart_under_load_loses_no_request() {
    let mut h = harness_leaving_apps_running("30s");
    h.release("v1", &[]).ok();
    h.wait_status(1, "known-good");
    h.release("v2", &[]).ok();
    h.wait_status(2, "known-good");
    let before = instances(&h);
    assert_eq!(before.len(), 2, "live and warm: {before:?}");

    let load = Load::start(h.app_port);
    let kept_alive = KeepAliveLoad::start(h.app_port);
    load.wait_served(50);
    let served_before = load.served();
    let mut old = h.server.take().unwrap();
    let asked = Instant::now();
    let successor = h.spawn_server(&["--stop-apps-on-exit"]);
    h.server = Some(successor);
    let old_exit = wait_exit(&mut old, Duration::from_secs(60));
    // The successor answers on the API it took over.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !matches!(http_get(h.api_port, "/v1/health"), Ok((200, _))) {
        assert!(Instant::now() < deadline, "the successor does not answer: {}", h.server_log());
        std::thread::sleep(Duration::from_millis(10));
    }
    let restarted = asked.elapsed();
    let served_during = load.served() - served_before;
    load.wait_served(load.served() + 50);
    let (failures, slowest) = load.finish();
    let (kept_alive_served, kept_alive_failures) = kept_alive.finish();
    assert!(
        failures.is_empty(),
        "{} failed requests: {:?}\n{}",
        failures.len(),
        &failures[..failures.len().min(5)],
        h.server_log()
    );
    assert!(
        kept_alive_failures.is_empty(),
        "{} failed requests on kept-alive connections: {:?}\n{}",
        kept_alive_failures.len(),
        &kept_alive_failures[..kept_alive_failures.len().min(5)],
        h.server_log()
    );
    assert!(kept_alive_served > 0, "the kept-alive client was served nothing");
    assert!(h.server.as_mut().unwrap().try_wait().unwrap().is_none(), "the successor exited: {}", h.server_log());

    let log = h.server_log();
    assert!(log.contains("handing over to a successor"), "no hand-over: {log}");
    assert!(log.contains("took over the listening sockets"), "no hand-over: {log}");
    // How long no process accepted (connections waited in the sockets' queues), as the successor saw it.
    let gap_ms: u64 = log
        .lines()
        .find(|l| l.contains("accepting on the handed-over sockets"))
        .and_then(|l| l.split("gap_ms=").nth(1))
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no hand-over gap in the log: {log}"));
    let after = instances(&h);
    assert_eq!(after, before, "the instances were re-adopted: {}", h.server_log());
    let status = h.json(&["status", "shop"]);
    assert_eq!(status["live_revision"], 2, "{status}");
    assert_eq!(status["warm_revisions"], serde_json::json!([1]), "{status}");

    let undo_started = Instant::now();
    let undo: serde_json::Value =
        serde_json::from_str(&h.cli(&["undo", "shop", "--output", "json"]).ok().stdout()).unwrap();
    let undo_took = undo_started.elapsed();
    assert_eq!(undo["warm"], true, "{undo}");
    assert_eq!(h.public_get(), (200, "shop v1\n".into()));
    let v1_pid = before.iter().find(|(r, _, _)| *r == 1).unwrap().1;
    assert!(instances(&h).iter().any(|(r, pid, _)| *r == 1 && *pid == v1_pid), "undo started nothing new");

    println!(
        "restart under load: {served_during} requests served while the control plane changed \
         ({restarted:?} from starting the successor to its API answering), 0 failed; listeners changed \
         hands in {gap_ms} ms (neither process accepting); hand-over to the old process's exit \
         {old_exit:?}; slowest request {slowest:?}; undo afterwards {undo_took:?} (warm swap); \
         {kept_alive_served} requests on kept-alive connections, 0 failed"
    );
}

/// Regression: a SIGKILL of the old control plane in the middle of a hand-over (after it passed
/// its sockets, before it confirmed its stop) made the successor refuse to start, and with both
/// gone nothing served the public port. Each round kills the old one a little later into the
/// successor's start, sweeping that window.
#[test]
fn a_sigkill_of_the_old_control_plane_during_a_hand_over_left_no_control_plane() {
    let mut h = harness_leaving_apps_running("5s");
    h.release("v1", &[]).ok();
    h.wait_status(1, "known-good");
    let before = instances(&h);
    for round in 0..20u64 {
        let mut old = h.server.take().unwrap();
        let successor = h.spawn_server(&["--stop-apps-on-exit"]);
        // Fault injection, not a wait: the moment of the kill is what varies.
        std::thread::sleep(Duration::from_micros(round * 1500));
        old.kill().unwrap();
        old.wait().unwrap();
        // Whatever the moment, the successor comes up (boot_child fails if it exits)...
        h.boot_child(successor);
        // ...serves the app and has its instance on the books.
        assert_eq!(h.public_get(), (200, "shop v1\n".into()), "round {round}: {}", h.server_log());
        assert_eq!(instances(&h), before, "round {round}: the instance was re-adopted");
    }
    let log = h.server_log();
    println!(
        "killed mid-hand-over: {} of 20 rounds fell back on the sockets already passed, {} found the old one gone before asking",
        log.matches("ended before it confirmed").count(),
        log.matches("ended before it handed over").count()
    );
}

/// Regression: SIGTERM to `backstop server` stopped every app's instances. Now they keep running
/// and the next start re-adopts them, warm ones included.
#[test]
fn sigterm_stopped_every_app() {
    let mut h = harness_leaving_apps_running("0s");
    h.release("v1", &[]).ok();
    h.wait_status(1, "known-good");
    h.release("v2", &[]).ok();
    h.wait_status(2, "known-good");
    let before = instances(&h);
    let mut server = h.server.take().unwrap();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(server.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let took = wait_exit(&mut server, Duration::from_secs(30));
    for (revision, pid, _) in &before {
        assert!(pid_alive(*pid), "revision {revision}'s instance (pid {pid}) stopped with the server");
    }
    // Served by the instance while no control plane runs? Nothing listens: that is what the
    // hand-over is for. The next start re-adopts the same processes.
    h.boot();
    assert_eq!(instances(&h), before, "{}", h.server_log());
    assert_eq!(h.public_get(), (200, "shop v2\n".into()));
    let undo: serde_json::Value =
        serde_json::from_str(&h.cli(&["undo", "shop", "--output", "json"]).ok().stdout()).unwrap();
    assert_eq!(undo["warm"], true, "the warm revision stayed warm: {undo}");
    println!("SIGTERM to exit: {took:?}");
}

/// `backstop server --reload`, through this harness's config.
fn reload(h: &Harness) -> crate::harness::Out {
    h.cli(&["server", "--config", h.config_path().to_str().unwrap(), "--reload"])
}

/// A new app in the config is started by a reload, with its public listener; the server and the
/// apps already running are left as they are.
#[test]
fn a_reload_adds_an_app_without_a_restart() {
    let mut h = Harness::start("");
    h.release("v1", &[]).ok();
    let before = instances(&h);
    let server_pid = h.server.as_ref().unwrap().id();
    let cart_port = crate::harness::free_port();
    let text = format!(
        "{}\n[apps.cart]\nlisten = \"127.0.0.1:{cart_port}\"\nhealth = \"/healthz\"\nsoak = \"300ms\"\n",
        h.config_text()
    );
    std::fs::write(h.config_path(), text).unwrap();
    let out = reload(&h);
    assert_eq!(out.code(), 0, "{}\n{}", out.stderr(), h.server_log());
    assert!(out.stdout().contains("apps added: cart"), "{}", out.stdout());

    let art = h.artifact("c1", &[]);
    h.cli(&["release", "cart", "--artifact", art.to_str().unwrap(), "--version", "c1"]).ok();
    assert_eq!(http_get(cart_port, "/").unwrap(), (200, "shop c1\n".into()));
    assert_eq!(h.server.as_mut().unwrap().id(), server_pid);
    assert!(h.server.as_mut().unwrap().try_wait().unwrap().is_none(), "the server restarted");
    assert_eq!(instances(&h), before, "shop's instance was left alone");
    assert_eq!(h.public_get(), (200, "shop v1\n".into()));
    // Reloading the same file again adds nothing.
    let again = reload(&h);
    assert_eq!(again.code(), 0, "{}", again.stderr());
    assert!(again.stdout().contains("apps added: none"), "{}", again.stdout());
}

/// A config that does not read, or a change a reload cannot make, keeps the running config, says
/// why (`error:`/`hint:`), and exits 2 or 1; SIGHUP with a bad file does not stop the server.
#[test]
fn a_bad_config_on_reload_keeps_the_running_one() {
    let mut h = Harness::start("");
    h.release("v1", &[]).ok();
    let good = h.config_text();

    std::fs::write(h.config_path(), format!("{good}\n[apps.cart\n")).unwrap();
    let bad = reload(&h);
    assert_eq!(bad.code(), 2, "{}", bad.stderr());
    assert!(bad.stderr().contains("error:") && bad.stderr().contains("hint:"), "{}", bad.stderr());

    // A file that reads but is invalid (an app on the API's port) is bad input too.
    let clash = format!("{good}\n[apps.cart]\nlisten = \"127.0.0.1:{}\"\n", h.api_port);
    std::fs::write(h.config_path(), clash).unwrap();
    let invalid = reload(&h);
    assert_eq!(invalid.code(), 2, "{}", invalid.stderr());

    let moved = format!("127.0.0.1:{}", crate::harness::free_port());
    std::fs::write(h.config_path(), good.replace(&format!("127.0.0.1:{}", h.app_port), &moved)).unwrap();
    let refused = reload(&h);
    assert_eq!(refused.code(), 1, "{}", refused.stderr());
    assert!(refused.stderr().contains("`apps.shop.listen` changed"), "{}", refused.stderr());
    assert!(refused.stderr().contains("running config stays"), "{}", refused.stderr());
    assert!(refused.stderr().contains("hint:"), "{}", refused.stderr());

    std::fs::write(h.config_path(), format!("{good}\n[apps.cart\n")).unwrap();
    let pid = h.server.as_ref().unwrap().id();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), nix::sys::signal::Signal::SIGHUP).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !h.server_log().contains("reload refused") {
        assert!(Instant::now() < deadline, "SIGHUP was not answered: {}", h.server_log());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(h.server.as_mut().unwrap().try_wait().unwrap().is_none(), "SIGHUP stopped the server");
    assert_eq!(h.public_get(), (200, "shop v1\n".into()));
    std::fs::write(h.config_path(), &good).unwrap();
    assert_eq!(reload(&h).code(), 0);
}

/// A reload replaces an app's settings: the next release soaks as long as the file now says, the
/// proxy writes the access log it names, and the instance running is left alone.
#[test]
fn a_reload_changes_an_app_s_settings_without_a_restart() {
    let h = Harness::start("");
    h.release("v1", &[]).ok();
    h.wait_status(1, "known-good");
    let before = instances(&h);
    let server_pid = h.server.as_ref().unwrap().id();
    let log = h.state().join("..").join("shop-access.log");
    let good = h.config_text();
    assert!(good.contains("soak = \"300ms\""), "{good}");
    let text = good.replace("soak = \"300ms\"", &format!("soak = \"10m\"\naccess_log = \"{}\"", log.display()));
    std::fs::write(h.config_path(), text).unwrap();
    let out = reload(&h);
    assert_eq!(out.code(), 0, "{}\n{}", out.stderr(), h.server_log());
    assert!(out.stdout().contains("apps added: none; settings changed: shop"), "{}", out.stdout());
    assert_eq!(h.server.as_ref().unwrap().id(), server_pid);
    assert_eq!(instances(&h), before, "the running instance was left alone");

    // The proxy writes the access log it was given.
    assert_eq!(h.public_get(), (200, "shop v1\n".into()));
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&log).unwrap_or_default().contains("GET /") {
        assert!(Instant::now() < deadline, "no access log line in {}", log.display());
        std::thread::sleep(Duration::from_millis(20));
    }
    // The next release soaks for the new 10 minutes, not the old 300 ms.
    h.release("v2", &[]).ok();
    let rev = h.json(&["history", "shop", "--revision", "2"]);
    let at = |k: &str| {
        let t = rev["revision"][k].as_str().unwrap_or_else(|| panic!("no {k}: {rev}"));
        chrono::DateTime::parse_from_rfc3339(t).unwrap()
    };
    let soak = at("soak_until") - at("live_since");
    assert!(soak > chrono::Duration::minutes(9), "soaks {soak:?}: {rev}");
    assert_eq!(rev["revision"]["status"], "soaking", "{rev}");
}

/// `--reload` with no server running on the config's state says so and exits 3.
#[test]
fn reload_without_a_running_server_is_unreachable() {
    let mut h = Harness::start("");
    h.stop();
    let out = reload(&h);
    assert_eq!(out.code(), 3, "{}", out.stderr());
    assert!(out.stderr().contains("no backstop server answers"), "{}", out.stderr());
    assert!(out.stderr().contains("hint:"), "{}", out.stderr());
}

/// `backstop server` as a service manager with socket activation starts it: the listening
/// sockets (`sockets`, in order) become fds 3, 4, … of the process, with `LISTEN_FDS` and
/// `LISTEN_PID` set as systemd sets them. The test process keeps its own copies, as the manager
/// does, so the sockets outlive every control plane.
fn spawn_activated(h: &Harness, sockets: &[&std::net::TcpListener], args: &[&str]) -> std::process::Child {
    use std::os::fd::AsRawFd;
    // Inheritable copies at 10 or above (F_DUPFD leaves close-on-exec off), moved to 3, 4, … by
    // bash, which then becomes the server (`exec` keeps its pid: `$$` is the server's pid).
    let copies: Vec<i32> =
        sockets.iter().map(|s| nix::fcntl::fcntl(s.as_raw_fd(), nix::fcntl::FcntlArg::F_DUPFD(10)).unwrap()).collect();
    let mut script = String::from("exec");
    for (i, fd) in copies.iter().enumerate() {
        script += &format!(" {}<&{fd} {fd}<&-", 3 + i);
    }
    script += &format!("; LISTEN_PID=$$ LISTEN_FDS={} exec \"$0\" server --config \"$@\"", copies.len());
    let mut bash = std::process::Command::new("bash");
    bash.arg("-c").arg(script).arg(crate::harness::BIN).arg(h.config_path()).args(args);
    let child = crate::harness::server_io(&mut bash, &h.dir.path().join("server.log")).spawn().unwrap();
    for fd in copies {
        nix::unistd::close(fd).unwrap();
    }
    child
}

/// An access log that cannot be opened is bad config: at start (exit 2, naming the key) and on
/// reload (exit 2, the running config stays).
#[test]
fn an_access_log_that_cannot_be_opened_is_bad_config() {
    let mut h = Harness::start("");
    let good = h.config_text();
    let bad = good.replace("soak = \"300ms\"", "soak = \"300ms\"\naccess_log = \"/nonexistent-dir/shop.log\"");
    std::fs::write(h.config_path(), &bad).unwrap();
    let refused = reload(&h);
    assert_eq!(refused.code(), 2, "{}", refused.stderr());
    assert!(refused.stderr().contains("`apps.shop.access_log`"), "{}", refused.stderr());
    assert_eq!(h.public_get(), (503, "no live instance\n".into()), "still serving, as before");
    h.stop();
    let out = std::process::Command::new(crate::harness::BIN)
        .args(["server", "--config", h.config_path().to_str().unwrap()])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot open the access log /nonexistent-dir/shop.log (`apps.shop.access_log`)"),
        "{stderr}"
    );
    assert!(stderr.contains("hint:"), "{stderr}");
}

/// A service manager that passes something other than a TCP listener (a file, here) gets a
/// refusal naming the fd, as bad input (exit 2), and nothing starts.
#[test]
fn a_passed_socket_that_is_not_a_tcp_listener_is_bad_input() {
    let mut h = Harness::start("");
    h.stop();
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg("exec 3<\"$1\"; LISTEN_PID=$$ LISTEN_FDS=1 exec \"$0\" server --config \"$1\"")
        .arg(crate::harness::BIN)
        .arg(h.config_path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("error: cannot use the listening sockets passed by the service manager"), "{stderr}");
    assert!(stderr.contains("fd 3"), "{stderr}");
    assert!(stderr.contains("hint: pass TCP listening sockets only"), "{stderr}");
    assert!(http_get(h.api_port, "/v1/health").is_err(), "nothing listens");
}

/// Done means for a restart as a service manager does it (SIGTERM, then start) under continuous
/// load: with the listening sockets held by the manager (socket activation), no request fails
/// while no control plane runs, the instances are re-adopted, the warm revision stays warm and
/// `undo` afterwards is a pointer swap.
#[test]
fn sigterm_then_start_under_socket_activation_loses_no_request() {
    let mut h = harness_leaving_apps_running("30s");
    h.release("v1", &[]).ok();
    h.wait_status(1, "known-good");
    h.release("v2", &[]).ok();
    h.wait_status(2, "known-good");
    h.stop();
    let api = std::net::TcpListener::bind(("127.0.0.1", h.api_port)).unwrap();
    let app = std::net::TcpListener::bind(("127.0.0.1", h.app_port)).unwrap();

    let health = |h: &Harness| matches!(http_get(h.api_port, "/v1/health"), Ok((200, _)));
    let wait_up = |h: &Harness, child: &mut std::process::Child| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !health(h) {
            assert!(child.try_wait().unwrap().is_none(), "server exited: {}", h.server_log());
            assert!(Instant::now() < deadline, "server did not come up: {}", h.server_log());
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    let mut first = spawn_activated(&h, &[&api, &app], &[]);
    wait_up(&h, &mut first);
    assert!(
        h.server_log().contains("serving on the listening sockets the service manager passed"),
        "{}",
        h.server_log()
    );
    let before = instances(&h);
    assert_eq!(before.len(), 2, "live and warm: {before:?}");

    let load = Load::start(h.app_port);
    load.wait_served(50);
    let served_before = load.served();
    let stopped = Instant::now();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(first.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    wait_exit(&mut first, Duration::from_secs(60));
    // This one stops the apps when it stops, so that the test leaves no process behind.
    let mut second = spawn_activated(&h, &[&api, &app], &["--stop-apps-on-exit"]);
    wait_up(&h, &mut second);
    let down = stopped.elapsed();
    let served_during = load.served() - served_before;
    load.wait_served(load.served() + 50);
    let (failures, slowest) = load.finish();
    assert!(
        failures.is_empty(),
        "{} failed requests: {:?}\n{}",
        failures.len(),
        &failures[..failures.len().min(5)],
        h.server_log()
    );
    assert_eq!(instances(&h), before, "the instances were re-adopted: {}", h.server_log());
    let undo: serde_json::Value =
        serde_json::from_str(&h.cli(&["undo", "shop", "--output", "json"]).ok().stdout()).unwrap();
    assert_eq!(undo["warm"], true, "the warm revision stayed warm: {undo}");
    assert_eq!(h.public_get(), (200, "shop v1\n".into()));
    println!(
        "SIGTERM then start (socket activation) under load: {served_during} requests served in the \
         {down:?} from SIGTERM to the new API answering, 0 failed; slowest request {slowest:?}"
    );
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(second.id() as i32), nix::sys::signal::Signal::SIGTERM);
    wait_exit(&mut second, Duration::from_secs(60));
}
