//! The coupling gate of a release: which of its pending migrations run before the deploy (expand
//! stage), which wait until after the soak (contract stage), and what refuses the release outright.
//!
//! Pure: the caller analyses each pending migration (in run order, already-applied ones left out) and
//! passes the reports here.
//!
//! - The expand stage is the leading run of pending migrations without a contract statement. The first
//!   migration holding a contract statement, and everything after it, waits for the contract stage:
//!   migrations are applied in order and each one as a whole.
//! - Refused: an error finding in the expand stage (it runs while the previous code still serves);
//!   a rename or a NOT NULL column without default anywhere (the new code needs it before the deploy,
//!   the previous code breaks on it while it still serves, so no stage is right); a contract-stage migration that also adds
//!   objects (its additions would arrive only after the code that needs them); a migration without
//!   contract statements ordered after a contract one (it would be held back with it); and any error
//!   finding in the contract stage that is not about a contract statement itself (those are what the
//!   rollback-window check of the contract stage decides).

use serde::Serialize;

use crate::{Finding, Phase, Report, Severity, Statement};

/// Where a pending migration runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Before the new code starts: only expand and backfill statements.
    Expand,
    /// After the release's soak, once no revision in the rollback window would break.
    Contract,
}

/// One pending migration, analysed.
#[derive(Debug, Clone, Copy)]
pub struct Pending<'a> {
    pub version: &'a str,
    pub file: &'a str,
    pub report: &'a Report,
}

/// The stage of one pending migration and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Placed {
    pub version: String,
    pub file: String,
    pub stage: Stage,
    pub reason: String,
}

/// Why a release is refused: a place in a migration file and what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub file: String,
    pub line: u32,
    /// A lint rule id, or one of the gate's own: `rename-in-release`, `mixed-expand-and-contract`,
    /// `expand-after-contract`.
    pub rule: String,
    pub message: String,
    pub help: String,
}

/// The gate's answer for a release's pending migrations.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct StagePlan {
    pub migrations: Vec<Placed>,
    pub refusals: Vec<Refusal>,
}

impl StagePlan {
    pub fn versions(&self, stage: Stage) -> impl Iterator<Item = &str> {
        self.migrations.iter().filter(move |m| m.stage == stage).map(|m| m.version.as_str())
    }

    pub fn refused(&self) -> bool {
        !self.refusals.is_empty()
    }
}

/// Session statements that do nothing to the schema (`SET lock_timeout`, `BEGIN`, ...).
fn neutral(statement: &Statement) -> bool {
    matches!(statement.kind.as_str(), "set" | "reset" | "begin" | "commit" | "select")
}

/// Findings that no stage makes safe: what the new code needs before it starts also breaks the
/// previous code while it still serves.
fn unstageable(finding: &Finding) -> Option<Refusal> {
    use crate::rules::{NOT_NULL_WITHOUT_DEFAULT, RENAMING_COLUMN, RENAMING_TABLE};
    let (rule, why, help) = if [RENAMING_COLUMN.id, RENAMING_TABLE.id].contains(&finding.rule) {
        (
            "rename-in-release",
            "the new code needs the new name before it starts, the previous code needs the old name until it is gone",
            "do it over three releases: add the new name (and copy the data), ship code that uses it, drop the old name in a later release",
        )
    } else if finding.rule == NOT_NULL_WITHOUT_DEFAULT.id {
        (
            NOT_NULL_WITHOUT_DEFAULT.id,
            "run before the deploy it breaks the previous code's inserts, run after it the new code would start without the column",
            "add the column nullable or with a default, backfill it, and make it NOT NULL in a later release",
        )
    } else {
        return None;
    };
    Some(Refusal {
        file: finding.file.clone(),
        line: finding.line,
        rule: rule.into(),
        message: format!("{}: {why}", finding.message),
        help: help.into(),
    })
}

/// The statement a finding is about: the one whose span holds the finding's start.
fn statement_of<'r>(report: &'r Report, finding: &Finding) -> Option<&'r Statement> {
    report.statements.iter().find(|s| s.span.contains(&finding.span.start) || s.span.start == finding.span.start)
}

fn from_finding(finding: &Finding, why: &str) -> Refusal {
    Refusal {
        file: finding.file.clone(),
        line: finding.line,
        rule: finding.rule.to_owned(),
        message: format!("{}{why}", finding.message),
        help: finding.help.clone(),
    }
}

