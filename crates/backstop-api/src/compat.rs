//! The compatibility gate: the contracts a release ships (an OpenAPI description, JSON Schemas of
//! the messages it produces and consumes) and what `POST /v1/apps/{app}/compat` answers.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A contract document: its file name (`openapi.yaml`; `.json` is read as JSON, anything else as
/// YAML) and its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContractDocument {
    #[schema(example = "openapi.yaml")]
    pub name: String,
    pub text: String,
}

/// Whether a revision writes or reads a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum MessageRole {
    Produces,
    Consumes,
}

/// One message's JSON Schema, from `produces/NAME.json` or `consumes/NAME.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageContract {
    pub role: MessageRole,
    /// The message's name: the file's stem (`order-created`).
    #[schema(example = "order-created")]
    pub name: String,
    pub text: String,
}

/// `--allow-breaking RULE REASON`: let findings of one rule through, recorded in the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllowBreaking {
    #[schema(example = "api.path-removed")]
    pub rule: String,
    pub reason: String,
}

/// The contracts part of a release request (all optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReleaseContracts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<ContractDocument>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<MessageContract>,
    /// Breaking rules this release may break, each with why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_breaking: Vec<AllowBreaking>,
}

/// `POST /v1/apps/{app}/compat`: check contracts without releasing. With no `api` and no
/// `messages`, the live revision's recorded contracts are checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompatRequest {
    /// Compare with this revision only (default: every revision of the rollback window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub against: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<ContractDocument>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<MessageContract>,
}

/// One incompatibility between two revisions' contracts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CompatFinding {
    /// A stable rule id (`api.path-removed`, `msg.type-changed`, ...).
    #[schema(example = "api.request-field-required-added")]
    pub rule: String,
    /// `breaking` or `warning`.
    #[schema(example = "breaking")]
    pub severity: String,
    /// Who writes and who reads: `old-client-to-new-server`, `new-client-to-old-server`,
    /// `new-producer-to-old-consumer` or `old-producer-to-new-consumer`.
    #[schema(example = "old-client-to-new-server")]
    pub direction: String,
    /// `openapi`, or `produces/NAME` / `consumes/NAME`.
    pub document: String,
    /// A JSON pointer into the document.
    #[schema(example = "/paths/~1orders/post/requestBody/content/application~1json/schema/properties/currency")]
    pub path: String,
    pub message: String,
    pub old_revision: u64,
    pub new_revision: u64,
}

/// What the compatibility check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CompatReport {
    pub app: String,
    /// The revision checked: the live one, or the next number for contracts sent with the request.
    pub revision: u64,
    /// The revisions it was compared with (those that recorded contracts).
    pub against: Vec<u64>,
    pub findings: Vec<CompatFinding>,
    pub breaking: u64,
    pub warnings: u64,
}
