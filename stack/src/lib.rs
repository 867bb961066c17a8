//! The image references of a stack: what `mquery check` reads. Compose files, Kubernetes YAML
//! (multi-document, `kind: List`, any pod template: `helm template` and `kubectl get -o yaml`
//! output), Dockerfiles and Containerfiles, and plain lists. The kind is detected from the
//! content; every reference, and every problem, carries its `file:line`.
//!
//! # Layout
//!
//! - [`scan`]: the one entry point, a file's text to [`Found`] rows (a byte-order mark and
//!   CRLF accepted in every kind).
//! - [`limits`]: every bound of the scanner (SECURITY.md lists them).
//! - `yaml`: Compose and Kubernetes. `yaml::tree` loads saphyr-parser's YAML 1.2 events
//!   under the depth and alias limits, with merge keys as go-yaml (docker compose) applies
//!   them; `yaml::lenient` re-reads what compose's parser accepts and strict YAML refuses.
//! - `dockerfile`: BuildKit's reading: directives (`# escape=`), continuations, heredocs,
//!   `ARG` scoping and the automatic platform arguments, its word expansion (`lex`, with
//!   `${VAR#...}`-style patterns in `pattern`); images of `FROM`, `COPY --from` and
//!   `RUN --mount=from=`.
//! - [`interpolate`]: Compose's `${VAR...}` syntax, as compose-go's template package reads it.
//! - [`dotenv`]: `.env` files, as compose-go reads them (the command line's variables).
//! - [`plan`]: what a check looks up: a [`plan::Plan`] of the distinct references of the
//!   scanned files, every place naming each, the platform judging each, and the rows that
//!   name none (`mquery check` and the service's `POST /v1/check`; the lookups themselves
//!   run through `registry::gather`).
//! - [`report`]: the verdict per image and the counts: [`plan::Plan::judge`] turns the
//!   lookups' outcomes into the check document, `output`'s [`report::StackReport`] (whose
//!   table is `output`'s text too).

mod devcontainer;
mod dockerfile;
pub mod dotenv;
pub mod files;
pub mod interpolate;
pub mod kustomize;
pub mod limits;
pub mod plan;
pub mod report;
mod yaml;

use std::collections::HashMap;

use serde::Serialize;

/// What kind of file a scan read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Kind {
    Compose,
    Kubernetes,
    Dockerfile,
    List,
    GithubWorkflow,
    GitlabCi,
    Devcontainer,
    Kustomization,
}

/// Why a row names no image to look up.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Problem {
    #[error("not valid YAML: {0}")]
    Unparsable(String),
    #[error("unresolved variable {0}")]
    UnresolvedVariable(String),
    #[error("unrendered template placeholder {0:?}")]
    Template(String),
    #[error("the image field is not a string")]
    NotAString,
    #[error("built locally (build: without image:), not looked up")]
    BuiltLocally,
    /// A Dockerfile image in a stage the last stage does not use, directly or through other
    /// stages: BuildKit does not build it by default, so it is not looked up. The stage's
    /// name, or its index when it has none.
    #[error("in stage {0}, which the last stage does not use: not built by default, not looked up")]
    NotBuilt(String),
    /// `${VAR:?message}` / `${VAR?message}` with the variable unset (or empty, for `:?`): the
    /// file's own message is the reason.
    #[error("required variable {name} is missing a value{}", colon(.message))]
    Required { name: String, message: String },
    /// A substitution the tool itself would refuse (`${}`, `${VAR`, an unknown operator).
    #[error("invalid substitution: {0}")]
    Syntax(String),
    /// A limit of [`limits`] was reached; the sentence names it.
    #[error("{0}")]
    Limit(String),
    /// A container without an image (a workflow's `container:` or a service mapping that
    /// names none).
    #[error("a container without an image")]
    NoImage,
    /// A GitHub Actions expression: its value is known only when the workflow runs.
    #[error("the expression {0:?} is evaluated when the workflow runs")]
    Expression(String),
    /// A GitLab CI configuration GitLab itself refuses (an unknown or circular `extends`).
    #[error("GitLab CI: {0}")]
    Gitlab(String),
    /// A kustomization kustomize itself refuses (an unknown field, a value of the wrong
    /// type, a wrong kind or apiVersion); the sentence says which.
    #[error("invalid kustomization: {0}")]
    Kustomize(String),
    /// Another file a file names, which this scan cannot or may not read (the service has
    /// no files; a bound of [`limits`]); the sentence says which.
    #[error("{0}")]
    Unread(String),
    /// The container comes from another file (a dev container's Dockerfile or Compose file):
    /// listed, not a problem; the sentence names the file to check.
    #[error("{0}")]
    Elsewhere(String),
    /// A Dockerfile line BuildKit itself refuses (an unknown instruction, `FROM` without an
    /// image, an unterminated heredoc); the sentence says which.
    #[error("invalid Dockerfile: {0}")]
    Dockerfile(String),
}

