//! The HTTP JSON API. Reads are open except flag reads, which take the evaluation or the admin
//! token (`flags::require_reader`); every mutating route needs the admin bearer token. Errors
//! share one shape: `{"error":{"code","message","hint"}}`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Extension, Router};
use backstop_artifacts::ArtifactError;
use backstop_core::audit::verify_chain;
use backstop_core::rollback::last_known_good;
use backstop_core::{Digest, Revision};
use backstop_store::InstanceRole;
use futures_util::TryStreamExt;

use crate::error::OpError;
use crate::{Ctx, listing};

/// One error shape for every failure, including JSON rejections.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub hint: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, message = %self.message, "request failed");
        }
        let refusal = crate::changelog::Refusal { code: self.code, message: self.message.clone() };
        let mut resp =
            (self.status, axum::Json(backstop_api::ErrorBody::new(self.code, self.message, self.hint))).into_response();
        resp.extensions_mut().insert(refusal);
        resp
    }
}

impl From<OpError> for ApiError {
    fn from(e: OpError) -> Self {
        let (status, code) = match &e {
            OpError::UnknownApp { .. } => (StatusCode::NOT_FOUND, "unknown_app"),
            OpError::UnknownRevision { .. } => (StatusCode::NOT_FOUND, "unknown_revision"),
            OpError::Busy { .. } => (StatusCode::CONFLICT, "busy"),
            OpError::Refused { .. } => (StatusCode::CONFLICT, "refused"),
            OpError::ArtifactNotUploaded { .. } => (StatusCode::BAD_REQUEST, "artifact_not_uploaded"),
            OpError::Artifact { source: ArtifactError::Tampered { .. } } => (StatusCode::CONFLICT, "artifact_tampered"),
            OpError::Artifact { source: ArtifactError::Missing { .. } } => (StatusCode::CONFLICT, "artifact_missing"),
            OpError::Artifact { source: ArtifactError::Io { .. } } => {
                (StatusCode::INTERNAL_SERVER_ERROR, "artifact_io")
            }
            OpError::Artifact { .. } => (StatusCode::BAD_REQUEST, "bad_artifact"),
            OpError::Failed { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "failed"),
            OpError::Aborted { .. } => (StatusCode::CONFLICT, "aborted"),
            OpError::NothingToAbort { .. } => (StatusCode::CONFLICT, "nothing_to_abort"),
            OpError::AbortPending { .. } => (StatusCode::CONFLICT, "abort_pending"),
            OpError::BadRequest { .. } => (StatusCode::BAD_REQUEST, "bad_request"),
            OpError::UnknownGuardFlag { .. } => (StatusCode::BAD_REQUEST, "unknown_flag"),
            OpError::Store { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "store"),
            OpError::CorruptState { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "corrupt_state"),
            OpError::LostRace { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "lost_race"),
            OpError::NoDatabase { .. } => (StatusCode::BAD_REQUEST, "no_database"),
            OpError::Database { source } => match source {
                backstop_appdb::SchemaError::ChecksumMismatch { .. } => (StatusCode::CONFLICT, "migration_changed"),
                backstop_appdb::SchemaError::Parse { .. } => (StatusCode::BAD_REQUEST, "bad_migration"),
                backstop_appdb::SchemaError::ContractInExpand { .. } => (StatusCode::CONFLICT, "contract_in_expand"),
                backstop_appdb::SchemaError::Statement { .. } | backstop_appdb::SchemaError::SqliteStatement { .. } => {
                    (StatusCode::UNPROCESSABLE_ENTITY, "migration_failed")
                }
                _ => (StatusCode::BAD_GATEWAY, "database"),
            },
            OpError::MigrationsRefused { .. } => (StatusCode::CONFLICT, "migrations_refused"),
            OpError::ExpandBreaks { .. } => (StatusCode::CONFLICT, "expand_breaks_revision"),
            OpError::UnsafeRollback { .. } => (StatusCode::CONFLICT, "unsafe_rollback"),
            OpError::RollbackUnchecked { .. } => (StatusCode::CONFLICT, "rollback_unchecked"),
            OpError::ContractNotYet { .. } => (StatusCode::CONFLICT, "not_proven"),
            OpError::ContractBlocked { .. } => (StatusCode::CONFLICT, "contract_blocked"),
            OpError::NotPromotable { .. } => (StatusCode::CONFLICT, "not_promotable"),
            OpError::UnknownIncident { .. } => (StatusCode::NOT_FOUND, "unknown_incident"),
            OpError::NotRollbackReady { .. } => (StatusCode::CONFLICT, "not_rollback_ready"),
            OpError::DrillRefused { .. } => (StatusCode::CONFLICT, "drill_refused"),
            OpError::MissingHotfix { .. } => (StatusCode::CONFLICT, "missing_hotfix"),
            OpError::BadContracts { .. } => (StatusCode::BAD_REQUEST, "bad_contracts"),
            OpError::BreakingChange { .. } => (StatusCode::CONFLICT, "breaking_change"),
            OpError::IncompatibleRollback { .. } => (StatusCode::CONFLICT, "incompatible_rollback"),
        };
        let message = match &e {
            // Don't leak internals; the log has the chain.
            OpError::Store { source } => {
                tracing::error!(error = ?source, "store failure");
                "the control plane could not update its state".to_owned()
            }
            other => other.to_string(),
        };
        ApiError { status, code, message, hint: e.hint() }
    }
}

