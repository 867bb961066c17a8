//! Variable substitution as docker compose interpolates a Compose file (compose-go
//! template/template.go), also used for the values of `.env` files ([`crate::dotenv`]).
//!
//! # The rules (compose-go template/template.go, and its template_test.go)
//!
//! - `$$` is a `$`; a `$` that starts nothing below stays as written (`a $ b`, `$}`, `$1`).
//! - `$NAME`: the longest name after the `$` (`$FOO-bar` is `$FOO` then `-bar`).
//! - A name is `[_A-Za-z][_A-Za-z0-9]*`, matched case-insensitively by Go's regexp, whose case
//!   folding also lets `ſ` (U+017F, folds to `s`) and `K` (U+212A, the Kelvin sign, folds to
//!   `k`) through.
//! - `${NAME}`; `${NAME:-default}` (unset or empty), `${NAME-default}` (unset);
//!   `${NAME:+value}` (set and not empty), `${NAME+value}` (set), otherwise the variable's
//!   own value (empty when unset); `${NAME:?message}` (unset or empty), `${NAME?message}`
//!   (unset) refuse the file with the message. The default, value or message is substituted
//!   in turn, only when it is used (`${A:-${B:-x}}`).
//! - Where the braced form ends: compose's pattern lets the text after an operator run to the
//!   last `}` of the line, then cuts it at the first `}` that balances the opening brace,
//!   counting `{` and `}` and stepping over the character after every `{` it counts (so
//!   `${A:-{}}` keeps `{}` and ends at the last brace). When no brace balances, the whole run
//!   to the line's last `}` is the operator's text. A braced form never spans lines.
//! - Anything else after `${` is an invalid template: `${`, `${}`, `${ }`, `${ foo}`,
//!   `${foo }`, `${foo!}`, `${foo:x}`, an operator with no `}` after it on its line.
//!
//! # Bounds
//!
//! The text is read once, left to right: nested defaults are frames on a stack of at most
//! [`MAX_DEPTH`] (never recursion), the brace that ends a reference is looked up in tables of
//! its line (built once per line), and the output is refused as soon as it would pass its cap
//! ([`MAX_EXPANSION`] for [`interpolate`]). Time is linear in the text and the output.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::Problem;
use crate::limits::{MAX_DEPTH, MAX_EXPANSION};

/// `text` with its variables replaced from `vars`, as compose interpolates it.
///
/// A plain `$VAR` / `${VAR}` whose variable is unset is reported as
/// [`Problem::UnresolvedVariable`] (the first one): compose would substitute an empty string
/// and warn, but a reference with a hole in it names another image than the one that runs.
/// A refusal compose itself makes (an invalid template, a `${VAR:?message}`) wins over it.
///
/// A text without `$` is returned as it is: nothing is substituted. Otherwise the output is
/// refused as soon as it would pass [`MAX_EXPANSION`] bytes ([`Problem::Limit`]).
pub fn interpolate(text: &str, vars: &dyn Fn(&str) -> Option<String>) -> Result<String, Problem> {
    if !text.contains('$') {
        return Ok(text.to_owned());
    }
    let lookup = |name: &str| vars(name).map(Cow::Owned);
    finish(substitute(text, &lookup, MAX_EXPANSION))
}

/// [`interpolate`] over a map of variables (`None`: none are set), borrowing each value
/// instead of copying it for every reference.
pub fn interpolate_vars(
    text: &str,
    vars: Option<&HashMap<String, String>>,
) -> Result<String, Problem> {
    if !text.contains('$') {
        return Ok(text.to_owned());
    }
    let lookup = |name: &str| {
        vars.and_then(|v| v.get(name))
            .map(|v| Cow::Borrowed(v.as_str()))
    };
    finish(substitute(text, &lookup, MAX_EXPANSION))
}

fn finish(result: Result<Substituted, Failure>) -> Result<String, Problem> {
    match result {
        Ok(Substituted { text, unset: None }) => Ok(text),
        Ok(Substituted {
            unset: Some(name), ..
        }) => Err(Problem::UnresolvedVariable(name)),
        Err(Failure::Syntax(sentence)) => Err(Problem::Syntax(sentence)),
        Err(Failure::Required { name, message }) => Err(Problem::Required { name, message }),
        Err(Failure::TooLong) => Err(Problem::Limit(format!(
            "the substitution produces more than {MAX_EXPANSION} bytes (the limit of one expansion)"
        ))),
        Err(Failure::TooDeep) => Err(Problem::Limit(format!(
            "substitutions nest deeper than {MAX_DEPTH} levels (the limit of one expansion)"
        ))),
    }
}

/// A substitution's text, and the first plain variable it found unset (substituted empty).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Substituted {
    pub text: String,
    pub unset: Option<String>,
}

/// Why a substitution stopped.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// An invalid template (the sentence quotes it).
    Syntax(String),
    /// `${NAME:?message}` / `${NAME?message}` with the variable missing.
    Required { name: String, message: String },
    /// The output (or a required variable's message) would pass the cap.
    TooLong,
    /// Defaults nest deeper than [`MAX_DEPTH`].
    TooDeep,
}

