//! Between the engine's values and the API's wire types (`backstop-api`): the one place that
//! decides how an internal value looks on the wire.

use backstop_engine::migrations::{ShippedMigration, ShippedQuery};
use backstop_engine::ops;
use backstop_store::InstanceRole;

pub fn operation(o: backstop_store::Operation) -> backstop_api::Operation {
    backstop_api::Operation {
        id: o.id,
        app: o.app,
        kind: o.kind,
        state: o.state,
        actor: o.actor,
        target_revision: o.target_revision,
        from_revision: o.from_revision,
        started_at: o.started_at,
        ended_at: o.ended_at,
        error: o.error,
        steps: o
            .steps
            .into_iter()
            .map(|s| backstop_api::Step { seq: s.seq, at: s.at, step: s.step, detail: s.detail })
            .collect(),
    }
}

/// The wire role of an instance; `None` for one being stopped (not part of the app any more).
pub fn role(role: InstanceRole) -> Option<backstop_api::InstanceRole> {
    match role {
        InstanceRole::Starting => Some(backstop_api::InstanceRole::Starting),
        InstanceRole::Serving => Some(backstop_api::InstanceRole::Serving),
        InstanceRole::Warm => Some(backstop_api::InstanceRole::Warm),
        InstanceRole::Stopping => None,
    }
}

/// The process fields of an instance's driver handle (the local driver's `pid` and `port`; zero
/// for a driver whose handle has none).
pub fn pid_port(handle: &serde_json::Value) -> (u32, u16) {
    let pid = handle.get("pid").and_then(serde_json::Value::as_u64).and_then(|p| u32::try_from(p).ok());
    let port = handle.get("port").and_then(serde_json::Value::as_u64).and_then(|p| u16::try_from(p).ok());
    (pid.unwrap_or(0), port.unwrap_or(0))
}

pub fn outcome(o: ops::Outcome) -> backstop_api::Outcome {
    backstop_api::Outcome {
        operation: o.operation,
        app: o.app,
        revision: o.revision,
        version: o.version,
        digest: o.digest,
        from_revision: o.from_revision,
        warm: o.warm,
        status: o.status,
    }
}

pub fn release_request(r: backstop_api::ReleaseRequest) -> ops::ReleaseRequest {
    ops::ReleaseRequest {
        digest: r.digest,
        version: r.version,
        change_cause: r.change_cause,
        git_commit: r.git_commit,
        guarded_by: r.guarded_by,
        migrations: r.migrations.map(|m| m.into_iter().map(migration).collect()),
        queries: r.queries.into_iter().map(|q| ShippedQuery { name: q.name, sql: q.sql }).collect(),
    }
}

pub fn migration(m: backstop_api::ShippedMigration) -> ShippedMigration {
    ShippedMigration { version: m.version, name: m.name, sql: m.sql, down: m.down }
}

pub fn undo_request(r: backstop_api::UndoRequest) -> ops::UndoRequest {
    ops::UndoRequest { to_revision: r.to_revision, force: r.force }
}

pub fn artifact_kind(k: backstop_artifacts::ArtifactKind) -> backstop_api::ArtifactKind {
    match k {
        backstop_artifacts::ArtifactKind::File => backstop_api::ArtifactKind::File,
        backstop_artifacts::ArtifactKind::Dir => backstop_api::ArtifactKind::Dir,
    }
}

pub fn written(w: backstop_engine::flags::Written) -> backstop_api::Written {
    backstop_api::Written { flag: w.flag, changed: w.changed, config_version: w.config_version }
}
