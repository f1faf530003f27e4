//! Errors of control-plane operations, each with a hint saying what to do instead.

use backstop_artifacts::ArtifactError;
use backstop_core::{Digest, RollbackRefusal};
use backstop_store::{Operation, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error("app `{app}` is not configured")]
    UnknownApp { app: String },
    #[error("operation {} ({}) is already running on `{}`, started by {} at {}", .running.id, .running.kind, .running.app, .running.actor, .running.started_at.format("%H:%M:%S"))]
    Busy { running: Box<Operation> },
    #[error("{refusal}")]
    Refused { refusal: RollbackRefusal },
    #[error("artifact {digest} has not been uploaded")]
    ArtifactNotUploaded { digest: Digest },
    #[error("{source}")]
    Artifact {
        #[from]
        source: ArtifactError,
    },
    #[error("revision {revision} failed: {reason}")]
    Failed { revision: u64, reason: String, traffic_on: Option<u64> },
    #[error("release of revision {revision} aborted by {actor} before it took traffic")]
    Aborted { revision: u64, actor: String, traffic_on: Option<u64> },
    #[error("nothing to abort on `{app}`: {reason}")]
    NothingToAbort { app: String, reason: String },
    #[error("abort of operation {operation} asked; it has not ended yet")]
    AbortPending { app: String, operation: u64 },
    #[error("revision {revision} of `{app}` does not exist")]
    UnknownRevision { app: String, revision: u64 },
    #[error("flag `{key}` named by --guarded-by does not exist")]
    UnknownGuardFlag { key: String },
    #[error("bad request: {message}")]
    BadRequest { message: String },
    #[error("app `{app}` has no database configured")]
    NoDatabase { app: String },
    #[error("{}", crate::error::chain(.source))]
    Database {
        #[from]
        source: backstop_appdb::SchemaError,
    },
    #[error("release refused: {}", .refusals.iter().map(|r| format!("{}:{}: {} ({})", r.file, r.line, r.message, r.rule)).collect::<Vec<_>>().join("; "))]
    MigrationsRefused { refusals: Vec<backstop_migrate::Refusal> },
    #[error("release refused, its expand stage would break a revision that may still serve: {}", crate::migrations::expand_summary(.refusals))]
    ExpandBreaks { refusals: Vec<backstop_appdb::ExpandRefusal> },
    #[error("rollback of `{}` to revision {} refused, it cannot run on the schema as it is now: {}", .check.app, .check.revision, .check.summary())]
    UnsafeRollback { check: Box<crate::migrations::RollbackCheck> },
    #[error("cannot check whether revision {revision} can run on the database as it is now: {reason}")]
    RollbackUnchecked { revision: u64, reason: String },
    #[error("revision {revision} is {status}, not proven yet: the contract stage runs only after the soak")]
    ContractNotYet { revision: u64, status: backstop_core::RevisionStatus },
    #[error("contract refused, revisions still in the rollback window need what it removes: {}", crate::migrations::blocked_summary(.blocked))]
    ContractBlocked { app: String, live: u64, blocked: Vec<(u64, Vec<backstop_appdb::Problem>)>, floor: Option<u64> },
    #[error("revision {revision} is {status}: only a known-good revision can be declared permanent")]
    NotPromotable { revision: u64, status: backstop_core::RevisionStatus },
    #[error("incident {id} does not exist")]
    UnknownIncident { id: u64 },
    #[error("release of `{app}` refused, its rollback is not ready: {}", .failing.join("; "))]
    NotRollbackReady { app: String, failing: Vec<String> },
    #[error("release of `{app}` refused, its commit lacks the fix of hotfix {}", crate::error::missing_summary(.missing))]
    MissingHotfix { app: String, missing: Vec<crate::hotfix::MissingHotfix>, revisions: Vec<u64> },
    #[error("{source}")]
    BadContracts { source: backstop_compat::CompatError },
    #[error("release of `{app}` refused, it breaks revisions in the rollback window: {}", crate::compat::summary(.findings, 10))]
    BreakingChange { app: String, findings: Vec<backstop_compat::Finding> },
    #[error("rollback of `{app}` from revision {live} to revision {target} refused, the live revision's clients would break: {}", crate::compat::summary(.findings, 10))]
    IncompatibleRollback { app: String, live: u64, target: u64, findings: Vec<backstop_compat::Finding> },
    #[error("drill refused: {reason}")]
    DrillRefused { reason: String },
    /// Stored data this control plane cannot read: a server fault, not bad input.
    #[error("{message}")]
    CorruptState { message: String },
    /// Another control plane took the app over (or recovery ended the operation) before this one
    /// could commit: nothing was written.
    #[error("{source}")]
    LostRace { source: StoreError },
    #[error("state store failure")]
    Store {
        #[source]
        source: StoreError,
    },
}

