//! The compatibility gate's client side: `--api FILE` and `--messages DIR` read (and checked
//! here first, so bad input is refused before anything is uploaded), `--allow-breaking RULE
//! REASON` pairs, and `backstop compat` printing findings as a table, JSON or SARIF.
//!
//! A messages folder holds `produces/NAME.json` and `consumes/NAME.json` (or `.yaml`, `.yml`):
//! one JSON Schema per message type, the folder saying whether the revision writes or reads it.

use std::path::Path;

use backstop_api::{
    AllowBreaking, CompatFinding, CompatReport, CompatRequest, ContractDocument, MessageContract, MessageRole,
    ReleaseContracts,
};
use backstop_compat::{Contracts, MAX_DOCUMENT_BYTES, MessageDocument, RULES, Role};
use serde_json::{Value, json};

use crate::Output;
use crate::client::{Answer, Client};
use crate::exit::{CliError, CliResult, Exit};
use crate::output::{out, table};

/// Read `--api`, `--messages` and `--allow-breaking` for a release or a `compat` question.
pub fn read(api: Option<&Path>, messages: Option<&Path>, allow_breaking: &[String]) -> CliResult<ReleaseContracts> {
    let api = api.map(|p| read_document("--api", p)).transpose()?;
    let messages = messages.map(read_messages).transpose()?.unwrap_or_default();
    // Read them as the server will, so a bad document stops here.
    let docs: Vec<MessageDocument<'_>> = messages
        .iter()
        .map(|m| MessageDocument {
            role: match m.role {
                MessageRole::Produces => Role::Produces,
                MessageRole::Consumes => Role::Consumes,
            },
            name: &m.name,
            text: &m.text,
        })
        .collect();
    if let Err(e) = Contracts::parse(api.as_ref().map(|d| (d.name.as_str(), d.text.as_str())), &docs) {
        return Err(CliError::bad_input(e.to_string(), e.hint()));
    }
    let mut allow = Vec::new();
    for pair in allow_breaking.chunks(2) {
        let [rule, reason] = pair else {
            return Err(CliError::bad_input(
                "--allow-breaking takes a rule and a reason",
                "--allow-breaking RULE REASON",
            ));
        };
        if !RULES.iter().any(|r| r.id == rule) {
            let ids: Vec<&str> =
                RULES.iter().filter(|r| r.severity == backstop_compat::Severity::Breaking).map(|r| r.id).collect();
            return Err(CliError::bad_input(
                format!("--allow-breaking names unknown rule `{rule}`"),
                format!("the breaking rules are {}", ids.join(", ")),
            ));
        }
        if reason.trim().is_empty() {
            return Err(CliError::bad_input(
                format!("--allow-breaking {rule} needs a reason"),
                "say why the break is safe: it is recorded in the audit log",
            ));
        }
        allow.push(AllowBreaking { rule: rule.clone(), reason: reason.clone() });
    }
    Ok(ReleaseContracts { api, messages, allow_breaking: allow })
}

fn read_document(flag: &str, path: &Path) -> CliResult<ContractDocument> {
    let too_large = |bytes: u64| {
        CliError::bad_input(
            format!("{flag} {} is {bytes} bytes, over the limit of {MAX_DOCUMENT_BYTES}", path.display()),
            "split the document",
        )
    };
    let meta = std::fs::metadata(path)
        .map_err(|e| CliError::bad_input(format!("cannot read {flag} {}: {e}", path.display()), "check the path"))?;
    if !meta.is_file() {
        return Err(CliError::bad_input(
            format!("{flag} {} is not a file", path.display()),
            "pass the document's path",
        ));
    }
    if meta.len() > MAX_DOCUMENT_BYTES as u64 {
        return Err(too_large(meta.len()));
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        CliError::bad_input(format!("cannot read {flag} {}: {e}", path.display()), "it must be UTF-8 text")
    })?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(ContractDocument { name, text })
}

