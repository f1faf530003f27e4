//! The OpenAPI 3 description of the HTTP API, served at `GET /v1/openapi.json` without a token.
//! Bodies are the backstop-api wire types (their `ToSchema`); each route is one `#[utoipa::path]`
//! below, listed in [`ApiDoc`]. The router's tests fail when a route has no entry here.
#![expect(dead_code, reason = "the functions only carry each route's #[utoipa::path]; the handlers live elsewhere")]

use axum::http::header;
use axum::response::{IntoResponse, Response};
use backstop_api::*;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The description as served.
#[derive(OpenApi)]
#[openapi(
    info(title = "backstop", description = "The release safety net's control plane: releases, undo, flags, migrations, incidents. Every failure of a /v1 route answers ErrorBody."),
    paths(
        health, openapi_json, metrics, list_apps, status, history, one_revision, known_good, rollback_check,
        signals, assess, execute, incidents, incident, close, report, run_drill, drills, operations, operation, logs,
        artifact_info, upload_artifact, release, undo, compat, abort, import, gc, migrate_plan, migrate_contract, promote, audit_list,
        audit_verify, flags, flag, flag_history, flag_create, flag_set, flag_delete, flag_on, flag_off,
        flag_stream, ofrep_bulk, ofrep_single, ofrep_events,
    ),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&Tokens),
)]
pub struct ApiDoc;

/// An artifact as uploaded: a file's bytes, or a directory's tar stream.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
struct ArtifactBytes(Vec<u8>);

/// `GET /v1/openapi.json`, written once.
pub async fn serve() -> Response {
    static JSON: std::sync::OnceLock<Result<String, String>> = std::sync::OnceLock::new();
    match JSON.get_or_init(|| ApiDoc::openapi().to_json().map_err(|e| e.to_string())) {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json.clone()).into_response(),
        Err(e) => crate::api::ApiError {
            status: axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal",
            message: format!("cannot write the OpenAPI description: {e}"),
            hint: "see the server log".into(),
        }
        .into_response(),
    }
}

/// The two tokens: `admin` (every mutating route) and `reader` (the evaluation or the admin
/// token: flag reads, streams, OFREP), sent as a bearer token or as `x-api-key`.
struct Tokens;

impl Modify for Tokens {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = || SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build());
        components.add_security_scheme("admin", bearer());
        components.add_security_scheme("reader", bearer());
        components
            .add_security_scheme("api_key", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("x-api-key"))));
    }
}

#[utoipa::path(get, path = "/v1/health", tag = "control plane", responses((status = 200, body = Health)))]
fn health() {}

#[utoipa::path(get, path = "/v1/openapi.json", tag = "control plane", responses((status = 200, description = "This description", content_type = "application/json")))]
fn openapi_json() {}

#[utoipa::path(get, path = "/metrics", tag = "control plane", responses((status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8")))]
fn metrics() {}

#[utoipa::path(get, path = "/v1/apps", tag = "apps", responses((status = 200, body = Vec<AppStatus>), (status = "default", body = ErrorBody)))]
fn list_apps() {}

#[utoipa::path(get, path = "/v1/apps/{app}/status", tag = "apps", params(("app" = String, Path, description = "The app, as named in the config", pattern = "^[a-z0-9][a-z0-9_-]{0,62}$", example = "shop")), responses((status = 200, body = AppStatus), (status = "default", body = ErrorBody)))]
fn status() {}

#[utoipa::path(get, path = "/v1/apps/{app}/revisions", tag = "apps", params(("app" = String, Path, description = "The app, as named in the config", pattern = "^[a-z0-9][a-z0-9_-]{0,62}$", example = "shop"), ListQuery), responses((status = 200, description = "Revisions oldest first; `limit` keeps the newest", body = Vec<HistoryEntry>), (status = "default", body = ErrorBody)))]
fn history() {}

#[utoipa::path(get, path = "/v1/apps/{app}/revisions/{revision}", tag = "apps", params(("app" = String, Path, description = "The app, as named in the config", pattern = "^[a-z0-9][a-z0-9_-]{0,62}$", example = "shop"), ("revision" = u64, Path, minimum = 1, example = 1)), responses((status = 200, body = RevisionDetail), (status = "default", body = ErrorBody)))]
fn one_revision() {}

#[utoipa::path(get, path = "/v1/apps/{app}/known-good", tag = "apps", params(("app" = String, Path, description = "The app, as named in the config", pattern = "^[a-z0-9][a-z0-9_-]{0,62}$", example = "shop")), responses((status = 200, description = "The last known-good revision", body = Object), (status = "default", body = ErrorBody)))]
fn known_good() {}