/// What the variables are asked through: a value borrowed where the caller can.
pub(crate) type Lookup<'v> = dyn Fn(&str) -> Option<Cow<'v, str>> + 'v;

/// A piece of text being substituted: `pos..end` of the input. `required` marks the message
/// of a `${NAME:?message}`, whose output goes to the message (from that offset of it).
#[derive(Debug)]
struct Frame {
    pos: usize,
    end: usize,
    required: Option<(String, usize)>,
}

/// The six operators of a braced reference.
#[derive(Debug, Clone, Copy)]
enum Op {
    /// `:-` (`empty`) and `-`.
    Default { empty: bool },
    /// `:+` (`empty`: an empty value counts as unset) and `+`.
    Replace { empty: bool },
    /// `:?` (`empty`) and `?`.
    Required { empty: bool },
}

/// Substitutes `text` (compose's rules, see the module) with at most `cap` bytes of output
/// and of any required variable's message. An unset plain variable is substituted empty, as
/// compose does, and the first is named in [`Substituted::unset`].
pub(crate) fn substitute(
    text: &str,
    vars: &Lookup<'_>,
    cap: usize,
) -> Result<Substituted, Failure> {
    let bytes = text.as_bytes();
    let mut frames = vec![Frame {
        pos: 0,
        end: text.len(),
        required: None,
    }];
    let mut out = String::new();
    // a required variable's message, once one is being written (nothing follows it)
    let mut message = String::new();
    let mut to_message = false;
    let mut unset: Option<String> = None;
    let mut line: Option<Line> = None;

    while let Some(frame) = frames.last() {
        let (pos, end) = (frame.pos, frame.end);
        let top = frames.len() - 1;
        if pos >= end {
            if let Some(Frame {
                required: Some((name, from)),
                ..
            }) = frames.pop()
            {
                let message = message.get(from..).unwrap_or_default().to_owned();
                return Err(Failure::Required { name, message });
            }
            continue;
        }
        let sink = if to_message { &mut message } else { &mut out };
        let Some(d) = bytes[pos..end]
            .iter()
            .position(|&b| b == b'$')
            .map(|i| pos + i)
        else {
            emit(sink, &text[pos..end], cap)?;
            frames[top].pos = end;
            continue;
        };
        emit(sink, &text[pos..d], cap)?;
        let next = if d + 1 < end {
            Some(bytes[d + 1])
        } else {
            None
        };
        match next {
            Some(b'$') => {
                emit(sink, "$", cap)?;
                frames[top].pos = d + 2;
            }
            Some(b'{') => {
                let Some(q) = name_end(bytes, d + 2, end) else {
                    return Err(syntax(text, d, end));
                };
                let name = &text[d + 2..q];
                let after = |i: usize| if i < end { Some(bytes[i]) } else { None };
                let (op, op_end) = match (after(q), after(q + 1)) {
                    (Some(b'}'), _) => {
                        // `${NAME}`
                        let value = vars(name);
                        if value.is_none() && unset.is_none() {
                            unset = Some(name.to_owned());
                        }
                        emit(sink, value.as_deref().unwrap_or(""), cap)?;
                        frames[top].pos = q + 1;
                        continue;
                    }
                    (Some(b':'), Some(b'-')) => (Op::Default { empty: true }, q + 2),
                    (Some(b':'), Some(b'+')) => (Op::Replace { empty: true }, q + 2),
                    (Some(b':'), Some(b'?')) => (Op::Required { empty: true }, q + 2),
                    (Some(b'-'), _) => (Op::Default { empty: false }, q + 1),
                    (Some(b'+'), _) => (Op::Replace { empty: false }, q + 1),
                    (Some(b'?'), _) => (Op::Required { empty: false }, q + 1),
                    _ => return Err(syntax(text, d, end)),
                };
                let tables = match line.take() {
                    Some(l) if l.start <= d && d < l.end => l,
                    _ => Line::of(bytes, d)?,
                };
                // the operator's text runs to the last `}` of the line (within this frame),
                // cut at the brace balancing `${` if there is one before it
                let limit = end.min(tables.end);
                let Some(last) = tables.last_close(limit).filter(|&c| c >= op_end) else {
                    return Err(syntax(text, d, end));
                };
                let (arg_end, resume) = match tables.partner(d + 1) {
                    Some(c) if c < limit => (c, c + 1),
                    _ => (last, last + 1),
                };
                line = Some(tables);
                frames[top].pos = resume;
                let value = vars(name);
                let set = value.is_some();
                let filled = value.as_deref().is_some_and(|v| !v.is_empty());
                let (use_arg, required) = match op {
                    Op::Default { empty } => (!set || (empty && !filled), false),
                    Op::Replace { empty } => (if empty { filled } else { set }, false),
                    Op::Required { empty } => (!set || (empty && !filled), true),
                };
                if !use_arg {
                    emit(sink, value.as_deref().unwrap_or(""), cap)?;
                    continue;
                }
                if frames.len() > MAX_DEPTH {
                    return Err(Failure::TooDeep);
                }
                let required = required.then(|| {
                    to_message = true;
                    (name.to_owned(), message.len())
                });
                frames.push(Frame {
                    pos: op_end,
                    end: arg_end,
                    required,
                });
            }
            _ => match name_end(bytes, d + 1, end) {
                Some(q) => {
                    let name = &text[d + 1..q];
                    let value = vars(name);
                    if value.is_none() && unset.is_none() {
                        unset = Some(name.to_owned());
                    }
                    emit(sink, value.as_deref().unwrap_or(""), cap)?;
                    frames[top].pos = q;
                }
                None => {
                    emit(sink, "$", cap)?;
                    frames[top].pos = d + 1;
                }
            },
        }
    }
    Ok(Substituted { text: out, unset })
}

