//! The compatibility gate: a release's contracts (API description, message schemas) read with
//! `backstop-compat`, checked against every revision of the rollback window before anything is
//! recorded, and recorded with the revision; an undo checked against the live revision's
//! contracts; `compat` answering the same question without releasing.

use backstop_compat::{Contracts, Gate, MessageDocument, RevisionContracts};
use backstop_core::AppName;
use backstop_core::rollback::compat_window;
use backstop_store::{Change, NewAudit, Operation};
use serde::Deserialize;
use serde_json::json;

pub use backstop_compat::{Allowance, CompatError, Direction, Finding, RULES, Role, Severity};

use crate::engine::Engine;
use crate::error::OpError;

/// A contract document as shipped: its file name and text.
#[derive(Debug, Clone, Deserialize)]
pub struct ShippedDocument {
    pub name: String,
    pub text: String,
}

/// A message schema as shipped: whether the revision writes or reads it, its name, its text.
#[derive(Debug, Clone, Deserialize)]
pub struct ShippedMessage {
    pub role: Role,
    pub name: String,
    pub text: String,
}

/// What a release (or a `compat` question) ships as its contracts, and the breaking rules the
/// release is allowed to break with the reason why.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ShippedContracts {
    #[serde(default)]
    pub api: Option<ShippedDocument>,
    #[serde(default)]
    pub messages: Vec<ShippedMessage>,
    #[serde(default)]
    pub allow_breaking: Vec<Allowance>,
}

impl ShippedContracts {
    pub fn is_empty(&self) -> bool {
        self.api.is_none() && self.messages.is_empty()
    }

    fn parse(&self) -> Result<Contracts, OpError> {
        let messages: Vec<MessageDocument<'_>> =
            self.messages.iter().map(|m| MessageDocument { role: m.role, name: &m.name, text: &m.text }).collect();
        Contracts::parse(self.api.as_ref().map(|d| (d.name.as_str(), d.text.as_str())), &messages)
            .map_err(|source| OpError::BadContracts { source })
    }
}

/// A release's contracts, read and checked against the window.
#[derive(Debug)]
pub(crate) struct Checked {
    contracts: Contracts,
    against: Vec<u64>,
    findings: Vec<Finding>,
    gate: Gate,
}

/// What `compat` found: the candidate (numbered as the next revision when it comes from files,
/// otherwise the live one) against the revisions it was compared with.
#[derive(Debug, Clone)]
pub struct CompatReport {
    pub app: String,
    pub revision: u64,
    pub against: Vec<u64>,
    pub findings: Vec<Finding>,
}

/// `compat`: check shipped contracts (or, with none, the live revision's) against one revision
/// or the whole rollback window.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CompatRequest {
    #[serde(default)]
    pub against: Option<u64>,
    #[serde(flatten)]
    pub contracts: ShippedContracts,
}

impl Engine {
    /// The stored contracts of a revision (`None`: it shipped none).
    async fn contracts_of(&self, app: &AppName, revision: u64) -> Result<Option<Contracts>, OpError> {
        match self.store.revision_contracts(app, revision).await? {
            None => Ok(None),
            Some(v) => serde_json::from_value(v).map(Some).map_err(|e| OpError::CorruptState {
                message: format!("the contracts recorded for revision {revision} of `{app}` do not read: {e}"),
            }),
        }
    }

    /// The stored contracts of `revisions` that have some.
    async fn stored(&self, app: &AppName, revisions: &[u64]) -> Result<Vec<(u64, Contracts)>, OpError> {
        let mut out = Vec::new();
        for &r in revisions {
            if let Some(c) = self.contracts_of(app, r).await? {
                out.push((r, c));
            }
        }
        Ok(out)
    }

    /// Read a release's contracts and check them against the rollback window; refuse, before
    /// anything is recorded, a breaking finding no `--allow-breaking` covers.
    pub(crate) async fn check_contracts(
        &self,
        app: &AppName,
        shipped: &ShippedContracts,
    ) -> Result<Option<Checked>, OpError> {
        if let Some(problem) = shipped.allow_breaking.iter().find_map(Allowance::problem) {
            return Err(OpError::BadRequest { message: problem });
        }
        if shipped.is_empty() {
            if let Some(a) = shipped.allow_breaking.first() {
                return Err(OpError::BadRequest {
                    message: format!("--allow-breaking {} without contracts to check (--api, --messages)", a.rule),
                });
            }
            return Ok(None);
        }
        let contracts = shipped.parse()?;
        let revisions = self.store.revisions(app).await?;
        let live = self.store.app(app).await?.live_revision;
        let next = revisions.iter().map(|r| r.revision).max().unwrap_or(0) + 1;
        let window = self.stored(app, &compat_window(&revisions, live)).await?;
        let findings = findings_against(next, &contracts, &window);
        let gate = backstop_compat::gate(&findings, &shipped.allow_breaking);
        if let Gate::Refused { breaking } = gate {
            return Err(OpError::BreakingChange { app: app.to_string(), findings: breaking });
        }
        Ok(Some(Checked { contracts, against: window.iter().map(|(r, _)| *r).collect(), findings, gate }))
    }

