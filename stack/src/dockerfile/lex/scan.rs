//! lex.go `processStopOn`: the text up to a stop character (or its end), character by
//! character: escapes, `<<` heredoc markers, quotes and `$` handed on, and the words the
//! result splits into when they are asked for.

use super::{Lexer, Taint, taint};
use crate::Problem;

/// The result split into words, as lex.go's `wordsStruct`.
#[derive(Debug, Default)]
pub(super) struct Words {
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

    pub(super) fn finish(mut self, buffer: &mut String) -> Vec<String> {
        if !buffer.is_empty() {
            self.list.push(std::mem::take(buffer));
        }
        self.list
    }
}

impl Lexer<'_> {
    /// lex.go `processStopOn`: reads up to `stop` (consumed) or the end (`stop` `None`).
    pub(super) fn stop_on(
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
            // what the piece reported, and whether its blanks split words (an expansion's do,
            // a quoted piece's or a heredoc marker's do not)
            let (t, splits) = match c {
                '$' => (self.dollar()?, true),
                '<' => {
                    self.heredoc_marker()?;
                    (None, false)
                }
                '\'' => {
                    self.single_quote()?;
                    (None, false)
                }
                '"' => (self.double_quote()?, false),
                _ => {
                    if self.character(c, words)? {
                        continue;
                    }
                    // an escape at the very end is dropped
                    break;
                }
            };
            taint(&mut found, t);
            if words {
                let piece = &self.out[start..];
                if splits {
                    self.words.add_str(&mut self.word_buffer, piece);
                } else {
                    self.words.add_raw_str(&mut self.word_buffer, piece);
                }
            }
        }
        match stop {
            Some(stop) => Err(self.syntax(&format!("the text ends before the closing `{stop}`"))),
            None => Ok(found),
        }
    }

    /// A character outside quotes and expansions, `c` (peeked), or the escape character and
    /// the one it escapes. `false`: an escape character ends the text.
    fn character(&mut self, c: char, words: bool) -> Result<bool, Problem> {
        self.next();
        if c != self.options.escape {
            if words {
                self.words.add_char(&mut self.word_buffer, c);
            }
            self.push(c)?;
            return Ok(true);
        }
        if self.raw_escapes {
            if words {
                self.words.add_raw_char(&mut self.word_buffer, c);
            }
            self.push(c)?;
        }
        let Some(escaped) = self.next() else {
            return Ok(false);
        };
        if words {
            self.words.add_raw_char(&mut self.word_buffer, escaped);
        }
        self.push(escaped)?;
        Ok(true)
    }

    /// A nested word of a `${...}` (a default, a message, a pattern, a replacement), written in
    /// place after the output so far.
    pub(super) fn nested_word(&mut self, stop: char, raw_escapes: bool) -> Result<Taint, Problem> {
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
}
