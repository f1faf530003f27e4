//! The API router driven in process with `oneshot`: status codes, authentication and the one error
//! shape, over a real control plane (SQLite state in a temp dir, the app's proxy on a free port).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use backstop_server::{Config, Server, api};
use http_body_util::BodyExt;
use tower::ServiceExt;

struct Api {
    _dir: tempfile::TempDir,
    server: Server,
}

async fn start() -> Api {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backstop.toml");
    let free = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let text = format!(
        "[server]\nlisten = \"{}\"\nstate = \"state\"\n[apps.shop]\nlisten = \"{}\"\nhealth = \"/healthz\"\n",
        free(),
        free()
    );
    let server = Server::start(Config::parse(&path, &text).unwrap()).await.unwrap();
    Api { _dir: dir, server }
}

impl Api {
    async fn call(&self, method: &str, uri: &str, token: Option<&str>, body: &str) -> (StatusCode, serde_json::Value) {
        let mut req = Request::builder().method(method).uri(uri).header("content-type", "application/json");
        if let Some(token) = token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let router = api::app(Arc::clone(self.server.ctx()));
        let resp = router.oneshot(req.body(Body::from(body.to_owned())).unwrap()).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (status, json)
    }

    fn admin(&self) -> String {
        self.server.ctx().token.clone()
    }

    fn eval(&self) -> String {
        self.server.ctx().eval_token.clone()
    }
}

/// Every failure has the one shape: `{"error": {"code", "message", "hint"}}`, all non-empty strings.
fn error_code(body: &serde_json::Value) -> &str {
    let e = &body["error"];
    for field in ["code", "message", "hint"] {
        assert!(e[field].as_str().is_some_and(|s| !s.is_empty()), "error.{field} in {body}");
    }
    e["code"].as_str().unwrap()
}

#[tokio::test]
async fn status_codes_and_error_shapes() {
    let api = start().await;
    let admin = api.admin();
    let unknown_digest = format!(r#"{{"digest":"sha256:{}","version":"v1"}}"#, "0".repeat(64));
    // (method, path, token, body, status, error code)
    type Case<'a> = (&'a str, &'a str, Option<&'a str>, &'a str, StatusCode, Option<&'a str>);
    let cases: Vec<Case<'_>> = vec![
        ("GET", "/v1/health", None, "", StatusCode::OK, None),
        ("GET", "/v1/apps", None, "", StatusCode::OK, None),
        ("GET", "/v1/apps/shop/status", None, "", StatusCode::OK, None),
        ("GET", "/v1/apps/nope/status", None, "", StatusCode::NOT_FOUND, Some("unknown_app")),
        ("GET", "/v1/apps/Not-An-App!/status", None, "", StatusCode::NOT_FOUND, Some("unknown_app")),
        ("GET", "/v1/apps/shop/revisions/9", None, "", StatusCode::NOT_FOUND, Some("unknown_revision")),
        ("GET", "/v1/apps/shop/known-good", None, "", StatusCode::NOT_FOUND, Some("no_known_good")),
        ("GET", "/v1/no/such/route", None, "", StatusCode::NOT_FOUND, Some("not_found")),
        ("POST", "/v1/apps/shop/undo", Some(&admin), "{}", StatusCode::CONFLICT, Some("refused")),
        ("POST", "/v1/apps/shop/undo", Some(&admin), "{not json", StatusCode::BAD_REQUEST, None),
        (
            "POST",
            "/v1/apps/shop/releases",
            Some(&admin),
            &unknown_digest,
            StatusCode::BAD_REQUEST,
            Some("artifact_not_uploaded"),
        ),
    ];
    for (method, uri, token, body, want, code) in cases {
        let (status, json) = api.call(method, uri, token, body).await;
        assert_eq!(status, want, "{method} {uri}: {json}");
        if !status.is_success() {
            let got = error_code(&json);
            if let Some(code) = code {
                assert_eq!(got, code, "{method} {uri}");
            }
        }
    }
}

