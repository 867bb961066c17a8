//! The shell patterns of `${VAR#p}`, `${VAR%p}` and `${VAR/p/r}`, matched as BuildKit matches
//! them (frontend/dockerfile/shell/lex.go: `convertShellPatternToRegex`, `reversePattern`,
//! `trimPrefix`, `trimSuffix`). BuildKit turns the pattern into a Go regular expression: `*`
//! becomes `.*` (or `.*?` for the shortest forms), `?` becomes `.`, everything else is literal;
//! a `\` keeps `*`, `?` or `\` literal, is dropped before `}` and `/`, and is refused before
//! anything else. Go runs it with leftmost-first semantics; a Pike VM over the tokens
//! reproduces them in time linear in the value for each thread, and every step is paid from
//! the caller's budget so no file can make matching slow.

/// One element of a compiled pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Char(char),
    /// `?`: one character (not a newline, as Go's `.`).
    Any,
    /// `*`: any run of characters (not newlines, as Go's `.*`).
    Star,
}

/// A compiled pattern.
#[derive(Debug)]
pub(super) struct Pattern {
    tokens: Vec<Token>,
    /// `*` prefers the longest run (`##`, `%%`, and every `/` form) or the shortest (`#`, `%`).
    greedy: bool,
    /// Matches only at the start (`#`, `%`); `/` searches.
    anchored: bool,
}

/// The budget of matching steps ran out.
#[derive(Debug)]
pub(super) struct Exhausted;

/// `pattern` compiled; `Err` says why BuildKit refuses it (a `\` before any character but `*`,
/// `?`, `\`, `}` or `/`, or at the end).
pub(super) fn compile(pattern: &str, greedy: bool, anchored: bool) -> Result<Pattern, String> {
    let mut tokens = Vec::with_capacity(pattern.len());
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        let token = match c {
            // `**` matches exactly what `*` matches, with the same preference; one token keeps
            // the closure below from recursing through a run of stars
            '*' if tokens.last() == Some(&Token::Star) => continue,
            '*' => Token::Star,
            '?' => Token::Any,
            '\\' => {
                if matches!(chars.peek(), Some('}' | '/')) {
                    continue;
                }
                match chars.next() {
                    Some(escaped @ ('*' | '?' | '\\')) => Token::Char(escaped),
                    Some(other) => {
                        return Err(format!(
                            "a `\\` in a pattern may only precede `*`, `?` or `\\`, not {other:?}"
                        ));
                    }
                    None => return Err("a pattern cannot end with `\\`".to_owned()),
                }
            }
            other => Token::Char(other),
        };
        tokens.push(token);
    }
    Ok(Pattern {
        tokens,
        greedy,
        anchored,
    })
}

/// The pattern written backwards, each `\x` pair kept in its order (BuildKit's
/// `reversePattern`, which `%` uses to search from the end).
pub(super) fn reverse(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = vec!['\0'; chars.len()];
    let last = chars.len().saturating_sub(1);
    let mut i = 0;
    while i < chars.len() {
        let at = last - i;
        if chars[i] == '\\' && i != last {
            // at >= 1: i < last
            out[at - 1] = '\\';
            out[at] = chars[i + 1];
            i += 2;
        } else {
            out[at] = chars[i];
            i += 1;
        }
    }
    out.into_iter().collect()
}

