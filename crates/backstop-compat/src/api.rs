//! OpenAPI 3.x: the operations a client's description calls, checked against a server's
//! description. Requests are written by the client and read by the server; responses the other
//! way round.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::finding::{Direction, Raw, escape};
use crate::parse::deref;
use crate::schema::{Issue, Seen, compare};

const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch", "trace"];
pub(crate) const DOCUMENT: &str = "openapi";

/// Where a schema is read: it decides which rule an issue is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ctx {
    Request,
    Response,
    Message,
}

/// The rule id and message of an issue found where `ctx` says; `None`: not a concern there.
pub(crate) fn rule_for(ctx: Ctx, issue: &Issue) -> Option<(&'static str, String)> {
    use Ctx::*;
    Some(match (ctx, issue) {
        (Request, Issue::Required { field, .. }) => (
            "api.request-field-required-added",
            format!("the server requires `{field}`, which the client may not send"),
        ),
        (Response, Issue::Required { field, declared: false }) => {
            ("api.response-field-removed", format!("the client reads `{field}`, which the server no longer sends"))
        }
        (Response, Issue::Required { field, declared: true }) => (
            "api.response-field-optional",
            format!("the client requires `{field}`, which the server may now leave out"),
        ),
        (Message, Issue::Required { field, .. }) => {
            ("msg.required-field-removed", format!("the consumer requires `{field}`, which the producer may leave out"))
        }
        (Request, Issue::OptionalGone { .. }) => return None,
        (Response, Issue::OptionalGone { field }) => (
            "api.response-field-removed",
            format!("the client reads optional `{field}`, which the server no longer sends"),
        ),
        (Message, Issue::OptionalGone { field }) => {
            ("msg.field-removed", format!("the consumer reads optional `{field}`, which the producer no longer writes"))
        }
        (Request, Issue::Unknown { field }) => (
            "api.request-field-rejected",
            format!("the server's closed model rejects `{field}`, which the client sends"),
        ),
        (Response, Issue::Unknown { field }) => (
            "api.response-field-unexpected",
            format!("the client's closed model rejects `{field}`, which the server sends"),
        ),
        (Message, Issue::Unknown { field }) => (
            "msg.closed-model-field-added",
            format!("the consumer's closed model rejects `{field}`, which the producer writes"),
        ),
        (Request, Issue::Type { writer, reader }) => {
            ("api.type-narrowed", format!("the client sends {writer}, the server accepts {reader}"))
        }
        (Response, Issue::Type { writer, reader }) => {
            ("api.response-type-changed", format!("the server sends {writer}, the client reads {reader}"))
        }
        (Message, Issue::Type { writer, reader }) => {
            ("msg.type-changed", format!("the producer writes {writer}, the consumer reads {reader}"))
        }
        (Request, Issue::Enum { values }) => {
            ("api.enum-narrowed", format!("the server does not accept {}", values.join(", ")))
        }
        (Response, Issue::Enum { values }) => {
            ("api.response-enum-widened", format!("the client does not know {}", values.join(", ")))
        }
        (Message, Issue::Enum { values }) => {
            ("msg.enum-value-removed", format!("the consumer does not know {}", values.join(", ")))
        }
        (Request, Issue::Constraint { keyword, writer, reader }) => {
            ("api.constraint-narrowed", format!("{keyword}: the client may send {writer}, the server allows {reader}"))
        }
        // Clients seldom validate what they read; a tighter bound on their side is theirs to keep.
        (Response, Issue::Constraint { .. }) => return None,
        (Message, Issue::Constraint { keyword, writer, reader }) => (
            "msg.constraint-narrowed",
            format!("{keyword}: the producer may write {writer}, the consumer allows {reader}"),
        ),
        (Request | Response, Issue::Format { writer, reader }) => {
            ("api.format-changed", format!("written as format {writer}, read as {reader}"))
        }
        (Message, Issue::Format { writer, reader }) => {
            ("msg.format-changed", format!("written as format {writer}, read as {reader}"))
        }
    })
}

fn raws(ctx: Ctx, direction: Direction, document: &str, issues: Vec<(String, Issue)>, out: &mut Vec<Raw>) {
    for (path, issue) in issues {
        if let Some((id, message)) = rule_for(ctx, &issue) {
            out.push(Raw::new(id, direction, document, path, message));
        }
    }
}