/// compose-go's wording for a required variable: the message after a colon, if there is one.
fn colon(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(": {message}")
    }
}

/// A platform as a Dockerfile's automatic build arguments spell it (`TARGETOS`, `TARGETARCH`,
/// `TARGETVARIANT`, and the same for `BUILD*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Triple {
    pub os: String,
    pub arch: String,
    /// Empty when the platform has none.
    pub variant: String,
}

impl Triple {
    /// The platform this process runs on, in Go's names (`amd64`, `arm64`, ...).
    pub fn host() -> Triple {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "arm" => "arm",
            "powerpc64" => "ppc64le",
            "s390x" => "s390x",
            "riscv64" => "riscv64",
            "loongarch64" => "loong64",
            other => other,
        };
        let variant = if arch == "arm" { "v7" } else { "" };
        Triple {
            os: std::env::consts::OS.to_owned(),
            arch: arch.to_owned(),
            variant: variant.to_owned(),
        }
    }

    /// What a Dockerfile's `TARGET*` arguments hold for a checked platform: the platform
    /// itself, normalized, or for an OS alone the build platform's architecture, which
    /// containerd platforms/platforms.go `Parse` fills in.
    pub fn target(spec: &oci::PlatformSpec, build: &Triple) -> Triple {
        match spec.platform() {
            Some(platform) => Triple {
                os: platform.os,
                arch: platform.architecture,
                variant: platform.variant,
            },
            None => {
                let normalized = spec.normalized();
                let os = normalized.split(['(', '/']).next().unwrap_or_default();
                Triple {
                    os: os.to_owned(),
                    arch: build.arch.clone(),
                    variant: build.variant.clone(),
                }
            }
        }
    }

    /// `os/arch[/variant]`, as `TARGETPLATFORM` holds it.
    pub fn platform(&self) -> String {
        if self.variant.is_empty() {
            format!("{}/{}", self.os, self.arch)
        } else {
            format!("{}/{}/{}", self.os, self.arch, self.variant)
        }
    }
}

/// What a scan knows beyond the file's text.
#[derive(Debug, Clone)]
pub struct Context {
    /// The variables a Compose file is interpolated with: in the command line the environment
    /// and the `.env` file beside it, as `docker compose config` reads them; `None` in the
    /// service, which has no environment (every variable without a default is reported).
    pub vars: Option<HashMap<String, String>>,
    /// The platform being checked: what a Dockerfile's `TARGET*` arguments hold. `None`:
    /// BuildKit's default, the build platform.
    pub target: Option<Triple>,
    /// The platform mquery runs on: what `BUILD*` arguments hold.
    pub build: Triple,
    /// The other files a file may name (Compose `include` and `extends`): the command line's
    /// disk; `None` in the service, which reports such rows as not checked.
    pub files: Option<std::sync::Arc<dyn files::Files>>,
}

impl Default for Context {
    fn default() -> Context {
        Context {
            vars: None,
            target: None,
            build: Triple::host(),
            files: None,
        }
    }
}

/// One image reference found, or a problem where one was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// `file:line`.
    pub location: String,
    /// The reference as written (after substitution), or why there is none.
    pub image: Result<String, Problem>,
    /// The platform the file itself asks for (a Compose service's `platform:`, a Dockerfile's
    /// `FROM --platform=`), if any.
    pub platform: Option<String>,
}

