//! Bounds on what a flag and an evaluation context may hold, so that no stored
//! flag or request can exceed what a reader (serde_json's recursion limit, a
//! stream frame, an SDK) can take back.
//!
//! A flag travels inside other JSON (a snapshot, a change event, a listing), so
//! its variants must stay well below serde_json's default recursion limit of
//! 128 levels, with room for the envelope: a variant nested 124 levels deep
//! once made every listing and snapshot unreadable.

use std::io;

/// How deeply a variant value (or an attribute of an evaluation context) may
/// nest objects and arrays. A scalar is depth 0; `{"a": 1}` is 1; `{"a": [1]}` is 2.
pub const MAX_DEPTH: usize = 32;

/// The most bytes one flag may take as compact JSON.
pub const MAX_FLAG_BYTES: usize = 256 * 1024;

/// The most bytes of an OFREP request body ([`crate::Context::from_ofrep_body`]).
pub const MAX_CONTEXT_BYTES: usize = 64 * 1024;

/// How deeply `value` nests objects and arrays, counted without recursion (so
/// any value a parser produced can be measured), stopping once past `limit`.
pub(crate) fn depth_exceeds(value: &serde_json::Value, limit: usize) -> bool {
    let mut stack: Vec<(&serde_json::Value, usize)> = vec![(value, 0)];
    while let Some((value, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &serde_json::Value>> = match value {
            serde_json::Value::Array(items) => Box::new(items.iter()),
            serde_json::Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        if depth + 1 > limit {
            return true;
        }
        stack.extend(children.map(|child| (child, depth + 1)));
    }
    false
}

/// The size of `value` as compact JSON, or `None` once it is past `limit`
/// (serialization stops there instead of building the whole text).
pub(crate) fn json_size_within<T: serde::Serialize>(value: &T, limit: usize) -> Option<usize> {
    struct Counter {
        written: usize,
        limit: usize,
    }
    impl io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.written += buf.len();
            if self.written > self.limit {
                return Err(io::Error::other("over the limit"));
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter { written: 0, limit };
    serde_json::to_writer(&mut counter, value).ok().map(|()| counter.written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nested(levels: usize) -> serde_json::Value {
        let mut value = json!(1);
        for i in 0..levels {
            value = if i % 2 == 0 { json!({ "a": value }) } else { json!([value]) };
        }
        value
    }

    #[test]
    fn depth_table() {
        let cases = [
            (json!(1), 0, false),
            (json!("x"), 0, false),
            (json!({}), 0, true),
            (json!({}), 1, false),
            (json!({"a": [1]}), 1, true),
            (json!({"a": [1]}), 2, false),
            (json!([[], [[]]]), 2, true),
            (json!([[], [[]]]), 3, false),
            (nested(32), MAX_DEPTH, false),
            (nested(33), MAX_DEPTH, true),
        ];
        for (value, limit, exceeds) in cases {
            assert_eq!(depth_exceeds(&value, limit), exceeds, "{value} against {limit}");
        }
    }

    #[test]
    fn size_stops_at_the_limit() {
        assert_eq!(json_size_within(&json!({"a": 1}), 100), Some(7));
        assert_eq!(json_size_within(&json!({"a": 1}), 7), Some(7));
        assert_eq!(json_size_within(&json!({"a": 1}), 6), None);
        assert_eq!(json_size_within(&"x".repeat(1 << 20), MAX_FLAG_BYTES), None);
    }
}
