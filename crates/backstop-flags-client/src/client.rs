//! The client: a background task that follows the flag stream and keeps the
//! current [`Snapshot`], and evaluation against it with no network call.
//!
//! The task applies `change` events only in version order. A change whose
//! version is not the previous one plus one, a malformed event, or a lost
//! connection ends the connection; the next connection starts with a full
//! `snapshot` event, so reconnecting is the full refetch and no version is
//! ever skipped silently.
//!
//! When the server answers but the stream cannot be had (an error status, a
//! proxy that answers something other than an event stream, or no snapshot
//! in time), the task falls back to polling the whole configuration
//! (`GET /v1/flags`, with `If-None-Match`) every `poll_interval`, and tries
//! the stream again before each poll.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use backstop_flags::{
    Context, EvalError, Flag, Reason, Resolution, Snapshot, compile, evaluate_bool, evaluate_float, evaluate_int,
    evaluate_object, evaluate_string,
};
use serde::Deserialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::error::ClientError;
use crate::sse;
use crate::state::State;

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Base URL of the control plane, e.g. `http://127.0.0.1:7070`.
    pub url: String,
    /// The evaluation token (`STATE/eval.token`); the admin token works too.
    pub token: String,
    /// First delay before reconnecting; doubled after each failure.
    pub initial_backoff: Duration,
    /// Longest delay between reconnection attempts.
    pub max_backoff: Duration,
    /// A connection that sends nothing (not even a keep-alive, which the
    /// server sends every 15 s) for this long is considered dead.
    pub idle_timeout: Duration,
    /// How often to poll the configuration when the stream cannot be had.
    pub poll_interval: Duration,
}

/// How long a new stream connection may take to deliver its snapshot before
/// the stream counts as unavailable (e.g. a proxy buffering it).
const FIRST_EVENT_TIMEOUT: Duration = Duration::from_secs(10);

impl ClientConfig {
    pub fn new(url: impl Into<String>, token: impl Into<String>) -> Self {
        ClientConfig {
            url: url.into(),
            token: token.into(),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(45),
            poll_interval: Duration::from_secs(30),
        }
    }
}

/// An owned evaluation result (the snapshot it came from may be replaced at any moment).
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved<T> {
    pub value: T,
    pub variant: String,
    pub reason: Reason,
    /// Index of the rule that decided, when one did.
    pub rule: Option<usize>,
    pub flag_version: u64,
}

impl<T> Resolved<T> {
    fn from_resolution<U>(r: Resolution<'_, U>, value: impl FnOnce(U) -> T) -> Self {
        Resolved {
            value: value(r.value),
            variant: r.variant.to_owned(),
            reason: r.reason,
            rule: r.rule,
            flag_version: r.flag_version,
        }
    }
}

struct Shared {
    snapshot: ArcSwapOption<Snapshot>,
    state: watch::Sender<State>,
}

struct Inner {
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A handle on the flags of one control plane. Cheap to clone; the background
/// task stops when the last clone is dropped.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("state", &*self.inner.shared.state.borrow()).finish()
    }
}

impl Client {
    /// Start following the stream in a background task (needs a Tokio
    /// runtime). Returns at once in [`State::Connecting`]; await
    /// [`Client::wait_ready`] or watch [`Client::watch_state`].
    pub fn connect(config: ClientConfig) -> Client {
        let shared =
            Arc::new(Shared { snapshot: ArcSwapOption::empty(), state: watch::Sender::new(State::Connecting) });
        let task = tokio::spawn(run(config, shared.clone()));
        Client { inner: Arc::new(Inner { shared, task }) }
    }

    pub fn state(&self) -> State {
        self.inner.shared.state.borrow().clone()
    }

    /// A receiver that sees every state change.
    pub fn watch_state(&self) -> watch::Receiver<State> {
        self.inner.shared.state.subscribe()
    }

    /// Wait until the client serves a current configuration (streaming or
    /// polling) or reports an error, and return that state.
    pub async fn wait_ready(&self) -> State {
        let mut rx = self.watch_state();
        let state =
            rx.wait_for(|s| matches!(s, State::Ready { .. } | State::Polling { .. } | State::Error { .. })).await;
        // The sender lives as long as `self`, so waiting cannot fail.
        state.map(|s| s.clone()).unwrap_or_else(|_| self.state())
    }

