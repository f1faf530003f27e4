//! Signals counted in the proxy: the per-revision JSON and the Prometheus exposition, read the way
//! a scraper reads it.

use std::time::{Duration, Instant};

use crate::harness::{Harness, http_get};

fn sample<'a>(
    scrape: &'a prometheus_parse::Scrape,
    name: &str,
    labels: &[(&str, &str)],
) -> Option<&'a prometheus_parse::Sample> {
    scrape.samples.iter().find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
}

fn value(s: &prometheus_parse::Sample) -> f64 {
    match &s.value {
        prometheus_parse::Value::Counter(v)
        | prometheus_parse::Value::Gauge(v)
        | prometheus_parse::Value::Untyped(v) => *v,
        prometheus_parse::Value::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
        other => panic!("unexpected sample {other:?}"),
    }
}

#[test]
fn signals_count_each_revisions_requests_and_failures_and_metrics_parse_as_prometheus_text() {
    let h = Harness::start("");
    h.release("v1", &[]).ok();
    for _ in 0..10 {
        assert_eq!(h.public_get().0, 200);
    }
    h.release("v2", &["--broken"]).ok();
    for _ in 0..5 {
        assert_eq!(h.public_get().0, 500);
    }
    let signals = h.json(&["signals", "shop"]);
    let revisions = signals["revisions"].as_array().unwrap();
    assert_eq!(revisions[0]["revision"], 2, "newest first: {signals:#}");
    assert_eq!(revisions[0]["live"], true);
    let total = &revisions[0]["total"];
    assert_eq!((total["requests"].as_u64(), total["failures"].as_u64()), (Some(5), Some(5)), "{signals:#}");
    assert_eq!(total["error_ratio"], 1.0);
    assert!(total["p99_ms"].as_f64().unwrap() > 0.0);
    let old = &revisions[1]["total"];
    assert_eq!((old["requests"].as_u64(), old["failures"].as_u64()), (Some(10), Some(0)), "{signals:#}");
    assert_eq!(revisions[1]["last_minute"]["requests"], 10, "all within the last minute");
    let table = h.cli(&["signals", "shop"]);
    assert!(table.ok().stdout().contains("2 (live)"), "{}", table.stdout());

    let (status, text) = http_get(h.api_port, "/metrics").unwrap();
    assert_eq!(status, 200);
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("Prometheus text");
    let rev2 = [("app", "shop"), ("revision", "2")];
    let rev1 = [("app", "shop"), ("revision", "1")];
    assert_eq!(value(sample(&scrape, "backstop_proxy_requests_total", &rev2).unwrap()), 5.0, "{text}");
    assert_eq!(value(sample(&scrape, "backstop_proxy_failures_total", &rev2).unwrap()), 5.0);
    assert_eq!(value(sample(&scrape, "backstop_proxy_failures_total", &rev1).unwrap()), 0.0);
    let latency = sample(&scrape, "backstop_proxy_latency_seconds", &rev1).expect("a latency histogram");
    assert_eq!(value(latency), 10.0, "the +Inf bucket holds every request: {latency:?}\n{text}");
    assert_eq!(value(sample(&scrape, "backstop_live_revision", &[("app", "shop")]).unwrap()), 2.0);
    let releases = [("app", "shop"), ("kind", "release"), ("state", "succeeded")];
    assert_eq!(value(sample(&scrape, "backstop_operations_total", &releases).unwrap()), 2.0, "{text}");
    assert!(sample(&scrape, "backstop_flag_changes_total", &[]).is_some(), "{text}");

    // The window follows new traffic.
    let deadline = Instant::now() + Duration::from_secs(10);
    while h.json(&["signals", "shop"])["revisions"][0]["last_minute"]["requests"] != 5 {
        assert!(Instant::now() < deadline, "the last minute never showed revision 2's requests");
        std::thread::sleep(Duration::from_millis(50));
    }
}
