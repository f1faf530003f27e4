//! Findings: a stable rule id, a severity, where in the document, which revisions, which direction.

use serde::{Deserialize, Serialize};

/// How bad a finding is: a breaking one refuses a release unless allowed by rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    Warning,
    Breaking,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Breaking => "breaking",
        }
    }
}

/// Which pair of a mixed fleet a finding is about: who writes, who reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Requests of the older revision's clients reaching the newer server (and its answers back).
    OldClientToNewServer,
    /// Requests of the newer revision's clients reaching the older server: what a rollback exercises.
    NewClientToOldServer,
    /// Messages the newer producer writes, read by the older consumer.
    NewProducerToOldConsumer,
    /// Messages the older producer wrote, read by the newer consumer.
    OldProducerToNewConsumer,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::OldClientToNewServer => "old-client-to-new-server",
            Direction::NewClientToOldServer => "new-client-to-old-server",
            Direction::NewProducerToOldConsumer => "new-producer-to-old-consumer",
            Direction::OldProducerToNewConsumer => "old-producer-to-new-consumer",
        }
    }

    /// The directions that matter once traffic goes back to the older revision while the newer
    /// one's clients and messages are still about.
    pub fn after_rollback(self) -> bool {
        matches!(self, Direction::NewClientToOldServer | Direction::NewProducerToOldConsumer)
    }
}

/// One rule of the gate, with the id findings carry and its severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub id: &'static str,
    pub severity: Severity,
    /// What the rule catches, for documentation and SARIF.
    pub summary: &'static str,
}

const fn rule(id: &'static str, severity: Severity, summary: &'static str) -> Rule {
    Rule { id, severity, summary }
}

use Severity::{Breaking, Warning};

/// Every rule, in a stable order. Ids never change meaning.
pub const RULES: &[Rule] = &[
    rule("api.path-removed", Breaking, "a path the client calls is gone from the server"),
    rule("api.method-removed", Breaking, "a method the client calls on a path is gone from the server"),
    rule("api.param-required-added", Breaking, "the server requires a parameter the client may not send"),
    rule("api.param-removed", Warning, "the server no longer reads a parameter the client sends"),
    rule("api.request-body-required-added", Breaking, "the server requires a request body the client may not send"),
    rule("api.request-media-type-removed", Breaking, "the server no longer accepts a media type the client sends"),
    rule("api.request-field-required-added", Breaking, "the server requires a body field the client may not send"),
    rule("api.request-field-rejected", Breaking, "a closed server model rejects a field the client sends"),
    rule("api.type-narrowed", Breaking, "the server accepts fewer types than the client sends"),
    rule("api.enum-narrowed", Breaking, "the server accepts fewer enum values than the client sends"),
    rule(
        "api.constraint-narrowed",
        Breaking,
        "the server's bounds (length, range, pattern) reject what the client sends",
    ),
    rule("api.format-changed", Warning, "a value's format differs between the two sides"),
    rule("api.response-field-removed", Breaking, "a response field the client reads is no longer sent"),
    rule("api.response-field-optional", Breaking, "a response field the client requires may now be left out"),
    rule("api.response-field-unexpected", Breaking, "a closed client model meets a response field it does not know"),
    rule("api.response-type-changed", Breaking, "a response value's type is one the client does not read"),
    rule("api.response-enum-widened", Breaking, "a response value may be an enum value the client does not know"),
    rule("api.response-status-added", Warning, "the server may answer with a status the client does not expect"),
    rule("api.response-media-type-removed", Warning, "the server no longer answers in a media type the client reads"),
    rule("msg.message-removed", Warning, "a message the consumer reads is no longer produced"),
    rule("msg.required-field-removed", Breaking, "the consumer requires a field the producer may leave out"),
    rule("msg.field-removed", Warning, "an optional field the consumer reads is no longer written"),
    rule("msg.closed-model-field-added", Breaking, "a closed consumer model meets a field the producer writes"),
    rule("msg.type-changed", Breaking, "the producer writes a type the consumer does not read"),
    rule("msg.enum-value-removed", Breaking, "the producer may write an enum value the consumer does not know"),
    rule("msg.constraint-narrowed", Breaking, "the consumer's bounds (length, range, pattern) reject what is written"),
    rule("msg.format-changed", Warning, "a value's format differs between producer and consumer"),
];

/// The rule with this id.
pub fn rule_by_id(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// One incompatibility between two revisions' contracts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub rule: String,
    pub severity: Severity,
    pub direction: Direction,
    /// The document: `openapi` or `produces/NAME` / `consumes/NAME` of the message it concerns.
    pub document: String,
    /// A JSON pointer into the document (`/paths/~1orders/post/requestBody/…/properties/total`).
    pub path: String,
    pub message: String,
    /// The older revision of the pair.
    pub old_revision: u64,
    /// The newer revision of the pair.
    pub new_revision: u64,
}

impl Finding {
    pub fn is_breaking(&self) -> bool {
        self.severity == Severity::Breaking
    }
}

/// A finding before the pair of revisions is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Raw {
    pub rule: &'static Rule,
    pub direction: Direction,
    pub document: String,
    pub path: String,
    pub message: String,
}

impl Raw {
    pub(crate) fn new(id: &'static str, direction: Direction, document: &str, path: String, message: String) -> Raw {
        // Every id used below is in RULES; the table test checks each fires.
        let rule = rule_by_id(id).unwrap_or(&RULES[0]);
        Raw { rule, direction, document: document.to_owned(), path, message }
    }

    pub(crate) fn with_revisions(self, old_revision: u64, new_revision: u64) -> Finding {
        Finding {
            rule: self.rule.id.to_owned(),
            severity: self.rule.severity,
            direction: self.direction,
            document: self.document,
            path: self.path,
            message: self.message,
            old_revision,
            new_revision,
        }
    }
}

/// A JSON pointer segment: `~` and `/` escaped.
pub(crate) fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}
