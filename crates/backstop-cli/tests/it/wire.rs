//! The wire types against the real server: every route of a running control
//! plane is called over loopback, and each answer must read as its type in
//! `backstop_api` and write back to the same JSON. A field the server adds,
//! renames or drops without the crate (or the other way round) fails here.

use std::any::type_name;
use std::time::{Duration, Instant};

use backstop_api::*;
use reqwest::{Method, RequestBuilder};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::harness::*;

/// An HTTP client of the control plane with the admin and evaluation tokens.
struct Api {
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
    base: String,
    admin: String,
    eval: String,
}

/// A status and a body.
type Reply = (u16, Vec<u8>);

impl Api {
    fn new(h: &Harness) -> Api {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(120)).build().unwrap();
        let eval = std::fs::read_to_string(h.state().join("eval.token")).unwrap().trim().to_owned();
        Api { rt, http, base: format!("http://127.0.0.1:{}", h.api_port), admin: h.token(), eval }
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    fn send(&self, rb: RequestBuilder) -> Reply {
        self.rt.block_on(async {
            let resp = rb.send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.bytes().await.unwrap().to_vec())
        })
    }

    fn get(&self, path: &str) -> Reply {
        self.send(self.request(Method::GET, path))
    }

    /// A flag read (definitions, history): it needs a token, here the evaluation token.
    fn read(&self, path: &str) -> Reply {
        self.send(self.request(Method::GET, path).bearer_auth(&self.eval))
    }

    /// A mutating call with the admin token and a JSON body.
    fn admin<B: Serialize>(&self, method: Method, path: &str, body: &B) -> Reply {
        self.send(self.request(method, path).bearer_auth(&self.admin).json(body))
    }

    /// An OFREP evaluation with the evaluation token.
    fn evaluate(&self, path: &str, body: &EvaluationRequest) -> Reply {
        self.send(self.request(Method::POST, path).header("x-api-key", &self.eval).json(body))
    }

    /// Upload the file artifact `path` under `digest`.
    fn upload(&self, path: &std::path::Path, digest: &Digest) -> Uploaded {
        let rb = self
            .request(Method::PUT, &format!("/v1/artifacts/{digest}"))
            .bearer_auth(&self.admin)
            .header("content-type", "application/octet-stream")
            .body(std::fs::read(path).unwrap());
        typed(200, self.send(rb))
    }

    /// Open a server-sent event stream with the evaluation token.
    fn stream(&self, path: &str) -> Events {
        let rb = self.request(Method::GET, path).bearer_auth(&self.eval).timeout(Duration::from_secs(3600));
        let resp = self.rt.block_on(async { rb.send().await }).unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{path}");
        Events { resp, buf: String::new() }
    }
}

/// An open event stream.
struct Events {
    resp: reqwest::Response,
    buf: String,
}

impl Events {
    /// The next event (keep-alive comments skipped): its name (`message`
    /// when unnamed) and its data, read as `T`.
    fn next<T: DeserializeOwned + Serialize>(&mut self, api: &Api) -> (String, T) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let frame: String = self.buf.drain(..end + 2).collect();
                if frame.starts_with(':') {
                    continue;
                }
                let field = |name: &str| frame.lines().find_map(|l| l.strip_prefix(name)).map(str::to_owned);
                let event = field("event: ").unwrap_or_else(|| "message".into());
                let data = field("data: ").unwrap_or_else(|| panic!("a frame without data: {frame:?}"));
                return (event, typed(200, (200, data.into_bytes())));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no event within a minute; got {:?}", self.buf);
            let chunk = api.rt.block_on(async { tokio::time::timeout(left, self.resp.chunk()).await });
            let chunk = chunk.expect("an event in time").unwrap().expect("the stream stays open");
            self.buf.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }
}