/// A path template with its parameter names dropped: `/orders/{id}` and `/orders/{order}` match.
fn shape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut inside = false;
    for c in path.chars() {
        match c {
            '{' => {
                inside = true;
                out.push('{');
            }
            '}' => {
                inside = false;
                out.push('}');
            }
            _ if inside => {}
            c => out.push(c),
        }
    }
    out
}

struct Param<'a> {
    required: bool,
    schema: Option<&'a Value>,
}

/// An operation's parameters (path-level ones overridden by the operation's), by `(in, name)`.
fn params<'a>(root: &'a Value, item: &'a Value, op: &'a Value) -> BTreeMap<(String, String), Param<'a>> {
    let mut out = BTreeMap::new();
    for list in [item.get("parameters"), op.get("parameters")].into_iter().flatten() {
        for p in list.as_array().into_iter().flatten() {
            let p = deref(root, p);
            let (Some(name), Some(place)) =
                (p.get("name").and_then(Value::as_str), p.get("in").and_then(Value::as_str))
            else {
                continue;
            };
            let required = place == "path" || p.get("required") == Some(&Value::Bool(true));
            let schema = p.get("schema").or_else(|| {
                p.get("content")
                    .and_then(Value::as_object)
                    .and_then(|c| c.values().next())
                    .and_then(|m| m.get("schema"))
            });
            out.insert((place.to_owned(), name.to_owned()), Param { required, schema });
        }
    }
    out
}

/// The media type of `content` that takes `media`: the same one, or a wildcard range.
fn media_match<'a>(content: &'a serde_json::Map<String, Value>, media: &str) -> Option<&'a Value> {
    if let Some(v) = content.get(media) {
        return Some(v);
    }
    let family = media.split('/').next().unwrap_or("");
    content.get(&format!("{family}/*")).or_else(|| content.get("*/*"))
}

fn status_known(responses: &serde_json::Map<String, Value>, code: &str) -> Option<String> {
    if responses.contains_key(code) {
        return Some(code.to_owned());
    }
    let range = format!("{}XX", code.chars().next().unwrap_or('0'));
    if responses.contains_key(&range) {
        return Some(range);
    }
    responses.contains_key("default").then(|| "default".to_owned())
}

/// Everything a client built on `client` would meet when talking to a server built on `server`.
pub(crate) fn compare_api(client: &Value, server: &Value, direction: Direction) -> Vec<Raw> {
    let mut out = Vec::new();
    let mut seen = Contexts::default();
    let empty = serde_json::Map::new();
    let client_paths = client.get("paths").and_then(Value::as_object).unwrap_or(&empty);
    let server_paths: BTreeMap<String, &Value> = server
        .get("paths")
        .and_then(Value::as_object)
        .unwrap_or(&empty)
        .iter()
        .map(|(k, v)| (shape(k), deref(server, v)))
        .collect();
    for (path, citem) in client_paths {
        let citem = deref(client, citem);
        let base = format!("/paths/{}", escape(path));
        let Some(sitem) = server_paths.get(&shape(path)) else {
            out.push(Raw::new("api.path-removed", direction, DOCUMENT, base, format!("the server has no {path}")));
            continue;
        };
        for method in METHODS {
            let Some(cop) = citem.get(*method) else { continue };
            let at = format!("{base}/{method}");
            let Some(sop) = sitem.get(*method) else {
                let message = format!("the server has no {} {path}", method.to_uppercase());
                out.push(Raw::new("api.method-removed", direction, DOCUMENT, at, message));
                continue;
            };
            operation(client, citem, cop, server, sitem, sop, direction, &at, &mut seen, &mut out);
        }
    }
    out
}

/// The schema pairs compared so far, per context: requests (client writes, server reads) and
/// responses (server writes, client reads) pair the documents the other way round.
#[derive(Default)]
struct Contexts {
    request: Seen,
    response: Seen,
}