/// Appends `piece`, unless that would pass `cap`.
fn emit(sink: &mut String, piece: &str, cap: usize) -> Result<(), Failure> {
    if sink.len().saturating_add(piece.len()) > cap {
        return Err(Failure::TooLong);
    }
    sink.push_str(piece);
    Ok(())
}

/// The length of the name character at `at` (before `end`), if there is one: compose-go's
/// `(?i)[_a-z]` (`[_a-z0-9]` with `digits`), with the two characters Go's case folding adds.
fn name_char(bytes: &[u8], at: usize, end: usize, digits: bool) -> Option<usize> {
    match bytes.get(at..end)? {
        [b'_' | b'a'..=b'z' | b'A'..=b'Z', ..] => Some(1),
        [b'0'..=b'9', ..] if digits => Some(1),
        // U+017F LATIN SMALL LETTER LONG S
        [0xC5, 0xBF, ..] => Some(2),
        // U+212A KELVIN SIGN
        [0xE2, 0x84, 0xAA, ..] => Some(3),
        _ => None,
    }
}

/// Where the name starting at `at` ends, if a name starts there.
fn name_end(bytes: &[u8], at: usize, end: usize) -> Option<usize> {
    let mut i = at + name_char(bytes, at, end, false)?;
    while let Some(len) = name_char(bytes, i, end, true) {
        i += len;
    }
    Some(i)
}

/// The invalid template at `at`, quoted (to its line's end, clipped).
fn syntax(text: &str, at: usize, end: usize) -> Failure {
    let piece = text.get(at..end).unwrap_or_default();
    let piece = piece.split('\n').next().unwrap_or_default();
    let quoted = crate::excerpt(piece);
    Failure::Syntax(format!(
        "{quoted:?}: compose reads `${{` as ${{NAME}}, or ${{NAME}} with :-, -, :?, ?, :+ or + \
         and a value, closed by `}}` on the same line (`$$` is a literal `$`)"
    ))
}

/// The brace tables of one line of the input, built the first time a braced operator on it
/// is read (lines are met in order: a frame's text never leaves the line of its reference).
#[derive(Debug)]
struct Line {
    start: usize,
    /// The `\n` ending the line, or the end of the input.
    end: usize,
    /// For each offset in the line, the offset of the `}` balancing the `{` counted there, or
    /// [`Line::NONE`]. Counting as compose-go's `getFirstBraceClosingIndex` does: the
    /// character after a counted `{` is stepped over.
    partner: Vec<u32>,
    /// For each offset `x` of the line (and its end), 1 + the offset of the last `}` before
    /// `x`, or 0.
    last: Vec<u32>,
}

impl Line {
    const NONE: u32 = u32::MAX;

    fn of(bytes: &[u8], at: usize) -> Result<Line, Failure> {
        let start = bytes[..at]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let end = bytes[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| at + i);
        let line = &bytes[start..end];
        // offsets are kept in u32; a longer line cannot come out under any cap
        if u32::try_from(line.len()).map_or(true, |n| n == Line::NONE) {
            return Err(Failure::TooLong);
        }
        let offset = |i: usize| u32::try_from(i).unwrap_or(Line::NONE);
        let mut partner = vec![Line::NONE; line.len()];
        let mut last = Vec::with_capacity(line.len() + 1);
        last.push(0);
        let mut open: Vec<usize> = Vec::new();
        let mut step_over = false;
        for (i, &b) in line.iter().enumerate() {
            let before = last.last().copied().unwrap_or(0);
            last.push(if b == b'}' { offset(i + 1) } else { before });
            if step_over {
                step_over = false;
                continue;
            }
            if b == b'}' {
                if let Some(o) = open.pop() {
                    partner[o] = offset(i);
                }
            } else if b == b'{' {
                open.push(i);
                step_over = true;
            }
        }
        Ok(Line {
            start,
            end,
            partner,
            last,
        })
    }

