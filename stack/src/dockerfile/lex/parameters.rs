//! Parameters: `$NAME`, `${NAME}`, and the modifiers that choose between the value and the
//! word written after them, `${NAME:-word}`, `-`, `:+`, `+`, `:?` and `?` (lex.go
//! `processDollar`, `processName`); the pattern modifiers are in [`super::trim_replace`].

use super::{Lexer, Taint, Value, Vars};
use crate::Problem;
use crate::dockerfile::{clip, quote};
use crate::limits::MAX_DEPTH;

/// What a variable holds, for one lookup.
pub(super) enum Lookup<'v> {
    Unset,
    Set(&'v str),
    Failed(&'v Problem),
}

pub(super) fn lookup<'v>(vars: &'v Vars, name: &str) -> Lookup<'v> {
    match vars.get(name) {
        None => Lookup::Unset,
        Some(Value::Set(value)) => Lookup::Set(value),
        Some(Value::Failed(problem)) => Lookup::Failed(problem),
    }
}

/// lex.go `processName`: digits only after a digit, a special parameter alone.
fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || (!c.is_ascii() && c.is_numeric())
}

fn is_special(c: char) -> bool {
    matches!(c, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0')
}

impl Lexer<'_> {
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
    pub(super) fn dollar(&mut self) -> Result<Taint, Problem> {
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

    pub(super) fn unsupported(&self, name: &str, op: char) -> Problem {
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
                set_or_failed => self.value_instead(start, set_or_failed),
            },
            Some('+') => match value {
                Lookup::Set(value) if !empty(value) => Ok(word_taint),
                // whether it is empty is not known
                Lookup::Failed(_) if !null_is_unset => Ok(word_taint),
                // unset, empty, or failed where an empty value would count as unset
                other => self.value_instead(start, other),
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
                    set_or_failed => self.value_instead(start, set_or_failed),
                }
            }
            Some(op @ ('#' | '%')) => self.trim(name, op, start, value, word_taint),
            // `${NAME:` then anything else, or nothing
            Some(other) => Err(self.unsupported(name, other)),
            None => Err(self.syntax("`${` without its closing `}`")),
        }
    }

    /// The variable's value (nothing if it has none), or its failure, in place of the word
    /// written from `start`.
    fn value_instead(&mut self, start: usize, value: Lookup<'_>) -> Result<Taint, Problem> {
        self.out.truncate(start);
        match value {
            Lookup::Unset => Ok(None),
            Lookup::Set(value) => {
                self.push_str(value)?;
                Ok(None)
            }
            Lookup::Failed(problem) => Ok(Some(problem.clone())),
        }
    }
}
