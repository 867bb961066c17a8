//! JUnit XML (docs/cli.md, "Output formats"): one test suite for the check, one test case per
//! row (an image, or a place that names none). An image lacking the platform is a
//! `<failure>`, a failed lookup or a place not checked an `<error>`, an image built locally
//! or in a stage not built `<skipped>`. This is the layout junitparser, GitLab and the
//! JUnit report actions read (`testsuites` > `testsuite` > `testcase`, with `file` and
//! `line` on a test case). Every string is printable first (no control character, which XML
//! 1.0 forbids), then escaped for XML.

use std::fmt::Write as _;

use crate::formats::{Place, finding};
use crate::stack::{StackReport, Verdict};
use crate::text::stack::list_cell;

/// The report as a JUnit XML document.
pub fn render(report: &StackReport) -> String {
    let mut cases = String::new();
    let (mut failures, mut errors, mut skipped) = (0, 0, 0);
    for row in &report.rows {
        let name = match &row.image {
            Some(image) => image.clone(),
            None => format!("(no image) {}", list_cell(&row.found_in)),
        };
        let _ = write!(
            cases,
            "    <testcase name=\"{}\" classname=\"mquery check\"",
            xml(&name)
        );
        if let Some(place) = row.found_in.first().and_then(|f| Place::of(f)) {
            let _ = write!(cases, " file=\"{}\"", xml(place.file));
            if let Some(line) = place.line {
                let _ = write!(cases, " line=\"{line}\"");
            }
        }
        let body = match (&row.verdict, finding(row)) {
            (Verdict::BuiltLocally(reason), _) => {
                skipped += 1;
                Some(format!("<skipped message=\"{}\"/>", xml(reason)))
            }
            (Verdict::Unsupported { .. }, Some(f)) => {
                failures += 1;
                Some(element("failure", f.rule.id(), &f.title, &f.message))
            }
            (_, Some(f)) => {
                errors += 1;
                Some(element("error", f.rule.id(), &f.title, &f.message))
            }
            (_, None) => None,
        };
        match body {
            Some(body) => {
                let _ = writeln!(cases, ">\n      {body}\n    </testcase>");
            }
            None => cases.push_str("/>\n"),
        }
    }
    let tests = report.rows.len();
    let name = match &report.platform {
        Some(platform) => format!("mquery check: {platform}"),
        None => "mquery check".to_owned(),
    };
    let counts = format!(
        "tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\""
    );
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(out, "<testsuites name=\"mquery\" {counts}>");
    let _ = writeln!(out, "  <testsuite name=\"{}\" {counts}>", xml(&name));
    out.push_str(&cases);
    let _ = writeln!(
        out,
        "    <system-out>{}</system-out>\n  </testsuite>\n</testsuites>",
        xml(&report.summary)
    );
    out
}

/// `<failure>` or `<error>`: the rule as its type, the title as its message, the message as
/// its text.
fn element(tag: &str, rule: &str, title: &str, message: &str) -> String {
    format!(
        "<{tag} type=\"{rule}\" message=\"{}\">{}</{tag}>",
        xml(title),
        xml(message)
    )
}

/// Text for an XML attribute or element: printable, the five special characters escaped,
/// and the two non-characters XML also forbids replaced.
fn xml(s: &str) -> String {
    let s = crate::text::printable(s);
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_text_cannot_break_out() {
        assert_eq!(
            xml("a\"/><x y='1'>&\u{1b}\u{ffff}"),
            "a&quot;/&gt;&lt;x y=&apos;1&apos;&gt;&amp;\\x1b\u{fffd}"
        );
    }
}
