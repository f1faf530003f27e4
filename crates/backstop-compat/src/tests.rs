//! The labelled table: pairs of OpenAPI and JSON Schema revisions with exactly the findings
//! (rule, direction) each must give, so a rule that fires where it should not fails as surely
//! as one that stays silent.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::*;

const O2N: Direction = Direction::OldClientToNewServer;
const N2O: Direction = Direction::NewClientToOldServer;
const NP: Direction = Direction::NewProducerToOldConsumer;
const OP: Direction = Direction::OldProducerToNewConsumer;

fn api_doc(paths: Value, components: Value) -> Contracts {
    Contracts {
        api: Some(
            json!({"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": paths, "components": components}),
        ),
        ..Contracts::default()
    }
}

fn api(paths: Value) -> Contracts {
    api_doc(paths, json!({}))
}

fn ok() -> Value {
    json!({"200": {"description": "ok"}})
}

fn body_with(required: bool, content: Value) -> Contracts {
    api(json!({"/orders": {"post": {"requestBody": {"required": required, "content": content}, "responses": ok()}}}))
}

fn body(schema: Value) -> Contracts {
    body_with(true, json!({"application/json": {"schema": schema}}))
}

fn resp(schema: Value) -> Contracts {
    api(
        json!({"/orders": {"get": {"responses": {"200": {"description": "ok", "content": {"application/json": {"schema": schema}}}}}}}),
    )
}

fn responses(codes: Value) -> Contracts {
    api(json!({"/orders": {"get": {"responses": codes}}}))
}

fn params(list: Value) -> Contracts {
    api(json!({"/orders": {"get": {"parameters": list, "responses": ok()}}}))
}

fn q(name: &str, required: bool, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": required, "schema": schema})
}

fn obj(props: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": props, "required": required})
}

fn closed(props: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": props, "required": required, "additionalProperties": false})
}

/// An app that produces and consumes the message `order`.
fn msg(schema: Value) -> Contracts {
    Contracts {
        produces: [("order".to_owned(), schema.clone())].into(),
        consumes: [("order".to_owned(), schema)].into(),
        ..Contracts::default()
    }
}

fn produces(schema: Value) -> Contracts {
    Contracts { produces: [("order".to_owned(), schema)].into(), ..Contracts::default() }
}

fn consumes(schema: Value) -> Contracts {
    Contracts { consumes: [("order".to_owned(), schema)].into(), ..Contracts::default() }
}

fn s() -> Value {
    json!({"type": "string"})
}

fn int() -> Value {
    json!({"type": "integer"})
}

fn order() -> Value {
    obj(json!({"id": s(), "total": int()}), &["id", "total"])
}

type Case = (&'static str, Contracts, Contracts, Vec<(&'static str, Direction)>);

