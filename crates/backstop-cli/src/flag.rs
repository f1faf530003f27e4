//! `backstop flag ...`: create, change and switch feature flags, and read them
//! back. `backstop flag off KEY --reason "..."` is the kill switch.

use std::path::{Path, PathBuf};

use std::collections::BTreeMap;

use backstop_api::{Flag, FlagHistoryEntry, FlagList, FlagRequest, ReasonRequest, UnreadableFlag, Written};
use backstop_flags::compile;
use clap::Subcommand;
use serde_json::Value;

use crate::client::{Answer, Client};
use crate::exit::{CliError, CliResult};
use crate::output::out;
use crate::output::{Listing, Row, wire_text};
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

impl FlagCommand {
    fn key(&self) -> Option<&str> {
        match self {
            FlagCommand::Create { key, .. }
            | FlagCommand::Set { key, .. }
            | FlagCommand::On { key, .. }
            | FlagCommand::Off { key, .. }
            | FlagCommand::Delete { key, .. }
            | FlagCommand::Show { key }
            | FlagCommand::History { key } => Some(key),
            FlagCommand::List => None,
        }
    }
}

pub async fn run(g: &Global, command: FlagCommand) -> CliResult {
    // A key goes into the URL path: one the server would refuse (or that a URL
    // would collapse, like `..`) is refused here, before any request.
    if let Some(key) = command.key() {
        backstop_flags::validate_key(key).map_err(|e| {
            CliError::bad_input(
                e.to_string(),
                "a flag key is 1 to 128 letters, digits, `.`, `_` or `-`, and not `.` or `..`",
            )
        })?;
    }
    let c = Client::new(&g.server, g.token.clone())?;
    match command {
        FlagCommand::Create { key, file, description, on, off: _, reason } => {
            let flag = match file {
                Some(path) => read_flag(&path)?,
                None => boolean_flag(&key, description.unwrap_or_default(), on),
            };
            let v: Answer<Written> = c.post(&format!("/v1/flags/{key}"), &FlagRequest { flag, reason }).await?;
            print_written(g.output, "created", &v);
        }
        FlagCommand::Set { key, file, reason } => {
            let flag = read_flag(&file)?;
            let v: Answer<Written> = c.put(&format!("/v1/flags/{key}"), &FlagRequest { flag, reason }).await?;
            print_written(g.output, "set", &v);
        }
        FlagCommand::On { key, reason } => switch(&c, g.output, &key, "on", &reason).await?,
        FlagCommand::Off { key, reason } => switch(&c, g.output, &key, "off", &reason).await?,
        FlagCommand::Delete { key, reason } => {
            let v: Answer<Written> =
                c.delete(&format!("/v1/flags/{key}"), &ReasonRequest { reason: Some(reason) }).await?;
            match g.output {
                Output::Json | Output::Sarif => out!("{}", v.json()),
                Output::Table => out!("deleted flag {key} (config version {})", v.value.config_version),
            }
        }
        FlagCommand::List => {
            let v: Answer<FlagList> = c.get("/v1/flags").await?;
            // On stderr, so `-o json` stays one document; the JSON has them in `unreadable`.
            for bad in &v.value.unreadable {
                eprintln!("{}", unreadable_warning(bad, crate::output::color_stderr()));
            }
            match g.output {
                Output::Json | Output::Sarif => out!("{}", v.json()),
                Output::Table => crate::output::print_listing(list_listing(&v.value.flags)),
            }
        }
        FlagCommand::Show { key } => {
            let v: Answer<Flag> = c.get(&format!("/v1/flags/{key}")).await?;
            match g.output {
                Output::Json | Output::Sarif => out!("{}", v.json()),
                Output::Table => out!("{}", show_text(&v.value)),
            }
        }
        FlagCommand::History { key } => {
            let v: Answer<Vec<FlagHistoryEntry>> = c.get(&format!("/v1/flags/{key}/history")).await?;
            match g.output {
                Output::Json | Output::Sarif => out!("{}", v.json()),
                Output::Table => crate::output::print_listing(history_listing(&v.value)),
            }
        }
    }
    Ok(())
}

