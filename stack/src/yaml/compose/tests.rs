//! `extends` and `include`, with files in memory (the command line reads them from disk:
//! cli/tests/check.rs), and compose-go's own test files (loader/testdata).

use std::collections::HashMap;
use std::sync::Arc;

use crate::files::Files;
use crate::{Context, Kind, Problem, ScanRow, image_at, rows, scan};

#[derive(Debug)]
struct Memory(HashMap<String, String>);

impl Files for Memory {
    fn read(&self, path: &str) -> Result<String, String> {
        self.0
            .get(path)
            .cloned()
            .ok_or_else(|| "No such file or directory (os error 2)".to_owned())
    }
}

fn with_files(files: &[(&str, &str)]) -> Context {
    let files = files.iter().map(|(k, v)| (k.to_string(), v.to_string()));
    Context {
        files: Some(Arc::new(Memory(files.collect()))),
        vars: Some(HashMap::from([("TAG".to_owned(), "1.27".to_owned())])),
        ..Context::default()
    }
}

fn compose_rows(name: &str, text: &str, context: &Context) -> Vec<ScanRow> {
    let scan = scan(name, text, context);
    assert_eq!(scan.kind, Kind::Compose);
    rows(&scan)
}

fn problem(location: &str, problem: Problem) -> ScanRow {
    (location.to_owned(), Err(problem), None)
}

#[test]
fn extends_in_the_same_file_and_another() {
    // compose-go loader/testdata/extends/base.yaml and sibling.yaml, and withdir/
    let base = "services:\n  base:\n    image: base\n\n  another:\n    extends: base\n\n  with-port:\n    ports:\n      - 8000:8000\n\n  with-build:\n    extends:\n      file: sibling.yaml\n      service: test\n\n  nil: #left intentionally empty\n";
    let context = with_files(&[
        ("extends/sibling.yaml", "services:\n  test:\n    build: .\n"),
        (
            "withdir/dir/compose.yaml",
            "services:\n  test:\n    extends:\n      file: base.yaml\n      service: test\n",
        ),
        (
            "withdir/dir/base.yaml",
            "services:\n  test:\n    image: hello-world\n",
        ),
    ]);
    assert_eq!(
        compose_rows("extends/base.yaml", base, &context),
        [
            image_at("extends/base.yaml:3", "base", None),
            image_at("extends/base.yaml:3", "base", None),
            problem("extends/base.yaml:12", Problem::BuiltLocally),
        ]
    );
    // a relative file inside an extended file is relative to that file
    let withdir =
        "services:\n  test:\n    extends:\n      file: dir/compose.yaml\n      service: test\n";
    assert_eq!(
        compose_rows("withdir/compose.yaml", withdir, &context),
        [image_at("withdir/dir/base.yaml:3", "hello-world", None)]
    );
}

#[test]
fn extends_that_cannot_be_resolved() {
    let context = with_files(&[("other.yaml", "services:\n  x:\n    image: x\n")]);
    let text = "services:\n  loop1:\n    extends: loop2\n  loop2:\n    extends: loop1\n  missing:\n    extends:\n      file: other.yaml\n      service: y\n  nofile:\n    extends:\n      file: nope.yaml\n      service: x\n  noname:\n    extends: {file: other.yaml}\n  own:\n    image: nginx:${TAG}\n    extends: loop1\n";
    assert_eq!(
        compose_rows("compose.yaml", text, &context),
        [
            // each at the extends that closes the cycle
            problem(
                "compose.yaml:5",
                Problem::Unparsable(
                    "Circular reference: loop1 in compose.yaml extends loop2 in compose.yaml extends loop1 in compose.yaml".into()
                )
            ),
            problem(
                "compose.yaml:3",
                Problem::Unparsable(
                    "Circular reference: loop2 in compose.yaml extends loop1 in compose.yaml extends loop2 in compose.yaml".into()
                )
            ),
            problem(
                "compose.yaml:8",
                Problem::Unparsable(
                    "cannot extend service \"missing\" in compose.yaml: service \"y\" not found in other.yaml".into()
                )
            ),
            problem(
                "compose.yaml:12",
                Problem::Unread("nope.yaml: No such file or directory (os error 2)".into())
            ),
            problem(
                "compose.yaml:15",
                Problem::Unparsable("extends.noname.service is required".into())
            ),
            // its own image wins over what it extends
            image_at("compose.yaml:17", "nginx:1.27", None),
        ]
    );
}

