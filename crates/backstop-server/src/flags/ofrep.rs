//! The OpenFeature Remote Evaluation Protocol: single and bulk evaluation
//! with OFREP's success and error shapes, ETag / If-None-Match on bulk, a
//! rate limit per token (429 with `Retry-After`), behind the reader-token check
//! shared with every flag read ([`super::require_reader`]), and OFREP's event stream: the bulk response
//! names it in `eventStreams`, and every change sends a `refetchEvaluation`
//! event carrying the new ETag.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use backstop_api::{BulkEntry, BulkEvaluation, BulkMetadata, Evaluated, EvaluationFailure, EventStream, RefetchEvent};
use backstop_flags::{Context, EvalError, Evaluation};

use super::Current;
use super::stream::{Framing, frames};
use crate::Ctx;

/// Where OFREP providers follow changes (advertised in `eventStreams`).
pub(super) const EVENTS_PATH: &str = "/ofrep/v1/events";

/// How long a backgrounded client (a browser tab) may stay silent before it
/// closes the event stream; it re-fetches when it comes back.
const INACTIVITY_DELAY_SEC: u64 = 120;

pub(super) fn routes(ctx: Arc<Ctx>) -> Router<Arc<Ctx>> {
    let evaluate = Router::new()
        .route("/ofrep/v1/evaluate/flags", post(bulk))
        .route("/ofrep/v1/evaluate/flags/{key}", post(single))
        .route_layer(middleware::from_fn_with_state(ctx.clone(), rate_limit));
    evaluate.route(EVENTS_PATH, get(events)).route_layer(middleware::from_fn_with_state(ctx, super::require_reader))
}

/// Evaluations beyond the configured rate of one token get 429, with
/// `Retry-After` in whole seconds and OFREP's error shape.
async fn rate_limit(State(ctx): State<Arc<Ctx>>, req: Request, next: Next) -> Response {
    let token = presented(req.headers()).unwrap_or_default();
    match ctx.ofrep_limiter.check(token) {
        Ok(()) => next.run(req).await,
        Err(wait) => {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let secs = secs.max(1);
            let details = format!(
                "more than {} evaluations per second with this token; retry in {secs}s",
                ctx.config.server.ofrep_rate_limit
            );
            let mut resp = (StatusCode::TOO_MANY_REQUESTS, Json(error_body(None, "GENERAL", details))).into_response();
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
            resp
        }
    }
}

/// The `refetchEvaluation` event of a configuration version (the default
/// `message` event; the id is the configuration version).
pub(super) fn refetch_frame(current: &Current) -> Bytes {
    let data = RefetchEvent { etag: current.etag.clone(), kind: "refetchEvaluation".into() };
    super::sse_frame(None, current.snapshot.version, &serde_json::to_string(&data).unwrap_or_default())
}

const OFREP_EVENTS: Framing = Framing { resync: refetch_frame, change: |p| p.frames.refetch.clone() };

/// OFREP's event stream: a `refetchEvaluation` with the current ETag on
/// connect (so a change between the client's fetch and its connect is not
/// missed), then one per change.
async fn events(State(ctx): State<Arc<Ctx>>) -> Response {
    super::sse_response(frames(ctx.flags.clone(), OFREP_EVENTS))
}

/// The absolute URL of the event stream, as the client reached this server.
fn events_url(headers: &HeaderMap, ctx: &Ctx) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| ctx.config.server.listen.to_string(), str::to_owned);
    let https = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()) == Some("https");
    format!("{}://{host}{EVENTS_PATH}", if https { "https" } else { "http" })
}

use crate::auth::presented;

fn error_body(key: Option<&str>, code: &str, details: impl Into<String>) -> EvaluationFailure {
    EvaluationFailure { error_code: code.to_owned(), error_details: details.into(), key: key.map(str::to_owned) }
}

/// The evaluation context of a request body (`{"context": {...}}`); an empty
/// body or a missing context is the empty context.
fn context_of(body: &Bytes) -> Result<Context, (&'static str, String)> {
    Context::from_ofrep_body(body).map_err(|e| (e.code(), e.to_string()))
}

fn success(key: &str, e: &Evaluation<'_>) -> Evaluated {
    Evaluated {
        key: key.to_owned(),
        metadata: serde_json::Map::new(),
        reason: e.reason,
        value: e.value.clone(),
        variant: e.variant.to_owned(),
    }
}

async fn single(State(ctx): State<Arc<Ctx>>, Path(key): Path<String>, body: Bytes) -> Response {
    let context = match context_of(&body) {
        Ok(c) => c,
        Err((code, details)) => {
            return (StatusCode::BAD_REQUEST, Json(error_body(Some(&key), code, details))).into_response();
        }
    };
    let current = ctx.flags.current();
    match current.snapshot.evaluate(&key, &context) {
        Ok(e) => Json(success(&key, &e)).into_response(),
        Err(e @ EvalError::FlagNotFound { .. }) => {
            (StatusCode::NOT_FOUND, Json(error_body(Some(&key), e.code(), e.to_string()))).into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, Json(error_body(Some(&key), e.code(), e.to_string()))).into_response(),
    }
}

