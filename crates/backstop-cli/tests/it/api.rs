//! The HTTP API's edges over loopback against the real control plane: every failure in the one
//! error shape (bad path, query and body, wrong method, unknown route, body too large), the
//! listings' filters, and the OpenAPI description it serves.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::*;

/// A status, the headers and the body read as JSON (`Null` when it is not JSON).
struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

struct Api {
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
    base: String,
    admin: String,
}

impl Api {
    fn new(h: &Harness) -> Api {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(60)).build().unwrap();
        Api { rt, http, base: format!("http://127.0.0.1:{}", h.api_port), admin: h.token() }
    }

    fn send(&self, method: &str, path: &str, body: Option<Vec<u8>>) -> Reply {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let mut rb = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.admin);
        if let Some(body) = body {
            rb = rb.header("content-type", "application/json").body(body);
        }
        self.rt.block_on(async {
            let resp = rb.send().await.unwrap();
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let bytes = resp.bytes().await.unwrap();
            Reply { status, headers, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null) }
        })
    }

    fn get(&self, path: &str) -> Reply {
        self.send("GET", path, None)
    }

    fn post(&self, path: &str, body: &Value) -> Reply {
        self.send("POST", path, Some(body.to_string().into_bytes()))
    }
}

/// The one error shape, as JSON, with every field a non-empty string: its code.
#[track_caller]
fn error_code(r: &Reply) -> String {
    let content_type = r.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    assert!(content_type.starts_with("application/json"), "{} answered {content_type:?}: {}", r.status, r.body);
    let e = &r.body["error"];
    for field in ["code", "message", "hint"] {
        assert!(e[field].as_str().is_some_and(|s| !s.is_empty()), "error.{field} in {}", r.body);
    }
    e["code"].as_str().unwrap().to_owned()
}

#[test]
fn bad_path_parameter_answers_json_error() {
    let h = Harness::start("");
    let api = Api::new(&h);
    let cases = [
        ("/v1/apps/shop/revisions/abc", "whole numbers"),
        ("/v1/operations/-1", "whole numbers"),
        ("/v1/incidents/99999999999999999999999", "whole numbers"),
        ("/v1/apps/%FF/status", "UTF-8"),
        ("/v1/flags/%FF/history", "UTF-8"),
    ];
    for (path, hint) in cases {
        let r = api.get(path);
        assert_eq!(r.status, 400, "{path}: {}", r.body);
        assert_eq!(error_code(&r), "bad_request", "{path}");
        assert!(r.body["error"]["message"].as_str().unwrap().contains("path parameter"), "{path}: {}", r.body);
        assert!(r.body["error"]["hint"].as_str().unwrap().contains(hint), "{path}: {}", r.body);
    }
    let r = api.post("/v1/apps/shop/revisions/x/promote", &json!({"permanent": true}));
    assert_eq!((r.status, error_code(&r)), (400, "bad_request".to_owned()), "{}", r.body);
}

#[test]
fn bad_query_string_answers_json_error() {
    let h = Harness::start("");
    let api = Api::new(&h);
    let cases = [
        ("/v1/audit?limit=abc", "limit"),
        ("/v1/audit?limit=-1", "limit"),
        ("/v1/audit?limt=1", "limt"),
        ("/v1/apps/shop/operations?limit=0", "1 to 1000"),
        ("/v1/apps/shop/operations?limit=1001", "1 to 1000"),
        ("/v1/apps/shop/revisions?since=yesterday", "RFC 3339"),
        ("/v1/incidents?limit=100000", "1 to 1000"),
        ("/v1/drills?since=", "RFC 3339"),
    ];
    for (path, names) in cases {
        let r = api.get(path);
        assert_eq!(r.status, 400, "{path}: {}", r.body);
        assert_eq!(error_code(&r), "bad_request", "{path}");
        let text = format!("{} {}", r.body["error"]["message"], r.body["error"]["hint"]);
        assert!(text.contains(names), "{path}: {text}");
    }
}

#[test]
fn bad_json_body_answers_json_error() {
    let h = Harness::start("");
    let api = Api::new(&h);
    for body in [&b"{not json"[..], b"{\"to_revision\": \"three\"}", b"\"undo\""] {
        let r = api.send("POST", "/v1/apps/shop/undo", Some(body.to_vec()));
        assert_eq!(r.status, 400, "{}: {}", String::from_utf8_lossy(body), r.body);
        assert_eq!(error_code(&r), "bad_request");
    }
}