#[tokio::test]
async fn mutating_routes_need_the_admin_token() {
    let api = start().await;
    let eval = api.eval();
    let routes = [
        ("POST", "/v1/apps/shop/undo"),
        ("POST", "/v1/apps/shop/releases"),
        ("POST", "/v1/gc"),
        ("POST", "/v1/apps/shop/migrations/contract"),
        ("POST", "/v1/apps/shop/revisions/1/promote"),
        ("PUT", "/v1/artifacts/sha256:0000"),
    ];
    for (method, uri) in routes {
        let (status, json) = api.call(method, uri, None, "{}").await;
        assert_eq!((status, error_code(&json)), (StatusCode::UNAUTHORIZED, "unauthorized"), "{method} {uri}");
        let (status, json) = api.call(method, uri, Some("not-the-token"), "{}").await;
        assert_eq!((status, error_code(&json)), (StatusCode::UNAUTHORIZED, "unauthorized"), "{method} {uri}");
        let (status, json) = api.call(method, uri, Some(&eval), "{}").await;
        assert_eq!((status, error_code(&json)), (StatusCode::FORBIDDEN, "forbidden"), "{method} {uri}");
    }
    // Nothing was changed by the refused calls.
    let (_, audit) = api.call("GET", "/v1/audit", None, "").await;
    assert_eq!(audit.as_array().map(Vec::len), Some(0), "{audit}");
}

#[tokio::test]
async fn flag_reads_need_the_evaluation_or_the_admin_token() {
    let api = start().await;
    let (admin, eval) = (api.admin(), api.eval());
    let body = r#"{"flag": {"enabled": true, "variants": {"on": true, "off": false}, "default_variant": "on", "off_variant": "off"}}"#;
    assert_eq!(api.call("POST", "/v1/flags/kill", Some(&admin), body).await.0, StatusCode::CREATED);
    for uri in ["/v1/flags", "/v1/flags/kill", "/v1/flags/kill/history", "/v1/flags/nope"] {
        for token in [None, Some("not-the-token")] {
            let (status, json) = api.call("GET", uri, token, "").await;
            assert_eq!((status, error_code(&json)), (StatusCode::UNAUTHORIZED, "unauthorized"), "{uri} {token:?}");
        }
        let want = if uri.ends_with("nope") { StatusCode::NOT_FOUND } else { StatusCode::OK };
        for token in [&eval, &admin] {
            assert_eq!(api.call("GET", uri, Some(token), "").await.0, want, "{uri}");
        }
    }
}

#[tokio::test]
async fn unreadable_stored_data_is_a_server_fault_named_corrupt_state() {
    let api = start().await;
    let store = api.server.ctx().store.clone();
    let app: backstop_core::AppName = "shop".parse().unwrap();
    store
        .create_revision(backstop_store::NewRevision {
            app: app.clone(),
            version: "v1".into(),
            digest: backstop_core::Digest::of_bytes(b"v1"),
            change_cause: String::new(),
            git_commit: None,
            image: None,
            git_tag: None,
            hotfix_of: None,
            guarded_by: Vec::new(),
            actor: "admin".into(),
        })
        .await
        .unwrap();
    // Damage the state as a hand edit or a disk fault would.
    let db = rusqlite::Connection::open(api._dir.path().join("state").join("backstop.db")).unwrap();
    db.execute("UPDATE revisions SET status = 'exploded' WHERE app = 'shop'", []).unwrap();
    for uri in ["/v1/apps/shop/status", "/v1/apps/shop/revisions", "/v1/apps/shop/revisions/1"] {
        let (status, json) = api.call("GET", uri, None, "").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{uri}: {json}");
        assert_eq!(error_code(&json), "corrupt_state", "{uri}");
    }
}

