//! SARIF 2.1.0 (docs/cli.md, "Output formats"), the format code-scanning dashboards read:
//! one run of the tool `mquery`, its three rules ([`Rule`]), and one result per problem with
//! the places it was found at (`physicalLocation`: the file as a relative URI reference and
//! the line). The document follows the OASIS schema (sarif-schema-2.1.0.json, errata 01);
//! the test suite validates it against that schema.

use serde_json::{Value, json};

use crate::formats::{Place, Rule, findings};
use crate::stack::StackReport;

/// Where the log's `$schema` points (the schema's own `$id`).
pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The log of `report`, as pretty JSON; `version` is mquery's.
pub fn render(report: &StackReport, version: &str) -> String {
    let rules: Vec<Value> = Rule::ALL
        .iter()
        .map(|rule| {
            json!({
                "id": rule.id(),
                "shortDescription": { "text": rule.description() },
                "fullDescription": { "text": rule.description() },
                "help": { "text": rule.help() },
                "defaultConfiguration": { "level": "error" },
            })
        })
        .collect();
    let results: Vec<Value> = findings(report)
        .into_iter()
        .map(|finding| {
            let locations: Vec<Value> = finding
                .row
                .found_in
                .iter()
                .filter_map(|f| Place::of(f))
                // standard input is no file a dashboard could show
                .filter(|place| place.file != "-")
                .map(|place| {
                    let mut physical = json!({
                        "artifactLocation": { "uri": uri(place.file) },
                    });
                    if let Some(line) = place.line {
                        physical["region"] = json!({ "startLine": line });
                    }
                    json!({ "physicalLocation": physical })
                })
                .collect();
            let index = Rule::ALL.iter().position(|r| *r == finding.rule);
            json!({
                "ruleId": finding.rule.id(),
                "ruleIndex": index,
                "level": "error",
                "message": { "text": finding.message },
                "locations": locations,
            })
        })
        .collect();
    let log = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "mquery",
                    "version": version,
                    "informationUri": "https://github.com/mquery-rs/mquery",
                    "rules": rules,
                }
            },
            "results": results,
        }],
    });
    serde_json::to_string_pretty(&log).unwrap_or_default()
}

/// A file path as a relative URI reference: `/` separates, every byte outside RFC 3986's
/// unreserved characters and `/` is percent-encoded; a leading `./` is dropped.
fn uri(path: &str) -> String {
    let path = path.trim_start_matches("./");
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(byte as char)
            }
            byte => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_uri_references() {
        assert_eq!(
            uri("./deploy/my app/compose.yaml"),
            "deploy/my%20app/compose.yaml"
        );
        assert_eq!(uri("a#b?c%é"), "a%23b%3Fc%25%C3%A9");
    }
}
