//! Admin routes of flags: create, set, on, off (the kill switch), delete,
//! list, show, history. Writes need the admin token; reads need the evaluation or the admin
//! token like the stream ([`super::require_reader`]): definitions name customers and countries.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use backstop_flags::Flag;
use backstop_store::FlagHistoryEntry;
use serde_json::{Value, json};

use backstop_api::Written;
use backstop_engine::flags::Edit;

use super::{edit_error, store_error, unknown_flag};
use crate::Ctx;
use crate::api::{Actor, ApiError, Json, Path, Query};
use crate::listing;

type ApiResult<T> = Result<axum::Json<T>, ApiError>;

/// One write through the engine's flag service, answered as the wire's [`Written`].
async fn write(
    ctx: &Ctx,
    key: &str,
    edit: Edit,
    action: &str,
    actor: &str,
    reason: Option<String>,
) -> Result<Written, ApiError> {
    let written = ctx.flags.edit(ctx.store.as_ref(), key, edit, action, actor, reason).await.map_err(edit_error)?;
    Ok(crate::wire::written(written))
}

pub(super) fn routes(ctx: Arc<Ctx>) -> Router<Arc<Ctx>> {
    let mutating = Router::new()
        .route("/v1/flags/{key}", post(create).put(set).delete(delete))
        .route("/v1/flags/{key}/on", post(on))
        .route("/v1/flags/{key}/off", post(off))
        .route_layer(middleware::from_fn_with_state(ctx.clone(), crate::api::require_token));
    Router::new()
        .route("/v1/flags", get(list))
        .route("/v1/flags/{key}", get(show))
        .route("/v1/flags/{key}/history", get(history))
        .route_layer(middleware::from_fn_with_state(ctx, super::require_reader))
        .merge(mutating)
}

fn bad_request(message: impl Into<String>, hint: impl Into<String>) -> ApiError {
    ApiError { status: StatusCode::BAD_REQUEST, code: "bad_request", message: message.into(), hint: hint.into() }
}

/// Body of create and set: the flag (its `key` and `version` may be left
/// out) and why.
type FlagBody = backstop_api::FlagRequest;

/// The flag of a request for `key`, and the version it was read at (set's
/// optimistic concurrency; 0 or absent means "whatever is stored").
fn parse_flag(key: &str, body: Value) -> Result<(Flag, Option<u64>), ApiError> {
    let Value::Object(mut map) = body else {
        return Err(bad_request("`flag` must be a JSON object", "send {\"flag\": {...}, \"reason\": \"...\"}"));
    };
    match map.get("key") {
        None => {
            map.insert("key".into(), Value::String(key.to_owned()));
        }
        Some(Value::String(k)) if k == key => {}
        Some(other) => {
            return Err(bad_request(
                format!("the flag's key {other} does not match `{key}` in the path"),
                "leave `key` out of the flag, or make it the same",
            ));
        }
    }
    let expected = map.get("version").and_then(Value::as_u64).filter(|&v| v > 0);
    map.insert("version".into(), json!(0));
    let flag: Flag = serde_json::from_value(Value::Object(map)).map_err(|e| ApiError {
        status: StatusCode::BAD_REQUEST,
        code: "invalid_flag",
        message: format!("flag `{key}`: {e}"),
        hint: "a flag needs `enabled`, `variants`, `default_variant` and `off_variant`, and every rule its `conditions` (`[]` for everyone); see `backstop flag show` of another flag"
            .into(),
    })?;
    Ok((flag, expected))
}

fn reason_of(reason: Option<String>) -> Option<String> {
    reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty())
}

async fn create(
    State(ctx): State<Arc<Ctx>>,
    Extension(Actor(actor)): Extension<Actor>,
    Path(key): Path<String>,
    Json(body): Json<FlagBody>,
) -> Result<(StatusCode, axum::Json<Written>), ApiError> {
    let (flag, _) = parse_flag(&key, body.flag)?;
    let written = write(&ctx, &key, Edit::Create(flag), "create", &actor, reason_of(body.reason)).await?;
    Ok((StatusCode::CREATED, axum::Json(written)))
}

async fn set(
    State(ctx): State<Arc<Ctx>>,
    Extension(Actor(actor)): Extension<Actor>,
    Path(key): Path<String>,
    Json(body): Json<FlagBody>,
) -> ApiResult<Written> {
    let (flag, expected_version) = parse_flag(&key, body.flag)?;
    let edit = Edit::Set { flag, expected_version };
    Ok(axum::Json(write(&ctx, &key, edit, "set", &actor, reason_of(body.reason)).await?))
}

/// Body of on, off and delete: why.
type ReasonBody = backstop_api::ReasonRequest;

async fn switch(ctx: &Ctx, key: &str, enabled: bool, actor: &str, reason: Option<String>) -> ApiResult<Written> {
    let what = if enabled { "on" } else { "off" };
    let reason = reason_of(reason).ok_or_else(|| {
        bad_request(
            format!("switching flag `{key}` {what} needs a reason"),
            format!("say why, e.g. `backstop flag {what} {key} --reason \"checkout errors\"`"),
        )
    })?;
    Ok(axum::Json(write(ctx, key, Edit::Enable(enabled), what, actor, Some(reason)).await?))
}

