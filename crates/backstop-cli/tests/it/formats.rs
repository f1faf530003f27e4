//! `-o table|wide|name|json|yaml|sarif` over the real CLI and server, and the client's options
//! refused where they mean nothing.

use crate::harness::Harness;

fn lines(s: &str) -> Vec<&str> {
    s.lines().filter(|l| !l.trim().is_empty()).collect()
}

#[test]
fn listings_print_wide_and_name_shapes_and_yaml_is_the_json_answer() {
    let h = Harness::start("");
    h.release("v1", &[]).ok();
    h.wait_status(1, "known-good");
    h.release("v2", &[]).ok();

    let names = h.cli(&["history", "shop", "-o", "name"]);
    names.ok();
    assert_eq!(lines(&names.stdout()), ["shop/1", "shop/2"], "{}", names.stdout());

    let table = h.cli(&["history", "shop"]);
    let wide = h.cli(&["history", "shop", "-o", "wide"]);
    let (table, wide) = (table.ok().stdout(), wide.ok().stdout());
    assert!(!table.lines().next().unwrap().contains("ACTOR"), "{table}");
    let header = wide.lines().next().unwrap();
    for col in ["REVISION", "MARK", "COMMIT", "IMAGE", "ACTOR", "CREATED"] {
        assert!(header.contains(col), "{col} missing: {wide}");
    }
    assert!(wide.lines().skip(1).all(|l| l.contains("tester")), "the actor of each revision: {wide}");
    // --no-headers holds in every shape.
    let bare = h.cli(&["history", "shop", "-o", "wide", "--no-headers"]);
    assert_eq!(lines(&bare.ok().stdout()).len(), 2);

    let ops = h.cli(&["operations", "shop", "-o", "name"]);
    let ops = ops.ok().stdout();
    assert!(!ops.is_empty() && lines(&ops).iter().all(|l| l.starts_with("shop/operation/")), "{ops}");
    assert_eq!(lines(&h.cli(&["apps", "-o", "name"]).ok().stdout()), ["shop"]);

    // Two reads of a listing compare equal only once nothing moves between them: v2's soak ends
    // first (it went known-good between the YAML and the JSON read on a loaded machine).
    h.wait_status(2, "known-good");
    for args in [&["history", "shop"][..], &["status", "shop"], &["apps"], &["audit", "list"]] {
        let yaml = h.cli(&[args, &["-o", "yaml"]].concat());
        let from_yaml: serde_json::Value = serde_yaml::from_str(&yaml.ok().stdout()).unwrap();
        let mut json = h.json(args);
        let mut from_yaml = from_yaml;
        // Status carries times that move between two reads; compare its shape there.
        if args[0] == "status" {
            for v in [&mut json, &mut from_yaml] {
                v["instances"] = serde_json::Value::Null;
                v["undo"] = serde_json::Value::Null;
            }
            assert_eq!(from_yaml["live_revision"], 2);
        }
        assert_eq!(from_yaml, json, "{args:?}");
    }
    // An empty listing: words for a person, nothing for a script.
    assert_eq!(h.cli(&["incident", "list"]).ok().stdout().trim(), "no incidents");
    assert_eq!(h.cli(&["incident", "list", "-o", "name"]).ok().stdout(), "");
    // An incident executed (undo to the warm v1) is listed by its id.
    h.cli(&["incident", "shop", "--execute"]).ok();
    assert_eq!(lines(&h.cli(&["incident", "list", "-o", "name"]).ok().stdout()), ["incident/1"]);
    let wide = h.cli(&["incident", "list", "-o", "wide"]).ok().stdout();
    assert!(wide.lines().next().unwrap().contains("OPENED-BY"), "{wide}");
}

#[test]
fn client_options_on_a_local_command_and_sarif_outside_lint_are_bad_input() {
    let h = Harness::start("");
    let dir = tempfile::tempdir().unwrap();
    let sql = dir.path().join("0001_add.sql");
    std::fs::write(&sql, "ALTER TABLE orders ADD COLUMN note text;\n").unwrap();
    let sql = sql.to_str().unwrap();

    // BACKSTOP_URL and BACKSTOP_TOKEN in the environment (as in a shell profile) are fine.
    h.cli(&["lint", sql]).ok();
    for args in [
        &["lint", "--server", "http://127.0.0.1:9", sql][..],
        &["lint", "--token", "x", sql],
        &["digest", "--actor", "me", sql],
        &["config", "check", "--server", "http://127.0.0.1:9"],
    ] {
        let out = h.cli(args);
        assert_eq!(out.code(), 2, "{args:?}: {}", out.stderr());
        assert!(out.stderr().starts_with("error: --") && out.stderr().contains("means nothing"), "{}", out.stderr());
        assert!(out.stderr().contains("hint: drop --"), "{}", out.stderr());
    }
    let out = h.cli(&["history", "shop", "-o", "sarif"]);
    assert_eq!(out.code(), 2, "{}", out.stderr());
    assert!(out.stderr().contains("`-o sarif` is for `lint` and `compat`"), "{}", out.stderr());
    h.cli(&["lint", "-o", "sarif", sql]).ok();

    let help = h.cli(&["lint", "--help"]).ok().stdout();
    assert!(!help.contains("--server") && !help.contains("--token"), "{help}");
    let help = h.cli(&["undo", "--help"]).ok().stdout();
    assert!(help.contains("--server") && help.contains("--token"), "{help}");
}
