//! A Markdown table for a pull-request comment (docs/cli.md, "Output formats"): a heading
//! with the verdict, one row per image or problem, then the summary. Every cell is text from
//! files and registries, so each character Markdown or HTML would act on is escaped with a
//! backslash (CommonMark allows it before any ASCII punctuation), `|` included (a GFM table
//! cell ends there), and `@` (no one is mentioned by a registry's message); lines are joined.

use std::fmt::Write as _;

use crate::stack::{StackReport, Status, Verdict};
use crate::text::printable;
use crate::text::stack::list_cell;

/// The comment: a heading, the table, the summary.
pub fn render(report: &StackReport) -> String {
    let mut out = String::new();
    let verdict = match report.status {
        Status::Ok => "✅ passed",
        Status::Unsupported => "❌ an image lacks the platform",
        Status::Error => "⚠️ not every image could be checked",
    };
    let platform = report
        .platform
        .as_deref()
        .map(|p| format!(" for `{}`", cell(p)))
        .unwrap_or_default();
    let _ = writeln!(out, "### mquery check{platform}: {verdict}\n");
    out.push_str("| | Image | Found in | Platforms | Platform check |\n");
    out.push_str("|---|---|---|---|---|\n");
    for row in &report.rows {
        let mark = match row.verdict {
            Verdict::Supported { .. } | Verdict::LookedUp => "✅",
            Verdict::Unsupported { .. } => "❌",
            Verdict::Failed(_) | Verdict::NotChecked(_) => "⚠️",
            Verdict::BuiltLocally(_) => "➖",
        };
        let image = row.image.as_deref().map_or_else(|| "-".to_owned(), cell);
        let _ = writeln!(
            out,
            "| {mark} | {image} | {} | {} | {} |",
            cell(&list_cell(&row.found_in)),
            cell(row.platforms.as_deref().unwrap_or("-")),
            cell(&row.verdict.text()),
        );
    }
    let _ = writeln!(out, "\n{}", cell(&report.summary));
    out
}

/// Text as one table cell: printable, on one line, nothing Markdown or HTML acts on.
fn cell(s: &str) -> String {
    let s = printable(s);
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '`'
                | '*'
                | '_'
                | '['
                | ']'
                | '<'
                | '>'
                | '|'
                | '~'
                | '@'
                | '&'
                | '!'
                | '#'
                | '$'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_cannot_end_early_or_act() {
        assert_eq!(cell("a|b"), "a\\|b");
        assert_eq!(
            cell("<img src=x> @team `x`"),
            "\\<img src=x\\> \\@team \\`x\\`"
        );
        // printable escapes the line feed; its backslash is escaped in turn, so it shows as `\x0a`
        assert_eq!(cell("line\nnext"), "line\\\\x0anext");
    }
}
