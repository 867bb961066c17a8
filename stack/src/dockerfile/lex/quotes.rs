//! Quotes: everything up to the next `'` is literal; inside `"`, `$` expands and the escape
//! character escapes `"`, `$` and itself (lex.go `processSingleQuote`, `processDoubleQuote`).

use super::{Lexer, Taint, taint};
use crate::Problem;

impl Lexer<'_> {
    /// Everything up to the next `'` is literal.
    pub(super) fn single_quote(&mut self) -> Result<(), Problem> {
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
    pub(super) fn double_quote(&mut self) -> Result<Taint, Problem> {
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
}
