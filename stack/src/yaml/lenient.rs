//! What docker compose's YAML parser accepts and strict YAML 1.2 does not.
//!
//! Compose reads files with go-yaml v3 (compose-go `loader/loader.go` decodes with
//! `gopkg.in/yaml.v3`), whose scanner does not check indentation inside a flow collection
//! (yaml.v3 `scannerc.go` checks a line's column only when `flow_level == 0`). YAML 1.2, and
//! saphyr, require a flow collection's lines, its closing bracket included, to be indented
//! deeper than the block it sits in. So this compose file runs, and a strict parser refuses
//! it:
//!
//! ```yaml
//! services:
//!   web:
//!     command: [
//!     "serve",
//!     ]
//! ```
//!
//! When a strict read fails, every line that starts inside a flow collection is moved right,
//! one column past the line the collection opened on, and the file is read once more: inside
//! a flow collection indentation means nothing else, so the result is what go-yaml reads.
//! Lines keep their numbers. Block scalars (`|`, `>`) are left as they are. The adjusted text
//! is at most twice the original (plus 4 KiB); a file that would grow more is not re-read.

/// The text with flow-collection lines re-indented, or `None` when no line needed it.
pub fn adjust(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 64);
    let mut changed = false;
    // the flow collections open at the start of the line, and the indent of the line the
    // outermost one opened on
    let mut depth = 0usize;
    let mut opened_at = 0usize;
    // a block scalar's header was seen at this indent: deeper lines are its content
    let mut block_scalar: Option<usize> = None;
    for line in text.split_inclusive('\n') {
        let content = line.trim_start_matches(' ');
        let indent = line.len() - content.len();
        let blank = content.trim().is_empty();
        if let Some(parent) = block_scalar {
            if blank || indent > parent {
                out.push_str(line);
                continue;
            }
            block_scalar = None;
        }
        if depth > 0 && indent <= opened_at && !blank {
            // every moved line gains at most the opening line's indent: past twice the text,
            // the file was built to grow here, and the strict reading's error stands
            if out.len() + opened_at + 1 + content.len() > 2 * text.len() + 4096 {
                return None;
            }
            out.extend(std::iter::repeat_n(' ', opened_at + 1));
            out.push_str(content);
            changed = true;
        } else {
            out.push_str(line);
        }
        if depth == 0 {
            opened_at = indent;
        }
        let (after, opens_block) = scan_line(content, depth);
        depth = after;
        if opens_block && depth == 0 {
            block_scalar = Some(indent);
        }
    }
    changed.then_some(out)
}

/// The flow depth after `line`, and whether it ends with a block scalar's header (`|`, `>`,
/// with their indicators). Quotes and comments are skipped.
fn scan_line(line: &str, mut depth: usize) -> (usize, bool) {
    let mut quote: Option<char> = None;
    let mut previous = ' ';
    let mut chars = line.chars().peekable();
    let mut last_token = String::new();
    while let Some(c) = chars.next() {
        match quote {
            Some('"') if c == '\\' => {
                chars.next();
            }
            Some(q) if c == q => {
                // '' inside single quotes is an escaped quote
                if q == '\'' && chars.peek() == Some(&'\'') {
                    chars.next();
                } else {
                    quote = None;
                }
            }
            Some(_) => {}
            None => match c {
                '#' if previous == ' ' || previous == '\t' => break,
                '"' | '\'' if matches!(previous, ' ' | '\t' | '[' | '{' | ',' | ':') => {
                    quote = Some(c);
                }
                '[' | '{' => depth += 1,
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
        if quote.is_none() && !c.is_whitespace() {
            if previous.is_whitespace() {
                last_token.clear();
            }
            last_token.push(c);
        }
        previous = c;
    }
    let header = last_token.starts_with(['|', '>'])
        && last_token[1..]
            .chars()
            .all(|c| c == '+' || c == '-' || c.is_ascii_digit());
    (depth, header)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_lines_move_right_of_where_the_collection_opened() {
        let text = "a:\n  b: [\n  x, \"]\",\n  ]\n  c: {\n  k: v\n}\n";
        assert_eq!(
            adjust(text).as_deref(),
            Some("a:\n  b: [\n   x, \"]\",\n   ]\n  c: {\n   k: v\n   }\n")
        );
        assert_eq!(adjust("a: [1, 2]\n"), None);
        // a block scalar's lines are content, brackets included
        assert_eq!(adjust("s: |\n  [\n  x\nt: 1\n"), None);
        // a comment's bracket opens nothing
        assert_eq!(adjust("a: 1 # [\nb: 2\n"), None);
    }

    /// A deep indent before a long flow would give each of its lines that many spaces: the
    /// adjusted text stays within twice the original, or there is none.
    #[test]
    fn the_adjusted_text_is_bounded() {
        let text = format!("{}[\n{}}}", " ".repeat(40_000), "x\n".repeat(30_000));
        assert_eq!(adjust(&text), None);
    }
}
