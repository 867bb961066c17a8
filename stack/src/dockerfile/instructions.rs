//! A Dockerfile's text read into instructions as BuildKit's parser reads it
//! (frontend/dockerfile/parser/parser.go, directives.go, split_command.go, line_parsers.go):
//!
//! - lines end at `\n`; every `\r` and `\n` at a line's end is dropped (CRLF files read alike);
//! - the directives (`# syntax=`, `# escape=`, `# check=`) are comments at the very top, before
//!   any other line, blank or comment; `# escape=` sets the escape character to `\` or `` ` ``;
//! - an escape character at a line's end (before blanks, not itself escaped) continues the
//!   instruction on the next line, which is appended as it is (no separator); comment lines and
//!   blank lines inside a continuation are skipped;
//! - `#` starts a comment only at a line's start (after blanks);
//! - `RUN`, `COPY` and `ADD` (also as `ONBUILD` triggers), when not in JSON form, may carry
//!   heredocs: every word `<<NAME`, `<<-NAME` (tabs before the end marker allowed), `<<"NAME"`,
//!   `<<'NAME'`, `3<<NAME` starts a body that runs to the line that is exactly `NAME`. Bodies
//!   are content, never instructions.
//!
//! What BuildKit refuses while parsing (a bad directive, an unterminated heredoc) becomes a
//! [`Item::Refused`] at its line, and reading goes on as best it can.

use super::{lex, quote};
use crate::Problem;

/// One instruction, continuation lines joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Instruction {
    /// The line it starts on (1-based).
    pub line: usize,
    /// The instruction's name as written (`FROM`, `from`).
    pub command: String,
    /// Its leading `--flag[=value]` words, quotes and escapes removed
    /// (split_command.go `extractBuilderFlags`).
    pub flags: Vec<String>,
    /// The rest of the line, trimmed.
    pub args: String,
}

impl Instruction {
    /// The instruction's name in lower case, as BuildKit dispatches on it.
    pub fn keyword(&self) -> String {
        super::lower(&self.command)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Item {
    Instruction(Instruction),
    /// Something BuildKit refuses to parse.
    Refused {
        line: usize,
        problem: Problem,
    },
}

#[derive(Debug)]
pub(super) struct Parsed {
    /// The escape character (`\`, or `` ` `` by directive).
    pub escape: char,
    pub items: Vec<Item>,
}

/// The whitespace BuildKit splits an instruction's name from its arguments with, and `FROM`'s
/// arguments (parser.go `reWhitespace`: `[\t\v\f\r ]+`).
pub(super) fn is_separator(c: char) -> bool {
    matches!(c, '\t' | '\u{b}' | '\u{c}' | '\r' | ' ')
}

/// Go's `\s` in the directive and heredoc expressions: `[\t\n\f\r ]`.
fn is_regexp_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{c}' | '\r' | ' ')
}

fn trim_newline(line: &str) -> &str {
    line.trim_end_matches(['\r', '\n'])
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// The line without its continuation mark, and whether the instruction ends here
/// (parser.go `trimContinuationCharacter`: the escape character, then only blanks, and not
/// right after another escape character; alone on its line it continues too).
fn trim_continuation(line: &str, escape: char) -> (&str, bool) {
    let trimmed = line.trim_end_matches([' ', '\t']);
    if let Some(before) = trimmed.strip_suffix(escape)
        && (before.is_empty() || !before.ends_with(escape))
    {
        return (before, false);
    }
    (line, true)
}

/// The parser directives at the top of a file (directives.go `DirectiveParser`).
#[derive(Debug, Default)]
struct Directives {
    done: bool,
    seen: Vec<String>,
}

impl Directives {
    /// A directive `(name, value)` if `line` is one; `Err` for a repeated one.
    fn line(&mut self, line: &str) -> Result<Option<(String, String)>, Problem> {
        if self.done {
            return Ok(None);
        }
        let Some(parsed) = directive(line) else {
            self.done = true;
            return Ok(None);
        };
        let (name, value) = parsed;
        if !matches!(name.as_str(), "syntax" | "escape" | "check") {
            self.done = true;
            return Ok(None);
        }
        if self.seen.contains(&name) {
            return Err(Problem::Dockerfile(format!(
                "only one `# {name}=` directive may be given"
            )));
        }
        self.seen.push(name.clone());
        Ok(Some((name, value)))
    }
}

/// `# name = value` (directives.go: `^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$` after the `#` and
/// the blanks after it), the name in lower case.
fn directive(line: &str) -> Option<(String, String)> {
    let body = line.strip_prefix('#')?.trim_start();
    let name_len = body
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())))
        .map_or(body.len(), |(i, _)| i);
    if name_len == 0 {
        return None;
    }
    let after = body[name_len..]
        .trim_start_matches(is_regexp_space)
        .strip_prefix('=')?;
    if after.is_empty() || after.contains('\n') {
        return None;
    }
    let value = after.trim_matches(is_regexp_space);
    // blanks only: the lazy `.+?` still takes the last one
    let value = if value.is_empty() {
        &after[after.len() - after.chars().next_back()?.len_utf8()..]
    } else {
        value
    };
    Some((body[..name_len].to_ascii_lowercase(), value.to_owned()))
}