fn bad_request(message: impl Into<String>, hint: impl Into<String>) -> ApiError {
    ApiError { status: StatusCode::BAD_REQUEST, code: "bad_request", message: message.into(), hint: hint.into() }
}

/// `Json` whose rejections use the API's error shape.
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Json(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(r: JsonRejection) -> ApiError {
    if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return too_large(r.body_text());
    }
    bad_request(r.body_text(), "send a JSON body with Content-Type: application/json")
}

fn too_large(message: String) -> ApiError {
    ApiError {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        code: "payload_too_large",
        message,
        hint: format!("a JSON body is at most {} bytes", JSON_BODY_LIMIT),
    }
}

/// The largest JSON body a route reads (artifact uploads stream and are not bounded by it).
pub const JSON_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// `Path` whose rejections use the API's error shape.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(rejection) => Err(path_rejection(rejection)),
        }
    }
}

fn path_rejection(r: PathRejection) -> ApiError {
    use axum::extract::path::ErrorKind;
    let message = format!("bad path parameter: {}", r.body_text().trim_start_matches("Invalid URL: "));
    let hint = match &r {
        PathRejection::FailedToDeserializePathParams(e) => match e.kind() {
            ErrorKind::InvalidUtf8InPathParam { .. } => "path parameters are UTF-8 text, percent-encoded",
            _ => "revision numbers and ids are whole numbers from 1 (`/v1/apps/shop/revisions/3`)",
        },
        // A route whose handler names a parameter its path lacks: a fault of the server.
        _ => {
            tracing::error!(rejection = %r.body_text(), "path parameters do not match the route");
            return ApiError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                code: "internal",
                message: "the route cannot read its path parameters".into(),
                hint: "see the server log".into(),
            };
        }
    };
    bad_request(message, format!("{hint}; GET /v1/openapi.json lists every route and its parameters"))
}

/// `Query` whose rejections use the API's error shape.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v)),
            Err(rejection) => Err(query_rejection(rejection)),
        }
    }
}

fn query_rejection(r: QueryRejection) -> ApiError {
    bad_request(
        format!("bad query string: {}", r.body_text().trim_start_matches("Failed to deserialize query string: ")),
        "GET /v1/openapi.json lists the query parameters of every route (`limit` is a whole number)",
    )
}

/// A route that exists, asked with a method it does not take; axum adds the `Allow` header.
async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        code: "method_not_allowed",
        message: format!("{method} is not allowed on {}", uri.path()),
        hint: "the Allow header lists the methods this route takes".into(),
    }
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        code: "not_found",
        message: format!("no such API route: {}", uri.path()),
        hint: "GET /v1/openapi.json lists every route; see also `backstop help`".into(),
    }
}

/// The last net under the error shape: a `/v1` failure answered by anything but [`ApiError`]
/// (a rejection of an extractor this module does not wrap, a layer's own answer) is framed
/// the same way, its text kept as the message and its headers (`Allow`) kept.
async fn error_shape(req: Request, next: Next) -> Response {
    let framed = req.uri().path().starts_with("/v1/");
    let resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !framed || is_json || !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_owned();
    let message = if text.is_empty() { status.canonical_reason().unwrap_or("request failed").to_owned() } else { text };
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::NOT_FOUND => "not_found",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    };
    let hint = "GET /v1/openapi.json describes every route";
    let body = ApiError { status, code, message, hint: hint.into() }.into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_TYPE);
    let (new_parts, body) = body.into_parts();
    parts.headers.extend(new_parts.headers);
    Response::from_parts(parts, body)
}

pub(crate) type ApiResult<T> = Result<axum::Json<T>, ApiError>;

/// The name the caller acts under, as recorded in the ledger and audit log.
#[derive(Clone)]
pub struct Actor(pub String);

