//! SARIF 2.1.0 logs for code-scanning UIs. The structs are `serde-sarif`'s, generated from the
//! OASIS schema, so a misspelt or mistyped property cannot ship; this module only maps
//! backstop's rules and findings onto them.

use serde_sarif::sarif::{
    ArtifactLocation, Location, Message, MultiformatMessageString, PhysicalLocation, Region, ReportingConfiguration,
    ReportingDescriptor, Result as Finding, ResultLevel, Run, SCHEMA_URL, Sarif, Tool, ToolComponent,
};

/// How bad a finding is, in SARIF's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    Error,
    Warning,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
        }
    }

    fn result_level(self) -> ResultLevel {
        match self {
            Level::Error => ResultLevel::Error,
            Level::Warning => ResultLevel::Warning,
        }
    }
}

/// A rule the tool checks, listed once in the log.
pub(crate) struct Rule<'a> {
    pub id: &'a str,
    pub summary: &'a str,
    pub help: &'a str,
    pub level: Level,
}

/// One result: a rule that fired at a place in a file.
pub(crate) struct Hit<'a> {
    pub rule: &'a str,
    pub level: Level,
    pub message: String,
    pub file: &'a str,
    pub line: u32,
    pub column: u32,
}

/// The log of one run of backstop.
pub(crate) fn log<'a>(rules: impl IntoIterator<Item = Rule<'a>>, hits: impl IntoIterator<Item = Hit<'a>>) -> Sarif {
    let rules: Vec<ReportingDescriptor> = rules
        .into_iter()
        .map(|r| {
            ReportingDescriptor::builder()
                .id(r.id)
                .short_description(MultiformatMessageString::builder().text(r.summary).build())
                .help(MultiformatMessageString::builder().text(r.help).build())
                .default_configuration(ReportingConfiguration::builder().level(r.level.name()).build())
                .build()
        })
        .collect();
    let results: Vec<Finding> = hits
        .into_iter()
        .map(|h| {
            let region = Region::builder().start_line(i64::from(h.line)).start_column(i64::from(h.column)).build();
            let place = PhysicalLocation::builder()
                .artifact_location(ArtifactLocation::builder().uri(h.file).build())
                .region(region)
                .build();
            Finding::builder()
                .rule_id(h.rule)
                .level(h.level.result_level())
                .message(Message::builder().text(h.message).build())
                .locations(vec![Location::builder().physical_location(place).build()])
                .build()
        })
        .collect();
    let driver = ToolComponent::builder().name("backstop").version(env!("CARGO_PKG_VERSION")).rules(rules).build();
    Sarif::builder()
        .schema(SCHEMA_URL)
        .version("2.1.0")
        .runs(vec![Run::builder().tool(Tool::builder().driver(driver).build()).results(results).build()])
        .build()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_log_carries_rules_and_located_results() {
        let rules = [Rule { id: "r1", summary: "short", help: "do this", level: Level::Warning }];
        let hits = [Hit { rule: "r1", level: Level::Error, message: "m".into(), file: "a.sql", line: 3, column: 7 }];
        let v = serde_json::to_value(log(rules, hits)).unwrap();
        assert_eq!(v["version"], "2.1.0");
        assert_eq!(v["$schema"], SCHEMA_URL);
        let run = &v["runs"][0];
        assert_eq!(run["tool"]["driver"]["name"], "backstop");
        assert_eq!(
            run["tool"]["driver"]["rules"][0],
            json!({"id": "r1", "shortDescription": {"text": "short"}, "help": {"text": "do this"},
                   "defaultConfiguration": {"level": "warning"}})
        );
        assert_eq!(
            run["results"][0],
            json!({"ruleId": "r1", "level": "error", "message": {"text": "m"},
                   "locations": [{"physicalLocation": {"artifactLocation": {"uri": "a.sql"},
                                                       "region": {"startLine": 3, "startColumn": 7}}}]})
        );
        // The log reads back as SARIF.
        let back: Sarif = serde_json::from_value(v).unwrap();
        assert_eq!(back.runs.len(), 1);
    }
}
