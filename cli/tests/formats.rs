//! `mquery check --format github|sarif|junit|markdown`, `--color` and the progress line, read
//! back the way CI systems read them: the SARIF log validated against the official 2.1.0
//! schema, the JUnit file parsed by junitparser, the Markdown rendered by cmark-gfm (GitHub's
//! renderer), the workflow commands parsed by the runner's rules
//! (tests/python/formats.py; docs/cli.md, "Output formats"). Every image is on the real
//! registry; the file also holds hostile values (a reference with markup and a forged
//! command after a line feed) that must stay text in every format.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use mquery_tests::distribution::Distribution;
use mquery_tests::fixtures::{Format, Pusher, platform, push_db_and_cache};
use serde_json::Value;

/// The registry: `acme/db:16` on linux/amd64 and linux/arm64, `acme/cache:7` on linux/amd64
/// only, and `acme/many:t0`..`t9` on both.
async fn registry() -> Distribution {
    let registry = Distribution::start_open();
    let pusher = Pusher::open(&registry);
    push_db_and_cache(&pusher).await;
    let both = || {
        vec![
            platform("linux", "amd64", None),
            platform("linux", "arm64", Some("v8")),
        ]
    };
    for i in 0..10 {
        pusher
            .index_of("acme/many", Some(&format!("t{i}")), Format::Oci, both())
            .await;
    }
    registry
}

/// A Compose file with one row of each kind. Lines: db 3, cache 5, gone 7, markup 9,
/// forged 11, app (built locally: the service's line) 12.
fn compose(host: &str) -> String {
    format!(
        "services:\n  db:\n    image: {host}/acme/db:16\n  cache:\n    image: {host}/acme/cache:7\n  \
         gone:\n    image: {host}/acme/gone:1\n  markup:\n    image: \"x|y @team <b>bold</b> `t`\"\n  \
         forged:\n    image: \"a\\n::error::forged\"\n  app:\n    build: .\n"
    )
}

/// `mquery ARGS` in `dir`, its environment cleared of what could change the output.
fn mquery(registry: &Distribution, dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mquery"))
        .current_dir(dir)
        .args(args)
        .env("MQUERY_INSECURE_REGISTRIES", registry.host())
        .env_remove("MQUERY_ENDPOINT")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .output()
        .expect("runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What tests/python/formats.py saw in `text`, read as `kind`.
fn read_back(kind: &str, text: &str) -> Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("out");
    std::fs::write(&path, text).expect("write");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = root.join(".cache/venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/test.sh",
        python.display()
    );
    let out = Command::new(python)
        .arg(root.join("tests/python/formats.py"))
        .arg(kind)
        .arg(&path)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "formats.py {kind}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("formats.py prints JSON")
}

/// A check of the Compose file in a new directory: the directory and the output.
async fn check(format: &str) -> (Distribution, tempfile::TempDir, Output) {
    let registry = registry().await;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("compose.yaml"), compose(&registry.host())).expect("write");
    let out = mquery(
        &registry,
        dir.path(),
        &[
            "check",
            "--platform",
            "linux/arm64",
            "--format",
            format,
            "compose.yaml",
        ],
    );
    // a lookup failed and two places name no valid reference: exit 1
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (registry, dir, out)
}