pub(crate) async fn require_token(
    State(ctx): State<Arc<Ctx>>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let Some(presented) = crate::auth::presented(req.headers()) else {
        return Err(ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
            message: "this call needs the admin token".into(),
            hint: "set BACKSTOP_TOKEN (or --token) to the content of STATE/admin.token".into(),
        });
    };
    if !crate::auth::token_matches(presented, &ctx.token) {
        if crate::auth::token_matches(presented, &ctx.eval_token) {
            return Err(ApiError {
                status: StatusCode::FORBIDDEN,
                code: "forbidden",
                message: "the evaluation token can only evaluate flags".into(),
                hint: "changing flags and deploying need the admin token (STATE/admin.token)".into(),
            });
        }
        return Err(ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
            message: "the token is not valid for this server".into(),
            hint: "use the content of STATE/admin.token of the server you are talking to".into(),
        });
    }
    // A name the audit log cannot record as sent is refused, not dropped for the role alone.
    let named = match req.headers().get("x-backstop-actor") {
        None => None,
        Some(v) => match v.to_str().map(str::trim) {
            Ok(s) if !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_graphic() || b == b' ') => {
                Some(s.to_owned())
            }
            _ => {
                return Err(ApiError {
                    status: StatusCode::BAD_REQUEST,
                    code: "bad_request",
                    message: "X-Backstop-Actor is not 1 to 64 printable ASCII characters".into(),
                    hint: "send the name the audit log should record, or leave the header out".into(),
                });
            }
        },
    };
    let who = named.map_or_else(|| "admin".to_owned(), |s| format!("admin:{s}"));
    req.extensions_mut().insert(Actor(who));
    Ok(next.run(req).await)
}

/// The HTTP application: every route of the API over a shared context.
pub fn app(ctx: Arc<Ctx>) -> Router {
    let mutating = Router::new()
        .route("/v1/artifacts/{digest}", put(upload_artifact))
        .route("/v1/apps/{app}/releases", post(release))
        .route("/v1/apps/{app}/undo", post(undo))
        .route("/v1/apps/{app}/compat", post(compat))
        .route("/v1/apps/{app}/abort", post(abort))
        .route("/v1/apps/{app}/import", post(import))
        .route("/v1/gc", post(gc))
        // An instance's log may hold what the app printed of its secrets.
        .route("/v1/apps/{app}/logs", get(app_logs))
        .route("/v1/apps/{app}/migrations/contract", post(migrate_contract))
        // Planning connects to the app's database and parses whatever SQL it is sent:
        // it needs the admin token like the calls that change things.
        .route("/v1/apps/{app}/migrations/plan", post(migrate_plan))
        .route("/v1/apps/{app}/revisions/{revision}/promote", post(promote))
        .route("/v1/apps/{app}/incidents", post(crate::incidents::execute))
        .route("/v1/incidents/{id}/close", post(crate::incidents::close))
        .route("/v1/apps/{app}/drills", post(crate::incidents::run_drill))
        .route_layer(middleware::from_fn_with_state(ctx.clone(), require_token));
    Router::new()
        .route("/metrics", get(crate::metrics::metrics))
        .route("/v1/health", get(|| async { axum::Json(backstop_api::Health { ok: true }) }))
        .route("/v1/openapi.json", get(crate::openapi::serve))
        .route("/v1/apps", get(list_apps))
        .route("/v1/apps/{app}/status", get(status))
        .route("/v1/apps/{app}/revisions", get(history))
        .route("/v1/apps/{app}/revisions/{revision}", get(one_revision))
        .route("/v1/apps/{app}/known-good", get(known_good))
        .route("/v1/apps/{app}/revisions/{revision}/rollback-check", get(rollback_check))
        .route("/v1/apps/{app}/signals", get(signals))
        .route("/v1/apps/{app}/incident", get(crate::incidents::assess))
        .route("/v1/incidents", get(crate::incidents::list))
        .route("/v1/incidents/{id}", get(crate::incidents::show))
        .route("/v1/drills", get(crate::incidents::drills))
        .route("/v1/report", get(crate::incidents::report))
        .route("/v1/apps/{app}/operations", get(operations))
        .route("/v1/operations/{id}", get(operation))
        .route("/v1/artifacts/{digest}", get(artifact_info))
        .route("/v1/audit", get(audit_list))
        .route("/v1/audit/verify", get(audit_verify))
        .merge(mutating)
        .merge(crate::flags::router(ctx.clone()))
        .fallback(not_found)
        // After every route: it is set on the routes registered so far.
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(middleware::from_fn(error_shape))
        .layer(middleware::from_fn(crate::changelog::log_changes))
        .with_state(ctx)
}