    /// The `}` balancing the `{` at `at`, if one does on this line.
    fn partner(&self, at: usize) -> Option<usize> {
        let p = *self.partner.get(at.checked_sub(self.start)?)?;
        (p != Line::NONE).then(|| self.start + p as usize)
    }

    /// The last `}` of the line before `limit` (at most the line's end).
    fn last_close(&self, limit: usize) -> Option<usize> {
        let l = *self.last.get(limit.checked_sub(self.start)?)?;
        (l != 0).then(|| self.start + l as usize - 1)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// `count` texts of fewer than `longest` pieces of `alphabet` each, drawn by xorshift from
    /// `seed`: the same texts on every run.
    pub(crate) fn texts<'a>(
        alphabet: &'a [&'a str],
        seed: u64,
        count: usize,
        longest: u64,
    ) -> impl Iterator<Item = String> + 'a {
        let mut state = seed;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        (0..count).map(move |_| {
            let len = (next() % longest) as usize;
            (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect()
        })
    }

    /// compose-go template_test.go's mapping.
    fn defaults(name: &str) -> Option<String> {
        match name {
            "FOO" => Some("first".into()),
            "BAR" => Some(String::new()),
            "JSON" => Some(r#"{"json":2}"#.into()),
            _ => None,
        }
    }

    fn sub(text: &str) -> Result<Substituted, Failure> {
        let lookup = |name: &str| defaults(name).map(Cow::Owned);
        substitute(text, &lookup, MAX_EXPANSION)
    }

    fn ok(text: &str) -> Substituted {
        Substituted {
            text: text.to_owned(),
            unset: None,
        }
    }

    fn required(name: &str, message: &str) -> Failure {
        Failure::Required {
            name: name.into(),
            message: message.into(),
        }
    }

    /// compose-go template_test.go's cases that succeed, as (template, result).
    #[test]
    fn compose_go_results() {
        let table: &[(&str, &str)] = &[
            // TestEscaped, TestSubstituteNoMatch
            ("$${foo}", "${foo}"),
            ("foo", "foo"),
            // TestUnescaped
            ("a $ string", "a $ string"),
            ("^REGEX$", "^REGEX$"),
            ("$}", "$}"),
            ("$", "$"),
            // TestNonBraced
            ("$FOO-bar", "first-bar"),
            // TestNoValueNoDefault (the set, empty one; the unset one is below)
            ("This ${BAR} var", "This  var"),
            // TestValueNoDefault
            ("This $FOO var", "This first var"),
            ("This ${FOO} var", "This first var"),
            // TestNoValueWithDefault
            ("ok ${missing:-def}", "ok def"),
            ("ok ${missing-def}", "ok def"),
            // TestLazyDefaultDoesNotWarn
            ("${A:+${A},}B", "B"),
            // TestEmptyValueWithSoftDefault, TestValueWithSoftDefault,
            // TestEmptyValueWithHardDefault
            ("ok ${BAR:-def}", "ok def"),
            ("ok ${FOO:-def}", "ok first"),
            ("ok ${BAR-def}", "ok "),
            // TestPresentValue*
            ("ok ${UNSET_VAR:+presence_value}", "ok "),
            ("ok ${UNSET_VAR+presence_value}", "ok "),
            ("ok ${FOO:+presence_value}", "ok presence_value"),
            ("ok ${FOO+presence_value}", "ok presence_value"),
            ("ok ${BAR+presence_value}", "ok presence_value"),
            ("ok ${BAR:+presence_value}", "ok "),
            // TestNonAlphanumericDefault
            ("ok ${BAR:-/non:-alphanumeric}", "ok /non:-alphanumeric"),
            // TestInterpolationExternalInterference
            ("-ok ${BAR:-defaultValue}", "-ok defaultValue"),
            ("+ok ${UNSET:-${BAR-defaultValue}}", "+ok "),
            ("-ok ${FOO:-defaultValue}", "-ok first"),
            (":-ok ${UNSET-defaultValue}", ":-ok defaultValue"),
            (":-ok ${BAR-defaultValue}", ":-ok "),
            (":?ok ${BAR-defaultValue}", ":?ok "),
            (":?ok ${BAR:-defaultValue}", ":?ok defaultValue"),
            (":+ok ${BAR:-defaultValue}", ":+ok defaultValue"),
            ("+ok ${BAR-defaultValue}", "+ok "),
            ("?ok ${BAR:-defaultValue}", "?ok defaultValue"),
            // TestDefaultsWithNestedExpansion
            ("ok ${UNSET_VAR-$FOO}", "ok first"),
            ("ok ${UNSET_VAR-${FOO}}", "ok first"),
            ("ok ${UNSET_VAR-${FOO} ${FOO}}", "ok first first"),
            ("ok ${BAR:-$FOO}", "ok first"),
            ("ok ${BAR:-${FOO}}", "ok first"),
            ("ok ${BAR:-${FOO} ${FOO}}", "ok first first"),
            ("ok ${BAR+$FOO}", "ok first"),
            ("ok ${BAR+$FOO ${FOO:+second}}", "ok first second"),
            // TestDefaultsForMandatoryVariables
            ("ok ${FOO:?err}", "ok first"),
            ("ok ${FOO?err}", "ok first"),
            ("ok ${BAR?err}", "ok "),
            // TestSubstituteWithReplacementFunc's last case
            ("ok ${SUBDOMAIN:-redis}.${FOO:?}", "ok redis.first"),
            // TestPrecedence
            ("${UNSET_VAR-myerror?msg}", "myerror?msg"),
            ("${FOO?bar-baz}", "first"),
            (
                "${BAR:-default_value_for_empty_var}",
                "default_value_for_empty_var",
            ),
            (
                "${UNSET_VAR-default_value_for_unset_var}",
                "default_value_for_unset_var",
            ),
            // TestSubstitutionFunctionChoice: the operator is the one after the name
            ("${UNSET-va:-lu:?e}", "va:-lu:?e"),
            ("${UNSET-va+lu?e}", "va+lu?e"),
            ("${FOO:+va:?lu:-e}", "va:?lu:-e"),
            ("${FOO+va:+lue}", "va:+lue"),
            ("${FOO+va?lu-e}", "va?lu-e"),
            // TestNoValueWithCurlyBracesDefault, TestValueWithCurlyBracesDefault
            (r#"ok ${missing:-{"json":1}}"#, r#"ok {"json":1}"#),
            (r#"ok ${missing-{"json":1}}"#, r#"ok {"json":1}"#),
            (r#"ok ${JSON:-{"json":1}}"#, r#"ok {"json":2}"#),
            (r#"ok ${JSON-{"json":1}}"#, r#"ok {"json":2}"#),
        ];
        for &(template, result) in table {
            assert_eq!(sub(template), Ok(ok(result)), "{template}");
        }
        assert_eq!(sub("${UNSET:?val?ue}"), Err(required("UNSET", "val?ue")));
        assert_eq!(sub("${UNSET?val:?ue}"), Err(required("UNSET", "val:?ue")));
    }

    /// TestNoValueNoDefault, TestLazyDefaultWarnsWhenUsed: compose substitutes an unset plain
    /// variable with an empty string (and warns); the substitution names it.
    #[test]
    fn unset_plain_variables_are_empty_and_named() {
        let table: &[(&str, &str, &str)] = &[
            ("This ${missing} var", "This  var", "missing"),
            ("${A:-${B}}", "", "B"),
            ("$A and $B", " and ", "A"),
        ];
        for &(template, text, name) in table {
            assert_eq!(
                sub(template),
                Ok(Substituted {
                    text: text.into(),
                    unset: Some(name.into())
                }),
                "{template}"
            );
        }
        // TestLazyRequiredMessageDoesNotWarn: the message of a set variable is not read
        let lookup = |name: &str| (name == "A").then_some(Cow::Borrowed("value"));
        assert_eq!(
            substitute("${A?${B}}", &lookup, MAX_EXPANSION),
            Ok(ok("value"))
        );
        // the public function reports it
        let vars = |name: &str| defaults(name);
        assert_eq!(
            interpolate("app:${VERSION}", &vars),
            Err(Problem::UnresolvedVariable("VERSION".into()))
        );
        assert_eq!(
            interpolate("app:$VERSION-$OTHER", &vars),
            Err(Problem::UnresolvedVariable("VERSION".into()))
        );
        // but a refusal compose makes comes first
        assert_eq!(
            interpolate("${VERSION}${TAG:?need a tag}", &vars),
            Err(Problem::Required {
                name: "TAG".into(),
                message: "need a tag".into()
            })
        );
        assert_eq!(
            interpolate("${A?${B}}x", &vars),
            Err(Problem::Required {
                name: "A".into(),
                message: String::new()
            })
        );
    }

    /// TestMandatoryVariableErrors(WithNestedExpansion), TestPrecedence.
    #[test]
    fn compose_go_required() {
        let table: &[(&str, &str, &str)] = &[
            (
                "not ok ${UNSET_VAR:?Mandatory Variable Unset}",
                "UNSET_VAR",
                "Mandatory Variable Unset",
            ),
            (
                "not ok ${BAR:?Mandatory Variable Empty}",
                "BAR",
                "Mandatory Variable Empty",
            ),
            ("not ok ${UNSET_VAR:?}", "UNSET_VAR", ""),
            (
                "not ok ${UNSET_VAR?Mandatory Variable Unset}",
                "UNSET_VAR",
                "Mandatory Variable Unset",
            ),
            ("not ok ${UNSET_VAR?}", "UNSET_VAR", ""),
            (
                "not ok ${UNSET_VAR:?Mandatory Variable ${FOO}}",
                "UNSET_VAR",
                "Mandatory Variable first",
            ),
            (
                "not ok ${UNSET_VAR?Mandatory Variable ${FOO}}",
                "UNSET_VAR",
                "Mandatory Variable first",
            ),
            ("${UNSET_VAR?bar-baz}", "UNSET_VAR", "bar-baz"),
            // a required variable inside a message: the inner refusal comes first
            ("${A:?outer ${B:?inner} end}", "B", "inner"),
            // inside a default that is used
            ("${A:-${B:?need B}}", "B", "need B"),
        ];
        for &(template, name, message) in table {
            assert_eq!(sub(template), Err(required(name, message)), "{template}");
        }
        // not inside one that is not
        assert_eq!(sub("${FOO:-${B:?need B}}"), Ok(ok("first")));
        let vars = |name: &str| defaults(name);
        assert_eq!(
            interpolate("app:${TAG:?need a tag}", &vars),
            Err(Problem::Required {
                name: "TAG".into(),
                message: "need a tag".into()
            })
        );
    }

    /// TestInvalid, and the other shapes compose's pattern refuses.
    #[test]
    fn invalid_templates() {
        let invalid = [
            "${",
            "${}",
            "${ }",
            "${ foo}",
            "${foo }",
            "${foo!}",
            "${foo:x}",
            "${foo:}",
            "${1}",
            "${-x}",
            "x ${foo",
            "${foo:-x",
            "${foo:-x\n}",
            "${foo-}\n${bar:-",
            "${é}",
            // an invalid default is refused when it is used
            "${UNSET:-${}",
            "${UNSET-${B}",
            // the default of this one is `{}} ${B:-y`
            "${UNSET:-{}} ${B:-y}",
        ];
        for template in invalid {
            assert!(
                matches!(sub(template), Err(Failure::Syntax(_))),
                "{template:?}: {:?}",
                sub(template)
            );
        }
        // and not read when it is not
        assert_eq!(sub("${FOO:-${}"), Ok(ok("first")));
        let vars = |name: &str| defaults(name);
        let Err(Problem::Syntax(sentence)) = interpolate("app:${TAG!}", &vars) else {
            panic!("a syntax problem");
        };
        assert!(sentence.starts_with(r#""${TAG!}": "#), "{sentence}");
        let long = format!("${{{}", "x".repeat(10_000));
        let Err(Problem::Syntax(sentence)) = interpolate(&long, &vars) else {
            panic!("a syntax problem");
        };
        assert!(
            sentence.len() < crate::limits::MAX_QUOTED + 200,
            "{sentence}"
        );
    }

    /// Where a braced reference ends: compose's run to the line's last `}`, cut at the brace
    /// that balances (stepping over the character after each counted `{`).
    #[test]
    fn braces_and_lines() {
        let table: &[(&str, &str)] = &[
            ("${UNSET:-x} and ${FOO}", "x and first"),
            ("${UNSET:-x}}", "x}"),
            ("${UNSET:-}}", "}"),
            ("${UNSET:-{}}", "{}"),
            // `{}` steps over its `}`: no brace balances, the default runs to the last one
            ("${UNSET:-{}} $FOO}", "{}} first"),
            ("${FOO:-{}} ${B:-y}", "first"),
            ("${UNSET:-{{}}}", "{{}}"),
            ("${UNSET:-a{b}c}", "a{b}c"),
            ("${UNSET:-$${B}}", "${B}"),
            ("${UNSET:-x}\n${FOO:-y}", "x\nfirst"),
            ("${UNSET:-x} }\n}", "x }\n}"),
            ("$FOO$FOO$$FOO$", "firstfirst$FOO$"),
            ("$1 $-x ${FOO}x", "$1 $-x firstx"),
            ("ab${FOO}cd", "abfirstcd"),
            ("${A:-${B:-${C:-deep}}}", "deep"),
        ];
        for &(template, result) in table {
            let got = sub(template).map(|s| s.text);
            assert_eq!(got, Ok(result.to_owned()), "{template:?}");
        }
    }

    /// Names: ASCII letters, digits and `_`, and the two characters Go's case folding adds.
    #[test]
    fn names() {
        let lookup = |name: &str| {
            ["_x", "a1", "ſ", "K"]
                .contains(&name)
                .then(|| Cow::Owned(format!("<{name}>")))
        };
        let s = |t: &str| substitute(t, &lookup, MAX_EXPANSION).map(|s| s.text);
        assert_eq!(s("$_x.$a1é"), Ok("<_x>.<a1>é".into()));
        assert_eq!(s("${ſ}$K"), Ok("<ſ><K>".into()));
        assert_eq!(s("$1a $é"), Ok("$1a $é".into()));
        assert_eq!(s("ſ$a1ſ"), Ok("ſ".into()));
    }

    #[test]
    fn the_output_is_capped_while_produced() {
        let lookup = |name: &str| (name == "A").then(|| Cow::Owned("x".repeat(1000)));
        // five copies pass 4096 bytes: refused at the fifth, not after
        let r = substitute("$A$A$A$A$A", &lookup, MAX_EXPANSION);
        assert_eq!(r, Err(Failure::TooLong));
        assert!(substitute("$A$A$A$A", &lookup, MAX_EXPANSION).is_ok());
        let literal = "y".repeat(MAX_EXPANSION + 1);
        assert_eq!(
            substitute(&format!("{literal}$$"), &lookup, MAX_EXPANSION),
            Err(Failure::TooLong)
        );
        // a text without `$` substitutes nothing: it is returned as it is
        let vars = |_: &str| None;
        assert_eq!(interpolate(&literal, &vars), Ok(literal.clone()));
        // a message is capped too
        let message = format!("${{UNSET:?{}}}", "$A".repeat(5));
        assert_eq!(
            substitute(&message, &lookup, MAX_EXPANSION),
            Err(Failure::TooLong)
        );
        let vars = |name: &str| (name == "A").then(|| "x".repeat(1000));
        let Err(Problem::Limit(sentence)) = interpolate("$A$A$A$A$A", &vars) else {
            panic!("a limit");
        };
        assert!(sentence.contains("4096 bytes"), "{sentence}");
        // an unused default may be long: only what is produced counts
        let unused = format!("${{A:-{}}}", "z".repeat(1 << 20));
        assert_eq!(interpolate(&unused, &vars).map(|s| s.len()), Ok(1000));
    }

    #[test]
    fn nesting_is_bounded() {
        let nested = |n: usize| format!("{}x{}", "${U:-".repeat(n), "}".repeat(n));
        assert_eq!(sub(&nested(MAX_DEPTH)).map(|s| s.text), Ok("x".to_owned()));
        assert_eq!(sub(&nested(MAX_DEPTH + 1)), Err(Failure::TooDeep));
        let vars = |_: &str| None;
        let Err(Problem::Limit(sentence)) = interpolate(&nested(100_000), &vars) else {
            panic!("a limit");
        };
        assert!(sentence.contains("128 levels"), "{sentence}");
        // nesting that is never read costs nothing
        let unread = format!("${{FOO:-{}}}", nested(100_000));
        assert_eq!(sub(&unread).map(|s| s.text), Ok("first".to_owned()));
    }

    /// Inputs built to make a naive reading quadratic: many references on one long line (each
    /// operator's text runs to the line's last brace), defaults nested to the limit around a
    /// long middle. (A quadratic reading takes minutes on these; the benchmark times them.)
    #[test]
    fn long_lines_stay_linear() {
        let many = "${UNSET-}".repeat(200_000);
        assert_eq!(sub(&many).map(|s| s.text), Ok(String::new()));
        let braces = format!("${{UNSET-{}}}", "{".repeat(500_000));
        assert!(matches!(sub(&braces), Err(Failure::TooLong)));
        let deep = format!(
            "{}{}{}",
            "${U:-".repeat(MAX_DEPTH - 1),
            "${U-}".repeat(100_000),
            "}".repeat(MAX_DEPTH - 1)
        );
        assert_eq!(sub(&deep).map(|s| s.text), Ok(String::new()));
        let open = "${U:-x".repeat(100_000);
        assert!(matches!(sub(&open), Err(Failure::Syntax(_))));
        // one brace at the end closes the first reference: the second has none in its text
        let open = format!("{open}}}");
        assert!(matches!(sub(&open), Err(Failure::Syntax(_))));
    }

    /// compose-go's algorithm transcribed as plainly as possible (a pattern match at each
    /// `$`, the operator picked by its first position in the match, the match cut at the
    /// balancing brace, the rest substituted on its own, defaults substituted recursively):
    /// quadratic and recursive, but a reference to compare [`substitute`] with.
    mod reference {
        use super::super::name_end;

        pub enum Error {
            Invalid,
            Required(String, String),
        }

        type Vars<'a> = &'a dyn Fn(&str) -> Option<String>;

        /// The end of compose's pattern matched at `at` (a `$`), and whether it is the
        /// invalid `${`.
        fn pattern(t: &str, at: usize) -> Option<(usize, bool)> {
            let b = t.as_bytes();
            match b.get(at + 1) {
                Some(b'$') => Some((at + 2, false)),
                Some(b'{') => {
                    let Some(q) = name_end(b, at + 2, b.len()) else {
                        return Some((at + 2, true));
                    };
                    let op_end = match (b.get(q), b.get(q + 1)) {
                        (Some(b':'), Some(b'-' | b'+' | b'?')) => Some(q + 2),
                        (Some(b'-' | b'+' | b'?'), _) => Some(q + 1),
                        _ => None,
                    };
                    if let Some(op_end) = op_end {
                        let line_end = t[op_end..].find('\n').map_or(t.len(), |i| op_end + i);
                        if let Some(last) = t[op_end..line_end].rfind('}') {
                            return Some((op_end + last + 1, false));
                        }
                    }
                    if b.get(q) == Some(&b'}') {
                        return Some((q + 1, false));
                    }
                    Some((at + 2, true))
                }
                _ => name_end(b, at + 1, b.len()).map(|e| (e, false)),
            }
        }

        fn first_brace_closing(s: &str) -> Option<usize> {
            let b = s.as_bytes();
            let mut open = 0i64;
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'}' {
                    open -= 1;
                    if open == 0 {
                        return Some(i);
                    }
                }
                if b[i] == b'{' {
                    open += 1;
                    i += 1;
                }
                i += 1;
            }
            None
        }

        pub fn substitute(t: &str, vars: Vars, unset: &mut Vec<String>) -> Result<String, Error> {
            let mut out = String::new();
            let mut first_error = None;
            let mut i = 0;
            while let Some(d) = t[i..].find('$').map(|d| i + d) {
                out.push_str(&t[i..d]);
                match pattern(t, d) {
                    None => {
                        out.push('$');
                        i = d + 1;
                    }
                    Some((end, invalid)) => {
                        let r = if invalid {
                            Err(Error::Invalid)
                        } else {
                            replace(&t[d..end], vars, unset)
                        };
                        match r {
                            Ok(s) => out.push_str(&s),
                            Err(e) => {
                                first_error.get_or_insert(e);
                            }
                        }
                        i = end;
                    }
                }
            }
            out.push_str(&t[i..]);
            match first_error {
                Some(e) => Err(e),
                None => Ok(out),
            }
        }

        fn replace(matched: &str, vars: Vars, unset: &mut Vec<String>) -> Result<String, Error> {
            // the operator: the separator found first in the whole match
            let seps = [":?", "?", ":-", "-", ":+", "+"];
            let op = seps
                .iter()
                .filter_map(|s| matched.find(s).map(|i| (i, *s)))
                .min_by_key(|&(i, s)| (i, std::cmp::Reverse(s.len())))
                .map(|(_, s)| s);
            let (cut, rest) = match first_brace_closing(matched) {
                Some(c) => (&matched[..=c], &matched[c + 1..]),
                None => (matched, ""),
            };
            if cut == "$$" {
                return Ok("$".into());
            }
            let (braced, sub) = match cut.strip_prefix("${") {
                Some(inner) => (true, inner.strip_suffix('}').unwrap_or(inner)),
                None => (false, &cut[1..]),
            };
            if let (true, Some(op)) = (braced, op)
                && let Some((name, arg)) = sub.split_once(op)
            {
                let value = vars(name);
                let filled = value.as_deref().is_some_and(|v| !v.is_empty());
                let result = match op {
                    ":-" | "-" if value.is_none() || (op == ":-" && !filled) => {
                        substitute(arg, vars, unset)?
                    }
                    ":+" | "+" if (op == "+" && value.is_some()) || filled => {
                        substitute(arg, vars, unset)?
                    }
                    ":?" | "?" if value.is_none() || (op == ":?" && !filled) => {
                        let message = substitute(arg, vars, unset)?;
                        return Err(Error::Required(name.into(), message));
                    }
                    _ => value.unwrap_or_default(),
                };
                return Ok(result + &substitute(rest, vars, unset)?);
            }
            match vars(sub) {
                Some(v) => Ok(v),
                None => {
                    unset.push(sub.to_owned());
                    Ok(String::new())
                }
            }
        }
    }

    /// [`substitute`] and the plain transcription agree on every short text of an alphabet
    /// of the characters that matter.
    #[test]
    fn agrees_with_the_plain_transcription() {
        const ALPHABET: &[&str] = &[
            "$", "$", "$", "{", "{", "}", "}", ":", "-", "+", "?", "A", "B", "_", "1", "\n", " ",
            "ſ", "é",
        ];
        let vars = |name: &str| match name {
            "A" => Some("a".to_owned()),
            "B" => Some(String::new()),
            _ => None,
        };
        let lookup = |name: &str| vars(name).map(Cow::Owned);
        for text in texts(ALPHABET, 0x9E37_79B9_7F4A_7C15, 200_000, 16) {
            let mut unset = Vec::new();
            let expected = reference::substitute(&text, &vars, &mut unset);
            let got = substitute(&text, &lookup, usize::MAX);
            match (expected, got) {
                (Ok(e), Ok(g)) => {
                    assert_eq!(g.text, e, "{text:?}");
                    assert_eq!(g.unset, unset.first().cloned(), "{text:?}");
                }
                (Err(reference::Error::Invalid), Err(Failure::Syntax(_))) => {}
                (
                    Err(reference::Error::Required(n, m)),
                    Err(Failure::Required { name, message }),
                ) => {
                    assert_eq!((name, message), (n, m), "{text:?}");
                }
                (e, g) => panic!(
                    "{text:?}: compose-go's algorithm gives {}, substitute gives {g:?}",
                    match e {
                        Ok(s) => format!("Ok({s:?})"),
                        Err(reference::Error::Invalid) => "an invalid template".into(),
                        Err(reference::Error::Required(n, m)) => format!("required {n}: {m}"),
                    }
                ),
            }
        }
    }
}
