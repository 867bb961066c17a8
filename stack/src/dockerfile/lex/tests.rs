use super::*;
use crate::limits::{MAX_DEPTH, MAX_QUOTED};

/// Variables as a test table writes them.
type Env<'a> = &'a [(&'a str, &'a str)];

/// A variable as a table file writes it: its name and value.
type Pair = (String, String);

fn vars<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> Vars {
    pairs
        .iter()
        .map(|(k, v)| (k.as_ref().to_owned(), Value::Set(v.as_ref().to_owned())))
        .collect()
}

/// BuildKit's settings for `ProcessWordWithMatches` (`words`: `ProcessWords`).
fn buildkit_options(words: bool) -> Options {
    Options {
        escape: '\\',
        raw_quotes: false,
        raw_escapes: false,
        skip_unset: false,
        holes: false,
        words,
        cap: MAX_EXPANSION,
    }
}

/// BuildKit's own reading: unset variables are empty.
fn buildkit(text: &str, vars: &Vars) -> Result<String, Problem> {
    process(text, vars, buildkit_options(false), &mut Budget::file()).map(|o| o.result)
}

/// The rows of a table file: one JSON array a line, blank lines and `#` comments skipped.
fn table<T: serde::de::DeserializeOwned>(text: &str) -> Vec<T> {
    text.lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}")))
        .collect()
}

/// `source` read by BuildKit gives `expected`, or an error where `expected` is `None`.
fn assert_expands(source: &str, got: Result<String, Problem>, expected: Option<&str>) {
    match expected {
        Some(expected) => assert_eq!(got.as_deref(), Ok(expected), "{source}"),
        None => assert!(got.is_err(), "{source}: {got:?}"),
    }
}

#[test]
fn buildkit_env_var_cases() {
    // BuildKit frontend/dockerfile/shell/envVarTest (the rows for every platform and for
    // Unix, in buildkit_env_var_cases.jsonl), with PWD=/home, SHELL=bash, KOREAN=한국어 and
    // NULL set but empty; `None`: an error
    let env = vars(&[
        ("PWD", "/home"),
        ("SHELL", "bash"),
        ("KOREAN", "한국어"),
        ("NULL", ""),
    ]);
    let rows: Vec<(String, Option<String>)> = table(include_str!("buildkit_env_var_cases.jsonl"));
    assert_eq!(rows.len(), 127, "every row of the file is read");
    for (source, expected) in &rows {
        assert_expands(source, buildkit(source, &env), expected.as_deref());
    }
}

#[test]
fn buildkit_modifier_cases() {
    // BuildKit lex_test.go TestProcessWithMatches and TestShellParserMandatoryEnvVars, in
    // buildkit_modifier_cases.jsonl
    let rows: Vec<(String, Vec<Pair>, Option<String>)> =
        table(include_str!("buildkit_modifier_cases.jsonl"));
    assert_eq!(rows.len(), 49, "every row of the file is read");
    for (source, env, expected) in &rows {
        assert_expands(source, buildkit(source, &vars(env)), expected.as_deref());
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
        process(
            text,
            &vars(env),
            buildkit_options(true),
            &mut Budget::file(),
        )
        .map(|o| o.words)
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
    assert!(sentence.len() < MAX_QUOTED + 120, "{sentence}");
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