pub(super) fn matches_etag(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| t == "*" || t.trim_start_matches("W/") == etag.trim_start_matches("W/"))
}

async fn bulk(State(ctx): State<Arc<Ctx>>, headers: HeaderMap, body: Bytes) -> Response {
    let current = ctx.flags.current();
    let etag = HeaderValue::from_str(&current.etag).ok();
    if matches_etag(&headers, &current.etag) {
        let mut resp = StatusCode::NOT_MODIFIED.into_response();
        if let Some(etag) = etag {
            resp.headers_mut().insert(header::ETAG, etag);
        }
        return resp;
    }
    let context = match context_of(&body) {
        Ok(c) => c,
        Err((code, details)) => {
            return (StatusCode::BAD_REQUEST, Json(error_body(None, code, details))).into_response();
        }
    };
    let flags: Vec<BulkEntry> = current
        .snapshot
        .evaluate_all(&context)
        .into_iter()
        .map(|(key, r)| match r {
            Ok(e) => BulkEntry::Evaluated(success(key, &e)),
            Err(e) => BulkEntry::Failed(error_body(Some(key), e.code(), e.to_string())),
        })
        .collect();
    let body = BulkEvaluation {
        event_streams: vec![EventStream {
            inactivity_delay_sec: INACTIVITY_DELAY_SEC,
            kind: "sse".into(),
            url: events_url(&headers, &ctx),
        }],
        flags,
        metadata: BulkMetadata { stream: "/v1/flags/stream".into(), version: current.snapshot.version },
    };
    let mut resp = Json(body).into_response();
    if let Some(etag) = etag {
        resp.headers_mut().insert(header::ETAG, etag);
    }
    resp
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn contexts() {
        let ok = |s: &str| context_of(&Bytes::from(s.to_owned())).unwrap();
        let err = |s: &str| context_of(&Bytes::from(s.to_owned())).unwrap_err().0;
        assert_eq!(ok(""), Context::new());
        assert_eq!(ok("{}"), Context::new());
        assert_eq!(ok(r#"{"context":{"targetingKey":"u","plan":"pro"}}"#).targeting_key.as_deref(), Some("u"));
        assert_eq!(err("{"), "PARSE_ERROR");
        assert_eq!(err("[1]"), "PARSE_ERROR");
        assert_eq!(err(r#"{"context":3}"#), "INVALID_CONTEXT");
        assert_eq!(err(r#"{"context":{"targetingKey":7}}"#), "INVALID_CONTEXT");
    }

    #[tokio::test]
    async fn the_event_stream_sends_the_current_etag_then_one_per_change() {
        use backstop_store::SqliteStore;
        use futures_util::StreamExt;

        use backstop_engine::flags::Edit;

        use super::super::FlagService;

        let store = SqliteStore::in_memory().unwrap();
        let flags = Arc::new(FlagService::load(&store).await.unwrap());
        let flag =
            serde_json::from_value(json!({"key": "kill", "enabled": true, "variants": {"on": true, "off": false},
            "default_variant": "on", "off_variant": "off", "version": 0}))
            .unwrap();
        flags.edit(&store, "kill", Edit::Create(flag), "create", "tester", None).await.unwrap();
        let mut events = Box::pin(frames(flags.clone(), OFREP_EVENTS));
        let event = |frame: Bytes| {
            let text = String::from_utf8(frame.to_vec()).unwrap();
            assert!(!text.contains("event:"), "OFREP events are plain messages: {text}");
            let id: u64 = text.lines().find_map(|l| l.strip_prefix("id: ")).unwrap().parse().unwrap();
            let data: serde_json::Value =
                serde_json::from_str(text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap()).unwrap();
            assert_eq!(data["type"], json!("refetchEvaluation"), "{text}");
            (id, data["etag"].as_str().unwrap().to_owned())
        };
        assert_eq!(event(events.next().await.unwrap()), (1, flags.current().etag.clone()));
        for (version, edit) in [(2, Edit::Enable(false)), (3, Edit::Delete)] {
            let before = flags.current().etag.clone();
            flags.edit(&store, "kill", edit, "x", "tester", Some("test".into())).await.unwrap();
            let (id, etag) = event(events.next().await.unwrap());
            assert_eq!((id, etag.as_str()), (version, flags.current().etag.as_str()));
            assert_ne!(etag, before);
        }
    }

    #[test]
    fn if_none_match() {
        let etag = "W/\"abc\"";
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::IF_NONE_MATCH, HeaderValue::from_str(v).unwrap());
            m
        };
        assert!(matches_etag(&h("W/\"abc\""), etag));
        assert!(matches_etag(&h("\"abc\""), etag));
        assert!(matches_etag(&h("\"x\", W/\"abc\""), etag));
        assert!(!matches_etag(&h("W/\"abd\""), etag));
        assert!(!matches_etag(&HeaderMap::new(), etag));
    }
}
