//! The API client every subcommand but `server` uses.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::exit::{CliError, CliResult, Exit};

pub const DEFAULT_SERVER: &str = "http://127.0.0.1:7878";

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
        if let Ok(user) = std::env::var("BACKSTOP_ACTOR").or_else(|_| std::env::var("USER")) {
            rb = rb.header("x-backstop-actor", user);
        }
        rb
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> CliResult<T> {
        self.send(self.request(Method::GET, path)).await
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> CliResult<T> {
        self.send(self.request(Method::POST, path).json(body)).await
    }

    pub async fn put<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> CliResult<T> {
        self.send(self.request(Method::PUT, path).json(body)).await
    }

    pub async fn delete<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> CliResult<T> {
        self.send(self.request(Method::DELETE, path).json(body)).await
    }

    pub async fn put_body<T: DeserializeOwned>(&self, path: &str, content_type: &str, body: Vec<u8>) -> CliResult<T> {
        self.send(self.request(Method::PUT, path).header("content-type", content_type).body(body)).await
    }

    pub async fn send<T: DeserializeOwned>(&self, rb: reqwest::RequestBuilder) -> CliResult<T> {
        let resp = rb.send().await.map_err(|e| self.transport_error(e))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| self.transport_error(e))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| {
                CliError::failed(
                    format!("unexpected answer from {}: {e}", self.base),
                    "is the server a backstop of the same version?",
                )
            });
        }
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let message =
            body["error"]["message"].as_str().map(str::to_owned).unwrap_or_else(|| format!("server answered {status}"));
        let hint = body["error"]["hint"].as_str().unwrap_or("").to_owned();
        let exit = match status {
            StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND => Exit::BadInput,
            _ => Exit::Failed,
        };
        Err(CliError::new(exit, message, hint))
    }

    fn transport_error(&self, e: reqwest::Error) -> CliError {
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
                "the operation's outcome is in `backstop status APP`; the server finishes or reverts it",
            )
        }
    }
}
