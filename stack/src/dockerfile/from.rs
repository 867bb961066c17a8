//! `FROM` lines, and the build arguments they see.
//!
//! # The image of a `FROM`
//!
//! `FROM [--platform=P] IMAGE [AS name]`: `IMAGE` expanded with the build arguments declared
//! before the first `FROM` ("meta" arguments) and the automatic platform arguments, unless it
//! then names a stage declared earlier (compared as written with the lower-cased stage names:
//! `FROM Build` is an image even after `AS build`) or is `scratch`
//! (instructions/parse.go `Parse`, `parseFrom`; dockerfile2llb/convert.go
//! `buildDispatchStates`, `addState`, `resolveReachableStages`). The row's platform is `P`
//! expanded the same way.
//!
//! # Build arguments
//!
//! Only meta arguments reach `FROM` lines; an `ARG` inside a stage changes nothing for later
//! stages (instructions/parse.go `Parse`, convert.go `buildMetaArgs`). A meta default is
//! expanded with the arguments before it (`ARG IMAGE=golang:${GO_VERSION}`); a meta `ARG` without
//! a default leaves an argument as it was (an automatic one keeps its value) or without a value;
//! one with a default replaces it (even an automatic one). The automatic arguments
//! (dockerfile2llb/platform.go `defaultArgs`, frontend/dockerui/config.go): `BUILDPLATFORM`,
//! `BUILDOS`, `BUILDARCH`, `BUILDVARIANT` from [`Context::build`]; `TARGETPLATFORM`, `TARGETOS`,
//! `TARGETARCH`, `TARGETVARIANT` from [`Context::target`], or the build platform when it is
//! `None` (BuildKit's default); `BUILDOSVERSION` and `TARGETOSVERSION` empty; `TARGETSTAGE` the
//! last stage's name (or `default`). A variable without a value is a
//! [`Problem::UnresolvedVariable`] row where BuildKit would substitute nothing.

use super::instructions::{self, Instruction};
use super::lex::{self, Value, Vars};
use super::{Scanner, flag_parts, image, lower, quote};
use crate::{Context, Problem};

/// A `FROM` line's parts (instructions/parse.go `parseFrom`, `parseBuildStageName`; flags as
/// instructions/bflag.go `BFlags.Parse` reads them).
#[derive(Debug)]
pub(super) struct From {
    pub(super) base: String,
    /// The `--platform` value as written, when not empty.
    pub(super) platform: Option<String>,
    /// The stage name, in lower case.
    pub(super) stage: Option<String>,
}

pub(super) fn parse_from(instruction: &Instruction) -> Result<From, Problem> {
    let args: Vec<&str> = instruction
        .args
        .split(instructions::is_separator)
        .filter(|arg| !arg.is_empty())
        .collect();
    let stage = match args.as_slice() {
        [_] => None,
        [_, as_, name] if as_.eq_ignore_ascii_case("as") => {
            let stage = lower(name);
            let mut chars = stage.chars();
            let valid = chars.next().is_some_and(|c| c.is_ascii_lowercase())
                && chars.all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.')
                });
            if !valid {
                return Err(Problem::Dockerfile(format!(
                    "a stage name starts with a letter and holds only letters, digits, `-`, `_` \
                     and `.`, unlike {}",
                    quote(name)
                )));
            }
            Some(stage)
        }
        _ => {
            return Err(Problem::Dockerfile(format!(
                "FROM takes an image, then optionally `AS` and a stage name, not {}",
                quote(&instruction.args)
            )));
        }
    };
    let mut platform = None;
    for flag in &instruction.flags {
        let (name, value) = flag_parts(flag);
        if name != "platform" {
            return Err(Problem::Dockerfile(format!(
                "FROM takes only the flag --platform, not {}",
                quote(flag)
            )));
        }
        if platform.is_some() {
            return Err(Problem::Dockerfile("FROM takes one --platform".to_owned()));
        }
        let Some(value) = value else {
            return Err(Problem::Dockerfile(
                "FROM --platform needs a value: --platform=os/arch".to_owned(),
            ));
        };
        platform = Some(value.to_owned());
    }
    Ok(From {
        base: args[0].to_owned(),
        platform: platform.filter(|p| !p.is_empty()),
        stage,
    })
}

