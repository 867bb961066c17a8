//! The GitHub Action (action.yml, README "GitHub Action"): its metadata valid against the
//! schema of GitHub's action files (check-jsonschema's vendored copy, offline), and its one
//! step run as the runner runs a composite step: the inputs put into the step's `env` as
//! `${{ inputs.NAME }}` would put them, the script run by `bash --noprofile --norc -eo
//! pipefail`, in the workspace, with `docker` on the PATH being podman (this machine's
//! engine: the same `docker run` arguments, plus `--network host`, which podman needs here).
//! The image is the project's own, built by scripts/build-image.sh; the images checked are on
//! the real registry.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use mquery_tests::distribution::Distribution;
use mquery_tests::fixtures::{Pusher, push_db_and_cache};
use mquery_tests::podman;
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn python() -> PathBuf {
    let python = root().join(".cache/venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/test.sh",
        python.display()
    );
    python
}

/// action.yml as the runner reads it (YAML 1.2 core for what it holds: PyYAML agrees here).
fn action() -> Value {
    let out = Command::new(python())
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        ])
        .arg(root().join("action.yml"))
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

/// The workspace of a run: a directory the container's user (65532) can read.
struct Workspace {
    dir: tempfile::TempDir,
    /// Where the `docker` shim is, and the log of its calls.
    bin: tempfile::TempDir,
}

impl Workspace {
    fn new(files: &[(&str, String)]) -> Workspace {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
            std::fs::write(&path, text).expect("write");
        }
        // tempdir makes 0700 directories; the runner's workspace is readable by all
        for entry in walk(dir.path()) {
            let mode = if entry.is_dir() { 0o755 } else { 0o644 };
            std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(mode)).expect("chmod");
        }
        let bin = tempfile::tempdir().expect("tempdir");
        let podman = podman::program("podman");
        let env: String = podman::env()
            .iter()
            .map(|(k, v)| format!("export {k}='{}'\n", v.to_string_lossy()))
            .collect();
        let shim = format!(
            "#!/bin/sh\n# docker, as this machine has it: podman\n{env}\
             printf '%s\\n' \"$*\" >> '{log}'\n\
             if [ \"$1\" = run ]; then shift; exec '{podman}' run --network host \"$@\"; fi\n\
             exec '{podman}' \"$@\"\n",
            log = bin.path().join("calls").display(),
            podman = podman.display(),
        );
        let path = bin.path().join("docker");
        std::fs::write(&path, shim).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        Workspace { dir, bin }
    }

    /// Runs the action's step with `inputs` (the others take their defaults), as the runner
    /// would.
    fn run(&self, registry: &Distribution, inputs: &[(&str, &str)]) -> Output {
        let action = action();
        let step = &action["runs"]["steps"][0];
        assert_eq!(action["runs"]["using"], "composite");
        assert_eq!(step["shell"], "bash");
        let declared = action["inputs"].as_object().expect("inputs");
        for (name, _) in inputs {
            assert!(
                declared.contains_key(*name),
                "action.yml has no input {name}"
            );
        }
        let value = |name: &str| -> String {
            let given = inputs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string());
            given.unwrap_or_else(|| {
                declared[name]["default"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
        };
        // the step's env: each `${{ inputs.NAME }}` replaced by the input's value
        let env: BTreeMap<String, String> = step["env"]
            .as_object()
            .expect("env")
            .iter()
            .map(|(k, v)| {
                let expr = v.as_str().expect("a string");
                let name = expr
                    .strip_prefix("${{ inputs.")
                    .and_then(|r| r.strip_suffix(" }}"))
                    .unwrap_or_else(|| panic!("{k}: {expr} is not an input"));
                (k.clone(), value(name))
            })
            .collect();
        let script = self.bin.path().join("step.sh");
        std::fs::write(&script, step["run"].as_str().expect("run")).expect("write");
        let path = format!(
            "{}:{}",
            self.bin.path().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let home = tempfile::tempdir().expect("home");
        let mut command = Command::new("bash");
        command
            .args(["--noprofile", "--norc", "-eo", "pipefail"])
            .arg(&script)
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", path)
            .env("HOME", home.path())
            .env("MQUERY_INSECURE_REGISTRIES", registry.host())
            .envs(env)
            .stdin(Stdio::null());
        podman::output_within(command, podman::COMMAND_TIMEOUT, "the action's step")
    }

    /// The `docker` command lines the step ran.
    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.bin.path().join("calls"))
            .map(|s| s.lines().map(str::to_owned).collect())
            .unwrap_or_default()
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut all = vec![dir.to_path_buf()];
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            all.extend(walk(&path));
        } else {
            all.push(path);
        }
    }
    all
}