fn cases() -> Vec<Case> {
    let p2 = |a: &str, b: &str| api(json!({a: {"get": {"responses": ok()}}, b: {"get": {"responses": ok()}}}));
    let p1 = |a: &str| api(json!({a: {"get": {"responses": ok()}}}));
    let methods = |ms: &[&str]| {
        let mut item = serde_json::Map::new();
        for m in ms {
            item.insert((*m).to_owned(), json!({"responses": ok()}));
        }
        api(json!({"/orders": Value::Object(item)}))
    };
    let en = |vals: &[&str]| json!({"type": "string", "enum": vals});
    let field = |schema: Value| obj(json!({"x": schema}), &["x"]);
    let recursive = |required: &[&str]| {
        api_doc(
            json!({"/nodes": {"post": {"requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Node"}}}}, "responses": ok()}}}),
            json!({"schemas": {"Node": {"type": "object", "required": required, "properties": {"name": s(), "child": {"$ref": "#/components/schemas/Node"}}}}}),
        )
    };
    let via_ref = |schema: Value| {
        api_doc(
            json!({"/orders": {"post": {"requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Order"}}}}, "responses": ok()}}}),
            json!({"schemas": {"Order": schema}}),
        )
    };
    let resp_ref = |schema: Value| {
        api_doc(
            json!({"/orders": {"get": {"responses": {"200": {"$ref": "#/components/responses/Order"}}}}}),
            json!({"responses": {"Order": {"description": "ok", "content": {"application/json": {"schema": schema}}}}}),
        )
    };
    let all_of = |req: &[&str]| body(json!({"allOf": [obj(json!({"a": s()}), &[]), obj(json!({"b": s()}), req)]}));
    let path_param = |template: &str, name: &str| {
        api(
            json!({template: {"get": {"parameters": [{"name": name, "in": "path", "required": true, "schema": s()}], "responses": ok()}}}),
        )
    };
    let path_level = |required: bool| {
        api(json!({"/orders": {"parameters": [q("tenant", required, s())], "get": {"responses": ok()}}}))
    };
    let header = |with: bool| {
        let list = if with {
            json!([{"name": "X-Tenant", "in": "header", "required": true, "schema": s()}])
        } else {
            json!([])
        };
        params(list)
    };
    let msg_defs = |required: &[&str]| {
        msg(json!({"$defs": {"line": obj(json!({"sku": s(), "qty": int()}), required)},
                   "type": "object", "properties": {"lines": {"type": "array", "items": {"$ref": "#/$defs/line"}}}}))
    };

    vec![
        // Paths and methods.
        ("api identical", api(json!({"/orders": {"get": {"responses": ok()}}})), p1("/orders"), vec![]),
        ("api path removed", p2("/orders", "/users"), p1("/orders"), vec![("api.path-removed", O2N)]),
        (
            "api path added: the new client calls it on the old server",
            p1("/orders"),
            p2("/orders", "/users"),
            vec![("api.path-removed", N2O)],
        ),
        (
            "api path parameter renamed is the same path",
            path_param("/orders/{id}", "id"),
            path_param("/orders/{orderId}", "orderId"),
            vec![],
        ),
        ("api method removed", methods(&["get", "post"]), methods(&["get"]), vec![("api.method-removed", O2N)]),
        ("api method added", methods(&["get"]), methods(&["get", "delete"]), vec![("api.method-removed", N2O)]),
        ("api method order does not matter", methods(&["post", "get"]), methods(&["get", "post"]), vec![]),
        // Parameters.
        (
            "api required query parameter added",
            params(json!([])),
            params(json!([q("limit", true, int())])),
            vec![("api.param-required-added", O2N), ("api.param-removed", N2O)],
        ),
        (
            "api optional query parameter added",
            params(json!([])),
            params(json!([q("limit", false, int())])),
            vec![("api.param-removed", N2O)],
        ),
        (
            "api parameter becomes required",
            params(json!([q("limit", false, int())])),
            params(json!([q("limit", true, int())])),
            vec![("api.param-required-added", O2N)],
        ),
        (
            "api parameter becomes optional",
            params(json!([q("limit", true, int())])),
            params(json!([q("limit", false, int())])),
            vec![("api.param-required-added", N2O)],
        ),
        (
            "api optional parameter removed",
            params(json!([q("limit", false, int())])),
            params(json!([])),
            vec![("api.param-removed", O2N)],
        ),
        (
            "api parameter unchanged",
            params(json!([q("limit", true, int())])),
            params(json!([q("limit", true, int())])),
            vec![],
        ),
        (
            "api parameter widened integer to number",
            params(json!([q("limit", false, int())])),
            params(json!([q("limit", false, json!({"type": "number"}))])),
            vec![("api.type-narrowed", N2O)],
        ),
        (
            "api parameter narrowed number to integer",
            params(json!([q("limit", false, json!({"type": "number"}))])),
            params(json!([q("limit", false, int())])),
            vec![("api.type-narrowed", O2N)],
        ),
        (
            "api parameter enum value removed",
            params(json!([q("sort", false, en(&["a", "b", "c"]))])),
            params(json!([q("sort", false, en(&["a", "b"]))])),
            vec![("api.enum-narrowed", O2N)],
        ),
        (
            "api parameter enum value added",
            params(json!([q("sort", false, en(&["a", "b"]))])),
            params(json!([q("sort", false, en(&["a", "b", "c"]))])),
            vec![("api.enum-narrowed", N2O)],
        ),
        (
            "api parameter maxLength lowered",
            params(json!([q("n", false, json!({"type": "string", "maxLength": 100}))])),
            params(json!([q("n", false, json!({"type": "string", "maxLength": 50}))])),
            vec![("api.constraint-narrowed", O2N)],
        ),
        (
            "api parameter maximum raised",
            params(json!([q("n", false, json!({"type": "integer", "maximum": 10}))])),
            params(json!([q("n", false, json!({"type": "integer", "maximum": 20}))])),
            vec![("api.constraint-narrowed", N2O)],
        ),
        (
            "api required header added",
            header(false),
            header(true),
            vec![("api.param-required-added", O2N), ("api.param-removed", N2O)],
        ),
        ("api path-level parameter unchanged", path_level(true), path_level(true), vec![]),
        (
            "api path-level parameter becomes required",
            path_level(false),
            path_level(true),
            vec![("api.param-required-added", O2N)],
        ),
        // Request bodies.
        (
            "api request body becomes required",
            body_with(false, json!({"application/json": {"schema": order()}})),
            body(order()),
            vec![("api.request-body-required-added", O2N)],
        ),
        (
            "api request body becomes optional",
            body(order()),
            body_with(false, json!({"application/json": {"schema": order()}})),
            vec![("api.request-body-required-added", N2O)],
        ),
        ("api request body unchanged", body(order()), body(order()), vec![]),
        (
            "api required body field added",
            body(obj(json!({"a": s()}), &["a"])),
            body(obj(json!({"a": s(), "b": s()}), &["a", "b"])),
            vec![("api.request-field-required-added", O2N)],
        ),
        (
            "api optional body field added to an open model",
            body(obj(json!({"a": s()}), &["a"])),
            body(obj(json!({"a": s(), "b": s()}), &["a"])),
            vec![],
        ),
        (
            "api body field made optional",
            body(obj(json!({"a": s(), "b": s()}), &["a", "b"])),
            body(obj(json!({"a": s(), "b": s()}), &["a"])),
            vec![("api.request-field-required-added", N2O)],
        ),
        (
            "api optional field added to a closed server model",
            body(closed(json!({"a": s()}), &[])),
            body(closed(json!({"a": s(), "b": s()}), &[])),
            vec![("api.request-field-rejected", N2O)],
        ),
        (
            "api field removed from a closed server model",
            body(closed(json!({"a": s(), "b": s()}), &[])),
            body(closed(json!({"a": s()}), &[])),
            vec![("api.request-field-rejected", O2N)],
        ),
        (
            "api closed model unchanged",
            body(closed(json!({"a": s()}), &[])),
            body(closed(json!({"a": s()}), &[])),
            vec![],
        ),
        (
            "api body field narrowed number to integer",
            body(field(json!({"type": "number"}))),
            body(field(int())),
            vec![("api.type-narrowed", O2N)],
        ),
        (
            "api body field string to integer",
            body(field(s())),
            body(field(int())),
            vec![("api.type-narrowed", O2N), ("api.type-narrowed", N2O)],
        ),
        (
            "api nullable dropped (3.0)",
            body(field(json!({"type": "string", "nullable": true}))),
            body(field(s())),
            vec![("api.type-narrowed", O2N)],
        ),
        (
            "api null dropped from a type list (3.1)",
            body(field(json!({"type": ["string", "null"]}))),
            body(field(s())),
            vec![("api.type-narrowed", O2N)],
        ),
        (
            "api body enum value removed",
            body(field(en(&["new", "paid"]))),
            body(field(en(&["new"]))),
            vec![("api.enum-narrowed", O2N)],
        ),
        (
            "api body enum value added",
            body(field(en(&["new"]))),
            body(field(en(&["new", "paid"]))),
            vec![("api.enum-narrowed", N2O)],
        ),
        (
            "api request media type replaced",
            body_with(true, json!({"application/json": {"schema": order()}})),
            body_with(true, json!({"application/xml": {"schema": order()}})),
            vec![("api.request-media-type-removed", O2N), ("api.request-media-type-removed", N2O)],
        ),
        (
            "api request media type added",
            body_with(true, json!({"application/json": {"schema": order()}})),
            body_with(true, json!({"application/json": {"schema": order()}, "text/csv": {"schema": s()}})),
            vec![("api.request-media-type-removed", N2O)],
        ),
        (
            "api server wildcard media type takes json",
            body_with(true, json!({"application/json": {"schema": order()}})),
            body_with(true, json!({"application/json": {"schema": order()}, "*/*": {"schema": order()}})),
            vec![("api.request-media-type-removed", N2O)],
        ),
        ("api inline schema moved to components", body(order()), via_ref(order()), vec![]),
        (
            "api field required in a referenced component",
            via_ref(obj(json!({"a": s()}), &[])),
            via_ref(obj(json!({"a": s()}), &["a"])),
            vec![("api.request-field-required-added", O2N)],
        ),
        (
            "api allOf part gains a required field",
            all_of(&[]),
            all_of(&["b"]),
            vec![("api.request-field-required-added", O2N)],
        ),
        ("api allOf unchanged", all_of(&["b"]), all_of(&["b"]), vec![]),
        (
            "api body format changed",
            body(field(json!({"type": "string", "format": "date"}))),
            body(field(json!({"type": "string", "format": "date-time"}))),
            vec![("api.format-changed", O2N), ("api.format-changed", N2O)],
        ),
        (
            "api body pattern added",
            body(field(s())),
            body(field(json!({"type": "string", "pattern": "^[a-z]+$"}))),
            vec![("api.constraint-narrowed", O2N)],
        ),
        (
            "api body minLength raised",
            body(field(json!({"type": "string", "minLength": 1}))),
            body(field(json!({"type": "string", "minLength": 3}))),
            vec![("api.constraint-narrowed", O2N)],
        ),
        (
            "api body minimum lowered",
            body(field(json!({"type": "integer", "minimum": 1}))),
            body(field(json!({"type": "integer", "minimum": 0}))),
            vec![("api.constraint-narrowed", N2O)],
        ),
        (
            "api array items narrowed",
            body(field(json!({"type": "array", "items": {"type": "number"}}))),
            body(field(json!({"type": "array", "items": int()}))),
            vec![("api.type-narrowed", O2N)],
        ),
        ("api recursive schema unchanged", recursive(&["name"]), recursive(&["name"]), vec![]),
        (
            "api recursive schema gains a required field",
            recursive(&[]),
            recursive(&["name"]),
            vec![("api.request-field-required-added", O2N)],
        ),
        // Responses.
        ("api response unchanged", resp(order()), resp(order()), vec![]),
        (
            "api required response field removed",
            resp(obj(json!({"id": s(), "name": s()}), &["id", "name"])),
            resp(obj(json!({"id": s()}), &["id"])),
            vec![("api.response-field-removed", O2N)],
        ),
        (
            "api optional response field added",
            resp(obj(json!({"id": s()}), &["id"])),
            resp(obj(json!({"id": s(), "name": s()}), &["id"])),
            vec![("api.response-field-removed", N2O)],
        ),
        (
            "api required response field added",
            resp(obj(json!({"id": s()}), &["id"])),
            resp(obj(json!({"id": s(), "name": s()}), &["id", "name"])),
            vec![("api.response-field-removed", N2O)],
        ),
        (
            "api response field made optional",
            resp(obj(json!({"id": s(), "name": s()}), &["id", "name"])),
            resp(obj(json!({"id": s(), "name": s()}), &["id"])),
            vec![("api.response-field-optional", O2N)],
        ),
        (
            "api optional response field removed",
            resp(obj(json!({"id": s(), "nick": s()}), &["id"])),
            resp(obj(json!({"id": s()}), &["id"])),
            vec![("api.response-field-removed", O2N)],
        ),
        (
            "api response field type changed",
            resp(field(int())),
            resp(field(s())),
            vec![("api.response-type-changed", O2N), ("api.response-type-changed", N2O)],
        ),
        (
            "api response enum value added",
            resp(field(en(&["a", "b"]))),
            resp(field(en(&["a", "b", "c"]))),
            vec![("api.response-enum-widened", O2N)],
        ),
        (
            "api response enum value removed",
            resp(field(en(&["a", "b", "c"]))),
            resp(field(en(&["a", "b"]))),
            vec![("api.response-enum-widened", N2O)],
        ),
        (
            "api closed client model meets a new response field",
            resp(closed(json!({"id": s()}), &["id"])),
            resp(closed(json!({"id": s(), "extra": s()}), &["id"])),
            vec![("api.response-field-unexpected", O2N), ("api.response-field-removed", N2O)],
        ),
        (
            "api response status added",
            responses(ok()),
            responses(json!({"200": {"description": "ok"}, "429": {"description": "slow down"}})),
            vec![("api.response-status-added", O2N)],
        ),
        (
            "api response status added under a default",
            responses(json!({"200": {"description": "ok"}, "default": {"description": "error"}})),
            responses(
                json!({"200": {"description": "ok"}, "429": {"description": "slow down"}, "default": {"description": "error"}}),
            ),
            vec![],
        ),
        (
            "api response status inside a range",
            responses(json!({"2XX": {"description": "ok"}})),
            responses(json!({"2XX": {"description": "ok"}, "201": {"description": "created"}})),
            vec![],
        ),
        (
            "api response media type removed",
            responses(
                json!({"200": {"description": "ok", "content": {"application/json": {"schema": order()}, "application/xml": {"schema": order()}}}}),
            ),
            resp(order()),
            vec![("api.response-media-type-removed", O2N)],
        ),
        (
            "api response bound narrowed is not the client's concern",
            resp(field(json!({"type": "string", "maxLength": 10}))),
            resp(field(json!({"type": "string", "maxLength": 5}))),
            vec![],
        ),
        (
            "api response format changed",
            resp(field(json!({"type": "string", "format": "uuid"}))),
            resp(field(json!({"type": "string", "format": "uri"}))),
            vec![("api.format-changed", O2N), ("api.format-changed", N2O)],
        ),
        (
            "api response field removed from a referenced response",
            resp_ref(obj(json!({"id": s(), "total": int()}), &["id", "total"])),
            resp_ref(obj(json!({"id": s()}), &["id"])),
            vec![("api.response-field-removed", O2N)],
        ),
        // Messages.
        ("msg identical", msg(order()), msg(order()), vec![]),
        (
            "msg required field made optional",
            msg(order()),
            msg(obj(json!({"id": s(), "total": int()}), &["id"])),
            vec![("msg.required-field-removed", NP)],
        ),
        (
            "msg required field dropped",
            msg(order()),
            msg(obj(json!({"id": s()}), &["id"])),
            vec![("msg.required-field-removed", NP)],
        ),
        (
            "msg required field added",
            msg(order()),
            msg(obj(json!({"id": s(), "total": int(), "currency": s()}), &["id", "total", "currency"])),
            vec![("msg.required-field-removed", OP)],
        ),
        (
            "msg optional field added",
            msg(order()),
            msg(obj(json!({"id": s(), "total": int(), "note": s()}), &["id", "total"])),
            vec![("msg.field-removed", OP)],
        ),
        (
            "msg optional field removed",
            msg(obj(json!({"id": s(), "note": s()}), &["id"])),
            msg(obj(json!({"id": s()}), &["id"])),
            vec![("msg.field-removed", NP)],
        ),
        (
            "msg field type changed",
            msg(field(int())),
            msg(field(s())),
            vec![("msg.type-changed", NP), ("msg.type-changed", OP)],
        ),
        (
            "msg field widened integer to number",
            msg(field(int())),
            msg(field(json!({"type": "number"}))),
            vec![("msg.type-changed", NP)],
        ),
        (
            "msg enum value added",
            msg(field(en(&["new", "paid"]))),
            msg(field(en(&["new", "paid", "refunded"]))),
            vec![("msg.enum-value-removed", NP)],
        ),
        (
            "msg enum value removed",
            msg(field(en(&["new", "paid"]))),
            msg(field(en(&["new"]))),
            vec![("msg.enum-value-removed", OP)],
        ),
        ("msg enum unchanged", msg(field(en(&["new", "paid"]))), msg(field(en(&["paid", "new"]))), vec![]),
        (
            "msg closed model gains a field",
            msg(closed(json!({"id": s()}), &["id"])),
            msg(closed(json!({"id": s(), "x": s()}), &["id"])),
            vec![("msg.closed-model-field-added", NP), ("msg.field-removed", OP)],
        ),
        (
            "msg closed model unchanged",
            msg(closed(json!({"id": s()}), &["id"])),
            msg(closed(json!({"id": s()}), &["id"])),
            vec![],
        ),
        (
            "msg model closed by the new consumer",
            msg(obj(json!({"id": s()}), &["id"])),
            msg(closed(json!({"id": s()}), &["id"])),
            vec![],
        ),
        (
            "msg maxLength lowered",
            msg(field(json!({"type": "string", "maxLength": 100}))),
            msg(field(json!({"type": "string", "maxLength": 50}))),
            vec![("msg.constraint-narrowed", OP)],
        ),
        (
            "msg maximum lowered for the old producer's values",
            msg(field(json!({"type": "integer", "maximum": 10}))),
            msg(field(json!({"type": "integer", "maximum": 9}))),
            vec![("msg.constraint-narrowed", OP)],
        ),
        (
            "msg format changed",
            msg(field(json!({"type": "string", "format": "date"}))),
            msg(field(json!({"type": "string", "format": "date-time"}))),
            vec![("msg.format-changed", NP), ("msg.format-changed", OP)],
        ),
        (
            "msg produced only: consumers elsewhere read the old schema",
            produces(order()),
            produces(obj(json!({"id": s()}), &["id"])),
            vec![("msg.required-field-removed", NP)],
        ),
        ("msg produced only, unchanged", produces(order()), produces(order()), vec![]),
        (
            "msg consumed only: producers elsewhere write the old schema",
            consumes(order()),
            consumes(obj(json!({"id": s(), "total": int(), "currency": s()}), &["id", "total", "currency"])),
            vec![("msg.required-field-removed", OP)],
        ),
        ("msg no longer produced", msg(order()), consumes(order()), vec![("msg.message-removed", NP)]),
        ("msg new message produced", Contracts::default(), produces(order()), vec![]),
        (
            "msg nested field made optional in a definition",
            msg_defs(&["sku", "qty"]),
            msg_defs(&["sku"]),
            vec![("msg.required-field-removed", NP)],
        ),
        ("msg nested definition unchanged", msg_defs(&["sku"]), msg_defs(&["sku"]), vec![]),
        (
            "msg array item enum value added",
            msg(field(json!({"type": "array", "items": en(&["a"])}))),
            msg(field(json!({"type": "array", "items": en(&["a", "b"])}))),
            vec![("msg.enum-value-removed", NP)],
        ),
        (
            "msg additionalProperties schema changed",
            msg(json!({"type": "object", "additionalProperties": int()})),
            msg(json!({"type": "object", "additionalProperties": s()})),
            vec![("msg.type-changed", NP), ("msg.type-changed", OP)],
        ),
        (
            "msg const changed",
            msg(field(json!({"const": "v1"}))),
            msg(field(json!({"const": "v2"}))),
            vec![("msg.enum-value-removed", NP), ("msg.enum-value-removed", OP)],
        ),
        (
            "msg producer may now write null",
            msg(field(s())),
            msg(field(json!({"type": ["string", "null"]}))),
            vec![("msg.type-changed", NP)],
        ),
        ("msg consumer starts checking a type", msg(field(json!({}))), msg(field(s())), vec![("msg.type-changed", OP)]),
        ("msg consumer stops checking a type", msg(field(s())), msg(field(json!({}))), vec![("msg.type-changed", NP)]),
        (
            "msg integer read as number",
            msg(field(json!({"type": "number"}))),
            msg(field(json!({"type": "number"}))),
            vec![],
        ),
    ]
}

