//! Incidents and drills in the store.
//!
//! An incident is opened with the facts it was decided from and the decision; its timeline
//! (`mitigated_at`, `recovered_at`, `closed_at`) is filled in later, each instant once: a second
//! write of the same instant is ignored, so retries and races cannot rewrite history. Opening,
//! mitigating, recovering and closing an incident each append an audit entry in the same
//! transaction. A drill is written once, when it has finished.

use async_trait::async_trait;
use backstop_core::AppName;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

use crate::sqlite::{append_audit, parse_ts, ts, write_tx};
use crate::{NewAudit, Result, SqliteStore, StoreError};

pub(crate) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS incidents (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    app          TEXT NOT NULL,
    revision     INTEGER,
    opened_by    TEXT NOT NULL,
    facts        TEXT NOT NULL,
    decision     TEXT NOT NULL,
    rung         TEXT,
    operation    INTEGER,
    detected_at  TEXT NOT NULL,
    decided_at   TEXT,
    mitigated_at TEXT,
    recovered_at TEXT,
    closed_at    TEXT,
    note         TEXT
);
CREATE TABLE IF NOT EXISTS drills (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    app           TEXT NOT NULL,
    rung          TEXT NOT NULL,
    live_revision INTEGER,
    target        INTEGER,
    actor         TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    ended_at      TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    figures       TEXT NOT NULL,
    error         TEXT
);
"#;

/// One incident, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: u64,
    pub app: String,
    /// The revision that caused it: the one live when it was opened.
    pub revision: Option<u64>,
    /// Who opened it (`admin:NAME`, or `backstop:analysis`).
    pub opened_by: String,
    /// The facts the decision was taken from, and the decision (JSON of the engine's types).
    pub facts: serde_json::Value,
    pub decision: serde_json::Value,
    /// The rung taken, once one was.
    pub rung: Option<String>,
    /// The operation that took it.
    pub operation: Option<u64>,
    pub detected_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    /// When traffic or a flag changed.
    pub mitigated_at: Option<DateTime<Utc>>,
    /// When the signals were healthy again.
    pub recovered_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub note: Option<String>,
}

/// What opens an incident.
#[derive(Debug, Clone)]
pub struct NewIncident {
    pub app: AppName,
    pub revision: Option<u64>,
    pub opened_by: String,
    pub facts: serde_json::Value,
    pub decision: serde_json::Value,
    pub detected_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
}

/// One step of an incident's timeline; an instant already recorded is kept.
#[derive(Debug, Clone)]
pub enum IncidentUpdate {
    /// A rung was taken by an operation (or none for the kill switch, which is a flag write).
    Mitigated {
        rung: String,
        operation: Option<u64>,
        at: DateTime<Utc>,
    },
    /// Only rolling forward is left: the rung is recorded, nothing was mitigated.
    Decided {
        rung: String,
        at: DateTime<Utc>,
    },
    Recovered {
        at: DateTime<Utc>,
    },
    Closed {
        actor: String,
        note: String,
        at: DateTime<Utc>,
    },
}

/// A finished drill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drill {
    pub id: u64,
    pub app: String,
    pub rung: String,
    pub live_revision: Option<u64>,
    pub target: Option<u64>,
    pub actor: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    /// `succeeded` or `failed`.
    pub outcome: String,
    /// The time of each phase in milliseconds, by name, in order.
    pub figures: Vec<(String, u64)>,
    pub error: Option<String>,
}

/// What records a drill.
#[derive(Debug, Clone)]
pub struct NewDrill {
    pub app: AppName,
    pub rung: String,
    pub live_revision: Option<u64>,
    pub target: Option<u64>,
    pub actor: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub succeeded: bool,
    pub figures: Vec<(String, u64)>,
    pub error: Option<String>,
}

/// Incidents and drills.
#[async_trait]
pub trait IncidentStore: Send + Sync {
    async fn open_incident(&self, new: NewIncident) -> Result<Incident>;
    /// [`StoreError::UnknownIncident`] when there is no such incident.
    async fn update_incident(&self, id: u64, update: IncidentUpdate) -> Result<Incident>;
    async fn incident(&self, id: u64) -> Result<Option<Incident>>;
    /// Newest first; of one app or of all.
    async fn incidents(&self, app: Option<&AppName>, limit: usize) -> Result<Vec<Incident>>;
    async fn record_drill(&self, new: NewDrill) -> Result<Drill>;
    /// Newest first; of one app or of all.
    async fn drills(&self, app: Option<&AppName>, limit: usize) -> Result<Vec<Drill>>;
}

