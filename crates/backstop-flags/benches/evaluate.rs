//! Benchmark (not a test): the cost of one in-process evaluation, as the
//! SDK and the server's OFREP routes pay it. `cargo bench -p backstop-flags`.

use std::hint::black_box;

use backstop_flags::{CompiledFlag, Context, Snapshot, compile, evaluate, evaluate_bool};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

fn flag(value: serde_json::Value) -> CompiledFlag {
    compile(serde_json::from_value(value).unwrap()).unwrap()
}

/// A kill switch with targeting: staff first, old mobile apps excluded, a
/// 25 % rollout in three countries, everyone else off.
fn checkout() -> CompiledFlag {
    flag(json!({
        "key": "new-checkout", "enabled": true,
        "variants": {"off": false, "on": true}, "default_variant": "off", "off_variant": "off",
        "rules": [
            {"conditions": [{"attribute": "email", "op": "ends_with", "values": ["@example.com"]}],
             "serve": {"variant": "on"}},
            {"conditions": [{"attribute": "client.kind", "op": "equals", "values": ["mobile"]},
                            {"attribute": "client.version", "op": "semver_lt", "values": ["2.4.0"]}],
             "serve": {"variant": "off"}},
            {"conditions": [{"attribute": "country", "op": "in", "values": ["NL", "BE", "LU"]}],
             "serve": {"rollout": [{"variant": "on", "weight": 25}, {"variant": "off", "weight": 75}]}}
        ],
        "version": 1
    }))
}

fn kill_switch(enabled: bool) -> CompiledFlag {
    flag(json!({"key": "kill", "enabled": enabled, "variants": {"on": true, "off": false},
                "default_variant": "on", "off_variant": "off", "version": 1}))
}

fn user(id: &str) -> Context {
    Context::new()
        .with_targeting_key(id)
        .with_attribute("email", format!("{id}@users.test"))
        .with_attribute("client.kind", "web")
        .with_attribute("client.version", "3.1.0")
}

fn bench(c: &mut Criterion) {
    let anyone = Context::new();
    let on = kill_switch(true);
    let off = kill_switch(false);
    c.bench_function("switch on, no rules", |b| b.iter(|| evaluate_bool(black_box(&on), black_box(&anyone))));
    c.bench_function("switch off (killed)", |b| b.iter(|| evaluate_bool(black_box(&off), black_box(&anyone))));

    let checkout = checkout();
    let staff = user("u-17").with_attribute("email", "ops@example.com");
    let old_mobile = user("u-17").with_attribute("client.kind", "mobile").with_attribute("client.version", "2.3.9");
    let benelux = user("u-17").with_attribute("country", "NL");
    let elsewhere = user("u-17").with_attribute("country", "FR");
    for (name, ctx) in [
        ("3 rules, first matches (ends_with)", &staff),
        ("3 rules, second matches (equals + semver_lt)", &old_mobile),
        ("3 rules, rollout bucket (in + sha256)", &benelux),
        ("3 rules, none match (default)", &elsewhere),
    ] {
        c.bench_function(name, |b| b.iter(|| evaluate(black_box(&checkout), black_box(ctx))));
    }

    // Looked up by key among 1,000 flags, as a service with many flags does.
    let snapshot = Snapshot::new(
        1,
        (0..1000).map(|i| {
            flag(json!({"key": format!("flag-{i:04}"), "enabled": true, "variants": {"on": true, "off": false},
                        "default_variant": "on", "off_variant": "off", "version": 1}))
        }),
    );
    c.bench_function("snapshot of 1,000 flags, lookup + evaluate", |b| {
        b.iter(|| snapshot.evaluate(black_box("flag-0777"), black_box(&anyone)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