async fn history(
    State(ctx): State<Arc<Ctx>>,
    Path(app): Path<String>,
    Query(q): Query<backstop_api::ListQuery>,
) -> ApiResult<Vec<backstop_api::HistoryEntry>> {
    let limit = listing::limit(q.limit, listing::MAX_LIMIT)?;
    let since = listing::since(q.since.as_deref(), chrono::Utc::now())?;
    let (app, rt) = ctx.app(&app)?;
    let record = ctx.store.app(&app).await.map_err(OpError::from)?;
    let revisions = ctx.store.revisions(&app).await.map_err(OpError::from)?;
    let kg = last_known_good(&revisions, None).map(|r| r.revision);
    let warm: Vec<u64> = rt.slots().iter().filter(|(_, s)| s.role == InstanceRole::Warm).map(|(r, _)| *r).collect();
    let entries = revisions
        .into_iter()
        .filter(|r| since.is_none_or(|t| r.created_at >= t))
        .map(|r| backstop_api::HistoryEntry {
            live: record.live_revision == Some(r.revision),
            last_known_good: kg == Some(r.revision),
            warm: warm.contains(&r.revision),
            revision: r,
        })
        .collect();
    Ok(axum::Json(listing::newest(entries, limit)))
}

async fn one_revision(
    State(ctx): State<Arc<Ctx>>,
    Path((app, revision)): Path<(String, u64)>,
) -> ApiResult<backstop_api::RevisionDetail> {
    let (app, _) = ctx.app(&app)?;
    let rev = ctx.store.revision(&app, revision).await.map_err(OpError::from)?;
    let ops: Vec<backstop_api::Operation> = ctx
        .store
        .operations(&app, 200)
        .await
        .map_err(OpError::from)?
        .into_iter()
        .filter(|o| {
            o.target_revision == Some(revision)
                || o.from_revision == Some(revision)
                || o.steps.iter().any(|s| s.detail.as_deref() == Some(&format!("revision {revision}")))
        })
        .map(crate::wire::operation)
        .collect();
    let db = ctx.store.revision_database(&app, revision).await.map_err(OpError::from)?;
    let shipped: Vec<String> =
        db.migrations.as_array().into_iter().flatten().filter_map(|m| m["name"].as_str()).map(str::to_owned).collect();
    let database = backstop_api::RevisionDatabase {
        migrations: shipped,
        queries: db.queries.as_array().map_or(0, Vec::len),
        schema_recorded_at: db.snapshot_at,
    };
    Ok(axum::Json(backstop_api::RevisionDetail { revision: rev, operations: ops, database }))
}

async fn known_good(State(ctx): State<Arc<Ctx>>, Path(app): Path<String>) -> ApiResult<Revision> {
    let (app, _) = ctx.app(&app)?;
    let revisions = ctx.store.revisions(&app).await.map_err(OpError::from)?;
    last_known_good(&revisions, None).cloned().map(axum::Json).ok_or_else(|| ApiError {
        status: StatusCode::NOT_FOUND,
        code: "no_known_good",
        message: format!("`{app}` has no known-good revision yet"),
        hint: "a revision becomes known-good after serving its whole soak without failing".into(),
    })
}

