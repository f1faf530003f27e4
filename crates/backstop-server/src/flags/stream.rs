//! The flag-configuration stream for SDKs (Server-Sent Events): a `snapshot`
//! event with every flag on connect, then one `change` event per stored
//! change, in version order. A subscriber that falls behind the broadcast
//! channel gets a fresh `snapshot` rather than a gap; the event id is the
//! configuration version, so a client can tell.
//!
//! [`frames`] is shared with the OFREP event stream: both send frames that
//! were serialised once per change, never per subscriber.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::Response;
use axum::routing::get;
use futures_util::Stream;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use super::{Broadcast, Current, FlagEvent, FlagService, Published};
use crate::Ctx;
use crate::api::ApiError;

pub(super) fn routes(ctx: Arc<Ctx>) -> Router<Arc<Ctx>> {
    Router::new()
        // `/v1/flags/stream` is taken, so `stream` cannot be a flag key.
        .route("/v1/flags/stream", get(stream).fallback(|| async { reserved_key() }))
        .route_layer(middleware::from_fn_with_state(ctx, super::require_reader))
}

fn reserved_key() -> ApiError {
    ApiError {
        status: StatusCode::BAD_REQUEST,
        code: "invalid_flag",
        message: "`stream` is not available as a flag key".into(),
        hint: "GET /v1/flags/stream is the flag stream; pick another key".into(),
    }
}

/// The `snapshot` event of a version, serialised once per version.
pub(super) fn snapshot_frame(current: &Current) -> Bytes {
    current
        .cache
        .get_or_init(|| {
            let data = backstop_api::SnapshotEvent {
                etag: current.etag.clone(),
                flags: current.snapshot.flags.iter().map(|(k, f)| (k.clone(), f.flag().clone())).collect(),
                version: current.snapshot.version,
            };
            super::sse_frame(
                Some("snapshot"),
                current.snapshot.version,
                &serde_json::to_string(&data).unwrap_or_default(),
            )
        })
        .clone()
}

pub(super) fn change_frame(e: &FlagEvent) -> Bytes {
    let data = serde_json::to_string(e).unwrap_or_default();
    super::sse_frame(Some("change"), e.version, &data)
}

/// How a stream turns the service's state into frames.
#[derive(Clone, Copy)]
pub(super) struct Framing {
    /// What a subscriber is sent on connect and after falling behind.
    pub resync: fn(&Current) -> Bytes,
    /// What a subscriber is sent for one change.
    pub change: fn(&Published) -> Bytes,
}

struct Subscriber {
    flags: Arc<FlagService>,
    rx: broadcast::Receiver<Broadcast>,
    /// The configuration version the client has; older broadcasts are skipped.
    seen: u64,
    first: Option<Arc<Current>>,
    framing: Framing,
}

/// The frames of one subscriber: a resync frame, then changes in version
/// order and keep-alive comments, a fresh resync frame after falling behind;
/// ends when the service closes. A subscriber waits on the broadcast alone:
/// no timer or second channel per subscriber.
pub(super) fn frames(flags: Arc<FlagService>, framing: Framing) -> impl Stream<Item = Bytes> {
    // Subscribe before reading the snapshot: a change in between is then
    // either in the snapshot (and skipped by version) or received.
    let rx = flags.subscribe();
    let current = flags.current();
    let sub = Subscriber { flags, rx, seen: current.snapshot.version, first: Some(current), framing };
    futures_util::stream::unfold(sub, |mut sub| async move {
        if sub.flags.is_closed() {
            return None;
        }
        if let Some(first) = sub.first.take() {
            let frame = (sub.framing.resync)(&first);
            return Some((frame, sub));
        }
        loop {
            match sub.rx.recv().await {
                Ok(Broadcast::Change(p)) if p.version <= sub.seen => continue,
                Ok(Broadcast::Change(p)) => {
                    sub.seen = p.version;
                    let frame = (sub.framing.change)(&p);
                    return Some((frame, sub));
                }
                Ok(Broadcast::KeepAlive) => return Some((Bytes::from_static(b":\n\n"), sub)),
                Ok(Broadcast::Close) | Err(RecvError::Closed) => return None,
                Err(RecvError::Lagged(_)) => {
                    if sub.flags.is_closed() {
                        return None;
                    }
                    // Skip what is left of the backlog: the resync covers it.
                    sub.rx = sub.rx.resubscribe();
                    let current = sub.flags.current();
                    sub.seen = current.snapshot.version;
                    let frame = (sub.framing.resync)(&current);
                    return Some((frame, sub));
                }
            }
        }
    })
}

