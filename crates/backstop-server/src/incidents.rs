//! The incident ladder, delivery figures and drills over HTTP.

use std::sync::Arc;

use axum::extract::State;
use axum::{Extension, Json};
use backstop_core::incident::{Rung, render_human};
use backstop_engine::OpError;
use backstop_engine::drill::Readiness;
use backstop_engine::incident::Assessment;
use chrono::Utc;

use crate::api::{Actor, ApiError, ApiResult, Path, Query, in_own_task};
use crate::{Ctx, listing};

/// The longest window a report covers.
const MAX_REPORT_DAYS: u64 = 3660;

fn incident(i: backstop_store::Incident) -> backstop_api::Incident {
    let recovery_ms = i
        .recovered_at
        .map(|r| r.signed_duration_since(i.detected_at).num_milliseconds().max(0))
        .and_then(|ms| u64::try_from(ms).ok());
    backstop_api::Incident {
        id: i.id,
        app: i.app,
        revision: i.revision,
        opened_by: i.opened_by,
        rung: i.rung,
        operation: i.operation,
        detected_at: i.detected_at,
        decided_at: i.decided_at,
        mitigated_at: i.mitigated_at,
        recovered_at: i.recovered_at,
        closed_at: i.closed_at,
        note: i.note,
        recovery_ms,
        facts: i.facts,
        decision: i.decision,
    }
}

fn assessment(a: Assessment) -> backstop_api::IncidentAssessment {
    backstop_api::IncidentAssessment {
        app: a.facts.app.clone(),
        live_revision: a.facts.live_revision,
        target_revision: a.facts.target_revision,
        recommended: a.decision.recommended,
        command: a.decision.command.clone(),
        text: render_human(&a.decision, &a.facts),
        rungs: a.decision.rungs,
        incident: a.incident.as_ref().map(|i| i.id),
        taken: a.taken,
        facts: a.facts,
        record: a.incident.map(incident),
    }
}

fn readiness(r: &Readiness) -> backstop_api::Readiness {
    backstop_api::Readiness {
        app: r.app.clone(),
        ready: r.ready(),
        live_revision: r.live_revision,
        target_revision: r.target_revision,
        checks: r
            .checks
            .iter()
            .map(|c| backstop_api::ReadinessCheck { check: c.check.into(), ok: c.ok, detail: c.detail.clone() })
            .collect(),
    }
}

fn drill(d: backstop_store::Drill) -> backstop_api::Drill {
    backstop_api::Drill {
        id: d.id,
        app: d.app,
        rung: d.rung,
        live_revision: d.live_revision,
        target: d.target,
        actor: d.actor,
        started_at: d.started_at,
        ended_at: d.ended_at,
        outcome: d.outcome,
        figures: d.figures.into_iter().map(|(phase, ms)| backstop_api::DrillPhase { phase, ms }).collect(),
        error: d.error,
    }
}

/// `GET /v1/apps/{app}/incident`: the ladder from the facts now; nothing is recorded or moved.
pub async fn assess(
    State(ctx): State<Arc<Ctx>>,
    Path(app): Path<String>,
) -> ApiResult<backstop_api::IncidentAssessment> {
    Ok(Json(assessment(ctx.incident_assess(&app).await?)))
}

/// `POST /v1/apps/{app}/incidents`: record an incident and take the first safe rung.
pub async fn execute(
    State(ctx): State<Arc<Ctx>>,
    Extension(Actor(actor)): Extension<Actor>,
    Path(app): Path<String>,
) -> ApiResult<backstop_api::IncidentAssessment> {
    let detected_at = Utc::now();
    in_own_task(async move { ctx.incident_execute(&app, &actor, detected_at).await.map(assessment) }).await
}

/// `GET /v1/incidents[?app=&limit=&since=]`, newest first.
pub async fn list(
    State(ctx): State<Arc<Ctx>>,
    Query(q): Query<backstop_api::AppListQuery>,
) -> ApiResult<Vec<backstop_api::Incident>> {
    let limit = listing::limit(q.limit, 50)?;
    let since = listing::since(q.since.as_deref(), Utc::now())?;
    let app = match &q.app {
        Some(name) => Some(ctx.app(name)?.0),
        None => None,
    };
    // Newest first: `since` cuts a tail of the newest `limit`.
    let all = ctx.store.incidents(app.as_ref(), limit).await.map_err(OpError::from)?;
    Ok(Json(all.into_iter().filter(|i| since.is_none_or(|t| i.detected_at >= t)).map(incident).collect()))
}

