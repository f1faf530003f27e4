//! The client: a background task that follows the flag stream and keeps the
//! current [`Snapshot`], and evaluation against it with no network call.
//!
//! The task applies `change` events only in version order. A change whose
//! version is not the previous one plus one, a malformed event, or a lost
//! connection ends the connection; the next connection starts with a full
//! `snapshot` event, so reconnecting is the full refetch and no version is
//! ever skipped silently.
//!
//! One flag the client cannot read (an older server may hold a flag this
//! version refuses, or one too deeply nested for a JSON reader) never stops
//! it from reading the others: each flag of a snapshot, listing or change is
//! read on its own, and one that does not read or compile is left out and
//! listed by [`Client::skipped`]; evaluating it is a `PARSE_ERROR` saying why.
//!
//! When the server answers but the stream cannot be had (an error status, a
//! proxy that answers something other than an event stream, or no snapshot
//! in time), the task falls back to polling the whole configuration
//! (`GET /v1/flags`, with `If-None-Match`) every `poll_interval`, and tries
//! the stream again before each poll.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::{ArcSwap, ArcSwapOption};
use backstop_flags::{
    CompiledFlag, Context, EvalError, Flag, Reason, Resolution, Snapshot, compile, evaluate_bool, evaluate_float,
    evaluate_int, evaluate_object, evaluate_string,
};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::value::RawValue;
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

/// Flags received but not readable, by key, with the reason.
pub type Skipped = BTreeMap<String, String>;

struct Shared {
    snapshot: ArcSwapOption<Snapshot>,
    skipped: ArcSwap<Skipped>,
    state: watch::Sender<State>,
}

impl Shared {
    fn new() -> Shared {
        Shared {
            snapshot: ArcSwapOption::empty(),
            skipped: ArcSwap::from_pointee(Skipped::new()),
            state: watch::Sender::new(State::Connecting),
        }
    }

    /// Serve `snapshot`, with `skipped` the flags left out of it.
    fn store(&self, snapshot: Snapshot, skipped: Skipped) {
        if !skipped.is_empty() {
            tracing::warn!(version = snapshot.version, skipped = ?skipped, "flags left out: they cannot be read");
        }
        self.skipped.store(Arc::new(skipped));
        self.snapshot.store(Some(Arc::new(snapshot)));
    }
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
        let shared = Arc::new(Shared::new());
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

    /// Flags the server sent that this client could not read, by key, with
    /// why; they are left out of [`Client::snapshot`], every other flag is served.
    pub fn skipped(&self) -> Arc<Skipped> {
        self.inner.shared.skipped.load_full()
    }

    fn with_snapshot<T>(&self, f: impl FnOnce(&Snapshot) -> Result<T, EvalError>) -> Result<T, ClientError> {
        let guard = self.inner.shared.snapshot.load();
        match guard.as_deref() {
            Some(snapshot) => Ok(f(snapshot).map_err(|e| self.explain_skipped(e))?),
            None => Err(ClientError::NotReady { state: self.state().to_string() }),
        }
    }

    /// A flag that is not found because it was skipped is a parse error saying why.
    fn explain_skipped(&self, e: EvalError) -> EvalError {
        match e {
            EvalError::FlagNotFound { key } => match self.inner.shared.skipped.load().get(&key) {
                Some(why) => EvalError::Parse { detail: format!("flag `{key}` could not be read: {why}") },
                None => EvalError::FlagNotFound { key },
            },
            other => other,
        }
    }

    fn flag<'a>(snapshot: &'a Snapshot, key: &str) -> Result<&'a CompiledFlag, EvalError> {
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

/// The `change` event's data; the flag is read on its own ([`read_flag`]).
#[derive(Deserialize)]
struct Change<'a> {
    version: u64,
    key: String,
    #[serde(borrow)]
    flag: Option<&'a RawValue>,
}

/// The `snapshot` event's data, each flag still unread.
#[derive(Deserialize)]
struct RawSnapshot<'a> {
    version: u64,
    #[serde(borrow)]
    flags: BTreeMap<String, &'a RawValue>,
}

/// Read and compile one flag; why not, when it cannot be.
fn read_flag(raw: &RawValue) -> Result<CompiledFlag, String> {
    let flag: Flag = serde_json::from_str(raw.get()).map_err(|e| format!("unreadable: {e}"))?;
    compile(flag).map_err(|e| e.to_string())
}

/// The key of a flag that did not read, if that much can be read.
fn key_of(raw: &RawValue) -> Option<String> {
    #[derive(Deserialize)]
    struct Keyed {
        key: String,
    }
    serde_json::from_str::<Keyed>(raw.get()).ok().map(|k| k.key)
}

/// Read every flag on its own: the readable ones, and the others with why.
fn read_flags<'a>(flags: impl IntoIterator<Item = (String, &'a RawValue)>) -> (Vec<CompiledFlag>, Skipped) {
    let mut read = Vec::new();
    let mut skipped = Skipped::new();
    for (key, raw) in flags {
        match read_flag(raw) {
            Ok(flag) => read.push(flag),
            Err(why) => {
                skipped.insert(key, why);
            }
        }
    }
    (read, skipped)
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

/// `GET /v1/flags`: every flag at one configuration version, each still unread.
#[derive(Deserialize)]
struct Listing<'a> {
    version: u64,
    #[serde(borrow)]
    flags: Vec<&'a RawValue>,
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
    let body = response.bytes().await.map_err(|e| format!("cannot read the answer of {url}: {e}"))?;
    let listing: Listing<'_> =
        serde_json::from_slice(&body).map_err(|e| format!("unreadable answer from {url}: {e}"))?;
    let (flags, skipped) = read_flags(
        listing.flags.into_iter().enumerate().map(|(i, raw)| (key_of(raw).unwrap_or_else(|| format!("#{i}")), raw)),
    );
    let version = listing.version;
    shared.store(Snapshot::new(version, flags), skipped);
    *etag = new_etag;
    Ok(version)
}

