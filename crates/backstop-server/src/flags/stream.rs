//! The flag-configuration stream for SDKs (Server-Sent Events): a `snapshot`
//! event with every flag on connect, then one `change` event per stored
//! change, in version order. A subscriber that falls behind the broadcast
//! channel gets a fresh `snapshot` rather than a gap; the event id is the
//! configuration version, so a client can tell.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use futures_util::{Stream, StreamExt};
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};

use super::{Current, FlagEvent, FlagService};
use crate::api::ApiError;
use crate::runtime::Ctx;

pub(super) fn routes(ctx: Arc<Ctx>) -> Router<Arc<Ctx>> {
    Router::new()
        // `/v1/flags/stream` is taken, so `stream` cannot be a flag key.
        .route("/v1/flags/stream", get(stream).fallback(|| async { reserved_key() }))
        .route_layer(middleware::from_fn_with_state(ctx, super::ofrep::require_reader))
}

fn reserved_key() -> ApiError {
    ApiError {
        status: StatusCode::BAD_REQUEST,
        code: "invalid_flag",
        message: "`stream` is not available as a flag key".into(),
        hint: "GET /v1/flags/stream is the flag stream; pick another key".into(),
    }
}

fn snapshot_event(current: &Current) -> Event {
    let data = json!({
        "version": current.snapshot.version,
        "etag": current.etag,
        "flags": current.snapshot.flags,
    });
    Event::default().event("snapshot").id(current.snapshot.version.to_string()).data(data.to_string())
}

fn change_event(e: &FlagEvent) -> Event {
    let data = serde_json::to_string(e).unwrap_or_default();
    Event::default().event("change").id(e.version.to_string()).data(data)
}

/// What a subscriber is sent next.
#[derive(Debug)]
enum Message {
    Snapshot(Arc<Current>),
    Change(Box<FlagEvent>),
}

impl Message {
    fn event(&self) -> Event {
        match self {
            Message::Snapshot(current) => snapshot_event(current),
            Message::Change(e) => change_event(e),
        }
    }
}

struct Subscriber {
    flags: Arc<FlagService>,
    rx: broadcast::Receiver<FlagEvent>,
    closed: watch::Receiver<bool>,
    /// The configuration version the client has; older broadcasts are skipped.
    seen: u64,
    first: Option<Arc<Current>>,
}

/// The messages of one subscriber: a snapshot, then changes in version
/// order, a fresh snapshot after falling behind; ends when the service closes.
fn messages(flags: Arc<FlagService>) -> impl Stream<Item = Message> {
    // Subscribe before reading the snapshot: a change in between is then
    // either in the snapshot (and skipped by version) or received.
    let rx = flags.subscribe();
    let current = flags.current();
    let sub = Subscriber { closed: flags.closed(), flags, rx, seen: current.snapshot.version, first: Some(current) };
    futures_util::stream::unfold(sub, |mut sub| async move {
        if *sub.closed.borrow() {
            return None;
        }
        if let Some(first) = sub.first.take() {
            return Some((Message::Snapshot(first), sub));
        }
        loop {
            tokio::select! {
                _ = sub.closed.changed() => return None,
                msg = sub.rx.recv() => match msg {
                    Ok(e) if e.version <= sub.seen => continue,
                    Ok(e) => {
                        sub.seen = e.version;
                        return Some((Message::Change(Box::new(e)), sub));
                    }
                    Err(RecvError::Lagged(_)) => {
                        // Skip what is left of the backlog: the snapshot covers it.
                        sub.rx = sub.rx.resubscribe();
                        let current = sub.flags.current();
                        sub.seen = current.snapshot.version;
                        return Some((Message::Snapshot(current), sub));
                    }
                    Err(RecvError::Closed) => return None,
                },
            }
        }
    })
}

async fn stream(State(ctx): State<Arc<Ctx>>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let events = messages(ctx.flags.clone()).map(|m| Ok(m.event()));
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

#[cfg(test)]
mod tests {
    use backstop_store::SqliteStore;
    use futures_util::StreamExt;

    use super::super::{CHANNEL_CAPACITY, Edit};
    use super::*;

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

    #[tokio::test]
    async fn snapshot_then_changes_in_order_then_end_on_close() {
        let store = SqliteStore::in_memory().unwrap();
        let flags = Arc::new(FlagService::load(&store).await.unwrap());
        flags.edit(&store, "kill", Edit::Create(bool_flag("kill")), "create", "tester", None).await.unwrap();
        let mut messages = Box::pin(messages(flags.clone()));
        match messages.next().await.unwrap() {
            Message::Snapshot(c) => assert_eq!((c.snapshot.version, c.snapshot.flags.len()), (1, 1)),
            other => panic!("{other:?}"),
        }
        flip(&flags, &store, false).await;
        flip(&flags, &store, true).await;
        for (version, enabled) in [(2, false), (3, true)] {
            match messages.next().await.unwrap() {
                Message::Change(e) => {
                    assert_eq!((e.version, e.key.as_str()), (version, "kill"));
                    assert_eq!(e.flag.unwrap().enabled, enabled);
                }
                other => panic!("{other:?}"),
            }
        }
        flags.close();
        assert!(messages.next().await.is_none());
    }

    #[tokio::test]
    async fn a_lagging_subscriber_gets_a_fresh_snapshot_not_a_gap() {
        let store = SqliteStore::in_memory().unwrap();
        let flags = Arc::new(FlagService::load(&store).await.unwrap());
        flags.edit(&store, "kill", Edit::Create(bool_flag("kill")), "create", "tester", None).await.unwrap();
        let mut messages = Box::pin(messages(flags.clone()));
        assert!(matches!(messages.next().await.unwrap(), Message::Snapshot(_)));
        let flips = CHANNEL_CAPACITY + 5;
        for i in 0..flips {
            flip(&flags, &store, i % 2 == 1).await;
        }
        match messages.next().await.unwrap() {
            Message::Snapshot(c) => assert_eq!(c.snapshot.version, 1 + flips as u64),
            other => panic!("expected a snapshot after lagging, got {other:?}"),
        }
        // Nothing older than that snapshot follows it.
        let last_enabled = (flips - 1) % 2 == 1;
        flip(&flags, &store, !last_enabled).await;
        match messages.next().await.unwrap() {
            Message::Change(e) => assert_eq!(e.version, 2 + flips as u64),
            other => panic!("{other:?}"),
        }
    }
}