async fn on(
    State(ctx): State<Arc<Ctx>>,
    Extension(Actor(actor)): Extension<Actor>,
    Path(key): Path<String>,
    Json(body): Json<ReasonBody>,
) -> ApiResult<Written> {
    switch(&ctx, &key, true, &actor, body.reason).await
}

async fn off(
    State(ctx): State<Arc<Ctx>>,
    Extension(Actor(actor)): Extension<Actor>,
    Path(key): Path<String>,
    Json(body): Json<ReasonBody>,
) -> ApiResult<Written> {
    switch(&ctx, &key, false, &actor, body.reason).await
}

/// The app and live revision a flag guards (`--guarded-by`), if any.
async fn guarded_live_revision(ctx: &Ctx, key: &str) -> Result<Option<(String, u64)>, ApiError> {
    let store_failed = |e| ApiError::from(crate::error::OpError::from(e));
    for app in ctx.store.apps().await.map_err(store_failed)? {
        let Some(live) = app.live_revision else { continue };
        let revision = ctx.store.revision(&app.name, live).await.map_err(store_failed)?;
        if revision.guarded_by.iter().any(|k| k == key) {
            return Ok(Some((app.name.as_str().to_owned(), live)));
        }
    }
    Ok(None)
}

/// Delete a flag (its history stays); like the switches, it needs a reason.
/// A flag that guards a live revision is that release's kill switch: refused.
async fn delete(
    State(ctx): State<Arc<Ctx>>,
    Extension(Actor(actor)): Extension<Actor>,
    Path(key): Path<String>,
    Json(body): Json<ReasonBody>,
) -> ApiResult<Written> {
    let reason = reason_of(body.reason).ok_or_else(|| {
        bad_request(
            format!("deleting flag `{key}` needs a reason"),
            format!("say why, e.g. `backstop flag delete {key} --reason \"feature shipped\"`"),
        )
    })?;
    if let Some((app, revision)) = guarded_live_revision(&ctx, &key).await? {
        return Err(ApiError {
            status: StatusCode::CONFLICT,
            code: "flag_guards_live_release",
            message: format!("flag `{key}` guards revision {revision} of app `{app}`, which is live"),
            hint: format!(
                "it is that release's kill switch; switch it off with `backstop flag off {key} --reason \"...\"`, or delete it once a release it does not guard is live"
            ),
        });
    }
    Ok(axum::Json(write(&ctx, &key, Edit::Delete, "delete", &actor, Some(reason)).await?))
}

/// Every flag, with the configuration version and its ETag; `If-None-Match`
/// with that ETag gets 304 (what the SDK polls when it cannot stream). Stored
/// flags that cannot be served are named in `unreadable`.
async fn list(State(ctx): State<Arc<Ctx>>, headers: HeaderMap) -> Response {
    let current = ctx.flags.current();
    let mut resp = if super::ofrep::matches_etag(&headers, &current.etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let flags: Vec<Flag> = current.snapshot.flags.values().map(|f| f.flag().clone()).collect();
        let unreadable = current
            .unreadable
            .iter()
            .map(|(key, error)| backstop_api::UnreadableFlag { key: key.clone(), error: error.clone() })
            .collect();
        let list =
            backstop_api::FlagList { etag: current.etag.clone(), flags, unreadable, version: current.snapshot.version };
        axum::Json(list).into_response()
    };
    if let Ok(etag) = HeaderValue::from_str(&current.etag) {
        resp.headers_mut().insert(header::ETAG, etag);
    }
    resp
}

async fn show(State(ctx): State<Arc<Ctx>>, Path(key): Path<String>) -> ApiResult<Flag> {
    let current = ctx.flags.current();
    if let Some(error) = current.unreadable.get(&key) {
        return Err(unreadable_flag(&key, error));
    }
    current.snapshot.get(&key).map(|f| axum::Json(f.flag().clone())).ok_or_else(|| unknown_flag(&key))
}

/// A stored flag that cannot be served: it exists (so not 404), but its state is damaged.
fn unreadable_flag(key: &str, error: &str) -> ApiError {
    ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        code: "corrupt_state",
        message: format!("flag `{key}` is stored but cannot be read: {error}"),
        hint: format!(
            "delete it with `backstop flag delete {key} --reason \"...\"`, or replace it with `backstop flag set {key} --file FLAG.json`"
        ),
    }
}

/// `GET /v1/flags/{key}/history[?limit=&since=]`: the newest `limit` versions, oldest first.
async fn history(
    State(ctx): State<Arc<Ctx>>,
    Path(key): Path<String>,
    Query(q): Query<backstop_api::ListQuery>,
) -> ApiResult<Vec<FlagHistoryEntry>> {
    let limit = listing::limit(q.limit, listing::MAX_LIMIT)?;
    let since = listing::since(q.since.as_deref(), chrono::Utc::now())?;
    let all = ctx.store.flag_history(&key).await.map_err(store_error)?;
    let entries = all.into_iter().filter(|e| since.is_none_or(|t| e.at >= t)).collect();
    Ok(axum::Json(listing::newest(entries, limit)))
}