/// Reads `text` (a byte-order mark already removed).
pub(super) fn parse(text: &str) -> Parsed {
    let mut escape = '\\';
    let mut items = Vec::new();
    let mut directives = Directives::default();
    let mut lines = text.split_inclusive('\n');
    let mut number = 0;
    while let Some(raw) = lines.next() {
        number += 1;
        let start = number;
        let token = trim_newline(raw).trim_start();
        match directives.line(token) {
            Ok(Some((name, value))) if name == "escape" => match value.as_str() {
                "\\" => escape = '\\',
                "`" => escape = '`',
                _ => items.push(Item::Refused {
                    line: start,
                    problem: Problem::Dockerfile(format!(
                        "the escape character can be `\\` or `` ` ``, not {}",
                        quote(&value)
                    )),
                }),
            },
            Ok(_) => {}
            Err(problem) => items.push(Item::Refused {
                line: start,
                problem,
            }),
        }
        let token = if is_comment(token) { "" } else { token };
        let (first, mut ended) = trim_continuation(token, escape);
        if ended && first.is_empty() {
            continue;
        }
        let mut line = first.to_owned();
        while !ended {
            let Some(raw) = lines.next() else { break };
            number += 1;
            if is_comment(raw) {
                continue;
            }
            let token = trim_newline(raw);
            if token.trim_start().is_empty() {
                continue;
            }
            let (part, end) = trim_continuation(token, escape);
            line.push_str(part);
            ended = end;
        }
        let (command, flags, args) = split_command(&line, escape);
        let instruction = Instruction {
            line: start,
            command,
            flags,
            args,
        };
        let heredocs = match may_have_heredocs(&instruction, escape) {
            Ok(true) if line.contains("<<") => heredocs(&line),
            Ok(_) => Ok(Vec::new()),
            Err(problem) => Err(problem),
        };
        items.push(Item::Instruction(instruction));
        let heredocs = match heredocs {
            Ok(heredocs) => heredocs,
            Err(problem) => {
                items.push(Item::Refused {
                    line: start,
                    problem,
                });
                continue;
            }
        };
        for (name, chomp) in heredocs {
            let mut terminated = false;
            for raw in lines.by_ref() {
                number += 1;
                let mut candidate = trim_newline(raw);
                if chomp {
                    candidate = candidate.trim_start_matches('\t');
                }
                if candidate == name {
                    terminated = true;
                    break;
                }
            }
            if !terminated {
                items.push(Item::Refused {
                    line: start,
                    problem: Problem::Dockerfile(format!(
                        "a heredoc is not closed before the end of the file: {}",
                        quote(&name)
                    )),
                });
                break;
            }
        }
    }
    Parsed { escape, items }
}