/// `backoff` minus up to a quarter, so that many clients do not reconnect in step.
///
/// Not a retry crate's policy (`backon`'s jitter adds up to a whole delay on top): a reconnect
/// never waits longer than `max_backoff`, and the delay starts over whenever a connection got
/// its snapshot, which the loop in `run` says in three lines.
fn jittered(backoff: Duration) -> Duration {
    let quarter = u64::try_from(backoff.as_nanos() / 4).unwrap_or(u64::MAX);
    let cut = if quarter == 0 { 0 } else { rand::Rng::gen_range(&mut rand::thread_rng(), 0..quarter) };
    backoff.saturating_sub(Duration::from_nanos(cut))
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
        // The control plane's error body: `{"error": {"code", "message", "hint"}}`.
        let detail = body.as_ref().and_then(|b| b["error"]["message"].as_str()).unwrap_or("no detail").to_owned();
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
    let mut events = sse::events(response.bytes_stream(), sse::MAX_PENDING);
    // The configuration version this connection is at; none before its snapshot.
    let mut at: Option<u64> = None;
    loop {
        let wait = if at.is_some() { config.idle_timeout } else { FIRST_EVENT_TIMEOUT.min(config.idle_timeout) };
        // Before its snapshot, a connection that fails is an unavailable stream, not a lost one.
        let ended = |m: String| if at.is_some() { Ended::Lost(m) } else { Ended::Unavailable(m) };
        let event = match tokio::time::timeout(wait, events.next()).await {
            Err(_) => return ended(format!("no event from {url} for {wait:?}")),
            Ok(Some(Err(e))) => return ended(format!("reading the flag stream: {e}")),
            Ok(None) => return ended("the server closed the flag stream".into()),
            Ok(Some(Ok(event))) => event,
        };
        {
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
            let raw: RawSnapshot<'_> =
                serde_json::from_str(&event.data).map_err(|e| format!("unreadable snapshot event: {e}"))?;
            let version = raw.version;
            let (flags, skipped) = read_flags(raw.flags);
            shared.store(Snapshot::new(version, flags), skipped);
            *at = Some(version);
            Ok(Some(version))
        }
        "change" => {
            let change: Change<'_> =
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
            let mut skipped = Skipped::clone(&shared.skipped.load());
            // A flag that does not read is left out like in a snapshot, so a
            // client that follows the change serves what a new client would.
            flags.remove(&change.key);
            skipped.remove(&change.key);
            if let Some(raw) = change.flag {
                match read_flag(raw) {
                    Ok(compiled) => {
                        flags.insert(change.key, compiled);
                    }
                    Err(why) => {
                        skipped.insert(change.key, why);
                    }
                }
            }
            shared.store(Snapshot { version: change.version, flags }, skipped);
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
        Shared::new()
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

    fn nested(levels: usize) -> String {
        format!("{}1{}", "{\"x\":".repeat(levels), "}".repeat(levels))
    }

    /// A flag nested 124 levels deep made the whole snapshot unreadable
    /// (serde_json's recursion limit), so a new client could read no flag,
    /// its kill switch included.
    #[test]
    fn one_unreadable_flag_does_not_stop_the_others() {
        let s = shared();
        let mut at = None;
        let deep = format!(
            r#"{{"key": "deep", "enabled": true, "variants": {{"a": {}}}, "default_variant": "a", "off_variant": "a", "version": 1}}"#,
            nested(124)
        );
        let snapshot = format!(
            r#"{{"version": 3, "etag": "x", "flags": {{"deep": {deep}, "kill": {}, "typo": {}}}}}"#,
            flag(false),
            r#"{"key": "typo", "enabled": true, "variants": {"on": true}, "default_variant": "on", "off_variant": "on",
                "rules": [{"condition": [], "serve": {"variant": "on"}}], "version": 1}"#
        );
        assert!(serde_json::from_str::<serde_json::Value>(&snapshot).is_err(), "past serde_json's limit as a whole");
        let snapshot = sse::Event { event: "snapshot".into(), data: snapshot };
        assert_eq!(apply(&s, &mut at, &snapshot), Ok(Some(3)));
        let snap = s.snapshot.load_full().unwrap();
        assert!(!snap.get("kill").unwrap().enabled(), "the kill switch is served");
        let skipped = s.skipped.load_full();
        assert_eq!(skipped.keys().collect::<Vec<_>>(), ["deep", "typo"]);
        assert!(skipped["deep"].contains("deeper than 32 levels"), "{skipped:?}");
        assert!(skipped["typo"].contains("unknown field `condition`"), "{skipped:?}");

        // A change fixing the flag brings it back; one breaking it leaves it out.
        let mut good = flag(true);
        good["key"] = json!("deep");
        let fixed = event("change", json!({"version": 4, "key": "deep", "flag": good}));
        assert_eq!(apply(&s, &mut at, &fixed), Ok(Some(4)));
        assert!(!s.skipped.load().contains_key("deep"));
        let broken = sse::Event {
            event: "change".into(),
            data: format!(r#"{{"version": 5, "key": "kill", "flag": {}}}"#, deep.replace("\"deep\"", "\"kill\"")),
        };
        assert_eq!(apply(&s, &mut at, &broken), Ok(Some(5)));
        assert!(s.snapshot.load().as_ref().unwrap().get("kill").is_none());
        assert!(s.skipped.load().contains_key("kill"));
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
