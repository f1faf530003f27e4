//! The API client every subcommand but `server` uses. Answers are read into
//! the wire types of `backstop_api`, keeping the JSON they came as.

use std::time::Duration;

use backstop_api::ErrorBody;
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::exit::{CliError, CliResult, Exit};

pub const DEFAULT_SERVER: &str = "http://127.0.0.1:7878";

/// How much of an upload is read from disk at a time.
const UPLOAD_CHUNK: usize = 256 * 1024;

/// A typed answer and the JSON it was read from: tables are printed from
/// `value`, `--output json` prints `raw`, what the server sent.
#[derive(Debug, Clone)]
pub struct Answer<T> {
    pub value: T,
    pub raw: serde_json::Value,
}

impl<T> Answer<T> {
    /// The server's JSON, pretty-printed (YAML under `-o yaml`).
    pub fn json(&self) -> String {
        crate::output::data(&self.raw)
    }
}

/// The `--actor` given (it also reads `$BACKSTOP_ACTOR`), set once at start.
static ACTOR: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();

/// Record the `--actor` of this invocation.
pub fn set_actor(actor: Option<String>) {
    let _ = ACTOR.set(actor.filter(|a| !a.trim().is_empty()));
}

/// Who the calls act as: `--actor`, `$BACKSTOP_ACTOR`, else `$USER`. The server prefixes the
/// token's role (`admin:ana`).
fn actor() -> Option<String> {
    actor_with_source().map(|(a, _)| a)
}

/// The actor and where it came from.
fn actor_with_source() -> Option<(String, &'static str)> {
    let env = |name: &str| std::env::var(name).ok().filter(|a| !a.trim().is_empty());
    ACTOR
        .get()
        .cloned()
        .flatten()
        .map(|a| (a, "--actor"))
        .or_else(|| env("BACKSTOP_ACTOR").map(|a| (a, "$BACKSTOP_ACTOR")))
        .or_else(|| env("USER").map(|a| (a, "$USER")))
}

/// The longest actor the server records.
const MAX_ACTOR: usize = 64;

/// Refuse, before anything is sent, a token or an actor that an HTTP header cannot carry as it
/// is: the request could not be made, and the server would not read such an actor.
fn check_header_values(token: Option<&str>) -> CliResult<()> {
    if let Some(token) = token {
        if let Some(at) = token.trim().bytes().position(|b| !b.is_ascii_graphic()) {
            return Err(CliError::bad_input(
                format!("the token holds a space or a character an HTTP header cannot carry (byte {})", at + 1),
                "pass the content of the server's STATE/admin.token exactly (--token-file reads it whole)",
            ));
        }
    }
    if let Some((actor, source)) = actor_with_source() {
        let actor = actor.trim();
        let printable = actor.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
        if !printable || actor.len() > MAX_ACTOR {
            return Err(CliError::bad_input(
                format!("the actor {actor:?} (from {source}) is not up to {MAX_ACTOR} printable ASCII characters"),
                "pass --actor NAME (or set BACKSTOP_ACTOR) with letters, digits and punctuation",
            ));
        }
    }
    Ok(())
}

