//! The formats a stack check's answer can be printed in (docs/cli.md, "Output formats"):
//! mquery's text table and the check document (in [`crate::text::stack`] and
//! [`crate::stack`]), and the formats CI systems read: GitHub workflow commands
//! ([`github`]), SARIF 2.1.0 ([`sarif`]), JUnit XML ([`junit`]) and a Markdown table for a
//! pull-request comment ([`markdown`]). Every one of them is made from the same
//! [`StackReport`], and the problems the CI formats report are the ones [`findings`] lists.

pub mod github;
pub mod junit;
pub mod markdown;
pub mod sarif;

use crate::stack::{Row, StackReport, Verdict};
use crate::text::printable;

/// `--format`'s values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Github,
    Sarif,
    Junit,
    Markdown,
}

impl Format {
    /// Every format, by its name.
    pub const ALL: [(&'static str, Format); 6] = [
        ("text", Format::Text),
        ("json", Format::Json),
        ("github", Format::Github),
        ("sarif", Format::Sarif),
        ("junit", Format::Junit),
        ("markdown", Format::Markdown),
    ];

    /// The names, for a help line or an error.
    pub fn names() -> String {
        Format::ALL.map(|(name, _)| name).join(", ")
    }
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Format, String> {
        Format::ALL
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, format)| *format)
            .ok_or_else(|| {
                format!(
                    "unknown format {:?} (one of {})",
                    printable(s),
                    Format::names()
                )
            })
    }
}

/// A place a row was found at: a file and, when the file has lines, a line (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place<'a> {
    pub file: &'a str,
    pub line: Option<u32>,
}

impl<'a> Place<'a> {
    /// The place a `foundIn` entry names: `FILE:LINE`, or `FILE` alone when a file has no
    /// image at all; `None` for `-` (the row counting places past the cap, which is nowhere).
    pub fn of(found_in: &'a str) -> Option<Place<'a>> {
        if found_in == "-" {
            return None;
        }
        match found_in.rsplit_once(':') {
            Some((file, line)) if !file.is_empty() => match line.parse::<u32>() {
                Ok(line) if line > 0 => Some(Place {
                    file,
                    line: Some(line),
                }),
                _ => Some(Place {
                    file: found_in,
                    line: None,
                }),
            },
            _ => Some(Place {
                file: found_in,
                line: None,
            }),
        }
    }
}

/// What kind of problem a row is, for the CI formats; each is a rule of the SARIF log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// The image was looked up and lacks the platform (the check's exit 3).
    PlatformMissing,
    /// The lookup failed (exit 1).
    LookupFailed,
    /// A place names no image that could be looked up, or a platform that does not parse
    /// (exit 1).
    NotChecked,
}

impl Rule {
    pub const ALL: [Rule; 3] = [Rule::PlatformMissing, Rule::LookupFailed, Rule::NotChecked];

    /// The rule's id, stable: CI dashboards group by it.
    pub fn id(self) -> &'static str {
        match self {
            Rule::PlatformMissing => "platform-missing",
            Rule::LookupFailed => "lookup-failed",
            Rule::NotChecked => "not-checked",
        }
    }

    /// What to do about it.
    pub fn help(self) -> &'static str {
        match self {
            Rule::PlatformMissing => {
                "Use a tag or another image that is published for the platform, build one for \
                 it, or run the service elsewhere; `mquery IMAGE` lists the platforms an image \
                 has."
            }
            Rule::LookupFailed => {
                "Check the reference and your registry login (`mquery IMAGE` says what the \
                 registry answered); a timeout or a rate limit may pass on a retry."
            }
            Rule::NotChecked => {
                "Give the variable a value (mquery check --env-file, or the environment), \
                 write the reference out, or fix the platform's spelling."
            }
        }
    }

    /// One sentence on what the rule finds.
    pub fn description(self) -> &'static str {
        match self {
            Rule::PlatformMissing => "An image the stack uses does not support the platform.",
            Rule::LookupFailed => "An image the stack uses could not be looked up.",
            Rule::NotChecked => {
                "A place that should name an image names none that can be looked up \
                 (an unset variable, a template, an invalid reference or platform)."
            }
        }
    }
}

/// One problem of a check, as the CI formats report it: its rule, a short title, the
/// message, and the row it comes from. Strings from files and registries are made
/// printable (no control characters: a message cannot forge a line of any format).
#[derive(Debug, Clone)]
pub struct Finding<'a> {
    pub rule: Rule,
    pub title: String,
    pub message: String,
    pub row: &'a Row,
}

/// The problems of `report`, one per row that fails the check, in the table's order.
pub fn findings(report: &StackReport) -> Vec<Finding<'_>> {
    report.rows.iter().filter_map(finding).collect()
}

/// The row's problem, if it is one.
pub fn finding(row: &Row) -> Option<Finding<'_>> {
    let image = row.image.as_deref().map(printable);
    let (rule, title, message) = match (&row.verdict, &image) {
        (Verdict::Unsupported { platform }, Some(image)) => (
            Rule::PlatformMissing,
            format!("{image} does not support {}", printable(platform)),
            format!(
                "{image} does not run on {}: its platforms are {}.",
                printable(platform),
                printable(row.platforms.as_deref().unwrap_or("none"))
            ),
        ),
        (Verdict::Failed(reason), Some(image)) => (
            Rule::LookupFailed,
            format!("{image} could not be looked up"),
            format!("{image} could not be looked up: {}", printable(reason)),
        ),
        (Verdict::NotChecked(reason), image) => (
            Rule::NotChecked,
            match image {
                Some(image) => format!("{image} was not checked"),
                None => "No image to check".to_owned(),
            },
            printable(reason).into_owned(),
        ),
        _ => return None,
    };
    Some(Finding {
        rule,
        title,
        message,
        row,
    })
}
