//! `.env` files as docker compose reads them (compose-go dotenv/parser.go, dotenv/env.go,
//! dotenv/godotenv.go): the variables a Compose file is interpolated with besides the
//! environment.
//!
//! # The rules
//!
//! - A UTF-8 byte-order mark is skipped. Blank lines and lines whose first non-space is `#`
//!   are skipped (whitespace is Unicode's, so a CRLF file reads as its LF twin).
//! - A statement is `KEY=VALUE`, `KEY: VALUE` (YAML style), or `export KEY=VALUE` (`export`
//!   then whitespace). A key is made of letters, digits (any script's), `_`, `.`, `-`, `[`
//!   and `]`; spaces before the `=` are dropped, a space inside is refused, any other
//!   character is refused (`lol$wut`). A key alone on its line takes its value from the
//!   environment (or an earlier key), or is left unset.
//! - An unquoted value runs to the end of its line, cut at the first ` #` (a `#` right after
//!   a character is kept: `123#x`), trailing whitespace dropped, and is interpolated.
//! - `'single quoted'` is taken as written (`\'` is a quote, a backslash before anything
//!   else stays), and may span lines.
//! - `"double quoted"` may span lines; `\"` is a quote; then `\a \b \f \n \r \t \v \\ \"`
//!   and `\0NNN` (octal) are read as the shell's `echo` reads them, `\$` is a literal `$`,
//!   any other backslash stays; then it is interpolated. After a closing quote the line goes
//!   on as the file: a `# comment`, or (as compose reads it) another statement.
//! - Interpolation is compose's ([`crate::interpolate`]), with the environment first and
//!   then the keys read before (in this file and the files before it); an unset variable is
//!   an empty string there, as in compose; `${VAR:?message}` and invalid templates refuse the
//!   file.
//!
//! # Bounds
//!
//! At most [`MAX_SIZE`] bytes are read; one interpolated value produces at most
//! [`MAX_EXPANSION`] bytes (or its own length, if longer), and the values of one file at
//! most [`MAX_SIZE`] bytes in all, so values defined from values cannot multiply. The file
//! is read once, left to right.
//!
//! Differences from compose: a line number is the line where the statement (or its value)
//! starts, where compose counts on to the end of an unterminated quote; letters are Unicode's
//! Alphabetic property, which also holds the combining vowel signs some scripts write (Go's
//! letters do not).

use std::borrow::Cow;
use std::collections::HashMap;

use crate::interpolate::{Failure, substitute};
use crate::limits::{MAX_DEPTH, MAX_EXPANSION};

/// The largest env file read, and the most its values may produce in all.
pub const MAX_SIZE: usize = crate::limits::MAX_ENV_FILE;

/// Why an env file cannot be read; compose refuses the same files.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DotenvError {
    /// What is wrong at a line (1-based).
    #[error("line {line}: {reason}")]
    Line { line: usize, reason: String },
    #[error("larger than {MAX_SIZE} bytes (the most mquery reads of an env file)")]
    TooLarge,
}

impl DotenvError {
    /// The line the error is at, if it is at one.
    pub fn line(&self) -> Option<usize> {
        match self {
            DotenvError::Line { line, .. } => Some(*line),
            DotenvError::TooLarge => None,
        }
    }
}

/// The variables of an env file, in the order their keys first appear (a key set twice
/// keeps the last value). `lookup` is the environment: asked first when a value is
/// interpolated and for a key alone on its line, before the keys read earlier.
pub fn parse(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, DotenvError> {
    let mut vars = HashMap::new();
    let mut order = Vec::new();
    read(text, lookup, &mut vars, Some(&mut order))?;
    Ok(order
        .into_iter()
        .filter_map(|key| vars.remove_entry(&key))
        .collect())
}

/// [`parse`] into `vars`, which holds the variables of the env files read before (compose's
/// `--env-file A --env-file B` reads B with A's values at hand, and B's values win).
pub fn parse_into(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    vars: &mut HashMap<String, String>,
) -> Result<(), DotenvError> {
    read(text, lookup, vars, None)
}

/// compose-go's `isSpace`: whitespace that does not end a line.
fn is_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{85}' | '\u{a0}'
    )
}