async fn app_status(ctx: &Ctx, name: &str) -> Result<backstop_api::AppStatus, ApiError> {
    let (app, rt) = ctx.app(name)?;
    let record = ctx.store.app(&app).await.map_err(OpError::from)?;
    let revisions = ctx.store.revisions(&app).await.map_err(OpError::from)?;
    let live = record.live_revision.and_then(|n| revisions.iter().find(|r| r.revision == n)).cloned();
    let kg = last_known_good(&revisions, None).cloned();
    let mut instances: Vec<backstop_api::InstanceView> = rt
        .slots()
        .iter()
        .filter_map(|(r, s)| {
            let (pid, port) = crate::wire::pid_port(&s.running.instance.handle());
            Some(backstop_api::InstanceView {
                revision: *r,
                role: crate::wire::role(s.role)?,
                pid,
                port,
                alive: s.running.instance.is_alive(),
                inflight: rt.traffic.inflight(&s.running.endpoint),
                warm_until: s.warm_until,
                ready_replicas: None,
                replicas: None,
            })
        })
        .collect();
    // Pods ready per revision, asked of the platform outside the slots' lock.
    let running: Vec<(u64, Arc<dyn backstop_driver::Instance>)> =
        rt.slots().iter().map(|(r, s)| (*r, s.running.instance.clone())).collect();
    for (revision, instance) in running {
        if let Some((ready, wanted)) = instance.replicas().await {
            if let Some(view) = instances.iter_mut().find(|i| i.revision == revision) {
                view.ready_replicas = Some(ready);
                view.replicas = Some(wanted);
            }
        }
    }
    let warm: Vec<u64> = instances
        .iter()
        .filter(|i| i.role == backstop_api::InstanceRole::Warm && i.alive)
        .map(|i| i.revision)
        .collect();
    let running = ctx
        .store
        .operations(&app, 1)
        .await
        .map_err(OpError::from)?
        .into_iter()
        .find(|o| o.state == backstop_core::OperationState::Running)
        .map(crate::wire::operation);
    let undo = match backstop_core::rollback::choose_target(&revisions, record.live_revision, None) {
        Ok(t) => backstop_api::UndoPreview {
            revision: Some(t.revision),
            warm: warm.contains(&t.revision),
            refused: None,
            hint: None,
        },
        Err(refusal) => backstop_api::UndoPreview {
            revision: None,
            warm: false,
            refused: Some(refusal.to_string()),
            hint: Some(refusal.hint()),
        },
    };
    Ok(backstop_api::AppStatus {
        analysis: crate::wire::analysis(rt.last_analysis(), record.live_revision),
        app: app.to_string(),
        listen: match (&rt.config().listen, &rt.config().kubernetes) {
            (Some(addr), _) => addr.to_string(),
            (None, Some(k)) => format!("Service {}/{}", k.namespace, k.service),
            (None, None) => String::new(),
        },
        driver: ctx.driver_for(&rt).name().to_owned(),
        live_revision: record.live_revision,
        live,
        known_good_revision: kg.as_ref().map(|r| r.revision),
        known_good: kg,
        warm_revisions: warm,
        instances,
        running_operation: running,
        undo: Some(undo),
    })
}

async fn status(State(ctx): State<Arc<Ctx>>, Path(app): Path<String>) -> ApiResult<backstop_api::AppStatus> {
    app_status(&ctx, &app).await.map(axum::Json)
}

async fn signals(State(ctx): State<Arc<Ctx>>, Path(app): Path<String>) -> ApiResult<backstop_api::AppSignals> {
    let (app, rt) = ctx.app(&app)?;
    let record = ctx.store.app(&app).await.map_err(OpError::from)?;
    let revisions = backstop_engine::signals::revision_signals(&rt);
    Ok(axum::Json(crate::wire::signals(&app, record.live_revision, &revisions)))
}

async fn list_apps(State(ctx): State<Arc<Ctx>>) -> ApiResult<Vec<backstop_api::AppStatus>> {
    let mut out = Vec::new();
    for name in ctx.apps().keys() {
        out.push(app_status(&ctx, name.as_str()).await?);
    }
    Ok(axum::Json(out))
}

async fn operations(
    State(ctx): State<Arc<Ctx>>,
    Path(app): Path<String>,
    Query(q): Query<backstop_api::ListQuery>,
) -> ApiResult<Vec<backstop_api::Operation>> {
    let limit = listing::limit(q.limit, 50)?;
    let since = listing::since(q.since.as_deref(), chrono::Utc::now())?;
    let (app, _) = ctx.app(&app)?;
    // Newest first: `since` cuts a tail of the newest `limit`.
    let ops = ctx.store.operations(&app, limit).await.map_err(OpError::from)?;
    Ok(axum::Json(
        ops.into_iter().filter(|o| since.is_none_or(|t| o.started_at >= t)).map(crate::wire::operation).collect(),
    ))
}

/// `GET /v1/apps/{app}/logs`: the tail of a revision's instance log, or what follows an offset.
async fn app_logs(
    State(ctx): State<Arc<Ctx>>,
    Path(app): Path<String>,
    Query(q): Query<backstop_api::LogQuery>,
) -> ApiResult<backstop_api::LogChunk> {
    let bytes = q.bytes.unwrap_or(64 * 1024);
    if !(1..=backstop_api::MAX_LOG_BYTES).contains(&bytes) {
        return Err(bad_request(
            format!("bytes is {bytes}, expected 1 to {}", backstop_api::MAX_LOG_BYTES),
            "ask for at most 1 MiB at a time; follow with `offset` for more",
        ));
    }
    let (app, _) = ctx.app(&app)?;
    let revision = match q.revision {
        Some(n) => ctx.store.revision(&app, n).await.map_err(OpError::from)?.revision,
        None => ctx.store.app(&app).await.map_err(OpError::from)?.live_revision.ok_or_else(|| ApiError {
            status: StatusCode::NOT_FOUND,
            code: "nothing_live",
            message: format!("`{app}` has no live revision"),
            hint: format!("name one: `backstop logs {app} REVISION`; `backstop history {app}` lists them"),
        })?,
    };
    let path = ctx.log_path(&app, revision);
    let read = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || read_log(&path, q.offset, bytes)).await
    };
    let no_log = || ApiError {
        status: StatusCode::NOT_FOUND,
        code: "no_log",
        message: format!("revision {revision} of `{app}` has no instance log at {}", path.display()),
        hint: "a revision that never started on this machine (or runs on Kubernetes: `kubectl logs`) has none".into(),
    };
    let (size, offset, data) = match read {
        Ok(Ok(Some(read))) => read,
        Ok(Ok(None)) => return Err(no_log()),
        Ok(Err(e)) => return Err(log_io(e.to_string())),
        Err(e) => return Err(log_io(e.to_string())),
    };
    Ok(axum::Json(backstop_api::LogChunk {
        app: app.to_string(),
        revision,
        path: path.display().to_string(),
        size,
        offset,
        next: offset + data.len() as u64,
        text: String::from_utf8_lossy(&data).into_owned(),
    }))
}