#[utoipa::path(get, path = "/v1/apps/{app}/revisions/{revision}/rollback-check", tag = "migrations", params(("app" = String, Path, description = "The app, as named in the config", pattern = "^[a-z0-9][a-z0-9_-]{0,62}$", example = "shop"), ("revision" = u64, Path, minimum = 1, example = 1)), responses((status = 200, body = RollbackCheck), (status = "default", body = ErrorBody)))]
fn rollback_check() {}

#[utoipa::path(get, path = "/v1/apps/{app}/signals", tag = "apps", params(("app" = String, Path, description = "The app, as named in the config", pattern = "^[a-z0-9][a-z0-9_-]{0,62}$", example = "shop")), responses((status = 200, body = AppSignals), (status = "default", body = ErrorBody)))]
fn signals() {}

#[utoipa::path(get, path = "/v1/apps/{app}/incident", tag = "incidents", params(("app" = String, Path, description = "The app, as named in the config", pattern = "^[a-z0-9][a-z0-9_-]{0,62}$", example = "shop")), responses((status = 200, body = IncidentAssessment), (status = "default", body = ErrorBody)))]
fn assess() {}

#[utoipa::path(post, path = "/v1/apps/{app}/incidents", tag = "incidents", security(("admin" = [])), params(("app" = String, Path, description = "The app, as named in the config", pattern = "^[a-z0-9][a-z0-9_-]{0,62}$", example = "shop")), responses((status = 200, body = IncidentAssessment), (status = "default", body = ErrorBody)))]
fn execute() {}

#[utoipa::path(get, path = "/v1/incidents", tag = "incidents", params(AppListQuery), responses((status = 200, description = "Newest first", body = Vec<Incident>), (status = "default", body = ErrorBody)))]
fn incidents() {}

#[utoipa::path(get, path = "/v1/incidents/{id}", tag = "incidents", params(("id" = u64, Path, minimum = 1, example = 1)), responses((status = 200, body = Incident), (status = "default", body = ErrorBody)))]
fn incident() {}

#[utoipa::path(post, path = "/v1/incidents/{id}/close", tag = "incidents", security(("admin" = [])), params(("id" = u64, Path, minimum = 1, example = 1)), request_body = CloseRequest, responses((status = 200, body = Incident), (status = "default", body = ErrorBody)))]
fn close() {}

#[utoipa::path(get, path = "/v1/report", tag = "incidents", params(("app" = Option<String>, Query), ("since" = Option<String>, Query, description = "A duration back from now (`30d`, `12h`)")), responses((status = 200, body = DeliveryReport), (status = "default", body = ErrorBody)))]
fn report() {}

#[utoipa::path(post, path = "/v1/apps/{app}/drills", tag = "incidents", security(("admin" = [])), params(("app" = String, Path, description = "The app, as named in the config", pattern = "^[a-z0-9][a-z0-9_-]{0,62}$", example = "shop")), request_body = DrillRequest, responses((status = 200, body = DrillOutcome), (status = "default", body = ErrorBody)))]
fn run_drill() {}

#[utoipa::path(get, path = "/v1/drills", tag = "incidents", params(AppListQuery), responses((status = 200, description = "Newest first", body = Vec<Drill>), (status = "default", body = ErrorBody)))]
fn drills() {}

#[utoipa::path(get, path = "/v1/apps/{app}/operations", tag = "apps", params(("app" = String, Path, description = "The app, as named in the config", pattern = "^[a-z0-9][a-z0-9_-]{0,62}$", example = "shop"), ListQuery), responses((status = 200, description = "Newest first", body = Vec<Operation>), (status = "default", body = ErrorBody)))]
fn operations() {}

#[utoipa::path(get, path = "/v1/apps/{app}/logs", tag = "apps", security(("admin" = [])), params(("app" = String, Path, description = "The app, as named in the config", pattern = "^[a-z0-9][a-z0-9_-]{0,62}$", example = "shop"), LogQuery), responses((status = 200, body = LogChunk), (status = "default", body = ErrorBody)))]
fn logs() {}

#[utoipa::path(get, path = "/v1/operations/{id}", tag = "apps", params(("id" = u64, Path, minimum = 1, example = 1)), responses((status = 200, body = Operation), (status = "default", body = ErrorBody)))]
fn operation() {}