const INCIDENT_COLUMNS: &str = "id, app, revision, opened_by, facts, decision, rung, operation, detected_at, \
     decided_at, mitigated_at, recovered_at, closed_at, note";

type RawIncident = (
    i64,
    String,
    Option<i64>,
    String,
    String,
    String,
    Option<String>,
    Option<i64>,
    String,
    [Option<String>; 4],
    Option<String>,
);

fn raw_incident(row: &Row<'_>) -> rusqlite::Result<RawIncident> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
        [row.get(9)?, row.get(10)?, row.get(11)?, row.get(12)?],
        row.get(13)?,
    ))
}

fn json(what: &'static str, text: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|_| StoreError::Corrupt { what, value: text.chars().take(200).collect() })
}

fn opt_ts(what: &'static str, s: &Option<String>) -> Result<Option<DateTime<Utc>>> {
    s.as_deref().map(|s| parse_ts(what, s)).transpose()
}

fn incident_from(raw: RawIncident) -> Result<Incident> {
    let (id, app, revision, opened_by, facts, decision, rung, operation, detected_at, times, note) = raw;
    let [decided_at, mitigated_at, recovered_at, closed_at] = &times;
    Ok(Incident {
        id: id as u64,
        app,
        revision: revision.map(|r| r as u64),
        opened_by,
        facts: json("incidents.facts", &facts)?,
        decision: json("incidents.decision", &decision)?,
        rung,
        operation: operation.map(|o| o as u64),
        detected_at: parse_ts("incidents.detected_at", &detected_at)?,
        decided_at: opt_ts("incidents.decided_at", decided_at)?,
        mitigated_at: opt_ts("incidents.mitigated_at", mitigated_at)?,
        recovered_at: opt_ts("incidents.recovered_at", recovered_at)?,
        closed_at: opt_ts("incidents.closed_at", closed_at)?,
        note,
    })
}