#[expect(clippy::too_many_arguments, reason = "both sides of one operation, each with its document and path item")]
fn operation(
    croot: &Value,
    citem: &Value,
    cop: &Value,
    sroot: &Value,
    sitem: &Value,
    sop: &Value,
    direction: Direction,
    at: &str,
    seen: &mut Contexts,
    out: &mut Vec<Raw>,
) {
    let cparams = params(croot, citem, cop);
    let sparams = params(sroot, sitem, sop);
    for ((place, name), sp) in &sparams {
        let pat = format!("{at}/parameters/{place}/{}", escape(name));
        match cparams.get(&(place.clone(), name.clone())) {
            None | Some(Param { required: false, .. }) if sp.required && place != "path" => {
                let message = format!("the server requires {place} parameter `{name}`, which the client may not send");
                out.push(Raw::new("api.param-required-added", direction, DOCUMENT, pat, message));
            }
            Some(cp) => {
                if let (Some(cs), Some(ss)) = (cp.schema, sp.schema) {
                    let issues = compare(croot, cs, sroot, ss, &format!("{pat}/schema"), &mut seen.request);
                    raws(Ctx::Request, direction, DOCUMENT, issues, out);
                }
            }
            None => {}
        }
    }
    for (place, name) in cparams.keys() {
        if place != "path" && !sparams.contains_key(&(place.clone(), name.clone())) {
            let pat = format!("{at}/parameters/{place}/{}", escape(name));
            let message = format!("the server no longer reads {place} parameter `{name}`");
            out.push(Raw::new("api.param-removed", direction, DOCUMENT, pat, message));
        }
    }

    let cbody = cop.get("requestBody").map(|b| deref(croot, b));
    let sbody = sop.get("requestBody").map(|b| deref(sroot, b));
    let required = |b: Option<&Value>| b.is_some_and(|b| b.get("required") == Some(&Value::Bool(true)));
    let bat = format!("{at}/requestBody");
    if required(sbody) && !required(cbody) {
        let message = "the server requires a request body, which the client may not send".to_owned();
        out.push(Raw::new("api.request-body-required-added", direction, DOCUMENT, bat.clone(), message));
    }
    if let (Some(cb), Some(sb)) = (cbody, sbody) {
        let empty = serde_json::Map::new();
        let ccontent = cb.get("content").and_then(Value::as_object).unwrap_or(&empty);
        let scontent = sb.get("content").and_then(Value::as_object).unwrap_or(&empty);
        for (media, cm) in ccontent {
            let mat = format!("{bat}/content/{}", escape(media));
            match media_match(scontent, media) {
                None => {
                    let message = format!("the server no longer accepts {media} bodies");
                    out.push(Raw::new("api.request-media-type-removed", direction, DOCUMENT, mat, message));
                }
                Some(sm) => {
                    if let (Some(cs), Some(ss)) = (cm.get("schema"), sm.get("schema")) {
                        let issues = compare(croot, cs, sroot, ss, &format!("{mat}/schema"), &mut seen.request);
                        raws(Ctx::Request, direction, DOCUMENT, issues, out);
                    }
                }
            }
        }
    }

    let empty = serde_json::Map::new();
    let cresp = cop.get("responses").and_then(Value::as_object).unwrap_or(&empty);
    let sresp = sop.get("responses").and_then(Value::as_object).unwrap_or(&empty);
    for (code, sr) in sresp {
        let rat = format!("{at}/responses/{}", escape(code));
        let Some(known) = status_known(cresp, code) else {
            let message = format!("the server may answer {code}, which the client does not expect");
            out.push(Raw::new("api.response-status-added", direction, DOCUMENT, rat, message));
            continue;
        };
        let (cr, sr) = (deref(croot, &cresp[&known]), deref(sroot, sr));
        let (Some(ccontent), Some(scontent)) =
            (cr.get("content").and_then(Value::as_object), sr.get("content").and_then(Value::as_object))
        else {
            continue;
        };
        for (media, cm) in ccontent {
            let mat = format!("{rat}/content/{}", escape(media));
            match scontent.get(media) {
                None => {
                    let message = format!("the server no longer answers {code} as {media}");
                    out.push(Raw::new("api.response-media-type-removed", direction, DOCUMENT, mat, message));
                }
                Some(sm) => {
                    if let (Some(ss), Some(cs)) = (sm.get("schema"), cm.get("schema")) {
                        let issues = compare(sroot, ss, croot, cs, &format!("{mat}/schema"), &mut seen.response);
                        raws(Ctx::Response, direction, DOCUMENT, issues, out);
                    }
                }
            }
        }
    }
}
