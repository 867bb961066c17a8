//! Word expansion as BuildKit's Dockerfile frontend does it (frontend/dockerfile/shell/lex.go):
//! quotes, the escape character, `$VAR`, `${VAR}` and the modifiers `:-`, `-`, `:+`, `+`, `:?`,
//! `?`, `#`, `##`, `%`, `%%`, `/` and `//` (their patterns in [`super::pattern`]).
//!
//! Where BuildKit substitutes the empty string for a variable without a value, a check cannot
//! look the reference up: a bare `$VAR` / `${VAR}` (or a pattern form of it) naming one is
//! reported as [`Problem::UnresolvedVariable`]. That report is lazy, like the value: a reference
//! inside a default that is not used (`${SET:-$UNSET}`) reports nothing.
//!
//! Bounds: every character goes through [`Lexer::push_str`], which refuses to let one expansion
//! pass [`MAX_EXPANSION`] bytes and charges the file's [`Budget`]; nested `${` stop at
//! [`MAX_DEPTH`](crate::limits::MAX_DEPTH); pattern matching is paid step by step from the same budget.
//!
//! # Layout
//!
//! - this file: the entry points, a lexer's settings and state, and its bounded output.
//! - [`scan`]: lex.go `processStopOn`: the text up to a stop character, its escapes, heredoc
//!   markers, and the words the result splits into.
//! - [`quotes`]: `'single'` and `"double"` quotes.
//! - [`parameters`]: `$NAME`, `${NAME}` and the modifiers that choose between a value and a
//!   word (`:-`, `-`, `:+`, `+`, `:?`, `?`).
//! - [`trim_replace`]: the modifiers that match a pattern in a value (`#`, `##`, `%`, `%%`, `/`,
//!   `//`).

mod parameters;
mod quotes;
mod scan;
#[cfg(test)]
mod tests;
mod trim_replace;

use std::collections::HashMap;

use super::pattern::Exhausted;
use super::{clip, quote};
use crate::Problem;
use crate::limits::MAX_EXPANSION;
use scan::Words;

/// What a build argument holds, once its default is expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Value {
    Set(String),
    /// Its default could not be expanded (it names a variable without a value, reached a limit,
    /// ...): every use of the value reports this.
    Failed(Problem),
}

/// The build arguments in scope, by name (case-sensitive, as on Linux builders).
pub(super) type Vars = HashMap<String, Value>;

use crate::limits::MAX_FILE_EXPANSION as FILE_BUDGET;

/// The expansion work one file has left.
#[derive(Debug)]
pub(super) struct Budget {
    bytes: usize,
    steps: usize,
}

impl Budget {
    /// The budget of one file.
    pub(super) fn file() -> Budget {
        Budget {
            bytes: FILE_BUDGET,
            steps: FILE_BUDGET,
        }
    }

    /// No budget: for reading heredoc markers, whose output never exceeds twice the line.
    fn unlimited() -> Budget {
        Budget {
            bytes: usize::MAX,
            steps: usize::MAX,
        }
    }
}

/// A lexer's settings, as BuildKit's `Lex` fields and call sites set them.
#[derive(Debug, Clone, Copy)]
struct Options {
    /// `\`, or the backtick a `# escape=` directive chose.
    escape: char,
    /// Quotes are kept in the result (`RawQuotes`).
    raw_quotes: bool,
    /// Escape characters are kept in the result (`RawEscapes`).
    raw_escapes: bool,
    /// A variable without a value is written back as it was referenced (`SkipUnsetEnv`).
    skip_unset: bool,
    /// A variable without a value is reported (mquery) rather than read as empty (BuildKit).
    holes: bool,
    /// The result is also split into words (`ProcessWords`).
    words: bool,
    /// The most bytes the result may hold.
    cap: usize,
}

/// A problem that stays with a piece of output: it is reported only if the piece is used.
type Taint = Option<Problem>;

fn taint(into: &mut Taint, from: Taint) {
    if into.is_none() {
        *into = from;
    }
}

/// One expansion: where it is in the text, and what it has written.
struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    vars: &'a Vars,
    options: Options,
    /// lex.go's `rawEscapes`, switched on while a pattern is read.
    raw_escapes: bool,
    /// The output of every level: a nested word is written in place after its parent's text
    /// and cut back when it is not used, so nothing is copied twice.
    out: String,
    words: Words,
    /// lex.go's `wordsBuffer`, which every nested `processStopOn` empties: a quirk kept (the
    /// text of a word before `${VAR:-...}` is dropped from the words).
    word_buffer: String,
    depth: usize,
    budget: &'a mut Budget,
}

/// The expansion of `text`: its result, its words if asked, and what its used pieces reported.
struct Expansion {
    result: String,
    words: Vec<String>,
    taint: Taint,
}