/// A boolean flag (variants `on`/`off`), switched on or off; the server fills in the version.
pub(crate) fn boolean_flag(key: &str, description: String, on: bool) -> Value {
    let flag = Flag {
        key: key.to_owned(),
        description,
        enabled: on,
        variants: BTreeMap::from([("on".to_owned(), true.into()), ("off".to_owned(), false.into())]),
        default_variant: "on".into(),
        off_variant: "off".into(),
        rules: Vec::new(),
        version: 0,
    };
    serde_json::to_value(flag).unwrap_or_default()
}

async fn switch(c: &Client, output: Output, key: &str, what: &str, reason: &str) -> CliResult {
    let v: Answer<Written> =
        c.post(&format!("/v1/flags/{key}/{what}"), &ReasonRequest { reason: Some(reason.to_owned()) }).await?;
    match output {
        Output::Json | Output::Sarif => out!("{}", v.json()),
        Output::Table if !v.value.changed => out!("flag {key} was already {what}; nothing changed"),
        Output::Table => {
            out!("flag {key} is {what} (version {}, config version {})", v.value.flag.version, v.value.config_version)
        }
    }
    Ok(())
}

/// The largest flag file read: room for a flag at its bound (`MAX_FLAG_BYTES` of compact JSON)
/// written out with indentation.
const MAX_FLAG_FILE: u64 = 4 * backstop_flags::MAX_FLAG_BYTES as u64;

/// The flag of a `--file`, kept as JSON: the server fills in what it leaves out.
fn read_flag(path: &Path) -> CliResult<Value> {
    let unreadable = |e: std::io::Error| {
        CliError::bad_input(format!("cannot read {}: {e}", path.display()), "check the --file path")
    };
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    // A device or a pipe may never end.
    if !meta.is_file() || meta.len() > MAX_FLAG_FILE {
        return Err(CliError::bad_input(
            format!("{} is not a flag file (a file of at most {MAX_FLAG_FILE} bytes)", path.display()),
            "write the flag as a JSON object; `backstop flag show KEY -o json` prints one",
        ));
    }
    let text = std::fs::read_to_string(path).map_err(unreadable)?;
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

fn print_written(output: Output, verb: &str, answer: &Answer<Written>) {
    match output {
        Output::Json | Output::Sarif => out!("{}", answer.json()),
        Output::Table => {
            let (f, config_version) = (&answer.value.flag, answer.value.config_version);
            out!("{verb} flag {} ({}, version {}, config version {config_version})", f.key, state(f), f.version);
        }
    }
}

fn flag_type(f: &Flag) -> String {
    compile(f.clone()).map_or_else(|_| "?".to_owned(), |c| c.flag_type().to_string())
}

/// What a flag serves now, in words: `off` when off, the default variant and
/// how many rules may override it when on.
fn serves(f: &Flag) -> String {
    if f.enabled {
        match f.rules.len() {
            0 => f.default_variant.clone(),
            n => format!("{} ({n} rules)", f.default_variant),
        }
    } else {
        f.off_variant.clone()
    }
}

fn state(f: &Flag) -> &'static str {
    if f.enabled { "on" } else { "off" }
}

fn list_listing(flags: &[Flag]) -> Listing<'static> {
    let rows = flags
        .iter()
        .map(|f| Row {
            name: format!("flag/{}", f.key),
            cells: vec![
                f.key.clone(),
                flag_type(f),
                state(f).to_owned(),
                serves(f),
                f.version.to_string(),
                f.description.clone(),
                f.rules.len().to_string(),
                f.variants.keys().cloned().collect::<Vec<_>>().join(","),
            ],
        })
        .collect();
    Listing {
        header: &["KEY", "TYPE", "STATE", "SERVES", "VERSION", "DESCRIPTION"],
        wide: &["RULES", "VARIANTS"],
        rows,
    }
}

/// One line for a stored flag the server cannot serve: what is wrong and how to get rid of it.
fn unreadable_warning(bad: &UnreadableFlag, color: bool) -> String {
    let (warning, hint) =
        if color { ("\x1b[1;33mwarning:\x1b[0m", "\x1b[1;36mhint:\x1b[0m") } else { ("warning:", "hint:") };
    let (key, error) = (&bad.key, bad.error.replace('\n', " "));
    format!(
        "{warning} flag `{key}` cannot be read: {error}; {hint} delete it with `backstop flag delete {key} --reason \"...\"` (or replace it with `backstop flag set {key} --file FLAG.json`)"
    )
}