pub struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Client {
    pub fn new(base: &str, token: Option<String>) -> CliResult<Client> {
        let base = base.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(CliError::bad_input(
                format!("`{base}` is not a server URL"),
                "pass --server http://HOST:PORT or set BACKSTOP_URL",
            ));
        }
        check_header_values(token.as_deref())?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(3600))
            .no_proxy()
            .build()
            .map_err(|e| CliError::failed(format!("cannot build an HTTP client: {e}"), ""))?;
        Ok(Client { base, token: token.filter(|t| !t.trim().is_empty()), http })
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut rb = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            rb = rb.bearer_auth(t.trim());
        }
        if let Some(actor) = actor() {
            rb = rb.header("x-backstop-actor", actor.trim());
        }
        rb
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> CliResult<Answer<T>> {
        self.send(self.request(Method::GET, path)).await
    }

    /// GET with a query string serialised from `query` (its `None` fields left out).
    pub async fn get_query<Q: Serialize, T: DeserializeOwned>(&self, path: &str, query: &Q) -> CliResult<Answer<T>> {
        self.send(self.request(Method::GET, path).query(query)).await
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> CliResult<Answer<T>> {
        self.send(self.request(Method::POST, path).json(body)).await
    }

    /// POST to a route that reads no body (an empty JSON object is sent).
    pub async fn post_empty<T: DeserializeOwned>(&self, path: &str) -> CliResult<Answer<T>> {
        self.post(path, &serde_json::Map::new()).await
    }

    pub async fn put<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> CliResult<Answer<T>> {
        self.send(self.request(Method::PUT, path).json(body)).await
    }

    pub async fn delete<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> CliResult<Answer<T>> {
        self.send(self.request(Method::DELETE, path).json(body)).await
    }

    /// PUT a file streamed from disk in chunks (never read whole into memory), `len` bytes long;
    /// `progress` advances as they are sent.
    pub async fn put_file<T: DeserializeOwned>(
        &self,
        path: &str,
        content_type: &str,
        file: std::fs::File,
        len: u64,
        progress: Option<indicatif::ProgressBar>,
    ) -> CliResult<Answer<T>> {
        let chunks = futures_util::stream::unfold(
            (tokio::fs::File::from_std(file), progress),
            |(mut file, progress)| async move {
                let mut buf = vec![0u8; UPLOAD_CHUNK];
                match tokio::io::AsyncReadExt::read(&mut file, &mut buf).await {
                    Ok(0) => None,
                    Ok(n) => {
                        buf.truncate(n);
                        if let Some(bar) = &progress {
                            bar.inc(n as u64);
                        }
                        Some((Ok::<_, std::io::Error>(buf), (file, progress)))
                    }
                    Err(e) => Some((Err(e), (file, progress))),
                }
            },
        );
        let rb = self
            .request(Method::PUT, path)
            .header("content-type", content_type)
            .header("content-length", len)
            .body(reqwest::Body::wrap_stream(chunks));
        self.send(rb).await
    }

    /// Whether a GET of `path` finds something (2xx) rather than nothing (404).
    pub async fn exists(&self, path: &str) -> CliResult<bool> {
        let resp = self.request(Method::GET, path).send().await.map_err(|e| self.transport_error(e))?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            s => Err(CliError::failed(format!("{} answered {s} for {path}", self.base), self.not_backstop_hint())),
        }
    }

    pub async fn send<T: DeserializeOwned>(&self, rb: reqwest::RequestBuilder) -> CliResult<Answer<T>> {
        let resp = rb.send().await.map_err(|e| self.transport_error(e))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| self.transport_error(e))?;
        if status.is_success() {
            let unexpected = |e: serde_json::Error| {
                let hint = if serde_json::from_slice::<serde_json::Value>(&bytes).is_ok() {
                    "is the server a backstop of the same version? `backstop version` and the server's log say"
                        .to_owned()
                } else {
                    self.not_backstop_hint()
                };
                CliError::failed(format!("unexpected answer from {}: {e}", self.base), hint)
            };
            let raw: serde_json::Value = serde_json::from_slice(&bytes).map_err(unexpected)?;
            let value = T::deserialize(&raw).map_err(unexpected)?;
            return Ok(Answer { value, raw });
        }
        let detail = serde_json::from_slice::<ErrorBody>(&bytes).ok().map(|b| b.error);
        let (message, hint) = match detail {
            Some(d) => (d.message, d.hint),
            None => (format!("{} answered {status}", self.base), self.not_backstop_hint()),
        };
        let exit = match status {
            StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND => Exit::BadInput,
            _ => Exit::Failed,
        };
        Err(CliError::new(exit, message, hint))
    }

    /// What to say when an answer is not a backstop control plane's.
    fn not_backstop_hint(&self) -> String {
        format!(
            "the server at {} does not answer as a backstop control plane: point --server / BACKSTOP_URL at `backstop server`'s `[server] listen` address",
            self.base
        )
    }

    fn transport_error(&self, e: reqwest::Error) -> CliError {
        if e.is_builder() {
            // Nothing was sent.
            return CliError::bad_input(
                format!("cannot make the request to {}: {e}", self.base),
                "check --server, --token and --actor",
            );
        }
        if e.is_connect() || e.is_timeout() && !e.is_body() {
            CliError::new(
                Exit::Unreachable,
                format!("cannot reach the control plane at {}", self.base),
                "start it with `backstop server --config backstop.toml`, or point --server / BACKSTOP_URL at it",
            )
        } else {
            CliError::new(
                Exit::Failed,
                format!("lost the connection to {} during the call", self.base),
                "the server finishes or reverts what it began: `backstop operations APP` shows the operation's outcome",
            )
        }
    }
}