fn process(
    text: &str,
    vars: &Vars,
    options: Options,
    budget: &mut Budget,
) -> Result<Expansion, Problem> {
    let mut lexer = Lexer {
        text,
        pos: 0,
        vars,
        options,
        raw_escapes: options.raw_escapes,
        out: String::new(),
        words: Words::default(),
        word_buffer: String::new(),
        depth: 0,
        budget,
    };
    let taint = lexer.stop_on(None, options.raw_escapes, true)?;
    let words = std::mem::take(&mut lexer.words).finish(&mut lexer.word_buffer);
    Ok(Expansion {
        result: lexer.out,
        words,
        taint,
    })
}

/// `text` (an `ARG` default, a `FROM` image or platform) expanded with `vars`, as BuildKit's
/// `ProcessWordWithMatches` does, except that a variable without a value is reported.
pub(super) fn expand(
    text: &str,
    vars: &Vars,
    escape: char,
    budget: &mut Budget,
) -> Result<String, Problem> {
    let options = Options {
        escape,
        raw_quotes: false,
        raw_escapes: false,
        skip_unset: false,
        holes: true,
        words: false,
        cap: MAX_EXPANSION,
    };
    let outcome = process(text, vars, options, budget)?;
    match outcome.taint {
        Some(problem) => Err(problem),
        None => Ok(outcome.result),
    }
}

/// `text` processed with no variables at all, unset ones read as empty: how BuildKit tells
/// whether `COPY --from=` uses a substitution (dockerfile2llb/convert.go `toCommand`).
pub(super) fn without_variables(text: &str, escape: char) -> Result<String, Problem> {
    let options = Options {
        escape,
        raw_quotes: false,
        raw_escapes: false,
        skip_unset: false,
        holes: false,
        words: false,
        cap: usize::MAX,
    };
    Ok(process(text, &Vars::new(), options, &mut Budget::unlimited())?.result)
}

/// The words of an instruction as BuildKit splits them to look for heredoc markers
/// (parser/parser.go `heredocsFromLine`: `\` as the escape whatever the file's escape, quotes
/// and escapes kept, variables kept as written). `None` where BuildKit's lexer fails: it then
/// finds no heredoc on the line.
pub(super) fn heredoc_words(line: &str) -> Option<Vec<String>> {
    let options = Options {
        escape: '\\',
        raw_quotes: true,
        raw_escapes: true,
        skip_unset: true,
        holes: false,
        words: true,
        cap: usize::MAX,
    };
    process(line, &Vars::new(), options, &mut Budget::unlimited())
        .ok()
        .map(|outcome| outcome.words)
}

/// The name of a heredoc from the text after `<<` (parser/parser.go `heredocFromMatch`):
/// quotes and escapes removed, variables kept as written. `Ok(None)`: not one word, so no
/// heredoc; `Err`: BuildKit refuses the line.
pub(super) fn heredoc_name(rest: &str) -> Result<Option<String>, Problem> {
    let mut options = Options {
        escape: '\\',
        raw_quotes: false,
        raw_escapes: false,
        skip_unset: true,
        holes: false,
        words: true,
        cap: usize::MAX,
    };
    let vars = Vars::new();
    let mut words = process(rest, &vars, options, &mut Budget::unlimited())?.words;
    if words.len() != 1 {
        return Ok(None);
    }
    options.raw_quotes = true;
    let raw = process(rest, &vars, options, &mut Budget::unlimited())?.words;
    if raw.len() != words.len() {
        return Err(Problem::Syntax(format!(
            "a heredoc marker reads as one word without its quotes and as several with them: {}",
            quote(rest)
        )));
    }
    Ok(words.pop())
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    /// Writes `s` to the output, within the expansion's cap and the file's budget.
    fn push_str(&mut self, s: &str) -> Result<(), Problem> {
        if s.len() > self.options.cap.saturating_sub(self.out.len()) {
            return Err(Problem::Limit(format!(
                "more than {MAX_EXPANSION} bytes once substituted, the most a check expands: {}",
                quote(self.text)
            )));
        }
        self.budget.bytes = self.budget.bytes.checked_sub(s.len()).ok_or_else(|| {
            Problem::Limit(format!(
                "the substitutions of this file expand to more than {FILE_BUDGET} bytes in all, \
                 the most a check expands; stopped in {}",
                quote(self.text)
            ))
        })?;
        self.out.push_str(s);
        Ok(())
    }

    fn push(&mut self, c: char) -> Result<(), Problem> {
        self.push_str(c.encode_utf8(&mut [0; 4]))
    }

    fn syntax(&self, what: &str) -> Problem {
        Problem::Syntax(format!("{what} in {}", quote(self.text)))
    }

    fn exhausted(&self, _: Exhausted) -> Problem {
        Problem::Limit(format!(
            "the patterns of this file take more than {FILE_BUDGET} steps to match in all, \
             the most a check spends; stopped in {}",
            quote(self.text)
        ))
    }

    /// The problem of a variable without a value, if this lexer reports them.
    fn hole(&self, name: &str) -> Taint {
        self.options
            .holes
            .then(|| Problem::UnresolvedVariable(clip(name)))
    }
}