/// The automatic build arguments (dockerfile2llb/platform.go `defaultArgs`).
pub(super) fn automatic(context: &Context, target_stage: &str) -> Vars {
    let build = &context.build;
    let target = context.target.as_ref().unwrap_or(build);
    [
        ("BUILDPLATFORM", build.platform()),
        ("BUILDOS", build.os.clone()),
        ("BUILDOSVERSION", String::new()),
        ("BUILDARCH", build.arch.clone()),
        ("BUILDVARIANT", build.variant.clone()),
        ("TARGETPLATFORM", target.platform()),
        ("TARGETOS", target.os.clone()),
        ("TARGETOSVERSION", String::new()),
        ("TARGETARCH", target.arch.clone()),
        ("TARGETVARIANT", target.variant.clone()),
        ("TARGETSTAGE", target_stage.to_owned()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), Value::Set(value)))
    .collect()
}

impl Scanner<'_> {
    /// `ARG name[=default] ...` (instructions/parse.go `parseArg`, convert.go `buildMetaArgs`).
    pub(super) fn arg(&mut self, instruction: &Instruction) {
        let words = instructions::words(&instruction.args, self.escape);
        if words.is_empty() {
            return self.refuse_line(instruction.line, "ARG needs a name".to_owned());
        }
        let mut pairs = Vec::with_capacity(words.len());
        for word in &words {
            let (name, default) = match word.split_once('=') {
                Some((name, default)) => (name, Some(default)),
                None => (word.as_str(), None),
            };
            if name.is_empty() {
                return self.refuse_line(
                    instruction.line,
                    format!("ARG needs a name before `=`: {}", quote(word)),
                );
            }
            pairs.push((name, default));
        }
        if self.in_stage {
            // a stage's own argument: later FROM lines do not see it
            return;
        }
        for (name, default) in pairs {
            let Some(default) = default else {
                // declared: an automatic or earlier value stays, else there is none
                continue;
            };
            let value = match lex::expand(default, &self.vars, self.escape, &mut self.budget) {
                Ok(value) => Value::Set(value),
                Err(problem) => {
                    // BuildKit stops at an invalid substitution whether or not it is used;
                    // the other failures are reported where the value is
                    if let Problem::Syntax(_) = problem {
                        self.refuse_file(instruction.line, problem.clone());
                    }
                    Value::Failed(problem)
                }
            };
            self.vars.insert(name.to_owned(), value);
        }
    }

    pub(super) fn from(
        &mut self,
        instruction: &Instruction,
        parsed: Option<Result<From, Problem>>,
    ) {
        let from = match parsed {
            Some(Ok(from)) => from,
            Some(Err(problem)) => return self.row(instruction.line, Err(problem), None),
            // the list holds one entry per FROM
            None => return,
        };
        let base = lex::expand(&from.base, &self.vars, self.escape, &mut self.budget);
        // convert.go `addState`: a base that names an earlier stage is a dependency
        if let Some(&stage) = base.as_ref().ok().and_then(|base| self.earlier.get(base)) {
            self.depend(stage);
        }
        let image = match base {
            Err(problem) => Some(Err(problem)),
            Ok(base) if base.is_empty() => Some(Err(Problem::Dockerfile(format!(
                "FROM names no image once its variables are substituted: {}",
                quote(&from.base)
            )))),
            Ok(base) if base == "scratch" || self.earlier.contains_key(&base) => None,
            Ok(base) => Some(image(&base)),
        };
        if let Some(image) = image {
            let (image, platform) = match (image, &from.platform) {
                (Ok(image), Some(written)) => {
                    match lex::expand(written, &self.vars, self.escape, &mut self.budget) {
                        Ok(platform) if platform.is_empty() => (
                            Err(Problem::Dockerfile(format!(
                                "FROM --platform is empty once its variables are substituted: {}",
                                quote(written)
                            ))),
                            None,
                        ),
                        Ok(platform) => (Ok(image), Some(platform)),
                        Err(problem) => (Err(problem), None),
                    }
                }
                (image, _) => (image, None),
            };
            self.row(instruction.line, image, platform);
        }
        if let (Some(name), Some(index)) = (from.stage, self.stage) {
            self.earlier.insert(name, index);
        }
    }
}
