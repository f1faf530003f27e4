//! `backstop incident`, `backstop report` and `backstop drill`: the recovery ladder from facts,
//! delivery figures from the ledger, and rollback practice.

use backstop_api::{DeliveryReport, Drill, DrillOutcome, DrillRequest, Incident, IncidentAssessment, Rung};
use clap::{Args, Subcommand, ValueEnum};

use crate::client::{Answer, Client};
use crate::exit::{CliError, CliResult};
use crate::output::out;
use crate::output::{Listing, Row};
use crate::{Global, Output};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct IncidentArgs {
    #[command(subcommand)]
    pub command: Option<IncidentCommand>,
    /// The app in trouble: prints every rung of the recovery ladder and the one to take.
    #[arg(required = true)]
    pub app: Option<String>,
    /// Take the first rung that is available and safe, and record an incident.
    #[arg(long)]
    pub execute: bool,
}

#[derive(Debug, Subcommand)]
pub enum IncidentCommand {
    /// Incidents, newest first.
    List {
        #[arg(long)]
        app: Option<String>,
    },
    /// One incident with its timeline.
    Show { id: u64 },
    /// Close an incident with a note.
    Close {
        id: u64,
        #[arg(long)]
        note: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DrillRung {
    TrafficSwap,
    Redeploy,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct DrillArgs {
    #[command(subcommand)]
    pub command: Option<DrillCommand>,
    #[arg(required = true)]
    pub app: Option<String>,
    /// The rung to practise.
    #[arg(long, value_enum, default_value_t = DrillRung::TrafficSwap)]
    pub rung: DrillRung,
    /// Only report whether a rollback is ready; move nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Subcommand)]
pub enum DrillCommand {
    /// Drills, newest first.
    List {
        #[arg(long)]
        app: Option<String>,
    },
}

fn client(g: &Global) -> CliResult<Client> {
    Client::new(&g.server, g.token.clone())
}

fn print<T: serde::Serialize>(g: &Global, answer: &Answer<T>, text: impl FnOnce(&T) -> String) {
    match g.output {
        Output::Json | Output::Sarif => out!("{}", answer.json()),
        Output::Table => out!("{}", text(&answer.value)),
    }
}

pub async fn incident(g: &Global, args: IncidentArgs) -> CliResult {
    let c = client(g)?;
    match (args.command, args.app) {
        (Some(IncidentCommand::List { app }), _) => {
            let path = match &app {
                Some(app) => format!("/v1/incidents?app={app}"),
                None => "/v1/incidents".to_owned(),
            };
            let all: Answer<Vec<Incident>> = c.get(&path).await?;
            print_list(g, &all, "no incidents", list_listing);
            Ok(())
        }
        (Some(IncidentCommand::Show { id }), _) => {
            let one: Answer<Incident> = c.get(&format!("/v1/incidents/{id}")).await?;
            print(g, &one, timeline_text);
            Ok(())
        }
        (Some(IncidentCommand::Close { id, note }), _) => {
            let closed: Answer<Incident> =
                c.post(&format!("/v1/incidents/{id}/close"), &backstop_api::CloseRequest { note }).await?;
            print(g, &closed, timeline_text);
            Ok(())
        }
        (None, Some(app)) if args.execute => {
            let a: Answer<IncidentAssessment> = c.post_empty(&format!("/v1/apps/{app}/incidents")).await?;
            print(g, &a, |v| {
                let mut out = v.text.clone();
                match (&v.taken, &v.record) {
                    (Some(rung), Some(record)) => {
                        out += &format!("took: {} (incident {})\n", rung.as_str(), record.id);
                        out += &timeline_text(record);
                    }
                    (None, Some(record)) => {
                        out += &format!("incident {} recorded; nothing was moved\n", record.id);
                    }
                    _ => {}
                }
                out.trim_end().to_owned()
            });
            if a.value.taken.is_none() {
                return Err(CliError::failed(
                    format!("only rolling forward is left for `{app}`: no rung back is available and safe"),
                    format!("start the fix from what runs in production: {}", a.value.command),
                ));
            }
            Ok(())
        }
        (None, Some(app)) => {
            let a: Answer<IncidentAssessment> = c.get(&format!("/v1/apps/{app}/incident")).await?;
            print(g, &a, |v| format!("{}to take it: backstop incident {app} --execute", v.text));
            Ok(())
        }
        (None, None) => Err(CliError::bad_input("name an app", "`backstop incident APP`, or `backstop incident list`")),
    }
}

fn at(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map_or_else(|| "-".to_owned(), |t| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string())
}

/// `incident list`; `-o wide` adds who opened each, its operation and when it was mitigated.
fn list_listing(v: &[Incident]) -> Listing<'static> {
    let rows = v
        .iter()
        .map(|i| Row {
            name: format!("incident/{}", i.id),
            cells: vec![
                i.id.to_string(),
                i.app.clone(),
                i.revision.map_or("-".into(), |r| r.to_string()),
                i.rung.clone().unwrap_or_else(|| "-".into()),
                at(Some(i.detected_at)),
                i.recovery_ms.map_or_else(|| "-".into(), |ms| format!("{ms} ms")),
                if i.closed_at.is_some() { "closed".into() } else { "open".into() },
                i.opened_by.clone(),
                i.operation.map_or("-".into(), |o| o.to_string()),
                at(i.mitigated_at),
            ],
        })
        .collect();
    Listing {
        header: &["ID", "APP", "REVISION", "RUNG", "DETECTED", "RECOVERY", "STATE"],
        wide: &["OPENED-BY", "OPERATION", "MITIGATED"],
        rows,
    }
}

/// A listing's answer: the data under `-o json|yaml`, else the listing, or `empty` in words
/// when there is nothing to list and a person reads it.
fn print_list<T: serde::Serialize>(
    g: &Global,
    answer: &Answer<Vec<T>>,
    empty: &str,
    listing: impl FnOnce(&[T]) -> Listing<'static>,
) {
    match g.output {
        Output::Json | Output::Sarif => out!("{}", answer.json()),
        Output::Table if answer.value.is_empty() && g.format == crate::Format::Table && !g.no_headers => {
            out!("{empty}")
        }
        Output::Table => crate::output::print_listing(listing(&answer.value)),
    }
}

pub(crate) fn timeline_text(i: &Incident) -> String {
    let mut out = format!(
        "incident {} of {} (revision {}), opened by {}\n",
        i.id,
        i.app,
        i.revision.map_or("-".into(), |r| r.to_string()),
        i.opened_by
    );
    out += &format!("  detected   {}\n", at(Some(i.detected_at)));
    out += &format!("  decided    {}\n", at(i.decided_at));
    out += &format!(
        "  mitigated  {}{}\n",
        at(i.mitigated_at),
        i.rung.as_ref().map_or(String::new(), |r| format!("  ({r})"))
    );
    out += &format!("  recovered  {}\n", at(i.recovered_at));
    if let Some(ms) = i.recovery_ms {
        out += &format!("  time to recover: {ms} ms\n");
    }
    if let Some(closed) = i.closed_at {
        out += &format!("  closed     {}  {}\n", at(Some(closed)), i.note.clone().unwrap_or_default());
    }
    out
}

pub async fn report(g: &Global, app: Option<String>, since: String) -> CliResult {
    let mut path = format!("/v1/report?since={since}");
    if let Some(app) = &app {
        path += &format!("&app={app}");
    }
    let r: Answer<DeliveryReport> = client(g)?.get(&path).await?;
    print(g, &r, |r| {
        let pct = |x: Option<f64>| x.map_or_else(|| "-".into(), |x| format!("{:.1}%", x * 100.0));
        let ms = |x: Option<u64>| x.map_or_else(|| "-".into(), |x| format!("{:.1} s", x as f64 / 1000.0));
        format!(
            "{} since {}\nreleases:              {} ({:.2} a day)\nchange failure rate:   {}\nrecovery time median:  {}\nrecovery time p90:     {}\nopen incidents:        {}",
            r.app.as_deref().unwrap_or("all apps"),
            r.since.format("%Y-%m-%d %H:%M"),
            r.releases,
            r.per_day,
            pct(r.change_failure_rate),
            ms(r.recovery_median_ms),
            ms(r.recovery_p90_ms),
            r.open_incidents
        )
    });
    Ok(())
}

pub async fn drill(g: &Global, args: DrillArgs) -> CliResult {
    let c = client(g)?;
    if let Some(DrillCommand::List { app }) = args.command {
        let path = match &app {
            Some(app) => format!("/v1/drills?app={app}"),
            None => "/v1/drills".to_owned(),
        };
        let all: Answer<Vec<Drill>> = c.get(&path).await?;
        print_list(g, &all, "no drills", drills_listing);
        return Ok(());
    }
    let Some(app) = args.app else {
        return Err(CliError::bad_input("name an app", "`backstop drill APP [--dry-run]`, or `backstop drill list`"));
    };
    let rung = match args.rung {
        DrillRung::TrafficSwap => Rung::TrafficSwap,
        DrillRung::Redeploy => Rung::Redeploy,
    };
    let req = DrillRequest { rung: Some(rung), dry_run: args.dry_run };
    let out: Answer<DrillOutcome> = c.post(&format!("/v1/apps/{app}/drills"), &req).await?;
    print(g, &out, |v| {
        let mut text =
            format!("{}: rollback {}\n", v.readiness.app, if v.readiness.ready { "ready" } else { "NOT ready" });
        for check in &v.readiness.checks {
            text += &format!("{} {}: {}\n", if check.ok { "✓" } else { "✗" }, check.check, check.detail);
        }
        if let Some(d) = &v.drill {
            text += &format!("drill {} ({}): {}\n", d.id, d.rung, d.outcome);
            for p in &d.figures {
                text += &format!("  {:<12} {} ms\n", p.phase, p.ms);
            }
            if let Some(e) = &d.error {
                text += &format!("  error: {e}\n");
            }
        }
        text.trim_end().to_owned()
    });
    let drill_failed = out.value.drill.as_ref().is_some_and(|d| d.outcome != "succeeded");
    if drill_failed || (args.dry_run && !out.value.readiness.ready) {
        return Err(CliError::failed(
            format!("the rollback of `{app}` is not ready"),
            "fix what the ✗ lines name, then drill again",
        ));
    }
    Ok(())
}

/// `drill list`.
fn drills_listing(v: &[Drill]) -> Listing<'static> {
    let rows = v
        .iter()
        .map(|d| {
            let total: u64 = d.figures.iter().map(|p| p.ms).sum();
            Row {
                name: format!("drill/{}", d.id),
                cells: vec![
                    d.id.to_string(),
                    d.app.clone(),
                    d.rung.clone(),
                    format!(
                        "{} → {}",
                        d.live_revision.map_or("-".into(), |r| r.to_string()),
                        d.target.map_or("-".into(), |r| r.to_string())
                    ),
                    d.outcome.clone(),
                    format!("{total} ms"),
                    at(Some(d.started_at)),
                ],
            }
        })
        .collect();
    Listing { header: &["ID", "APP", "RUNG", "LIVE → TARGET", "OUTCOME", "TOTAL", "STARTED"], wide: &[], rows }
}