/// A scanned file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    pub kind: Kind,
    /// At most [`limits::MAX_ROWS`] rows.
    pub found: Vec<Found>,
    /// Rows past [`limits::MAX_ROWS`], counted and left out.
    pub omitted: usize,
}

/// Reads `text` (from `name`, used for `file:line` and as a hint for the kind). A byte-order
/// mark is skipped and CRLF line ends read as LF, in every kind.
pub fn scan(name: &str, text: &str, context: &Context) -> Scan {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut scan = scan_kind(name, text, context);
    if scan.found.len() > limits::MAX_ROWS {
        scan.omitted += scan.found.len() - limits::MAX_ROWS;
        scan.found.truncate(limits::MAX_ROWS);
    }
    scan
}

fn scan_kind(name: &str, text: &str, context: &Context) -> Scan {
    let base = name.rsplit('/').next().unwrap_or(name).to_ascii_lowercase();
    if let Some(scan) = devcontainer::scan(name, text) {
        return scan;
    }
    if let Some(kustomization) = kustomize::parse(name, text) {
        return kustomize::scan(name, kustomization, context);
    }
    let dockerfile_name = base.contains("dockerfile") || base.contains("containerfile");
    if let Some(found) = dockerfile::read(name, text, dockerfile_name, context) {
        return Scan {
            kind: Kind::Dockerfile,
            found,
            omitted: 0,
        };
    }
    let yaml_name = base.ends_with(".yml") || base.ends_with(".yaml");
    match yaml::scan(name, text, context) {
        Ok(Some(scan)) => scan,
        // YAML, but neither Compose nor Kubernetes: a list, if it reads as one
        Ok(None) if !yaml_name => list(name, text),
        Ok(None) => Scan {
            kind: Kind::Kubernetes,
            found: Vec::new(),
            omitted: 0,
        },
        Err(found) if yaml_name || text.contains(":\n") || text.contains(": ") => Scan {
            kind: Kind::Kubernetes,
            found: vec![found],
            omitted: 0,
        },
        Err(_) => list(name, text),
    }
}

/// A plain list: one reference per line, `#` starts a comment. Lines past
/// [`limits::MAX_ROWS`] are counted, not kept.
fn list(name: &str, text: &str) -> Scan {
    let mut rows = Rows::default();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() || !rows.room() {
            continue;
        }
        rows.push(Found {
            location: format!("{name}:{}", i + 1),
            image: Ok(line.to_owned()),
            platform: None,
        });
    }
    rows.scan(Kind::List)
}

/// The reference of a field, checked for what cannot be looked up: template placeholders.
fn reference(text: &str) -> Result<String, Problem> {
    if text.len() > limits::MAX_EXPANSION {
        return Err(too_long(text));
    }
    if text.contains("{{") {
        return Err(Problem::Template(text.to_owned()));
    }
    Ok(text.trim().to_owned())
}

/// The first [`limits::MAX_QUOTED`] characters of `text`: how much of a file a sentence
/// quotes.
pub(crate) fn excerpt(text: &str) -> String {
    text.chars().take(limits::MAX_QUOTED).collect()
}

/// An image field longer than any reference, refused before it is copied (an alias can name
/// one long string many times).
fn too_long(text: &str) -> Problem {
    let quoted = excerpt(text);
    Problem::Limit(format!(
        "an image field of {} bytes, more than the {} a check reads: \"{quoted}…\"",
        text.len(),
        limits::MAX_EXPANSION
    ))
}

/// The rows of one file: kept up to [`limits::MAX_ROWS`], the rest only counted, so that a
/// row past the cap is never built.
#[derive(Debug, Default)]
pub(crate) struct Rows {
    found: Vec<Found>,
    omitted: usize,
}

impl Rows {
    /// Whether one more row is kept; when not, it is counted.
    fn room(&mut self) -> bool {
        if self.found.len() < limits::MAX_ROWS {
            true
        } else {
            self.omitted += 1;
            false
        }
    }

    fn push(&mut self, row: Found) {
        self.found.push(row);
    }

