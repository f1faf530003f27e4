//! The one question under every rule: does the reader's schema accept everything the writer's
//! may produce? Both sides' `$ref`s are followed; a pair of schemas already being compared is not
//! compared again, so recursive schemas end.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde_json::Value;

use crate::finding::escape;
use crate::parse::{MAX_DEPTH, deref};

/// What the reader would reject of the writer's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Issue {
    /// The reader requires a property the writer may leave out; `declared`: the writer still
    /// declares it (as optional).
    Required {
        field: String,
        declared: bool,
    },
    /// A property the reader declares (optionally) that the writer no longer declares.
    OptionalGone {
        field: String,
    },
    /// The writer declares a property a closed reader (`additionalProperties: false`) does not.
    Unknown {
        field: String,
    },
    Type {
        writer: String,
        reader: String,
    },
    Enum {
        values: Vec<String>,
    },
    Constraint {
        keyword: &'static str,
        writer: String,
        reader: String,
    },
    Format {
        writer: String,
        reader: String,
    },
}

/// One issue with the JSON pointer (relative to the compared schema) where it sits.
pub(crate) type Located = (String, Issue);

/// The pairs of schemas (writer, reader) already compared. One set serves every comparison of a
/// document pair in one direction and context, so a schema that a thousand operations name is
/// compared once (and its issues reported once, where it was first reached), not a thousand times.
#[derive(Default)]
pub(crate) struct Seen(HashSet<(*const Value, *const Value)>);

/// Compare `writer` (in document `wroot`) with `reader` (in `rroot`); issues located below `path`.
/// Pairs in `seen` are not compared again.
pub(crate) fn compare(
    wroot: &Value,
    writer: &Value,
    rroot: &Value,
    reader: &Value,
    path: &str,
    seen: &mut Seen,
) -> Vec<Located> {
    let mut c = Cmp { wroot, rroot, seen, out: Vec::new() };
    c.schema(writer, reader, path.to_owned(), 0);
    c.out
}

struct Cmp<'a, 's> {
    wroot: &'a Value,
    rroot: &'a Value,
    seen: &'s mut Seen,
    out: Vec<Located>,
}

/// A schema's object view with `allOf` folded in.
#[derive(Default)]
struct ObjectView<'a> {
    properties: BTreeMap<&'a str, &'a Value>,
    required: BTreeSet<&'a str>,
    closed: bool,
    additional: Option<&'a Value>,
}

/// Fold `s` and the `allOf` parts it reaches into `view`. Each schema is folded once (`seen`),
/// so parts that name their own schema, or one schema twice, end; nesting stops at the bound.
fn object_view<'a>(
    root: &'a Value,
    s: &'a Value,
    view: &mut ObjectView<'a>,
    seen: &mut HashSet<*const Value>,
    hops: usize,
) {
    let s = deref(root, s);
    if hops > MAX_DEPTH || !seen.insert(s as *const Value) {
        return;
    }
    if let Some(props) = s.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            view.properties.entry(k.as_str()).or_insert(v);
        }
    }
    if let Some(req) = s.get("required").and_then(Value::as_array) {
        view.required.extend(req.iter().filter_map(Value::as_str));
    }
    match s.get("additionalProperties") {
        Some(Value::Bool(false)) => view.closed = true,
        Some(v @ Value::Object(_)) => view.additional = Some(v),
        _ => {}
    }
    if let Some(all) = s.get("allOf").and_then(Value::as_array) {
        for part in all {
            object_view(root, part, view, seen, hops + 1);
        }
    }
}

/// The JSON types a schema admits (`None`: any). OpenAPI 3.0's `nullable: true` admits null.
fn types<'a>(root: &'a Value, s: &'a Value) -> Option<BTreeSet<&'a str>> {
    types_in(root, s, &mut HashSet::new(), 0)
}

/// `types`, following `allOf` parts that carry no type of their own: each schema once (`seen`),
/// so a part naming its own schema ends, and no deeper than the bound.
fn types_in<'a>(
    root: &'a Value,
    s: &'a Value,
    seen: &mut HashSet<*const Value>,
    hops: usize,
) -> Option<BTreeSet<&'a str>> {
    if hops > MAX_DEPTH || !seen.insert(s as *const Value) {
        return None;
    }
    let mut set: BTreeSet<&str> = match s.get("type") {
        Some(Value::String(t)) => [t.as_str()].into(),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => {
            // allOf parts may carry the type.
            let all = s.get("allOf").and_then(Value::as_array)?;
            let mut found = None;
            for part in all {
                if let Some(t) = types_in(root, deref(root, part), seen, hops + 1) {
                    found = Some(t);
                }
            }
            found?
        }
    };
    if s.get("nullable") == Some(&Value::Bool(true)) {
        set.insert("null");
    }
    Some(set)
}