async fn registry() -> Distribution {
    let registry = Distribution::start_open();
    push_db_and_cache(&Pusher::open(&registry)).await;
    registry
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_metadata_is_valid_and_runs_this_release() {
    let check = root().join(".cache/venv/bin/check-jsonschema");
    let validate = |file: &Path| {
        Command::new(&check)
            .args(["--builtin-schema", "vendor.github-actions"])
            .arg(file)
            .output()
            .expect("check-jsonschema runs (scripts/test.sh installs it)")
    };
    let out = validate(&root().join("action.yml"));
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    // the validation can fail
    let broken = tempfile::NamedTempFile::new().expect("tempfile");
    let yaml = std::fs::read_to_string(root().join("action.yml")).expect("read");
    std::fs::write(
        broken.path(),
        yaml.replace("using: composite", "using: compose"),
    )
    .expect("write");
    assert!(!validate(broken.path()).status.success());
    // the image it runs by default is this version's
    assert_eq!(
        action()["inputs"]["image"]["default"],
        format!("ghcr.io/mquery-rs/mquery:{}", env!("CARGO_PKG_VERSION"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_step_marks_the_line_of_an_image_lacking_the_platform() {
    podman::ensure_image();
    let registry = registry().await;
    let host = registry.host();
    let workspace = Workspace::new(&[
        (
            "compose.yaml",
            format!(
                "services:\n  db:\n    image: {host}/acme/db:16\n  cache:\n    image: {host}/acme/cache:7\n"
            ),
        ),
        (
            "k8s/web.yaml",
            format!(
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: db\n    image: {host}/acme/db:16\n"
            ),
        ),
        ("k8s/notes.txt", String::from("not a manifest\n")),
    ]);
    let image = podman::IMAGE;
    // two lines of files, one a glob; the default format (github)
    let out = workspace.run(
        &registry,
        &[
            ("files", "compose.yaml\n k8s/*.yaml"),
            ("platform", " linux/arm64 "),
            ("image", image),
        ],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}{}", text(&out.stderr));
    let marks: Vec<&str> = stdout.lines().filter(|l| l.starts_with("::")).collect();
    assert_eq!(
        marks,
        [format!(
            "::error file=compose.yaml,line=5,title=mquery%3A {}%3A7 does not support linux/arm64::{host}/acme/cache:7 does not run on linux/arm64: its platforms are linux/amd64.",
            format!("{host}/acme/cache").replace(':', "%3A")
        )],
        "{stdout}"
    );
    assert!(
        stdout.contains("k8s/web.yaml:8"),
        "the glob's file was checked: {stdout}"
    );
    assert!(!stdout.contains("notes.txt"), "{stdout}");
    let calls = workspace.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(
        calls[0].ends_with(&format!(
            "{image} check --platform linux/arm64 --format github -- compose.yaml k8s/web.yaml"
        )),
        "{calls:?}"
    );

    // SARIF into a file, and --compatible
    let out = workspace.run(
        &registry,
        &[
            ("files", "compose.yaml"),
            ("platform", "linux/amd64"),
            ("compatible", "true"),
            ("format", "sarif"),
            ("output", "mquery.sarif"),
            ("image", image),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let log: Value = serde_json::from_slice(
        &std::fs::read(workspace.dir.path().join("mquery.sarif")).expect("the output file"),
    )
    .expect("SARIF is JSON");
    assert_eq!(log["version"], "2.1.0");
    assert_eq!(log["runs"][0]["results"], Value::Array(vec![]));
    assert!(
        workspace.calls()[1].contains(" --compatible "),
        "{:?}",
        workspace.calls()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_inputs_stop_the_step_before_anything_runs() {
    let registry = registry().await;
    let workspace = Workspace::new(&[("compose.yaml", "services: {}\n".to_owned())]);
    for (inputs, said) in [
        (
            vec![("files", "compose.yaml"), ("platform", "  ")],
            "the platform input is empty",
        ),
        (
            vec![
                ("files", "compose.yaml"),
                ("platform", "linux/arm64"),
                ("format", "yaml"),
            ],
            "the format input must be",
        ),
        (
            vec![
                ("files", "compose.yaml"),
                ("platform", "linux/arm64"),
                ("compatible", "yes"),
            ],
            "the compatible input must be true or false",
        ),
        (
            vec![("files", " \n "), ("platform", "linux/arm64")],
            "the files input names no file",
        ),
        (
            vec![("files", "missing.yaml"), ("platform", "linux/arm64")],
            "missing.yaml is not a file",
        ),
        (
            vec![("files", "k8s/*.yaml"), ("platform", "linux/arm64")],
            "no file matches k8s/*.yaml",
        ),
        (
            vec![("files", "--help"), ("platform", "linux/arm64")],
            "must not start with -",
        ),
        (
            vec![("files", "compose.yaml"), ("platform", "--help")],
            "must not start with -",
        ),
        (
            vec![
                ("files", "$(touch pwned) compose.yaml"),
                ("platform", "linux/arm64"),
            ],
            "$(touch is not a file",
        ),
    ] {
        let out = workspace.run(&registry, &inputs);
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{inputs:?}: {stdout}{}",
            text(&out.stderr)
        );
        let first = stdout.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("::error title=mquery check::") && first.contains(said),
            "{inputs:?}: {stdout}"
        );
        assert!(
            workspace.calls().is_empty(),
            "{inputs:?} ran {:?}",
            workspace.calls()
        );
    }
    assert!(!workspace.dir.path().join("pwned").exists());
}
