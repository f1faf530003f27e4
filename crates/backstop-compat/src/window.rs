//! Pairs of revisions, the rollback window, and the release gate's verdict.

use serde::{Deserialize, Serialize};

use crate::api::compare_api;
use crate::finding::{Direction, Finding, rule_by_id};
use crate::messages::compare_messages;
use crate::parse::Contracts;

/// One revision's number and contracts.
#[derive(Debug, Clone, Copy)]
pub struct RevisionContracts<'a> {
    pub revision: u64,
    pub contracts: &'a Contracts,
}

/// Every finding between an older and a newer revision, in the four directions. A side that
/// ships no API description (or no schema for a message) has nothing to compare there.
pub fn compare(old: RevisionContracts<'_>, new: RevisionContracts<'_>) -> Vec<Finding> {
    let mut raw = Vec::new();
    if let (Some(o), Some(n)) = (&old.contracts.api, &new.contracts.api) {
        raw.extend(compare_api(o, n, Direction::OldClientToNewServer));
        raw.extend(compare_api(n, o, Direction::NewClientToOldServer));
    }
    raw.extend(compare_messages(old.contracts, new.contracts));
    raw.into_iter().map(|r| r.with_revisions(old.revision, new.revision)).collect()
}

/// The new revision checked against every revision still inside the rollback window (each may
/// serve beside it during a switch, or again after an undo), oldest first.
pub fn window_findings(new: RevisionContracts<'_>, window: &[RevisionContracts<'_>]) -> Vec<Finding> {
    let mut sorted: Vec<_> = window.iter().filter(|w| w.revision != new.revision).collect();
    sorted.sort_by_key(|w| w.revision);
    sorted.into_iter().flat_map(|old| compare(*old, new)).collect()
}

/// What an undo from `live` back to `target` would break: the live revision's clients calling
/// the target's server, and the target's consumers reading what the live revision produced.
pub fn rollback_findings(live: RevisionContracts<'_>, target: RevisionContracts<'_>) -> Vec<Finding> {
    compare(target, live).into_iter().filter(|f| f.direction.after_rollback()).collect()
}

/// `--allow-breaking RULE REASON`: findings of this rule do not refuse the release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allowance {
    pub rule: String,
    pub reason: String,
}

impl Allowance {
    /// Why this allowance cannot be taken, if it cannot: an unknown rule or an empty reason.
    pub fn problem(&self) -> Option<String> {
        if rule_by_id(&self.rule).is_none() {
            return Some(format!("--allow-breaking names unknown rule `{}`", self.rule));
        }
        if self.reason.trim().is_empty() {
            return Some(format!("--allow-breaking {} needs a reason", self.rule));
        }
        None
    }
}

/// The release gate's verdict on a window's findings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// No breaking finding.
    Clear,
    /// Breaking findings no allowance covers.
    Refused { breaking: Vec<Finding> },
    /// Breaking findings, each of a rule allowed: the allowances that let them through, with the
    /// findings each covered.
    Allowed { used: Vec<(Allowance, Vec<Finding>)> },
}

pub fn gate(findings: &[Finding], allowances: &[Allowance]) -> Gate {
    let breaking: Vec<&Finding> = findings.iter().filter(|f| f.is_breaking()).collect();
    let refused: Vec<Finding> =
        breaking.iter().filter(|f| !allowances.iter().any(|a| a.rule == f.rule)).map(|f| (*f).clone()).collect();
    if !refused.is_empty() {
        return Gate::Refused { breaking: refused };
    }
    if breaking.is_empty() {
        return Gate::Clear;
    }
    let mut used = Vec::new();
    for a in allowances {
        let covered: Vec<Finding> = breaking.iter().filter(|f| f.rule == a.rule).map(|f| (*f).clone()).collect();
        if !covered.is_empty() && !used.iter().any(|(u, _): &(Allowance, _)| u.rule == a.rule) {
            used.push((a.clone(), covered));
        }
    }
    Gate::Allowed { used }
}