#[test]
fn wrong_method_answers_json_405() {
    let h = Harness::start("");
    let api = Api::new(&h);
    let cases = [
        ("DELETE", "/v1/apps", "GET"),
        ("POST", "/v1/health", "GET"),
        ("GET", "/v1/gc", "POST"),
        ("PATCH", "/v1/artifacts/sha256:00", "GET,PUT"),
        ("PATCH", "/v1/flags/checkout", "DELETE,GET,POST,PUT"),
    ];
    for (method, path, allowed) in cases {
        let r = api.send(method, path, None);
        assert_eq!(r.status, 405, "{method} {path}: {}", r.body);
        assert_eq!(error_code(&r), "method_not_allowed", "{method} {path}");
        let allow = r.headers.get("allow").and_then(|v| v.to_str().ok()).unwrap_or("");
        let mut allow: Vec<&str> = allow.split(',').map(str::trim).filter(|m| *m != "HEAD").collect();
        allow.sort_unstable();
        assert_eq!(allow.join(","), allowed, "{method} {path}");
    }
}

#[test]
fn unknown_route_answers_json_404() {
    let h = Harness::start("");
    let api = Api::new(&h);
    for path in ["/v1/nope", "/v1/apps/shop/nope", "/nope"] {
        let r = api.get(path);
        assert_eq!((r.status, error_code(&r)), (404, "not_found".to_owned()), "{path}");
    }
}

#[test]
fn body_too_large_answers_json_413() {
    let h = Harness::start("");
    let api = Api::new(&h);
    let big = format!("{{\"note\": \"{}\"}}", "x".repeat(3 * 1024 * 1024));
    let r = api.send("POST", "/v1/incidents/1/close", Some(big.into_bytes()));
    assert_eq!((r.status, error_code(&r)), (413, "payload_too_large".to_owned()), "{}", r.body);
}

/// Flag writes are audited: `n` of them give `n` audit entries without an app.
fn write_flags(api: &Api, n: usize) {
    for i in 0..n {
        let flag = json!({"flag": {"enabled": true, "variants": {"on": true, "off": false},
            "default_variant": "on", "off_variant": "off"}, "reason": "test"});
        let r = api.post(&format!("/v1/flags/f{i}"), &flag);
        assert_eq!(r.status, 201, "{}", r.body);
    }
}

#[test]
fn audit_limit_is_honoured() {
    let h = Harness::start("");
    let api = Api::new(&h);
    write_flags(&api, 3);
    let all = api.get("/v1/audit").body;
    let n = all.as_array().unwrap().len();
    assert!(n >= 3, "{all}");
    let one = api.get("/v1/audit?limit=1").body;
    assert_eq!(one.as_array().unwrap().len(), 1, "{one}");
    assert_eq!(one[0], all[0]);
    // The next page starts after the last entry seen.
    let seq = one[0]["seq"].as_u64().unwrap();
    let next = api.get(&format!("/v1/audit?after={seq}&limit=2")).body;
    assert_eq!(next.as_array().unwrap(), &all.as_array().unwrap()[1..3]);
    // `since` in the future: nothing; far back: everything.
    assert_eq!(api.get("/v1/audit?since=2999-01-01T00:00:00Z").body, json!([]));
    assert_eq!(api.get("/v1/audit?since=3650d").body, all);
    // No entry of the flag writes is about an app.
    assert_eq!(api.get("/v1/audit?app=shop").body.as_array().unwrap().len(), 0);
    // The CLI passes the filter on.
    let out = h.json(&["audit", "list", "--limit", "2"]);
    assert_eq!(out.as_array().unwrap().len(), 2, "{out}");
}

#[test]
fn audit_after_a_sequence_past_i64_is_empty() {
    let h = Harness::start("");
    let api = Api::new(&h);
    write_flags(&api, 1);
    assert_eq!(api.get("/v1/audit").body.as_array().unwrap().len(), 1);
    // It was read as a negative number, "after -1": the whole log.
    for after in [u64::MAX, 1 << 63] {
        assert_eq!(api.get(&format!("/v1/audit?after={after}")).body, json!([]), "after={after}");
    }
}

