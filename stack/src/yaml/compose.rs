//! Compose files (docs/cli.md, "Files it reads"): `services.*.image`, interpolated as
//! compose interpolates, with the files a Compose file brings in, as compose-go's loader
//! reads them:
//! - `extends` (loader/extends.go): `extends: NAME` (this file) or `{service: NAME, file:
//!   PATH}`; a service without its own `image` takes its base's, recursively; a cycle is
//!   refused ("Circular reference", loader.go), and so is a base that does not exist;
//! - `include` (loader/include.go): a list of paths, or of `{path, env_file,
//!   project_directory}`; each file is read as a Compose file of its own, interpolated with
//!   the including file's variables and then its `env_file`s' (the including file's win:
//!   types/mapping.go `Merge`); an include cycle is refused ("include cycle detected").
//!
//! Paths are relative to the naming file's directory ([`crate::files::join`]). Other files
//! are read only where the scan has them ([`crate::Context::files`]: the command line); the
//! service, sent one file, lists such a row as not checked. Everything read is bounded by
//! [`Budget`]; a file brought in by both is read each time (and bounded each time).

use std::collections::HashMap;

use super::tree::{Id, Tree};
use super::{location, refused, text_field};
use crate::files::{Budget, join};
use crate::interpolate::interpolate_vars;
use crate::limits::{MAX_EXPANSION, MAX_RESOLVE_WORK};
use crate::{Context, Found, Problem, Rows, reference};

type Vars = HashMap<String, String>;

/// The services of the Compose document `doc` of the file `name`, and of the files it
/// includes.
pub(super) fn scan(name: &str, tree: &Tree, doc: Id, context: &Context, rows: &mut Rows) {
    let mut reader = Reader {
        budget: context.files.clone().map(Budget::new),
        work: MAX_RESOLVE_WORK,
        rows,
    };
    // the chain holds paths as joined (`./compose.yaml` is `compose.yaml`), so a file that
    // includes itself is caught at once
    reader.file(
        name,
        tree,
        doc,
        context.vars.as_ref(),
        &mut vec![join("", name)],
    );
}

struct Reader<'r> {
    budget: Option<Budget>,
    /// Service entries still to look at while resolving `extends` ([`MAX_RESOLVE_WORK`]): a
    /// lookup costs the entries it passes, so no file of many services extending long chains
    /// costs more.
    work: usize,
    rows: &'r mut Rows,
}

/// What a service's `extends` gives it.
enum Inherited {
    /// The base's image row (its file and line).
    Image(Found),
    /// The base is built locally.
    Built,
    /// The chain names no image and no build.
    Nothing,
}