const CONFIG_STREAM: Framing = Framing { resync: snapshot_frame, change: |p| p.frames.change.clone() };

async fn stream(State(ctx): State<Arc<Ctx>>) -> Response {
    super::sse_response(frames(ctx.flags.clone(), CONFIG_STREAM))
}

#[cfg(test)]
mod tests {
    use backstop_store::SqliteStore;
    use futures_util::StreamExt;
    use serde_json::json;

    use super::*;
    use backstop_engine::flags::{CHANNEL_CAPACITY, Edit};

    fn bool_flag(key: &str) -> backstop_flags::Flag {
        serde_json::from_value(json!({
            "key": key, "enabled": true, "variants": {"on": true, "off": false},
            "default_variant": "on", "off_variant": "off", "version": 0
        }))
        .unwrap()
    }

    async fn flip(flags: &FlagService, store: &SqliteStore, enabled: bool) {
        flags.edit(store, "kill", Edit::Enable(enabled), "flip", "tester", Some("test".into())).await.unwrap();
    }

    /// (event name, id, data) of one frame.
    fn parse(frame: &Bytes) -> (String, u64, serde_json::Value) {
        let text = std::str::from_utf8(frame).unwrap();
        assert!(text.ends_with("\n\n"), "{text}");
        let field = |name: &str| text.lines().find_map(|l| l.strip_prefix(name)).map(str::to_owned);
        let event = field("event: ").unwrap_or_else(|| "message".into());
        let id = field("id: ").unwrap().parse().unwrap();
        (event, id, serde_json::from_str(&field("data: ").unwrap()).unwrap())
    }

    #[tokio::test]
    async fn snapshot_then_changes_in_order_then_end_on_close() {
        let store = SqliteStore::in_memory().unwrap();
        let flags = Arc::new(FlagService::load(&store).await.unwrap());
        flags.edit(&store, "kill", Edit::Create(bool_flag("kill")), "create", "tester", None).await.unwrap();
        let mut frames = Box::pin(frames(flags.clone(), CONFIG_STREAM));
        let (event, id, data) = parse(&frames.next().await.unwrap());
        assert_eq!((event.as_str(), id, data["flags"].as_object().unwrap().len()), ("snapshot", 1, 1));
        flip(&flags, &store, false).await;
        flip(&flags, &store, true).await;
        for (version, enabled) in [(2, false), (3, true)] {
            let (event, id, data) = parse(&frames.next().await.unwrap());
            assert_eq!((event.as_str(), id, data["key"].as_str()), ("change", version, Some("kill")));
            assert_eq!(data["flag"]["enabled"], json!(enabled));
        }
        flags.keep_alive();
        assert_eq!(&frames.next().await.unwrap()[..], b":\n\n", "a keep-alive comment");
        flags.edit(&store, "kill", Edit::Delete, "delete", "tester", Some("gone".into())).await.unwrap();
        let (event, id, data) = parse(&frames.next().await.unwrap());
        assert_eq!((event.as_str(), id, data["flag"].clone()), ("change", 4, serde_json::Value::Null));
        flags.close();
        assert!(frames.next().await.is_none());
    }

    #[tokio::test]
    async fn a_lagging_subscriber_gets_a_fresh_snapshot_not_a_gap() {
        let store = SqliteStore::in_memory().unwrap();
        let flags = Arc::new(FlagService::load(&store).await.unwrap());
        flags.edit(&store, "kill", Edit::Create(bool_flag("kill")), "create", "tester", None).await.unwrap();
        let mut frames = Box::pin(frames(flags.clone(), CONFIG_STREAM));
        assert_eq!(parse(&frames.next().await.unwrap()).0, "snapshot");
        let flips = CHANNEL_CAPACITY + 5;
        for i in 0..flips {
            flip(&flags, &store, i % 2 == 1).await;
        }
        let (event, id, _) = parse(&frames.next().await.unwrap());
        assert_eq!((event.as_str(), id), ("snapshot", 1 + flips as u64), "a snapshot after lagging");
        // Nothing older than that snapshot follows it.
        let last_enabled = (flips - 1) % 2 == 1;
        flip(&flags, &store, !last_enabled).await;
        let (event, id, _) = parse(&frames.next().await.unwrap());
        assert_eq!((event.as_str(), id), ("change", 2 + flips as u64));
    }
}