/// Places each pending migration in a stage and lists what refuses the release.
pub fn plan_stages(pending: &[Pending<'_>]) -> StagePlan {
    let mut plan = StagePlan::default();
    let mut first_contract: Option<&Pending<'_>> = None;
    for migration in pending {
        let report = migration.report;
        let has_contract = report.statements.iter().any(|s| s.phase == Phase::Contract);
        let stage = if has_contract || first_contract.is_some() { Stage::Contract } else { Stage::Expand };
        let reason = match (stage, first_contract) {
            (Stage::Expand, _) => "expand and backfill only: runs before the new code starts".to_owned(),
            (Stage::Contract, None) => {
                let s = report.statements.iter().find(|s| s.phase == Phase::Contract);
                let what = s.map(|s| format!("{} (line {})", s.kind, s.line)).unwrap_or_default();
                format!(
                    "contract statement {what}: runs after the soak, once no revision in the rollback window needs what it removes"
                )
            }
            (Stage::Contract, Some(first)) => {
                format!("ordered after contract migration {}: migrations run in order", first.file)
            }
        };

        for finding in report.findings.iter().filter(|f| f.severity == Severity::Error) {
            if let Some(refusal) = unstageable(finding) {
                plan.refusals.push(refusal);
                continue;
            }
            match stage {
                Stage::Expand => {
                    plan.refusals.push(from_finding(finding, ", and it would run while the previous code still serves"))
                }
                Stage::Contract => {
                    let about_contract = statement_of(report, finding).is_some_and(|s| s.phase == Phase::Contract);
                    if !about_contract {
                        plan.refusals.push(from_finding(finding, ""));
                    }
                }
            }
        }

        if stage == Stage::Contract {
            if has_contract {
                let adds = report.statements.iter().find(|s| s.phase == Phase::Expand && !neutral(s));
                let contract = report.statements.iter().find(|s| s.phase == Phase::Contract);
                if let (Some(adds), Some(contract)) = (adds, contract) {
                    plan.refusals.push(Refusal {
                        file: migration.file.to_owned(),
                        line: adds.line,
                        rule: "mixed-expand-and-contract".into(),
                        message: format!(
                            "{} (line {}) would wait with {} (line {}) until after the soak, but the new code needs it before it starts",
                            adds.kind, adds.line, contract.kind, contract.line
                        ),
                        help: "split the file: the additions in one migration, the removals in a later one".into(),
                    });
                }
            } else if let Some(first) = first_contract {
                let line = report.statements.first().map_or(1, |s| s.line);
                plan.refusals.push(Refusal {
                    file: migration.file.to_owned(),
                    line,
                    rule: "expand-after-contract".into(),
                    message: format!(
                        "this migration has no contract statement but comes after contract migration {}, so it would be held back until after the soak",
                        first.file
                    ),
                    help: "number it before the contract migration, or run `backstop migrate contract` for the pending contract first".into(),
                });
            }
            if first_contract.is_none() {
                first_contract = Some(migration);
            }
        }
        plan.migrations.push(Placed {
            version: migration.version.to_owned(),
            file: migration.file.to_owned(),
            stage,
            reason,
        });
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Dialect, analyze};

    fn plan_of(files: &[(&str, &str)]) -> StagePlan {
        let reports: Vec<(String, String, Report)> = files
            .iter()
            .map(|(name, sql)| {
                let version = name.split('_').next().unwrap().to_owned();
                (version, (*name).to_owned(), analyze(name, sql, Dialect::Postgres).unwrap())
            })
            .collect();
        let pending: Vec<Pending<'_>> =
            reports.iter().map(|(v, f, r)| Pending { version: v, file: f, report: r }).collect();
        plan_stages(&pending)
    }

    fn stages(plan: &StagePlan) -> Vec<(&str, Stage)> {
        plan.migrations.iter().map(|m| (m.version.as_str(), m.stage)).collect()
    }

    fn rules(plan: &StagePlan) -> Vec<(&str, u32, &str)> {
        plan.refusals.iter().map(|r| (r.file.as_str(), r.line, r.rule.as_str())).collect()
    }

    const LOCK: &str = "SET lock_timeout = '2s';\n";

    #[test]
    fn stages_and_refusals() {
        use Stage::{Contract, Expand};
        struct Case {
            name: &'static str,
            files: Vec<(&'static str, String)>,
            stages: Vec<(&'static str, Stage)>,
            refusals: Vec<(&'static str, u32, &'static str)>,
        }
        let cases = [
            Case {
                name: "add a nullable column and backfill it: expand before the deploy",
                files: vec![
                    ("0002_add_name.sql", format!("{LOCK}ALTER TABLE users ADD COLUMN IF NOT EXISTS name text;")),
                    ("0003_copy.sql", "UPDATE users SET name = full_name WHERE name IS NULL;".into()),
                ],
                stages: vec![("0002", Expand), ("0003", Expand)],
                refusals: vec![],
            },
            Case {
                name: "a drop waits for the contract stage and is not refused",
                files: vec![("0004_drop.sql", format!("{LOCK}ALTER TABLE users DROP COLUMN full_name;"))],
                stages: vec![("0004", Contract)],
                refusals: vec![],
            },
            Case {
                name: "a rename in one release is refused",
                files: vec![("0002_rename.sql", format!("{LOCK}ALTER TABLE users RENAME COLUMN full_name TO name;"))],
                stages: vec![("0002", Contract)],
                refusals: vec![("0002_rename.sql", 2, "rename-in-release")],
            },
            Case {
                name: "NOT NULL without default breaks the previous code's inserts, whatever the stage",
                files: vec![("0005_email.sql", format!("{LOCK}ALTER TABLE users ADD COLUMN email text NOT NULL;"))],
                stages: vec![("0005", Contract)],
                refusals: vec![("0005_email.sql", 2, "adding-not-null-column-without-default")],
            },
            Case {
                name: "additions mixed with a drop would arrive too late",
                files: vec![(
                    "0002_swap.sql",
                    format!(
                        "{LOCK}ALTER TABLE users ADD COLUMN IF NOT EXISTS name text;\nALTER TABLE users DROP COLUMN full_name;"
                    ),
                )],
                stages: vec![("0002", Contract)],
                refusals: vec![("0002_swap.sql", 2, "mixed-expand-and-contract")],
            },
            Case {
                name: "an expand migration after a contract one is held back with it",
                files: vec![
                    ("0004_drop.sql", format!("{LOCK}ALTER TABLE users DROP COLUMN full_name;")),
                    ("0005_add.sql", format!("{LOCK}ALTER TABLE users ADD COLUMN IF NOT EXISTS nick text;")),
                ],
                stages: vec![("0004", Contract), ("0005", Contract)],
                refusals: vec![("0005_add.sql", 1, "expand-after-contract")],
            },
            Case {
                name: "a locking finding in the contract stage still refuses",
                files: vec![(
                    "0004_drop.sql",
                    format!("{LOCK}ALTER TABLE users DROP COLUMN full_name;\nCREATE INDEX users_name ON users (name);"),
                )],
                stages: vec![("0004", Contract)],
                refusals: vec![
                    ("0004_drop.sql", 3, "index-without-concurrently"),
                    ("0004_drop.sql", 3, "mixed-expand-and-contract"),
                ],
            },
            Case {
                name: "a suppressed finding does not refuse",
                files: vec![(
                    "0005_email.sql",
                    format!(
                        "{LOCK}-- backstop:allow adding-not-null-column-without-default the table is empty in every environment\nALTER TABLE users ADD COLUMN email text NOT NULL;"
                    ),
                )],
                stages: vec![("0005", Contract)],
                refusals: vec![],
            },
            Case { name: "nothing pending", files: vec![], stages: vec![], refusals: vec![] },
        ];
        for case in cases {
            let files: Vec<(&str, &str)> = case.files.iter().map(|(n, s)| (*n, s.as_str())).collect();
            let plan = plan_of(&files);
            assert_eq!(stages(&plan), case.stages, "{}", case.name);
            assert_eq!(rules(&plan), case.refusals, "{}: {:#?}", case.name, plan.refusals);
            assert_eq!(plan.refused(), !case.refusals.is_empty(), "{}", case.name);
        }
    }

    #[test]
    fn reasons_say_why() {
        let plan = plan_of(&[
            ("0002_add.sql", "ALTER TABLE users ADD COLUMN IF NOT EXISTS name text;"),
            ("0003_drop.sql", "SET lock_timeout = '1s';\nALTER TABLE users DROP COLUMN full_name;"),
        ]);
        assert!(plan.migrations[0].reason.contains("before the new code starts"), "{:?}", plan.migrations[0]);
        assert!(plan.migrations[1].reason.contains("line 2"), "{:?}", plan.migrations[1]);
        assert_eq!(plan.versions(Stage::Expand).collect::<Vec<_>>(), ["0002"]);
        assert_eq!(plan.versions(Stage::Contract).collect::<Vec<_>>(), ["0003"]);
    }
}
