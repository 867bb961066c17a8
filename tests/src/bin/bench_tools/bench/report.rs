//! The report: Markdown lines printed and written to `target/bench/report.md` as they come,
//! and the numbers in it, formatted as printf formats them.

use std::fs::File;
use std::io::Write;
use std::path::Path;

/// The report's file, and its lines as they are said.
#[derive(Debug)]
pub struct Report {
    file: File,
    /// The first error writing the file; the run fails on it at the end.
    error: Option<std::io::Error>,
}

impl Report {
    /// Creates (or empties) the report at `path`, with its directory.
    pub fn create(path: &Path) -> Result<Report, String> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let file = File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Report { file, error: None })
    }

    /// One line, on stdout and in the file.
    pub fn say(&mut self, line: &str) {
        println!("{line}");
        if let Err(e) = writeln!(self.file, "{line}")
            && self.error.is_none()
        {
            self.error = Some(e);
        }
    }

    /// A section's heading.
    pub fn section(&mut self, title: &str) {
        self.say(&format!("## {title}"));
        self.say("");
    }

    /// A table's header and rule.
    pub fn columns(&mut self, names: &[&str]) {
        self.row(names);
        self.say(&format!("|{}", "---|".repeat(names.len())));
    }

    /// A table's row (an empty cell is `| |`).
    pub fn row(&mut self, cells: &[&str]) {
        let line: String = cells
            .iter()
            .map(|cell| match cell.is_empty() {
                true => " |".to_owned(),
                false => format!(" {cell} |"),
            })
            .collect();
        self.say(&format!("|{line}"));
    }

    /// A paragraph and the blank line after it.
    pub fn paragraph(&mut self, text: &str) {
        self.say(text);
        self.say("");
    }

    /// Whether every line reached the file.
    pub fn finish(self) -> Result<(), String> {
        match self.error {
            Some(e) => Err(format!("writing the report: {e}")),
            None => Ok(()),
        }
    }
}

/// The median of `values` (the lower one of an even count); 0 for none.
pub fn median(values: &[u64]) -> u64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    sorted
        .get(sorted.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or(0)
}

/// Microseconds as milliseconds with one decimal: `34.4 ms`.
pub fn ms(us: u64) -> String {
    format!("{:.1} ms", us as f64 / 1000.0)
}

/// `a / b` with two decimals: `0.38x`.
pub fn ratio(a: f64, b: f64) -> String {
    format!("{:.2}x", a / b)
}

/// A number as printed, read back (what a ratio of printed numbers is computed from).
pub fn number(printed: &str) -> f64 {
    printed.parse().unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_is_the_lower_middle_value() {
        assert_eq!(median(&[30, 10, 20]), 20);
        assert_eq!(median(&[40, 10, 30, 20]), 20);
        assert_eq!(median(&[7]), 7);
        assert_eq!(median(&[]), 0);
    }

    #[test]
    fn numbers_are_formatted_as_printf_formats_them() {
        assert_eq!(ms(34_450), "34.5 ms");
        assert_eq!(ms(4_345_812), "4345.8 ms");
        assert_eq!(ratio(34_400.0, 89_500.0), "0.38x");
        assert_eq!(ratio(number("2.7"), number("2.4")), "1.13x");
    }
}