fn enum_values(s: &Value) -> Option<Vec<&Value>> {
    if let Some(c) = s.get("const") {
        return Some(vec![c]);
    }
    s.get("enum").and_then(Value::as_array).map(|v| v.iter().collect())
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn show_types(t: &Option<BTreeSet<&str>>) -> String {
    match t {
        None => "any".into(),
        Some(t) => t.iter().copied().collect::<Vec<_>>().join("|"),
    }
}

/// Upper bounds: the reader must allow at least what the writer may send.
const UPPER: &[&str] = &["maxLength", "maximum", "exclusiveMaximum", "maxItems", "maxProperties"];
/// Lower bounds.
const LOWER: &[&str] = &["minLength", "minimum", "exclusiveMinimum", "minItems", "minProperties"];

impl<'a> Cmp<'a, '_> {
    fn push(&mut self, path: &str, issue: Issue) {
        self.out.push((path.to_owned(), issue));
    }

    fn schema(&mut self, writer: &'a Value, reader: &'a Value, path: String, level: usize) {
        let (w, r) = (deref(self.wroot, writer), deref(self.rroot, reader));
        if level > MAX_DEPTH || !self.seen.0.insert((w as *const Value, r as *const Value)) {
            return;
        }
        // `true`, `{}`: the reader accepts anything.
        if r == &Value::Bool(true) || r.as_object().is_some_and(|o| o.is_empty()) {
            return;
        }
        // Alternatives are not compared branch by branch: only their folded type sets below.
        let (wt, rt) = (types(self.wroot, w), types(self.rroot, r));
        if let Some(reader_types) = &rt {
            let accepted = |t: &str| reader_types.contains(t) || (t == "integer" && reader_types.contains("number"));
            let ok = match &wt {
                Some(writer_types) => writer_types.iter().all(|t| accepted(t)),
                // A writer without a type whose values are all listed is judged by them below.
                None => enum_values(w).is_some(),
            };
            if !ok {
                self.push(&path, Issue::Type { writer: show_types(&wt), reader: show_types(&rt) });
                return;
            }
        }
        if let Some(allowed) = enum_values(r) {
            match enum_values(w) {
                Some(written) => {
                    let missing: Vec<String> =
                        written.iter().filter(|v| !allowed.contains(v)).map(|v| show(v)).collect();
                    if !missing.is_empty() {
                        self.push(&path, Issue::Enum { values: missing });
                    }
                }
                None => self.push(&path, Issue::Enum { values: vec!["any value".into()] }),
            }
        }
        if let (Some(wf), Some(rf)) = (w.get("format").and_then(Value::as_str), r.get("format").and_then(Value::as_str))
        {
            if wf != rf {
                self.push(&path, Issue::Format { writer: wf.into(), reader: rf.into() });
            }
        }
        self.constraints(w, r, &path);
        self.objects(w, r, &path, level);
        if let (Some(wi), Some(ri)) = (w.get("items"), r.get("items")) {
            self.schema(wi, ri, format!("{path}/items"), level + 1);
        }
    }

    fn constraints(&mut self, w: &Value, r: &Value, path: &str) {
        for (keywords, reader_narrower) in [(UPPER, true), (LOWER, false)] {
            for &k in keywords {
                let Some(rv) = r.get(k).and_then(Value::as_f64) else { continue };
                let wv = w.get(k).and_then(Value::as_f64);
                let narrowed = match wv {
                    None => true,
                    Some(wv) => {
                        if reader_narrower {
                            rv < wv
                        } else {
                            rv > wv
                        }
                    }
                };
                if narrowed {
                    let writer = wv.map(|v| v.to_string()).unwrap_or_else(|| "unbounded".into());
                    self.push(path, Issue::Constraint { keyword: k, writer, reader: rv.to_string() });
                }
            }
        }
        if let Some(rp) = r.get("pattern").and_then(Value::as_str) {
            let wp = w.get("pattern").and_then(Value::as_str);
            if wp != Some(rp) && enum_values(w).is_none() {
                let writer = wp.unwrap_or("any text").to_owned();
                self.push(path, Issue::Constraint { keyword: "pattern", writer, reader: rp.into() });
            }
        }
    }

    fn objects(&mut self, w: &'a Value, r: &'a Value, path: &str, level: usize) {
        let mut wv = ObjectView::default();
        let mut rv = ObjectView::default();
        object_view(self.wroot, w, &mut wv, &mut HashSet::new(), 0);
        object_view(self.rroot, r, &mut rv, &mut HashSet::new(), 0);
        for field in &rv.required {
            if !wv.required.contains(field) {
                let at = format!("{path}/properties/{}", escape(field));
                self.push(&at, Issue::Required { field: (*field).into(), declared: wv.properties.contains_key(field) });
            }
        }
        for field in rv.properties.keys() {
            if !wv.properties.contains_key(field) && !rv.required.contains(field) && !wv.properties.is_empty() {
                let at = format!("{path}/properties/{}", escape(field));
                self.push(&at, Issue::OptionalGone { field: (*field).into() });
            }
        }
        for (field, ws) in &wv.properties {
            let at = format!("{path}/properties/{}", escape(field));
            match rv.properties.get(field) {
                Some(rs) => self.schema(ws, rs, at, level + 1),
                None => match rv.additional {
                    Some(extra) => self.schema(ws, extra, at, level + 1),
                    None if rv.closed => self.push(&at, Issue::Unknown { field: (*field).into() }),
                    None => {}
                },
            }
        }
        if let (Some(wa), Some(ra)) = (wv.additional, rv.additional) {
            self.schema(wa, ra, format!("{path}/additionalProperties"), level + 1);
        }
    }
}
