//! The flag service, rung 1 of the recovery ladder: the compiled snapshot of
//! every flag, writes through the store, and the fan-out of each change to
//! stream subscribers.
//!
//! Writes are serialised by one lock: validate (`backstop_flags::compile`),
//! commit to the store (flag, history row and audit entry in one
//! transaction), then read the store's change feed (`flag_changes_since`)
//! from the version served now, and for each change in order swap the
//! in-memory snapshot and broadcast it. So subscribers see versions in order,
//! never a change the store does not hold, and changes another control plane
//! wrote to the same store too ([`FlagService::catch_up`] is also called on a
//! timer).
//!
//! Each change is serialised once, into the exact bytes of its stream events
//! ([`Published`]); every subscriber is sent those same bytes.

mod admin;
mod limit;
mod ofrep;
mod stream;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::StatusCode;
use backstop_flags::{CompiledFlag, Flag, FlagError, Snapshot, compile};
use backstop_store::{FlagDelete, FlagHistoryEntry, FlagWrite, FlagWriteMode, Store, StoreError};
use tokio::sync::broadcast;

pub use limit::RateLimiter;

use crate::Ctx;
use crate::api::ApiError;
use crate::error::OpError;

/// The evaluation-only token: evaluates flags (OFREP) and reads the flag
/// stream, and is refused on every mutating route.
pub const EVAL_TOKEN_FILE: &str = "eval.token";

/// How many changes a slow stream subscriber may fall behind before it is
/// sent a fresh snapshot instead.
const CHANNEL_CAPACITY: usize = 1024;

/// How many changes one read of the store's change feed returns at most.
const FEED_PAGE: usize = 256;

/// How often every open stream is sent a keep-alive comment.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// What the broadcast carries to every stream subscriber.
#[derive(Debug, Clone)]
pub enum Broadcast {
    Change(Arc<Published>),
    /// Send a keep-alive comment (one tick for all streams, not a timer each).
    KeepAlive,
    /// The server is shutting down: end the stream.
    Close,
}

/// The flags as evaluated now: a snapshot at one configuration version and its ETag.
#[derive(Debug)]
pub struct Current {
    pub snapshot: Snapshot,
    pub etag: String,
    /// The `snapshot` stream event of this version, serialised on first use.
    snapshot_frame: OnceLock<Bytes>,
}

impl Current {
    fn new(snapshot: Snapshot) -> Current {
        Current { etag: snapshot.etag(), snapshot, snapshot_frame: OnceLock::new() }
    }
}

/// One stored change: the data of a `change` stream event.
pub use backstop_api::ChangeEvent as FlagEvent;

/// One change as broadcast: serialised once, sent as the same bytes to every subscriber.
#[derive(Debug)]
pub struct Published {
    pub version: u64,
    /// The `change` event of the configuration stream.
    change_frame: Bytes,
    /// The OFREP `refetchEvaluation` event.
    refetch_frame: Bytes,
}

pub struct FlagService {
    current: RwLock<Arc<Current>>,
    write: tokio::sync::Mutex<()>,
    events: broadcast::Sender<Broadcast>,
    closed: AtomicBool,
    /// The OFREP evaluation rate limit per token.
    limiter: RateLimiter,
}

/// A change asked for through the admin API.
pub(crate) enum Edit {
    Create(Flag),
    Set { flag: Flag, expected_version: Option<u64> },
    Enable(bool),
    Delete,
}

/// What a write did.
pub use backstop_api::Written;

