//! A throwaway PostgreSQL cluster for the tests: `initdb` into a temp dir, `pg_ctl start` on a free port,
//! stopped when the last test holding it is done. Each test gets its own database in it.

use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};

use tempfile::TempDir;

const INSTALL: &str = "PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql";

pub struct Cluster {
    dir: TempDir,
    port: u16,
    /// Run the server binaries as this user (`postgres`) because we are root and initdb refuses root.
    run_as: Option<String>,
    pg_ctl: PathBuf,
}

static SHARED: Mutex<Weak<Cluster>> = Mutex::new(Weak::new());
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

/// A database of its own, in the cluster shared by the tests running now.
pub struct TestDb {
    _cluster: Arc<Cluster>,
    pub url: String,
}

impl TestDb {
    pub async fn new() -> TestDb {
        let cluster = {
            let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
            match shared.upgrade() {
                Some(cluster) => cluster,
                None => {
                    let cluster = Arc::new(Cluster::start());
                    *shared = Arc::downgrade(&cluster);
                    cluster
                }
            }
        };
        let name = format!("t{}_{}", std::process::id(), NEXT_DB.fetch_add(1, Ordering::Relaxed));
        let admin = cluster.url("postgres");
        let (client, connection) =
            tokio_postgres::connect(&admin, tokio_postgres::NoTls).await.expect("connect to test cluster");
        tokio::spawn(connection);
        client.batch_execute(&format!("CREATE DATABASE {name}")).await.expect("create test database");
        TestDb { url: cluster.url(&name), _cluster: cluster }
    }

    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls).await.expect("connect");
        tokio::spawn(connection);
        client
    }

    pub async fn exec(&self, sql: &str) {
        self.client().await.batch_execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    }
}

fn find_binary(name: &str) -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).map(|dir| dir.join(name)).collect::<Vec<_>>())
        .unwrap_or_default();
    let mut versioned: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dirs| dirs.flatten().map(|d| d.path().join("bin").join(name)).collect())
        .unwrap_or_default();
    versioned.sort();
    versioned.reverse();
    on_path.into_iter().chain(versioned).find(|p| p.is_file()).unwrap_or_else(|| panic!("{INSTALL}"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("bind a free port").port()
}

impl Cluster {
    fn start() -> Cluster {
        let initdb = find_binary("initdb");
        let pg_ctl = find_binary("pg_ctl");
        let dir = tempfile::Builder::new().prefix("bs-pg").tempdir_in("/tmp").expect("temp dir");
        let root = std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false);
        let run_as = root.then(|| {
            let uid = |flag: &str| -> u32 {
                let out = Command::new("id").args([flag, "postgres"]).output().expect("run id");
                assert!(out.status.success(), "running as root needs a `postgres` user for initdb: {INSTALL}");
                String::from_utf8_lossy(&out.stdout).trim().parse().expect("numeric id")
            };
            std::os::unix::fs::chown(dir.path(), Some(uid("-u")), Some(uid("-g"))).expect("chown temp dir");
            "postgres".to_owned()
        });
        let mut cluster = Cluster { dir, port: 0, run_as, pg_ctl };
        let data = cluster.data();
        cluster.run(&initdb, &["-D", path(&data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]);
        for _ in 0..5 {
            cluster.port = free_port();
            let options = format!(
                "-k {} -p {} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off",
                cluster.dir.path().display(),
                cluster.port
            );
            let log = cluster.dir.path().join("server.log");
            if cluster.try_run(&cluster.pg_ctl, &["-D", path(&data), "-o", &options, "-l", path(&log), "-w", "start"]) {
                return cluster;
            }
        }
        panic!(
            "pg_ctl could not start a server: {}",
            std::fs::read_to_string(cluster.dir.path().join("server.log")).unwrap_or_default()
        );
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    fn command(&self, program: &Path, args: &[&str]) -> Command {
        match &self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(program).args(args);
                command
            }
            None => {
                let mut command = Command::new(program);
                command.args(args);
                command
            }
        }
    }

    fn try_run(&self, program: &Path, args: &[&str]) -> bool {
        self.command(program, args).output().is_ok_and(|o| o.status.success())
    }

    fn run(&self, program: &Path, args: &[&str]) {
        let out =
            self.command(program, args).output().unwrap_or_else(|e| panic!("{}: {e}: {INSTALL}", program.display()));
        assert!(out.status.success(), "{} failed: {}", program.display(), String::from_utf8_lossy(&out.stderr));
    }
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self.command(&self.pg_ctl, &["-D", path(&data), "-m", "immediate", "-w", "stop"]).output();
    }
}