#[test]
fn listings_take_limit_and_since() {
    let h = Harness::start("");
    let api = Api::new(&h);
    h.release("v1", &[]).ok();
    h.release("v2", &[]).ok();
    write_flags(&api, 1);
    for i in 0..2 {
        let r = api.post("/v1/flags/f0/off", &json!({"reason": format!("off {i}")}));
        assert!(r.status == 200, "{}", r.body);
        let r = api.post("/v1/flags/f0/on", &json!({"reason": format!("on {i}")}));
        assert!(r.status == 200, "{}", r.body);
    }
    // (listing, how many there are at least, the field that orders it)
    let cases = [
        ("/v1/apps/shop/revisions", 2, "revision"),
        ("/v1/apps/shop/operations", 2, "id"),
        ("/v1/flags/f0/history", 5, "version"),
    ];
    for (path, at_least, field) in cases {
        let all = api.get(path).body;
        let all = all.as_array().unwrap();
        assert!(all.len() >= at_least, "{path}: {all:?}");
        let one = api.get(&format!("{path}?limit=1")).body;
        assert_eq!(one.as_array().unwrap().len(), 1, "{path}: {one}");
        // Whatever the order of the listing, `limit` keeps the newest.
        let newest = all.iter().filter_map(|e| e[field].as_u64()).max().unwrap();
        assert_eq!(one[0][field].as_u64(), Some(newest), "{path}: {one}");
        assert_eq!(api.get(&format!("{path}?since=2999-01-01T00:00:00Z")).body, json!([]), "{path}");
        assert_eq!(api.get(&format!("{path}?since=1h")).body.as_array().unwrap().len(), all.len(), "{path}");
    }
    for path in ["/v1/incidents", "/v1/drills"] {
        assert_eq!(api.get(&format!("{path}?app=shop&limit=5&since=1h")).status, 200, "{path}");
        let r = api.get(&format!("{path}?app=nope"));
        assert_eq!((r.status, error_code(&r)), (404, "unknown_app".to_owned()), "{path}");
    }
    let ops = h.json(&["operations", "shop", "--limit", "1", "--since", "1h"]);
    assert_eq!(ops.as_array().unwrap().len(), 1, "{ops}");
}

#[test]
fn openapi_description_is_served_without_a_token() {
    let h = Harness::start("");
    let (status, body) = http_get(h.api_port, "/v1/openapi.json").unwrap();
    assert_eq!(status, 200, "{body}");
    let doc: Value = serde_json::from_str(&body).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{}", doc["openapi"]);
    for path in ["/v1/health", "/v1/audit", "/v1/apps/{app}/revisions", "/v1/openapi.json"] {
        assert!(doc["paths"][path].is_object(), "{path} is not described");
    }
    let audit = doc["paths"]["/v1/audit"]["get"]["parameters"].as_array().unwrap();
    let names: Vec<&str> = audit.iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(names, ["limit", "after", "since", "app"]);
}

/// An `X-Backstop-Actor` the audit log could not record as sent (not text, control characters,
/// too long) was dropped silently: the change was recorded as the role alone.
#[test]
fn an_unreadable_actor_was_recorded_as_the_role_alone() {
    let h = Harness::start("");
    let token = format!("Bearer {}", h.token());
    let body = br#"{"flag": {"enabled": true, "variants": {"on": true, "off": false}, "default_variant": "on", "off_variant": "off", "rules": []}, "reason": "try"}"#;
    let long = "a".repeat(65);
    for actor in ["José", long.as_str(), "\t"] {
        let headers =
            [("Authorization", token.as_str()), ("X-Backstop-Actor", actor), ("Content-Type", "application/json")];
        let (status, answer) = http_request(h.api_port, "POST", "/v1/flags/checkout", &headers, body).unwrap();
        assert_eq!(status, 400, "{actor:?}: {answer}");
        assert!(answer.contains("X-Backstop-Actor"), "{actor:?}: {answer}");
    }
    assert!(h.json(&["audit", "list"]).as_array().unwrap().is_empty(), "nothing was changed");
    let headers =
        [("Authorization", token.as_str()), ("X-Backstop-Actor", "ana ops"), ("Content-Type", "application/json")];
    let (status, answer) = http_request(h.api_port, "POST", "/v1/flags/checkout", &headers, body).unwrap();
    assert!(status < 300, "{answer}");
    let audit = h.json(&["audit", "list"]);
    assert_eq!(audit[0]["actor"], "admin:ana ops", "{audit}");
}
