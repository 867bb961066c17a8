//! GitHub Actions workflow commands (docs/cli.md, "Output formats"): one `::error` line per
//! place of each problem, so the pull request shows it on that line of the file, then the
//! text table for the log. The syntax and the escaping are the runner's: `::error
//! file=F,line=N,title=T::MESSAGE`, where a property escapes `%`, CR, LF, `:` and `,` and the
//! message escapes `%`, CR and LF (actions/toolkit packages/core/src/command.ts,
//! `escapeProperty` and `escapeData`). No other line can start with `::`: the table's cells
//! and the summary are printable text that begins with an image, a place or a count.

use std::fmt::Write as _;

use crate::formats::{Place, findings};
use crate::stack::StackReport;

/// The workflow commands for `report`'s problems, then its text table.
pub fn render(report: &StackReport) -> String {
    let mut out = String::new();
    for finding in findings(report) {
        let places: Vec<Option<Place>> = match finding.row.found_in.as_slice() {
            [] => vec![None],
            found_in => found_in.iter().map(|f| Place::of(f)).collect(),
        };
        for place in places {
            let mut properties = Vec::new();
            // standard input is no file of the repository
            if let Some(place) = place.filter(|p| p.file != "-") {
                properties.push(format!(
                    "file={}",
                    property(place.file.trim_start_matches("./"))
                ));
                if let Some(line) = place.line {
                    properties.push(format!("line={line}"));
                }
            }
            properties.push(format!(
                "title={}",
                property(&format!("mquery: {}", finding.title))
            ));
            let _ = writeln!(
                out,
                "::error {}::{}",
                properties.join(","),
                data(&finding.message)
            );
        }
    }
    out.push_str(&report.table());
    out
}

/// A command's message: `%`, CR and LF escaped.
fn data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A command's property value: the message's escapes, and `:` and `,`.
fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_the_runners() {
        assert_eq!(
            data("50% done\r\n::warning::x"),
            "50%25 done%0D%0A::warning::x"
        );
        assert_eq!(property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
    }
}