/// The first byte at or after `at` that is not `space`.
fn skip(text: &str, at: usize, space: fn(char) -> bool) -> usize {
    text.get(at..)
        .and_then(|rest| rest.find(|c: char| !space(c)).map(|i| at + i))
        .unwrap_or(text.len())
}

/// The line (1-based) of byte `at`.
fn line_of(text: &str, at: usize) -> usize {
    1 + text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

/// The line starting at `at`, clipped for a message.
fn quote(text: &str) -> String {
    crate::excerpt(text.split('\n').next().unwrap_or_default())
}

fn read(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    vars: &mut HashMap<String, String>,
    mut order: Option<&mut Vec<String>>,
) -> Result<(), DotenvError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.len() > MAX_SIZE {
        return Err(DotenvError::TooLarge);
    }
    let bytes = text.as_bytes();
    let fail = |at: usize, reason: String| DotenvError::Line {
        line: line_of(text, at),
        reason,
    };
    // what the values of this file may still produce
    let mut budget = MAX_SIZE;
    let mut pos = 0;
    loop {
        pos = skip(text, pos, char::is_whitespace);
        if pos >= text.len() {
            break;
        }
        if bytes[pos] == b'#' {
            match text[pos..].find('\n') {
                Some(nl) => {
                    pos += nl;
                    continue;
                }
                None => break,
            }
        }
        let statement = pos;
        // `export` and whitespace (Go's `\s`: no vertical tab), then the key
        let mut src = pos;
        if text[pos..].starts_with("export")
            && text[pos + 6..].starts_with([' ', '\t', '\n', '\u{c}', '\r'])
        {
            src = skip(text, pos + 6, is_space);
            if src >= text.len() {
                return Err(fail(statement, "`export` names no variable".to_owned()));
            }
        }
        let mut terminator = None;
        for (i, c) in text[src..].char_indices() {
            match c {
                c if is_space(c) => {}
                '=' | ':' | '\n' => {
                    terminator = Some((src + i, c));
                    break;
                }
                '_' | '.' | '-' | '[' | ']' => {}
                c if c.is_alphabetic() || c.is_numeric() => {}
                c => {
                    return Err(fail(
                        src + i,
                        format!(
                            "unexpected character {c:?} in variable name {:?}",
                            quote(&text[src..])
                        ),
                    ));
                }
            }
        }
        // with no `=`, `:` or line end before the end of the file, compose reads the rest as
        // the value of an empty key
        let (key, value_at, alone) = match terminator {
            Some((at, c)) => (text[src..at].trim_end(), at + 1, c == '\n'),
            None => ("", src, false),
        };
        if key.contains(' ') {
            return Err(fail(
                src,
                format!("key {:?} cannot contain a space", quote(key)),
            ));
        }
        let value_at = skip(text, value_at, is_space);
        if alone {
            if let Some(value) = lookup(key).or_else(|| vars.get(key).cloned()) {
                set(vars, &mut order, key, value);
            }
            pos = value_at;
            continue;
        }
        let value = match bytes.get(value_at) {
            Some(&quote_byte @ (b'"' | b'\'')) => {
                let quote_char = char::from(quote_byte);
                let mut raw = String::new();
                let mut escaped = false;
                let mut close = None;
                for (i, c) in text[value_at + 1..].char_indices() {
                    if c != quote_char {
                        if !escaped && c == '\\' {
                            escaped = true;
                            continue;
                        }
                        if escaped {
                            escaped = false;
                            raw.push('\\');
                        }
                        raw.push(c);
                        continue;
                    }
                    if escaped {
                        escaped = false;
                        raw.push(c);
                        continue;
                    }
                    close = Some(value_at + 1 + i);
                    break;
                }
                let Some(close) = close else {
                    return Err(fail(
                        value_at,
                        format!("unterminated quoted value {:?}", quote(&text[value_at..])),
                    ));
                };
                pos = close + 1;
                if quote_byte == b'"' {
                    expand(&escapes(&raw), lookup, vars, budget)
                        .map_err(|reason| fail(value_at, reason))?
                } else {
                    raw
                }
            }
            _ => {
                let end = text[value_at..]
                    .find('\n')
                    .map_or(text.len(), |i| value_at + i);
                pos = end;
                let raw = &text[value_at..end];
                let raw = raw.split(" #").next().unwrap_or_default().trim_end();
                expand(raw, lookup, vars, budget).map_err(|reason| fail(value_at, reason))?
            }
        };
        budget = match budget.checked_sub(value.len()) {
            Some(left) => left,
            None => return Err(fail(value_at, values_too_long())),
        };
        set(vars, &mut order, key, value);
    }
    Ok(())
}

