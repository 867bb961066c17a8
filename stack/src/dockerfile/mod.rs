//! Dockerfiles and Containerfiles: the images a build pulls, read as BuildKit's Dockerfile
//! frontend reads the file (moby/buildkit, frontend/dockerfile).
//!
//! # Layout
//!
//! - this file: whether a file is a Dockerfile, and its scan, instruction by instruction.
//! - [`from`]: `FROM` lines and the build arguments they see.
//! - [`sources`]: the images `COPY --from` and `RUN --mount` read.
//! - [`stages`]: which stages BuildKit builds, and the rows of the others.
//! - [`instructions`]: the text to instructions (directives, continuations, heredocs).
//! - [`lex`]: BuildKit's word expansion (quotes, escapes, `${VAR...}`), bounded.
//! - [`pattern`]: the glob patterns of `${VAR#p}`, `${VAR%p}`, `${VAR/p/r}`.
//!
//! # What is an image
//!
//! What a `FROM` line names, once expanded with the build arguments ([`from`]), and what a
//! `COPY --from` or a `RUN --mount from=` names ([`sources`]), unless it names a stage or is
//! `scratch`. Only the images of the stages BuildKit builds are judged ([`stages`]).
//!
//! What BuildKit refuses (an unknown instruction, a `FROM` without an image, an invalid
//! substitution) is a row at its line; the rest of the file is still read.

mod from;
mod instructions;
mod lex;
mod pattern;
mod sources;
mod stages;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use crate::limits::MAX_QUOTED;
use crate::{Context, Found, Problem};
use from::{From, automatic, parse_from};
use instructions::{Item, Parsed};
use lex::{Budget, Vars};

/// Every instruction BuildKit knows (frontend/dockerfile/command/command.go).
const INSTRUCTIONS: [&str; 18] = [
    "add",
    "arg",
    "cmd",
    "copy",
    "entrypoint",
    "env",
    "expose",
    "from",
    "healthcheck",
    "label",
    "maintainer",
    "onbuild",
    "run",
    "shell",
    "stopsignal",
    "user",
    "volume",
    "workdir",
];

/// At most [`MAX_QUOTED`] bytes of `text`, cut at a character boundary (`…` marks a cut).
pub(super) fn clip(text: &str) -> String {
    if text.len() <= MAX_QUOTED {
        return text.to_owned();
    }
    let mut end = MAX_QUOTED - '…'.len_utf8();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// A piece of the file inside a sentence: clipped, quoted and escaped.
pub(super) fn quote(text: &str) -> String {
    format!("{:?}", clip(text))
}

/// Go's `strings.ToLower`: each character's simple lower-case mapping.
pub(super) fn lower(text: &str) -> String {
    text.chars()
        .map(|c| c.to_lowercase().next().unwrap_or(c))
        .collect()
}

/// Whether the instructions read as a Dockerfile's: the first is `FROM` or `ARG`, and one
/// is a `FROM`.
fn is_dockerfile(items: &[Item]) -> bool {
    let mut keywords = items.iter().filter_map(|item| match item {
        Item::Instruction(instruction) => Some(instruction.keyword()),
        Item::Refused { .. } => None,
    });
    match keywords.next().as_deref() {
        Some("from") => true,
        Some("arg") => keywords.any(|keyword| keyword == "from"),
        _ => false,
    }
}

/// The images of `text` if it is a Dockerfile (`named_so`: its file name says it is).
pub fn read(name: &str, text: &str, named_so: bool, context: &Context) -> Option<Vec<Found>> {
    // a file that does not start as a Dockerfile is not split into instructions at all: a
    // 1 MiB list would be half a million of them
    if !named_so && !starts_as_dockerfile(text) {
        return None;
    }
    let parsed = instructions::parse(text);
    if !(named_so || is_dockerfile(&parsed.items)) {
        return None;
    }
    let mut scanner = Scanner::new(name, &parsed, context);
    for item in &parsed.items {
        scanner.item(item);
    }
    Some(scanner.finish())
}

/// Whether the first line that is not blank or a comment starts with `FROM` or `ARG`, the
/// first instructions a Dockerfile may have.
fn starts_as_dockerfile(text: &str) -> bool {
    let first = text
        .lines()
        .map(str::trim_start)
        .find(|line| !line.is_empty() && !line.starts_with('#'));
    let keyword = first.and_then(|line| line.split_whitespace().next());
    keyword.is_some_and(|k| k.eq_ignore_ascii_case("FROM") || k.eq_ignore_ascii_case("ARG"))
}

/// A flag's name (without `--`) and value (after the first `=`), as `BFlags.Parse` cuts it.
fn flag_parts(flag: &str) -> (&str, Option<&str>) {
    let flag = flag.strip_prefix("--").unwrap_or(flag);
    match flag.split_once('=') {
        Some((name, value)) => (name, Some(value)),
        None => (flag, None),
    }
}

/// A found reference, checked for what cannot be looked up: template placeholders.
fn image(reference: &str) -> Result<String, Problem> {
    if reference.contains("{{") {
        return Err(Problem::Template(clip(reference)));
    }
    Ok(reference.to_owned())
}

/// One file's scan, instruction by instruction.
struct Scanner<'a> {
    name: &'a str,
    escape: char,
    /// The meta arguments and the automatic ones: what `FROM` lines see.
    vars: Vars,
    budget: Budget,
    /// The parsed `FROM` lines, in order.
    froms: std::vec::IntoIter<Result<From, Problem>>,
    /// Whether a `FROM` was read: the meta arguments are over.
    in_stage: bool,
    /// The stage names declared so far, with their index: what a `FROM` can name (a later
    /// stage of the same name replaces an earlier one, as convert.go `addState` does).
    earlier: HashMap<String, usize>,
    /// Every stage name of the file, with its index: what `COPY --from` and `from=` can name.
    stages: HashMap<String, usize>,
    /// Each stage's name (`None`: unnamed), by index.
    names: Vec<Option<String>>,
    /// The stage being read (the index of the last `FROM` read).
    stage: Option<usize>,
    /// The stages each stage depends on: its base and what its `COPY --from` and
    /// `RUN --mount from=` name.
    deps: Vec<Vec<usize>>,
    /// The stage of each row of `found` (`None` before the first `FROM`).
    row_stages: Vec<Option<usize>>,
    /// The stages, and the sources BuildKit adds after them as it reads `COPY --from` and
    /// `RUN --mount`: what a `--from=<index>` can reach.
    states: usize,
    /// Whether a line that names no image was refused: BuildKit stops at its first error,
    /// and one row says the file does not build (a template would give a row per line).
    refused: bool,
    found: Vec<Found>,
}