impl From<StoreError> for OpError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Busy { running } => OpError::Busy { running },
            StoreError::UnknownApp { app } => OpError::UnknownApp { app },
            StoreError::UnknownRevision { app, revision } => OpError::UnknownRevision { app, revision },
            StoreError::Corrupt { what, value } => OpError::CorruptState {
                message: format!("the state database holds an unreadable value in {what}: {value}"),
            },
            lost @ StoreError::LeaseLost { .. } => OpError::LostRace { source: lost },
            StoreError::UnknownIncident { id } => OpError::UnknownIncident { id },
            other => OpError::Store { source: other },
        }
    }
}

impl OpError {
    pub fn hint(&self) -> String {
        match self {
            OpError::UnknownApp { .. } => "add it under [apps.NAME] in the server's config and restart it; `backstop apps` lists the configured apps".into(),
            OpError::Busy { running } => format!(
                "wait for it to finish and try again; `backstop status {}` shows it",
                running.app
            ),
            OpError::Refused { refusal } => refusal.hint(),
            OpError::ArtifactNotUploaded { .. } => "upload it first: `backstop release` uploads the --artifact path".into(),
            OpError::Artifact { source } => match source {
                ArtifactError::Tampered { .. } => "the stored copy changed after upload; release the artifact again from a trusted build, or roll back to another revision".into(),
                ArtifactError::Missing { .. } => "the artifact was collected or deleted; release it again from its build, or pick another revision".into(),
                ArtifactError::UploadMismatch { .. } => "the bytes changed in transit or the digest is wrong; check --digest and upload again".into(),
                ArtifactError::NotExecutable { .. } => "make it executable (chmod +x) or ship a directory with an executable `run`".into(),
                ArtifactError::NoEntrypoint { .. } => "a directory artifact needs an executable file named `run` at its top".into(),
                ArtifactError::BadArchive { .. } => "send the directory as one whole tar stream (`backstop release --artifact DIR` makes it); nothing was stored".into(),
                _ => "check the artifact path and the state directory's disk".into(),
            },
            OpError::Failed { revision, traffic_on: Some(n), .. } => format!(
                "traffic stays on revision {n}; `backstop logs APP {revision}` prints the instance's log (STATE/logs/APP/{revision}.log): fix the release"
            ),
            OpError::Failed { revision, traffic_on: None, .. } => format!(
                "nothing serves the app; `backstop logs APP {revision}` prints the instance's log (STATE/logs/APP/{revision}.log): fix the release or undo to a known-good revision"
            ),
            OpError::Aborted { traffic_on: Some(n), .. } => format!("traffic stays on revision {n}; release again when ready"),
            OpError::Aborted { traffic_on: None, .. } => "nothing serves the app; release again when ready".into(),
            OpError::NothingToAbort { app, .. } => format!(
                "abort stops a release while it starts or soaks; `backstop undo {app}` moves traffic back to a known-good revision"
            ),
            OpError::AbortPending { app, .. } => format!("`backstop status {app}` shows when it ends"),
            OpError::UnknownRevision { .. } => "`backstop history APP` lists the revisions".into(),
            OpError::UnknownIncident { .. } => "`backstop incident list` lists the incidents".into(),
            OpError::NotRollbackReady { app, .. } => format!(
                "a release needs a proven way back: let the live revision finish its soak (`backstop status {app}`), keep its artifact, or set require_rollback_ready = false for the app"
            ),
            OpError::MissingHotfix { app, .. } => format!(
                "bring the fix to the release's branch (`backstop hotfix check` prints the cherry-pick), or pass --allow-missing-hotfix REASON (recorded in the audit log); `backstop history {app}` lists the hotfixes"
            ),
            OpError::BadContracts { source } => source.hint(),
            OpError::BreakingChange { app, findings } => {
                let rule = findings.first().map_or("RULE", |f| f.rule.as_str());
                format!(
                    "ship the change in two releases (add first, remove once no revision in the window needs it), or pass --allow-breaking {rule} REASON (recorded in the audit log); `backstop compat {app} --api FILE --messages DIR` lists every finding"
                )
            }
            OpError::IncompatibleRollback { app, .. } => format!(
                "undo to a revision whose contracts the live revision's clients can use (`backstop compat {app} --against N`), or pass --force to roll back anyway (recorded in the audit log)"
            ),
            OpError::DrillRefused { .. } => "wait until the operation finishes or the incident is closed, then drill again".into(),
            OpError::UnknownGuardFlag { key } => {
                format!("create it first (`backstop flag create {key} --description \"…\" --on`), or fix the name")
            }
            OpError::BadRequest { .. } => "see `backstop help`".into(),
            OpError::NoDatabase { app } => format!("add [apps.{app}.database] url = \"postgres://…\" (or sqlite://PATH) to the server's config and restart it"),
            OpError::Database { source } => match source {
                backstop_appdb::SchemaError::ChecksumMismatch { .. } => "restore the applied file as it was and put the change in a new migration".into(),
                backstop_appdb::SchemaError::Parse { .. } => "fix the SQL at the place named; `backstop lint DIR` shows every finding".into(),
                backstop_appdb::SchemaError::Statement { .. } | backstop_appdb::SchemaError::SqliteStatement { .. } => "fix the migration and release again; traffic did not move".into(),
                _ => "check [apps.NAME.database] url and that the database is up".into(),
            },
            OpError::MigrationsRefused { refusals } => match refusals.first() {
                Some(r) => format!("{} (`backstop migrate plan APP --migrations DIR` shows every stage)", r.help),
                None => "`backstop migrate plan APP --migrations DIR` shows every stage".into(),
            },
            OpError::ExpandBreaks { refusals } => match refusals.first() {
                Some(r) => format!("nothing ran and traffic did not move; {}", r.hint),
                None => "nothing ran".into(),
            },
            OpError::UnsafeRollback { check } => format!("{}; or pass --force to roll back anyway (recorded in the audit log)", check.advice),
            OpError::RollbackUnchecked { .. } => "bring the database back or fix [apps.NAME.database] url; or pass --force to roll back without the check (recorded in the audit log)".into(),
            OpError::ContractNotYet { .. } => "wait until it is known-good (`backstop status APP`), or declare it permanent with `backstop promote APP R --permanent`".into(),
            OpError::ContractBlocked { app, live, blocked, .. } => {
                let newest = blocked.iter().map(|(r, _)| *r).max().unwrap_or(0);
                format!("once you will not roll back to revision {newest} or earlier, declare the live revision permanent (`backstop promote {app} {live} --permanent`) and run the contract again")
            }
            OpError::NotPromotable { .. } => "wait for it to finish its soak (`backstop status APP`)".into(),
            OpError::Store { .. } => "check the state directory (disk full? permissions?) and the server log".into(),
            OpError::CorruptState { .. } => "the state directory was changed outside backstop or is damaged; restore it from a backup and see the server log".into(),
            OpError::LostRace { .. } => "another control plane holds the app now; `backstop status APP` shows what it did".into(),
        }
    }
}

/// `revision 3 (commits 4f2a9c1, 0a1b2c3); revision 5 (…)`.
fn missing_summary(missing: &[crate::hotfix::MissingHotfix]) -> String {
    missing
        .iter()
        .map(|m| {
            let commits: Vec<&str> = m.commits.iter().map(|c| backstop_core::hotfix::short_commit(c)).collect();
            format!("revision {} (commits {})", m.revision, commits.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

pub use backstop_driver::chain;
