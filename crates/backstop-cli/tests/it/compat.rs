//! The compatibility gate through the real control plane and CLI: a release whose contracts
//! break a revision of the rollback window is refused, `--allow-breaking` lets it through and is
//! audited, `compat` shows the findings without releasing, and an undo whose target the live
//! revision's clients cannot use is refused unless forced (audited).

use std::path::PathBuf;

use serde_json::Value;

use crate::harness::{Harness, Out};

const ORDERS: &str = "
  /orders:
    get:
      responses:
        '200':
          description: the orders
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [sku]
              properties:
                sku: {type: string}
                note: {type: string}
      responses:
        '201':
          description: created
";

fn openapi(h: &Harness, name: &str, extra_paths: &str) -> PathBuf {
    let path = h.dir.path().join(name);
    let text = format!("openapi: 3.0.3\ninfo: {{title: shop, version: '1'}}\npaths:{ORDERS}{extra_paths}");
    std::fs::write(&path, text).unwrap();
    path
}

const USERS: &str = "
  /users:
    get:
      responses:
        '200':
          description: the users
";

const REFUNDS: &str = "
  /refunds:
    post:
      responses:
        '201':
          description: refunded
";

fn release(h: &Harness, version: &str, extra: &[&str]) -> Out {
    let art = h.artifact(version, &[]);
    let mut args = vec!["release", "shop", "--artifact", art.to_str().unwrap(), "--version", version];
    args.extend(extra);
    h.cli(&args)
}

fn audited(h: &Harness, action: &str) -> Vec<Value> {
    let audit = h.json(&["audit", "list"]);
    audit.as_array().unwrap().iter().filter(|e| e["action"] == action).map(|e| e["detail"].clone()).collect()
}

fn revisions(h: &Harness) -> usize {
    h.json(&["history", "shop"]).as_array().unwrap().len()
}

#[test]
fn a_breaking_release_is_refused_and_allow_breaking_lets_it_through_audited() {
    let h = Harness::start("");
    let v1 = openapi(&h, "v1.yaml", USERS);
    let v2 = openapi(&h, "v2.yaml", "");
    release(&h, "v1", &["--api", v1.to_str().unwrap()]).ok();
    h.wait_status(1, "known-good");

    // v2 drops /users, which v1's clients call.
    let refused = release(&h, "v2", &["--api", v2.to_str().unwrap()]);
    assert_eq!(refused.code(), 1, "{}", refused.stderr());
    let err = refused.stderr();
    assert!(err.starts_with("error: release of `shop` refused"), "{err}");
    assert!(
        err.contains("api.path-removed at openapi/paths/~1users (revision 1 vs 2, old-client-to-new-server)"),
        "{err}"
    );
    assert!(err.contains("\nhint: ") && err.contains("--allow-breaking api.path-removed REASON"), "{err}");
    assert_eq!(revisions(&h), 1, "nothing was recorded");

    // `compat` shows the same without releasing, as JSON and as SARIF; exit 1 on a breaking finding.
    let shown = h.cli(&["compat", "shop", "--api", v2.to_str().unwrap(), "-o", "json"]);
    assert_eq!(shown.code(), 1, "{}", shown.stderr());
    let report: Value = serde_json::from_str(&shown.stdout()).unwrap();
    assert_eq!(report["revision"], 2);
    assert_eq!(report["against"], serde_json::json!([1]));
    assert_eq!(report["breaking"], 1);
    let finding = &report["findings"][0];
    assert_eq!(finding["rule"], "api.path-removed");
    assert_eq!(finding["direction"], "old-client-to-new-server");
    assert_eq!((finding["old_revision"].as_u64(), finding["new_revision"].as_u64()), (Some(1), Some(2)));
    let sarif = h.cli(&["compat", "shop", "--api", v2.to_str().unwrap(), "-o", "sarif"]);
    let sarif: Value = serde_json::from_str(&sarif.stdout()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(sarif["runs"][0]["results"][0]["ruleId"], "api.path-removed");
    assert_eq!(sarif["runs"][0]["results"][0]["level"], "error");
    let same = h.cli(&["compat", "shop", "--api", v1.to_str().unwrap()]);
    assert_eq!(same.code(), 0, "{}", same.stderr());
    assert!(same.stdout().contains("0 breaking, 0 warnings"), "{}", same.stdout());
    assert_eq!(revisions(&h), 1, "compat records nothing");

    // An unknown rule or a missing reason is bad input, refused before anything is uploaded.
    let unknown = release(&h, "v2", &["--api", v2.to_str().unwrap(), "--allow-breaking", "api.nope", "x"]);
    assert_eq!(unknown.code(), 2, "{}", unknown.stderr());
    assert!(unknown.stderr().contains("unknown rule `api.nope`") && unknown.stderr().contains("hint:"));

    // Allowed with a reason: released, and the rule and reason are in the audit log.
    let reason = "the users page moved to the accounts service in March";
    release(&h, "v2", &["--api", v2.to_str().unwrap(), "--allow-breaking", "api.path-removed", reason]).ok();
    let entries = audited(&h, "release.allow-breaking");
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["rule"], "api.path-removed");
    assert_eq!(entries[0]["reason"], reason);
    assert_eq!(entries[0]["revision"], 2);
    assert_eq!(entries[0]["findings"][0]["path"], "/paths/~1users");
    h.cli(&["audit", "verify"]).ok();
    // The live revision's contracts are kept: `compat` without files checks them.
    let live = h.cli(&["compat", "shop", "--against", "1", "-o", "json"]);
    let live: Value = serde_json::from_str(&live.stdout()).unwrap();
    assert_eq!((live["revision"].as_u64(), live["breaking"].as_u64()), (Some(2), Some(1)), "{live:#}");
}

