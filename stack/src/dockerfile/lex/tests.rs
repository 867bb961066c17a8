use super::*;
use crate::limits::MAX_DEPTH;

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
