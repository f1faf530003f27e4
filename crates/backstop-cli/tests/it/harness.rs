//! A real control plane in a child process, real CLI invocations, and a
//! minimal HTTP client for the apps' public listeners.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_backstop");

/// What every control plane a test starts gets, however it is started: no colour, `info` logs,
/// no output but its log, appended to `log`.
pub fn server_io<'c>(cmd: &'c mut Command, log: &Path) -> &'c mut Command {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
    cmd.env("NO_COLOR", "1").env("BACKSTOP_LOG", "info").stdout(Stdio::null()).stderr(log)
}

/// SIGTERM `child` and wait for it to exit (SIGKILL after 20 s).
pub fn stop_gracefully(child: &mut Child) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.wait();
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub api_port: u16,
    pub app_port: u16,
    pub server: Option<Child>,
    pub app_extra: String,
    /// A whole config of the test's own, instead of the one app `shop`.
    pub config_override: Option<String>,
}

impl Harness {
    /// Start a control plane with one app `shop`; `app_extra` adds TOML keys to `[apps.shop]`.
    pub fn start(app_extra: &str) -> Harness {
        let dir = tempfile::Builder::new().prefix("backstop-it-").tempdir().unwrap();
        let mut h = Harness {
            dir,
            api_port: free_port(),
            app_port: free_port(),
            server: None,
            app_extra: app_extra.to_owned(),
            config_override: None,
        };
        std::fs::write(h.config_path(), h.config_text()).unwrap();
        h.boot();
        h
    }

    /// Start a control plane with a config of the test's own: `config` gets the API port and
    /// returns the apps' sections (the `[server]` section is the harness's).
    pub fn start_with(config: impl FnOnce(&Path) -> String) -> Harness {
        let dir = tempfile::Builder::new().prefix("backstop-it-").tempdir().unwrap();
        let mut h = Harness {
            api_port: free_port(),
            app_port: free_port(),
            server: None,
            app_extra: String::new(),
            config_override: Some(config(dir.path())),
            dir,
        };
        std::fs::write(h.config_path(), h.config_text()).unwrap();
        h.boot();
        h
    }

    pub fn config_text(&self) -> String {
        if let Some(apps) = &self.config_override {
            return format!("{}\n{apps}", self.server_section());
        }
        let defaults = [
            ("health", "\"/healthz\""),
            ("soak", "\"300ms\""),
            ("keep_warm", "\"10m\""),
            ("health_timeout", "\"5s\""),
            ("health_interval", "\"100ms\""),
            ("stop_grace", "\"2s\""),
            ("drain_timeout", "\"2s\""),
        ];
        let mut app = format!("listen = \"127.0.0.1:{}\"\n", self.app_port);
        for (k, v) in defaults {
            if !self.app_extra.lines().any(|l| l.trim_start().starts_with(&format!("{k} "))) {
                app += &format!("{k} = {v}\n");
            }
        }
        app += &self.app_extra;
        format!("{}\n[apps.shop]\n{app}", self.server_section())
    }