#[tokio::test]
async fn hotfix_links_that_do_not_hold_and_a_missing_hotfix_without_a_reason_are_refused_before_anything_is_recorded() {
    let api = start().await;
    let admin = api.admin();
    let bytes = "#!/bin/sh\nexit 0\n";
    let digest = backstop_core::Digest::of_bytes(bytes.as_bytes());
    let (status, json) = api.call("PUT", &format!("/v1/artifacts/{digest}"), Some(&admin), bytes).await;
    assert!(status.is_success(), "{json}");
    let store = api.server.ctx().store.clone();
    let app: backstop_core::AppName = "shop".parse().unwrap();
    store
        .create_revision(backstop_store::NewRevision {
            app: app.clone(),
            version: "v1".into(),
            digest: digest.clone(),
            change_cause: String::new(),
            git_commit: None,
            git_tag: None,
            hotfix_of: None,
            image: None,
            guarded_by: Vec::new(),
            actor: "admin".into(),
        })
        .await
        .unwrap();
    let missing = r#""missing_hotfixes":[{"revision":1,"commits":["4f2a9c1"]}]"#;
    let cases = [
        (
            "a missing hotfix, no reason",
            format!(r#""git_commit":"abc1234",{missing}"#),
            StatusCode::CONFLICT,
            "missing_hotfix",
        ),
        (
            "a missing hotfix, a blank reason",
            format!(r#""git_commit":"abc1234",{missing},"allow_missing_hotfix":"  ""#),
            StatusCode::CONFLICT,
            "missing_hotfix",
        ),
        ("a hotfix without its commit", r#""hotfix_of":1"#.to_owned(), StatusCode::BAD_REQUEST, "bad_request"),
        (
            "a hotfix of a revision without a commit",
            r#""git_commit":"abc1234","hotfix_of":1"#.to_owned(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "a hotfix of no revision",
            r#""git_commit":"abc1234","hotfix_of":9"#.to_owned(),
            StatusCode::NOT_FOUND,
            "unknown_revision",
        ),
        ("a tag without its commit", r#""git_tag":"v2""#.to_owned(), StatusCode::BAD_REQUEST, "bad_request"),
        ("a commit name with a space", r#""git_commit":"a b""#.to_owned(), StatusCode::BAD_REQUEST, "bad_request"),
    ];
    for (name, extra, want, code) in cases {
        let body = format!(r#"{{"digest":"{digest}","version":"v2",{extra}}}"#);
        let (status, json) = api.call("POST", "/v1/apps/shop/releases", Some(&admin), &body).await;
        assert_eq!(status, want, "{name}: {json}");
        assert_eq!(error_code(&json), code, "{name}");
    }
    let (_, json) = api
        .call(
            "POST",
            "/v1/apps/shop/releases",
            Some(&admin),
            &format!(r#"{{"digest":"{digest}","version":"v2","git_commit":"abc1234",{missing}}}"#),
        )
        .await;
    assert!(json["error"]["message"].as_str().unwrap().contains("revision 1 (commits 4f2a9c1)"), "{json}");
    assert_eq!(store.revisions(&app).await.unwrap().len(), 1, "nothing was recorded");
    assert!(store.operations(&app, 10).await.unwrap().is_empty(), "no operation began");
}

/// The paths the router serves, as axum's `Debug` of the router lists them (`path_router`, then
/// `RouteId(n): "/path"`).
/// Not a stable format: a change of it finds no path at all and fails loudly below.
fn router_paths(router: &axum::Router) -> std::collections::BTreeSet<String> {
    let debug = format!("{router:?}");
    // The fallback router's own paths come after.
    let (routes, _) = debug.split_once("fallback_router").unwrap_or((&debug, ""));
    routes
        .split("RouteId(")
        .skip(1)
        .filter_map(|rest| rest.split_once("): \"").map(|(_, path)| path))
        .filter_map(|path| path.split_once('"').map(|(path, _)| path.to_owned()))
        .filter(|path| path.starts_with('/') && !path.contains("__private__axum"))
        .collect()
}

#[tokio::test]
async fn openapi_describes_every_route_of_the_router() {
    let api = start().await;
    let router = api::app(Arc::clone(api.server.ctx()));
    let served = router_paths(&router);
    assert!(served.len() >= 30 && served.contains("/v1/health"), "cannot read the router's paths: {served:?}");
    let (status, doc) = api.call("GET", "/v1/openapi.json", None, "").await;
    assert_eq!(status, StatusCode::OK);
    let described: std::collections::BTreeSet<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    let undescribed: Vec<&String> = served.difference(&described).collect();
    let unserved: Vec<&String> = described.difference(&served).collect();
    assert!(undescribed.is_empty(), "routes without a description in backstop_server::openapi: {undescribed:?}");
    assert!(unserved.is_empty(), "descriptions of routes the router does not have: {unserved:?}");
    let admin = api.admin();
    for path in &served {
        let mut documented: Vec<String> =
            doc["paths"][path].as_object().unwrap().keys().map(|m| m.to_uppercase()).collect();
        documented.sort_unstable();
        // A method no route takes: axum answers 405 and lists the route's methods in `Allow`.
        let uri = path.replace(['{', '}'], "");
        let req = Request::builder()
            .method("PROBE")
            .uri(&uri)
            .header("authorization", format!("Bearer {admin}"))
            .body(Body::empty())
            .unwrap();
        let resp = api::app(Arc::clone(api.server.ctx())).oneshot(req).await.unwrap();
        // `/v1/flags/stream` answers every other method as a flag key it refuses (400).
        let refused = if path == "/v1/flags/stream" { StatusCode::BAD_REQUEST } else { StatusCode::METHOD_NOT_ALLOWED };
        assert_eq!(resp.status(), refused, "{path}");
        let allow = resp.headers().get("allow").unwrap_or_else(|| panic!("{path} answered without Allow"));
        let mut allowed: Vec<String> =
            allow.to_str().unwrap().split(',').map(|m| m.trim().to_owned()).filter(|m| m != "HEAD").collect();
        allowed.sort_unstable();
        assert_eq!(allowed, documented, "methods of {path}");
    }
}

#[tokio::test]
async fn contracts_that_do_not_read_or_break_the_window_are_refused_with_their_code_before_anything_is_recorded() {
    let api = start().await;
    let admin = api.admin();
    let bytes = "#!/bin/sh\nexit 0\n";
    let digest = backstop_core::Digest::of_bytes(bytes.as_bytes());
    let (status, json) = api.call("PUT", &format!("/v1/artifacts/{digest}"), Some(&admin), bytes).await;
    assert!(status.is_success(), "{json}");
    let store = api.server.ctx().store.clone();
    let app: backstop_core::AppName = "shop".parse().unwrap();
    store
        .create_revision(backstop_store::NewRevision {
            app: app.clone(),
            version: "v1".into(),
            digest: digest.clone(),
            change_cause: String::new(),
            git_commit: None,
            git_tag: None,
            hotfix_of: None,
            image: None,
            guarded_by: Vec::new(),
            actor: "admin".into(),
        })
        .await
        .unwrap();
    let users = serde_json::json!({"openapi": "3.0.3", "paths": {"/users": {"get": {"responses": {"200": {"description": "ok"}}}}}});
    store
        .apply(
            &app,
            vec![
                backstop_store::Change::Contracts { revision: 1, contracts: serde_json::json!({ "api": users }) },
                backstop_store::Change::Live { revision: Some(1) },
            ],
        )
        .await
        .unwrap();
    let empty = r#""api":{"name":"openapi.yaml","text":"openapi: 3.0.3\npaths: {}\n"}"#;
    let cases = [
        (
            "swagger 2",
            r#""api":{"name":"openapi.yaml","text":"swagger: '2.0'\n"}"#.to_owned(),
            StatusCode::BAD_REQUEST,
            "bad_contracts",
        ),
        (
            "a message schema that does not parse",
            r#""messages":[{"role":"produces","name":"order","text":"{\"type\": "}]"#.to_owned(),
            StatusCode::BAD_REQUEST,
            "bad_contracts",
        ),
        ("a path the live revision's clients call, removed", empty.to_owned(), StatusCode::CONFLICT, "breaking_change"),
        (
            "allowed under another rule",
            format!(r#"{empty},"allow_breaking":[{{"rule":"api.type-narrowed","reason":"why"}}]"#),
            StatusCode::CONFLICT,
            "breaking_change",
        ),
        (
            "an unknown rule",
            format!(r#"{empty},"allow_breaking":[{{"rule":"api.nope","reason":"why"}}]"#),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "a blank reason",
            format!(r#"{empty},"allow_breaking":[{{"rule":"api.path-removed","reason":" "}}]"#),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "an allowance without contracts",
            r#""allow_breaking":[{"rule":"api.path-removed","reason":"why"}]"#.to_owned(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
    ];
    for (name, extra, want, code) in cases {
        let body = format!(r#"{{"digest":"{digest}","version":"v2",{extra}}}"#);
        let (status, json) = api.call("POST", "/v1/apps/shop/releases", Some(&admin), &body).await;
        assert_eq!(status, want, "{name}: {json}");
        assert_eq!(error_code(&json), code, "{name}");
        assert!(!json["error"]["hint"].as_str().unwrap_or("").is_empty(), "{name}: {json}");
    }
    assert_eq!(store.revisions(&app).await.unwrap().len(), 1, "nothing was recorded");

    // The same question without releasing.
    let (status, json) = api.call("POST", "/v1/apps/shop/compat", Some(&admin), &format!("{{{empty}}}")).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!((json["revision"].as_u64(), json["breaking"].as_u64()), (Some(2), Some(1)), "{json}");
    assert_eq!(json["findings"][0]["rule"], "api.path-removed");
    let (status, json) = api.call("POST", "/v1/apps/shop/compat", Some(&admin), r#"{"against":7}"#).await;
    assert_eq!((status, error_code(&json)), (StatusCode::NOT_FOUND, "unknown_revision"), "{json}");
    let (status, json) = api.call("POST", "/v1/apps/shop/compat", None, "{}").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{json}");
}