fn load_incident(conn: &rusqlite::Connection, id: u64) -> Result<Option<Incident>> {
    let raw = conn
        .query_row(&format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = ?1"), [id as i64], raw_incident)
        .optional()?;
    raw.map(incident_from).transpose()
}

type RawDrill = (i64, String, String, Option<i64>, Option<i64>, String, String, String, String, String, Option<String>);

fn drill_from(raw: RawDrill) -> Result<Drill> {
    let (id, app, rung, live, target, actor, started_at, ended_at, outcome, figures, error) = raw;
    let figures: Vec<(String, u64)> = serde_json::from_str(&figures)
        .map_err(|_| StoreError::Corrupt { what: "drills.figures", value: figures.chars().take(200).collect() })?;
    Ok(Drill {
        id: id as u64,
        app,
        rung,
        live_revision: live.map(|r| r as u64),
        target: target.map(|r| r as u64),
        actor,
        started_at: parse_ts("drills.started_at", &started_at)?,
        ended_at: parse_ts("drills.ended_at", &ended_at)?,
        outcome,
        figures,
        error,
    })
}

#[async_trait]
impl IncidentStore for SqliteStore {
    async fn open_incident(&self, new: NewIncident) -> Result<Incident> {
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        let now = ts(Utc::now());
        tx.execute(
            "INSERT INTO incidents (app, revision, opened_by, facts, decision, detected_at, decided_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                new.app.as_str(),
                new.revision.map(|r| r as i64),
                new.opened_by,
                new.facts.to_string(),
                new.decision.to_string(),
                ts(new.detected_at),
                new.decided_at.map(ts),
            ],
        )?;
        let id = tx.last_insert_rowid() as u64;
        let audit = NewAudit {
            actor: new.opened_by.clone(),
            action: "incident".into(),
            outcome: "opened".into(),
            detail: serde_json::json!({ "incident": id, "revision": new.revision }),
        };
        append_audit(&tx, Some(new.app.as_str()), audit, &now)?;
        let incident = load_incident(&tx, id)?.ok_or(StoreError::UnknownIncident { id })?;
        tx.commit()?;
        Ok(incident)
    }

    async fn update_incident(&self, id: u64, update: IncidentUpdate) -> Result<Incident> {
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        let before = load_incident(&tx, id)?.ok_or(StoreError::UnknownIncident { id })?;
        let now = ts(Utc::now());
        let (actor, outcome, detail) = match &update {
            IncidentUpdate::Mitigated { rung, operation, at } => {
                if before.mitigated_at.is_some() {
                    return Ok(before);
                }
                tx.execute(
                    "UPDATE incidents SET rung = ?2, operation = ?3, mitigated_at = ?4, \
                     decided_at = COALESCE(decided_at, ?4) WHERE id = ?1",
                    params![id as i64, rung, operation.map(|o| o as i64), ts(*at)],
                )?;
                (
                    "backstop".to_owned(),
                    "mitigated",
                    serde_json::json!({ "incident": id, "rung": rung, "operation": operation }),
                )
            }
            IncidentUpdate::Decided { rung, at } => {
                if before.rung.is_some() {
                    return Ok(before);
                }
                tx.execute(
                    "UPDATE incidents SET rung = ?2, decided_at = COALESCE(decided_at, ?3) WHERE id = ?1",
                    params![id as i64, rung, ts(*at)],
                )?;
                ("backstop".to_owned(), "decided", serde_json::json!({ "incident": id, "rung": rung }))
            }
            IncidentUpdate::Recovered { at } => {
                if before.recovered_at.is_some() {
                    return Ok(before);
                }
                tx.execute("UPDATE incidents SET recovered_at = ?2 WHERE id = ?1", params![id as i64, ts(*at)])?;
                ("backstop".to_owned(), "recovered", serde_json::json!({ "incident": id }))
            }
            IncidentUpdate::Closed { actor, note, at } => {
                if before.closed_at.is_some() {
                    return Ok(before);
                }
                tx.execute(
                    "UPDATE incidents SET closed_at = ?2, note = ?3 WHERE id = ?1",
                    params![id as i64, ts(*at), note],
                )?;
                (actor.clone(), "closed", serde_json::json!({ "incident": id, "note": note }))
            }
        };
        let audit = NewAudit { actor, action: "incident".into(), outcome: outcome.into(), detail };
        append_audit(&tx, Some(&before.app), audit, &now)?;
        let after = load_incident(&tx, id)?.ok_or(StoreError::UnknownIncident { id })?;
        tx.commit()?;
        Ok(after)
    }

    async fn incident(&self, id: u64) -> Result<Option<Incident>> {
        load_incident(&self.lock(), id)
    }

    async fn incidents(&self, app: Option<&AppName>, limit: usize) -> Result<Vec<Incident>> {
        let conn = self.lock();
        let mut stmt = conn.prepare(&format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE ?1 IS NULL OR app = ?1 ORDER BY id DESC LIMIT ?2"
        ))?;
        let raws = stmt
            .query_map(params![app.map(AppName::as_str), limit as i64], raw_incident)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        raws.into_iter().map(incident_from).collect()
    }

    async fn record_drill(&self, new: NewDrill) -> Result<Drill> {
        let mut conn = self.lock();
        let tx = write_tx(&mut conn)?;
        let now = ts(Utc::now());
        let outcome = if new.succeeded { "succeeded" } else { "failed" };
        let figures = serde_json::to_string(&new.figures).unwrap_or_else(|_| "[]".into());
        tx.execute(
            "INSERT INTO drills (app, rung, live_revision, target, actor, started_at, ended_at, outcome, figures, error) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                new.app.as_str(),
                new.rung,
                new.live_revision.map(|r| r as i64),
                new.target.map(|r| r as i64),
                new.actor,
                ts(new.started_at),
                ts(new.ended_at),
                outcome,
                figures,
                new.error,
            ],
        )?;
        let id = tx.last_insert_rowid() as u64;
        let audit = NewAudit {
            actor: new.actor.clone(),
            action: "drill".into(),
            outcome: outcome.into(),
            detail: serde_json::json!({ "drill": id, "rung": new.rung, "target": new.target }),
        };
        append_audit(&tx, Some(new.app.as_str()), audit, &now)?;
        let drill = select_drills(&tx, "WHERE id = ?1", params![id as i64])?.pop();
        tx.commit()?;
        drill.ok_or(StoreError::Corrupt { what: "drills", value: id.to_string() })
    }

    async fn drills(&self, app: Option<&AppName>, limit: usize) -> Result<Vec<Drill>> {
        let conn = self.lock();
        select_drills(
            &conn,
            "WHERE ?1 IS NULL OR app = ?1 ORDER BY id DESC LIMIT ?2",
            params![app.map(AppName::as_str), limit as i64],
        )
    }
}

fn select_drills(conn: &rusqlite::Connection, filter: &str, args: impl rusqlite::Params) -> Result<Vec<Drill>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT id, app, rung, live_revision, target, actor, started_at, ended_at, outcome, figures, error \
         FROM drills {filter}"
    ))?;
    let raws = stmt
        .query_map(args, |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
                r.get(9)?,
                r.get(10)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<RawDrill>>>()?;
    raws.into_iter().map(drill_from).collect()
}
