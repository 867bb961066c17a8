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
//! [`MAX_DEPTH`]; pattern matching is paid step by step from the same budget.

use std::collections::HashMap;

use super::pattern::{self, Exhausted, Pattern};
use super::{clip, quote};
use crate::Problem;
use crate::limits::{MAX_DEPTH, MAX_EXPANSION};

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

/// What a variable holds, for one lookup.
enum Lookup<'v> {
    Unset,
    Set(&'v str),
    Failed(&'v Problem),
}

fn lookup<'v>(vars: &'v Vars, name: &str) -> Lookup<'v> {
    match vars.get(name) {
        None => Lookup::Unset,
        Some(Value::Set(value)) => Lookup::Set(value),
        Some(Value::Failed(problem)) => Lookup::Failed(problem),
    }
}

/// The result split into words, as lex.go's `wordsStruct`.
#[derive(Debug, Default)]
struct Words {
    list: Vec<String>,
    in_word: bool,
}

impl Words {
    fn add_char(&mut self, buffer: &mut String, c: char) {
        if c.is_whitespace() {
            if self.in_word && !buffer.is_empty() {
                self.list.push(std::mem::take(buffer));
                self.in_word = false;
            }
        } else {
            self.add_raw_char(buffer, c);
        }
    }

    fn add_raw_char(&mut self, buffer: &mut String, c: char) {
        buffer.push(c);
        self.in_word = true;
    }

    fn add_str(&mut self, buffer: &mut String, s: &str) {
        for c in s.chars() {
            self.add_char(buffer, c);
        }
    }

    fn add_raw_str(&mut self, buffer: &mut String, s: &str) {
        buffer.push_str(s);
        self.in_word = true;
    }

    fn finish(mut self, buffer: &mut String) -> Vec<String> {
        if !buffer.is_empty() {
            self.list.push(std::mem::take(buffer));
        }
        self.list
    }
}

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

/// lex.go `processName`: digits only after a digit, a special parameter alone.
fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || (!c.is_ascii() && c.is_numeric())
}