/// An instruction's name, flags and arguments (split_command.go `splitCommand`).
fn split_command(line: &str, escape: char) -> (String, Vec<String>, String) {
    let line = line.trim();
    match line.find(is_separator) {
        None => (line.to_owned(), Vec::new(), String::new()),
        Some(at) => {
            let rest = line[at..].trim_start_matches(is_separator);
            let (args, flags) = extract_flags(rest, escape);
            (line[..at].to_owned(), flags, args.trim().to_owned())
        }
    }
}

/// The leading `--flag` words (quotes and escapes removed, a lone `--` ends them) and the rest
/// (split_command.go `extractBuilderFlags`; BuildKit walks bytes there, this walks characters,
/// which differs only for non-ASCII flags, which no flag has).
fn extract_flags(line: &str, escape: char) -> (&str, Vec<String>) {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote(char),
    }
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word = String::new();
    let mut blank_ok = false;
    let mut chars = line.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match phase {
            Phase::Spaces => {
                if c.is_whitespace() {
                    continue;
                }
                if !line[at..].starts_with("--") {
                    return (&line[at..], words);
                }
                phase = Phase::Word;
                word.push(c);
            }
            Phase::Word => {
                if c.is_whitespace() {
                    phase = Phase::Spaces;
                    if word == "--" {
                        return (&line[at..], words);
                    }
                    if blank_ok || !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                    word.clear();
                    blank_ok = false;
                } else if c == '\'' || c == '"' {
                    phase = Phase::Quote(c);
                    blank_ok = true;
                } else if c == escape {
                    // an escape at the very end is dropped
                    if let Some((_, escaped)) = chars.next() {
                        word.push(escaped);
                    }
                } else {
                    word.push(c);
                }
            }
            Phase::Quote(quote) => {
                if c == quote {
                    phase = Phase::Word;
                } else if c == escape {
                    match chars.next() {
                        Some((_, escaped)) => word.push(escaped),
                        None => phase = Phase::Word,
                    }
                } else {
                    word.push(c);
                }
            }
        }
    }
    if phase != Phase::Spaces && word != "--" && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    ("", words)
}

/// Words split on blanks, quotes and escapes kept (line_parsers.go `parseWords`, used for `ARG`).
pub(super) fn words(rest: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut blank_ok = false;
    let mut quote: Option<char> = None;
    let mut in_word = false;
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if !in_word {
            if c.is_whitespace() {
                continue;
            }
            in_word = true;
        }
        match quote {
            None => {
                if c.is_whitespace() {
                    in_word = false;
                    if blank_ok || !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                    blank_ok = false;
                    continue;
                }
                if c == '\'' || c == '"' {
                    quote = Some(c);
                    blank_ok = true;
                }
                if c == escape {
                    let Some(escaped) = chars.next() else {
                        // an escape at the very end is dropped
                        continue;
                    };
                    word.push(c);
                    word.push(escaped);
                    continue;
                }
                word.push(c);
            }
            Some(q) => {
                if c == q {
                    quote = None;
                }
                // nothing escapes inside single quotes
                if c == escape && q != '\'' {
                    let Some(escaped) = chars.next() else {
                        quote = None;
                        continue;
                    };
                    word.push(c);
                    word.push(escaped);
                    continue;
                }
                word.push(c);
            }
        }
    }
    if in_word && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    words
}

