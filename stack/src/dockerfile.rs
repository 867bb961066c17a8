//! Dockerfiles and Containerfiles: the images `FROM` lines name, with `ARG` defaults
//! substituted (declared before the line, between stages too), stage names (`FROM build`)
//! and `scratch` skipped, and `FROM --platform=P` kept as the row's platform.

use std::collections::{HashMap, HashSet};

use crate::interpolate::interpolate;
use crate::{Found, reference};

/// The build arguments BuildKit sets itself: a `--platform=$BUILDPLATFORM` names no fixed
/// platform.
const AUTOMATIC_ARGS: [&str; 8] = [
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
];

/// Instructions with their first line number: continuation lines (`\`) joined, comments and
/// blank lines dropped.
fn instructions(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if current.is_none() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        let (start, mut joined) = current.take().unwrap_or((i + 1, String::new()));
        if trimmed.starts_with('#') {
            // a comment inside a continued instruction
            current = Some((start, joined));
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => {
                joined.push_str(part);
                joined.push(' ');
                current = Some((start, joined));
            }
            None => {
                joined.push_str(trimmed);
                out.push((start, joined));
            }
        }
    }
    if let Some(last) = current {
        out.push(last);
    }
    out
}

fn keyword(instruction: &str) -> (String, &str) {
    let mut parts = instruction.splitn(2, char::is_whitespace);
    let keyword = parts.next().unwrap_or("").to_ascii_uppercase();
    (keyword, parts.next().unwrap_or("").trim())
}

/// Whether the instructions read as a Dockerfile's: the first is `FROM` or `ARG`, and one
/// is a `FROM`.
fn is_dockerfile(instructions: &[(usize, String)]) -> bool {
    let first = instructions.first().map(|(_, i)| keyword(i).0);
    matches!(first.as_deref(), Some("FROM" | "ARG"))
        && instructions.iter().any(|(_, i)| keyword(i).0 == "FROM")
}

#[cfg(test)]
fn looks_like(text: &str) -> bool {
    is_dockerfile(&instructions(text))
}

/// The images of `text` if it is a Dockerfile (`named_so`: its file name says it is), split
/// into instructions once for both the decision and the scan.
pub fn read(
    name: &str,
    text: &str,
    named_so: bool,
    _context: &crate::Context,
) -> Option<Vec<Found>> {
    let instructions = instructions(text);
    (named_so || is_dockerfile(&instructions)).then(|| scan_instructions(name, instructions))
}

#[cfg(test)]
fn scan(name: &str, text: &str) -> Vec<Found> {
    scan_instructions(name, instructions(text))
}

fn scan_instructions(name: &str, instructions: Vec<(usize, String)>) -> Vec<Found> {
    let mut args: HashMap<String, Option<String>> = HashMap::new();
    let mut stages: HashSet<String> = HashSet::new();
    let mut found = Vec::new();
    for (line, instruction) in instructions {
        let (keyword, rest) = keyword(&instruction);
        match keyword.as_str() {
            "ARG" => {
                for declaration in rest.split_whitespace() {
                    let (arg, default) = match declaration.split_once('=') {
                        Some((arg, value)) => {
                            (arg, Some(value.trim_matches(['"', '\'']).to_owned()))
                        }
                        None => (declaration, None),
                    };
                    args.insert(arg.to_owned(), default);
                }
            }
            "FROM" => {
                let mut words = rest.split_whitespace().peekable();
                let mut platform = None;
                while let Some(flag) = words.next_if(|w| w.starts_with("--")) {
                    if let Some(value) = flag.strip_prefix("--platform=") {
                        platform = Some(value.to_owned());
                    }
                }
                let Some(image) = words.next() else { continue };
                if let (Some(as_), Some(stage)) = (words.next(), words.next())
                    && as_.eq_ignore_ascii_case("as")
                {
                    stages.insert(stage.to_ascii_lowercase());
                }
                let vars = |var: &str| args.get(var).cloned().flatten();
                let platform = platform
                    .filter(|p| !AUTOMATIC_ARGS.iter().any(|a| p.contains(a)))
                    .and_then(|p| interpolate(&p, &vars).ok());
                let image = interpolate(image, &vars).and_then(|i| reference(&i));
                if let Ok(image) = &image {
                    let lower = image.to_ascii_lowercase();
                    if lower == "scratch" || stages.contains(&lower) {
                        continue;
                    }
                }
                found.push(Found {
                    location: format!("{name}:{line}"),
                    image,
                    platform,
                });
            }
            _ => {}
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Problem;

    const MULTI_STAGE: &str = r#"# syntax=docker/dockerfile:1
ARG GO_VERSION=1.22
ARG BASE=gcr.io/distroless/static-debian12
ARG UNSET

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
RUN go build ./...

FROM build AS test
RUN go test ./...

FROM node:20-alpine \
    AS web
ARG NODE_ENV=production

FROM --platform=linux/arm64 ${BASE}:nonroot
COPY --from=build /out /app

FROM scratch AS empty
FROM registry.example/tools:${UNSET}
FROM registry.example/other:${UNSET:-stable}
"#;

    #[test]
    fn multi_stage_with_args() {
        assert!(looks_like(MULTI_STAGE));
        let found = scan("Dockerfile", MULTI_STAGE);
        let rows: Vec<(&str, Result<&str, Problem>, Option<&str>)> = found
            .iter()
            .map(|f| {
                (
                    f.location.as_str(),
                    f.image.as_deref().map_err(Clone::clone),
                    f.platform.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("Dockerfile:6", Ok("golang:1.22-bookworm"), None),
                ("Dockerfile:13", Ok("node:20-alpine"), None),
                (
                    "Dockerfile:17",
                    Ok("gcr.io/distroless/static-debian12:nonroot"),
                    Some("linux/arm64")
                ),
                (
                    "Dockerfile:21",
                    Err(Problem::UnresolvedVariable("UNSET".into())),
                    None
                ),
                ("Dockerfile:22", Ok("registry.example/other:stable"), None),
            ]
        );
    }

    #[test]
    fn what_is_not_a_dockerfile() {
        assert!(!looks_like("services:\n  web:\n    image: nginx\n"));
        assert!(!looks_like("alpine\ngolang:1.22\n"));
        assert!(looks_like("from alpine\n"));
    }
}