    fn scan(self, kind: Kind) -> Scan {
        Scan {
            kind,
            found: self.found,
            omitted: self.omitted,
        }
    }
}

/// A row of a scan as the tests' tables write it: location, image or problem, platform.
#[cfg(test)]
pub(crate) type ScanRow = (String, Result<String, Problem>, Option<String>);

/// A scan's rows as tuples, for the tests' tables.
#[cfg(test)]
pub(crate) fn rows(scan: &Scan) -> Vec<ScanRow> {
    scan.found
        .iter()
        .map(|f| (f.location.clone(), f.image.clone(), f.platform.clone()))
        .collect()
}

/// The row of `image` found at `location`, with the `platform` its file gives it.
#[cfg(test)]
pub(crate) fn image_at(location: &str, image: &str, platform: Option<&str>) -> ScanRow {
    (location.into(), Ok(image.into()), platform.map(Into::into))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scans `text` as the file `name`: it is read as `kind`, with these rows.
    fn assert_scan(name: &str, text: &str, kind: Kind, want: &[ScanRow]) {
        let s = scan(name, text, &Context::default());
        assert_eq!(s.kind, kind, "{name}");
        assert_eq!(rows(&s), want, "{name}");
    }

    #[test]
    fn plain_lists() {
        assert_scan(
            "images.txt",
            "# base images\nalpine\n\n  golang:1.22  # build\nghcr.io/org/app:v1\n",
            Kind::List,
            &[
                image_at("images.txt:2", "alpine", None),
                image_at("images.txt:4", "golang:1.22", None),
                image_at("images.txt:5", "ghcr.io/org/app:v1", None),
            ],
        );
    }

    /// `--platform` as a Dockerfile's TARGET* arguments spell it.
    #[test]
    fn targets() {
        let build = Triple {
            os: "linux".into(),
            arch: "riscv64".into(),
            variant: String::new(),
        };
        let target = |p: &str| {
            let spec: oci::PlatformSpec = p.parse().expect("a platform");
            let t = Triple::target(&spec, &build);
            (t.os, t.arch, t.variant)
        };
        let triple = |os: &str, arch: &str, variant: &str| {
            (os.to_owned(), arch.to_owned(), variant.to_owned())
        };
        assert_eq!(target("linux/arm64"), triple("linux", "arm64", ""));
        assert_eq!(target("linux/arm64/v8"), triple("linux", "arm64", ""));
        assert_eq!(target("arm"), triple("linux", "arm", "v7"));
        assert_eq!(target("linux/arm/v6"), triple("linux", "arm", "v6"));
        assert_eq!(target("x86_64"), triple("linux", "amd64", ""));
        assert_eq!(target("linux/amd64/v3"), triple("linux", "amd64", "v3"));
        assert_eq!(
            target("windows(10.0.17763)/amd64"),
            triple("windows", "amd64", "")
        );
        // a variant containerd does not know is still the platform asked for
        assert_eq!(target("linux/arm64/v10"), triple("linux", "arm64", "v10"));
        // an OS alone: the build platform's architecture
        assert_eq!(target("windows"), triple("windows", "riscv64", ""));
    }

    /// A byte-order mark once made a Compose file read as a list; CRLF line ends read as LF
    /// in every kind.
    #[test]
    fn byte_order_marks_and_crlf() {
        let compose = "\u{feff}services:\r\n  web:\r\n    image: nginx:1.27\r\n";
        let compose_rows = [image_at("compose.yaml:3", "nginx:1.27", None)];
        assert_scan("compose.yaml", compose, Kind::Compose, &compose_rows);
        let dockerfile = "\u{feff}ARG TAG=3.20\r\nFROM alpine:${TAG}\r\n";
        let dockerfile_rows = [image_at("build:2", "alpine:3.20", None)];
        assert_scan("build", dockerfile, Kind::Dockerfile, &dockerfile_rows);
        let list = "\u{feff}alpine\r\nbusybox\r\n";
        let list_rows = [
            image_at("images.txt:1", "alpine", None),
            image_at("images.txt:2", "busybox", None),
        ];
        assert_scan("images.txt", list, Kind::List, &list_rows);
    }
}
