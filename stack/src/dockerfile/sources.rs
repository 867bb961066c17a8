//! The images `COPY --from` and `RUN --mount` read.
//!
//! `COPY --from=X` (`ADD` has no `--from`): `X` as written (BuildKit refuses a substitution
//! there), unless it is a stage name (any stage, case-insensitive), a stage index, or
//! `scratch` (convert.go `toCommand`, `findStateByName`, `findStateByIndex`).
//! `RUN --mount=...,from=X,...`: likewise, except that a number is a name there, not an
//! index (convert_runmount.go `detectRunMount`; instructions/commands_runmount.go
//! `parseMount`).

use super::instructions::Instruction;
use super::lex;
use super::{Scanner, flag_parts, image, lower, quote};

/// The fields of a `--mount` value, as BuildKit splits them (github.com/tonistiigi/go-csvvalue
/// `Fields`, encoding/csv's rules: a field starting with `"` is quoted, `""` inside it is a
/// quote, a quote elsewhere is refused).
fn csv_fields(line: &str) -> Result<Vec<String>, &'static str> {
    if line.is_empty() {
        return Err("it is empty");
    }
    let mut fields = Vec::new();
    let mut rest = line;
    'fields: loop {
        let Some(quoted) = rest.strip_prefix('"') else {
            let (field, after) = match rest.find(',') {
                Some(comma) => (&rest[..comma], Some(&rest[comma + 1..])),
                None => (rest, None),
            };
            if field.contains('"') {
                return Err("a `\"` inside a field that does not start with one");
            }
            fields.push(field.to_owned());
            match after {
                Some(after) => {
                    rest = after;
                    continue;
                }
                None => break,
            }
        };
        rest = quoted;
        let mut field = String::new();
        loop {
            let Some(close) = rest.find('"') else {
                return Err("a quoted field without its closing `\"`");
            };
            field.push_str(&rest[..close]);
            rest = &rest[close + 1..];
            if let Some(after) = rest.strip_prefix('"') {
                field.push('"');
                rest = after;
            } else if let Some(after) = rest.strip_prefix(',') {
                fields.push(field);
                rest = after;
                continue 'fields;
            } else if rest.is_empty() {
                fields.push(field);
                break 'fields;
            } else {
                return Err("text after a quoted field's closing `\"`");
            }
        }
    }
    Ok(fields)
}

impl Scanner<'_> {
    /// `COPY --from=X` (instructions/parse.go `parseCopy`, convert.go `toCommand`).
    pub(super) fn copy(&mut self, instruction: &Instruction) {
        let mut source = None;
        for flag in &instruction.flags {
            let (name, value) = flag_parts(flag);
            if name != "from" {
                continue;
            }
            if source.is_some() {
                return self.refuse(instruction.line, "COPY takes one --from".to_owned());
            }
            let Some(value) = value else {
                return self.refuse(
                    instruction.line,
                    "COPY --from needs a value: --from=stage-or-image".to_owned(),
                );
            };
            source = Some(value);
        }
        let Some(source) = source.filter(|s| !s.is_empty()) else {
            return;
        };
        match lex::without_variables(source, self.escape) {
            Err(problem) => return self.row(instruction.line, Err(problem), None),
            Ok(read) if read != source => {
                return self.refuse(
                    instruction.line,
                    format!(
                        "BuildKit reads COPY --from as written, without substitutions or escapes \
                         (a stage FROM the meta ARG can stand in): {}",
                        quote(source)
                    ),
                );
            }
            Ok(_) => {}
        }
        if let Ok(index) = source.parse::<i64>() {
            let state = usize::try_from(index)
                .ok()
                .filter(|&state| state < self.states);
            match state {
                // convert.go `findStateByIndex`: the stages come first, then the sources
                Some(state) if state < self.names.len() => self.depend(state),
                Some(_) => {}
                None => self.refuse(
                    instruction.line,
                    format!(
                        "COPY --from={index} names no stage: there are {} before it",
                        self.states
                    ),
                ),
            }
            return;
        }
        self.source(instruction.line, source);
    }

    /// `RUN --mount=...` (instructions/commands_runmount.go, convert_runmount.go).
    pub(super) fn run(&mut self, instruction: &Instruction) {
        for flag in &instruction.flags {
            let (name, value) = flag_parts(flag);
            if name != "mount" {
                continue;
            }
            match value {
                Some(value) => self.mount(instruction.line, value),
                None => self.refuse(
                    instruction.line,
                    "RUN --mount needs a value: --mount=type=...".to_owned(),
                ),
            }
        }
    }

    fn mount(&mut self, line: usize, value: &str) {
        let fields = match csv_fields(value) {
            Ok(fields) => fields,
            Err(why) => {
                return self.refuse(
                    line,
                    format!(
                        "RUN --mount does not read as comma-separated fields ({why}): {}",
                        quote(value)
                    ),
                );
            }
        };
        let mut source = "";
        let mut kind = None;
        for field in &fields {
            let Some((key, value)) = field.split_once('=') else {
                continue;
            };
            match lower(key).as_str() {
                "from" => {
                    if value.find('$').is_some_and(|at| at + 1 != value.len()) {
                        return self.refuse(
                            line,
                            format!(
                                "BuildKit reads --mount from= as written, without substitutions \
                                 (a stage FROM the meta ARG can stand in): {}",
                                quote(value)
                            ),
                        );
                    }
                    source = value;
                }
                "type" => kind = Some(lower(value)),
                _ => {}
            }
        }
        if !source.is_empty() && matches!(kind.as_deref(), Some("secret" | "ssh")) {
            return self.refuse(
                line,
                format!(
                    "RUN --mount type={} takes no from=",
                    kind.unwrap_or_default()
                ),
            );
        }
        // a mount without from= reads from scratch
        self.source(line, if source.is_empty() { "scratch" } else { source });
    }

    /// The source of a `COPY --from` or a mount: a stage, `scratch`, or an image.
    fn source(&mut self, line: usize, source: &str) {
        // convert.go `findStateByName` (any stage, case-insensitive): a dependency
        if let Some(&stage) = self.stages.get(&lower(source)) {
            self.depend(stage);
            return;
        }
        self.states += 1;
        if source != "scratch" {
            self.row(line, image(source), None);
        }
    }
}
