//! The text of a stack's check (docs/cli.md, `mquery check`): the table under its header, the
//! verdict column, and the summary line the check document carries too.

use crate::stack::{Counts, StackReport, Verdict};
use crate::text::{clip, printable};

impl StackReport {
    /// The table, aligned, under a header, then the summary line.
    pub fn table(&self) -> String {
        self.table_in(false)
    }

    /// The table, its verdicts coloured when `colour` (green supported, red lacking or
    /// failed, yellow not checked; docs/cli.md, "Colour and progress"). Only the last column
    /// is coloured, so the escapes never shift the alignment.
    pub fn table_in(&self, colour: bool) -> String {
        let header = ["IMAGE", "FOUND IN", "PLATFORMS", "PLATFORM CHECK"].map(str::to_owned);
        let cells: Vec<[String; 4]> = self
            .rows
            .iter()
            .map(|row| {
                [
                    row.image
                        .as_deref()
                        .map_or_else(|| "-".to_owned(), |i| clip(i, 60)),
                    printable(&list_cell(&row.found_in)).into_owned(),
                    // registry strings: printable, so no cell can drive a terminal or start
                    // a line of its own (a GitHub workflow command among them)
                    row.platforms
                        .as_deref()
                        .map_or_else(|| "-".to_owned(), |p| printable(p).into_owned()),
                    row.verdict.text(),
                ]
            })
            .collect();
        let all: Vec<&[String; 4]> = std::iter::once(&header).chain(&cells).collect();
        let widths: Vec<usize> = (0..4)
            .map(|c| all.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        let styles = std::iter::once(None).chain(self.rows.iter().map(|r| r.verdict.style()));
        for (row, style) in all.into_iter().zip(styles) {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                if c < 3 {
                    line.push_str(cell);
                    line.push_str(&" ".repeat(widths[c] - cell.chars().count() + 2));
                }
            }
            let verdict = row[3].trim_end();
            match style.filter(|_| colour && !verdict.is_empty()) {
                Some(style) => {
                    out.push_str(&line);
                    out.push_str(style);
                    out.push_str(verdict);
                    out.push_str(RESET);
                }
                None => {
                    line.push_str(verdict);
                    out.push_str(line.trim_end());
                }
            }
            out.push('\n');
        }
        out.push_str(&self.summary);
        out.push('\n');
        out
    }
}

/// SGR: the end of a coloured cell.
const RESET: &str = "\x1b[0m";

impl Verdict {
    /// The SGR escape that colours the verdict, if any.
    fn style(&self) -> Option<&'static str> {
        match self {
            Verdict::Supported { .. } => Some("\x1b[32m"),
            Verdict::Unsupported { .. } | Verdict::Failed(_) => Some("\x1b[31m"),
            Verdict::NotChecked(_) => Some("\x1b[33m"),
            Verdict::LookedUp | Verdict::BuiltLocally(_) => None,
        }
    }

    /// The verdict column.
    pub fn text(&self) -> String {
        match self {
            Verdict::Supported { platform, entry } => {
                format!("{}: yes ({})", printable(platform), printable(entry))
            }
            Verdict::Unsupported { platform } => format!("{}: no", printable(platform)),
            Verdict::LookedUp => "-".to_owned(),
            Verdict::Failed(reason) => format!("error: {reason}"),
            Verdict::NotChecked(reason) | Verdict::BuiltLocally(reason) => {
                printable(reason).into_owned()
            }
        }
    }
}

/// Platforms or places as one cell of the text table: the first three, then how many more
/// (`none` when there are none).
pub fn list_cell(names: &[String]) -> String {
    match names.len() {
        0 => "none".to_owned(),
        n if n <= 3 => names.join(", "),
        n => format!("{}, +{} more", names[..3].join(", "), n - 3),
    }
}

/// The summary line; `not_built` of the `built_locally` rows are images of Dockerfile stages
/// BuildKit does not build, named apart; `platform` is the one asked for, normalized.
pub fn summary(counts: &Counts, not_built: usize, platform: Option<&str>) -> String {
    let mut parts = Vec::new();
    match platform {
        Some(p) => {
            let (supports, does) = match (counts.supported, counts.unsupported) {
                (1, 1) => ("supports", "does"),
                (1, _) => ("supports", "do"),
                (_, 1) => ("support", "does"),
                _ => ("support", "do"),
            };
            parts.push(format!("{} {supports} {p}", counts.supported));
            parts.push(format!("{} {does} not", counts.unsupported));
        }
        None => parts.push(format!("{} looked up", counts.images - counts.failed)),
    }
    parts.push(format!("{} failed", counts.failed));
    if counts.not_checked > 0 {
        parts.push(format!("{} not checked", counts.not_checked));
    }
    let built_locally = counts.built_locally - not_built;
    if built_locally > 0 {
        parts.push(format!("{built_locally} built locally"));
    }
    if not_built > 0 {
        parts.push(format!("{not_built} in stages not built"));
    }
    let noun = if counts.images == 1 {
        "image"
    } else {
        "images"
    };
    format!("{} {noun}: {}", counts.images, parts.join(", "))
}