fn set(
    vars: &mut HashMap<String, String>,
    order: &mut Option<&mut Vec<String>>,
    key: &str,
    value: String,
) {
    if let Some(order) = order
        && !vars.contains_key(key)
    {
        order.push(key.to_owned());
    }
    vars.insert(key.to_owned(), value);
}

fn values_too_long() -> String {
    format!("the values of the file expand past {MAX_SIZE} bytes in all")
}

/// `raw` interpolated as compose interpolates a value: the environment first, then the keys
/// read before; an unset variable is empty. `Err` is the reason.
fn expand(
    raw: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    vars: &HashMap<String, String>,
    budget: usize,
) -> Result<String, String> {
    if !raw.contains('$') {
        return Ok(raw.to_owned());
    }
    let own = MAX_EXPANSION.max(raw.len());
    let cap = own.min(budget);
    let get = |name: &str| {
        lookup(name)
            .map(Cow::Owned)
            .or_else(|| vars.get(name).map(|v| Cow::Borrowed(v.as_str())))
    };
    match substitute(raw, &get, cap) {
        // compose substitutes an unset variable with an empty string here
        Ok(substituted) => Ok(substituted.text),
        Err(Failure::Syntax(sentence)) => Err(format!("invalid substitution: {sentence}")),
        Err(Failure::Required { name, message }) if message.is_empty() => {
            Err(format!("required variable {name} is missing a value"))
        }
        Err(Failure::Required { name, message }) => Err(format!(
            "required variable {name} is missing a value: {message}"
        )),
        Err(Failure::TooLong) if cap < own => Err(values_too_long()),
        Err(Failure::TooLong) => Err(format!(
            "the value expands past {own} bytes (the limit of one expansion)"
        )),
        Err(Failure::TooDeep) => Err(format!(
            "substitutions nest deeper than {MAX_DEPTH} levels (the limit of one expansion)"
        )),
    }
}