/// A workflow command as the runner reads it (actions/runner ActionCommand.cs): the command,
/// its properties split on `,` then the first `=`, each value and the message unescaped.
fn workflow_command(line: &str) -> (String, Vec<(String, String)>, String) {
    let unescape = |s: &str| {
        s.replace("%3A", ":")
            .replace("%2C", ",")
            .replace("%0D", "\r")
            .replace("%0A", "\n")
            .replace("%25", "%")
    };
    let rest = line.strip_prefix("::").expect("a command");
    let (head, message) = rest.split_once("::").expect("::MESSAGE");
    let (command, properties) = head.split_once(' ').unwrap_or((head, ""));
    let properties = properties
        .split(',')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').expect("KEY=VALUE");
            (k.to_owned(), unescape(v))
        })
        .collect();
    (
        command.to_owned(),
        properties,
        message
            .replace("%0D", "\r")
            .replace("%0A", "\n")
            .replace("%25", "%"),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn github_marks_each_problem_on_its_line() {
    let (registry, _dir, out) = check("github").await;
    let text = stdout(&out);
    let commands: Vec<_> = text
        .lines()
        .filter(|l| l.starts_with("::"))
        .map(workflow_command)
        .collect();
    let host = registry.host();
    let get = |props: &[(String, String)], key: &str| {
        props.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    };
    type Mark = (String, Option<String>, Option<String>, Option<String>);
    let marks: Vec<Mark> = commands
        .iter()
        .map(|(c, p, _)| (c.clone(), get(p, "file"), get(p, "line"), get(p, "title")))
        .collect();
    let mark = |line: &str, title: &str| {
        (
            "error".to_owned(),
            Some("compose.yaml".to_owned()),
            Some(line.to_owned()),
            Some(format!("mquery: {title}")),
        )
    };
    assert_eq!(
        marks,
        vec![
            mark(
                "5",
                &format!("{host}/acme/cache:7 does not support linux/arm64")
            ),
            mark("7", &format!("{host}/acme/gone:1 could not be looked up")),
            mark("9", "No image to check"),
            mark("11", "No image to check"),
        ],
        "{text}"
    );
    assert_eq!(
        commands[0].2,
        format!("{host}/acme/cache:7 does not run on linux/arm64: its platforms are linux/amd64.")
    );
    assert!(
        commands[1].2.contains("NOT_FOUND") || commands[1].2.contains("not found"),
        "{}",
        commands[1].2
    );
    // the line feed of the forged reference is shown escaped: no line of its own, no command
    assert!(
        commands[3].2.contains("\\x0a::error::forged"),
        "{}",
        commands[3].2
    );
    assert!(
        !text.lines().any(|l| l.starts_with("::error::forged")),
        "{text}"
    );
    // the table follows for the log
    assert!(text.contains("IMAGE  "), "{text}");
    assert!(text.trim_end().ends_with("1 built locally"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sarif_is_valid_against_the_official_schema() {
    let (registry, _dir, out) = check("sarif").await;
    let seen = read_back("sarif", &stdout(&out));
    assert_eq!(seen["errors"], Value::Array(vec![]), "{seen}");
    assert!(
        seen["schema"]
            .as_str()
            .is_some_and(|id| id.contains("sarif-schema-2.1.0")),
        "{seen}"
    );
    let results = seen["results"].as_array().expect("results");
    let summary: Vec<(String, String, u64)> = results
        .iter()
        .map(|r| {
            let location = &r["locations"][0]["physicalLocation"];
            (
                r["ruleId"].as_str().expect("ruleId").to_owned(),
                location["artifactLocation"]["uri"]
                    .as_str()
                    .expect("uri")
                    .to_owned(),
                location["region"]["startLine"].as_u64().expect("startLine"),
            )
        })
        .collect();
    let at = |rule: &str, line| (rule.to_owned(), "compose.yaml".to_owned(), line);
    assert_eq!(
        summary,
        vec![
            at("platform-missing", 5),
            at("lookup-failed", 7),
            at("not-checked", 9),
            at("not-checked", 11),
        ]
    );
    let host = registry.host();
    assert_eq!(
        results[0]["message"]["text"],
        format!("{host}/acme/cache:7 does not run on linux/arm64: its platforms are linux/amd64.")
    );
    // a log that breaks the schema is caught: the validation can fail
    let broken = stdout(&out).replace("\"startLine\": 5", "\"startLine\": 0");
    let seen = read_back("sarif", &broken);
    assert_eq!(seen["errors"].as_array().map(Vec::len), Some(1), "{seen}");
}

#[tokio::test(flavor = "multi_thread")]
async fn junit_is_read_by_junitparser() {
    let (registry, _dir, out) = check("junit").await;
    let seen = read_back("junit", &stdout(&out));
    let suite = &seen["suites"][0];
    assert_eq!(suite["name"], "mquery check: linux/arm64");
    // six test cases: one supported, one failure, three errors, one skipped; the counts as
    // written are the counts junitparser finds
    assert_eq!(suite["written"], serde_json::json!([6, 1, 3, 1]), "{seen}");
    assert_eq!(suite["recounted"], suite["written"]);
    let host = registry.host();
    let cases: Vec<(String, Option<u64>, String)> = suite["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().expect("name").to_owned(),
                c["line"].as_u64(),
                c["results"][0]["kind"]
                    .as_str()
                    .unwrap_or("passed")
                    .to_owned(),
            )
        })
        .collect();
    assert_eq!(
        cases,
        vec![
            (format!("{host}/acme/db:16"), Some(3), "passed".to_owned()),
            (
                format!("{host}/acme/cache:7"),
                Some(5),
                "failure".to_owned()
            ),
            (format!("{host}/acme/gone:1"), Some(7), "error".to_owned()),
            (
                "(no image) compose.yaml:9".to_owned(),
                Some(9),
                "error".to_owned()
            ),
            (
                "(no image) compose.yaml:11".to_owned(),
                Some(11),
                "error".to_owned()
            ),
            (
                "(no image) compose.yaml:12".to_owned(),
                Some(12),
                "skipped".to_owned()
            ),
        ]
    );
    let markup = &suite["cases"][3]["results"][0];
    assert!(
        markup["text"]
            .as_str()
            .is_some_and(|t| t.contains("<b>bold</b>")),
        "the markup is text, read back as written: {markup}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn markdown_renders_one_row_per_image_and_no_markup() {
    let (registry, _dir, out) = check("markdown").await;
    let seen = read_back("markdown", &stdout(&out));
    let rows = seen["rows"].as_array().expect("rows");
    // the header and six rows, each of five cells: no cell ended early at a `|`
    assert_eq!(rows.len(), 7, "{seen}");
    assert!(
        rows.iter().all(|r| r.as_array().map(Vec::len) == Some(5)),
        "{seen}"
    );
    let tags: Vec<&str> = seen["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        tags,
        [
            "code", "h3", "p", "table", "tbody", "td", "th", "thead", "tr"
        ],
        "no tag of the file's: {seen}"
    );
    let markup = rows[4][4].as_str().expect("a cell");
    assert!(markup.contains("x|y @team <b>bold</b> `t`"), "{markup}");
    assert_eq!(rows[2][1], format!("{}/acme/cache:7", registry.host()));
    assert!(
        rows[2][4]
            .as_str()
            .is_some_and(|v| v.ends_with("linux/arm64: no")),
        "{seen}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn images_on_the_command_line_in_a_ci_format() {
    let registry = registry().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (db, cache) = (registry.image("acme/db:16"), registry.image("acme/cache:7"));
    let out = mquery(
        &registry,
        dir.path(),
        &[
            "--format",
            "junit",
            "--platform",
            "linux/arm64",
            &db,
            &cache,
            "Bad Ref",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let seen = read_back("junit", &stdout(&out));
    let suite = &seen["suites"][0];
    assert_eq!(suite["written"], serde_json::json!([3, 1, 1, 0]), "{seen}");
    assert_eq!(suite["cases"][0]["name"], db);
    assert_eq!(
        suite["cases"][0]["file"],
        Value::Null,
        "named on the command line, in no file"
    );
    // without the unreadable reference: the exit status is the platform's (3)
    let out = mquery(
        &registry,
        dir.path(),
        &[
            "--format",
            "github",
            "--platform",
            "linux/arm64",
            &db,
            &cache,
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    let text = stdout(&out);
    let commands: Vec<&str> = text.lines().filter(|l| l.starts_with("::")).collect();
    assert_eq!(commands.len(), 1, "{text}");
    assert!(
        commands[0].starts_with("::error title=mquery%3A "),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn format_errors_are_clear() {
    let registry = registry().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let image = registry.image("acme/db:16");
    for (args, said) in [
        (
            vec!["--format", "yaml", image.as_str()],
            "invalid value 'yaml' for '--format <FORMAT>'",
        ),
        (
            vec!["--json", "--format", "sarif", image.as_str()],
            "cannot be used with",
        ),
        (
            vec!["--format", "sarif", "diff", image.as_str(), image.as_str()],
            "mquery diff prints text or json",
        ),
        (
            vec!["--format", "junit", "--verify", image.as_str()],
            "--verify prints text or json",
        ),
        (vec!["--color", "sometimes", image.as_str()], "sometimes"),
    ] {
        let out = mquery(&registry, dir.path(), &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(said), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn colour_on_a_terminal_never_in_a_pipe_and_not_with_no_color() {
    let registry = registry().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut text = String::from("services:\n");
    for i in 0..10 {
        text.push_str(&format!(
            "  s{i}:\n    image: {}\n",
            registry.image(&format!("acme/many:t{i}"))
        ));
    }
    text.push_str(&format!(
        "  c:\n    image: {}\n",
        registry.image("acme/cache:7")
    ));
    std::fs::write(dir.path().join("compose.yaml"), text).expect("write");
    let red = "\x1b[31m";
    let check = ["check", "--platform", "linux/arm64", "compose.yaml"];
    // a pipe: plain, unless --color always
    let out = mquery(&registry, dir.path(), &check);
    assert_eq!(out.status.code(), Some(3));
    assert!(!stdout(&out).contains('\x1b'), "{}", stdout(&out));
    assert!(out.stderr.is_empty() || !String::from_utf8_lossy(&out.stderr).contains("looked up"));
    let mut always = check.to_vec();
    always.insert(1, "--color=always");
    let coloured = stdout(&mquery(&registry, dir.path(), &always));
    assert!(
        coloured.contains(&format!("{red}linux/arm64: no\x1b[0m")),
        "{coloured:?}"
    );
    assert!(
        coloured.contains("\x1b[32mlinux/arm64: yes"),
        "{coloured:?}"
    );
    // the colours change no column: without the escapes it is the plain table
    assert_eq!(
        coloured
            .replace(red, "")
            .replace("\x1b[32m", "")
            .replace("\x1b[0m", ""),
        stdout(&out)
    );

    // a terminal (util-linux script gives the command a pseudo-terminal): colours, and the
    // progress line on stderr; NO_COLOR takes the colours away, not the progress
    let on_terminal = |no_color: Option<&str>| -> String {
        let mut command = Command::new("script");
        command
            .current_dir(dir.path())
            .args(["-qec"])
            .arg(format!(
                "{} check --platform linux/arm64 compose.yaml",
                env!("CARGO_BIN_EXE_mquery")
            ))
            .arg("/dev/null")
            .env("MQUERY_INSECURE_REGISTRIES", registry.host())
            .env_remove("MQUERY_ENDPOINT")
            .env_remove("NO_COLOR")
            .stdin(Stdio::null());
        if let Some(value) = no_color {
            command.env("NO_COLOR", value);
        }
        let out = command.output().expect("script runs");
        assert_eq!(
            out.status.code(),
            Some(3),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let seen = on_terminal(None);
    assert!(seen.contains(red), "{seen:?}");
    assert!(
        seen.contains("\r\x1b[2Kmquery: looked up 11 of 11 images"),
        "{seen:?}"
    );
    // an empty NO_COLOR is not set (no-color.org)
    assert!(on_terminal(Some("")).contains(red));
    let seen = on_terminal(Some("1"));
    assert!(!seen.contains(red), "{seen:?}");
    assert!(
        seen.contains("mquery: looked up 11 of 11 images"),
        "{seen:?}"
    );
}

/// A registry's platform strings cannot forge a workflow command or drive a terminal in any
/// format: the table's platform cells are printable text (found by a review: they were not).
#[tokio::test(flavor = "multi_thread")]
async fn registry_strings_cannot_forge_a_command() {
    let registry = Distribution::start_open();
    let pusher = Pusher::open(&registry);
    let hostile = vec![
        platform("linux", "amd64", Some("v2\n::stop-commands::pwned")),
        platform("linux", "arm64", Some("v8\u{1b}[31m")),
    ];
    pusher
        .index_of("acme/evil", Some("1"), Format::Oci, hostile)
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let image = registry.image("acme/evil:1");
    std::fs::write(dir.path().join("list.txt"), format!("{image}\n")).expect("write");
    for format in ["github", "text", "markdown"] {
        let out = mquery(
            &registry,
            dir.path(),
            &[
                "check",
                "--platform",
                "linux/riscv64",
                "--format",
                format,
                "list.txt",
            ],
        );
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(3), "{format}: {text}");
        assert!(
            text.lines()
                .all(|l| !l.starts_with("::") || l.starts_with("::error ")),
            "{format}: {text}"
        );
        assert!(!text.contains('\u{1b}'), "{format}: {text:?}");
        assert!(text.contains("\\x0a::stop-commands"), "{format}: {text}");
    }
}