impl Pattern {
    /// The leftmost-first match in `text` starting at byte `from` or later (only at `from` when
    /// anchored), as byte offsets. Each thread step costs one from `remaining`.
    pub(super) fn find(
        &self,
        text: &str,
        from: usize,
        remaining: &mut usize,
    ) -> Result<Option<(usize, usize)>, Exhausted> {
        let end_pc = self.tokens.len();
        // the list a thread was last added to, per program counter: one thread per counter
        // and list, the first (highest-priority) one
        let mut seen = vec![usize::MAX; end_pc + 1];
        let mut current: Vec<(usize, usize)> = Vec::new();
        let mut next: Vec<(usize, usize)> = Vec::new();
        let mut matched = None;
        let mut pos = from;
        let mut generation = 0;
        loop {
            if matched.is_none() && (!self.anchored || pos == from) {
                // a new start, with the lowest priority
                self.add(&mut current, &mut seen, generation, 0, pos);
            }
            if current.is_empty() {
                break;
            }
            *remaining = remaining.checked_sub(current.len()).ok_or(Exhausted)?;
            let c = text.get(pos..).and_then(|rest| rest.chars().next());
            generation += 1;
            for &(pc, start) in &current {
                let Some(&token) = self.tokens.get(pc) else {
                    // a match: the threads after this one have lower priority
                    matched = Some((start, pos));
                    break;
                };
                let Some(c) = c else { continue };
                let (consumes, to) = match token {
                    Token::Char(t) => (t == c, pc + 1),
                    Token::Any => (c != '\n', pc + 1),
                    Token::Star => (c != '\n', pc),
                };
                if consumes {
                    self.add(&mut next, &mut seen, generation, to, start);
                }
            }
            let Some(c) = c else { break };
            pos += c.len_utf8();
            std::mem::swap(&mut current, &mut next);
            next.clear();
        }
        Ok(matched)
    }

    /// Adds the thread at `pc` and what it reaches without reading (a `*` may match nothing),
    /// in priority order. Stars are never adjacent, so this recurses at most twice.
    fn add(
        &self,
        list: &mut Vec<(usize, usize)>,
        seen: &mut [usize],
        generation: usize,
        pc: usize,
        start: usize,
    ) {
        if seen[pc] == generation {
            return;
        }
        seen[pc] = generation;
        if self.tokens.get(pc) == Some(&Token::Star) {
            if self.greedy {
                list.push((pc, start));
                self.add(list, seen, generation, pc + 1, start);
            } else {
                self.add(list, seen, generation, pc + 1, start);
                list.push((pc, start));
            }
        } else {
            list.push((pc, start));
        }
    }
}

/// `value` without the prefix `pattern` matches (BuildKit's `trimPrefix`: an anchored search).
pub(super) fn trim_prefix<'v>(
    pattern: &Pattern,
    value: &'v str,
    remaining: &mut usize,
) -> Result<&'v str, Exhausted> {
    Ok(match pattern.find(value, 0, remaining)? {
        Some((_, end)) => &value[end..],
        None => value,
    })
}

/// `value` without the suffix the (already reversed) `pattern` matches (BuildKit's
/// `trimSuffix`: the prefix search on the reversed value, reversed back).
pub(super) fn trim_suffix(
    reversed_pattern: &Pattern,
    value: &str,
    remaining: &mut usize,
) -> Result<String, Exhausted> {
    let reversed: String = value.chars().rev().collect();
    let kept = trim_prefix(reversed_pattern, &reversed, remaining)?;
    Ok(kept.chars().rev().collect())
}

/// A `${VAR//p/r}` replacement as Go's `Regexp.ReplaceAllString` writes it: `$0` (or `${0}`)
/// is the match, `$$` a `$`, any other `$name` a group the pattern does not have (nothing), and
/// a `$` before no name stays (regexp.go `expand`/`extract`).
pub(super) fn expand_template(template: &str, matched: &str, out: &mut dyn FnMut(&str)) {
    let mut rest = template;
    while let Some(dollar) = rest.find('$') {
        out(&rest[..dollar]);
        rest = &rest[dollar + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out("$");
            rest = after;
            continue;
        }
        match group(rest) {
            Some((is_match, after)) => {
                if is_match {
                    out(matched);
                }
                rest = after;
            }
            None => out("$"),
        }
    }
    out(rest);
}