impl<'a> Scanner<'a> {
    fn new(name: &'a str, parsed: &Parsed, context: &Context) -> Scanner<'a> {
        let froms: Vec<Result<From, Problem>> = parsed
            .items
            .iter()
            .filter_map(|item| match item {
                Item::Instruction(i) if i.keyword() == "from" => Some(parse_from(i)),
                _ => None,
            })
            .collect();
        let names: Vec<Option<String>> = froms
            .iter()
            .map(|f| f.as_ref().ok().and_then(|f| f.stage.clone()))
            .collect();
        // convert.go `addState`: a later stage of the same name replaces the earlier one
        let stages: HashMap<String, usize> = names
            .iter()
            .enumerate()
            .filter_map(|(index, name)| Some((name.clone()?, index)))
            .collect();
        // convert.go toDispatchState: the target is the last stage unless one is asked for
        let target_stage = match froms.last() {
            Some(Ok(From {
                stage: Some(stage), ..
            })) => stage.clone(),
            _ => "default".to_owned(),
        };
        Scanner {
            name,
            escape: parsed.escape,
            vars: automatic(context, &target_stage),
            budget: Budget::file(),
            states: froms.len(),
            froms: froms.into_iter(),
            in_stage: false,
            earlier: HashMap::new(),
            stages,
            deps: vec![Vec::new(); names.len()],
            names,
            stage: None,
            row_stages: Vec::new(),
            refused: false,
            found: Vec::new(),
        }
    }

    fn row(&mut self, line: usize, image: Result<String, Problem>, platform: Option<String>) {
        self.found.push(Found {
            location: format!("{}:{line}", self.name),
            image,
            platform,
        });
        self.row_stages.push(self.stage);
    }

    fn refuse(&mut self, line: usize, sentence: String) {
        self.row(line, Err(Problem::Dockerfile(sentence)), None);
    }

    fn refuse_line(&mut self, line: usize, sentence: String) {
        self.refuse_file(line, Problem::Dockerfile(sentence));
    }

    /// A problem on a line that names no image: a row for the first one only.
    fn refuse_file(&mut self, line: usize, problem: Problem) {
        if !std::mem::replace(&mut self.refused, true) {
            self.row(line, Err(problem), None);
        }
    }

    fn item(&mut self, item: &Item) {
        let instruction = match item {
            Item::Refused { line, problem } => return self.refuse_file(*line, problem.clone()),
            Item::Instruction(instruction) => instruction,
        };
        let keyword = instruction.keyword();
        match keyword.as_str() {
            "from" => {
                self.in_stage = true;
                self.stage = Some(self.stage.map_or(0, |stage| stage + 1));
                let parsed = self.froms.next();
                self.from(instruction, parsed);
            }
            "arg" => self.arg(instruction),
            "copy" if self.in_stage => self.copy(instruction),
            "run" if self.in_stage => self.run(instruction),
            known if INSTRUCTIONS.contains(&known) => {
                if !self.in_stage {
                    self.refuse_line(
                        instruction.line,
                        format!(
                            "only ARG may come before the first FROM, not {}",
                            quote(&instruction.command)
                        ),
                    );
                }
            }
            _ => self.refuse_line(
                instruction.line,
                format!("unknown instruction {}", quote(&instruction.command)),
            ),
        }
    }
}
