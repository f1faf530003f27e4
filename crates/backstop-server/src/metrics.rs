//! `GET /metrics`: Prometheus text exposition, encoded by `prometheus-client` from a snapshot taken
//! per scrape (the proxy's counters are its own atomics; nothing is registered twice).

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use backstop_core::rollback::last_known_good;
use backstop_core::signals::{BUCKETS, Counts, upper_bound_micros};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::Ctx;
use crate::api::ApiError;

/// What one scrape reports.
#[derive(Debug, Default)]
struct Scrape {
    /// Per app and revision: the proxy's counts.
    revisions: Vec<(String, u64, Counts)>,
    /// Per app, operation kind and state: how many.
    operations: Vec<(String, &'static str, &'static str, u64)>,
    /// Per app: the live and the newest known-good revision.
    live: Vec<(String, Option<u64>, Option<u64>)>,
    flag_version: u64,
}

type Labels = Vec<(&'static str, String)>;

fn revision_labels(app: &str, revision: u64) -> Labels {
    vec![("app", app.to_owned()), ("revision", revision.to_string())]
}

/// A histogram read from a snapshot, with the Prometheus bucket bounds every power of two.
struct LatencyHistogram<'a>(&'a Counts);

impl EncodeMetric for LatencyHistogram<'_> {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        // The encoder accumulates: each pair is the count of its own range, not a running total.
        let counts = self.0.latency.buckets();
        let mut buckets = Vec::new();
        let mut in_range = 0;
        for (i, count) in counts.iter().enumerate().take(BUCKETS - 1) {
            in_range += count;
            // Every fourth bound (a power of two of microseconds) keeps the exposition short.
            if i % 4 == 3 {
                if let Some(bound) = upper_bound_micros(i) {
                    buckets.push((bound as f64 / 1e6, in_range));
                    in_range = 0;
                }
            }
        }
        let total = self.0.latency.count();
        let below: u64 = buckets.iter().map(|(_, c)| c).sum();
        buckets.push((f64::INFINITY, total - below));
        encoder.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
            self.0.latency_sum_micros as f64 / 1e6,
            total,
            &buckets,
            None,
        )
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        {
            let help = "Requests the proxy sent to a revision";
            let mut metric = encoder.encode_descriptor("backstop_proxy_requests", help, None, MetricType::Counter)?;
            for (app, revision, counts) in &self.revisions {
                let labels = revision_labels(app, *revision);
                ConstCounter::new(counts.requests).encode(metric.encode_family(&labels)?)?;
            }
        }
        {
            let help = "Requests to a revision that failed as the client saw them (5xx, or no answer)";
            let mut metric = encoder.encode_descriptor("backstop_proxy_failures", help, None, MetricType::Counter)?;
            for (app, revision, counts) in &self.revisions {
                let labels = revision_labels(app, *revision);
                ConstCounter::new(counts.failures).encode(metric.encode_family(&labels)?)?;
            }
        }
        {
            let help = "Time until a revision's response head, as the proxy measured it";
            let unit = prometheus_client::registry::Unit::Seconds;
            let mut metric =
                encoder.encode_descriptor("backstop_proxy_latency", help, Some(&unit), MetricType::Histogram)?;
            for (app, revision, counts) in &self.revisions {
                let labels = revision_labels(app, *revision);
                LatencyHistogram(counts).encode(metric.encode_family(&labels)?)?;
            }
        }
        {
            let help = "Operations by kind and state";
            let mut metric = encoder.encode_descriptor("backstop_operations", help, None, MetricType::Counter)?;
            for (app, kind, state, count) in &self.operations {
                let labels: Labels = vec![("app", app.clone()), ("kind", (*kind).into()), ("state", (*state).into())];
                ConstCounter::new(*count).encode(metric.encode_family(&labels)?)?;
            }
        }
        {
            let help = "Flag changes committed (the flag configuration version)";
            let metric = encoder.encode_descriptor("backstop_flag_changes", help, None, MetricType::Counter)?;
            ConstCounter::new(self.flag_version).encode(metric)?;
        }
        for (name, help, pick) in [
            ("backstop_live_revision", "The revision serving the app's traffic (0: none)", 0),
            ("backstop_known_good_revision", "The app's newest known-good revision (0: none)", 1),
        ] {
            let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for (app, live, known_good) in &self.live {
                let value = if pick == 0 { live } else { known_good };
                let labels: Labels = vec![("app", app.clone())];
                let value = i64::try_from(value.unwrap_or(0)).unwrap_or(i64::MAX);
                ConstGauge::new(value).encode(metric.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}

impl std::fmt::Debug for LatencyHistogram<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("LatencyHistogram").field(&self.0.requests).finish()
    }
}

async fn scrape(ctx: &Ctx) -> Result<Scrape, ApiError> {
    let mut scrape = Scrape { flag_version: ctx.flags.current().snapshot.version, ..Scrape::default() };
    for (app, rt) in ctx.apps().iter() {
        for (revision, counts) in rt.traffic.signals() {
            scrape.revisions.push((app.to_string(), revision, counts));
        }
        let counts = ctx.store.operation_counts(app).await.map_err(backstop_engine::OpError::from)?;
        for (kind, state, count) in counts {
            scrape.operations.push((app.to_string(), kind.as_str(), state.as_str(), count));
        }
        let record = ctx.store.app(app).await.map_err(backstop_engine::OpError::from)?;
        let revisions = ctx.store.revisions(app).await.map_err(backstop_engine::OpError::from)?;
        let known_good = last_known_good(&revisions, None).map(|r| r.revision);
        scrape.live.push((app.to_string(), record.live_revision, known_good));
    }
    Ok(scrape)
}

/// The handler of `GET /metrics`.
pub async fn metrics(State(ctx): State<Arc<Ctx>>) -> Result<impl IntoResponse, ApiError> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(scrape(&ctx).await?));
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &registry).map_err(|_| ApiError {
        status: axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        code: "internal",
        message: "cannot encode the metrics".into(),
        hint: "see the server log".into(),
    })?;
    Ok(([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text))
}
