//! Feature flags end to end: the CLI, OFREP evaluation, the evaluation-only
//! token, the SSE stream, and persistence across a restart.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::harness::*;

fn eval_token(h: &Harness) -> String {
    std::fs::read_to_string(h.state().join("eval.token")).unwrap().trim().to_owned()
}

/// One HTTP/1.1 request on a fresh connection: (status, head, body).
fn http(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req += &format!("{k}: {v}\r\n");
    }
    req += "\r\n";
    req += body;
    s.write_all(req.as_bytes()).unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    let status = buf.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let (head, body) = buf.split_once("\r\n\r\n").unwrap_or((&buf, ""));
    (status, head.to_owned(), body.to_owned())
}

fn ofrep(h: &Harness, path: &str, token: &str, body: &str) -> (u16, Value) {
    let (status, _, body) = http(h.api_port, "POST", path, &[("X-API-Key", token)], body);
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
        .map(str::trim)
}

fn assert_two_lines(out: &Out) {
    let err = out.stderr();
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(lines[0].starts_with("error: ") && lines[1].starts_with("hint: "), "{err}");
}

fn write_flag(h: &Harness, name: &str, flag: Value) -> String {
    let path = h.dir.path().join(name);
    std::fs::write(&path, flag.to_string()).unwrap();
    path.to_str().unwrap().to_owned()
}

fn split_flag() -> Value {
    json!({
        "description": "half of the users get the new search",
        "enabled": true,
        "variants": {"new": "v2", "old": "v1"},
        "default_variant": "old",
        "off_variant": "old",
        "rules": [
            {"conditions": [{"attribute": "plan", "op": "equals", "values": ["beta"]}], "serve": {"variant": "new"}},
            {"conditions": [], "serve": {"rollout": [{"variant": "new", "weight": 50}, {"variant": "old", "weight": 50}]}}
        ]
    })
}

#[test]
fn flags_are_created_switched_and_versioned_through_the_cli() {
    let h = Harness::start("");
    h.cli(&["flag", "create", "new-checkout", "--description", "the new checkout", "--on"]).ok();
    h.cli(&["flag", "off", "new-checkout", "--reason", "checkout errors"]).ok();
    let again = h.cli(&["flag", "off", "new-checkout", "-r", "still broken"]);
    again.ok();
    assert!(again.stdout().contains("already off"), "{}", again.stdout());
    h.cli(&["flag", "on", "new-checkout", "-r", "fixed in v2.4.1"]).ok();

    let show = h.json(&["flag", "show", "new-checkout"]);
    assert_eq!((show["enabled"].clone(), show["version"].clone()), (json!(true), json!(3)));
    let history = h.json(&["flag", "history", "new-checkout"]);
    let summary: Vec<(String, bool, Option<String>, String)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["flag"]["enabled"].as_bool().unwrap(),
                e["reason"].as_str().map(str::to_owned),
                e["actor"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("create".to_owned(), true, None, "admin:tester".to_owned()),
            ("off".to_owned(), false, Some("checkout errors".to_owned()), "admin:tester".to_owned()),
            ("on".to_owned(), true, Some("fixed in v2.4.1".to_owned()), "admin:tester".to_owned()),
        ]
    );
    let table = h.cli(&["flag", "history", "new-checkout"]);
    assert!(table.ok().stdout().contains("checkout errors"), "{}", table.stdout());

    // A flag from a file, then replaced; a stale version is refused.
    let file = write_flag(&h, "search.json", split_flag());
    h.cli(&["flag", "create", "search-v2", "--file", &file]).ok();
    let mut changed = split_flag();
    changed["version"] = json!(1);
    changed["default_variant"] = json!("new");
    let file = write_flag(&h, "search2.json", changed);
    h.cli(&["flag", "set", "search-v2", "--file", &file, "-r", "everyone"]).ok();
    let stale = h.cli(&["flag", "set", "search-v2", "--file", &file]);
    assert_eq!(stale.code(), 1, "{}", stale.stderr());
    assert!(stale.stderr().contains("changed meanwhile"), "{}", stale.stderr());
    assert_two_lines(&stale);

    let list = h.json(&["flag", "list"]);
    let keys: Vec<&str> = list["flags"].as_array().unwrap().iter().map(|f| f["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["new-checkout", "search-v2"]);
    assert_eq!(list["version"], json!(5));
    let table = h.cli(&["flag", "list"]);
    assert!(
        table.ok().stdout().lines().any(|l| l.starts_with("search-v2") && l.contains("string")),
        "{}",
        table.stdout()
    );

    // Every change is in the audit chain, which still verifies.
    let audit = h.json(&["audit", "list"]);
    let actions: Vec<&str> = audit.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["flag.create", "flag.off", "flag.on", "flag.create", "flag.set"]);
    h.cli(&["audit", "verify"]).ok();
}