fn log_io(error: String) -> ApiError {
    tracing::error!(%error, "cannot read an instance log");
    ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        code: "io",
        message: "the control plane could not read the instance log".into(),
        hint: "see the server log; check the state directory's permissions".into(),
    }
}

/// (size, where the read started, the bytes) of a log file, or `None` when it does not exist.
/// Without `offset`, the last `bytes`; an `offset` past the end (the log was rotated) reads from 0.
fn read_log(path: &std::path::Path, offset: Option<u64>, bytes: u64) -> std::io::Result<Option<(u64, u64, Vec<u8>)>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let size = file.metadata()?.len();
    let start = match offset {
        Some(o) if o <= size => o,
        Some(_) => 0,
        None => size.saturating_sub(bytes),
    };
    file.seek(SeekFrom::Start(start))?;
    let mut data = Vec::new();
    file.take(bytes).read_to_end(&mut data)?;
    Ok(Some((size, start, data)))
}

async fn operation(State(ctx): State<Arc<Ctx>>, Path(id): Path<u64>) -> ApiResult<backstop_api::Operation> {
    let op = ctx.store.operation(id).await.map_err(OpError::from)?;
    op.map(|o| axum::Json(crate::wire::operation(o))).ok_or_else(|| ApiError {
        status: StatusCode::NOT_FOUND,
        code: "unknown_operation",
        message: format!("operation {id} does not exist"),
        hint: "`backstop operations APP` lists recent operations".into(),
    })
}

fn parse_digest(s: &str) -> Result<Digest, ApiError> {
    s.parse::<Digest>().map_err(|e| bad_request(e.to_string(), "digests look like sha256:<64 hex digits>"))
}

async fn artifact_info(
    State(ctx): State<Arc<Ctx>>,
    Path(digest): Path<String>,
) -> ApiResult<backstop_api::ArtifactInfo> {
    let digest = parse_digest(&digest)?;
    if !ctx.artifacts.contains(&digest) {
        return Err(ApiError {
            status: StatusCode::NOT_FOUND,
            code: "unknown_artifact",
            message: format!("artifact {digest} is not in the store"),
            hint: "`backstop release` uploads it".into(),
        });
    }
    Ok(axum::Json(backstop_api::ArtifactInfo { digest }))
}

/// Upload an artifact: a single file as raw bytes, or a directory as a tar
/// stream (`Content-Type: application/x-tar`). The body is spooled to a file
/// and checked against the digest in the path before it is stored.
async fn upload_artifact(
    State(ctx): State<Arc<Ctx>>,
    Path(digest): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<backstop_api::Uploaded> {
    let digest = parse_digest(&digest)?;
    let is_tar =
        headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) == Some("application/x-tar");
    if ctx.artifacts.contains(&digest) {
        return Ok(axum::Json(backstop_api::Uploaded { digest, kind: None, stored: false }));
    }
    let spool = ctx.artifacts.spool().map_err(io_api)?;
    let mut file = tokio::fs::File::from_std(spool.reopen().map_err(io_api)?);
    let mut stream = body.into_data_stream();
    while let Some(chunk) =
        stream.try_next().await.map_err(|e| bad_request(format!("upload interrupted: {e}"), "upload again"))?
    {
        tokio::io::AsyncWriteExt::write_all(&mut file, &chunk).await.map_err(io_api)?;
    }
    tokio::io::AsyncWriteExt::flush(&mut file).await.map_err(io_api)?;
    drop(file);
    let artifacts = ctx.artifacts.clone();
    let d = digest.clone();
    let kind = tokio::task::spawn_blocking(move || {
        let f = spool.reopen()?;
        let r = if is_tar { artifacts.ingest_tar(f, &d) } else { artifacts.ingest_file(f, &d) };
        Ok::<_, std::io::Error>(r)
    })
    .await
    .map_err(|e| io_api(std::io::Error::other(e)))?
    .map_err(io_api)?
    .map_err(OpError::from)?;
    Ok(axum::Json(backstop_api::Uploaded { digest, kind: Some(crate::wire::artifact_kind(kind)), stored: true }))
}