#[utoipa::path(get, path = "/v1/artifacts/{digest}", tag = "artifacts", params(("digest" = String, Path, description = "sha256:<64 hex digits>", pattern = "^sha256:[0-9a-f]{64}$", example = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae")), responses((status = 200, body = ArtifactInfo), (status = "default", body = ErrorBody)))]
fn artifact_info() {}

#[utoipa::path(put, path = "/v1/artifacts/{digest}", tag = "artifacts", security(("admin" = [])), params(("digest" = String, Path, description = "sha256:<64 hex digits>", pattern = "^sha256:[0-9a-f]{64}$", example = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae")), request_body(content = ArtifactBytes, description = "A file's bytes, or a directory as a tar stream (`application/x-tar`)", content_type = "application/octet-stream"), responses((status = 200, body = Uploaded), (status = "default", body = ErrorBody)))]
fn upload_artifact() {}

#[utoipa::path(post, path = "/v1/apps/{app}/releases", tag = "operations", security(("admin" = [])), params(("app" = String, Path, description = "The app, as named in the config", pattern = "^[a-z0-9][a-z0-9_-]{0,62}$", example = "shop")), request_body = ReleaseRequest, responses((status = 200, body = Outcome), (status = "default", body = ErrorBody)))]
fn release() {}

#[utoipa::path(post, path = "/v1/apps/{app}/undo", tag = "operations", security(("admin" = [])), params(("app" = String, Path, description = "The app, as named in the config", pattern = "^[a-z0-9][a-z0-9_-]{0,62}$", example = "shop")), request_body = UndoRequest, responses((status = 200, body = Outcome), (status = "default", body = ErrorBody)))]
fn undo() {}

#[utoipa::path(post, path = "/v1/apps/{app}/compat", tag = "operations", security(("admin" = [])), params(("app" = String, Path, description = "The app, as named in the config", pattern = "^[a-z0-9][a-z0-9_-]{0,62}$", example = "shop")), request_body = CompatRequest, responses((status = 200, body = CompatReport), (status = "default", body = ErrorBody)))]
fn compat() {}

#[utoipa::path(post, path = "/v1/apps/{app}/abort", tag = "operations", security(("admin" = [])), params(("app" = String, Path, description = "The app, as named in the config", pattern = "^[a-z0-9][a-z0-9_-]{0,62}$", example = "shop")), responses((status = 200, body = AbortOutcome), (status = "default", body = ErrorBody)))]
fn abort() {}

#[utoipa::path(post, path = "/v1/apps/{app}/import", tag = "operations", security(("admin" = [])), params(("app" = String, Path, description = "The app, as named in the config", pattern = "^[a-z0-9][a-z0-9_-]{0,62}$", example = "shop")), request_body = ImportRequest, responses((status = 200, body = ImportOutcome), (status = "default", body = ErrorBody)))]
fn import() {}

#[utoipa::path(post, path = "/v1/gc", tag = "artifacts", security(("admin" = [])), params(GcQuery), responses((status = 200, body = GcSummary), (status = "default", body = ErrorBody)))]
fn gc() {}

#[utoipa::path(post, path = "/v1/apps/{app}/migrations/plan", tag = "migrations", security(("admin" = [])), params(("app" = String, Path, description = "The app, as named in the config", pattern = "^[a-z0-9][a-z0-9_-]{0,62}$", example = "shop")), request_body = PlanRequest, responses((status = 200, body = PlanView), (status = "default", body = ErrorBody)))]
fn migrate_plan() {}

#[utoipa::path(post, path = "/v1/apps/{app}/migrations/contract", tag = "migrations", security(("admin" = [])), params(("app" = String, Path, description = "The app, as named in the config", pattern = "^[a-z0-9][a-z0-9_-]{0,62}$", example = "shop")), responses((status = 200, body = ContractOutcome), (status = "default", body = ErrorBody)))]
fn migrate_contract() {}

#[utoipa::path(post, path = "/v1/apps/{app}/revisions/{revision}/promote", tag = "operations", security(("admin" = [])), params(("app" = String, Path, description = "The app, as named in the config", pattern = "^[a-z0-9][a-z0-9_-]{0,62}$", example = "shop"), ("revision" = u64, Path, minimum = 1, example = 1)), request_body = PromoteRequest, responses((status = 200, description = "The revision, now permanent", body = Object), (status = "default", body = ErrorBody)))]
fn promote() {}

#[utoipa::path(get, path = "/v1/audit", tag = "audit", params(AuditQuery), responses((status = 200, description = "Entries in chain order", body = Vec<AuditEntry>), (status = "default", body = ErrorBody)))]
fn audit_list() {}

