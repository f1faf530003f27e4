//! The flag routes over the engine's flag service ([`backstop_engine::flags`]): the admin API,
//! OFREP evaluation and the two event streams, and how a change is framed for them.
//!
//! Each change is serialised once, into the exact bytes of its stream events ([`Sse`]: the
//! configuration stream's `change` event and OFREP's `refetchEvaluation`); every subscriber is
//! sent those same bytes. The `snapshot` event of a version is serialised on first use and kept
//! with that version.

mod admin;
mod limit;
mod ofrep;
mod stream;

use std::path::Path;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Bytes;
use axum::http::StatusCode;
use backstop_engine::flags::{EditError, FlagChange, Frames};
use backstop_flags::FlagError;
use backstop_store::StoreError;

pub use limit::RateLimiter;

use crate::Ctx;
use crate::api::ApiError;
use crate::error::OpError;

/// The evaluation-only token: evaluates flags (OFREP), reads flag definitions
/// and the flag stream, and is refused on every mutating route.
pub const EVAL_TOKEN_FILE: &str = "eval.token";

/// The engine's flag service with its changes framed as Server-Sent Events.
pub type FlagService = backstop_engine::flags::FlagService<Sse>;
pub(crate) type Current = backstop_engine::flags::Current<Sse>;
pub(crate) type Published = backstop_engine::flags::Published<Sse>;
pub(crate) type Broadcast = backstop_engine::flags::Broadcast<Sse>;

/// One stored change: the data of a `change` stream event.
pub use backstop_api::ChangeEvent as FlagEvent;

/// The event-stream framing of flag changes.
#[derive(Debug)]
pub struct Sse;

/// One change's frames, serialised once, sent as the same bytes to every subscriber.
#[derive(Debug)]
pub struct ChangeFrames {
    /// The `change` event of the configuration stream.
    change: Bytes,
    /// The OFREP `refetchEvaluation` event.
    refetch: Bytes,
}

impl Frames for Sse {
    type Change = ChangeFrames;
    /// The `snapshot` stream event of the version, serialised on first use.
    type Cache = OnceLock<Bytes>;

    fn change(change: &FlagChange, current: &Current) -> ChangeFrames {
        let event = FlagEvent {
            version: change.version,
            etag: change.etag.clone(),
            key: change.key.clone(),
            flag: change.flag.clone(),
        };
        ChangeFrames { change: stream::change_frame(&event), refetch: ofrep::refetch_frame(current) }
    }
}

/// The flag routes: admin (`/v1/flags...`), OFREP (`/ofrep/v1/...`) and the stream.
pub fn router(ctx: Arc<Ctx>) -> Router<Arc<Ctx>> {
    admin::routes(ctx.clone()).merge(ofrep::routes(ctx.clone())).merge(stream::routes(ctx))
}

/// Every flag read (definitions, history, both streams, OFREP evaluation) takes the evaluation
/// token or the admin token: definitions name customers, countries and rollout percentages, so
/// the list is no more open than the stream that carries the same flags. No token and a token
/// this server does not know are both 401; 403 is kept for a known token used beyond its rights
/// (the evaluation token on a mutating route).
pub(crate) async fn require_reader(
    axum::extract::State(ctx): axum::extract::State<Arc<Ctx>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Result<axum::response::Response, ApiError> {
    match crate::auth::presented(req.headers()) {
        Some(token) if reads_flags(token, &ctx) => Ok(next.run(req).await),
        Some(_) => Err(ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
            message: "the token is not valid for this server".into(),
            hint: "use the content of STATE/eval.token (or STATE/admin.token) of the server you are talking to".into(),
        }),
        None => Err(ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
            message: "reading flags needs a token".into(),
            hint: "send `Authorization: Bearer TOKEN` or `X-API-Key: TOKEN` with the content of STATE/eval.token (the CLI sends BACKSTOP_TOKEN)".into(),
        }),
    }
}

/// Whether `token` may read flags: the evaluation token or the admin token.
fn reads_flags(token: &str, ctx: &Ctx) -> bool {
    crate::auth::token_matches(token, &ctx.eval_token) || crate::auth::token_matches(token, &ctx.token)
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

pub(crate) fn edit_error(e: EditError) -> ApiError {
    match e {
        EditError::Invalid(e) => invalid_flag(e),
        EditError::Store(e) => store_error(e),
    }
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
}