fn read_messages(dir: &Path) -> CliResult<Vec<MessageContract>> {
    let layout =
        "a messages folder holds produces/NAME.json and consumes/NAME.json (or .yaml), one JSON Schema per message";
    if !dir.is_dir() {
        return Err(CliError::bad_input(format!("--messages {} is not a directory", dir.display()), layout));
    }
    let mut out = Vec::new();
    let mut found = false;
    for (sub, role) in [("produces", MessageRole::Produces), ("consumes", MessageRole::Consumes)] {
        let folder = dir.join(sub);
        if !folder.is_dir() {
            continue;
        }
        found = true;
        let mut entries: Vec<_> = std::fs::read_dir(&folder)
            .map_err(|e| {
                CliError::bad_input(format!("cannot read {}: {e}", folder.display()), "check its permissions")
            })?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        entries.sort();
        for path in entries {
            let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            if !matches!(ext, "json" | "yaml" | "yml") {
                continue;
            }
            let doc = read_document("--messages", &path)?;
            let name = path.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            // The server reads the text by its content; a YAML file's text does not start with `{`.
            out.push(MessageContract { role, name, text: doc.text });
        }
    }
    if !found {
        return Err(CliError::bad_input(
            format!("--messages {} has neither produces/ nor consumes/", dir.display()),
            layout,
        ));
    }
    Ok(out)
}

/// `backstop compat APP [--against N] [--api FILE] [--messages DIR]`: exit 1 when a finding is
/// breaking.
pub async fn run(
    c: &Client,
    app: &str,
    against: Option<u64>,
    api: Option<&Path>,
    messages: Option<&Path>,
    output: Output,
) -> CliResult {
    let contracts = read(api, messages, &[])?;
    let req = CompatRequest { against, api: contracts.api, messages: contracts.messages };
    let report: Answer<CompatReport> = c.post(&format!("/v1/apps/{app}/compat"), &req).await?;
    let r = &report.value;
    match output {
        Output::Json => out!("{}", report.json()),
        Output::Sarif => out!("{}", serde_json::to_string_pretty(&sarif(r)).unwrap_or_default()),
        Output::Table => {
            if r.against.is_empty() {
                out!("revision {} of {}: no revision to compare with shipped contracts", r.revision, r.app);
            } else {
                let list: Vec<String> = r.against.iter().map(u64::to_string).collect();
                out!("revision {} of {} against revisions {}", r.revision, r.app, list.join(", "));
            }
            if !r.findings.is_empty() {
                let rows = r
                    .findings
                    .iter()
                    .map(|f| {
                        vec![
                            f.severity.clone(),
                            f.rule.clone(),
                            format!("{} vs {}", f.old_revision, f.new_revision),
                            f.direction.clone(),
                            format!("{}{}", f.document, f.path),
                            f.message.clone(),
                        ]
                    })
                    .collect();
                out!("{}", table(&["SEVERITY", "RULE", "REVISIONS", "DIRECTION", "WHERE", "MESSAGE"], rows));
            }
            out!("{} breaking, {} warnings", r.breaking, r.warnings);
        }
    }
    if r.breaking > 0 {
        return Err(CliError::new(
            Exit::Failed,
            format!("{} breaking findings against revisions in the rollback window", r.breaking),
            format!(
                "ship the change in two releases, or release with --allow-breaking RULE REASON (recorded in the audit log); `backstop compat {app} -o json` lists them for a program"
            ),
        ));
    }
    Ok(())
}

fn level(severity: &str) -> &'static str {
    if severity == "breaking" { "error" } else { "warning" }
}

/// SARIF 2.1.0, like `backstop lint`'s: one result per finding, located in its document.
fn sarif(r: &CompatReport) -> Value {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|rule| {
            json!({
                "id": rule.id,
                "shortDescription": { "text": rule.summary },
                "defaultConfiguration": { "level": level(rule.severity.as_str()) },
            })
        })
        .collect();
    let results: Vec<Value> = r.findings.iter().map(result).collect();
    json!({
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{ "tool": { "driver": { "name": "backstop", "version": env!("CARGO_PKG_VERSION"), "rules": rules } }, "results": results }],
    })
}

fn result(f: &CompatFinding) -> Value {
    json!({
        "ruleId": f.rule,
        "level": level(&f.severity),
        "message": { "text": format!("{} (revision {} vs {}, {})", f.message, f.old_revision, f.new_revision, f.direction) },
        "locations": [{ "logicalLocations": [{ "fullyQualifiedName": format!("{}#{}", f.document, f.path), "kind": "member" }] }],
        "properties": { "direction": f.direction, "oldRevision": f.old_revision, "newRevision": f.new_revision },
    })
}