#[test]
fn bad_flag_input_is_refused_and_writes_nothing() {
    let h = Harness::start("");
    h.cli(&["flag", "create", "kill", "--on"]).ok();
    let mut over = split_flag();
    over["rules"][1]["serve"]["rollout"][0]["weight"] = json!(60);
    let over = write_flag(&h, "over.json", over);
    let not_json = h.dir.path().join("not.json");
    std::fs::write(&not_json, "{enabled: yes").unwrap();
    let not_json = not_json.to_str().unwrap();
    let unknown_variant = write_flag(
        &h,
        "variant.json",
        json!({"enabled": true, "variants": {"on": true}, "default_variant": "on", "off_variant": "nope"}),
    );
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (vec!["flag", "create", "kill"], 1, "flag `kill` already exists"),
        (vec!["flag", "create", "search", "--file", &over], 2, "rollout weights sum to 110, not 100"),
        (vec!["flag", "create", "search", "--file", not_json], 2, "is not JSON"),
        (vec!["flag", "create", "search", "--file", "/does/not/exist.json"], 2, "cannot read"),
        (
            vec!["flag", "create", "search", "--file", &unknown_variant],
            2,
            "off_variant `nope` is not one of its variants",
        ),
        (vec!["flag", "create", "bad.key!"], 2, "is not a valid flag key"),
        (vec!["flag", "create", "stream"], 2, "`stream` is not available as a flag key"),
        (vec!["flag", "off", "nope", "--reason", "x"], 2, "flag `nope` does not exist"),
        (vec!["flag", "off", "kill", "--reason", " "], 2, "needs a reason"),
        (vec!["flag", "show", "nope"], 2, "flag `nope` does not exist"),
        (vec!["flag", "history", "nope"], 2, "flag `nope` does not exist"),
    ];
    for (args, code, message) in cases {
        let out = h.cli(&args);
        assert_eq!(out.code(), code, "{args:?}: {}", out.stderr());
        assert!(out.stderr().contains(message), "{args:?}: {}", out.stderr());
        assert_two_lines(&out);
    }
    let out = h.cli(&["flag", "off", "kill"]);
    assert_eq!(out.code(), 2, "a missing --reason is a usage error: {}", out.stderr());
    let list = h.json(&["flag", "list"]);
    assert_eq!(list["flags"].as_array().unwrap().len(), 1);
    assert_eq!(list["version"], json!(1), "nothing else was written");
}