/// The answer read as `T` after checking its status; `T` written back must be
/// the same JSON (key order aside), so no field is lost or invented.
#[track_caller]
fn typed<T: DeserializeOwned + Serialize>(want: u16, (status, body): Reply) -> T {
    let text = String::from_utf8_lossy(&body);
    assert_eq!(status, want, "status of an answer read as {}: {text}", type_name::<T>());
    let raw: Value = serde_json::from_slice(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    let value: T = serde_json::from_value(raw.clone())
        .unwrap_or_else(|e| panic!("the answer does not read as {}: {e}\n{raw:#}", type_name::<T>()));
    let back = serde_json::to_value(&value).unwrap();
    assert_eq!(back, raw, "{} does not write back what the server sent", type_name::<T>());
    value
}

/// An error of a `/v1` route: its code.
#[track_caller]
fn error(want: u16, reply: Reply) -> String {
    typed::<ErrorBody>(want, reply).error.code
}

fn migration(version: &str, name: &str, sql: &str) -> ShippedMigration {
    ShippedMigration { version: version.into(), name: name.into(), sql: sql.into(), down: None }
}

/// Release `version` shipping `migrations` and one query.
/// Release `version` with the CLI, shipping the migration folder `migrations`
/// and one query; `--output json` prints the server's answer as it came.
fn release(h: &Harness, version: &str, migrations: &std::path::Path, query: &str) -> Outcome {
    let art = h.artifact(version, &[]);
    let queries = h.dir.path().join(format!("queries-{version}"));
    std::fs::create_dir_all(&queries).unwrap();
    std::fs::write(queries.join("users.sql"), format!("{query};\n")).unwrap();
    let args = [
        "release",
        "shop",
        "--artifact",
        art.to_str().unwrap(),
        "--version",
        version,
        "--git-commit",
        "4f1c2a9",
        "--migrations",
        migrations.to_str().unwrap(),
        "--queries",
        queries.to_str().unwrap(),
        "--output",
        "json",
    ];
    let out = h.cli(&args);
    out.ok();
    typed(200, (200, out.stdout().into_bytes()))
}

/// A migration folder of `files` (name, text).
fn folder(h: &Harness, name: &str, files: &[(&str, &str)]) -> std::path::PathBuf {
    let dir = h.dir.path().join("migrations").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for (file, text) in files {
        std::fs::write(dir.join(file), text).unwrap();
    }
    dir
}

fn wait_known_good(api: &Api, revision: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let detail: RevisionDetail = typed(200, api.get(&format!("/v1/apps/shop/revisions/{revision}")));
        if detail.revision.status == RevisionStatus::KnownGood {
            return;
        }
        assert!(Instant::now() < deadline, "revision {revision} stayed {:?}", detail.revision.status);
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn every_route_answers_its_wire_type() {
    let h = Harness::start("[apps.shop.database]\nurl = \"sqlite://shop.db\"\n");
    let api = Api::new(&h);
    let base = migration("0001", "0001_users.sql", "CREATE TABLE users (id INTEGER PRIMARY KEY, nickname TEXT);");
    let drop = migration("0002", "0002_drop_nickname.sql", "ALTER TABLE users DROP COLUMN nickname;");
    let v1 = folder(&h, "v1", &[(&base.name, &base.sql)]);
    let v2 = folder(&h, "v2", &[(&base.name, &base.sql), (&drop.name, &drop.sql)]);

    assert!(typed::<Health>(200, api.get("/v1/health")).ok);

    // Releases, history, status.
    let first = release(&h, "v1", &v1, "SELECT id, nickname FROM users");
    assert_eq!((first.revision, first.from_revision), (1, None));
    wait_known_good(&api, 1);
    let second = release(&h, "v2", &v2, "SELECT id FROM users");
    assert_eq!(second.from_revision, Some(1));
    wait_known_good(&api, 2);
    let history: Vec<HistoryEntry> = typed(200, api.get("/v1/apps/shop/revisions"));
    assert_eq!(history.iter().map(|r| (r.revision.revision, r.live)).collect::<Vec<_>>(), [(1, false), (2, true)]);
    let detail: RevisionDetail = typed(200, api.get("/v1/apps/shop/revisions/1"));
    assert_eq!(detail.database.migrations, ["0001_users.sql"]);
    assert_eq!(typed::<Revision>(200, api.get("/v1/apps/shop/known-good")).revision, 2);
    let status: AppStatus = typed(200, api.get("/v1/apps/shop/status"));
    assert_eq!((status.live_revision, status.warm_revisions.as_slice()), (Some(2), &[1][..]));
    assert!(status.instances.iter().any(|i| i.role == InstanceRole::Warm), "{status:?}");
    assert_eq!(typed::<Vec<AppStatus>>(200, api.get("/v1/apps")).len(), 1);

    // Data safety: the rollback check, the plan, promote and contract.
    let check: RollbackCheck = typed(200, api.get("/v1/apps/shop/revisions/1/rollback-check"));
    assert!(check.safe && check.mode == CheckMode::Precise, "{check:?}");
    let plan: PlanView = typed(200, api.admin(Method::POST, "/v1/apps/shop/migrations/plan", &PlanRequest::default()));
    assert_eq!(plan.migrations.iter().map(|m| m.stage).collect::<Vec<_>>(), [Stage::Contract]);
    let rename = migration("0003", "0003_rename.sql", "ALTER TABLE users RENAME COLUMN id TO user_id;");
    let folder = PlanRequest { migrations: Some(vec![base.clone(), drop.clone(), rename]) };
    let plan: PlanView = typed(200, api.admin(Method::POST, "/v1/apps/shop/migrations/plan", &folder));
    assert!(!plan.refusals.is_empty(), "{plan:?}");
    let promoted: Revision =
        typed(200, api.admin(Method::POST, "/v1/apps/shop/revisions/2/promote", &PromoteRequest { permanent: true }));
    assert_eq!(promoted.status, RevisionStatus::Permanent);
    let contract: ContractOutcome =
        typed(200, api.admin(Method::POST, "/v1/apps/shop/migrations/contract", &json!({})));
    assert_eq!(contract.applied, ["0002"]);
    let check: RollbackCheck = typed(200, api.get("/v1/apps/shop/revisions/1/rollback-check"));
    assert!(!check.safe && !check.problems.is_empty(), "{check:?}");

    // An undo onto the warm revision.
    release(&h, "v3", &v2, "SELECT id FROM users");
    let undo = UndoRequest { to_revision: Some(2), force: false };
    let back: Outcome = typed(200, api.admin(Method::POST, "/v1/apps/shop/undo", &undo));
    assert_eq!((back.revision, back.from_revision, back.warm), (2, Some(3), true));
    // Nothing starts or soaks: an abort is refused in the one error shape (its outcome is read by
    // the CLI in the operator tests).
    assert_eq!(error(409, api.admin(Method::POST, "/v1/apps/shop/abort", &json!({}))), "nothing_to_abort");

    // Operations.
    let ops: Vec<Operation> = typed(200, api.get("/v1/apps/shop/operations?limit=100"));
    assert!(ops.iter().any(|o| o.kind == OperationKind::MigrateContract), "{ops:?}");
    let last = &ops[0];
    assert_eq!(&typed::<Operation>(200, api.get(&format!("/v1/operations/{}", last.id))), last);

    // Artifacts and gc: an artifact no revision refers to is collected.
    let loose = h.dir.path().join("loose.sh");
    std::fs::write(&loose, "#!/bin/sh\nexit 0\n").unwrap();
    let mut perms = std::fs::metadata(&loose).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&loose, perms).unwrap();
    let printed = h.cli(&["digest", loose.to_str().unwrap()]).ok().stdout();
    let digest: Digest = printed.split_whitespace().next().unwrap().parse().unwrap();
    let stored = api.upload(&loose, &digest);
    assert_eq!((stored.stored, stored.kind), (true, Some(ArtifactKind::File)));
    let again = api.upload(&loose, &digest);
    assert_eq!((again.stored, again.kind), (false, None));
    assert_eq!(typed::<ArtifactInfo>(200, api.get(&format!("/v1/artifacts/{digest}"))).digest, digest);
    let gc: GcSummary = typed(200, api.admin(Method::POST, "/v1/gc", &json!({})));
    assert!(gc.removed.contains(&digest), "{gc:?}");
    assert_eq!(error(404, api.get(&format!("/v1/artifacts/{digest}"))), "unknown_artifact");

    // Flags: writes, reads, the stream and OFREP.
    let mut stream = api.stream("/v1/flags/stream");
    let (event, snapshot) = stream.next::<SnapshotEvent>(&api);
    assert_eq!((event.as_str(), snapshot.flags.len()), ("snapshot", 0));
    let mut ofrep_events = api.stream("/ofrep/v1/events");
    let (event, refetch) = ofrep_events.next::<RefetchEvent>(&api);
    assert_eq!((event.as_str(), refetch.kind.as_str()), ("message", "refetchEvaluation"));
    let kill = json!({"description": "kill switch", "enabled": true, "variants": {"on": true, "off": false},
        "default_variant": "on", "off_variant": "off"});
    let created: Written = typed(
        201,
        api.admin(Method::POST, "/v1/flags/kill", &FlagRequest { flag: kill.clone(), reason: Some("new".into()) }),
    );
    assert!(created.changed);
    let (event, change) = stream.next::<ChangeEvent>(&api);
    assert_eq!((event.as_str(), change.key.as_str(), change.flag.is_some()), ("change", "kill", true));
    let mut rollout = kill.clone();
    rollout["rules"] = json!([{"conditions": [], "serve": {"rollout": [{"variant": "on", "weight": 50}, {"variant": "off", "weight": 50}]}}]);
    typed::<Written>(201, api.admin(Method::POST, "/v1/flags/rollout", &FlagRequest { flag: kill, reason: None }));
    let set: Written =
        typed(200, api.admin(Method::PUT, "/v1/flags/rollout", &FlagRequest { flag: rollout, reason: None }));
    assert_eq!(set.flag.rules.len(), 1);
    let off = ReasonRequest { reason: Some("errors".into()) };
    assert!(typed::<Written>(200, api.admin(Method::POST, "/v1/flags/kill/off", &off)).changed);
    assert!(!typed::<Written>(200, api.admin(Method::POST, "/v1/flags/kill/off", &off)).changed);
    assert!(typed::<Written>(200, api.admin(Method::POST, "/v1/flags/kill/on", &off)).changed);
    assert!(typed::<Flag>(200, api.read("/v1/flags/kill")).enabled);
    let list: FlagList = typed(200, api.read("/v1/flags"));
    assert_eq!((list.flags.len(), list.unreadable.len()), (2, 0));
    let history: Vec<FlagHistoryEntry> = typed(200, api.read("/v1/flags/kill/history"));
    let mut actions: Vec<&str> = history.iter().map(|e| e.action.as_str()).collect();
    actions.sort_unstable();
    assert_eq!(actions, ["create", "off", "on"]);
    let one: Evaluated = typed(200, api.evaluate("/ofrep/v1/evaluate/flags/kill", &EvaluationRequest::default()));
    assert_eq!(one.variant, "on");
    let missing: EvaluationFailure =
        typed(404, api.evaluate("/ofrep/v1/evaluate/flags/nope", &EvaluationRequest::default()));
    assert_eq!(missing.error_code, "FLAG_NOT_FOUND");
    let bulk: BulkEvaluation = typed(200, api.evaluate("/ofrep/v1/evaluate/flags", &EvaluationRequest::default()));
    assert!(bulk.flags.iter().any(|f| matches!(f, BulkEntry::Evaluated(_))), "{bulk:?}");
    assert!(bulk.flags.iter().any(|f| matches!(f, BulkEntry::Failed(_))), "a rollout needs a targeting key: {bulk:?}");
    let bad = api.send(api.request(Method::POST, "/ofrep/v1/evaluate/flags").header("x-api-key", &api.eval).body("{"));
    assert_eq!(typed::<EvaluationFailure>(400, bad).error_code, "PARSE_ERROR");
    let deleted: Written =
        typed(200, api.admin(Method::DELETE, "/v1/flags/rollout", &ReasonRequest { reason: Some("done".into()) }));
    assert_eq!(deleted.flag.key, "rollout");
    let mut last_change = None;
    while last_change.as_ref().is_none_or(|c: &ChangeEvent| c.key != "rollout" || c.flag.is_some()) {
        last_change = Some(stream.next::<ChangeEvent>(&api).1);
    }
    let (_, refetch) = ofrep_events.next::<RefetchEvent>(&api);
    assert!(!refetch.etag.is_empty());

    // The audit log.
    let entries: Vec<AuditEntry> = typed(200, api.get("/v1/audit?limit=1000"));
    assert!(entries.iter().any(|e| e.action == "gc"), "{entries:?}");
    let verify: AuditVerify = typed(200, api.get("/v1/audit/verify"));
    assert_eq!(verify, AuditVerify::Intact { entries: entries.len(), head: entries.last().map(|e| e.hash.clone()) });

    // `--output json` prints what the server sent, typed answers or not.
    for (args, path) in [
        (&["history", "shop"][..], "/v1/apps/shop/revisions"),
        (&["history", "shop", "--revision", "1"][..], "/v1/apps/shop/revisions/1"),
        (&["known-good", "shop"][..], "/v1/apps/shop/known-good"),
        (&["check-rollback", "shop", "2"][..], "/v1/apps/shop/revisions/2/rollback-check"),
        (&["flag", "list"][..], "/v1/flags"),
        (&["flag", "show", "kill"][..], "/v1/flags/kill"),
        (&["flag", "history", "kill"][..], "/v1/flags/kill/history"),
    ] {
        let (status, body) = if path.starts_with("/v1/flags") { api.read(path) } else { api.get(path) };
        assert_eq!(status, 200, "{path}");
        assert_eq!(h.json(args), serde_json::from_slice::<Value>(&body).unwrap(), "{args:?}");
    }

    // Failures share one shape.
    assert_eq!(error(404, api.get("/v1/apps/nope/status")), "unknown_app");
    assert_eq!(error(404, api.get("/v1/nope")), "not_found");
    assert_eq!(error(401, api.send(api.request(Method::POST, "/v1/gc"))), "unauthorized");
    let as_eval = api.request(Method::POST, "/v1/gc").bearer_auth(&api.eval);
    assert_eq!(error(403, api.send(as_eval)), "forbidden");
    let not_json = api.request(Method::POST, "/v1/apps/shop/undo").bearer_auth(&api.admin).body("{");
    assert_eq!(error(400, api.send(not_json)), "bad_request");
    assert_eq!(error(401, api.send(api.request(Method::GET, "/v1/flags/stream"))), "unauthorized");
    assert_eq!(error(401, api.get("/v1/flags")), "unauthorized");
}