impl Reader<'_> {
    fn push(&mut self, row: Found) {
        if self.rows.room() {
            self.rows.push(row);
        }
    }

    fn problem(&mut self, name: &str, tree: &Tree, at: Id, problem: Problem) {
        self.push(Found {
            location: location(name, tree, at),
            image: Err(problem),
            platform: None,
        });
    }

    /// The file `name` (whose tree is `tree`): its includes, then its services. `chain`: the
    /// files including it, itself last.
    fn file(
        &mut self,
        name: &str,
        tree: &Tree,
        doc: Id,
        vars: Option<&Vars>,
        chain: &mut Vec<String>,
    ) {
        if let Some(include) = tree.get(doc, "include") {
            self.includes(name, tree, include, vars, chain);
        }
        let Some(services) = tree.get(doc, "services").filter(|&s| tree.is_mapping(s)) else {
            return;
        };
        for (key, service) in tree.entries(services) {
            if !tree.is_mapping(service) || !self.rows.room() {
                continue;
            }
            // a platform that does not interpolate is kept as written: the check says it
            // does not parse, rather than judging the image by no platform
            let platform = tree
                .get(service, "platform")
                .and_then(|p| tree.text(p))
                .map(|p| match p.len() > MAX_EXPANSION {
                    true => crate::excerpt(p),
                    false => interpolate_vars(p, vars).unwrap_or_else(|_| p.to_owned()),
                });
            let inherited = match tree.get(service, "image") {
                Some(image) => Inherited::Image(image_row(name, tree, image, vars)),
                None => match tree.get(service, "extends") {
                    Some(extends) => {
                        let own = tree.text(key).unwrap_or_default().to_owned();
                        let mut seen = vec![(name.to_owned(), own)];
                        match self.extends(name, tree, extends, vars, chain.len(), &mut seen) {
                            // its own `build:` when the bases name no image
                            Ok(Inherited::Nothing) if tree.get(service, "build").is_some() => {
                                Inherited::Built
                            }
                            Ok(inherited) => inherited,
                            Err(row) => Inherited::Image(row),
                        }
                    }
                    None if tree.get(service, "build").is_some() => Inherited::Built,
                    None => Inherited::Nothing,
                },
            };
            let row = match inherited {
                Inherited::Image(row) => Found { platform, ..row },
                Inherited::Built => Found {
                    location: location(name, tree, key),
                    image: Err(Problem::BuiltLocally),
                    platform,
                },
                Inherited::Nothing => continue,
            };
            self.push(row);
        }
    }

    /// The image a service of `name` inherits through its `extends` (the node `extends`);
    /// `Err`: a row saying why it cannot be known. `seen`: the (file, service) pairs of the
    /// chain so far, the extending service last.
    fn extends(
        &mut self,
        name: &str,
        tree: &Tree,
        extends: Id,
        vars: Option<&Vars>,
        depth: usize,
        seen: &mut Vec<(String, String)>,
    ) -> Result<Inherited, Found> {
        let at = location(name, tree, extends);
        let fail = |problem: Problem| Found {
            location: at.clone(),
            image: Err(problem),
            platform: None,
        };
        let (base, file) = match tree.text(extends) {
            Some(base) => (Some(base), None),
            None => (
                tree.get(extends, "service").and_then(|s| tree.text(s)),
                tree.get(extends, "file").and_then(|f| tree.text(f)),
            ),
        };
        let own = seen.last().map(|(_, s)| s.clone()).unwrap_or_default();
        // the wording of compose-go loader/extends.go
        let Some(base) = base else {
            return Err(fail(compose_error(format!(
                "extends.{own}.service is required"
            ))));
        };
        let Some(file) = file else {
            let services = tree.documents.iter().find_map(|&d| tree.get(d, "services"));
            return self.base(&at, name, tree, services, base, vars, depth, seen);
        };
        let path = join(name, file);
        let text = self.other_file(&path, depth + 1).map_err(fail)?;
        let other = Tree::load(&text).map_err(|e| refused(&path, e))?;
        let services = other
            .documents
            .iter()
            .find_map(|&d| other.get(d, "services"));
        self.base(&at, &path, &other, services, base, vars, depth + 1, seen)
    }

    /// The service `base` among `services` of the file `path` (tree `tree`), extended from
    /// the place `at`.
    #[allow(clippy::too_many_arguments)]
    fn base(
        &mut self,
        at: &str,
        path: &str,
        tree: &Tree,
        services: Option<Id>,
        base: &str,
        vars: Option<&Vars>,
        depth: usize,
        seen: &mut Vec<(String, String)>,
    ) -> Result<Inherited, Found> {
        let fail = |problem: Problem| Found {
            location: at.to_owned(),
            image: Err(problem),
            platform: None,
        };
        let (from_file, own) = seen.last().cloned().unwrap_or_default();
        let spent = || {
            Problem::Limit(format!(
                "resolving extends looked at more than {MAX_RESOLVE_WORK} services"
            ))
        };
        if self.work == 0 {
            return Err(fail(spent()));
        }
        let entries = services.map(|s| tree.entries(s)).unwrap_or_default();
        let position = entries
            .iter()
            .position(|&(k, _)| tree.text(k) == Some(base));
        // the copy of the entries is the cost, wherever the base is
        let cost = entries.len();
        if cost > self.work {
            self.work = 0;
            return Err(fail(spent()));
        }
        self.work -= cost;
        let Some(found) = position.map(|p| entries[p].1) else {
            return Err(fail(compose_error(format!(
                "cannot extend service {own:?} in {from_file}: service {base:?} not found in {path}"
            ))));
        };
        // loader.go's cycle check; a chain as long as the include depth allows ends too
        let cycle = seen.iter().any(|(f, s)| f == path && s == base);
        if cycle || seen.len() > 4 * crate::limits::MAX_INCLUDE_DEPTH {
            let mut steps: Vec<String> = seen.iter().map(|(f, s)| format!("{s} in {f}")).collect();
            steps.push(format!("{base} in {path}"));
            return Err(fail(compose_error(format!(
                "Circular reference: {}",
                steps.join(" extends ")
            ))));
        }
        seen.push((path.to_owned(), base.to_owned()));
        if let Some(image) = tree.get(found, "image") {
            return Ok(Inherited::Image(image_row(path, tree, image, vars)));
        }
        if let Some(extends) = tree.get(found, "extends") {
            return self.extends(path, tree, extends, vars, depth, seen);
        }
        Ok(match tree.get(found, "build") {
            Some(_) => Inherited::Built,
            None => Inherited::Nothing,
        })
    }

    /// The `include` list of the file `name`.
    fn includes(
        &mut self,
        name: &str,
        tree: &Tree,
        include: Id,
        vars: Option<&Vars>,
        chain: &mut Vec<String>,
    ) {
        if tree.items(include).is_empty()
            && !matches!(tree.node(include).value, super::tree::Value::Sequence(_))
        {
            // compose-go loader/include.go
            self.problem(
                name,
                tree,
                include,
                compose_error("`include` must be a list".into()),
            );
            return;
        }
        for &item in tree.items(include) {
            let (paths, env_files) = match tree.text(item) {
                Some(path) => (vec![path], Vec::new()),
                None => (
                    texts(tree, tree.get(item, "path")),
                    texts(tree, tree.get(item, "env_file")),
                ),
            };
            if paths.is_empty() {
                self.problem(
                    name,
                    tree,
                    item,
                    compose_error("an include names no path".into()),
                );
            }
            for path in paths {
                let path = join(name, path);
                if let Err(problem) = self.include(name, &path, &env_files, vars, chain) {
                    self.problem(name, tree, item, problem);
                }
            }
        }
    }

    /// Reads the included file `path` (named by `name`) and scans it as a Compose file.
    fn include(
        &mut self,
        name: &str,
        path: &str,
        env_files: &[&str],
        vars: Option<&Vars>,
        chain: &mut Vec<String>,
    ) -> Result<(), Problem> {
        if chain.iter().any(|f| f == path) {
            let mut cycle = chain.clone();
            cycle.push(path.to_owned());
            return Err(compose_error(format!(
                "include cycle detected: {}",
                cycle.join(" include ")
            )));
        }
        let text = self.other_file(path, chain.len())?;
        // the including file's variables win over the included file's env files
        let mut own: Option<Vars> = vars.cloned();
        if let Some(own) = own.as_mut() {
            for env_file in env_files {
                let env_path = join(name, env_file);
                let env = self.other_file(&env_path, chain.len())?;
                let mut read = Vars::new();
                let lookup = |k: &str| vars.and_then(|v| v.get(k).cloned());
                crate::dotenv::parse_into(&env, &lookup, &mut read).map_err(|e| {
                    compose_error(format!("{env_path}: {}", output::printable(&e.to_string())))
                })?;
                for (k, v) in read {
                    own.entry(k).or_insert(v);
                }
            }
        }
        let tree = match Tree::load(&text) {
            Ok(tree) => tree,
            Err(e) => {
                self.push(refused(path, e));
                return Ok(());
            }
        };
        chain.push(path.to_owned());
        for &doc in &tree.documents {
            self.file(path, &tree, doc, own.as_ref(), chain);
        }
        chain.pop();
        Ok(())
    }

    /// The text of another file, when the scan may read it.
    fn other_file(&mut self, path: &str, depth: usize) -> Result<String, Problem> {
        match self.budget.as_mut() {
            None => Err(crate::files::not_read(path)),
            Some(budget) => budget
                .read(path, depth)
                .map_err(|e| crate::files::unreadable(path, &e)),
        }
    }
}

/// The row of an `image` field of the file `name`, interpolated with `vars`.
fn image_row(name: &str, tree: &Tree, image: Id, vars: Option<&Vars>) -> Found {
    Found {
        location: location(name, tree, image),
        image: text_field(tree, image)
            .and_then(|t| interpolate_vars(t, vars).and_then(|i| reference(&i))),
        platform: None,
    }
}

/// A path field: a string, or a list of them.
fn texts<'t>(tree: &'t Tree, id: Option<Id>) -> Vec<&'t str> {
    let Some(id) = id else {
        return Vec::new();
    };
    match tree.text(id) {
        Some(one) => vec![one],
        None => tree
            .items(id)
            .iter()
            .filter_map(|&i| tree.text(i))
            .collect(),
    }
}

/// A refusal in compose-go's words.
fn compose_error(message: String) -> Problem {
    Problem::Unparsable(message)
}

#[cfg(test)]
mod tests;