/// The escapes of a double-quoted value (compose-go's `expandEscapes`): `\a \b \f \n \r \t
/// \v \\ \"` as Go reads them, `\0` and up to three digits as an octal byte (when they are
/// three octal digits of at most 0377; otherwise the `0` is dropped and the rest kept), `\$`
/// as `$$` (a literal `$` to the interpolation), `\c` and any other backslash kept.
fn escapes(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let simple = match after.as_bytes().first() {
            Some(b'a') => Some("\u{7}"),
            Some(b'b') => Some("\u{8}"),
            Some(b'f') => Some("\u{c}"),
            Some(b'n') => Some("\n"),
            Some(b'r') => Some("\r"),
            Some(b't') => Some("\t"),
            Some(b'v') => Some("\u{b}"),
            Some(b'\\') => Some("\\"),
            Some(b'"') => Some("\""),
            Some(b'$') => Some("$$"),
            _ => None,
        };
        if let Some(replacement) = simple {
            out.push_str(replacement);
            rest = &after[1..];
            continue;
        }
        if let Some(digits) = after.strip_prefix('0') {
            let n = digits
                .bytes()
                .take(3)
                .take_while(u8::is_ascii_digit)
                .count();
            let (octal, tail) = digits.split_at(n);
            let value = (n == 3)
                .then(|| u32::from_str_radix(octal, 8).ok())
                .flatten()
                .filter(|v| *v <= 0o377)
                .and_then(char::from_u32);
            match value {
                Some(c) => out.push(c),
                None => {
                    out.push('\\');
                    out.push_str(octal);
                }
            }
            rest = tail;
            continue;
        }
        out.push('\\');
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> Option<String> {
        None
    }

    fn one(text: &str, key: &str) -> Result<String, DotenvError> {
        let vars = parse(text, &none)?;
        Ok(vars
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("{key} not in {text:?}")))
    }

    fn all(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Vec<(String, String)> {
        parse(text, lookup).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// compose-go godotenv_test.go's TestParsing, TestParse and parser_test.go's
    /// TestParseBytes, as (line, key, value) in dotenv/compose_go_parsing.jsonl.
    #[test]
    fn compose_go_parsing() {
        let rows: Vec<(String, String, String)> = include_str!("dotenv/compose_go_parsing.jsonl")
            .lines()
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}")))
            .collect();
        assert_eq!(rows.len(), 64, "every row of the file is read");
        for (text, key, value) in rows {
            assert_eq!(one(&text, &key), Ok(value), "{text:?}");
        }
    }

    /// The fixtures of compose-go's dotenv tests (plain, quoted, unquoted, exported, equals,
    /// special, utf8-bom), whole.
    #[test]
    fn compose_go_fixtures() {
        let plain = "OPTION_A=1\nOPTION_B=2\nOPTION_C= 3\nOPTION_D =4\nOPTION_E = 5\n456 = ABC\n\
                     OPTION_F = \nOPTION_G=\nOPTION_H = my string # Inline comment\n";
        let expected = pairs(&[
            ("OPTION_A", "1"),
            ("OPTION_B", "2"),
            ("OPTION_C", "3"),
            ("OPTION_D", "4"),
            ("OPTION_E", "5"),
            // compose's GetEnvFromFile keeps keys that start with a digit (only
            // godotenv's Read drops them)
            ("456", "ABC"),
            ("OPTION_F", ""),
            ("OPTION_G", ""),
            ("OPTION_H", "my string"),
        ]);
        assert_eq!(all(plain, &none), expected);
        // utf8-bom.env: the same with a byte-order mark
        assert_eq!(all(&format!("\u{feff}{plain}"), &none), expected);
        // and with CRLF line ends
        assert_eq!(all(&plain.replace('\n', "\r\n"), &none), expected);

        let quoted = "OPTION_A='1'\nOPTION_B='2'\nOPTION_C=''\nOPTION_D='\\n'\nOPTION_E=\"1\"\n\
                      OPTION_F=\"2\"\nOPTION_G=\"\"\nOPTION_H=\"\\n\"\n\
                      OPTION_I = \"echo 'asd'\" # Inline comment\n\
                      OPTION_J = 'first line\nsecond line\nthird line\nand so on'\n\
                      OPTION_K='Let\\'s go!'\nOPTION_Z = \"last value\"\n";
        assert_eq!(
            all(quoted, &none),
            pairs(&[
                ("OPTION_A", "1"),
                ("OPTION_B", "2"),
                ("OPTION_C", ""),
                ("OPTION_D", "\\n"),
                ("OPTION_E", "1"),
                ("OPTION_F", "2"),
                ("OPTION_G", ""),
                ("OPTION_H", "\n"),
                ("OPTION_I", "echo 'asd'"),
                ("OPTION_J", "first line\nsecond line\nthird line\nand so on"),
                ("OPTION_K", "Let's go!"),
                ("OPTION_Z", "last value"),
            ])
        );
        // CRLF inside a quoted value stays, as compose keeps it
        assert_eq!(
            one("A='x\r\ny'\r\n", "A"),
            Ok("x\r\ny".to_owned()),
            "CRLF in quotes"
        );

        let unquoted = "OPTION_A = \"some quoted phrase\"\n\
                        OPTION_B=first one with an unquoted phrase\n\
                        OPTION_C = then another one with an unquoted phrase\n\
                        OPTION_D = then another one with an unquoted phrase special è char\n\
                        OPTION_E = \"then another one quoted phrase\"\n";
        assert_eq!(
            all(unquoted, &none),
            pairs(&[
                ("OPTION_A", "some quoted phrase"),
                ("OPTION_B", "first one with an unquoted phrase"),
                ("OPTION_C", "then another one with an unquoted phrase"),
                (
                    "OPTION_D",
                    "then another one with an unquoted phrase special è char"
                ),
                ("OPTION_E", "then another one quoted phrase"),
            ])
        );
        assert_eq!(
            all("export OPTION_A=2\nexport OPTION_B='\\n'\n", &none),
            pairs(&[("OPTION_A", "2"), ("OPTION_B", "\\n")])
        );
        assert_eq!(
            all(
                "export OPTION_A='postgres://localhost:5432/database?sslmode=disable'\n\n",
                &none
            ),
            pairs(&[(
                "OPTION_A",
                "postgres://localhost:5432/database?sslmode=disable"
            )])
        );
        assert_eq!(
            all(
                "VAR.WITH.DOTS=dots\nVAR_WITH_UNDERSCORES=underscores\nVAR-WITH-DASHES=dashes\n",
                &none
            ),
            pairs(&[
                ("VAR.WITH.DOTS", "dots"),
                ("VAR_WITH_UNDERSCORES", "underscores"),
                ("VAR-WITH-DASHES", "dashes"),
            ])
        );
    }

    /// TestLinesToIgnore, and where statements start.
    #[test]
    fn ignored_lines_and_statements() {
        for text in [
            "\n",
            "\r\n",
            "\t\t ",
            "# Comment",
            "\t # comment",
            "#a\n\n  #b\r\n",
        ] {
            assert_eq!(all(text, &none), Vec::new(), "{text:?}");
        }
        // after a closing quote the line goes on as the file
        assert_eq!(
            all("A=\"x\" B=y\n", &none),
            pairs(&[("A", "x"), ("B", "y")])
        );
        // with no `=` before the end of the file, an empty key takes the rest
        assert_eq!(all("A=1\nlast", &none), pairs(&[("A", "1"), ("", "last")]));
        // a key repeated keeps its place and its last value
        assert_eq!(
            all("A=1\nB=2\nA=3\n", &none),
            pairs(&[("A", "3"), ("B", "2")])
        );
    }

    /// TestInheritedEnvVariable*, TestExpandingEnvironmentWithLookup,
    /// TestSubstitutionsWithEnvFile*Precedence, TestExpanding and the substitution
    /// fixtures.
    #[test]
    fn compose_go_lookups_and_substitutions() {
        let env = |name: &str| match name {
            "VAR_TO_BE_LOADED_FROM_OS_ENV" => Some("SOME_RANDOM_VALUE".to_owned()),
            "ME" => Some("YES".to_owned()),
            _ => None,
        };
        assert_eq!(
            all("foo=bar\nVAR_TO_BE_LOADED_FROM_OS_ENV\nbar=baz\n", &env),
            pairs(&[
                ("foo", "bar"),
                ("VAR_TO_BE_LOADED_FROM_OS_ENV", "SOME_RANDOM_VALUE"),
                ("bar", "baz"),
            ])
        );
        assert_eq!(all("VARIABLE_NOT_FOUND\n", &env), Vec::new());
        assert_eq!(all("TEST=$ME", &env), pairs(&[("TEST", "YES")]));

        let substitutions = "OPTION_A=1\nOPTION_B=${OPTION_A}\nOPTION_C=$OPTION_B\n\
                             OPTION_D=${OPTION_A}_${OPTION_B}\nOPTION_E=${OPTION_NOT_DEFINED}\n";
        let defaults = substitutions.replace("OPTION_A=1", "OPTION_A=${OPTION_A:-1}");
        let ones = pairs(&[
            ("OPTION_A", "1"),
            ("OPTION_B", "1"),
            ("OPTION_C", "1"),
            ("OPTION_D", "1_1"),
            ("OPTION_E", ""),
        ]);
        assert_eq!(all(substitutions, &none), ones);
        assert_eq!(all(&defaults, &none), ones);
        // the environment wins over the file's own earlier keys when a value is expanded
        let five = |name: &str| (name == "OPTION_A").then(|| "5".to_owned());
        assert_eq!(
            all(substitutions, &five),
            pairs(&[
                ("OPTION_A", "1"),
                ("OPTION_B", "5"),
                ("OPTION_C", "5"),
                ("OPTION_D", "5_5"),
                ("OPTION_E", ""),
            ])
        );
        assert_eq!(
            all(&defaults, &five),
            pairs(&[
                ("OPTION_A", "5"),
                ("OPTION_B", "5"),
                ("OPTION_C", "5"),
                ("OPTION_D", "5_5"),
                ("OPTION_E", ""),
            ])
        );

        let expanding: &[(&str, &[(&str, &str)])] = &[
            ("FOO=test\nBAR=$FOO", &[("FOO", "test"), ("BAR", "test")]),
            (
                "FOO=test\nBAR=${FOO}bar",
                &[("FOO", "test"), ("BAR", "testbar")],
            ),
            ("BAR=$FOO", &[("BAR", "")]),
            (
                "FOO=test\nBAR=\"quote $FOO\"",
                &[("FOO", "test"), ("BAR", "quote test")],
            ),
            ("BAR='quote $FOO'", &[("BAR", "quote $FOO")]),
            (r#"FOO="foo\$BAR""#, &[("FOO", "foo$BAR")]),
            (r#"FOO="foo\${BAR}""#, &[("FOO", "foo${BAR}")]),
            (
                "FOO=test\nBAR=\"foo\\${FOO} ${FOO}\"",
                &[("FOO", "test"), ("BAR", "foo${FOO} test")],
            ),
            ("A=$$B", &[("A", "$B")]),
        ];
        for &(text, expected) in expanding {
            assert_eq!(all(text, &none), pairs(expected), "{text:?}");
        }

        // godotenv_var_expansion_test.go, with its mapping as earlier keys
        let prefix = "EMPTY_VAR=\nTEST_VAR=Test Value\n";
        let results: &[(&str, &str)] = &[
            ("${UNSET_VAR:-Default Value}", "Default Value"),
            ("${EMPTY_VAR:-Default Value}", "Default Value"),
            ("${TEST_VAR:-Default Value}", "Test Value"),
            ("${UNSET_VAR-Default Value}", "Default Value"),
            ("${EMPTY_VAR-Default Value}", ""),
            ("${TEST_VAR-Default Value}", "Test Value"),
            ("${TEST_VAR:?Default Value}", "Test Value"),
            ("${EMPTY_VAR?Test error}", ""),
            ("${TEST_VAR?Default Value}", "Test Value"),
        ];
        for &(value, result) in results {
            let text = format!("{prefix}RESULT={value}\n");
            assert_eq!(one(&text, "RESULT"), Ok(result.to_owned()), "{value}");
        }
        let refusals: &[(&str, &str)] = &[
            (
                "${UNSET_VAR:?Test error}",
                "required variable UNSET_VAR is missing a value: Test error",
            ),
            (
                "${EMPTY_VAR:?Test error}",
                "required variable EMPTY_VAR is missing a value: Test error",
            ),
            (
                "${UNSET_VAR?Test error}",
                "required variable UNSET_VAR is missing a value: Test error",
            ),
            (
                "${UNSET_VAR?}",
                "required variable UNSET_VAR is missing a value",
            ),
        ];
        for &(value, reason) in refusals {
            let text = format!("{prefix}RESULT={value}\n");
            assert_eq!(
                parse(&text, &none),
                Err(DotenvError::Line {
                    line: 3,
                    reason: reason.to_owned()
                }),
                "{value}"
            );
        }
    }

    /// TestMultipleFiles: compose reads each file with the ones before at hand; the later
    /// file wins, and the environment wins inside expansions.
    #[test]
    fn several_files() {
        let base = "\nENV_HOSTNAME=localhost\nENV_MY_URL=\"http://${ENV_HOSTNAME}\"\n";
        let over = "\nENV_HOSTNAME=dev.my-company.com\nENV_MY_URL=\"http://${ENV_HOSTNAME}\"\n";
        let read = |env: &dyn Fn(&str) -> Option<String>| {
            let mut vars = HashMap::new();
            parse_into(base, env, &mut vars).expect("base");
            parse_into(over, env, &mut vars).expect("override");
            let mut vars: Vec<_> = vars.into_iter().collect();
            vars.sort();
            vars
        };
        assert_eq!(
            read(&none),
            pairs(&[
                ("ENV_HOSTNAME", "dev.my-company.com"),
                ("ENV_MY_URL", "http://dev.my-company.com"),
            ])
        );
        let host = |name: &str| (name == "ENV_HOSTNAME").then(|| "host.local".to_owned());
        assert_eq!(
            read(&host),
            pairs(&[
                ("ENV_HOSTNAME", "dev.my-company.com"),
                ("ENV_MY_URL", "http://host.local"),
            ])
        );
        // a key of an earlier file is seen by a later one
        let mut vars = HashMap::new();
        parse_into("A=1\n", &none, &mut vars).expect("first");
        parse_into("B=${A}2\n", &none, &mut vars).expect("second");
        assert_eq!(vars.get("B").map(String::as_str), Some("12"));
    }

    /// TestParseVariable, TestErrorParsing (invalid1.env), TestUnterminatedQuotes, and more
    /// files compose refuses, with the line of each.
    #[test]
    fn refused_files() {
        let line = |text: &str| match parse(text, &none) {
            Err(DotenvError::Line { line, reason }) => (line, reason),
            other => panic!("{text:?}: {other:?}"),
        };
        let (n, reason) = line("%!(EXTRA string)=foo");
        assert_eq!(n, 1);
        assert_eq!(
            reason,
            r#"unexpected character '%' in variable name "%!(EXTRA string)=foo""#
        );
        let invalid1 =
            "# some comments\nfoo=\"\n  a\n  multine\n  value\n\"\nINVALID LINE\nzot=qix";
        let (n, reason) = line(invalid1);
        assert_eq!(n, 7);
        assert!(reason.contains("cannot contain a space"), "{reason}");
        assert_eq!(line("lol$wut").0, 1);
        for text in [
            r#"KEY=""#,
            r#"KEY="value"#,
            r#"KEY="value\""#,
            r#"KEY="value'"#,
            "KEY='",
            "KEY='value",
            r"KEY='value\'",
            "KEY='value\"",
        ] {
            let (n, reason) = line(text);
            assert_eq!(n, 1, "{text}");
            assert!(reason.starts_with("unterminated quoted value"), "{reason}");
        }
        assert_eq!(line("A=1\n\nB=\"open\nstill\n").0, 3);
        assert_eq!(line("A=1\nB=${\n").0, 2);
        assert!(line("A=${B:-x\n").1.starts_with("invalid substitution"));
        assert_eq!(line("A=1\nexport ").0, 2);
        assert_eq!(line("A B=1").1, r#"key "A B" cannot contain a space"#);
        assert_eq!(line("A\u{2003}=1").0, 1);
    }

    #[test]
    fn bounds() {
        assert_eq!(
            parse(&"#".repeat(MAX_SIZE + 1), &none),
            Err(DotenvError::TooLarge)
        );
        // one expansion: at most MAX_EXPANSION bytes (a literal value may be longer)
        let big = "x".repeat(3000);
        let text = format!("A={big}\nB=$A$A\n");
        let (n, reason) = match parse(&text, &none) {
            Err(DotenvError::Line { line, reason }) => (line, reason),
            other => panic!("{other:?}"),
        };
        assert_eq!(n, 2);
        assert!(reason.contains("4096 bytes"), "{reason}");
        let long = "y".repeat(10_000);
        assert_eq!(one(&format!("A={long}\n"), "A"), Ok(long.clone()));
        assert_eq!(
            one(&format!("A=\"{long}$$\"\n"), "A"),
            Ok(format!("{long}$"))
        );
        // values defined from values: the file's values stop at MAX_SIZE in all
        let mut text = format!("A={}\n", "z".repeat(4000));
        for i in 0..400 {
            text.push_str(&format!("B{i}=$A\n"));
        }
        match parse(&text, &none) {
            Err(DotenvError::Line { reason, .. }) => {
                assert!(reason.contains("1048576 bytes in all"), "{reason}")
            }
            other => panic!("{:?}", other.map(|v| v.len())),
        }
        // many lines, many keys, one long line: read once
        let started = std::time::Instant::now();
        let mut text = String::new();
        for i in 0..40_000 {
            text.push_str(&format!("K{i}=${{K{}:-v}}\n", i / 2));
        }
        assert_eq!(parse(&text, &none).map(|v| v.len()), Ok(40_000));
        let line = format!("A={}", "${U-}".repeat(200_000));
        assert_eq!(one(&line, "A"), Ok(String::new()));
        let key = "k".repeat(MAX_SIZE - 1);
        assert_eq!(one(&key, ""), Ok(key.clone()));
        assert!(started.elapsed() < std::time::Duration::from_secs(3));
    }

    /// Arbitrary bytes never panic.
    #[test]
    fn no_panics() {
        const PIECES: &[&str] = &[
            "A", "=", ":", "\n", "\r", " ", "\t", "#", "'", "\"", "\\", "$", "{", "}", "-", "?",
            "+", "0", "7", "export ", "é", "\u{feff}", "\u{85}",
        ];
        for text in crate::interpolate::tests::texts(PIECES, 0x2545_F491_4F6C_DD1D, 100_000, 24) {
            let _ = parse(&text, &|name| (name == "A").then(|| "a".to_owned()));
        }
    }
}
