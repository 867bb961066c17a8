//! A kustomization's images, as `kustomize build` would leave them (docs/cli.md, "Files it
//! reads"): its resources and components read through [`crate::files`] (a file is a
//! resource; a directory holds a kustomization of its own, api/internal/target/
//! kusttarget.go `accumulateResources`), every container's image found at its key path, and
//! the image rules applied to it: the rules of the kustomization that names the resource
//! first, then those of each kustomization that includes that one, outwards (an overlay's
//! `images:` rewrites its bases' resources). Rows are the resources' `file:line`, the image
//! as kustomize writes it.
//!
//! Remote resources (URLs, `github.com/...`) are not fetched: a row says so. Without files
//! (the service) each resource is such a row. Every read is within the scan's [`Budget`].

use super::{Entry, FILE_NAMES, ImageRule, Kustomization, parse, passes, transform};
use crate::files::{Budget, join};
use crate::yaml::CONTAINER_FIELDS;
use crate::yaml::tree::{Id, Tree};
use crate::{Context, Found, Kind, Problem, Rows, Scan};

/// The scan of the kustomization `name`, already parsed.
pub(crate) fn scan(name: &str, parsed: Result<Kustomization, Found>, context: &Context) -> Scan {
    let mut rows = Rows::default();
    match parsed {
        Err(row) => rows.push(row),
        Ok(kustomization) => {
            let mut builder = Builder {
                budget: context.files.clone().map(Budget::new),
                rewrites: MAX_REWRITES,
                rows: &mut rows,
            };
            // the chain holds paths as joined, so a kustomization naming its own directory
            // is caught at once
            builder.kustomization(
                name,
                &kustomization,
                &mut Vec::new(),
                &mut vec![join("", name)],
            );
        }
    }
    rows.scan(Kind::Kustomization)
}

/// The most image-rule applications one kustomization's scan makes (each compiles and matches
/// a rule's name, of at most [`MAX_RULE_NAME`] bytes).
const MAX_REWRITES: usize = 500_000;

/// The longest rule name applied: no longer name matches a valid reference (a repository name
/// is at most 255 characters), so a longer one is left out instead of matched.
const MAX_RULE_NAME: usize = 512;

/// Whether the file `path` is in or below the directory of the kustomization `name`.
fn within(name: &str, path: &str) -> bool {
    let root = join(name, ".");
    match root.as_str() {
        "." => !path.starts_with("../") && path != ".." && !path.starts_with('/'),
        root => path
            .strip_prefix(root)
            .is_some_and(|rest| rest.starts_with('/')),
    }
}

struct Builder<'r> {
    budget: Option<Budget>,
    /// Rule applications left ([`MAX_REWRITES`]).
    rewrites: usize,
    rows: &'r mut Rows,
}

