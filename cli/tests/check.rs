//! `mquery check` over files written like real projects' (a Compose file of eight services, a
//! rendered Helm chart with an init container and a CronJob, a multi-stage Dockerfile with
//! ARGs), every image pushed to the real registry.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use mquery_tests::distribution::Distribution;
use mquery_tests::fixtures::{
    APP, Format, Pusher, open_with_app_and_pi, platform, push_db_and_cache,
};
use mquery_tests::helm::rendered_chart;

fn mquery(registry: &Distribution, args: &[&str], stdin: Option<&str>) -> Output {
    mquery_env(registry, args, stdin, &[])
}

/// The variables the files of these tests name, and docker compose's own: unset in the
/// child unless `env` sets them, so that the developer's shell cannot change a verdict.
const VARIABLES: &[&str] = &[
    "IMAGE_NAME",
    "TAG",
    "DB_TAG",
    "DB_VERSION",
    "PG_VERSION",
    "NIGHTLY_TAG",
    "COMPOSE_ENV_FILES",
    "COMPOSE_DISABLE_ENV_FILE",
];

/// `mquery ARGS` with `env` set in its environment.
fn mquery_env(
    registry: &Distribution,
    args: &[&str],
    stdin: Option<&str>,
    env: &[(&str, &str)],
) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mquery"));
    for name in VARIABLES {
        command.env_remove(name);
    }
    let mut child = command
        .args(args)
        .envs(env.iter().copied())
        .env("MQUERY_INSECURE_REGISTRIES", registry.host())
        .env_remove("MQUERY_ENDPOINT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    if let (Some(text), Some(mut input)) = (stdin, child.stdin.take()) {
        use std::io::Write as _;
        input.write_all(text.as_bytes()).expect("stdin");
    }
    child.wait_with_output().expect("output")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The registry with the images the files name: the five-platform app index, a linux/arm/v6
/// image, and three more.
async fn registry() -> Distribution {
    let (registry, _, _) = open_with_app_and_pi().await;
    let pusher = Pusher::open(&registry);
    let both = || {
        vec![
            platform("linux", "amd64", None),
            platform("linux", "arm64", Some("v8")),
        ]
    };
    push_db_and_cache(&pusher).await;
    pusher
        .index_of("acme/worker", Some("v1"), Format::Docker, both())
        .await;
    registry
}

/// [`registry`], and a temporary directory holding the `compose.yaml` of `text` (given the
/// registry's host); its path.
async fn registry_and_compose(
    text: impl FnOnce(&str) -> String,
) -> (Distribution, tempfile::TempDir, String) {
    let registry = registry().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let compose = write(dir.path(), "compose.yaml", &text(&registry.host()));
    (registry, dir, compose)
}

/// That the table `text` ends with the summary line `summary` (and its newline).
fn assert_summary(text: &str, summary: &str) {
    assert!(text.ends_with(summary), "{text}");
}

/// The line of `text` that starts with `prefix`.
fn line_starting<'t>(text: &'t str, prefix: &str) -> &'t str {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starts with {prefix:?}: {text}"))
}

