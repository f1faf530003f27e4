//! Regression tests for what an attacker or a clumsy client broke, over the
//! real control plane.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use crate::harness::*;

/// One HTTP/1.1 request with the given extra header lines and body.
fn request(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head += &format!("{k}: {v}\r\n");
    }
    head += "\r\n";
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

fn eval_token(h: &Harness) -> String {
    std::fs::read_to_string(h.state().join("eval.token")).unwrap().trim().to_owned()
}

#[test]
fn eval_token_as_x_api_key_on_a_mutating_route_is_forbidden_not_unauthorized() {
    let h = Harness::start("");
    let eval = eval_token(&h);
    let (status, body) = request(h.api_port, "POST", "/v1/gc", &[("X-API-Key", &eval)], b"");
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("\"forbidden\""), "{body}");
    let (status, _) = request(h.api_port, "POST", "/v1/gc", &[("X-API-Key", "not-a-token")], b"");
    assert_eq!(status, 401);
    let audit = h.json(&["audit", "list"]);
    assert!(!audit.to_string().contains("\"gc\""), "a refused call left an audit entry: {audit}");
}

#[test]
fn lower_case_bearer_scheme_is_accepted() {
    let h = Harness::start("");
    let token = h.token();
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let (status, body) =
            request(h.api_port, "POST", "/v1/gc", &[("Authorization", &format!("{scheme} {token}"))], b"");
        assert_eq!(status, 200, "{scheme}: {body}");
    }
}

#[test]
fn garbage_tar_upload_answers_400_without_internal_paths() {
    let h = Harness::start("");
    let token = h.token();
    let auth = format!("Bearer {token}");
    let digest = format!("/v1/artifacts/sha256:{}", "cd".repeat(32));
    let garbage = vec![0x5au8; 8192];
    let (status, body) = request(
        h.api_port,
        "PUT",
        &digest,
        &[("Authorization", &auth), ("Content-Type", "application/x-tar")],
        &garbage,
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("tar"), "{body}");
    let state = h.state().canonicalize().unwrap();
    assert!(!body.contains(state.to_str().unwrap()) && !body.contains("/tmp/"), "internal path leaked: {body}");
    let (status, _) = request(h.api_port, "GET", &digest, &[], b"");
    assert_eq!(status, 404, "nothing was stored");
}

#[test]
fn state_database_is_readable_by_its_owner_only() {
    let h = Harness::start("");
    let mode = std::fs::metadata(h.state().join("backstop.db")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}