/// Whether BuildKit looks for heredocs in this instruction (parser.go `canContainHeredoc`):
/// `RUN`, `COPY`, `ADD`, or one of them as an `ONBUILD` trigger, not in JSON form. `Err`: a
/// JSON array of something else than strings, which BuildKit refuses.
fn may_have_heredocs(instruction: &Instruction, escape: char) -> Result<bool, Problem> {
    let keyword = instruction.keyword();
    let (keyword, args) = if keyword == "onbuild" {
        let (command, _, args) = split_command(&instruction.args, escape);
        (super::lower(&command), args)
    } else {
        (keyword, instruction.args.clone())
    };
    if !matches!(keyword.as_str(), "run" | "copy" | "add") {
        return Ok(false);
    }
    // line_parsers.go parseMaybeJSON (RUN: an empty rest is no JSON) and parseJSON
    let rest = args.trim_start();
    if !rest.starts_with('[') {
        return Ok(true);
    }
    match serde_json::from_str::<Vec<serde_json::Value>>(rest) {
        Ok(array) if array.iter().all(serde_json::Value::is_string) => Ok(false),
        Ok(_) => Err(Problem::Dockerfile(format!(
            "{} in JSON form must list strings only",
            keyword.to_uppercase()
        ))),
        // not JSON: the shell form
        Err(_) => Ok(true),
    }
}

/// The heredocs a line opens, in order: `(name, tabs before the end marker allowed)`
/// (parser.go `heredocsFromLine` and `heredocFromMatch`).
fn heredocs(line: &str) -> Result<Vec<(String, bool)>, Problem> {
    let Some(words) = lex::heredoc_words(line) else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    for word in words {
        let Some((chomp, rest)) = heredoc_marker(&word) else {
            continue;
        };
        if rest.is_empty() {
            continue;
        }
        let name = lex::heredoc_name(rest).map_err(|problem| {
            let why = match problem {
                Problem::Syntax(why) => why,
                other => other.to_string(),
            };
            Problem::Dockerfile(format!("a heredoc marker cannot be read: {why}"))
        })?;
        if let Some(name) = name {
            found.push((name, chomp));
        }
    }
    Ok(found)
}

