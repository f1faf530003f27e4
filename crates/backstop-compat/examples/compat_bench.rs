//! How long the compatibility gate takes on a realistic description: an OpenAPI document of a
//! few thousand lines (generated here, as YAML), a modified copy, and a window of 20 revisions.
//!
//! `cargo run --release -p backstop-compat --example compat_bench`

use std::fmt::Write;
use std::time::{Duration, Instant};

use backstop_compat::{Contracts, RevisionContracts, compare, window_findings};

const RESOURCES: usize = 60;
const RUNS: usize = 9;

/// A description with `RESOURCES` resources, each a collection and an item path with four
/// operations, parameters, request and response bodies, and a schema in components. `variant`
/// changes a few things so a comparison has findings to report.
fn description(variant: usize) -> String {
    let mut y = String::from("openapi: 3.0.3\ninfo:\n  title: generated\n  version: '1'\npaths:\n");
    for r in 0..RESOURCES {
        let _ = write!(
            y,
            "  /r{r}:
    get:
      parameters:
        - {{name: limit, in: query, required: false, schema: {{type: integer, minimum: 1, maximum: 500}}}}
        - {{name: cursor, in: query, required: false, schema: {{type: string}}}}
        - {{name: sort, in: query, required: false, schema: {{type: string, enum: [asc, desc]}}}}
      responses:
        '200':
          description: a page
          content:
            application/json:
              schema:
                type: object
                required: [items]
                properties:
                  items: {{type: array, items: {{$ref: '#/components/schemas/R{r}'}}}}
                  next: {{type: string, nullable: true}}
        default: {{$ref: '#/components/responses/Error'}}
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema: {{$ref: '#/components/schemas/R{r}'}}
      responses:
        '201':
          description: created
          content:
            application/json:
              schema: {{$ref: '#/components/schemas/R{r}'}}
        default: {{$ref: '#/components/responses/Error'}}
  /r{r}/{{id}}:
    parameters:
      - {{name: id, in: path, required: true, schema: {{type: string, format: uuid}}}}
    get:
      responses:
        '200':
          description: one
          content:
            application/json:
              schema: {{$ref: '#/components/schemas/R{r}'}}
        default: {{$ref: '#/components/responses/Error'}}
    put:
      parameters:
        - {{name: If-Match, in: header, required: {}, schema: {{type: string}}}}
      requestBody:
        required: true
        content:
          application/json:
            schema: {{$ref: '#/components/schemas/R{r}'}}
      responses:
        '200':
          description: replaced
        default: {{$ref: '#/components/responses/Error'}}
",
            variant > 0 && r % 10 == 0
        );
    }
    y.push_str("components:\n  responses:\n    Error:\n      description: error\n      content:\n        application/json:\n          schema:\n            type: object\n            required: [code, message]\n            properties:\n              code: {type: string}\n              message: {type: string}\n  schemas:\n");
    for r in 0..RESOURCES {
        let status = if variant > 0 && r % 7 == 0 { "[draft, live]" } else { "[draft, live, archived]" };
        let _ = write!(
            y,
            "    R{r}:
      type: object
      required: [id, name, status]
      properties:
        id: {{type: string, format: uuid}}
        name: {{type: string, minLength: 1, maxLength: 200}}
        status: {{type: string, enum: {status}}}
        created: {{type: string, format: date-time}}
        tags: {{type: array, maxItems: 50, items: {{type: string, maxLength: 40}}}}
        owner:
          type: object
          required: [id]
          properties:
            id: {{type: string}}
            email: {{type: string, format: email}}
        amount: {{type: number, minimum: 0}}
        note: {{type: string, maxLength: {}}}
",
            if variant > 0 { 500 + variant } else { 1000 }
        );
    }
    y
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

fn main() {
    let base = description(0);
    let changed = description(1);
    println!(
        "description: {} lines, {} bytes; modified copy: {} lines",
        base.lines().count(),
        base.len(),
        changed.lines().count()
    );

    let parse = median(
        (0..RUNS)
            .map(|_| {
                let t = Instant::now();
                let c = Contracts::parse(Some(("openapi.yaml", &base)), &[]).expect("the generated description parses");
                std::hint::black_box(c);
                t.elapsed()
            })
            .collect(),
    );
    let old = Contracts::parse(Some(("openapi.yaml", &base)), &[]).expect("parses");
    let new = Contracts::parse(Some(("openapi.yaml", &changed)), &[]).expect("parses");

    let mut findings = 0;
    let pair = median(
        (0..RUNS)
            .map(|_| {
                let t = Instant::now();
                let f = compare(
                    RevisionContracts { revision: 1, contracts: &old },
                    RevisionContracts { revision: 2, contracts: &new },
                );
                let elapsed = t.elapsed();
                findings = f.len();
                elapsed
            })
            .collect(),
    );

    let window_docs: Vec<Contracts> =
        (0..20).map(|v| Contracts::parse(Some(("openapi.yaml", &description(v))), &[]).expect("parses")).collect();
    let window: Vec<RevisionContracts<'_>> = window_docs
        .iter()
        .enumerate()
        .map(|(i, c)| RevisionContracts { revision: i as u64 + 1, contracts: c })
        .collect();
    let head = RevisionContracts { revision: 21, contracts: &new };
    let mut window_count = 0;
    let whole = median(
        (0..RUNS)
            .map(|_| {
                let t = Instant::now();
                let f = window_findings(head, &window);
                let elapsed = t.elapsed();
                window_count = f.len();
                elapsed
            })
            .collect(),
    );

    println!("parse (YAML, bounds, $ref check): {parse:.2?} median of {RUNS}");
    println!("one pair, both directions: {pair:.2?} median of {RUNS} ({findings} findings)");
    println!("window of 20 revisions: {whole:.2?} median of {RUNS} ({window_count} findings)");
}