impl Builder<'_> {
    fn push(&mut self, row: Found) {
        if self.rows.room() {
            self.rows.push(row);
        }
    }

    /// The resources and components of the kustomization `name`; `outer`: the rule lists of
    /// the kustomizations including it, the nearest first; `chain`: the kustomization files
    /// read so far, this one last. Components come first: their image rules apply to this
    /// kustomization's resources before its own rules (kusttarget.go runs the components'
    /// transformers on the accumulated resources, then its own).
    fn kustomization(
        &mut self,
        name: &str,
        kustomization: &Kustomization,
        outer: &mut Vec<Vec<ImageRule>>,
        chain: &mut Vec<String>,
    ) {
        let mut rules = Vec::new();
        let mut resources: Vec<(String, String)> = Vec::new();
        for entry in &kustomization.components {
            let Some((file, text)) = self.read(name, entry, chain) else {
                continue;
            };
            match parse(&file, &text) {
                Some(Ok(component)) => {
                    rules.extend(component.images.iter().cloned());
                    for inner in &component.resources {
                        if let Some(read) = self.read(&file, inner, chain) {
                            resources.push(read);
                        }
                    }
                }
                Some(Err(row)) => self.push(row),
                None => self.push(problem_row(
                    format!("{name}:{}", entry.line),
                    Problem::Kustomize(format!(
                        "the component {} holds no kustomization",
                        output::clip(&entry.path, crate::limits::MAX_QUOTED)
                    )),
                )),
            }
        }
        rules.extend(kustomization.images.iter().cloned());
        rules.retain(|rule| rule.name.len() <= MAX_RULE_NAME);
        outer.insert(0, rules);
        for entry in &kustomization.resources {
            if let Some(read) = self.read(name, entry, chain) {
                resources.push(read);
            }
        }
        for (file, text) in resources {
            match parse(&file, &text) {
                Some(Ok(inner)) => {
                    chain.push(file.clone());
                    self.kustomization(&file, &inner, outer, chain);
                    chain.pop();
                }
                Some(Err(row)) => self.push(row),
                None => self.resource(&file, &text, outer),
            }
        }
        outer.remove(0);
    }

    /// The file an entry of the kustomization `name` names (a directory: its kustomization),
    /// read; `None` with a row saying why not (remote, no files, unreadable, a cycle).
    fn read(&mut self, name: &str, entry: &Entry, chain: &[String]) -> Option<(String, String)> {
        let at = format!("{name}:{}", entry.line);
        let shown = output::clip(&entry.path, crate::limits::MAX_QUOTED);
        let remote = ["://", "github.com/", "git@"];
        if remote.iter().any(|r| entry.path.contains(r)) {
            let why =
                format!("the remote resource {shown} is not fetched: check it where it is built");
            self.push(problem_row(at, Problem::Unread(why)));
            return None;
        }
        let Some(budget) = self.budget.as_mut() else {
            self.push(problem_row(at, crate::files::not_read(&entry.path)));
            return None;
        };
        let path = join(name, &entry.path);
        let depth = chain.len();
        // a directory holds a kustomization (api/konfig/general.go's names); a file is a
        // resource, and must be in or below the kustomization's directory (kustomize's
        // default load restrictor, api/internal/loader/loadrestrictions.go `RootOnly`)
        let read = if budget.files.is_dir(&path) {
            FILE_NAMES
                .iter()
                .find_map(|f| {
                    let inner = join("", &format!("{path}/{f}"));
                    budget.read(&inner, depth).ok().map(|text| (inner, text))
                })
                .ok_or_else(|| {
                    format!(
                        "unable to find one of 'kustomization.yaml', 'kustomization.yml' or \
                         'Kustomization' in directory '{path}'"
                    )
                })
        } else if !within(name, &path) {
            let root = join(name, ".");
            self.push(problem_row(
                at,
                Problem::Kustomize(format!(
                    "security; file '{}' is not in or below '{}'",
                    output::clip(&path, crate::limits::MAX_QUOTED),
                    output::clip(&root, crate::limits::MAX_QUOTED)
                )),
            ));
            return None;
        } else {
            budget.read(&path, depth).map(|text| (path.clone(), text))
        };
        match read {
            Ok((file, _)) if chain.contains(&file) => {
                let mut steps = chain.to_vec();
                steps.push(file);
                self.push(problem_row(
                    at,
                    Problem::Kustomize(format!("cycle detected: {}", steps.join(" includes "))),
                ));
                None
            }
            Ok(read) => Some(read),
            Err(e) => {
                self.push(problem_row(at, crate::files::unreadable(&entry.path, &e)));
                None
            }
        }
    }

    /// The containers of the resource file `name`, their images rewritten by `levels` of
    /// rules (the nearest kustomization's first).
    fn resource(&mut self, name: &str, text: &str, levels: &[Vec<ImageRule>]) {
        let tree = match Tree::load(text) {
            Ok(tree) => tree,
            Err(e) => return self.push(crate::yaml::refused(name, e)),
        };
        for &doc in &tree.documents {
            // a `kind: List` item is a resource of its own
            let roots: Vec<Id> = match tree.get(doc, "kind").and_then(|k| tree.text(k)) {
                Some("List") => tree
                    .get(doc, "items")
                    .map(|i| tree.items(i).to_vec())
                    .unwrap_or_default(),
                _ => vec![doc],
            };
            for root in roots {
                let kind = tree
                    .get(root, "kind")
                    .and_then(|k| tree.text(k))
                    .unwrap_or_default()
                    .to_owned();
                self.walk(name, &tree, root, &kind, &mut Vec::new(), levels);
            }
        }
    }

    /// Every container image under `id`, with its key path from the resource's root (`[]`
    /// for a sequence's item). The recursion is bounded by the tree's expanded depth.
    fn walk<'t>(
        &mut self,
        name: &str,
        tree: &'t Tree,
        id: Id,
        kind: &str,
        path: &mut Vec<&'t str>,
        levels: &[Vec<ImageRule>],
    ) {
        if tree.is_mapping(id) {
            for (key, value) in tree.entries(id) {
                let Some(key) = tree.text(key) else {
                    continue;
                };
                path.push(key);
                if CONTAINER_FIELDS.contains(&key) {
                    path.push("[]");
                    for &container in tree.items(value) {
                        if let Some(image) = tree.get(container, "image") {
                            path.push("image");
                            self.image(name, tree, image, kind, path, levels);
                            path.pop();
                        }
                    }
                    path.pop();
                } else {
                    self.walk(name, tree, value, kind, path, levels);
                }
                path.pop();
            }
        } else {
            path.push("[]");
            for &item in tree.items(id) {
                self.walk(name, tree, item, kind, path, levels);
            }
            path.pop();
        }
    }

    fn image(
        &mut self,
        name: &str,
        tree: &Tree,
        image: Id,
        kind: &str,
        path: &[&str],
        levels: &[Vec<ImageRule>],
    ) {
        // a row past the cap is counted, never computed
        if !self.rows.room() {
            return;
        }
        let passes = passes(kind, path);
        let rewrites: usize = levels.iter().map(|rules| rules.len() * passes).sum();
        if rewrites > self.rewrites {
            self.rewrites = 0;
            return self.rows.push(Found {
                location: format!("{name}:{}", tree.line(image)),
                image: Err(Problem::Limit(format!(
                    "the image rules were applied more than {MAX_REWRITES} times in this check"
                ))),
                platform: None,
            });
        }
        self.rewrites -= rewrites;
        let rewritten = crate::yaml::text_field(tree, image).and_then(|written| {
            let mut image = written.to_owned();
            for rules in levels {
                image = transform(rules, &image, passes);
                if image.len() > crate::limits::MAX_EXPANSION {
                    return Err(Problem::Limit(format!(
                        "the image rules make an image longer than {} bytes",
                        crate::limits::MAX_EXPANSION
                    )));
                }
            }
            crate::reference(&image)
        });
        self.rows.push(Found {
            location: format!("{name}:{}", tree.line(image)),
            image: rewritten,
            platform: None,
        });
    }
}

/// A row at `location` that names no image, and why.
fn problem_row(location: String, problem: Problem) -> Found {
    Found {
        location,
        image: Err(problem),
        platform: None,
    }
}