impl FlagService {
    /// Load every stored flag; OFREP evaluations are limited to
    /// `ofrep_rate_limit` per second per token (0: no limit). A stored flag that no longer compiles is
    /// logged and left out rather than stopping the control plane.
    pub async fn load(store: &dyn Store, ofrep_rate_limit: u32) -> Result<FlagService, StoreError> {
        let set = store.flags().await?;
        let compiled = set.flags.into_iter().filter_map(|f| {
            let key = f.key.clone();
            compile(f).map_err(|e| tracing::error!(flag = %key, error = %e, "stored flag does not compile")).ok()
        });
        let snapshot = Snapshot::new(set.version, compiled);
        let (events, _) = broadcast::channel(CHANNEL_CAPACITY);
        let ticker = events.downgrade();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(KEEP_ALIVE);
            tick.tick().await;
            loop {
                tick.tick().await;
                // Ends with the service.
                let Some(events) = ticker.upgrade() else { return };
                let _ = events.send(Broadcast::KeepAlive);
            }
        });
        Ok(FlagService {
            current: RwLock::new(Arc::new(Current::new(snapshot))),
            write: tokio::sync::Mutex::new(()),
            events,
            closed: AtomicBool::new(false),
            limiter: RateLimiter::new(ofrep_rate_limit),
        })
    }

    pub fn current(&self) -> Arc<Current> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Broadcast> {
        self.events.subscribe()
    }

    /// End every open stream (the server is shutting down).
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let _ = self.events.send(Broadcast::Close);
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    pub(crate) async fn edit(
        &self,
        store: &dyn Store,
        key: &str,
        edit: Edit,
        action: &str,
        actor: &str,
        reason: Option<String>,
    ) -> Result<Written, ApiError> {
        let _guard = self.write.lock().await;
        let (flag, mode, expected_version) = match edit {
            Edit::Delete => {
                let delete = FlagDelete { key: key.to_owned(), actor: actor.to_owned(), reason };
                let entry = store.delete_flag(delete).await.map_err(store_error)?;
                self.catch_up_locked(store).await.map_err(store_error)?;
                return Ok(Written { flag: entry.flag, changed: true, config_version: entry.config_version });
            }
            Edit::Create(flag) => (flag, FlagWriteMode::Create, None),
            Edit::Set { flag, expected_version } => (flag, FlagWriteMode::Replace, expected_version),
            Edit::Enable(enabled) => {
                let mut flag = store.flag(key).await.map_err(store_error)?;
                if flag.enabled == enabled {
                    return Ok(Written { flag, changed: false, config_version: self.current().snapshot.version });
                }
                let expected = flag.version;
                flag.enabled = enabled;
                (flag, FlagWriteMode::Replace, Some(expected))
            }
        };
        compile(flag.clone()).map_err(invalid_flag)?;
        let write =
            FlagWrite { flag, mode, action: action.to_owned(), actor: actor.to_owned(), reason, expected_version };
        let entry = store.write_flag(write).await.map_err(store_error)?;
        self.catch_up_locked(store).await.map_err(store_error)?;
        Ok(Written { flag: entry.flag, changed: true, config_version: entry.config_version })
    }

    /// Publish every change the store holds beyond the version served now (written here or by
    /// another control plane on the same store), in version order.
    pub async fn catch_up(&self, store: &dyn Store) -> Result<(), StoreError> {
        let _guard = self.write.lock().await;
        self.catch_up_locked(store).await
    }

    async fn catch_up_locked(&self, store: &dyn Store) -> Result<(), StoreError> {
        loop {
            let since = self.current().snapshot.version;
            let changes = store.flag_changes_since(since, FEED_PAGE).await?;
            let full_page = changes.len() == FEED_PAGE;
            for entry in changes {
                let compiled = if entry.action == "delete" {
                    None
                } else {
                    match compile(entry.flag.clone()) {
                        Ok(compiled) => Some(compiled),
                        Err(e) => {
                            // Left out, as at start: one bad flag never stops the others.
                            tracing::error!(flag = %entry.key, error = %e, "stored flag does not compile");
                            None
                        }
                    }
                };
                self.publish(&entry, compiled);
            }
            if !full_page {
                return Ok(());
            }
        }
    }

    /// Swap in the snapshot with `entry` applied (`None`: the flag is gone), then broadcast it.
    fn publish(&self, entry: &FlagHistoryEntry, compiled: Option<CompiledFlag>) {
        let old = self.current();
        let mut flags = old.snapshot.flags.clone();
        let flag = match compiled {
            Some(compiled) => {
                flags.insert(entry.key.clone(), compiled);
                Some(entry.flag.clone())
            }
            None => {
                flags.remove(&entry.key);
                None
            }
        };
        let current = Arc::new(Current::new(Snapshot { version: entry.config_version, flags }));
        let event =
            FlagEvent { version: entry.config_version, etag: current.etag.clone(), key: entry.key.clone(), flag };
        let published = Arc::new(Published {
            version: event.version,
            change_frame: stream::change_frame(&event),
            refetch_frame: ofrep::refetch_frame(&current),
        });
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = current;
        // No subscriber is not an error.
        let _ = self.events.send(Broadcast::Change(published));
    }
}

/// The flag routes: admin (`/v1/flags...`), OFREP (`/ofrep/v1/...`) and the stream.
pub fn router(ctx: Arc<Ctx>) -> Router<Arc<Ctx>> {
    admin::routes(ctx.clone()).merge(ofrep::routes(ctx.clone())).merge(stream::routes(ctx))
}

/// A `text/event-stream` response over pre-serialised event frames.
fn sse_response(frames: impl futures_util::Stream<Item = Bytes> + Send + 'static) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    use futures_util::StreamExt;
    let body = axum::body::Body::from_stream(frames.map(Ok::<_, std::convert::Infallible>));
    let mut resp = axum::response::Response::new(body);
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Ask reverse proxies not to buffer the stream.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}