fn got(old: &Contracts, new: &Contracts) -> Vec<(String, Direction)> {
    let set: BTreeSet<(String, Direction)> =
        compare(RevisionContracts { revision: 1, contracts: old }, RevisionContracts { revision: 2, contracts: new })
            .into_iter()
            .map(|f| (f.rule, f.direction))
            .collect();
    set.into_iter().collect()
}

#[test]
fn labelled_pairs() {
    let cases = cases();
    assert!(cases.len() >= 80, "the table has {} cases", cases.len());
    let mut failures = Vec::new();
    let mut fired = BTreeSet::new();
    for (label, old, new, want) in &cases {
        let want: BTreeSet<(String, Direction)> = want.iter().map(|(r, d)| ((*r).to_owned(), *d)).collect();
        let want: Vec<_> = want.into_iter().collect();
        let got = got(old, new);
        fired.extend(got.iter().map(|(r, _)| r.clone()));
        if got != want {
            failures.push(format!("{label}:\n  want {want:?}\n  got  {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
    let silent: Vec<&str> = RULES.iter().map(|r| r.id).filter(|id| !fired.contains(*id)).collect();
    assert!(silent.is_empty(), "rules that no case fires: {silent:?}");
}

#[test]
fn findings_name_path_document_and_revisions() {
    let old = body(obj(json!({"a": s()}), &["a"]));
    let new = body(obj(json!({"a": s(), "b": s()}), &["a", "b"]));
    let f =
        compare(RevisionContracts { revision: 4, contracts: &old }, RevisionContracts { revision: 7, contracts: &new });
    assert_eq!(f.len(), 1);
    let f = &f[0];
    assert_eq!(f.rule, "api.request-field-required-added");
    assert_eq!(f.severity, Severity::Breaking);
    assert_eq!(f.document, "openapi");
    assert_eq!(f.path, "/paths/~1orders/post/requestBody/content/application~1json/schema/properties/b");
    assert_eq!((f.old_revision, f.new_revision), (4, 7));
    let json = serde_json::to_value(f).unwrap();
    assert_eq!(json["direction"], "old-client-to-new-server");
    assert_eq!(json["severity"], "breaking");
}

#[test]
fn the_window_is_transitive_a_change_fine_for_n_minus_1_breaks_n_minus_2() {
    // r1 sends an optional `note`; r2 stops declaring it (its model is open, so r1's clients are
    // still fine); r3 closes the model: fine for r2's clients, which never send `note`, and a
    // rejection for r1's, which do.
    let r1 = body(obj(json!({"a": s(), "note": s()}), &["a"]));
    let r2 = body(obj(json!({"a": s()}), &["a"]));
    let r3 = body(closed(json!({"a": s()}), &["a"]));
    let rc = |revision, contracts| RevisionContracts { revision, contracts };
    assert_eq!(compare(rc(1, &r1), rc(2, &r2)), vec![]);
    assert_eq!(compare(rc(2, &r2), rc(3, &r3)), vec![], "r3 is compatible with N-1");
    let window = window_findings(rc(3, &r3), &[rc(2, &r2), rc(1, &r1)]);
    let pairs: Vec<_> = window.iter().map(|f| (f.rule.as_str(), f.direction, f.old_revision, f.new_revision)).collect();
    assert_eq!(pairs, vec![("api.request-field-rejected", O2N, 1, 3)]);
    assert!(window[0].path.ends_with("/properties/note"));
    // Outside the window, r1 no longer counts.
    assert_eq!(window_findings(rc(3, &r3), &[rc(2, &r2)]), vec![]);
}

#[test]
fn the_window_is_transitive_for_messages_too() {
    // r1 consumes `order` requiring `total`; r2 still writes it (optional now) and reads without
    // it; r3 stops writing it: fine for r2's consumer, breaking for r1's.
    let r1 = msg(order());
    let r2 = Contracts {
        produces: [("order".to_owned(), order())].into(),
        consumes: [("order".to_owned(), obj(json!({"id": s(), "total": int()}), &["id"]))].into(),
        ..Contracts::default()
    };
    let r3 = msg(obj(json!({"id": s(), "total": int()}), &["id"]));
    let rc = |revision, contracts| RevisionContracts { revision, contracts };
    assert_eq!(compare(rc(2, &r2), rc(3, &r3)).iter().filter(|f| f.is_breaking()).count(), 0);
    let window = window_findings(rc(3, &r3), &[rc(1, &r1), rc(2, &r2)]);
    let breaking: Vec<_> =
        window.iter().filter(|f| f.is_breaking()).map(|f| (f.rule.as_str(), f.old_revision)).collect();
    assert_eq!(breaking, vec![("msg.required-field-removed", 1)]);
}

#[test]
fn rollback_keeps_only_what_the_live_revision_s_clients_and_messages_meet() {
    // Live r2 added a path its clients call: an undo to r1 strands them.
    let r1 = api(json!({"/orders": {"get": {"responses": ok()}}}));
    let r2 = api(json!({"/orders": {"get": {"responses": ok()}}, "/users": {"get": {"responses": ok()}}}));
    let rc = |revision, contracts| RevisionContracts { revision, contracts };
    let f = rollback_findings(rc(2, &r2), rc(1, &r1));
    assert_eq!(f.iter().map(|f| (f.rule.as_str(), f.direction)).collect::<Vec<_>>(), vec![("api.path-removed", N2O)]);
    // r2 removed a path: going back to r1 gives it back, nothing breaks.
    assert_eq!(rollback_findings(rc(2, &r1.clone()), rc(1, &r2)), vec![]);
}

#[test]
fn gate_table() {
    let finding = |rule: &str, severity| Finding {
        rule: rule.into(),
        severity,
        direction: O2N,
        document: "openapi".into(),
        path: String::new(),
        message: String::new(),
        old_revision: 1,
        new_revision: 2,
    };
    let allow = |rule: &str| Allowance { rule: rule.into(), reason: "clients migrated".into() };
    let removed = finding("api.path-removed", Severity::Breaking);
    let status = finding("api.response-status-added", Severity::Warning);
    let enum_ = finding("api.enum-narrowed", Severity::Breaking);
    assert_eq!(gate(&[], &[]), Gate::Clear);
    assert_eq!(gate(std::slice::from_ref(&status), &[]), Gate::Clear, "warnings do not refuse");
    assert_eq!(gate(std::slice::from_ref(&removed), &[]), Gate::Refused { breaking: vec![removed.clone()] });
    assert_eq!(
        gate(&[removed.clone(), enum_.clone()], &[allow("api.path-removed")]),
        Gate::Refused { breaking: vec![enum_.clone()] },
        "an allowance covers its rule only"
    );
    assert_eq!(
        gate(&[removed.clone(), status.clone()], &[allow("api.path-removed"), allow("api.enum-narrowed")]),
        Gate::Allowed { used: vec![(allow("api.path-removed"), vec![removed.clone()])] },
        "only the allowances that let something through are recorded"
    );
    assert_eq!(gate(&[status], &[allow("api.path-removed")]), Gate::Clear);
    assert!(allow("api.nope").problem().unwrap().contains("unknown rule"));
    assert!(Allowance { rule: "api.path-removed".into(), reason: " ".into() }.problem().unwrap().contains("reason"));
    assert_eq!(allow("msg.type-changed").problem(), None);
}

#[test]
fn rule_ids_are_unique_and_well_formed() {
    let ids: BTreeSet<&str> = RULES.iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), RULES.len());
    for id in ids {
        assert!(id.starts_with("api.") || id.starts_with("msg."), "{id}");
        assert!(id.chars().all(|c| c.is_ascii_lowercase() || c == '.' || c == '-'), "{id}");
    }
}

#[test]
fn yaml_and_json_descriptions_compare_the_same() {
    let yaml = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /orders:\n    get:\n      responses:\n        200:\n          description: ok\n";
    let json = r#"{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{"/orders":{"get":{"responses":{"200":{"description":"ok"}}}}}}"#;
    let a = Contracts::parse(Some(("a.yaml", yaml)), &[]).unwrap();
    let b = Contracts::parse(Some(("b.json", json)), &[]).unwrap();
    assert_eq!(a, b);
}

/// Compare two revisions on a thread of its own, failing the test (instead of hanging it) when
/// the comparison does not end within a generous bound.
fn compare_within(old: Contracts, new: Contracts) -> Vec<Finding> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let found = compare(
            RevisionContracts { revision: 1, contracts: &old },
            RevisionContracts { revision: 2, contracts: &new },
        );
        let _ = tx.send(found);
    });
    rx.recv_timeout(std::time::Duration::from_secs(60)).expect("the comparison did not end within 60 s")
}

