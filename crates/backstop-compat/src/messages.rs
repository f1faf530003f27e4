//! Messages: what one revision's producers write, read by the other revision's consumers.
//!
//! A message the app itself consumes is read by its `consumes/` schema; one it only produces is
//! read by consumers elsewhere, built on what it produced before, so the older `produces/` schema
//! stands for them. Likewise a message it only consumes was written by producers elsewhere on what
//! it consumed before.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::api::{Ctx, rule_for};
use crate::finding::{Direction, Raw};
use crate::parse::Contracts;
use crate::schema::{Seen, compare};

/// The message findings between an older and a newer revision, both directions.
pub(crate) fn compare_messages(old: &Contracts, new: &Contracts) -> Vec<Raw> {
    let mut out = Vec::new();
    // New producer, old consumer.
    pair(&new.produces, &old.consumes, &old.produces, Direction::NewProducerToOldConsumer, &mut out);
    // Old producer, new consumer: what the old producers wrote is read by the new consumers.
    readers(&old.produces, &old.consumes, &new.consumes, Direction::OldProducerToNewConsumer, &mut out);
    // A message the old consumer reads that nothing of the new revision produces any more.
    for name in old.consumes.keys() {
        if old.produces.contains_key(name) && !new.produces.contains_key(name) {
            let message = format!("`{name}` is consumed by the older revision and no longer produced");
            out.push(Raw::new(
                "msg.message-removed",
                Direction::NewProducerToOldConsumer,
                &format!("produces/{name}"),
                String::new(),
                message,
            ));
        }
    }
    out
}

/// Each message `writers` produce, read by `readers` (or, for one they do not consume, by the
/// consumers `fallback` stands for).
fn pair(
    writers: &BTreeMap<String, Value>,
    readers: &BTreeMap<String, Value>,
    fallback: &BTreeMap<String, Value>,
    direction: Direction,
    out: &mut Vec<Raw>,
) {
    for (name, w) in writers {
        let (doc, r) = match (readers.get(name), fallback.get(name)) {
            (Some(r), _) => (format!("consumes/{name}"), r),
            (None, Some(r)) => (format!("produces/{name}"), r),
            (None, None) => continue,
        };
        emit(w, r, &doc, direction, out);
    }
}

/// Each message the new `readers` consume, as written by old producers (or the old consumer's
/// schema standing for producers elsewhere).
fn readers(
    writers: &BTreeMap<String, Value>,
    fallback: &BTreeMap<String, Value>,
    readers: &BTreeMap<String, Value>,
    direction: Direction,
    out: &mut Vec<Raw>,
) {
    for (name, r) in readers {
        let Some(w) = writers.get(name).or_else(|| fallback.get(name)) else { continue };
        emit(w, r, &format!("consumes/{name}"), direction, out);
    }
}

fn emit(w: &Value, r: &Value, document: &str, direction: Direction, out: &mut Vec<Raw>) {
    for (path, issue) in compare(w, w, r, r, "", &mut Seen::default()) {
        if let Some((id, message)) = rule_for(Ctx::Message, &issue) {
            out.push(Raw::new(id, direction, document, path, message));
        }
    }
}