    /// The snapshot evaluations use now; `None` before the first one arrived.
    pub fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.inner.shared.snapshot.load_full()
    }

    fn with_snapshot<T>(&self, f: impl FnOnce(&Snapshot) -> Result<T, EvalError>) -> Result<T, ClientError> {
        let guard = self.inner.shared.snapshot.load();
        match guard.as_deref() {
            Some(snapshot) => Ok(f(snapshot)?),
            None => Err(ClientError::NotReady { state: self.state().to_string() }),
        }
    }

    fn flag<'a>(snapshot: &'a Snapshot, key: &str) -> Result<&'a backstop_flags::CompiledFlag, EvalError> {
        snapshot.get(key).ok_or_else(|| EvalError::FlagNotFound { key: key.to_owned() })
    }

    pub fn evaluate_bool(&self, key: &str, ctx: &Context) -> Result<Resolved<bool>, ClientError> {
        self.with_snapshot(|s| Ok(Resolved::from_resolution(evaluate_bool(Self::flag(s, key)?, ctx)?, |v| v)))
    }

    pub fn evaluate_string(&self, key: &str, ctx: &Context) -> Result<Resolved<String>, ClientError> {
        self.with_snapshot(|s| {
            Ok(Resolved::from_resolution(evaluate_string(Self::flag(s, key)?, ctx)?, |v: &str| v.to_owned()))
        })
    }

    pub fn evaluate_int(&self, key: &str, ctx: &Context) -> Result<Resolved<i64>, ClientError> {
        self.with_snapshot(|s| Ok(Resolved::from_resolution(evaluate_int(Self::flag(s, key)?, ctx)?, |v| v)))
    }

    pub fn evaluate_float(&self, key: &str, ctx: &Context) -> Result<Resolved<f64>, ClientError> {
        self.with_snapshot(|s| Ok(Resolved::from_resolution(evaluate_float(Self::flag(s, key)?, ctx)?, |v| v)))
    }

    pub fn evaluate_object(
        &self,
        key: &str,
        ctx: &Context,
    ) -> Result<Resolved<serde_json::Map<String, serde_json::Value>>, ClientError> {
        self.with_snapshot(|s| Ok(Resolved::from_resolution(evaluate_object(Self::flag(s, key)?, ctx)?, Clone::clone)))
    }
}

/// The `change` event's data.
#[derive(Deserialize)]
struct Change {
    version: u64,
    key: String,
    flag: Option<Flag>,
}

/// Why a connection ended.
#[derive(Debug)]
enum Ended {
    /// The server refused the token; retried, but reported as such.
    Refused(String),
    /// The server answered, but not with a working stream: poll instead.
    Unavailable(String),
    Lost(String),
}

/// `GET /v1/flags`: every flag at one configuration version.
#[derive(Deserialize)]
struct Listing {
    version: u64,
    flags: Vec<Flag>,
}

async fn run(config: ClientConfig, shared: Arc<Shared>) {
    let http = match reqwest::Client::builder().connect_timeout(Duration::from_secs(5)).build() {
        Ok(http) => http,
        Err(e) => {
            shared.state.send_replace(State::Error { message: format!("cannot build an HTTP client: {e}") });
            return;
        }
    };
    let base = config.url.trim_end_matches('/');
    let url = format!("{base}/v1/flags/stream");
    let list_url = format!("{base}/v1/flags");
    let mut backoff = config.initial_backoff;
    // The ETag of the last polled configuration.
    let mut polled: Option<String> = None;
    loop {
        let mut got_snapshot = false;
        let ended = follow(&http, &url, &config, &shared, &mut got_snapshot).await;
        if got_snapshot {
            backoff = config.initial_backoff;
        }
        let message = match ended {
            Ended::Unavailable(why) => match poll(&http, &list_url, &config, &shared, &mut polled).await {
                Ok(version) => {
                    tracing::warn!(url = %url, error = %why, "flag stream unavailable; polling");
                    shared.state.send_replace(State::Polling { version, message: why });
                    backoff = config.initial_backoff;
                    tokio::time::sleep(config.poll_interval).await;
                    continue;
                }
                Err(e) => format!("{why}; polling failed too: {e}"),
            },
            Ended::Refused(m) | Ended::Lost(m) => m,
        };
        tracing::warn!(url = %url, error = %message, "flag stream disconnected; reconnecting");
        let last = shared.snapshot.load().as_ref().map(|s| s.version);
        shared.state.send_modify(|state| {
            *state = match (last, &*state) {
                (Some(last_version), State::Stale { since, .. }) => {
                    State::Stale { since: *since, last_version, message: message.clone() }
                }
                (Some(last_version), _) => {
                    State::Stale { since: Instant::now(), last_version, message: message.clone() }
                }
                (None, _) => State::Error { message: message.clone() },
            }
        });
        tokio::time::sleep(jittered(backoff)).await;
        backoff = (backoff * 2).min(config.max_backoff);
    }
}