#[test]
fn an_undo_the_live_revision_s_clients_cannot_use_is_refused_naming_the_findings_unless_forced() {
    let h = Harness::start("");
    let v1 = openapi(&h, "v1.yaml", "");
    let v2 = openapi(&h, "v2.yaml", REFUNDS);
    release(&h, "v1", &["--api", v1.to_str().unwrap()]).ok();
    h.wait_status(1, "known-good");
    // v2 adds /refunds; its clients would meet a 404 on v1, so even the release needs the reason.
    let added = release(&h, "v2", &["--api", v2.to_str().unwrap()]);
    assert_eq!(added.code(), 1, "{}", added.stderr());
    assert!(added.stderr().contains("new-client-to-old-server"), "{}", added.stderr());
    release(
        &h,
        "v2",
        &["--api", v2.to_str().unwrap(), "--allow-breaking", "api.path-removed", "refunds ship server first"],
    )
    .ok();
    h.wait_status(2, "known-good");

    let refused = h.cli(&["undo", "shop"]);
    assert_eq!(refused.code(), 1, "{}", refused.stderr());
    let err = refused.stderr();
    assert!(err.contains("rollback of `shop` from revision 2 to revision 1 refused"), "{err}");
    assert!(err.contains("api.path-removed at openapi/paths/~1refunds"), "{err}");
    assert!(err.contains("hint: ") && err.contains("--force"), "{err}");
    assert_eq!(h.json(&["status", "shop"])["live_revision"], 2, "traffic did not move");

    let forced = h.cli(&["undo", "shop", "--force"]);
    assert_eq!(forced.code(), 0, "{}", forced.stderr());
    assert_eq!(h.json(&["status", "shop"])["live_revision"], 1);
    let undo = audited(&h, "undo");
    let last = undo.last().expect("an undo entry");
    assert_eq!(last["forced"], true, "{last}");
    assert!(last["forced_over"][0].as_str().unwrap().contains("api.path-removed"), "{last}");
}

#[test]
fn messages_are_read_from_produces_and_consumes_and_bad_contracts_change_nothing() {
    let h = Harness::start("");
    let dir = h.dir.path().join("messages");
    std::fs::create_dir_all(dir.join("produces")).unwrap();
    let schema = |required: &str| {
        format!(
            r#"{{"type": "object", "required": [{required}], "properties": {{"id": {{"type": "string"}}, "total": {{"type": "integer"}}}}}}"#
        )
    };
    std::fs::write(dir.join("produces/order-created.json"), schema(r#""id", "total""#)).unwrap();
    release(&h, "v1", &["--messages", dir.to_str().unwrap()]).ok();
    h.wait_status(1, "known-good");
    // v2 may leave `total` out: consumers built on v1's schema require it.
    std::fs::write(dir.join("produces/order-created.json"), schema(r#""id""#)).unwrap();
    let out = h.cli(&["compat", "shop", "--messages", dir.to_str().unwrap()]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    assert!(out.stdout().contains("msg.required-field-removed"), "{}", out.stdout());
    assert!(out.stdout().contains("new-producer-to-old-consumer"), "{}", out.stdout());

    // A folder without produces/ or consumes/, a broken document: exit 2, nothing released.
    let empty = h.dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = release(&h, "v2", &["--messages", empty.to_str().unwrap()]);
    assert_eq!(out.code(), 2, "{}", out.stderr());
    assert!(out.stderr().contains("neither produces/ nor consumes/"), "{}", out.stderr());
    std::fs::write(dir.join("produces/order-created.json"), "{\"type\": ").unwrap();
    let out = release(&h, "v2", &["--messages", dir.to_str().unwrap()]);
    assert_eq!(out.code(), 2, "{}", out.stderr());
    assert!(out.stderr().contains("does not parse as JSON") && out.stderr().contains("hint:"), "{}", out.stderr());
    assert_eq!(revisions(&h), 1);
}
