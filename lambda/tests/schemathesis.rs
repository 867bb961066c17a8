//! Schemathesis (PyPI, pinned in scripts/requirements-ci.txt, in `.cache/venv`) fuzzes the real
//! `mquery-lambda` binary from its own OpenAPI document (`GET /openapi.json`): every check,
//! bounded (50 cases per operation, one worker, 5 s per request) and deterministic
//! (`--generation-deterministic`, no example database: tests/python/schemathesis.toml).
//!
//! Generated references (`a`, `x.y/z`) would make the service ask docker.io or any host, so the
//! server and schemathesis both run inside an empty network namespace (`unshare -n`, as root),
//! where only loopback is up (tests/python/run_in_netns.py): every registry lookup fails at
//! once, the documented `502 UPSTREAM_ERROR`, and nothing leaves the machine.
//!
//! The built-in `not_a_server_error` fails on every 5xx, so it is replaced by
//! tests/python/schemathesis_hooks.py's check: no 500 at all, and no 5xx the operation does
//! not document.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The whole run's bound: it takes about 10 s.
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// Runs `command` in a process group of its own, killed whole past [`RUN_LIMIT`]; its exit
/// status and output.
fn run_bounded(mut command: Command, log: &Path) -> (Option<i32>, String) {
    let file = std::fs::File::create(log).expect("a log file");
    let mut child = command
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("the log file"))
        .stderr(file)
        .spawn()
        .expect("run unshare (the test command runs as root)");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for schemathesis") {
            break status.code();
        }
        if started.elapsed() > RUN_LIMIT {
            let group = format!("-{}", child.id());
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let output = std::fs::read_to_string(log).unwrap_or_default();
    (status, output)
}

/// The operations of docs/openapi.json, as schemathesis labels them (`GET /v1/inspect`).
fn operations() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("docs/openapi.json")).expect("the document");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let mut labels = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            labels.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    labels
}

/// Test cases per operation, and the checks run on them, from schemathesis's NDJSON events.
fn cases(report_dir: &Path) -> (BTreeMap<String, usize>, BTreeMap<String, usize>) {
    let ndjson = std::fs::read_dir(report_dir)
        .expect("the report directory")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|e| e == "ndjson"))
        .expect("an NDJSON report");
    let (mut cases, mut checks) = (BTreeMap::new(), BTreeMap::new());
    let text = std::fs::read_to_string(ndjson).expect("the NDJSON report");
    for line in text.lines() {
        let event: serde_json::Value = serde_json::from_str(line).expect("an event");
        let recorder = &event["ScenarioFinished"]["recorder"];
        let Some(label) = recorder["label"].as_str() else {
            continue;
        };
        let count = recorder["cases"].as_object().map_or(0, |c| c.len());
        *cases.entry(label.to_owned()).or_default() += count;
        let ran = recorder["checks"].as_object().into_iter().flatten();
        for check in ran.flat_map(|(_, list)| list.as_array().into_iter().flatten()) {
            if let Some(name) = check["name"].as_str() {
                *checks.entry(name.to_owned()).or_default() += 1;
            }
        }
    }
    (cases, checks)
}

#[test]
fn schemathesis_finds_nothing_in_an_empty_network_namespace() {
    let root = root();
    let venv = root.join(".cache/venv/bin");
    assert!(
        venv.join("st").exists(),
        "{} is missing: run scripts/test.sh, which installs schemathesis",
        venv.join("st").display()
    );
    let work = tempfile::tempdir().expect("a working directory");
    // schemathesis reads schemathesis.toml from, and writes .hypothesis/ into, its working
    // directory
    std::fs::copy(
        root.join("tests/python/schemathesis.toml"),
        work.path().join("schemathesis.toml"),
    )
    .expect("copy schemathesis.toml");
    let reports = work.path().join("report");
    // a fresh namespace has every port free
    let port = "8080";
    let mut command = Command::new("unshare");
    command
        .current_dir(work.path())
        .args(["-n", "--"])
        .arg(venv.join("python"))
        .arg(root.join("tests/python/run_in_netns.py"))
        .arg(env!("CARGO_BIN_EXE_mquery-lambda"))
        .args([port, "--"])
        .arg(venv.join("st"))
        .arg("run")
        .arg(format!("http://127.0.0.1:{port}/openapi.json"))
        .args(["--checks", "all", "--exclude-checks", "not_a_server_error"])
        // without a filter, schemathesis leaves out the operation it loaded the schema from
        .args(["--include-path-regex", "^/"])
        .args(["-n", "50", "--generation-deterministic", "--workers", "1"])
        .args(["--request-timeout", "5", "--report", "junit,ndjson"])
        .arg("--report-dir")
        .arg(&reports)
        .env("PYTHONPATH", root.join("tests/python"))
        .env("SCHEMATHESIS_HOOKS", "schemathesis_hooks");
    let (status, output) = run_bounded(command, &work.path().join("st.log"));
    let summary: Vec<&str> = output
        .lines()
        .filter(|line| !line.contains(" WARN ") && !line.contains(" ERROR "))
        .collect();
    let summary = summary.join("\n");
    assert_eq!(status, Some(0), "schemathesis failed:\n{summary}");
    assert!(summary.contains("No issues found"), "{summary}");

    let (cases, checks) = cases(&reports);
    for operation in operations() {
        let count = cases.get(&operation).copied().unwrap_or(0);
        assert!(count > 0, "no test cases for {operation}: {cases:?}");
    }
    // the replacement of not_a_server_error ran on every case, and the built-in did not
    let all: usize = cases.values().sum();
    assert_eq!(
        checks.get("no_undocumented_server_error"),
        Some(&all),
        "{checks:?}"
    );
    assert_eq!(checks.get("not_a_server_error"), None, "{checks:?}");
    let junit = std::fs::read_dir(&reports)
        .expect("the report directory")
        .filter_map(Result::ok)
        .any(|entry| entry.path().extension().is_some_and(|e| e == "xml"));
    assert!(junit, "no JUnit report in {}", reports.display());
}