#[test]
fn ofrep_single_and_bulk_evaluation_with_every_error_code() {
    let h = Harness::start("");
    let eval = eval_token(&h);
    h.cli(&["flag", "create", "kill", "--on"]).ok();
    let file = write_flag(&h, "search.json", split_flag());
    h.cli(&["flag", "create", "search", "--file", &file]).ok();
    let one = |key: &str| format!("/ofrep/v1/evaluate/flags/{key}");

    let (status, v) = ofrep(&h, &one("kill"), &eval, r#"{"context":{}}"#);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v, json!({"key": "kill", "value": true, "reason": "STATIC", "variant": "on", "metadata": {}}));
    let (_, v) = ofrep(&h, &one("search"), &eval, r#"{"context":{"targetingKey":"u1","plan":"beta"}}"#);
    assert_eq!((v["value"].clone(), v["reason"].clone()), (json!("v2"), json!("TARGETING_MATCH")));
    let (_, v) = ofrep(&h, &one("search"), &eval, r#"{"context":{"targetingKey":"u1"}}"#);
    assert_eq!(v["reason"], json!("SPLIT"));
    let (_, again) = ofrep(&h, &one("search"), &eval, r#"{"context":{"targetingKey":"u1"}}"#);
    assert_eq!(again["variant"], v["variant"], "a targeting key stays in its bucket");

    let errors = [
        (one("kill"), "{", 400, "PARSE_ERROR"),
        (one("kill"), r#"{"context":{"targetingKey":7}}"#, 400, "INVALID_CONTEXT"),
        (one("kill"), r#"{"context":"u1"}"#, 400, "INVALID_CONTEXT"),
        (one("search"), r#"{"context":{}}"#, 400, "TARGETING_KEY_MISSING"),
        (one("nope"), r#"{"context":{}}"#, 404, "FLAG_NOT_FOUND"),
    ];
    for (path, body, status, code) in errors {
        let (got, v) = ofrep(&h, &path, &eval, body);
        assert_eq!((got, v["errorCode"].as_str()), (status, Some(code)), "{path} {body}: {v}");
        assert!(v["errorDetails"].as_str().is_some_and(|d| !d.is_empty()), "{v}");
        assert_eq!(v["key"], json!(path.rsplit('/').next().unwrap()), "{v}");
    }

    // Tokens: none and a wrong one are 401, the admin token also evaluates (as Bearer).
    let (status, _, _) = http(h.api_port, "POST", &one("kill"), &[], "{}");
    assert_eq!(status, 401);
    let (status, _, _) = http(h.api_port, "POST", &one("kill"), &[("X-API-Key", "not-a-token")], "{}");
    assert_eq!(status, 401);
    let bearer = format!("Bearer {}", h.token());
    let (status, _, _) = http(h.api_port, "POST", &one("kill"), &[("Authorization", &bearer)], "{}");
    assert_eq!(status, 200);

    // Bulk: every flag, per-flag errors, an ETag, 304 while nothing changed.
    let bulk = "/ofrep/v1/evaluate/flags";
    let (status, head, body) = http(h.api_port, "POST", bulk, &[("X-API-Key", &eval)], r#"{"context":{}}"#);
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["flags"][0],
        json!({"key": "kill", "value": true, "reason": "STATIC", "variant": "on", "metadata": {}})
    );
    assert_eq!(v["flags"][1]["errorCode"], json!("TARGETING_KEY_MISSING"));
    assert_eq!(v["metadata"]["stream"], json!("/v1/flags/stream"));
    let etag = header(&head, "etag").expect("bulk answers carry an ETag").to_owned();
    let (status, _, _) =
        http(h.api_port, "POST", bulk, &[("X-API-Key", &eval), ("If-None-Match", &etag)], r#"{"context":{}}"#);
    assert_eq!(status, 304);
    let (status, _, body) = http(h.api_port, "POST", bulk, &[("X-API-Key", &eval)], "{");
    assert_eq!(status, 400);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["errorCode"], json!("PARSE_ERROR"));

    h.cli(&["flag", "off", "kill", "-r", "incident"]).ok();
    let (status, head, body) =
        http(h.api_port, "POST", bulk, &[("X-API-Key", &eval), ("If-None-Match", &etag)], r#"{"context":{}}"#);
    assert_eq!(status, 200, "a flip changes the ETag");
    assert_ne!(header(&head, "etag"), Some(etag.as_str()));
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((v["flags"][0]["value"].clone(), v["flags"][0]["reason"].clone()), (json!(false), json!("DISABLED")));
}

#[test]
fn the_evaluation_token_cannot_flip_flags_or_deploy() {
    let h = Harness::start("");
    let eval = eval_token(&h);
    assert_ne!(eval, h.token());
    h.cli(&["flag", "create", "kill", "--on"]).ok();
    let as_eval = [("BACKSTOP_TOKEN", eval.as_str())];

    let off = h.cli_with(&["flag", "off", "kill", "--reason", "x"], &as_eval);
    assert_eq!(off.code(), 1, "{}", off.stderr());
    assert!(off.stderr().contains("the evaluation token can only evaluate flags"), "{}", off.stderr());
    assert_two_lines(&off);
    let create = h.cli_with(&["flag", "create", "other"], &as_eval);
    assert_eq!(create.code(), 1, "{}", create.stderr());

    let art = h.artifact("v1", &[]);
    let release = h.cli_with(&["release", "shop", "--artifact", art.to_str().unwrap(), "--version", "v1"], &as_eval);
    assert_eq!(release.code(), 1, "{}", release.stderr());
    assert!(release.stderr().contains("the evaluation token can only evaluate flags"), "{}", release.stderr());
    let undo = h.cli_with(&["undo", "shop"], &as_eval);
    assert_eq!(undo.code(), 1, "{}", undo.stderr());
    for (method, path) in [("POST", "/v1/apps/shop/undo"), ("POST", "/v1/flags/kill/off"), ("PUT", "/v1/flags/kill")] {
        let bearer = format!("Bearer {eval}");
        let (status, _, body) = http(h.api_port, method, path, &[("Authorization", &bearer)], r#"{"reason":"x"}"#);
        assert_eq!(status, 403, "{method} {path}: {body}");
    }

    assert_eq!(h.json(&["flag", "show", "kill"])["enabled"], json!(true), "still on");
    assert!(h.json(&["history", "shop"]).as_array().unwrap().is_empty(), "nothing was released");
}

/// Reads SSE events from a raw connection: (event name, data) pairs.
struct Events {
    stream: TcpStream,
    buf: String,
}

impl Events {
    fn connect(port: u16, token: &str) -> Events {
        Events::connect_to(port, "/v1/flags/stream", token)
    }

    fn connect_to(port: u16, path: &str, token: &str) -> Events {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-API-Key: {token}\r\n\r\n").unwrap();
        Events { stream, buf: String::new() }
    }

    /// The next event, skipping keep-alive comments; chunk framing lines are ignored.
    fn next(&mut self) -> (String, Value) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(event) = self.take_event() {
                return event;
            }
            assert!(Instant::now() < deadline, "no event within 10s: {}", self.buf);
            let mut chunk = [0u8; 8192];
            match self.stream.read(&mut chunk) {
                Ok(0) => panic!("the stream ended: {}", self.buf),
                Ok(n) => self.buf.push_str(&String::from_utf8_lossy(&chunk[..n])),
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(e) => panic!("{e}"),
            }
        }
    }

    /// The first complete `data:` line in the buffer and the `event:` name
    /// before it (`message` when there is none, as in SSE).
    fn take_event(&mut self) -> Option<(String, Value)> {
        let mut name = None;
        let mut pos = 0;
        while let Some(nl) = self.buf[pos..].find('\n') {
            let line = self.buf[pos..pos + nl].trim_end_matches('\r');
            if let Some(n) = line.strip_prefix("event: ") {
                name = Some(n.to_owned());
            }
            if let Some(data) = line.strip_prefix("data: ") {
                let data = serde_json::from_str(data).unwrap_or_else(|e| panic!("{e}: {line}"));
                self.buf.drain(..pos + nl + 1);
                return Some((name.unwrap_or_else(|| "message".into()), data));
            }
            pos += nl + 1;
        }
        None
    }
}

#[test]
fn a_flip_is_pushed_to_stream_subscribers() {
    let h = Harness::start("");
    h.cli(&["flag", "create", "kill", "--on"]).ok();
    let (status, _, _) = http(h.api_port, "GET", "/v1/flags/stream", &[], "");
    assert_eq!(status, 401);

    let mut events = Events::connect(h.api_port, &eval_token(&h));
    let (name, snapshot) = events.next();
    assert_eq!(name, "snapshot");
    assert_eq!(snapshot["version"], json!(1));
    assert_eq!(snapshot["flags"]["kill"]["enabled"], json!(true));

    h.cli(&["flag", "off", "kill", "--reason", "incident"]).ok();
    let (name, change) = events.next();
    assert_eq!(name, "change");
    assert_eq!((change["version"].clone(), change["key"].clone()), (json!(2), json!("kill")));
    assert_eq!(change["flag"]["enabled"], json!(false));
    assert!(change["etag"].as_str().is_some_and(|e| e.starts_with("W/")), "{change}");

    h.cli(&["flag", "create", "other"]).ok();
    let (name, change) = events.next();
    assert_eq!((name.as_str(), change["version"].clone(), change["key"].clone()), ("change", json!(3), json!("other")));
}

#[test]
fn a_restart_loses_no_flag_or_history() {
    let mut h = Harness::start("");
    let eval = eval_token(&h);
    h.cli(&["flag", "create", "kill", "--on"]).ok();
    h.cli(&["flag", "off", "kill", "--reason", "incident"]).ok();
    let before = h.json(&["flag", "list"]);

    h.kill9();
    h.boot();
    assert_eq!(eval_token(&h), eval, "the evaluation token is kept");
    assert_eq!(h.json(&["flag", "list"]), before);
    let history = h.json(&["flag", "history", "kill"]);
    assert_eq!(history.as_array().unwrap().len(), 2);
    let (status, v) = ofrep(&h, "/ofrep/v1/evaluate/flags/kill", &eval, "{}");
    assert_eq!((status, v["reason"].clone()), (200, json!("DISABLED")));

    h.cli(&["flag", "on", "kill", "--reason", "fixed"]).ok();
    assert_eq!(h.json(&["flag", "list"])["version"], json!(3), "versions go on after a restart");
    h.cli(&["audit", "verify"]).ok();
}

#[test]
fn the_ofrep_event_stream_pushes_the_new_etag_of_a_flip() {
    let h = Harness::start("");
    let eval = eval_token(&h);
    h.cli(&["flag", "create", "kill", "--on"]).ok();
    let bulk = "/ofrep/v1/evaluate/flags";
    let (status, head, body) = http(h.api_port, "POST", bulk, &[("X-API-Key", &eval)], r#"{"context":{}}"#);
    assert_eq!(status, 200, "{body}");
    let old = header(&head, "etag").unwrap().to_owned();
    let v: Value = serde_json::from_str(&body).unwrap();
    let streams = v["eventStreams"].as_array().expect("the bulk answer advertises its event stream");
    assert_eq!(streams.len(), 1, "{v}");
    assert_eq!(streams[0]["type"], json!("sse"));
    let url = streams[0]["url"].as_str().unwrap();
    let path = url.strip_prefix(&format!("http://127.0.0.1:{}", h.api_port)).unwrap_or_else(|| panic!("{url}"));
    let (status, _, _) = http(h.api_port, "GET", path, &[], "");
    assert_eq!(status, 401, "the event stream needs a token too");

    let mut events = Events::connect_to(h.api_port, path, &eval);
    let (name, first) = events.next();
    assert_eq!((name.as_str(), first["type"].as_str()), ("message", Some("refetchEvaluation")));
    assert_eq!(first["etag"], json!(old), "on connect: the ETag as it is now");

    h.cli(&["flag", "off", "kill", "--reason", "incident"]).ok();
    let (name, event) = events.next();
    assert_eq!((name.as_str(), event["type"].as_str()), ("message", Some("refetchEvaluation")));
    let new = event["etag"].as_str().unwrap().to_owned();
    assert_ne!(new, old, "{event}");

    // The re-fetch the event asks for: the old ETag no longer gets 304, the new one does.
    let refetch = format!("{bulk}?flagConfigEtag={}", new.replace('"', "%22"));
    let (status, head, body) =
        http(h.api_port, "POST", &refetch, &[("X-API-Key", &eval), ("If-None-Match", &old)], r#"{"context":{}}"#);
    assert_eq!(status, 200, "{body}");
    assert_eq!(header(&head, "etag"), Some(new.as_str()));
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["flags"][0]["reason"], json!("DISABLED"));
    let (status, _, _) =
        http(h.api_port, "POST", bulk, &[("X-API-Key", &eval), ("If-None-Match", &new)], r#"{"context":{}}"#);
    assert_eq!(status, 304);

    h.cli(&["flag", "create", "other"]).ok();
    let (_, event) = events.next();
    assert_eq!(event["type"], json!("refetchEvaluation"));
    assert_ne!(event["etag"], json!(new), "every change moves the ETag");
}

#[test]
fn ofrep_over_the_rate_limit_gets_429_with_retry_after() {
    let mut h = Harness::start("");
    h.stop();
    let config = h.config_text().replacen("[server]\n", "[server]\nofrep_rate_limit = 2\n", 1);
    std::fs::write(h.config_path(), config).unwrap();
    h.boot();
    h.cli(&["flag", "create", "kill", "--on"]).ok();
    let eval = eval_token(&h);
    let single = "/ofrep/v1/evaluate/flags/kill";
    let answers: Vec<(u16, String, String)> =
        (0..10).map(|_| http(h.api_port, "POST", single, &[("X-API-Key", &eval)], "{}")).collect();
    assert_eq!(answers[0].0, 200, "{}", answers[0].2);
    let (_, head, body) = answers.iter().find(|a| a.0 == 429).expect("the limit of 2 per second answers 429");
    let retry: u64 = header(head, "retry-after").expect("429 says when to retry").parse().unwrap();
    assert!(retry >= 1, "{head}");
    let v: Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["errorCode"], json!("GENERAL"), "{v}");
    assert!(v["errorDetails"].as_str().unwrap().contains("2 evaluations per second"), "{v}");
    let (status, _, _) = http(h.api_port, "POST", "/ofrep/v1/evaluate/flags", &[("X-API-Key", &eval)], "{}");
    assert_eq!(status, 429, "bulk evaluation counts against the same token");

    // Another token has its own budget; the limited one gets its turn back after Retry-After.
    let bearer = format!("Bearer {}", h.token());
    let (status, _, _) = http(h.api_port, "POST", single, &[("Authorization", &bearer)], "{}");
    assert_eq!(status, 200);
    std::thread::sleep(Duration::from_secs(retry));
    let (status, _, body) = http(h.api_port, "POST", single, &[("X-API-Key", &eval)], "{}");
    assert_eq!(status, 200, "{body}");
}

#[test]
fn a_deleted_flag_is_gone_everywhere_but_its_history() {
    let h = Harness::start("");
    let eval = eval_token(&h);
    h.cli(&["flag", "create", "kill", "--on"]).ok();
    h.cli(&["flag", "create", "other"]).ok();
    let mut events = Events::connect(h.api_port, &eval);
    assert_eq!(events.next().0, "snapshot");

    let unknown = h.cli(&["flag", "delete", "nope", "--reason", "typo"]);
    assert_eq!(unknown.code(), 2, "{}", unknown.stderr());
    assert!(unknown.stderr().contains("flag `nope` does not exist"), "{}", unknown.stderr());
    assert_two_lines(&unknown);
    let blank = h.cli(&["flag", "delete", "kill", "--reason", " "]);
    assert_eq!(blank.code(), 2, "{}", blank.stderr());
    assert!(blank.stderr().contains("needs a reason"), "{}", blank.stderr());
    assert_two_lines(&blank);
    assert_eq!(h.cli(&["flag", "delete", "kill"]).code(), 2, "--reason is required");
    assert_eq!(h.json(&["flag", "list"])["version"], json!(2), "refusals write nothing");

    let out = h.cli(&["flag", "delete", "kill", "--reason", "feature shipped"]);
    assert!(out.ok().stdout().contains("deleted flag kill"), "{}", out.stdout());
    let (name, change) = events.next();
    assert_eq!((name.as_str(), change["version"].clone(), change["key"].clone()), ("change", json!(3), json!("kill")));
    assert_eq!(change["flag"], Value::Null, "a deleted flag is sent as no flag");

    let (status, v) = ofrep(&h, "/ofrep/v1/evaluate/flags/kill", &eval, "{}");
    assert_eq!((status, v["errorCode"].as_str()), (404, Some("FLAG_NOT_FOUND")));
    assert_eq!(h.cli(&["flag", "show", "kill"]).code(), 2);
    let list = h.json(&["flag", "list"]);
    let keys: Vec<&str> = list["flags"].as_array().unwrap().iter().map(|f| f["key"].as_str().unwrap()).collect();
    assert_eq!((keys, list["version"].clone()), (vec!["other"], json!(3)));
    let history = h.json(&["flag", "history", "kill"]);
    let actions: Vec<(&str, Option<&str>)> =
        history.as_array().unwrap().iter().map(|e| (e["action"].as_str().unwrap(), e["reason"].as_str())).collect();
    assert_eq!(actions, [("create", None), ("delete", Some("feature shipped"))]);
    let audit = h.json(&["audit", "list"]);
    assert_eq!(audit.as_array().unwrap().last().unwrap()["action"], json!("flag.delete"));
    h.cli(&["audit", "verify"]).ok();

    // The key can be used again; its versions go on.
    h.cli(&["flag", "create", "kill"]).ok();
    assert_eq!(h.json(&["flag", "show", "kill"])["version"], json!(3));

    // A flag guarding the live release is its kill switch: not deleted.
    let art = h.artifact("v1", &[]);
    h.cli(&["release", "shop", "--artifact", art.to_str().unwrap(), "--version", "v1", "--guarded-by", "other"]).ok();
    let refused = h.cli(&["flag", "delete", "other", "--reason", "cleanup"]);
    assert_eq!(refused.code(), 1, "{}", refused.stderr());
    assert!(refused.stderr().contains("guards revision 1 of app `shop`, which is live"), "{}", refused.stderr());
    assert_two_lines(&refused);
    assert_eq!(h.json(&["flag", "show", "other"])["key"], json!("other"), "still there");
}

/// Poll the app's public address until `status` answers (bounded; behaviour, not speed).
fn wait_public(h: &Harness, status: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (got, body) = h.public_get();
        if got == status {
            return body;
        }
        assert!(Instant::now() < deadline, "public address stayed {got} ({body}), expected {status}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn switching_the_guard_flag_off_fixes_a_running_release_with_no_deploy() {
    let mut h = Harness::start("");
    h.stop();
    h.app_extra = format!(
        "env = {{ BACKSTOP_FLAGS_URL = \"http://127.0.0.1:{}\", BACKSTOP_FLAGS_TOKEN_FILE = \"{}\" }}\n",
        h.api_port,
        h.state().join("eval.token").display()
    );
    std::fs::write(h.config_path(), h.config_text()).unwrap();
    h.boot();
    h.cli(&["flag", "create", "new-checkout", "--on"]).ok();
    // The demo service reads the flag with the SDK: broken while it is on.
    h.release("v1", &["--broken", "--guard-flag", "new-checkout"]).ok();
    assert!(wait_public(&h, 500).contains("checkout exploded"));

    h.cli(&["flag", "off", "new-checkout", "--reason", "checkout errors"]).ok();
    assert_eq!(wait_public(&h, 200).trim(), "shop v1");
    h.cli(&["flag", "on", "new-checkout", "--reason", "try again"]).ok();
    wait_public(&h, 500);
    assert_eq!(h.json(&["history", "shop"]).as_array().unwrap().len(), 1, "no deploy happened");
}