/// A message document (its own root for `$ref`s) from JSON text, as a release ships it.
fn message_text(text: &str) -> Contracts {
    let doc = MessageDocument { role: Role::Produces, name: "order", text };
    let consumed = MessageDocument { role: Role::Consumes, name: "order", text };
    Contracts::parse(None, &[doc, consumed]).expect("the document reads")
}

#[test]
fn a_schema_whose_all_of_names_itself_overflowed_the_stack() {
    // `a` has no type of its own: finding its types followed `allOf` back to `a` without end.
    let text = r##"{"$defs": {"a": {"allOf": [{"$ref": "#/$defs/a"}]}},
                    "type": "object", "properties": {"x": {"$ref": "#/$defs/a"}}}"##;
    let found = compare_within(message_text(text), message_text(text));
    assert!(found.is_empty(), "{found:?}");
    // Two schemas naming each other, and a change beside them that must still be found.
    let old = r##"{"$defs": {"a": {"allOf": [{"$ref": "#/$defs/b"}]}, "b": {"allOf": [{"$ref": "#/$defs/a"}]}},
                   "type": "object", "properties": {"x": {"$ref": "#/$defs/a"}, "y": {"type": "string"}}}"##;
    let new = old.replace(r#""y": {"type": "string"}"#, r#""y": {"type": "integer"}"#);
    let rules: BTreeSet<String> =
        compare_within(message_text(old), message_text(&new)).into_iter().map(|f| f.rule).collect();
    assert!(rules.iter().any(|r| r.contains("type")), "the type change beside the cycle is found: {rules:?}");
}