/// `GET /v1/incidents/{id}`.
pub async fn show(State(ctx): State<Arc<Ctx>>, Path(id): Path<u64>) -> ApiResult<backstop_api::Incident> {
    let found = ctx.store.incident(id).await.map_err(OpError::from)?;
    found.map(|i| Json(incident(i))).ok_or_else(|| OpError::UnknownIncident { id }.into())
}

/// `POST /v1/incidents/{id}/close`.
pub async fn close(
    State(ctx): State<Arc<Ctx>>,
    Extension(Actor(actor)): Extension<Actor>,
    Path(id): Path<u64>,
    Json(req): Json<backstop_api::CloseRequest>,
) -> ApiResult<backstop_api::Incident> {
    Ok(Json(incident(ctx.close_incident(id, &actor, &req.note).await?)))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    app: Option<String>,
    /// A duration back from now (`30d`, `12h`); 30 days by default.
    since: Option<String>,
}

/// `GET /v1/report[?app=&since=30d]`.
pub async fn report(
    State(ctx): State<Arc<Ctx>>,
    Query(q): Query<ReportQuery>,
) -> ApiResult<backstop_api::DeliveryReport> {
    let window = match q.since.as_deref() {
        None => std::time::Duration::from_secs(30 * 86_400),
        Some(text) => humantime::parse_duration(text).map_err(|e| ApiError {
            status: axum::http::StatusCode::BAD_REQUEST,
            code: "bad_request",
            message: format!("since = `{text}` is not a duration: {e}"),
            hint: "give a duration back from now, such as 30d or 12h".into(),
        })?,
    };
    let window = window.min(std::time::Duration::from_secs(MAX_REPORT_DAYS * 86_400));
    let until = Utc::now();
    let since = chrono::Duration::from_std(window).ok().and_then(|d| until.checked_sub_signed(d)).unwrap_or(until);
    let r = ctx.delivery_report(q.app.as_deref(), since).await?;
    Ok(Json(backstop_api::DeliveryReport {
        app: q.app,
        since,
        until,
        releases: r.releases,
        per_day: r.per_day,
        change_failure_rate: r.change_failure_rate,
        recovery_median_ms: r.recovery_median_ms,
        recovery_p90_ms: r.recovery_p90_ms,
        open_incidents: r.open_incidents,
    }))
}

/// `POST /v1/apps/{app}/drills`.
pub async fn run_drill(
    State(ctx): State<Arc<Ctx>>,
    Extension(Actor(actor)): Extension<Actor>,
    Path(app): Path<String>,
    Json(req): Json<backstop_api::DrillRequest>,
) -> ApiResult<backstop_api::DrillOutcome> {
    let rung = req.rung.unwrap_or(Rung::TrafficSwap);
    in_own_task(async move {
        let (r, d) = ctx.drill(&app, rung, req.dry_run, &actor).await?;
        Ok(backstop_api::DrillOutcome { readiness: readiness(&r), drill: d.map(drill) })
    })
    .await
}

/// `GET /v1/drills[?app=&limit=&since=]`, newest first.
pub async fn drills(
    State(ctx): State<Arc<Ctx>>,
    Query(q): Query<backstop_api::AppListQuery>,
) -> ApiResult<Vec<backstop_api::Drill>> {
    let limit = listing::limit(q.limit, 50)?;
    let since = listing::since(q.since.as_deref(), Utc::now())?;
    let app = match &q.app {
        Some(name) => Some(ctx.app(name)?.0),
        None => None,
    };
    // Newest first: `since` cuts a tail of the newest `limit`.
    let all = ctx.store.drills(app.as_ref(), limit).await.map_err(OpError::from)?;
    Ok(Json(all.into_iter().filter(|d| since.is_none_or(|t| d.started_at >= t)).map(drill).collect()))
}
