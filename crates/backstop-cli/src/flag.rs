//! `backstop flag ...`: create, change and switch feature flags, and read them
//! back. `backstop flag off KEY --reason "..."` is the kill switch.

use std::path::{Path, PathBuf};

use backstop_flags::{Flag, compile};
use clap::Subcommand;
use serde_json::{Value, json};

use crate::client::Client;
use crate::exit::{CliError, CliResult};
use crate::output::table;
use crate::{Global, Output};

#[derive(Debug, Subcommand)]
pub enum FlagCommand {
    /// Create a flag from a JSON file, or a boolean flag (variants `on`/`off`, created off unless --on).
    Create {
        key: String,
        /// The flag as JSON (`enabled`, `variants`, `default_variant`, `off_variant`, `rules`).
        #[arg(long, conflicts_with_all = ["description", "on", "off"])]
        file: Option<PathBuf>,
        #[arg(long)]
        description: Option<String>,
        /// Create it switched on.
        #[arg(long, conflicts_with = "off")]
        on: bool,
        /// Create it switched off (the default).
        #[arg(long)]
        off: bool,
        #[arg(long, short)]
        reason: Option<String>,
    },
    /// Replace a flag's definition with a JSON file (a `version` in it must still be current).
    Set {
        key: String,
        #[arg(long)]
        file: PathBuf,
        #[arg(long, short)]
        reason: Option<String>,
    },
    /// Switch a flag on: it serves its rules and default variant again.
    On {
        key: String,
        #[arg(long, short)]
        reason: String,
    },
    /// The kill switch: switch a flag off, everyone gets its off variant at once.
    Off {
        key: String,
        #[arg(long, short)]
        reason: String,
    },
    /// Delete a flag: it is gone from evaluation and the stream at once; its history stays.
    Delete {
        key: String,
        #[arg(long, short)]
        reason: String,
    },
    /// All flags.
    List,
    /// One flag.
    Show { key: String },
    /// Every version of a flag, with who changed it, when and why.
    History { key: String },
}

pub async fn run(g: &Global, command: FlagCommand) -> CliResult {
    let c = Client::new(&g.server, g.token.clone())?;
    match command {
        FlagCommand::Create { key, file, description, on, off: _, reason } => {
            let flag = match file {
                Some(path) => read_flag(&path)?,
                None => json!({
                    "key": key,
                    "description": description.unwrap_or_default(),
                    "enabled": on,
                    "variants": {"on": true, "off": false},
                    "default_variant": "on",
                    "off_variant": "off",
                }),
            };
            let v: Value = c.post(&format!("/v1/flags/{key}"), &json!({ "flag": flag, "reason": reason })).await?;
            print_written(g.output, "created", &v);
        }
        FlagCommand::Set { key, file, reason } => {
            let flag = read_flag(&file)?;
            let v: Value = c.put(&format!("/v1/flags/{key}"), &json!({ "flag": flag, "reason": reason })).await?;
            print_written(g.output, "set", &v);
        }
        FlagCommand::On { key, reason } => switch(&c, g.output, &key, "on", &reason).await?,
        FlagCommand::Off { key, reason } => switch(&c, g.output, &key, "off", &reason).await?,
        FlagCommand::Delete { key, reason } => {
            let v: Value = c.delete(&format!("/v1/flags/{key}"), &json!({ "reason": reason })).await?;
            match g.output {
                Output::Json | Output::Sarif => println!("{}", pretty(&v)),
                Output::Table => println!("deleted flag {key} (config version {})", v["config_version"]),
            }
        }
        FlagCommand::List => {
            let v: Value = c.get("/v1/flags").await?;
            match g.output {
                Output::Json | Output::Sarif => println!("{}", pretty(&v)),
                Output::Table => println!("{}", list_table(&v)),
            }
        }
        FlagCommand::Show { key } => {
            let v: Value = c.get(&format!("/v1/flags/{key}")).await?;
            match g.output {
                Output::Json | Output::Sarif => println!("{}", pretty(&v)),
                Output::Table => println!("{}", show_text(&v)),
            }
        }
        FlagCommand::History { key } => {
            let v: Value = c.get(&format!("/v1/flags/{key}/history")).await?;
            match g.output {
                Output::Json | Output::Sarif => println!("{}", pretty(&v)),
                Output::Table => println!("{}", history_table(&v)),
            }
        }
    }
    Ok(())
}

async fn switch(c: &Client, output: Output, key: &str, what: &str, reason: &str) -> CliResult {
    let v: Value = c.post(&format!("/v1/flags/{key}/{what}"), &json!({ "reason": reason })).await?;
    match output {
        Output::Json | Output::Sarif => println!("{}", pretty(&v)),
        Output::Table if v["changed"] == json!(false) => println!("flag {key} was already {what}; nothing changed"),
        Output::Table => {
            println!("flag {key} is {what} (version {}, config version {})", v["flag"]["version"], v["config_version"])
        }
    }
    Ok(())
}