/// One SSE frame: optional event name, the id, one line of data.
fn sse_frame(event: Option<&str>, id: u64, data: &str) -> Bytes {
    let mut out = String::with_capacity(data.len() + 32);
    if let Some(event) = event {
        out.push_str("event: ");
        out.push_str(event);
        out.push('\n');
    }
    out.push_str("id: ");
    out.push_str(&id.to_string());
    out.push_str("\ndata: ");
    // Compact JSON has no line breaks; a data line must not hold one.
    debug_assert!(!data.contains('\n'));
    out.push_str(data);
    out.push_str("\n\n");
    Bytes::from(out)
}

pub(crate) fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::UnknownFlag { key } => unknown_flag(&key),
        StoreError::FlagExists { key } => ApiError {
            status: StatusCode::CONFLICT,
            code: "flag_exists",
            message: format!("flag `{key}` already exists"),
            hint: format!("change it with `backstop flag set {key} --file FLAG.json`, or pick another key"),
        },
        e @ StoreError::FlagChanged { .. } => ApiError {
            status: StatusCode::CONFLICT,
            code: "flag_changed",
            message: e.to_string(),
            hint: "someone changed it first: read it again (`backstop flag show KEY -o json`), reapply your edit, and set it"
                .into(),
        },
        other => OpError::from(other).into(),
    }
}

pub(crate) fn unknown_flag(key: &str) -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        code: "unknown_flag",
        message: format!("flag `{key}` does not exist"),
        hint: "`backstop flag list` lists the flags; `backstop flag create KEY` creates one".into(),
    }
}

pub(crate) fn invalid_flag(e: FlagError) -> ApiError {
    let hint = match &e {
        FlagError::InvalidKey { .. } => "pick a key of letters, digits, `.`, `_` and `-`",
        FlagError::WeightOver100 { .. } | FlagError::WeightsNot100 { .. } => {
            "make the rollout weights of that rule add up to exactly 100"
        }
        FlagError::UnknownDefaultVariant { .. }
        | FlagError::UnknownOffVariant { .. }
        | FlagError::UnknownRuleVariant { .. } => "name one of the flag's `variants`",
        _ => "fix the flag definition and send it again; nothing was changed",
    };
    ApiError { status: StatusCode::BAD_REQUEST, code: "invalid_flag", message: e.to_string(), hint: hint.into() }
}

/// Read the evaluation-only token, creating it (mode 0600) on first start.
pub fn load_or_create_eval_token(state: &Path) -> std::io::Result<String> {
    crate::auth::load_or_create_secret(state, EVAL_TOKEN_FILE)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn eval_token_is_created_once_with_mode_0600_and_differs_from_admin() {
        let dir = tempfile::tempdir().unwrap();
        let t1 = load_or_create_eval_token(dir.path()).unwrap();
        assert_eq!(load_or_create_eval_token(dir.path()).unwrap(), t1);
        assert_eq!(t1.len(), 64);
        let mode = std::fs::metadata(dir.path().join(EVAL_TOKEN_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_ne!(crate::auth::load_or_create_token(dir.path()).unwrap(), t1);
    }

    #[tokio::test]
    async fn a_change_another_control_plane_wrote_is_fanned_out_from_the_change_feed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("backstop.db");
        let (a, b) =
            (backstop_store::SqliteStore::open(&path).unwrap(), backstop_store::SqliteStore::open(&path).unwrap());
        let (fa, fb) = (FlagService::load(&a, 0).await.unwrap(), FlagService::load(&b, 0).await.unwrap());
        let mut rx = fb.subscribe();
        let flag: Flag = serde_json::from_value(serde_json::json!({
            "key": "kill", "enabled": true, "variants": {"on": true, "off": false},
            "default_variant": "on", "off_variant": "off", "version": 0
        }))
        .unwrap();
        fa.edit(&a, "kill", Edit::Create(flag), "create", "tester", None).await.unwrap();
        fa.edit(&a, "kill", Edit::Enable(false), "off", "tester", Some("incident".into())).await.unwrap();
        assert_eq!(fb.current().snapshot.version, 0, "b has not read the feed yet");
        fb.catch_up(&b).await.unwrap();
        assert_eq!(fb.current().snapshot.version, 2);
        assert!(!fb.current().snapshot.flags["kill"].flag().enabled);
        let mut versions = Vec::new();
        while versions.len() < 2 {
            if let Broadcast::Change(p) = rx.recv().await.unwrap() {
                versions.push(p.version);
            }
        }
        assert_eq!(versions, [1, 2], "in version order, each once");
        fb.catch_up(&b).await.unwrap();
        assert!(rx.try_recv().is_err(), "nothing is published twice");
    }
}