fn io_api(e: std::io::Error) -> ApiError {
    tracing::error!(error = %e, "i/o failure");
    ApiError {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        code: "io",
        message: "the control plane could not write the upload".into(),
        hint: "check the state directory's disk space".into(),
    }
}

async fn release(
    State(ctx): State<Arc<Ctx>>,
    Extension(Actor(actor)): Extension<Actor>,
    Path(app): Path<String>,
    Json(req): Json<backstop_api::ReleaseRequest>,
) -> ApiResult<backstop_api::Outcome> {
    let req = crate::wire::release_request(req);
    in_own_task(async move { ctx.release(&app, req, &actor).await.map(crate::wire::outcome) }).await
}

async fn rollback_check(
    State(ctx): State<Arc<Ctx>>,
    Path((app, revision)): Path<(String, u64)>,
) -> ApiResult<backstop_api::RollbackCheck> {
    Ok(axum::Json(crate::wire::rollback_check(ctx.rollback_check(&app, revision).await?)))
}

async fn migrate_plan(
    State(ctx): State<Arc<Ctx>>,
    Path(app): Path<String>,
    Json(req): Json<backstop_api::PlanRequest>,
) -> ApiResult<backstop_api::PlanView> {
    let migrations = req.migrations.map(|m| m.into_iter().map(crate::wire::migration).collect());
    Ok(axum::Json(crate::wire::plan_view(ctx.migrate_plan(&app, migrations).await?)))
}

async fn migrate_contract(
    State(ctx): State<Arc<Ctx>>,
    Extension(Actor(actor)): Extension<Actor>,
    Path(app): Path<String>,
) -> ApiResult<backstop_api::ContractOutcome> {
    in_own_task(async move { ctx.migrate_contract(&app, &actor).await.map(crate::wire::contract_outcome) }).await
}

async fn promote(
    State(ctx): State<Arc<Ctx>>,
    Extension(Actor(actor)): Extension<Actor>,
    Path((app, revision)): Path<(String, u64)>,
    Json(req): Json<backstop_api::PromoteRequest>,
) -> ApiResult<Revision> {
    if !req.permanent {
        return Err(bad_request(
            "promote needs \"permanent\": true",
            "`backstop promote APP R --permanent` declares that no rollback will go further back than R",
        ));
    }
    in_own_task(async move { ctx.promote(&app, revision, &actor).await }).await
}

/// Run an operation in its own task: a client that hangs up mid-way must
/// not cancel an operation halfway through.
pub(crate) async fn in_own_task<T: Send + 'static>(
    op: impl std::future::Future<Output = Result<T, OpError>> + Send + 'static,
) -> ApiResult<T> {
    let result = tokio::spawn(op).await.map_err(|e| {
        tracing::error!(error = %e, "operation task failed");
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: "the operation stopped unexpectedly".into(),
            hint: "see the server log; `backstop status APP` shows the app's state".into(),
        }
    })?;
    Ok(axum::Json(result?))
}

async fn undo(
    State(ctx): State<Arc<Ctx>>,
    Extension(Actor(actor)): Extension<Actor>,
    Path(app): Path<String>,
    Json(req): Json<backstop_api::UndoRequest>,
) -> ApiResult<backstop_api::Outcome> {
    let req = crate::wire::undo_request(req);
    in_own_task(async move { ctx.undo(&app, req, &actor).await.map(crate::wire::outcome) }).await
}

async fn compat(
    State(ctx): State<Arc<Ctx>>,
    Path(app): Path<String>,
    Json(req): Json<backstop_api::CompatRequest>,
) -> ApiResult<backstop_api::CompatReport> {
    let req = crate::wire::compat_request(req);
    Ok(axum::Json(crate::wire::compat_report(ctx.compat(&app, req).await?)))
}

async fn import(
    State(ctx): State<Arc<Ctx>>,
    Extension(Actor(actor)): Extension<Actor>,
    Path(app): Path<String>,
    Json(req): Json<backstop_api::ImportRequest>,
) -> ApiResult<backstop_api::ImportOutcome> {
    in_own_task(async move {
        ctx.import(&app, &req.source, &actor).await.map(|o| backstop_api::ImportOutcome {
            outcome: crate::wire::outcome(o.outcome),
            imported: o
                .imported
                .into_iter()
                .map(|(revision, origin)| backstop_api::ImportedRevision { revision, origin })
                .collect(),
            skipped: o.skipped,
        })
    })
    .await
}

