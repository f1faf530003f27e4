//! The audit chain: each entry's hash covers its fields and the previous entry's hash,
//! so editing, reordering or removing an entry breaks every hash after it.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The hash that precedes the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One audit-log entry, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: u64,
    /// RFC 3339 time, stored as text so the hash covers exactly what is shown.
    pub at: String,
    pub actor: String,
    pub action: String,
    pub app: Option<String>,
    pub outcome: String,
    /// Free-form JSON text with the operation's details.
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

/// Where and why a chain fails verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error("audit entry {seq} does not match its hash")]
    HashMismatch { seq: u64 },
    #[error("audit entry {seq} does not follow the entry before it")]
    BrokenLink { seq: u64 },
    #[error("audit entry {seq} is out of sequence (expected {expected})")]
    Gap { seq: u64, expected: u64 },
}

impl AuditEntry {
    /// The hash of the entry's content chained to its `prev_hash` (the
    /// `hash` field itself is not covered). Every field is length-prefixed
    /// so that no two different entries hash the same text.
    pub fn computed_hash(&self) -> String {
        let mut h = Sha256::new();
        let seq = self.seq.to_string();
        let fields = [
            self.prev_hash.as_str(),
            &seq,
            &self.at,
            &self.actor,
            &self.action,
            self.app.as_deref().unwrap_or("\u{0}"),
            &self.outcome,
            &self.detail,
        ];
        for field in fields {
            h.update((field.len() as u64).to_be_bytes());
            h.update(field.as_bytes());
        }
        hex::encode(h.finalize())
    }
}

/// Verify a chain given in sequence order, starting at seq 1.
pub fn verify_chain(entries: &[AuditEntry]) -> Result<(), ChainBreak> {
    let mut prev = GENESIS.to_owned();
    for (i, e) in entries.iter().enumerate() {
        let expected = i as u64 + 1;
        if e.seq != expected {
            return Err(ChainBreak::Gap { seq: e.seq, expected });
        }
        if e.prev_hash != prev {
            return Err(ChainBreak::BrokenLink { seq: e.seq });
        }
        if e.computed_hash() != e.hash {
            return Err(ChainBreak::HashMismatch { seq: e.seq });
        }
        prev = e.hash.clone();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<AuditEntry> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let mut e = AuditEntry {
                    seq,
                    at: format!("2026-01-01T00:00:0{seq}Z"),
                    actor: "admin".into(),
                    action: "release".into(),
                    app: Some("shop".into()),
                    outcome: "succeeded".into(),
                    detail: format!("{{\"revision\":{seq}}}"),
                    prev_hash: prev.clone(),
                    hash: String::new(),
                };
                e.hash = e.computed_hash();
                prev = e.hash.clone();
                e
            })
            .collect()
    }

    #[test]
    fn intact_chain_verifies() {
        assert_eq!(verify_chain(&chain(5)), Ok(()));
        assert_eq!(verify_chain(&[]), Ok(()));
    }

    #[test]
    fn tampering_table() {
        type Tamper = fn(&mut Vec<AuditEntry>);
        let cases: Vec<(&str, Tamper, ChainBreak)> = vec![
            ("edited outcome", |c| c[2].outcome = "failed".into(), ChainBreak::HashMismatch { seq: 3 }),
            ("edited actor", |c| c[0].actor = "mallory".into(), ChainBreak::HashMismatch { seq: 1 }),
            (
                "edited and rehashed",
                |c| {
                    c[1].detail = "{}".into();
                    c[1].hash = c[1].computed_hash();
                },
                ChainBreak::BrokenLink { seq: 3 },
            ),
            (
                "removed entry",
                |c| {
                    c.remove(1);
                },
                ChainBreak::Gap { seq: 3, expected: 2 },
            ),
            ("swapped entries", |c| c.swap(1, 2), ChainBreak::Gap { seq: 3, expected: 2 }),
        ];
        for (name, tamper, expected) in cases {
            let mut c = chain(5);
            tamper(&mut c);
            assert_eq!(verify_chain(&c), Err(expected), "{name}");
        }
    }

    #[test]
    fn field_boundaries_matter() {
        let base = chain(1).remove(0);
        let mut a = base.clone();
        (a.actor, a.action) = ("ab".into(), "c".into());
        let mut b = base.clone();
        (b.actor, b.action) = ("a".into(), "bc".into());
        assert_ne!(a.computed_hash(), b.computed_hash());
        let mut none = base.clone();
        none.app = None;
        let mut empty = base;
        empty.app = Some(String::new());
        assert_ne!(none.computed_hash(), empty.computed_hash());
    }
}