/// Fetch the whole configuration once; its version when it applied (or was unchanged).
async fn poll(
    http: &reqwest::Client,
    url: &str,
    config: &ClientConfig,
    shared: &Shared,
    etag: &mut Option<String>,
) -> Result<u64, String> {
    let mut request = http.get(url).bearer_auth(&config.token).timeout(config.idle_timeout);
    let current = shared.snapshot.load_full();
    if let (Some(etag), Some(_)) = (etag.as_deref(), &current) {
        request = request.header(reqwest::header::IF_NONE_MATCH, etag);
    }
    let response = request.send().await.map_err(|e| format!("cannot poll {url}: {e}"))?;
    let status = response.status();
    if status == reqwest::StatusCode::NOT_MODIFIED {
        return current.map(|s| s.version).ok_or_else(|| "304 without a configuration".to_owned());
    }
    if !status.is_success() {
        return Err(format!("{url} answered {status}"));
    }
    let new_etag = response.headers().get(reqwest::header::ETAG).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let listing: Listing = response.json().await.map_err(|e| format!("unreadable answer from {url}: {e}"))?;
    let flags = listing
        .flags
        .into_iter()
        .map(|f| {
            let key = f.key.clone();
            compile(f).map_err(|e| format!("polled flag `{key}` does not compile: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let version = listing.version;
    shared.snapshot.store(Some(Arc::new(Snapshot::new(version, flags))));
    *etag = new_etag;
    Ok(version)
}

/// `backoff` minus up to a quarter, so that many clients do not reconnect in step.
fn jittered(backoff: Duration) -> Duration {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let quarter = backoff.as_nanos() / 4;
    let cut = if quarter == 0 { 0 } else { u128::from(nanos) % quarter };
    backoff.saturating_sub(Duration::from_nanos(u64::try_from(cut).unwrap_or(0)))
}

/// One connection: returns when it ends, never with success.
async fn follow(
    http: &reqwest::Client,
    url: &str,
    config: &ClientConfig,
    shared: &Shared,
    got_snapshot: &mut bool,
) -> Ended {
    let response = match http
        .get(url)
        .bearer_auth(&config.token)
        .header(reqwest::header::ACCEPT, "text/event-stream")
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => return Ended::Lost(format!("cannot connect to {url}: {e}")),
    };
    let status = response.status();
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        let body = response.json::<serde_json::Value>().await.ok();
        let detail = body.as_ref().and_then(|b| b["message"].as_str()).unwrap_or("no detail").to_owned();
        return Ended::Refused(format!("the server refused the token ({status}): {detail}"));
    }
    if !status.is_success() {
        return Ended::Unavailable(format!("{url} answered {status}"));
    }
    let content_type = response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    if !content_type.is_some_and(|t| t.starts_with("text/event-stream")) {
        return Ended::Unavailable(format!(
            "{url} answered {} instead of an event stream",
            content_type.unwrap_or("no content type")
        ));
    }
    let mut response = response;
    let mut decoder = sse::Decoder::default();
    // The configuration version this connection is at; none before its snapshot.
    let mut at: Option<u64> = None;
    loop {
        let wait = if at.is_some() { config.idle_timeout } else { FIRST_EVENT_TIMEOUT.min(config.idle_timeout) };
        // Before its snapshot, a connection that fails is an unavailable stream, not a lost one.
        let ended = |m: String| if at.is_some() { Ended::Lost(m) } else { Ended::Unavailable(m) };
        let chunk = match tokio::time::timeout(wait, response.chunk()).await {
            Err(_) => return ended(format!("no data from {url} for {wait:?}")),
            Ok(Err(e)) => return ended(format!("reading the flag stream: {e}")),
            Ok(Ok(None)) => return ended("the server closed the flag stream".into()),
            Ok(Ok(Some(chunk))) => chunk,
        };
        for event in decoder.push(&chunk) {
            match apply(shared, &mut at, &event) {
                Ok(Some(version)) => {
                    *got_snapshot = true;
                    shared.state.send_if_modified(|state| {
                        let ready = State::Ready { version };
                        let changed = *state != ready;
                        *state = ready;
                        changed
                    });
                }
                Ok(None) => {}
                Err(message) => return Ended::Lost(message),
            }
        }
    }
}

/// Apply one event; the new version when the snapshot changed.
fn apply(shared: &Shared, at: &mut Option<u64>, event: &sse::Event) -> Result<Option<u64>, String> {
    match event.event.as_str() {
        "snapshot" => {
            let snapshot: Snapshot =
                serde_json::from_str(&event.data).map_err(|e| format!("unreadable snapshot event: {e}"))?;
            let version = snapshot.version;
            shared.snapshot.store(Some(Arc::new(snapshot)));
            *at = Some(version);
            Ok(Some(version))
        }
        "change" => {
            let change: Change =
                serde_json::from_str(&event.data).map_err(|e| format!("unreadable change event: {e}"))?;
            let Some(previous) = *at else {
                return Err("a change arrived before the snapshot; refetching".into());
            };
            if change.version != previous + 1 {
                return Err(format!(
                    "change version {} does not follow {previous}; refetching the snapshot",
                    change.version
                ));
            }
            let current = shared.snapshot.load_full().ok_or("a change arrived without a snapshot")?;
            let mut flags = current.flags.clone();
            match change.flag {
                Some(flag) => {
                    let compiled =
                        compile(flag).map_err(|e| format!("change {}: flag does not compile: {e}", change.version))?;
                    flags.insert(change.key, compiled);
                }
                None => {
                    flags.remove(&change.key);
                }
            }
            shared.snapshot.store(Some(Arc::new(Snapshot { version: change.version, flags })));
            *at = Some(change.version);
            Ok(Some(change.version))
        }
        // Unknown events are ignored: the server may add some.
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shared() -> Shared {
        Shared { snapshot: ArcSwapOption::empty(), state: watch::Sender::new(State::Connecting) }
    }

    fn event(event: &str, data: serde_json::Value) -> sse::Event {
        sse::Event { event: event.into(), data: data.to_string() }
    }

    fn flag(enabled: bool) -> serde_json::Value {
        json!({"key": "kill", "enabled": enabled, "variants": {"on": true, "off": false},
               "default_variant": "on", "off_variant": "off", "version": 1})
    }

    #[test]
    fn changes_apply_in_order_and_a_gap_refetches() {
        let s = shared();
        let mut at = None;
        let change =
            |v: u64, enabled| event("change", json!({"version": v, "etag": "x", "key": "kill", "flag": flag(enabled)}));
        assert!(apply(&s, &mut at, &change(2, false)).is_err(), "change before snapshot");
        let snap = event("snapshot", json!({"version": 1, "etag": "x", "flags": {"kill": flag(true)}}));
        assert_eq!(apply(&s, &mut at, &snap), Ok(Some(1)));
        assert_eq!(apply(&s, &mut at, &change(2, false)), Ok(Some(2)));
        assert!(!s.snapshot.load().as_ref().unwrap().get("kill").unwrap().enabled());
        let gap = apply(&s, &mut at, &change(4, true)).unwrap_err();
        assert!(gap.contains("does not follow 2"), "{gap}");
        assert_eq!(s.snapshot.load().as_ref().unwrap().version, 2, "nothing applied past a gap");
        assert!(apply(&s, &mut at, &change(2, true)).is_err(), "a repeated version is a gap too");
        assert_eq!(apply(&s, &mut at, &event("other", json!({}))), Ok(None));
    }

    #[test]
    fn jitter_stays_within_a_quarter() {
        for ms in [0, 1, 100, 5000] {
            let b = Duration::from_millis(ms);
            let j = jittered(b);
            assert!(j <= b && j >= b - b / 4, "{ms}: {j:?}");
        }
    }
}