fn is_special(c: char) -> bool {
    matches!(c, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0')
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

    /// lex.go `processStopOn`: reads up to `stop` (consumed) or the end (`stop` `None`).
    fn stop_on(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
        top: bool,
    ) -> Result<Taint, Problem> {
        let saved = std::mem::replace(&mut self.raw_escapes, raw_escapes);
        let result = self.stop_on_inner(stop, top && self.options.words);
        self.raw_escapes = saved;
        result
    }

    fn stop_on_inner(&mut self, stop: Option<char>, words: bool) -> Result<Taint, Problem> {
        let mut found = None;
        while let Some(c) = self.peek() {
            if Some(c) == stop {
                self.next();
                return Ok(found);
            }
            let start = self.out.len();
            match c {
                '$' => {
                    let t = self.dollar()?;
                    taint(&mut found, t);
                    if words {
                        self.words
                            .add_str(&mut self.word_buffer, &self.out[start..]);
                    }
                }
                '<' => {
                    self.heredoc_marker()?;
                    if words {
                        self.words
                            .add_raw_str(&mut self.word_buffer, &self.out[start..]);
                    }
                }
                '\'' => {
                    self.single_quote()?;
                    if words {
                        self.words
                            .add_raw_str(&mut self.word_buffer, &self.out[start..]);
                    }
                }
                '"' => {
                    let t = self.double_quote()?;
                    taint(&mut found, t);
                    if words {
                        self.words
                            .add_raw_str(&mut self.word_buffer, &self.out[start..]);
                    }
                }
                _ => {
                    self.next();
                    if c == self.options.escape {
                        if self.raw_escapes {
                            if words {
                                self.words.add_raw_char(&mut self.word_buffer, c);
                            }
                            self.push(c)?;
                        }
                        // an escape at the very end is dropped
                        let Some(escaped) = self.next() else { break };
                        if words {
                            self.words.add_raw_char(&mut self.word_buffer, escaped);
                        }
                        self.push(escaped)?;
                    } else {
                        if words {
                            self.words.add_char(&mut self.word_buffer, c);
                        }
                        self.push(c)?;
                    }
                }
            }
        }
        match stop {
            Some(stop) => Err(self.syntax(&format!("the text ends before the closing `{stop}`"))),
            None => Ok(found),
        }
    }

    /// A nested word of a `${...}` (a default, a message, a pattern, a replacement), written in
    /// place after the output so far.
    fn nested_word(&mut self, stop: char, raw_escapes: bool) -> Result<Taint, Problem> {
        // lex.go: every processStopOn empties the shared words buffer
        self.word_buffer.clear();
        let result = self.stop_on(Some(stop), raw_escapes, false);
        if result.is_err() && self.peek().is_none() {
            if let Err(Problem::Limit(_)) = result {
                return result;
            }
            return Err(self.syntax(&format!("`${{` without its closing `{stop}`")));
        }
        result
    }

    /// `<<` and the blanks after it stay together in one word (lex.go `processPossibleHeredoc`).
    fn heredoc_marker(&mut self) -> Result<(), Problem> {
        self.next();
        self.push('<')?;
        if self.peek() != Some('<') {
            return Ok(());
        }
        self.next();
        self.push('<')?;
        while let Some(c @ ('\t' | '\r' | ' ')) = self.peek() {
            self.next();
            self.push(c)?;
        }
        Ok(())
    }

    /// Everything up to the next `'` is literal.
    fn single_quote(&mut self) -> Result<(), Problem> {
        self.next();
        if self.options.raw_quotes {
            self.push('\'')?;
        }
        loop {
            match self.next() {
                None => return Err(self.syntax("a `'` without its closing `'`")),
                Some('\'') => {
                    if self.options.raw_quotes {
                        self.push('\'')?;
                    }
                    return Ok(());
                }
                Some(c) => self.push(c)?,
            }
        }
    }

    /// Up to the next `"`, `$` expands and the escape character escapes `"`, `$` and itself
    /// (before anything else it stays).
    fn double_quote(&mut self) -> Result<Taint, Problem> {
        self.next();
        if self.options.raw_quotes {
            self.push('"')?;
        }
        let mut found = None;
        loop {
            match self.peek() {
                None => return Err(self.syntax("a `\"` without its closing `\"`")),
                Some('"') => {
                    self.next();
                    if self.options.raw_quotes {
                        self.push('"')?;
                    }
                    return Ok(found);
                }
                Some('$') => {
                    let t = self.dollar()?;
                    taint(&mut found, t);
                }
                Some(_) => {
                    let mut c = self.next().unwrap_or_default();
                    if c == self.options.escape {
                        if self.raw_escapes {
                            self.push(c)?;
                        }
                        match self.peek() {
                            None => continue,
                            Some(next)
                                if next == '"' || next == '$' || next == self.options.escape =>
                            {
                                c = next;
                                self.next();
                            }
                            Some(_) => {}
                        }
                    }
                    self.push(c)?;
                }
            }
        }
    }

    /// lex.go `processName`.
    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if name.is_empty() && is_digit(c) {
                while let Some(d) = self.peek().filter(|d| is_digit(*d)) {
                    self.next();
                    name.push(d);
                }
                return name;
            }
            if name.is_empty() && is_special(c) {
                self.next();
                name.push(c);
                return name;
            }
            if !(c.is_alphabetic() || is_digit(c) || c == '_') {
                break;
            }
            self.next();
            name.push(c);
        }
        name
    }

    /// lex.go `processDollar`: at a `$`.
    fn dollar(&mut self) -> Result<Taint, Problem> {
        self.next();
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                self.push('$')?;
                return Ok(None);
            }
            return self.plain(&name, false);
        }
        self.next();
        match self.peek() {
            None => return Err(self.syntax("`${` without its closing `}`")),
            Some('{' | '}' | ':') => {
                return Err(self.syntax("`${` not followed by a variable name"));
            }
            Some(_) => {}
        }
        if self.depth >= MAX_DEPTH {
            return Err(Problem::Limit(format!(
                "`${{` nested deeper than {MAX_DEPTH} levels, the most a check reads, in {}",
                quote(self.text)
            )));
        }
        self.depth += 1;
        let result = self.braced();
        self.depth -= 1;
        result
    }

    /// `$NAME` or `${NAME}`.
    fn plain(&mut self, name: &str, braced: bool) -> Result<Taint, Problem> {
        let vars = self.vars;
        match lookup(vars, name) {
            Lookup::Unset if self.options.skip_unset => {
                self.push_str(if braced { "${" } else { "$" })?;
                self.push_str(name)?;
                if braced {
                    self.push('}')?;
                }
                Ok(None)
            }
            Lookup::Unset => Ok(self.hole(name)),
            Lookup::Set(value) => {
                self.push_str(value)?;
                Ok(None)
            }
            Lookup::Failed(problem) => Ok(Some(problem.clone())),
        }
    }

    /// After `${`.
    fn braced(&mut self) -> Result<Taint, Problem> {
        let name = self.name();
        match self.next() {
            Some('}') => self.plain(&name, true),
            Some('/') => self.replace(&name),
            Some(':') => {
                let op = self.next();
                self.modifier(&name, true, op)
            }
            Some(op @ ('+' | '-' | '?' | '#' | '%')) => self.modifier(&name, false, Some(op)),
            None => Err(self.syntax("`${` without its closing `}`")),
            Some(other) => Err(self.unsupported(&name, other)),
        }
    }

    fn unsupported(&self, name: &str, op: char) -> Problem {
        self.syntax(&format!(
            "no operator {op:?} in BuildKit (it knows :-, -, :+, +, :?, ?, #, ##, %, %%, / and \
             //) after `${{{}`",
            clip(name)
        ))
    }

    /// `${NAME` followed by `:op` (`null_is_unset`: an empty value counts as unset) or `op`.
    fn modifier(
        &mut self,
        name: &str,
        null_is_unset: bool,
        op: Option<char>,
    ) -> Result<Taint, Problem> {
        let trims = matches!(op, Some('#' | '%'));
        if null_is_unset && trims {
            return Err(self.unsupported(name, ':'));
        }
        let vars = self.vars;
        let value = lookup(vars, name);
        if self.options.skip_unset && matches!(value, Lookup::Unset) {
            // written back as it was, with the word processed
            self.push_str("${")?;
            self.push_str(name)?;
            if null_is_unset {
                self.push(':')?;
            }
            if let Some(op) = op {
                self.push(op)?;
            }
            self.nested_word('}', trims)?;
            self.push('}')?;
            return Ok(None);
        }
        let start = self.out.len();
        let word_taint = self.nested_word('}', trims)?;
        let empty = |value: &str| null_is_unset && value.is_empty();
        match op {
            Some('-') => match value {
                Lookup::Unset => Ok(word_taint),
                Lookup::Set(value) if empty(value) => Ok(word_taint),
                Lookup::Set(value) => {
                    self.out.truncate(start);
                    self.push_str(value)?;
                    Ok(None)
                }
                Lookup::Failed(problem) => {
                    self.out.truncate(start);
                    Ok(Some(problem.clone()))
                }
            },
            Some('+') => match value {
                Lookup::Unset => {
                    self.out.truncate(start);
                    Ok(None)
                }
                Lookup::Set(value) if empty(value) => {
                    self.out.truncate(start);
                    Ok(None)
                }
                Lookup::Set(_) => Ok(word_taint),
                // whether it is empty is not known
                Lookup::Failed(problem) if null_is_unset => {
                    self.out.truncate(start);
                    Ok(Some(problem.clone()))
                }
                Lookup::Failed(_) => Ok(word_taint),
            },
            Some('?') => {
                let required = |message: &str, otherwise: &str| Problem::Required {
                    name: clip(name),
                    message: if message.is_empty() {
                        otherwise.to_owned()
                    } else {
                        clip(message)
                    },
                };
                match value {
                    Lookup::Unset => {
                        Err(required(&self.out[start..], "is not allowed to be unset"))
                    }
                    Lookup::Set(value) if empty(value) => {
                        Err(required(&self.out[start..], "is not allowed to be empty"))
                    }
                    Lookup::Set(value) => {
                        self.out.truncate(start);
                        self.push_str(value)?;
                        Ok(None)
                    }
                    Lookup::Failed(problem) => {
                        self.out.truncate(start);
                        Ok(Some(problem.clone()))
                    }
                }
            }
            Some(op @ ('#' | '%')) => {
                let word = self.out.split_off(start);
                let (greedy, written) = match word.strip_prefix(op) {
                    Some(rest) => (true, rest),
                    None => (false, word.as_str()),
                };
                let pattern = if op == '%' {
                    pattern::compile(&pattern::reverse(written), greedy, true)
                } else {
                    pattern::compile(written, greedy, true)
                }
                .map_err(|why| self.syntax(&why))?;
                match value {
                    // trimming nothing gives nothing
                    Lookup::Unset => Ok(self.hole(name)),
                    Lookup::Failed(problem) => Ok(Some(problem.clone())),
                    Lookup::Set(value) => {
                        self.trim(value, &pattern, op == '%')?;
                        Ok(word_taint)
                    }
                }
            }
            // `${NAME:` then anything else, or nothing
            Some(other) => Err(self.unsupported(name, other)),
            None => Err(self.syntax("`${` without its closing `}`")),
        }
    }

    fn trim(&mut self, value: &str, pattern: &Pattern, suffix: bool) -> Result<(), Problem> {
        let mut steps = self.budget.steps;
        let kept = if suffix {
            pattern::trim_suffix(pattern, value, &mut steps)
        } else {
            pattern::trim_prefix(pattern, value, &mut steps).map(str::to_owned)
        };
        self.budget.steps = steps;
        let kept = kept.map_err(|e| self.exhausted(e))?;
        self.push_str(&kept)
    }

    /// `${NAME/pattern/replacement}` and `${NAME//pattern/replacement}`.
    fn replace(&mut self, name: &str) -> Result<Taint, Problem> {
        let all = self.peek() == Some('/');
        if all {
            self.next();
        }
        let vars = self.vars;
        let value = lookup(vars, name);
        if self.options.skip_unset && matches!(value, Lookup::Unset) {
            // written back with one `/`, as lex.go does
            self.push_str("${")?;
            self.push_str(name)?;
            self.push('/')?;
            self.nested_word('/', true)?;
            self.push('/')?;
            self.nested_word('}', true)?;
            self.push('}')?;
            return Ok(None);
        }
        let start = self.out.len();
        let pattern_taint = self.nested_word('/', true)?;
        let middle = self.out.len();
        let replacement_taint = self.nested_word('}', true)?;
        let replacement = self.out.split_off(middle);
        let written = self.out.split_off(start);
        let pattern = pattern::compile(&written, true, false).map_err(|why| self.syntax(&why))?;
        let value = match value {
            Lookup::Unset if self.options.holes => return Ok(self.hole(name)),
            Lookup::Unset => "",
            Lookup::Failed(problem) => return Ok(Some(problem.clone())),
            Lookup::Set(value) => value,
        };
        let mut found = pattern_taint;
        let mut steps = self.budget.steps;
        let replaced = if all {
            self.replace_all(value, &pattern, &replacement, &mut steps)
        } else {
            self.replace_first(value, &pattern, &replacement, &mut steps)
        };
        self.budget.steps = steps;
        if replaced? {
            taint(&mut found, replacement_taint);
        }
        Ok(found)
    }

    /// The first match replaced by the replacement as written; whether there was one.
    fn replace_first(
        &mut self,
        value: &str,
        pattern: &Pattern,
        replacement: &str,
        steps: &mut usize,
    ) -> Result<bool, Problem> {
        match pattern
            .find(value, 0, steps)
            .map_err(|e| self.exhausted(e))?
        {
            Some((start, end)) => {
                self.push_str(&value[..start])?;
                self.push_str(replacement)?;
                self.push_str(&value[end..])?;
                Ok(true)
            }
            None => {
                self.push_str(value)?;
                Ok(false)
            }
        }
    }

    /// Every match replaced, as Go's `Regexp.ReplaceAllString` walks them (an empty match
    /// right after a match is skipped, the search always moves on); whether there was one.
    fn replace_all(
        &mut self,
        value: &str,
        pattern: &Pattern,
        replacement: &str,
        steps: &mut usize,
    ) -> Result<bool, Problem> {
        let mut search = 0;
        let mut last_end = 0;
        let mut replaced = false;
        while search <= value.len() {
            let Some((start, end)) = pattern
                .find(value, search, steps)
                .map_err(|e| self.exhausted(e))?
            else {
                break;
            };
            self.push_str(&value[last_end..start])?;
            if end > last_end || start == 0 {
                let mut result = Ok(());
                pattern::expand_template(replacement, &value[start..end], &mut |piece| {
                    if result.is_ok() {
                        result = self.push_str(piece);
                    }
                });
                result?;
                replaced = true;
            }
            last_end = end;
            let width = value[search..].chars().next().map_or(0, char::len_utf8);
            if search + width > end {
                search += width;
            } else if search + 1 > end {
                search += 1;
            } else {
                search = end;
            }
        }
        self.push_str(&value[last_end.min(value.len())..])?;
        Ok(replaced)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Variables as a test table writes them.
    type Env<'a> = &'a [(&'a str, &'a str)];

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::Set((*v).to_owned())))
            .collect()
    }

    /// BuildKit's own reading: unset variables are empty.
    fn buildkit(text: &str, vars: &Vars) -> Result<String, Problem> {
        let options = Options {
            escape: '\\',
            raw_quotes: false,
            raw_escapes: false,
            skip_unset: false,
            holes: false,
            words: false,
            cap: MAX_EXPANSION,
        };
        process(text, vars, options, &mut Budget::file()).map(|o| o.result)
    }

    #[test]
    fn buildkit_env_var_cases() {
        // BuildKit frontend/dockerfile/shell/envVarTest (the rows for every platform and for
        // Unix), with PWD=/home, SHELL=bash, KOREAN=한국어 and NULL set but empty; `None`: an
        // error
        let env = vars(&[
            ("PWD", "/home"),
            ("SHELL", "bash"),
            ("KOREAN", "한국어"),
            ("NULL", ""),
        ]);
        let table: &[(&str, Option<&str>)] = &[
            ("hello", Some("hello")),
            ("he'll'o", Some("hello")),
            ("he'llo", None),
            ("he\\'llo", Some("he'llo")),
            ("he\\\\'llo", None),
            ("abc\\tdef", Some("abctdef")),
            ("\"abc\\tdef\"", Some("abc\\tdef")),
            ("\"abc\\\\tdef\"", Some("abc\\tdef")),
            ("'abc\\tdef'", Some("abc\\tdef")),
            ("hello\\", Some("hello")),
            ("hello\\\\", Some("hello\\")),
            ("\"hello", None),
            ("\"hello\\\"", None),
            ("\"hel'lo\"", Some("hel'lo")),
            ("'hello", None),
            ("'hello\\'", Some("hello\\")),
            ("'hello\\there'", Some("hello\\there")),
            ("'hello\\\\there'", Some("hello\\\\there")),
            ("\"''\"", Some("''")),
            ("$.", Some("$.")),
            ("he$1x", Some("hex")),
            ("he$.x", Some("he$.x")),
            ("he$pwd.", Some("he.")),
            ("he$PWD", Some("he/home")),
            ("he\\$PWD", Some("he$PWD")),
            ("he\\\\$PWD", Some("he\\/home")),
            ("\"he\\$PWD\"", Some("he$PWD")),
            ("\"he\\\\$PWD\"", Some("he\\/home")),
            ("\\${}", Some("${}")),
            ("\\${}aaa", Some("${}aaa")),
            ("he\\${}", Some("he${}")),
            ("he\\${}xx", Some("he${}xx")),
            ("${}", None),
            ("${}aaa", None),
            ("he${}", None),
            ("he${}xx", None),
            ("he${hi}", Some("he")),
            ("he${hi}xx", Some("hexx")),
            ("he${PWD}", Some("he/home")),
            ("he${.}", None),
            ("he${XXX:-000}xx", Some("he000xx")),
            ("he${PWD:-000}xx", Some("he/homexx")),
            ("he${XXX:-$PWD}xx", Some("he/homexx")),
            ("he${XXX:-${PWD:-yyy}}xx", Some("he/homexx")),
            ("he${XXX:-${YYY:-yyy}}xx", Some("heyyyxx")),
            ("he${XXX:YYY}", None),
            ("he${XXX?}", None),
            ("he${XXX:?}", None),
            ("he${PWD?}", Some("he/home")),
            ("he${PWD:?}", Some("he/home")),
            ("he${NULL?}", Some("he")),
            ("he${NULL:?}", None),
            ("he${XXX:+${PWD}}xx", Some("hexx")),
            ("he${PWD:+${XXX}}xx", Some("hexx")),
            ("he${PWD:+${SHELL}}xx", Some("hebashxx")),
            ("he${XXX:+000}xx", Some("hexx")),
            ("he${PWD:+000}xx", Some("he000xx")),
            ("'he${XX}'", Some("he${XX}")),
            ("\"he${PWD}\"", Some("he/home")),
            ("\"he'$PWD'\"", Some("he'/home'")),
            ("\"$PWD\"", Some("/home")),
            ("'$PWD'", Some("$PWD")),
            ("'\\$PWD'", Some("\\$PWD")),
            ("'\"hello\"'", Some("\"hello\"")),
            ("'he\\$PWD'", Some("he\\$PWD")),
            ("he${PWD", None),
            ("he${PWD:=000}xx", None),
            ("he${PWD:+${PWD}:}xx", Some("he/home:xx")),
            ("he${XXX:-\\$PWD:}xx", Some("he$PWD:xx")),
            ("he${XXX:-\\${PWD}z}xx", Some("he${PWDz}xx")),
            ("안녕하세요", Some("안녕하세요")),
            ("안'녕'하세요", Some("안녕하세요")),
            ("안'녕하세요", None),
            ("안녕\\'하세요", Some("안녕'하세요")),
            ("안\\\\'녕하세요", None),
            ("안녕\\t하세요", Some("안녕t하세요")),
            ("\"안녕\\t하세요\"", Some("안녕\\t하세요")),
            ("'안녕\\t하세요", None),
            ("안녕하세요\\", Some("안녕하세요")),
            ("안녕하세요\\\\", Some("안녕하세요\\")),
            ("\"안녕하세요\\\"", None),
            ("'안녕하세요\\'", Some("안녕하세요\\")),
            ("안녕$1x", Some("안녕x")),
            ("안녕$.x", Some("안녕$.x")),
            ("안녕$pwd.", Some("안녕.")),
            ("안녕\\\\$PWD", Some("안녕\\/home")),
            ("안녕${}xx", None),
            ("안녕${.}", None),
            ("안녕${XXX:-${YYY:-yyy}}xx", Some("안녕yyyxx")),
            ("안녕${XXX:YYY}", None),
            ("\"안녕'$PWD'\"", Some("안녕'/home'")),
            ("안녕${PWD", None),
            ("안녕${PWD:=000}xx", None),
            ("안녕${XXX:-\\${PWD}z}xx", Some("안녕${PWDz}xx")),
            ("$KOREAN", Some("한국어")),
            ("안녕$KOREAN", Some("안녕한국어")),
            ("${{aaa}", None),
            ("${aaa}}", Some("}")),
            ("${aaa", None),
            ("${{aaa:-bbb}", None),
            ("${aaa:-bbb}}", Some("bbb}")),
            ("${aaa:-bbb", None),
            ("${aaa:-bbb}", Some("bbb")),
            ("${aaa:-${bbb:-ccc}}", Some("ccc")),
            ("${aaa:-bbb ${foo}", None),
            ("${aaa:-bbb {foo}", Some("bbb {foo")),
            ("${:}", None),
            ("${:-bbb}", None),
            ("${:+bbb}", None),
            // positional and special parameters are never set
            ("$1", Some("")),
            ("${1:-bbb}", Some("bbb")),
            ("${9:+bbb}", Some("")),
            ("$999aaa", Some("aaa")),
            ("${999:-bbb}aaa", Some("bbbaaa")),
            ("$001aaa", Some("aaa")),
            ("${001:-bbb}", Some("bbb")),
            ("$@@@", Some("@@")),
            ("${@:-bbb}aaa", Some("bbbaaa")),
            ("${*:+bbb}", Some("")),
            ("$#", Some("")),
            ("${#:-bbb}", Some("bbb")),
            ("${?}", Some("")),
            ("${-:-bbb}", Some("bbb")),
            ("$$", Some("")),
            ("${$:+bbb}", Some("")),
            ("${!:-bbb}", Some("bbb")),
            ("${0}", Some("")),
        ];
        for (source, expected) in table {
            let got = buildkit(source, &env);
            match expected {
                Some(expected) => assert_eq!(got.as_deref(), Ok(*expected), "{source}"),
                None => assert!(got.is_err(), "{source}: {got:?}"),
            }
        }
    }

    #[test]
    fn buildkit_modifier_cases() {
        // BuildKit lex_test.go TestProcessWithMatches and TestShellParserMandatoryEnvVars
        let table: &[(&str, Env, Option<&str>)] = &[
            ("x", &[("DUMMY", "dummy")], Some("x")),
            ("x ${UNUSED}", &[], Some("x ")),
            (
                "${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}",
                &[("FOO", "xxx"), ("BAR", "")],
                Some("xxx  ccc"),
            ),
            (
                "${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}",
                &[("FOO", "xxx"), ("BAR", "")],
                Some("xxx bbb ccc"),
            ),
            ("${FOO:-}", &[("FOO", "xxx")], Some("xxx")),
            ("${FOO:-}", &[], Some("")),
            (
                "${FOO+aaa} ${BAR+bbb} ${BAZ+ccc}",
                &[("FOO", "xxx"), ("BAR", "")],
                Some("aaa bbb "),
            ),
            (
                "${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}",
                &[("FOO", "xxx"), ("BAR", "")],
                Some("aaa  "),
            ),
            ("${FOO?aaa}", &[("FOO", "xxx")], Some("xxx")),
            ("${BAR?bbb}", &[("BAR", "")], Some("")),
            ("${BAZ?ccc}", &[], None),
            ("${FOO:?aaa}", &[("FOO", "xxx")], Some("xxx")),
            ("${BAR:?bbb}", &[("BAR", "")], None),
            ("${BAZ:?}", &[], None),
            ("${FOO=aaa}", &[("FOO", "xxx")], None),
            ("${FOO=:aaa}", &[("FOO", "xxx")], None),
            ("${FOO=}", &[], None),
            (
                "${FOO#()[]{\\}^$.\\*\\?|\\\\}",
                &[("FOO", "()[]{}^$.*?|\\x")],
                Some("x"),
            ),
            ("${FOO%%\\**}", &[("FOO", "xx**")], Some("xx")),
            ("${FOO#*x*y}", &[("FOO", "xxyy")], Some("y")),
            ("${FOO#*}", &[("FOO", "xxyy")], Some("xxyy")),
            ("${FOO#$BAR}", &[("FOO", "xxyy"), ("BAR", "x")], Some("xyy")),
            ("${FOO#$BAR}", &[("FOO", "xxyy"), ("BAR", "")], Some("xxyy")),
            ("${FOO#}", &[("FOO", "xxyy")], Some("xxyy")),
            ("${FOO##*x}", &[("FOO", "xxyy")], Some("yy")),
            ("${FOO##}", &[("FOO", "xxyy")], Some("xxyy")),
            ("${FOO#?\\?}", &[("FOO", "???y")], Some("?y")),
            (
                "${ABC:-.}${FOO%x}${ABC:-.}",
                &[("FOO", "xxyy")],
                Some(".xxyy."),
            ),
            ("${FOO%%\\**\\*}", &[("FOO", "a***yy*")], Some("a")),
            ("${FOO%}", &[("FOO", "xxyy")], Some("xxyy")),
            (
                "${FOO%%$BAR}",
                &[("FOO", "xxyy"), ("BAR", "")],
                Some("xxyy"),
            ),
            ("${FOO:#}", &[], None),
            ("${FOO:##}", &[], None),
            ("${FOO:%}", &[], None),
            ("${FOO:%%}", &[], None),
            (
                "${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}",
                &[("FOO", "/foo*/*/*.txt"), ("NEEDLE", "\\*/")],
                Some("/foo.*/*.txt - /foo..*.txt"),
            ),
            (
                "${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}",
                &[("FOO", "/tmp/tmp/bar.txt"), ("NEEDLE", "/tmp")],
                Some("/tmp/bar.txt - /bar.txt"),
            ),
            (
                "${FOO/$NEEDLE/$REPLACEMENT} - ${FOO//$NEEDLE/$REPLACEMENT}",
                &[
                    ("FOO", "/a/foo/b/c.txt"),
                    ("NEEDLE", "/?/"),
                    ("REPLACEMENT", "/"),
                ],
                Some("/foo/b/c.txt - /foo/c.txt"),
            ),
            (
                "${FOO/$NEEDLE/$REPLACEMENT}",
                &[
                    ("FOO", "http://google.de"),
                    ("NEEDLE", "http://"),
                    ("REPLACEMENT", "https://"),
                ],
                Some("https://google.de"),
            ),
            (
                "${FOO//\\//\\/}",
                &[("FOO", "/tmp/foo.txt")],
                Some("\\/tmp\\/foo.txt"),
            ),
            (
                "${FOO/$BAR/ww}",
                &[("FOO", "xxyy"), ("BAR", "")],
                Some("wwxxyy"),
            ),
            ("${FOO//ww}", &[("FOO", "xxyy")], None),
            ("${FOO//}", &[("FOO", "xxyy")], None),
            ("${FOO///}", &[("FOO", "xxyy")], Some("xxyy")),
            ("${FOO///}", &[], Some("")),
            (
                "${VAR:?message here$ARG}",
                &[("VAR", "plain"), ("ARG", "x")],
                Some("plain"),
            ),
            (
                "${VAR?message here$ARG}",
                &[("VAR", ""), ("ARG", "x")],
                Some(""),
            ),
            // TestProcessWithMatchesPlatform
            (
                "something-${VERSION}.${TARGETOS}-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}.tar.gz",
                &[
                    ("VERSION", "v1.2.3"),
                    ("TARGETOS", "linux"),
                    ("TARGETARCH", "arm"),
                    ("TARGETVARIANT", "v7"),
                ],
                Some("something-v1.2.3.linux-arm-v7.tar.gz"),
            ),
            (
                "something-${VERSION}.${TARGETOS}-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}.tar.gz",
                &[
                    ("VERSION", "v1.2.3"),
                    ("TARGETOS", "linux"),
                    ("TARGETARCH", "arm64"),
                    ("TARGETVARIANT", ""),
                ],
                Some("something-v1.2.3.linux-arm64.tar.gz"),
            ),
        ];
        for (source, env, expected) in table {
            let got = buildkit(source, &vars(env));
            match expected {
                Some(expected) => assert_eq!(got.as_deref(), Ok(*expected), "{source}"),
                None => assert!(got.is_err(), "{source}: {got:?}"),
            }
        }
        // the message of `?` is the processed word
        for (source, env) in [
            ("${VAR:?message here$ARG}", &[("VAR", ""), ("ARG", "x")][..]),
            ("${VAR:?message here$ARG}", &[("ARG", "x")]),
            ("${VAR?message here$ARG}", &[("ARG", "x")]),
        ] {
            assert_eq!(
                buildkit(source, &vars(env)),
                Err(Problem::Required {
                    name: "VAR".into(),
                    message: "message herex".into()
                }),
                "{source}"
            );
        }
    }

    #[test]
    fn buildkit_words_cases() {
        // BuildKit frontend/dockerfile/shell/wordsTest, as ProcessWords splits them
        let words = |text: &str, env: &[(&str, &str)]| {
            let options = Options {
                escape: '\\',
                raw_quotes: false,
                raw_escapes: false,
                skip_unset: false,
                holes: false,
                words: true,
                cap: MAX_EXPANSION,
            };
            process(text, &vars(env), options, &mut Budget::file()).map(|o| o.words)
        };
        let space = [("hi", "hi"), ("space", "abc  def")];
        let leading = [("leading", "  ab c")];
        let trailing = [("trailing", "ab c   ")];
        let table: &[(&str, Env, &[&str])] = &[
            ("hello", &[], &["hello"]),
            ("hello${hi}bye", &[], &["hellobye"]),
            ("hello${hi}bye", &space, &["hellohibye"]),
            ("hello${space}bye", &space, &["helloabc", "defbye"]),
            ("hello\"${space}\"bye", &space, &["helloabc  defbye"]),
            ("hello \"${space}\"bye", &space, &["hello", "abc  defbye"]),
            ("hello${leading}def", &leading, &["hello", "ab", "cdef"]),
            ("hello\"${leading}\" def", &leading, &["hello  ab c", "def"]),
            ("hello\"${leading}\"", &leading, &["hello  ab c"]),
            ("hello${leading}", &leading, &["hello", "ab", "c"]),
            ("hello${trailing}", &trailing, &["helloab", "c"]),
            ("hello${trailing}d", &trailing, &["helloab", "c", "d"]),
            ("hello\"${trailing}\"d", &trailing, &["helloab c   d"]),
            ("hel\"lo${trailing}\"", &trailing, &["helloab c   "]),
            ("hello\" there  \"", &[], &["hello there  "]),
            ("hello there", &[], &["hello", "there"]),
            ("hello\\ there", &[], &["hello there"]),
            ("hello\\\" there", &[], &["hello\"", "there"]),
            ("hello\"\\\\there\"", &[], &["hello\\there"]),
            ("hello\"\\there\"", &[], &["hello\\there"]),
            ("hello'\\\\there'", &[], &["hello\\\\there"]),
            ("hello'\\there'", &[], &["hello\\there"]),
            ("hello'$there'", &[], &["hello$there"]),
        ];
        for (text, env, expected) in table {
            let got = words(text, env).expect("lexes");
            assert_eq!(got, *expected, "{text}");
        }
        assert!(words("hello\" there", &[]).is_err());
    }

    #[test]
    fn variables_without_a_value_are_reported() {
        let env = vars(&[("SET", "1.22"), ("EMPTY", "")]);
        let mut budget = Budget::file();
        let mut x = |text: &str| expand(text, &env, '\\', &mut budget);
        let unresolved = |name: &str| Err(Problem::UnresolvedVariable(name.to_owned()));
        assert_eq!(x("golang:$SET"), Ok("golang:1.22".into()));
        assert_eq!(x("golang:${SET}-alpine"), Ok("golang:1.22-alpine".into()));
        assert_eq!(x("app:$VERSION"), unresolved("VERSION"));
        assert_eq!(x("app:${VERSION}"), unresolved("VERSION"));
        assert_eq!(x("app:${VERSION#v}"), unresolved("VERSION"));
        assert_eq!(x("app:${VERSION/v/w}"), unresolved("VERSION"));
        // a set but empty value is a value
        assert_eq!(x("app${EMPTY}"), Ok("app".into()));
        // the forms that handle unset variables
        assert_eq!(x("node:${NODE:-20}"), Ok("node:20".into()));
        assert_eq!(x("node:${NODE-20}"), Ok("node:20".into()));
        assert_eq!(x("app${VERSION:+:$VERSION}"), Ok("app".into()));
        // an unused default is not read for holes, a used one is
        assert_eq!(x("${SET:-$UNSET}"), Ok("1.22".into()));
        assert_eq!(x("${NOPE:-$UNSET}"), unresolved("UNSET"));
        assert_eq!(x("${SET:+$UNSET}"), unresolved("UNSET"));
        // the first hole is the one reported
        assert_eq!(x("$A:$B"), unresolved("A"));
        // a refused form wins over a hole before it (BuildKit fails there)
        assert_eq!(
            x("$A${B:?needs B}"),
            Err(Problem::Required {
                name: "B".into(),
                message: "needs B".into()
            })
        );
        assert_eq!(
            x("${A:?}"),
            Err(Problem::Required {
                name: "A".into(),
                message: "is not allowed to be unset".into()
            })
        );
        assert_eq!(
            x("${EMPTY:?}"),
            Err(Problem::Required {
                name: "EMPTY".into(),
                message: "is not allowed to be empty".into()
            })
        );
    }

    #[test]
    fn failed_values_follow_their_uses() {
        let mut env = vars(&[("SET", "x")]);
        let failed = Problem::UnresolvedVariable("ROOT".into());
        env.insert("F".into(), Value::Failed(failed.clone()));
        let mut budget = Budget::file();
        let mut x = |text: &str| expand(text, &env, '\\', &mut budget);
        assert_eq!(x("$F"), Err(failed.clone()));
        assert_eq!(x("${F:-d}"), Err(failed.clone()));
        assert_eq!(x("${F:+w}"), Err(failed.clone()));
        assert_eq!(x("${F#x}"), Err(failed.clone()));
        // set, whatever it holds
        assert_eq!(x("${F+w}"), Ok("w".into()));
        assert_eq!(x("${SET:-$F}"), Ok("x".into()));
    }

    #[test]
    fn invalid_forms_are_syntax_problems() {
        let env = vars(&[("SET", "x")]);
        for text in [
            "${",
            "${}",
            "${:}",
            "${SET",
            "${SET:=x}",
            "${SET=x}",
            "${SET:x}",
            "${SET.}",
            "${SET:#x}",
            "${SET#\\x}",
            "${SET/a",
            "${SET/a/b",
            "'open",
            "\"open",
            "${SET:-'}",
        ] {
            let got = expand(text, &env, '\\', &mut Budget::file());
            assert!(matches!(got, Err(Problem::Syntax(_))), "{text}: {got:?}");
        }
    }

    #[test]
    fn the_escape_character_can_be_a_backtick() {
        let env = vars(&[("SET", "x")]);
        let x = |text: &str| expand(text, &env, '`', &mut Budget::file());
        assert_eq!(x("C:\\dir\\$SET"), Ok("C:\\dir\\x".into()));
        assert_eq!(x("a`$SET"), Ok("a$SET".into()));
        assert_eq!(x("\"a`\"b\""), Ok("a\"b".into()));
    }

    #[test]
    fn expansions_are_capped_while_they_are_written() {
        let big = "x".repeat(MAX_EXPANSION - 1);
        let env = vars(&[("BIG", &big)]);
        let mut budget = Budget::file();
        assert_eq!(expand("$BIG", &env, '\\', &mut budget), Ok(big.clone()));
        let twice = expand("$BIG$BIG", &env, '\\', &mut budget);
        assert!(
            matches!(&twice, Err(Problem::Limit(m)) if m.contains("4096 bytes")),
            "{twice:?}"
        );
        // an unused default is written, and counts, too
        let unused = expand("${BIG:-${BIG}${BIG}}", &env, '\\', &mut budget);
        assert!(matches!(unused, Err(Problem::Limit(_))), "{unused:?}");
        // replacing every character cannot grow past the cap either
        let grown = expand("${BIG//?/$BIG}", &env, '\\', &mut budget);
        assert!(matches!(grown, Err(Problem::Limit(_))), "{grown:?}");
        // the sentence quotes at most MAX_QUOTED bytes of the file
        let long = format!("{}$BIG$BIG", "é".repeat(300));
        let Err(Problem::Limit(sentence)) = expand(&long, &env, '\\', &mut budget) else {
            panic!("a limit");
        };
        assert!(
            sentence.len() < crate::limits::MAX_QUOTED + 120,
            "{sentence}"
        );
    }

    #[test]
    fn nesting_is_bounded() {
        let env = Vars::new();
        let deep = format!("{}x{}", "${A:-".repeat(MAX_DEPTH), "}".repeat(MAX_DEPTH));
        assert_eq!(
            expand(&deep, &env, '\\', &mut Budget::file()),
            Ok("x".into())
        );
        let deeper = format!("{}x{}", "${A:-".repeat(100_000), "}".repeat(100_000));
        let got = expand(&deeper, &env, '\\', &mut Budget::file());
        assert!(
            matches!(&got, Err(Problem::Limit(m)) if m.contains("deeper")),
            "{got:?}"
        );
    }

    #[test]
    fn a_file_budget_bounds_every_expansion_together() {
        let big = "x".repeat(MAX_EXPANSION);
        let env = vars(&[("BIG", &big)]);
        let mut budget = Budget::file();
        let mut last = Ok(String::new());
        for _ in 0..crate::limits::MAX_ROWS + 1 {
            last = expand("$BIG", &env, '\\', &mut budget);
        }
        assert!(
            matches!(&last, Err(Problem::Limit(m)) if m.contains("in all")),
            "{last:?}"
        );
        // a pattern long enough to make one search cost more steps than a file may spend
        let mut env = env;
        env.insert("P".into(), Value::Set(format!("{}y", "*x".repeat(600))));
        let outcome = expand("${BIG//$P/z}", &env, '\\', &mut Budget::file());
        assert!(
            matches!(&outcome, Err(Problem::Limit(m)) if m.contains("steps")),
            "{:?}",
            outcome.map(|o| o.len())
        );
    }

    #[test]
    fn heredoc_markers_read_as_buildkit_reads_them() {
        // BuildKit parser_heredoc_test.go TestParseHeredocHelpers / TestHeredocsFromLine
        assert_eq!(
            heredoc_words("RUN <<  EOF  > foo"),
            Some(vec![
                "RUN".into(),
                "<<  EOF".into(),
                ">".into(),
                "foo".into()
            ])
        );
        assert_eq!(
            heredoc_words("RUN \"<<EOF\" '<<EOF'"),
            Some(vec!["RUN".into(), "\"<<EOF\"".into(), "'<<EOF'".into()])
        );
        assert_eq!(heredoc_words("RUN \"open <<EOF"), None);
        for (rest, name) in [
            ("EOF", Some("EOF")),
            ("'EOF'", Some("EOF")),
            ("\"EOF\"", Some("EOF")),
            ("EO\"F\"", Some("EOF")),
            ("eo\\'f", Some("eo'f")),
            ("'e'o\\'f", Some("eo'f")),
            ("'one two'", Some("one two")),
            ("$EOF", Some("$EOF")),
            ("EOF sh", None),
            ("''", None),
        ] {
            assert_eq!(heredoc_name(rest).ok().flatten().as_deref(), name, "{rest}");
        }
        for invalid in ["'EOF", "\"EOF", "EOF'", "EOF\""] {
            assert!(heredoc_name(invalid).is_err(), "{invalid}");
        }
    }
}
