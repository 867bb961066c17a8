//! The image references of a stack: what `mquery check` reads. Compose files, Kubernetes YAML
//! (multi-document, `kind: List`, any pod template: `helm template` and `kubectl get -o yaml`
//! output), Dockerfiles and Containerfiles, and plain lists. The kind is detected from the
//! content; every reference, and every problem, carries its `file:line`.
//!
//! # Layout
//!
//! - [`scan`]: the one entry point, a file's text to [`Found`] rows.
//! - `yaml`: Compose and Kubernetes, on saphyr's YAML 1.2 nodes with source positions.
//! - `dockerfile`: `FROM` lines, `ARG` defaults, stage names, `--platform`.
//! - [`interpolate`]: `${VAR:-default}` substitution, shared by Compose and Dockerfiles.
//! - [`check`]: a [`check::Plan`] of the distinct references to look up, judged into a
//!   [`check::StackReport`] (`mquery check` and the service's `POST /v1/check`).

pub mod check;
mod dockerfile;
pub mod interpolate;
mod yaml;

use serde::Serialize;

/// What kind of file a scan read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Kind {
    Compose,
    Kubernetes,
    Dockerfile,
    List,
}

/// Why a row names no image to look up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
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
    pub found: Vec<Found>,
}

/// Reads `text` (from `name`, used for `file:line` and as a hint for the kind).
pub fn scan(name: &str, text: &str) -> Scan {
    let base = name.rsplit('/').next().unwrap_or(name).to_ascii_lowercase();
    let dockerfile_name = base.contains("dockerfile") || base.contains("containerfile");
    if let Some(found) = dockerfile::read(name, text, dockerfile_name) {
        return Scan {
            kind: Kind::Dockerfile,
            found,
        };
    }
    let yaml_name = base.ends_with(".yml") || base.ends_with(".yaml");
    match yaml::scan(name, text) {
        Ok(Some(scan)) => scan,
        // YAML, but neither Compose nor Kubernetes: a list, if it reads as one
        Ok(None) if !yaml_name => list(name, text),
        Ok(None) => Scan {
            kind: Kind::Kubernetes,
            found: Vec::new(),
        },
        Err(found) if yaml_name || text.contains(":\n") || text.contains(": ") => Scan {
            kind: Kind::Kubernetes,
            found: vec![found],
        },
        Err(_) => list(name, text),
    }
}

/// A plain list: one reference per line, `#` starts a comment.
fn list(name: &str, text: &str) -> Scan {
    let found = text
        .lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let line = line.split('#').next().unwrap_or("").trim();
            (!line.is_empty()).then(|| Found {
                location: format!("{name}:{}", i + 1),
                image: Ok(line.to_owned()),
                platform: None,
            })
        })
        .collect();
    Scan {
        kind: Kind::List,
        found,
    }
}

/// The reference of a field, checked for what cannot be looked up: template placeholders.
fn reference(text: &str) -> Result<String, Problem> {
    if text.contains("{{") {
        return Err(Problem::Template(text.to_owned()));
    }
    Ok(text.trim().to_owned())
}

/// A scan's rows as tuples, for the tests' tables.
#[cfg(test)]
pub(crate) fn rows(scan: &Scan) -> Vec<(String, Result<String, Problem>, Option<String>)> {
    scan.found
        .iter()
        .map(|f| (f.location.clone(), f.image.clone(), f.platform.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lists() {
        let s = scan(
            "images.txt",
            "# base images\nalpine\n\n  golang:1.22  # build\nghcr.io/org/app:v1\n",
        );
        assert_eq!(s.kind, Kind::List);
        assert_eq!(
            rows(&s),
            [
                ("images.txt:2".into(), Ok("alpine".into()), None),
                ("images.txt:4".into(), Ok("golang:1.22".into()), None),
                ("images.txt:5".into(), Ok("ghcr.io/org/app:v1".into()), None),
            ]
        );
    }
}