/// A word `^(\d*)<<(-?)\s*([^<]*)$` (parser.go `reHeredoc`): whether it has the `-`, and the
/// marker after it.
fn heredoc_marker(word: &str) -> Option<(bool, &str)> {
    let after = word
        .trim_start_matches(|c: char| c.is_ascii_digit())
        .strip_prefix("<<")?;
    if after.contains('<') {
        return None;
    }
    let (chomp, after) = match after.strip_prefix('-') {
        Some(after) => (true, after),
        None => (false, after),
    };
    Some((chomp, after.trim_start_matches(is_regexp_space)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instructions(text: &str) -> Vec<(usize, String, Vec<String>, String)> {
        parse(text)
            .items
            .into_iter()
            .filter_map(|item| match item {
                Item::Instruction(i) => Some((i.line, i.command, i.flags, i.args)),
                Item::Refused { .. } => None,
            })
            .collect()
    }

    fn refused(text: &str) -> Vec<(usize, String)> {
        parse(text)
            .items
            .into_iter()
            .filter_map(|item| match item {
                Item::Refused { line, problem } => Some((line, problem.to_string())),
                Item::Instruction(_) => None,
            })
            .collect()
    }

    fn i(
        line: usize,
        command: &str,
        flags: &[&str],
        args: &str,
    ) -> (usize, String, Vec<String>, String) {
        (
            line,
            command.into(),
            flags.iter().map(|f| (*f).to_owned()).collect(),
            args.into(),
        )
    }

    #[test]
    fn continuations_comments_and_blank_lines() {
        let text = "# syntax=docker/dockerfile:1\n\
                    FROM alpine \\\n\
                    # a comment inside\n\
                    \n\
                    \x20\x20AS base\n\
                    RUN echo a\\\n\
                    b \\\\\n\
                    RUN x \\ \t\n\
                    \\\n\
                    y\n\
                    RUN z\\";
        assert_eq!(
            instructions(text),
            [
                i(2, "FROM", &[], "alpine   AS base"),
                i(6, "RUN", &[], "echo ab \\\\"),
                i(8, "RUN", &[], "x y"),
                i(11, "RUN", &[], "z"),
            ]
        );
        // `#` only starts a comment at the start of a line
        assert_eq!(instructions("FROM a # b\n"), [i(1, "FROM", &[], "a # b")]);
    }

    #[test]
    fn crlf_reads_as_lf() {
        assert_eq!(
            instructions("FROM a \\\r\n  AS b\r\nRUN c\r\n"),
            [i(1, "FROM", &[], "a   AS b"), i(3, "RUN", &[], "c")]
        );
    }

    #[test]
    fn the_escape_directive() {
        let text = "# escape=`\r\nFROM mcr.microsoft.com/windows/servercore `\r\n  AS base\r\nRUN dir C:\\ `\r\n  && echo\r\n";
        let parsed = parse(text);
        assert_eq!(parsed.escape, '`');
        assert_eq!(
            instructions(text),
            [
                i(
                    2,
                    "FROM",
                    &[],
                    "mcr.microsoft.com/windows/servercore   AS base"
                ),
                i(4, "RUN", &[], "dir C:\\   && echo"),
            ]
        );
        // only before any other line
        for late in [
            "\n# escape=`\nFROM a `\n",
            "# hello\n# escape=`\nFROM a `\n",
            "FROM a\n# escape=`\n",
        ] {
            assert_eq!(parse(late).escape, '\\', "{late:?}");
        }
        // after another directive, with blanks
        assert_eq!(
            parse("# syntax = x\n  #  ESCAPE = `  \nFROM a\n").escape,
            '`'
        );
        // refused values and repeats
        assert_eq!(refused("# escape=x\nFROM a\n").len(), 1);
        assert_eq!(refused("# escape=`\n# escape=`\nFROM a\n")[0].0, 2);
        assert_eq!(refused("# syntax=a\n# syntax=b\nFROM a\n").len(), 1);
        assert_eq!(refused("# escape=   \nFROM a\n").len(), 1);
    }

    #[test]
    fn directives_as_buildkit_matches_them() {
        assert_eq!(directive("# escape=`"), Some(("escape".into(), "`".into())));
        assert_eq!(
            directive("#escape = \\ "),
            Some(("escape".into(), "\\".into()))
        );
        assert_eq!(
            directive("# syntax=docker/dockerfile:1 "),
            Some(("syntax".into(), "docker/dockerfile:1".into()))
        );
        assert_eq!(directive("# x1=  "), Some(("x1".into(), " ".into())));
        assert_eq!(directive("# 1x=a"), None);
        assert_eq!(directive("# escape"), None);
        assert_eq!(directive("# escape="), None);
        assert_eq!(directive("escape=`"), None);
    }

    #[test]
    fn flags_as_buildkit_extracts_them() {
        assert_eq!(
            instructions("FROM --platform=$BUILDPLATFORM golang AS b\n"),
            [i(1, "FROM", &["--platform=$BUILDPLATFORM"], "golang AS b")]
        );
        assert_eq!(
            instructions("COPY --from=\"build\" --chown='a b' -- --x /y\n"),
            [i(1, "COPY", &["--from=build", "--chown=a b"], "--x /y")]
        );
        assert_eq!(
            instructions("RUN --mount=type=cache,target=/a\\ b echo\n"),
            [i(1, "RUN", &["--mount=type=cache,target=/a b"], "echo")]
        );
        assert_eq!(
            instructions("FROM --platform=\"x\n"),
            [i(1, "FROM", &["--platform=x"], "")]
        );
        assert_eq!(instructions("FROM --\n"), [i(1, "FROM", &[], "")]);
        assert_eq!(
            instructions("from\talpine\n"),
            [i(1, "from", &[], "alpine")]
        );
    }

    #[test]
    fn arg_words_keep_quotes_and_escapes() {
        assert_eq!(
            words("A=1 B=\"x y\" C='a b' D=a\\ b E=\"a\\\"b\" F", '\\'),
            [
                "A=1",
                "B=\"x y\"",
                "C='a b'",
                "D=a\\ b",
                "E=\"a\\\"b\"",
                "F"
            ]
        );
        assert_eq!(words("A='x\\' B", '\\'), ["A='x\\'", "B"]);
        assert_eq!(words("A=\"\" ", '\\'), ["A=\"\""]);
        assert_eq!(words("  ", '\\'), Vec::<String>::new());
        assert_eq!(words("A=a\\", '\\'), ["A=a"]);
    }

    #[test]
    fn heredoc_bodies_are_not_instructions() {
        let text = "FROM alpine\n\
                    RUN <<EOF\n\
                    FROM evil\n\
                    EOF\n\
                    RUN <<-EOT bash\n\
                    \tFROM evil2\n\
                    \tEOT\n\
                    COPY <<A <<'B' /dest\n\
                    FROM a\n\
                    A\n\
                    FROM b\n\
                    B\n\
                    ONBUILD RUN <<X\n\
                    FROM onbuild\n\
                    X\n\
                    RUN [\"<<NOT\"]\n\
                    RUN \"<<NOT\"\n\
                    USER <<NOT\n\
                    FROM last\n";
        let found: Vec<String> = instructions(text)
            .into_iter()
            .map(|(line, command, _, args)| format!("{line} {command} {args}"))
            .collect();
        assert_eq!(
            found,
            [
                "1 FROM alpine",
                "2 RUN <<EOF",
                "5 RUN <<-EOT bash",
                "8 COPY <<A <<'B' /dest",
                "13 ONBUILD RUN <<X",
                "16 RUN [\"<<NOT\"]",
                "17 RUN \"<<NOT\"",
                "18 USER <<NOT",
                "19 FROM last",
            ]
        );
        assert_eq!(refused(text), []);
    }

    #[test]
    fn heredoc_names_as_buildkit_reads_them() {
        // BuildKit parser_heredoc_test.go TestParseExtractsHeredoc: each body ends at its name
        let text = "FROM a\n\
                    RUN 3<<EMPTY2\nEMPTY2\n\
                    RUN <<eo'f'\nFROM x\neof\n\
                    RUN <<eo\\'f\nFROM x\neo'f\n\
                    RUN <<'one two'\nFROM x\none two\n\
                    RUN <<$EOF\nFROM x\n$EOF\n\
                    RUN <<  EOF  > foo\nFROM x\nEOF\n\
                    COPY <<X <<Y /dest\nY\nX\nX\nY\n\
                    RUN <<UNINDENT\n\tUNINDENT\nUNINDENT\n\
                    FROM end\n";
        let froms: Vec<usize> = instructions(text)
            .into_iter()
            .filter(|(_, command, _, _)| command == "FROM")
            .map(|(line, ..)| line)
            .collect();
        assert_eq!(froms, [1, 27]);
    }

    #[test]
    fn refused_heredocs() {
        let unterminated = "FROM a\nRUN <<EOF\nFROM b\n";
        assert_eq!(refused(unterminated).len(), 1);
        assert_eq!(refused(unterminated)[0].0, 2);
        assert_eq!(instructions(unterminated).len(), 2);
        // the line does not lex (an open quote): BuildKit looks for no heredoc on it
        assert_eq!(refused("FROM a\nRUN <<'EOF\nFROM b\n"), []);
        assert_eq!(instructions("FROM a\nRUN <<'EOF\nFROM b\n").len(), 3);
        assert_eq!(refused("FROM a\nRUN [1]\n").len(), 1);
        // a lexer failure on the line: no heredoc at all
        assert_eq!(instructions("FROM a\nRUN \"x <<EOF\nFROM b\n").len(), 3);
    }

    #[test]
    fn heredoc_markers() {
        assert_eq!(heredoc_marker("<<EOF"), Some((false, "EOF")));
        assert_eq!(heredoc_marker("12<<-  EOF"), Some((true, "EOF")));
        assert_eq!(heredoc_marker("<< -EOF"), Some((false, "-EOF")));
        assert_eq!(heredoc_marker("<<"), Some((false, "")));
        assert_eq!(heredoc_marker("<<<EOF"), None);
        assert_eq!(heredoc_marker("<EOF"), None);
        assert_eq!(heredoc_marker("x<<EOF"), None);
    }
}