/// The group named after a `$` of a template: whether it is the match itself (`0`; the
/// pattern has no other group, and `00` is no number), and what follows it. `None` when no name
/// follows (or `${` is not closed).
fn group(text: &str) -> Option<(bool, &str)> {
    let (braced, body) = match text.strip_prefix('{') {
        Some(body) => (true, body),
        None => (false, text),
    };
    let len: usize = body
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .map(char::len_utf8)
        .sum();
    if len == 0 {
        return None;
    }
    let name = &body[..len];
    let mut after = &body[len..];
    if braced {
        after = after.strip_prefix('}')?;
    }
    Some((name == "0", after))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(p: &str) -> Vec<Token> {
        compile(p, true, true).expect("valid").tokens
    }

    #[test]
    fn patterns_compile_as_buildkit_converts_them() {
        // BuildKit lex_test.go TestConvertShellPatternToRegex, as tokens
        use Token::*;
        assert_eq!(tokens("*"), [Star]);
        assert_eq!(tokens("?"), [Any]);
        assert_eq!(tokens("\\*"), [Char('*')]);
        assert_eq!(
            tokens("(()[]{\\}^$.\\*\\?|\\\\"),
            "(()[]{}^$.*?|\\".chars().map(Char).collect::<Vec<_>>()
        );
        for invalid in ["\\", "\\x", "\\\\\\"] {
            assert!(compile(invalid, true, true).is_err(), "{invalid:?}");
        }
        // a run of stars is one star
        assert_eq!(tokens("a**b"), [Char('a'), Star, Char('b')]);
    }

    #[test]
    fn patterns_reverse_with_their_escapes() {
        // BuildKit lex_test.go TestReversePattern
        for (pattern, reversed) in [
            ("a\\*c", "c\\*a"),
            ("\\\\\\ab", "b\\a\\\\"),
            ("ab\\", "\\ba"),
            ("👽\\🚀🖖", "🖖\\🚀👽"),
            ("\\\\b", "b\\\\"),
            ("", ""),
        ] {
            assert_eq!(reverse(pattern), reversed, "{pattern:?}");
        }
    }

    #[test]
    fn leftmost_first_as_go_regexp() {
        let mut budget = usize::MAX;
        let find = |p: &str, greedy: bool, anchored: bool, text: &str, budget: &mut usize| {
            compile(p, greedy, anchored)
                .expect("valid")
                .find(text, 0, budget)
                .expect("budget")
        };
        // anchored, shortest and longest `*`
        assert_eq!(find("*x", false, true, "axbx", &mut budget), Some((0, 2)));
        assert_eq!(find("*x", true, true, "axbx", &mut budget), Some((0, 4)));
        assert_eq!(find("x", true, true, "ax", &mut budget), None);
        assert_eq!(find("*", false, true, "abc", &mut budget), Some((0, 0)));
        assert_eq!(find("", false, true, "abc", &mut budget), Some((0, 0)));
        // searching: the leftmost start wins, then the longest `*`
        assert_eq!(find("b*c", true, false, "abcbc", &mut budget), Some((1, 5)));
        assert_eq!(find("?c", true, false, "aabc", &mut budget), Some((2, 4)));
        assert_eq!(find("z", true, false, "abc", &mut budget), None);
        // characters, not bytes
        assert_eq!(find("?", true, true, "한국", &mut budget), Some((0, 3)));
        // `.` does not match a newline in Go
        assert_eq!(find("a*", true, true, "ab\ncd", &mut budget), Some((0, 2)));
    }

    #[test]
    fn matching_is_paid_for() {
        let pattern = compile("*a*a*a*b", true, false).expect("valid");
        let text = "a".repeat(4096);
        let mut remaining = 10_000;
        assert!(pattern.find(&text, 0, &mut remaining).is_err());
        // a small search costs little
        let mut remaining = 1000;
        let found = compile("?b", true, false)
            .expect("valid")
            .find("aab", 0, &mut remaining)
            .expect("budget");
        assert_eq!(found, Some((1, 3)));
        assert!(remaining > 980, "{remaining}");
    }

    #[test]
    fn replacement_templates_as_go_expands_them() {
        let expand = |template: &str| {
            let mut out = String::new();
            expand_template(template, "MATCH", &mut |s| out.push_str(s));
            out
        };
        assert_eq!(expand("plain"), "plain");
        assert_eq!(expand("<$0>"), "<MATCH>");
        assert_eq!(expand("<${0}>"), "<MATCH>");
        assert_eq!(expand("$1$x${x}"), "");
        assert_eq!(expand("$$"), "$");
        assert_eq!(expand("$."), "$.");
        assert_eq!(expand("${0"), "${0");
        assert_eq!(expand("$00"), "");
        assert_eq!(expand("a$"), "a$");
    }
}
