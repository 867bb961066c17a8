//! The modifiers that match a pattern in a value (lex.go `processDollar`, `trimPrefix`,
//! `trimSuffix`): `${NAME#word}` and `##` trim the shortest and the longest match from the
//! start, `%` and `%%` from the end, `${NAME/pattern/replacement}` replaces the first match and
//! `//` every one. The patterns themselves are [`crate::dockerfile::pattern`]'s.

use super::parameters::{Lookup, lookup};
use super::{Lexer, Taint, taint};
use crate::Problem;
use crate::dockerfile::pattern::{self, Pattern};

impl Lexer<'_> {
    /// `${NAME#word}`, `${NAME##word}`, `${NAME%word}` and `${NAME%%word}`, once the word is
    /// written from `start`: it is the pattern, and the value trimmed of its match replaces it.
    pub(super) fn trim(
        &mut self,
        name: &str,
        op: char,
        start: usize,
        value: Lookup<'_>,
        word_taint: Taint,
    ) -> Result<Taint, Problem> {
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
                self.trim_value(value, &pattern, op == '%')?;
                Ok(word_taint)
            }
        }
    }

    fn trim_value(&mut self, value: &str, pattern: &Pattern, suffix: bool) -> Result<(), Problem> {
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
    pub(super) fn replace(&mut self, name: &str) -> Result<Taint, Problem> {
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
            self.find(&pattern, value, 0, &mut steps)
                .and_then(|first| self.replace_first(value, first, &replacement))
        };
        self.budget.steps = steps;
        if replaced? {
            taint(&mut found, replacement_taint);
        }
        Ok(found)
    }

    /// The first match of `pattern` in `value` from `from`, paid from `steps`.
    fn find(
        &self,
        pattern: &Pattern,
        value: &str,
        from: usize,
        steps: &mut usize,
    ) -> Result<Option<(usize, usize)>, Problem> {
        pattern
            .find(value, from, steps)
            .map_err(|e| self.exhausted(e))
    }

    /// The first match (`first`) replaced by the replacement as written; whether there was one.
    fn replace_first(
        &mut self,
        value: &str,
        first: Option<(usize, usize)>,
        replacement: &str,
    ) -> Result<bool, Problem> {
        match first {
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
            let Some((start, end)) = self.find(pattern, value, search, steps)? else {
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