#[test]
fn a_schema_whose_all_of_doubles_at_every_level_took_exponential_time() {
    // Folding `allOf` visited `a` twice for each visit of `a`, down to the depth bound: 2^96 visits.
    let text = r##"{"$defs": {"a": {"type": "object", "properties": {"k": {"type": "string"}},
                                    "allOf": [{"$ref": "#/$defs/a"}, {"$ref": "#/$defs/a"}]}},
                    "type": "object", "properties": {"x": {"$ref": "#/$defs/a"}}}"##;
    let found = compare_within(message_text(text), message_text(text));
    assert!(found.is_empty(), "{found:?}");
    let narrowed = text.replace(r#""k": {"type": "string"}"#, r#""k": {"type": "string", "maxLength": 3}"#);
    let found = compare_within(message_text(text), message_text(&narrowed));
    assert!(!found.is_empty(), "a narrowed field inside the self-referring schema is still found");
}

#[test]
fn a_schema_named_by_a_thousand_operations_was_compared_a_thousand_times() {
    // Each operation compared the shared schema again, property by property: a 600 KB
    // description took 32 s a pair. Now a pair of schemas is compared once per direction.
    let described = |required: &[&str]| {
        let paths: serde_json::Map<String, Value> = (0..1000)
            .map(|i| {
                let op = json!({"requestBody": {"required": true, "content": {"application/json":
                    {"schema": {"$ref": "#/components/schemas/S"}}}}, "responses": ok()});
                (format!("/p{i}"), json!({"post": op}))
            })
            .collect();
        let props: serde_json::Map<String, Value> = (0..1000).map(|j| (format!("f{j}"), s())).collect();
        api_doc(Value::Object(paths), json!({"schemas": {"S": obj(Value::Object(props), required)}}))
    };
    let found = compare_within(described(&["f1"]), described(&["f1", "f2"]));
    let rules: Vec<&str> = found.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(rules, ["api.request-field-required-added"], "reported once, where the schema is first reached");
    assert!(found[0].path.starts_with("/paths/~1p") && found[0].path.ends_with("/properties/f2"), "{}", found[0].path);
}