#[test]
fn include_with_env_files_and_cycles() {
    // compose-go loader/testdata/compose-include.yaml and compose-include-cycle.yaml
    let include = "include:\n    - path: ./subdir/compose-test-extends-imported.yaml\n\nservices:\n  bar:\n    image: bar\n";
    let context = with_files(&[
        (
            "subdir/compose-test-extends-imported.yaml",
            "services:\n  imported:\n    image: nginx:${TAG}\n    container_name: ${SOURCE:-imported}\n",
        ),
        (
            "cycle.yaml",
            "include:\n  - cycle.yaml\n\nname: project\nservices:\n  foo:\n    image: foo\n",
        ),
        (
            "app/compose.yaml",
            "services:\n  app:\n    image: ${REGISTRY}/app:${TAG}\n",
        ),
        ("app/app.env", "REGISTRY=ghcr.io/org\nTAG=ignored\n"),
    ]);
    assert_eq!(
        compose_rows("compose-include.yaml", include, &context),
        [
            image_at(
                "subdir/compose-test-extends-imported.yaml:3",
                "nginx:1.27",
                None
            ),
            image_at("compose-include.yaml:6", "bar", None),
        ]
    );
    let cycle = "include:\n  - cycle.yaml\n\nname: project\nservices:\n  foo:\n    image: foo\n";
    assert_eq!(
        compose_rows("cycle.yaml", cycle, &context),
        [
            problem(
                "cycle.yaml:2",
                Problem::Unparsable("include cycle detected: cycle.yaml include cycle.yaml".into())
            ),
            image_at("cycle.yaml:7", "foo", None),
        ]
    );
    // the long form with an env_file: the including file's TAG wins over the env file's
    let long =
        "include:\n  - path: app/compose.yaml\n    env_file: app/app.env\n  - missing.yaml\n";
    assert_eq!(
        compose_rows("compose.yaml", long, &context),
        [
            image_at("app/compose.yaml:3", "ghcr.io/org/app:1.27", None),
            problem(
                "compose.yaml:4",
                Problem::Unread("missing.yaml: No such file or directory (os error 2)".into())
            ),
        ]
    );
}

#[test]
fn without_files_the_rows_say_so() {
    let text = "include:\n  - other.yaml\nservices:\n  web:\n    extends:\n      file: base.yaml\n      service: web\n";
    assert_eq!(
        compose_rows("compose.yaml", text, &Context::default()),
        [
            problem(
                "compose.yaml:2",
                Problem::Unread(
                    "names the file other.yaml, which only mquery check on the command line reads"
                        .into()
                )
            ),
            problem(
                "compose.yaml:6",
                Problem::Unread(
                    "names the file base.yaml, which only mquery check on the command line reads"
                        .into()
                )
            ),
        ]
    );
}

#[test]
fn includes_are_bounded() {
    // a file including itself under 100 names: at most MAX_INCLUDE_DEPTH deep
    let files: Vec<(String, String)> = (0..100)
        .map(|i| {
            (
                format!("f{i}.yaml"),
                format!(
                    "include: [f{}.yaml]\nservices:\n  s:\n    image: i{i}\n",
                    i + 1
                ),
            )
        })
        .collect();
    let borrowed: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let context = with_files(&borrowed);
    let found = compose_rows("f0.yaml", &files[0].1, &context);
    let limits: Vec<_> = found
        .iter()
        .filter(|r| matches!(&r.1, Err(Problem::Unread(m)) if m.contains("levels deep")))
        .collect();
    assert_eq!(limits.len(), 1, "{found:?}");
    assert!(
        found.len() <= crate::limits::MAX_INCLUDE_DEPTH + 2,
        "{found:?}"
    );
    // a fan-out of 100 includes per file is cut at the file budget
    let wide: String = (0..100).map(|i| format!("  - w{i}.yaml\n")).collect();
    let files: Vec<(String, String)> = (0..100)
        .map(|i| {
            (
                format!("w{i}.yaml"),
                format!("services:\n  s{i}:\n    image: w{i}\n"),
            )
        })
        .collect();
    let borrowed: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let found = compose_rows(
        "top.yaml",
        &format!("include:\n{wide}"),
        &with_files(&borrowed),
    );
    let read = found.iter().filter(|r| r.1.is_ok()).count();
    assert_eq!(read, crate::limits::MAX_INCLUDED_FILES);
    assert!(found.iter().any(
        |r| matches!(&r.1, Err(Problem::Unread(m)) if m.contains("more than 64 other files"))
    ));
}

/// A service with its own `build:` whose bases name no image is built locally; many services
/// extending a long chain of many stop at the resolution budget (both found by a review).
#[test]
fn build_with_extends_and_the_resolution_budget() {
    let text = "services:\n  base:\n    environment: {A: \"1\"}\n  web:\n    extends: base\n    build: .\n";
    assert_eq!(
        compose_rows("compose.yaml", text, &Context::default()),
        [problem("compose.yaml:4", Problem::BuiltLocally)]
    );
    let mut text = String::from("services:\n");
    for i in 0..20_000 {
        text.push_str(&format!("  s{i}: {{extends: z0}}\n"));
    }
    for i in 0..30 {
        text.push_str(&format!("  z{i}: {{extends: z{}}}\n", i + 1));
    }
    text.push_str("  z30: {image: alpine}\n");
    let scan = scan("compose.yaml", &text, &Context::default());
    let limited = scan
        .found
        .iter()
        .filter(|f| matches!(&f.image, Err(Problem::Limit(m)) if m.contains("services")))
        .count();
    assert!(limited > 0, "{:?}", &scan.found[..3]);
}