#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit", responses((status = 200, body = AuditVerify), (status = "default", body = ErrorBody)))]
fn audit_verify() {}

#[utoipa::path(get, path = "/v1/flags", tag = "flags", security(("reader" = []), ("api_key" = [])), responses((status = 200, body = FlagList), (status = 304, description = "`If-None-Match` names the current ETag"), (status = "default", body = ErrorBody)))]
fn flags() {}

#[utoipa::path(get, path = "/v1/flags/{key}", tag = "flags", security(("reader" = []), ("api_key" = [])), params(("key" = String, Path, description = "The flag's key", pattern = "^[A-Za-z0-9._-]{1,128}$", example = "checkout")), responses((status = 200, description = "The flag", body = Object), (status = "default", body = ErrorBody)))]
fn flag() {}

#[utoipa::path(get, path = "/v1/flags/{key}/history", tag = "flags", security(("reader" = []), ("api_key" = [])), params(("key" = String, Path, description = "The flag's key", pattern = "^[A-Za-z0-9._-]{1,128}$", example = "checkout"), ListQuery), responses((status = 200, description = "Versions oldest first; `limit` keeps the newest", body = Vec<FlagHistoryEntry>), (status = "default", body = ErrorBody)))]
fn flag_history() {}

#[utoipa::path(post, path = "/v1/flags/{key}", tag = "flags", security(("admin" = [])), params(("key" = String, Path, description = "The flag's key", pattern = "^[A-Za-z0-9._-]{1,128}$", example = "checkout")), request_body = FlagRequest, responses((status = 201, body = Written), (status = "default", body = ErrorBody)))]
fn flag_create() {}

#[utoipa::path(put, path = "/v1/flags/{key}", tag = "flags", security(("admin" = [])), params(("key" = String, Path, description = "The flag's key", pattern = "^[A-Za-z0-9._-]{1,128}$", example = "checkout")), request_body = FlagRequest, responses((status = 200, body = Written), (status = "default", body = ErrorBody)))]
fn flag_set() {}

#[utoipa::path(delete, path = "/v1/flags/{key}", tag = "flags", security(("admin" = [])), params(("key" = String, Path, description = "The flag's key", pattern = "^[A-Za-z0-9._-]{1,128}$", example = "checkout")), request_body = ReasonRequest, responses((status = 200, body = Written), (status = "default", body = ErrorBody)))]
fn flag_delete() {}

#[utoipa::path(post, path = "/v1/flags/{key}/on", tag = "flags", security(("admin" = [])), params(("key" = String, Path, description = "The flag's key", pattern = "^[A-Za-z0-9._-]{1,128}$", example = "checkout")), request_body = ReasonRequest, responses((status = 200, body = Written), (status = "default", body = ErrorBody)))]
fn flag_on() {}

#[utoipa::path(post, path = "/v1/flags/{key}/off", tag = "flags", security(("admin" = [])), params(("key" = String, Path, description = "The flag's key", pattern = "^[A-Za-z0-9._-]{1,128}$", example = "checkout")), request_body = ReasonRequest, responses((status = 200, body = Written), (status = "default", body = ErrorBody)))]
fn flag_off() {}

#[utoipa::path(get, path = "/v1/flags/stream", tag = "flags", security(("reader" = []), ("api_key" = [])), responses((status = 200, description = "Server-sent events: `snapshot` (SnapshotEvent), then `change` (ChangeEvent)", content_type = "text/event-stream"), (status = "default", body = ErrorBody)))]
fn flag_stream() {}

#[utoipa::path(post, path = "/ofrep/v1/evaluate/flags", tag = "ofrep", security(("reader" = []), ("api_key" = [])), request_body = EvaluationRequest, responses((status = 200, body = BulkEvaluation), (status = "default", body = EvaluationFailure)))]
fn ofrep_bulk() {}

#[utoipa::path(post, path = "/ofrep/v1/evaluate/flags/{key}", tag = "ofrep", security(("reader" = []), ("api_key" = [])), params(("key" = String, Path, description = "The flag's key", pattern = "^[A-Za-z0-9._-]{1,128}$", example = "checkout")), request_body = EvaluationRequest, responses((status = 200, body = Evaluated), (status = "default", body = EvaluationFailure)))]
fn ofrep_single() {}

#[utoipa::path(get, path = "/ofrep/v1/events", tag = "ofrep", security(("reader" = []), ("api_key" = [])), responses((status = 200, description = "Server-sent events: `refetchEvaluation` (RefetchEvent)", content_type = "text/event-stream"), (status = "default", body = EvaluationFailure)))]
fn ofrep_events() {}