fn read_flag(path: &Path) -> CliResult<Value> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::bad_input(format!("cannot read {}: {e}", path.display()), "check the --file path"))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| {
        CliError::bad_input(
            format!("{} is not JSON: {e}", path.display()),
            "write the flag as a JSON object; `backstop flag show KEY -o json` prints one",
        )
    })?;
    if !v.is_object() {
        return Err(CliError::bad_input(
            format!("{} does not hold a JSON object", path.display()),
            "write the flag as a JSON object; `backstop flag show KEY -o json` prints one",
        ));
    }
    Ok(v)
}

fn print_written(output: Output, verb: &str, v: &Value) {
    match output {
        Output::Json | Output::Sarif => println!("{}", pretty(v)),
        Output::Table => {
            let f = &v["flag"];
            let state = if f["enabled"] == json!(true) { "on" } else { "off" };
            println!(
                "{verb} flag {} ({state}, version {}, config version {})",
                f["key"].as_str().unwrap_or(""),
                f["version"],
                v["config_version"]
            );
        }
    }
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

fn flag_type(f: &Value) -> String {
    serde_json::from_value::<Flag>(f.clone())
        .ok()
        .and_then(|f| compile(f).ok())
        .map_or_else(|| "?".to_owned(), |c| c.flag_type().to_string())
}

/// What a flag serves now, in words: `off` when off, the default variant and
/// how many rules may override it when on.
fn serves(f: &Value) -> String {
    if f["enabled"] == json!(true) {
        let rules = f["rules"].as_array().map_or(0, Vec::len);
        match rules {
            0 => f["default_variant"].as_str().unwrap_or("").to_owned(),
            n => format!("{} ({n} rules)", f["default_variant"].as_str().unwrap_or("")),
        }
    } else {
        f["off_variant"].as_str().unwrap_or("").to_owned()
    }
}

fn state(f: &Value) -> &'static str {
    if f["enabled"] == json!(true) { "on" } else { "off" }
}

fn list_table(v: &Value) -> String {
    let rows = v["flags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            vec![
                f["key"].as_str().unwrap_or("").to_owned(),
                flag_type(f),
                state(f).to_owned(),
                serves(f),
                f["version"].to_string(),
                f["description"].as_str().unwrap_or("").to_owned(),
            ]
        })
        .collect();
    table(&["KEY", "TYPE", "STATE", "SERVES", "VERSION", "DESCRIPTION"], rows)
}

fn show_text(f: &Value) -> String {
    let variants: Vec<String> =
        f["variants"].as_object().into_iter().flatten().map(|(name, value)| format!("{name}={value}")).collect();
    let rules = f["rules"].as_array().map_or(0, Vec::len);
    let lines = [
        ("key", f["key"].as_str().unwrap_or("").to_owned()),
        ("description", f["description"].as_str().unwrap_or("").to_owned()),
        ("type", flag_type(f)),
        ("state", state(f).to_owned()),
        ("serves", serves(f)),
        ("variants", variants.join(", ")),
        ("default", f["default_variant"].as_str().unwrap_or("").to_owned()),
        ("off", f["off_variant"].as_str().unwrap_or("").to_owned()),
        ("rules", if rules == 0 { "none".into() } else { format!("{rules} (see --output json)") }),
        ("version", f["version"].to_string()),
    ];
    lines.iter().map(|(k, v)| format!("{:<13}{v}", format!("{k}:"))).collect::<Vec<_>>().join("\n")
}

fn history_table(v: &Value) -> String {
    let rows = v
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            vec![
                e["version"].to_string(),
                e["action"].as_str().unwrap_or("").to_owned(),
                state(&e["flag"]).to_owned(),
                e["actor"].as_str().unwrap_or("").to_owned(),
                e["at"].as_str().unwrap_or("").to_owned(),
                e["reason"].as_str().unwrap_or("-").to_owned(),
            ]
        })
        .collect();
    table(&["VERSION", "ACTION", "STATE", "ACTOR", "AT", "REASON"], rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag(enabled: bool, rules: Value) -> Value {
        json!({"key": "k", "enabled": enabled, "variants": {"on": true, "off": false},
               "default_variant": "on", "off_variant": "off", "rules": rules, "version": 2})
    }

    #[test]
    fn serves_table() {
        assert_eq!(serves(&flag(false, json!([]))), "off");
        assert_eq!(serves(&flag(true, json!([]))), "on");
        assert_eq!(serves(&flag(true, json!([{"serve": {"variant": "off"}}]))), "on (1 rules)");
        assert_eq!(flag_type(&flag(true, json!([]))), "boolean");
    }

    #[test]
    fn list_is_a_table() {
        let out = list_table(&json!({"flags": [flag(false, json!([]))]}));
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("KEY"), "{out}");
        assert!(lines[1].starts_with("k") && lines[1].contains("boolean") && lines[1].contains("off"), "{out}");
    }
}
