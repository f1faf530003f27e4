//! The wire types of backstop's HTTP API: every request and response body as
//! a plain serde type, shared by the control plane (which serialises them),
//! the CLI (which reads them) and any later client.
//!
//! The crate holds data only: no I/O, no HTTP framework, no store. Types the
//! domain crates already own on the wire (`Revision`, `Digest`,
//! `AuditEntry`, `Flag`, the OFREP `Reason`) are used as they are; types that
//! live in crates with I/O (the store's `Operation`, the schema verdict's
//! `Problem`, the migration gate's `Refusal`) have a wire copy here, so a
//! client does not link SQLite or a database driver to read an answer.
//!
//! Every JSON shape is pinned by a snapshot test (`tests/it`), so a change of
//! the wire format shows up as a reviewed diff.
//!
//! | Route | Request | Response |
//! |---|---|---|
//! | `GET /v1/health` | | [`Health`] |
//! | `GET /v1/apps` | | `Vec<`[`AppStatus`]`>` |
//! | `GET /v1/apps/{app}/status` | | [`AppStatus`] |
//! | `GET /v1/apps/{app}/revisions` | [`ListQuery`] | `Vec<`[`HistoryEntry`]`>` |
//! | `GET /v1/apps/{app}/revisions/{n}` | | [`RevisionDetail`] |
//! | `GET /v1/apps/{app}/known-good` | | [`Revision`] |
//! | `GET /v1/apps/{app}/signals` | | [`AppSignals`] |
//! | `GET /v1/apps/{app}/incident` | | [`IncidentAssessment`] |
//! | `POST /v1/apps/{app}/incidents` | | [`IncidentAssessment`] |
//! | `GET /v1/incidents` | [`AppListQuery`] | `Vec<`[`Incident`]`>` |
//! | `GET /v1/incidents/{id}` | | [`Incident`] |
//! | `POST /v1/incidents/{id}/close` | [`CloseRequest`] | [`Incident`] |
//! | `GET /v1/report` | `app`, `since` | [`DeliveryReport`] |
//! | `POST /v1/apps/{app}/drills` | [`DrillRequest`] | [`DrillOutcome`] |
//! | `GET /v1/drills` | [`AppListQuery`] | `Vec<`[`Drill`]`>` |
//! | `GET /metrics` | | Prometheus text |
//! | `GET /v1/apps/{app}/operations` | [`ListQuery`] | `Vec<`[`Operation`]`>` |
//! | `GET /v1/apps/{app}/logs` (admin token) | [`LogQuery`] | [`LogChunk`] |
//! | `GET /v1/operations/{id}` | | [`Operation`] |
//! | `POST /v1/apps/{app}/releases` | [`ReleaseRequest`] | [`Outcome`] |
//! | `POST /v1/apps/{app}/undo` | [`UndoRequest`] | [`Outcome`] |
//! | `POST /v1/apps/{app}/abort` | | [`AbortOutcome`] |
//! | `POST /v1/apps/{app}/revisions/{n}/promote` | [`PromoteRequest`] | [`Revision`] |
//! | `GET /v1/apps/{app}/revisions/{n}/rollback-check` | | [`RollbackCheck`] |
//! | `POST /v1/apps/{app}/migrations/plan` | [`PlanRequest`] | [`PlanView`] |
//! | `POST /v1/apps/{app}/migrations/contract` | | [`ContractOutcome`] |
//! | `GET /v1/artifacts/{digest}` | | [`ArtifactInfo`] |
//! | `PUT /v1/artifacts/{digest}` | the bytes | [`Uploaded`] |
//! | `POST /v1/gc` | [`GcQuery`] | [`GcSummary`] |
//! | `GET /v1/audit` | [`AuditQuery`] | `Vec<`[`AuditEntry`]`>` |
//! | `GET /v1/audit/verify` | | [`AuditVerify`] |
//! | `GET /v1/flags` | | [`FlagList`] |
//! | `GET /v1/flags/{key}` | | [`Flag`] |
//! | `GET /v1/flags/{key}/history` | [`ListQuery`] | `Vec<`[`FlagHistoryEntry`]`>` |
//! | `POST`, `PUT /v1/flags/{key}` | [`FlagRequest`] | [`Written`] |
//! | `POST /v1/flags/{key}/on`, `/off`; `DELETE /v1/flags/{key}` | [`ReasonRequest`] | [`Written`] |
//! | `GET /v1/flags/stream` (SSE) | | [`SnapshotEvent`], [`ChangeEvent`] |
//! | `POST /ofrep/v1/evaluate/flags/{key}` | [`EvaluationRequest`] | [`Evaluated`] or [`EvaluationFailure`] |
//! | `POST /ofrep/v1/evaluate/flags` | [`EvaluationRequest`] | [`BulkEvaluation`] or [`EvaluationFailure`] |
//! | `GET /ofrep/v1/events` (SSE) | | [`RefetchEvent`] |
//!
//! Every failure of a `/v1` route answers [`ErrorBody`]; OFREP routes answer
//! OFREP's own [`EvaluationFailure`].
//!
//! Tokens: every `GET /v1/flags...` route, the two event streams and OFREP
//! need the evaluation token or the admin token (flag definitions name
//! customers, countries and percentages); every mutating route needs the
//! admin token.

mod apps;
mod artifacts;
mod audit;
mod compat;
mod error;
mod flags;
mod incidents;
mod logs;
mod migrations;
mod ofrep;
mod operations;
mod signals;

pub use apps::{
    AnalysisView, AppStatus, Health, HistoryEntry, InstanceRole, InstanceView, Operation, RevisionDatabase,
    RevisionDetail, Step, UndoPreview,
};
pub use artifacts::{ArtifactInfo, ArtifactKind, GcQuery, GcSummary, Uploaded};
pub use audit::{AppListQuery, AuditEntry, AuditQuery, AuditVerify, ListQuery};
pub use backstop_core::analysis::{OnFailure, Verdict};
pub use backstop_core::incident::{Facts as IncidentFacts, Rung, RungAssessment};
pub use backstop_core::{Digest, OperationKind, OperationState, Revision, RevisionStatus};
pub use backstop_flags::{Flag, Reason, Value as FlagValue};
pub use compat::{
    AllowBreaking, CompatFinding, CompatReport, CompatRequest, ContractDocument, MessageContract, MessageRole,
    ReleaseContracts,
};
pub use error::{ErrorBody, ErrorDetail};
pub use flags::{
    ChangeEvent, FlagHistoryEntry, FlagList, FlagRequest, ReasonRequest, SnapshotEvent, UnreadableFlag, Written,
};
pub use incidents::{
    CloseRequest, DeliveryReport, Drill, DrillOutcome, DrillPhase, DrillRequest, Incident, IncidentAssessment,
    Readiness, ReadinessCheck,
};
pub use logs::{LogChunk, LogQuery, MAX_LOG_BYTES};
pub use migrations::{
    CheckMode, ConstraintKind, ContractOutcome, DownStep, Phase, PlanRequest, PlanView, PlannedFile, PlannedStatement,
    Problem, ProblemKind, Refusal, RollbackCheck, Stage,
};
pub use ofrep::{
    BulkEntry, BulkEvaluation, BulkMetadata, Evaluated, EvaluationFailure, EvaluationRequest, EventStream, RefetchEvent,
};
pub use operations::{
    AbortOutcome, ImportOutcome, ImportRequest, ImportedRevision, MissingHotfix, Outcome, PromoteRequest,
    ReleaseRequest, ShippedMigration, ShippedQuery, UndoRequest,
};
pub use signals::{AppSignals, RevisionSignals, Window};