/// The line of `text` that contains `part`.
fn line_containing<'t>(text: &'t str, part: &str) -> &'t str {
    text.lines()
        .find(|l| l.contains(part))
        .unwrap_or_else(|| panic!("no line contains {part:?}: {text}"))
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_compose_file_of_eight_services() {
    let (registry, dir, compose) = registry_and_compose(|r| {
        format!(
            r#"name: shop
x-restart: &restart
  restart: unless-stopped
services:
  web:
    <<: *restart
    image: {r}/{APP}
    ports: ["8080:80"]
  api:
    build:
      context: ./api
  db:
    image: {r}/acme/db:${{PG_VERSION:-16}}
    environment:
      POSTGRES_PASSWORD: example
  cache:
    image: "{r}/acme/cache:7"
  worker:
    image: {r}/acme/worker:v1
    command: ["worker"]
  edge:
    image: {r}/acme/pi:v6
    platform: linux/arm/v6
  migrate:
    image: {r}/{APP}
    command: ["migrate"]
  nightly:
    image: {r}/acme/app:${{NIGHTLY_TAG}}
"#
        )
    })
    .await;
    let r = registry.host();
    let mark = registry.mark();
    let out = mquery(
        &registry,
        &["check", "--platform", "linux/arm64", &compose],
        None,
    );
    let text = stdout(&out);
    // the registry is new to this process: one `GET /v2/` learns whether it wants a token
    // (docs/registries.md, "A stack costs about one image"); then one request per distinct
    // index, two for the single image (manifest, config)
    let served = registry.served_since(mark);
    assert_eq!(served.len(), 1 + 4 + 2, "{text}");
    assert_eq!((served[0].path.as_str(), served[0].status), ("/v2/", 200));
    // an unresolved variable is a problem: exit 1, and it is a row with its line
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_summary(
        &text,
        "5 images: 3 support linux/arm64, 2 do not, 0 failed, 1 not checked, 1 built locally\n",
    );
    assert!(text.contains(&format!("{compose}:28")), "{text}");
    assert!(text.contains("unresolved variable NIGHTLY_TAG"), "{text}");
    assert!(text.contains("built locally"), "{text}");
    // the app is named twice and looked up once, with both places
    let app_row = line_starting(&text, &format!("{r}/{APP}"));
    assert!(
        app_row.contains(&format!("{compose}:7, {compose}:25")),
        "{app_row}"
    );
    assert!(
        app_row.contains("linux/arm64: yes (linux/arm64/v8)"),
        "{app_row}"
    );
    let cache_row = line_containing(&text, "acme/cache:7");
    assert!(cache_row.ends_with("linux/arm64: no"), "{cache_row}");

    // without the broken service, the platform decides: exit 3; --compatible accepts pi's
    // arm/v6 through containerd's fallback but not the amd64-only cache
    let clean = std::fs::read_to_string(&compose)
        .expect("read")
        .replace("${NIGHTLY_TAG}", "v1");
    let clean = write(dir.path(), "compose.clean.yaml", &clean);
    let out = mquery(
        &registry,
        &["check", "--platform", "linux/arm64", &clean],
        None,
    );
    assert_eq!(out.status.code(), Some(3), "{}", stdout(&out));
    let out = mquery(
        &registry,
        &[
            "check",
            "--json",
            "--platform",
            "linux/arm64",
            "--compatible",
            &clean,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(3));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let images = doc["images"].as_array().expect("images");
    assert_eq!(images.len(), 5);
    let pi = images
        .iter()
        .find(|i| {
            i["image"]
                .as_str()
                .is_some_and(|s| s.ends_with("acme/pi:v6"))
        })
        .expect("pi");
    assert_eq!(
        pi["platformCheck"]["compatible"]["platform"],
        "linux/arm/v6"
    );
    assert_eq!(pi["foundIn"][0], format!("{clean}:22"));
    assert_eq!(
        doc["problems"][0]["problem"],
        "built locally (build: without image:), not looked up"
    );
    // the service's own platform: is the edge image fine on linux/arm/v6 without --platform?
    let out = mquery(&registry, &["check", &clean], None);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("linux/arm/v6: yes (linux/arm/v6)"), "{text}");
    assert_summary(&text, "5 images: 5 looked up, 0 failed, 1 built locally\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn helm_output_on_stdin_and_a_multi_stage_dockerfile() {
    let registry = registry().await;
    let r = registry.host();
    let rendered = rendered_chart(
        &[("migrate", &format!("\"{r}/acme/db:16\""))],
        &[("app", &format!("\"{r}/{APP}\""))],
        &[("report", &format!("{r}/acme/cache:7"))],
    );
    let out = mquery(
        &registry,
        &["check", "--platform", "linux/amd64", "-"],
        Some(&rendered),
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("-:12"), "{text}");
    assert!(text.contains("-:15"), "{text}");
    assert!(text.contains("-:30"), "{text}");
    assert_summary(
        &text,
        "3 images: 3 support linux/amd64, 0 do not, 0 failed\n",
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let dockerfile = write(
        dir.path(),
        "Dockerfile",
        &format!(
            r#"# syntax=docker/dockerfile:1
ARG REGISTRY={r}
ARG DB_TAG=16

FROM --platform=$BUILDPLATFORM ${{REGISTRY}}/acme/worker:v1 AS build
RUN make

FROM build AS test
RUN make test

FROM ${{REGISTRY}}/acme/db:${{DB_TAG}}
COPY --from=build /out /app

FROM scratch AS export
COPY --from=build /out /
"#
        ),
    );
    let out = mquery(
        &registry,
        &["check", "--platform", "arm64", &dockerfile],
        None,
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains(&format!("{dockerfile}:5")), "{text}");
    // the last stage (export) uses build only: the unnamed stage's db image is not built by
    // default, so it is listed, not judged
    assert!(text.contains(&format!("{dockerfile}:11")), "{text}");
    assert!(
        text.contains("in stage 2, which the last stage does not use"),
        "{text}"
    );
    assert_summary(
        &text,
        "1 image: 1 supports linux/arm64, 0 do not, 0 failed, 1 in stages not built\n",
    );

    // a file with no images says so, exit 1; an unreadable one too
    let empty = write(dir.path(), "notes.txt", "# nothing here\n");
    let out = mquery(&registry, &["check", &empty], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("no image references found"));
    let out = mquery(&registry, &["check", "/nonexistent/compose.yaml"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read /nonexistent/compose.yaml"));
    // broken YAML is a row, not a crash
    let broken = write(dir.path(), "broken.yaml", "services:\n  web: [unclosed\n");
    let out = mquery(&registry, &["check", &broken], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("not valid YAML"), "{}", stdout(&out));
}

/// A Compose file whose services share an anchor with `image: ...:${TAG}`, interpolated as
/// `docker compose config` interpolates it: from the `.env` beside it, the environment over
/// it, `--env-file` instead of it, nothing with `--no-env`; `${VAR:?message}` gives its
/// message as the row's reason.
#[tokio::test(flavor = "multi_thread")]
async fn compose_variables_from_dotenv_the_environment_and_env_files() {
    let (registry, dir, compose) = registry_and_compose(|r| {
        format!(
            r#"x-app: &app
  image: {r}/acme/${{IMAGE_NAME}}:${{TAG}}
  restart: unless-stopped
services:
  web:
    <<: *app
  worker:
    <<: *app
    command: ["worker"]
  db:
    image: {r}/acme/db:${{DB_TAG:?need a tag}}
"#
        )
    })
    .await;
    let r = registry.host();
    write(
        dir.path(),
        ".env",
        "# the release\r\nexport IMAGE_NAME=worker\r\nTAG=\"v1\"   # quoted\r\n\
         DB_TAG=${DB_VERSION:-16}\r\n",
    );
    let arm64 = ["check", "--platform", "linux/arm64", compose.as_str()];

    // the .env beside the file: both services of the anchor are acme/worker:v1
    let out = mquery_env(&registry, &arm64, None, &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    let worker = line_starting(&text, &format!("{r}/acme/worker:v1 "));
    assert!(worker.contains(&format!("{compose}:2")), "{worker}");
    assert!(
        worker.ends_with("linux/arm64: yes (linux/arm64/v8)"),
        "{worker}"
    );
    assert!(text.contains(&format!("{r}/acme/db:16 ")), "{text}");
    assert_summary(
        &text,
        "2 images: 2 support linux/arm64, 0 do not, 0 failed\n",
    );

    // the environment wins over .env, also inside .env's own substitutions
    let out = mquery_env(
        &registry,
        &arm64,
        None,
        &[
            ("IMAGE_NAME", "cache"),
            ("TAG", "7"),
            ("DB_VERSION", "none"),
        ],
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let cache = line_starting(&text, &format!("{r}/acme/cache:7 "));
    assert!(cache.ends_with("linux/arm64: no"), "{cache}");
    assert!(text.contains(&format!("{r}/acme/db:none ")), "{text}");
    assert!(!text.contains("acme/worker"), "{text}");

    // --env-file replaces the .env beside the file (which set DB_TAG): the file's own message
    // is the reason
    let other = tempfile::tempdir().expect("tempdir");
    let with_env_files = |files: &[&str]| {
        let mut args = vec!["check", "--platform", "linux/arm64"];
        for file in files {
            args.extend(["--env-file", file]);
        }
        args.push(&compose);
        mquery_env(&registry, &args, None, &[])
    };
    let first = write(other.path(), "first.env", "IMAGE_NAME=db\nTAG=15\n");
    let out = with_env_files(&[&first]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let required = line_containing(&text, &format!("{compose}:11"));
    assert!(
        required.ends_with("required variable DB_TAG is missing a value: need a tag"),
        "{required}"
    );
    // repeated: a later file wins, and sees the earlier one's keys
    let second = write(other.path(), "second.env", "TAG=16\nDB_TAG=${TAG}\n");
    let out = with_env_files(&[&first, &second]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    let db = line_starting(&text, &format!("{r}/acme/db:16 "));
    // one place per service: the anchor's line for the two that merge it
    assert!(
        db.contains(&format!("{compose}:2, {compose}:2, {compose}:11")),
        "{db}"
    );
    assert_summary(
        &text,
        "1 image: 1 supports linux/arm64, 0 do not, 0 failed\n",
    );

    // --no-env: neither the environment nor .env, as the service
    let out = mquery_env(
        &registry,
        &["check", "--no-env", "--platform", "linux/arm64", &compose],
        None,
        &[("IMAGE_NAME", "worker"), ("TAG", "v1")],
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("unresolved variable IMAGE_NAME"), "{text}");
    assert!(text.contains("need a tag"), "{text}");
    assert_summary(
        &text,
        "0 images: 0 support linux/arm64, 0 do not, 0 failed, 3 not checked\n",
    );
    let out = mquery_env(
        &registry,
        &["check", "--no-env", "--env-file", &first, &compose],
        None,
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot be used with"),
        "{}",
        stderr(&out)
    );
}

/// What refuses a check before any lookup: a missing --env-file, a .env compose cannot read
/// (named by file:line); a .env beside a file that is not Compose is not read.
#[tokio::test(flavor = "multi_thread")]
async fn env_files_that_cannot_be_read() {
    let (registry, dir, compose) = registry_and_compose(|r| {
        format!("services:\n  db:\n    image: {r}/acme/db:${{TAG:-16}}\n")
    })
    .await;
    let r = registry.host();
    let missing = dir.path().join("missing.env").display().to_string();
    let refusals = registry.mark();
    let out = mquery_env(
        &registry,
        &["check", "--env-file", &missing, &compose],
        None,
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("cannot read env file {missing}")),
        "{err}"
    );
    assert!(registry.served_since(refusals).is_empty());

    // without a .env the default applies
    let out = mquery_env(&registry, &["check", &compose], None, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));

    let refusals = registry.mark();
    for (text, message) in [
        (
            "# settings\nTAG=16\nINVALID LINE\n",
            "3: key \"INVALID LINE\" cannot contain a space",
        ),
        ("TAG=\"16\nDB=x\n", "1: unterminated quoted value"),
        (
            "A=1\nTAG=${NOPE:?set NOPE}\n",
            "2: required variable NOPE is missing a value: set NOPE",
        ),
    ] {
        let env = write(dir.path(), ".env", text);
        let out = mquery_env(&registry, &["check", &compose], None, &[]);
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert!(err.contains(&format!("{env}:{message}")), "{err}");
    }
    assert!(registry.served_since(refusals).is_empty());
    // --no-env reads no .env, broken or not
    let out = mquery_env(&registry, &["check", "--no-env", &compose], None, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // nor is it read for a Dockerfile beside it
    let dockerfile = write(
        dir.path(),
        "Dockerfile",
        &format!("FROM {r}/acme/db:16\nRUN true\n"),
    );
    let out = mquery_env(&registry, &["check", &dockerfile], None, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
}

/// A Compose file that includes another (with an env file) and extends a service of a
/// third, read from disk as compose-go reads them; a cycle and a missing file are rows.
#[tokio::test(flavor = "multi_thread")]
async fn compose_include_and_extends_read_other_files() {
    let registry = registry().await;
    let host = registry.host();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("db")).expect("mkdir");
    write(
        dir.path(),
        "db/compose.yaml",
        "services:\n  db:\n    image: ${REGISTRY}/acme/db:16\n",
    );
    write(dir.path(), "db/db.env", &format!("REGISTRY={host}\n"));
    write(
        dir.path(),
        "base.yaml",
        &format!(
            "services:\n  worker:\n    image: {host}/acme/worker:v1\n  cache:\n    image: {host}/acme/cache:7\n"
        ),
    );
    write(dir.path(), "loop.yaml", "include:\n  - compose.yaml\n");
    let compose = write(
        dir.path(),
        "compose.yaml",
        "include:\n  - path: db/compose.yaml\n    env_file: db/db.env\n  - loop.yaml\n  - gone.yaml\nservices:\n  worker:\n    extends:\n      file: base.yaml\n      service: worker\n  cache:\n    extends: {file: base.yaml, service: cache}\n    platform: linux/arm64\n",
    );
    let out = mquery(
        &registry,
        &["check", "--platform", "linux/arm64", &compose],
        None,
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    let path = |file: &str| format!("{}/{file}", dir.path().display());
    let row = |image: &str| line_starting(&text, image).to_owned();
    assert!(
        row(&format!("{host}/acme/db:16")).contains(&format!("{}:3", path("db/compose.yaml"))),
        "{text}"
    );
    assert!(
        row(&format!("{host}/acme/db:16")).contains("linux/arm64: yes"),
        "{text}"
    );
    assert!(
        row(&format!("{host}/acme/worker:v1")).contains(&format!("{}:3", path("base.yaml"))),
        "{text}"
    );
    assert!(
        row(&format!("{host}/acme/cache:7")).contains("linux/arm64: no"),
        "{text}"
    );
    assert!(
        line_containing(&text, "include cycle detected")
            .contains(&format!("{}:2", path("loop.yaml"))),
        "{text}"
    );
    assert!(
        line_containing(&text, "gone.yaml: No such file")
            .contains(&format!("{}:5", path("compose.yaml"))),
        "{text}"
    );
    assert_summary(
        &text,
        "3 images: 2 support linux/arm64, 1 does not, 0 failed, 2 not checked\n",
    );
}