async fn abort(
    State(ctx): State<Arc<Ctx>>,
    Extension(Actor(actor)): Extension<Actor>,
    Path(app): Path<String>,
) -> ApiResult<backstop_api::AbortOutcome> {
    in_own_task(async move { ctx.abort(&app, &actor).await.map(crate::wire::aborted(&app)) }).await
}

async fn gc(
    State(ctx): State<Arc<Ctx>>,
    Extension(Actor(actor)): Extension<Actor>,
    Query(q): Query<backstop_api::GcQuery>,
) -> ApiResult<backstop_api::GcSummary> {
    let r = ctx.gc(&actor, q.dry_run.unwrap_or(false)).await?;
    Ok(axum::Json(backstop_api::GcSummary {
        freed_bytes: r.freed_bytes,
        kept: r.kept,
        removed: r.removed,
        removed_logs: r.removed_logs,
        dry_run: r.dry_run,
    }))
}

/// `GET /v1/audit`: entries in chain order after `after`, the first `limit` that match `since`
/// and `app`, read from the store a page at a time.
async fn audit_list(
    State(ctx): State<Arc<Ctx>>,
    Query(q): Query<backstop_api::AuditQuery>,
) -> ApiResult<Vec<backstop_api::AuditEntry>> {
    let limit = listing::limit(q.limit, listing::MAX_LIMIT)?;
    let since = listing::since(q.since.as_deref(), chrono::Utc::now())?;
    let matches = |e: &backstop_core::audit::AuditEntry| {
        q.app.as_ref().is_none_or(|app| e.app.as_ref() == Some(app))
            && since.is_none_or(|t| {
                // An entry whose time does not read is shown rather than hidden.
                chrono::DateTime::parse_from_rfc3339(&e.at).map_or(true, |at| at >= t)
            })
    };
    let mut after = q.after.unwrap_or(0);
    let mut found = Vec::new();
    while found.len() < limit {
        let page = ctx.store.audit_entries(after, listing::MAX_LIMIT).await.map_err(OpError::from)?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        let full = page.len() == listing::MAX_LIMIT;
        found.extend(page.into_iter().filter(matches));
        if !full {
            break;
        }
    }
    found.truncate(limit);
    Ok(axum::Json(found.into_iter().map(backstop_api::AuditEntry::from).collect()))
}

async fn audit_verify(State(ctx): State<Arc<Ctx>>) -> ApiResult<backstop_api::AuditVerify> {
    let entries = ctx.store.audit_entries(0, usize::MAX >> 1).await.map_err(OpError::from)?;
    let n = entries.len();
    Ok(axum::Json(match verify_chain(&entries) {
        Ok(()) => backstop_api::AuditVerify::Intact { entries: n, head: entries.last().map(|e| e.hash.clone()) },
        Err(b) => backstop_api::AuditVerify::Broken { entries: n, reason: b.to_string() },
    }))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use axum::routing::get;
    use tower::ServiceExt;

    /// A failure answered by something else than `ApiError` is framed in the error shape, with
    /// its status, its text as the message and its other headers kept; others pass untouched.
    #[tokio::test]
    async fn the_last_net_frames_plain_failures_of_v1_only() {
        let plain = || async { (StatusCode::CONFLICT, [(header::RETRY_AFTER, "3")], "taken") };
        let router = axum::Router::new()
            .route("/v1/plain", get(plain))
            .route("/other", get(plain))
            .route("/v1/fine", get(|| async { "fine" }))
            .layer(axum::middleware::from_fn(super::error_shape));
        let call = |uri: &'static str| {
            let router = router.clone();
            async move {
                let resp = router.oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
                let (parts, body) = resp.into_parts();
                (parts, String::from_utf8(axum::body::to_bytes(body, 4096).await.unwrap().to_vec()).unwrap())
            }
        };
        let (parts, body) = call("/v1/plain").await;
        assert_eq!(parts.status, StatusCode::CONFLICT);
        assert_eq!(parts.headers[header::RETRY_AFTER], "3");
        assert_eq!(parts.headers[header::CONTENT_TYPE], "application/json");
        let body: backstop_api::ErrorBody = serde_json::from_str(&body).unwrap();
        assert_eq!((body.error.code.as_str(), body.error.message.as_str()), ("bad_request", "taken"));
        assert!(!body.error.hint.is_empty());
        assert_eq!(call("/other").await.1, "taken");
        assert_eq!(call("/v1/fine").await.1, "fine");
    }
}