fn show_text(f: &Flag) -> String {
    // Values as JSON: `"blue"`, `true`, `3`.
    let variants: Vec<String> = f
        .variants
        .iter()
        .map(|(name, value)| format!("{name}={}", serde_json::to_string(value).unwrap_or_default()))
        .collect();
    let rules = f.rules.len();
    let lines = [
        ("key", f.key.clone()),
        ("description", f.description.clone()),
        ("type", flag_type(f)),
        ("state", state(f).to_owned()),
        ("serves", serves(f)),
        ("variants", variants.join(", ")),
        ("default", f.default_variant.clone()),
        ("off", f.off_variant.clone()),
        ("rules", if rules == 0 { "none".into() } else { format!("{rules} (see --output json)") }),
        ("version", f.version.to_string()),
    ];
    lines.iter().map(|(k, v)| format!("{:<13}{v}", format!("{k}:"))).collect::<Vec<_>>().join("\n")
}

fn history_listing(entries: &[FlagHistoryEntry]) -> Listing<'static> {
    let rows = entries
        .iter()
        .map(|e| Row {
            name: format!("flag/{}/{}", e.flag.key, e.version),
            cells: vec![
                e.version.to_string(),
                e.action.clone(),
                state(&e.flag).to_owned(),
                e.actor.clone(),
                wire_text(&e.at),
                e.reason.clone().unwrap_or_else(|| "-".to_owned()),
                serves(&e.flag),
            ],
        })
        .collect();
    Listing { header: &["VERSION", "ACTION", "STATE", "ACTOR", "AT", "REASON"], wide: &["SERVES"], rows }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn flag(enabled: bool, rules: Value) -> Flag {
        serde_json::from_value(json!({"key": "k", "enabled": enabled, "variants": {"on": true, "off": false},
               "default_variant": "on", "off_variant": "off", "rules": rules, "version": 2}))
        .unwrap()
    }

    #[test]
    fn serves_table() {
        assert_eq!(serves(&flag(false, json!([]))), "off");
        assert_eq!(serves(&flag(true, json!([]))), "on");
        assert_eq!(serves(&flag(true, json!([{"conditions": [], "serve": {"variant": "off"}}]))), "on (1 rules)");
        assert_eq!(flag_type(&flag(true, json!([]))), "boolean");
    }

    #[test]
    fn list_is_a_table() {
        let out = crate::output::render(list_listing(&[flag(false, json!([]))]), crate::output::Shape::Table, false);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("KEY"), "{out}");
        assert!(lines[1].starts_with("k") && lines[1].contains("boolean") && lines[1].contains("off"), "{out}");
    }

    #[test]
    fn an_unreadable_flag_is_one_warning_line_naming_the_delete() {
        let cases = [
            ("old", "unknown field `schedule`", false),
            ("x.y", "expected value\nat line 2", false),
            ("old", "trailing characters", true),
        ];
        for (key, error, color) in cases {
            let line = unreadable_warning(&UnreadableFlag { key: key.into(), error: error.into() }, color);
            assert_eq!(line.lines().count(), 1, "{line}");
            assert_eq!(line.starts_with("warning:"), !color, "{line}");
            assert!(line.contains(&format!("flag `{key}` cannot be read: ")), "{line}");
            assert!(line.contains(&format!("backstop flag delete {key} --reason")), "{line}");
        }
    }

    #[test]
    fn show_prints_variant_values_as_json() {
        let f: Flag = serde_json::from_value(json!({"key": "color", "enabled": true,
            "variants": {"blue": "#00f", "red": "#f00"}, "default_variant": "blue", "off_variant": "red", "version": 1}))
        .unwrap();
        assert!(show_text(&f).contains("variants:    blue=\"#00f\", red=\"#f00\""), "{}", show_text(&f));
    }

    #[test]
    fn a_boolean_flag_is_what_the_server_reads() {
        let v = boolean_flag("kill", "the kill switch".into(), true);
        let f: Flag = serde_json::from_value(v).unwrap();
        assert_eq!((f.key.as_str(), f.enabled, flag_type(&f)), ("kill", true, "boolean".to_owned()));
    }
}