    /// The `[server]` section: a stop does not wait for requests (a hand-over window of 0s).
    pub fn server_section(&self) -> String {
        format!("[server]\nlisten = \"127.0.0.1:{}\"\nstate = \"state\"\nhandover_window = \"0s\"\n", self.api_port)
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("backstop.toml")
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// Start the control plane; its instances stop with it, so no test leaves processes behind.
    pub fn boot(&mut self) {
        self.boot_with(&["--stop-apps-on-exit"]);
    }

    /// Start the control plane with extra `backstop server` arguments and wait for its API.
    pub fn boot_with(&mut self, args: &[&str]) {
        let child = self.spawn_server(args);
        self.server = Some(child);
        self.wait_api();
    }

    /// A `backstop server` process on this harness's config, its log appended to `server.log`.
    pub fn spawn_server(&self, args: &[&str]) -> Child {
        self.spawn_server_env(args, &[], &self.dir.path().join("server.log"))
    }

    /// A `backstop server` process on this harness's config with `env` added, its log appended
    /// to `log`.
    pub fn spawn_server_env(&self, args: &[&str], env: &[(&str, &str)], log: &Path) -> Child {
        let mut cmd = Command::new(BIN);
        server_io(cmd.args(["server", "--config"]).arg(self.config_path()).args(args), log);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.spawn().unwrap()
    }

    /// Take `child` (a `backstop server` on this harness's config, started by the test) as the
    /// control plane and wait for its API.
    pub fn boot_child(&mut self, child: Child) {
        self.server = Some(child);
        self.wait_api();
    }

    fn wait_api(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok((200, _)) = http_get(self.api_port, "/v1/health") {
                return;
            }
            if let Some(status) = self.server.as_mut().unwrap().try_wait().unwrap() {
                panic!("server exited with {status}: {}", self.server_log());
            }
            assert!(Instant::now() < deadline, "server did not come up: {}", self.server_log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    pub fn token(&self) -> String {
        std::fs::read_to_string(self.state().join("admin.token")).unwrap().trim().to_owned()
    }

    /// SIGKILL the control plane: no cleanup at all.
    pub fn kill9(&mut self) {
        let mut child = self.server.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// SIGTERM and wait: the graceful path.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.server.take() {
            stop_gracefully(&mut child);
        }
    }

    /// Run the CLI against this control plane with the admin token.
    pub fn cli(&self, args: &[&str]) -> Out {
        self.cli_with(args, &[("BACKSTOP_TOKEN", &self.token())])
    }

    /// Run from the test's own directory, which is in no git repository: a `--git-commit` is
    /// checked against a repository only when the test makes one and names it.
    pub fn cli_with(&self, args: &[&str], env: &[(&str, &str)]) -> Out {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("BACKSTOP_URL", format!("http://127.0.0.1:{}", self.api_port))
            .env_remove("BACKSTOP_TOKEN")
            .env("NO_COLOR", "1")
            .env("BACKSTOP_ACTOR", "tester");
        for (k, v) in env {
            cmd.env(k, v);
        }
        Out(cmd.output().unwrap())
    }

    /// A directory artifact of the demo service at `version` with extra flags.
    pub fn artifact(&self, version: &str, flags: &[&str]) -> PathBuf {
        let dir = self.dir.path().join("artifacts").join(version);
        backstop_cli::demo_app::write_artifact(&dir, Path::new(BIN), version, flags).unwrap();
        dir
    }

    pub fn release(&self, version: &str, flags: &[&str]) -> Out {
        let art = self.artifact(version, flags);
        self.cli(&[
            "release",
            "shop",
            "--artifact",
            art.to_str().unwrap(),
            "--version",
            version,
            "--change-cause",
            &format!("ship {version}"),
        ])
    }

    /// Run a release in another thread (for tests that act while it runs).
    pub fn release_in_background(&self, version: &str, flags: &[&str]) -> std::thread::JoinHandle<Output> {
        let art = self.artifact(version, flags);
        let (token, api, version) = (self.token(), self.api_port, version.to_owned());
        std::thread::spawn(move || {
            Command::new(BIN)
                .args(["release", "shop", "--artifact", art.to_str().unwrap(), "--version", &version])
                .env("BACKSTOP_URL", format!("http://127.0.0.1:{api}"))
                .env("BACKSTOP_TOKEN", token)
                .output()
                .unwrap()
        })
    }

    /// GET / through the app's public listener: (status, body).
    pub fn public_get(&self) -> (u16, String) {
        http_get(self.app_port, "/").unwrap_or((0, String::new()))
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = args.to_vec();
        all.extend(["--output", "json"]);
        let out = self.cli(&all);
        assert_eq!(out.code(), 0, "{:?} failed: {}", args, out.stderr());
        serde_json::from_str(&out.stdout()).unwrap()
    }

    pub fn revision_status(&self, n: u64) -> String {
        let h = self.json(&["history", "shop"]);
        h.as_array()
            .unwrap()
            .iter()
            .find(|r| r["revision"] == n)
            .map(|r| r["status"].as_str().unwrap().to_owned())
            .unwrap_or_default()
    }

    pub fn wait_status(&self, n: u64, status: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.revision_status(n);
            if got == status {
                return;
            }
            assert!(Instant::now() < deadline, "revision {n} stayed {got}, expected {status}: {}", self.server_log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.stop();
    }
}

pub struct Out(pub Output);

impl Out {
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    #[track_caller]
    pub fn ok(&self) -> &Self {
        assert_eq!(self.code(), 0, "stdout: {}\nstderr: {}", self.stdout(), self.stderr());
        self
    }
}

/// One HTTP/1.1 GET on a fresh connection.
pub fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    http_request(port, "GET", path, &[], b"")
}

/// One HTTP/1.1 request on a fresh connection, with extra header lines and a
/// body: (status, body).
pub fn http_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head += &format!("{k}: {v}\r\n");
    }
    head += "\r\n";
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Ok((status, body))
}

pub fn pid_alive(pid: u32) -> bool {
    // A zombie counts as gone.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit_once(')').map(|(_, rest)| rest.trim_start()).is_some_and(|rest| !rest.starts_with('Z')),
        Err(_) => false,
    }
}