    /// `compat`: the findings of shipped contracts (or the live revision's) against `against` or
    /// the rollback window, without releasing.
    pub async fn compat(&self, app_name: &str, req: CompatRequest) -> Result<CompatReport, OpError> {
        let (app, _) = self.app(app_name)?;
        let revisions = self.store.revisions(&app).await?;
        let live = self.store.app(&app).await?.live_revision;
        let (revision, contracts) = if req.contracts.is_empty() {
            let Some(live) = live else {
                return Err(OpError::BadRequest {
                    message: format!("`{app}` has no live revision to check; pass --api or --messages"),
                });
            };
            (live, self.contracts_of(&app, live).await?.unwrap_or_default())
        } else {
            (revisions.iter().map(|r| r.revision).max().unwrap_or(0) + 1, req.contracts.parse()?)
        };
        let against: Vec<u64> = match req.against {
            Some(n) => {
                self.store.revision(&app, n).await?;
                vec![n]
            }
            None => compat_window(&revisions, live),
        };
        let window = self.stored(&app, &against).await?;
        let findings = findings_against(revision, &contracts, &window);
        Ok(CompatReport { app: app.to_string(), revision, against: window.iter().map(|(r, _)| *r).collect(), findings })
    }

    /// What an undo from `live` to `target` would break for the live revision's clients and
    /// messages (empty when either shipped no contracts).
    pub(crate) async fn rollback_compat(
        &self,
        app: &AppName,
        live: Option<u64>,
        target: u64,
    ) -> Result<Vec<Finding>, OpError> {
        let Some(live) = live else { return Ok(Vec::new()) };
        let (Some(now), Some(then)) = (self.contracts_of(app, live).await?, self.contracts_of(app, target).await?)
        else {
            return Ok(Vec::new());
        };
        let findings = if target < live {
            backstop_compat::rollback_findings(
                RevisionContracts { revision: live, contracts: &now },
                RevisionContracts { revision: target, contracts: &then },
            )
        } else {
            // Forward again (`--to-revision` past the live one): the newer one's server meets the
            // live revision's clients.
            backstop_compat::compare(
                RevisionContracts { revision: live, contracts: &now },
                RevisionContracts { revision: target, contracts: &then },
            )
            .into_iter()
            .filter(|f| !f.direction.after_rollback())
            .collect()
        };
        Ok(findings.into_iter().filter(Finding::is_breaking).collect())
    }
}

fn findings_against(revision: u64, contracts: &Contracts, window: &[(u64, Contracts)]) -> Vec<Finding> {
    let window: Vec<RevisionContracts<'_>> = window
        .iter()
        .filter(|(r, _)| *r != revision)
        .map(|(r, c)| RevisionContracts { revision: *r, contracts: c })
        .collect();
    backstop_compat::window_findings(RevisionContracts { revision, contracts }, &window)
}

/// The contracts, journal steps and audit entries a checked release records with its revision.
pub(crate) fn recorded(op: &Operation, revision: u64, checked: &Checked, actor: &str) -> Vec<Change> {
    let mut changes =
        vec![Change::Contracts { revision, contracts: serde_json::to_value(&checked.contracts).unwrap_or_default() }];
    let breaking = checked.findings.iter().filter(|f| f.is_breaking()).count();
    let warnings = checked.findings.len() - breaking;
    let against = if checked.against.is_empty() {
        "no revision in the rollback window shipped contracts".to_owned()
    } else {
        let list: Vec<String> = checked.against.iter().map(u64::to_string).collect();
        format!("against revisions {}: {breaking} breaking, {warnings} warnings", list.join(", "))
    };
    changes.push(Change::Step { operation: op.id, step: "compat-checked".into(), detail: Some(against) });
    if let Gate::Allowed { used } = &checked.gate {
        for (allowance, findings) in used {
            changes.push(Change::Step {
                operation: op.id,
                step: "breaking-allowed".into(),
                detail: Some(format!("{} ({} findings): {}", allowance.rule, findings.len(), allowance.reason)),
            });
            changes.push(Change::Audit(NewAudit {
                actor: actor.into(),
                action: "release.allow-breaking".into(),
                outcome: "recorded".into(),
                detail: json!({
                    "operation": op.id, "revision": revision, "rule": allowance.rule,
                    "reason": allowance.reason, "findings": findings,
                }),
            }));
        }
    }
    changes
}

/// `api.path-removed at openapi/paths/~1users (against revision 3, old-client-to-new-server)`, for
/// at most the first `limit` findings.
pub fn summary(findings: &[Finding], limit: usize) -> String {
    let mut parts: Vec<String> = findings
        .iter()
        .take(limit)
        .map(|f| {
            format!(
                "{} at {}{} (revision {} vs {}, {}): {}",
                f.rule,
                f.document,
                f.path,
                f.old_revision,
                f.new_revision,
                f.direction.as_str(),
                f.message
            )
        })
        .collect();
    if findings.len() > limit {
        parts.push(format!("and {} more", findings.len() - limit));
    }
    parts.join("; ")
}
