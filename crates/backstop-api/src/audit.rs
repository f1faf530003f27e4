//! The audit log over HTTP: paging through it and verifying its hash chain.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The query string of `GET /v1/audit`: entries in chain order after `after`, at most `limit`
/// (1 to 1000, 1000 when absent), written at or after `since`, about `app`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// Audit entries after this sequence number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<u64>,
    /// An RFC 3339 time, or a duration back from now (`30m`, `7d`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(example = "1h")]
    pub since: Option<String>,
    /// Only the entries about this app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
}

/// The query string of the listings of one app (`GET /v1/apps/{app}/operations`,
/// `/revisions`) and of a flag's history: at most `limit` (1 to 1000) of the newest, from
/// `since` on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// An RFC 3339 time, or a duration back from now (`30m`, `7d`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(example = "1h")]
    pub since: Option<String>,
}

/// The query string of `GET /v1/incidents` and `GET /v1/drills`: newest first, at most `limit`
/// (1 to 1000, 50 when absent), from `since` on, of `app`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AppListQuery {
    /// Only this app's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// An RFC 3339 time, or a duration back from now (`30m`, `7d`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(example = "1h")]
    pub since: Option<String>,
}

/// One entry of `GET /v1/audit`, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    pub seq: u64,
    /// RFC 3339 time, exactly as the entry's hash covers it.
    pub at: String,
    /// Who acted: the token's role and the name the caller gave (`admin:ana`), or backstop's own
    /// actor (`backstop:analysis`).
    pub actor: String,
    pub action: String,
    pub app: Option<String>,
    pub outcome: String,
    /// The action's details as a JSON object; a stored detail that is not JSON is a string.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

impl From<backstop_core::audit::AuditEntry> for AuditEntry {
    /// The stored entry keeps its detail as the text the hash covers; on the wire it is read back
    /// into JSON.
    fn from(e: backstop_core::audit::AuditEntry) -> AuditEntry {
        let detail = serde_json::from_str(&e.detail).unwrap_or_else(|_| serde_json::Value::String(e.detail.clone()));
        AuditEntry {
            seq: e.seq,
            at: e.at,
            actor: e.actor,
            action: e.action,
            app: e.app,
            outcome: e.outcome,
            detail,
            prev_hash: e.prev_hash,
            hash: e.hash,
        }
    }
}

/// `GET /v1/audit/verify`: whether the chain of audit entries is intact.
///
/// On the wire: `{"ok": true, "entries": N, "head": HASH|null}` or
/// `{"ok": false, "entries": N, "break": "audit entry 7 does not match its hash"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "RawVerify", try_from = "RawVerify")]
pub enum AuditVerify {
    /// Every entry matches its hash and follows the one before it.
    Intact {
        entries: usize,
        /// The hash of the newest entry (`None`: the log is empty).
        head: Option<String>,
    },
    /// The chain breaks; `reason` names the first entry that does not verify.
    Broken { entries: usize, reason: String },
}

impl AuditVerify {
    pub fn is_intact(&self) -> bool {
        matches!(self, AuditVerify::Intact { .. })
    }

    pub fn entries(&self) -> usize {
        match self {
            AuditVerify::Intact { entries, .. } | AuditVerify::Broken { entries, .. } => *entries,
        }
    }
}

/// On the wire [`AuditVerify`] is [`RawVerify`].
impl utoipa::PartialSchema for AuditVerify {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        RawVerify::schema()
    }
}

impl ToSchema for AuditVerify {}

/// The flat JSON form of [`AuditVerify`].
#[derive(Serialize, Deserialize, ToSchema)]
struct RawVerify {
    #[serde(rename = "break", default, skip_serializing_if = "Option::is_none")]
    broken: Option<String>,
    entries: usize,
    /// Present (possibly `null`) when the chain is intact, absent when it breaks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    head: Option<Option<String>>,
    ok: bool,
}

impl From<AuditVerify> for RawVerify {
    fn from(v: AuditVerify) -> RawVerify {
        match v {
            AuditVerify::Intact { entries, head } => RawVerify { broken: None, entries, head: Some(head), ok: true },
            AuditVerify::Broken { entries, reason } => {
                RawVerify { broken: Some(reason), entries, head: None, ok: false }
            }
        }
    }
}

impl TryFrom<RawVerify> for AuditVerify {
    type Error = String;
    fn try_from(raw: RawVerify) -> Result<AuditVerify, String> {
        match (raw.ok, raw.broken) {
            (true, None) => Ok(AuditVerify::Intact { entries: raw.entries, head: raw.head.flatten() }),
            (false, Some(reason)) => Ok(AuditVerify::Broken { entries: raw.entries, reason }),
            (true, Some(_)) => Err("an intact audit chain has no `break`".into()),
            (false, None) => Err("a broken audit chain needs `break`".into()),
        }
    }
}
