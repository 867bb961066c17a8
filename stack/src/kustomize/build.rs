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
use crate::yaml::tree::{Id, Tree};
use crate::{Context, Found, Kind, Problem, Rows, Scan};

/// The pod-spec fields whose items are containers (the Kubernetes scan's, yaml/mod.rs): all
/// are images the workload runs; kustomize rewrites the first two ([`passes`]).
const CONTAINER_FIELDS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

/// The scan of the kustomization `name`, already parsed.
pub(crate) fn scan(name: &str, parsed: Result<Kustomization, Found>, context: &Context) -> Scan {
    let mut rows = Rows::default();
    match parsed {
        Err(row) => rows.push(row),
        Ok(kustomization) => {
            let mut builder = Builder {
                budget: context.files.clone().map(Budget::new),
                rows: &mut rows,
            };
            builder.kustomization(
                name,
                &kustomization,
                &mut Vec::new(),
                &mut vec![name.to_owned()],
            );
        }
    }
    rows.scan(Kind::Kustomization)
}

struct Builder<'r> {
    budget: Option<Budget>,
    rows: &'r mut Rows,
}

impl Builder<'_> {
    fn push(&mut self, row: Found) {
        if self.rows.room() {
            self.rows.push(row);
        }
    }

    fn unread(&mut self, location: String, reason: String) {
        self.push(Found {
            location,
            image: Err(Problem::Unread(reason)),
            platform: None,
        });
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
                None => self.push(Found {
                    location: format!("{name}:{}", entry.line),
                    image: Err(Problem::Kustomize(format!(
                        "the component {} holds no kustomization",
                        output::clip(&entry.path, crate::limits::MAX_QUOTED)
                    ))),
                    platform: None,
                }),
            }
        }
        rules.extend(kustomization.images.iter().cloned());
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
            self.unread(
                at,
                format!("the remote resource {shown} is not fetched: check it where it is built"),
            );
            return None;
        }
        let Some(budget) = self.budget.as_mut() else {
            self.unread(
                at,
                format!(
                    "names the file {shown}, which only mquery check on the command line reads"
                ),
            );
            return None;
        };
        let path = join(name, &entry.path);
        let depth = chain.len();
        // a file is a resource; otherwise a directory's kustomization
        let read = match budget.read(&path, depth) {
            Ok(text) => Ok((path.clone(), text)),
            Err(first) => FILE_NAMES
                .iter()
                .find_map(|f| {
                    let inner = format!("{path}/{f}");
                    budget.read(&inner, depth).ok().map(|text| (inner, text))
                })
                .ok_or(first),
        };
        match read {
            Ok((file, _)) if chain.contains(&file) => {
                let mut steps = chain.to_vec();
                steps.push(file);
                self.push(Found {
                    location: at,
                    image: Err(Problem::Kustomize(format!(
                        "cycle detected: {}",
                        steps.join(" includes ")
                    ))),
                    platform: None,
                });
                None
            }
            Ok(read) => Some(read),
            Err(e) => {
                self.unread(at, format!("{shown}: {}", output::printable(&e)));
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
        let passes = passes(kind, path);
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
        self.push(Found {
            location: format!("{name}:{}", tree.line(image)),
            image: rewritten,
            platform: None,
        });
    }
}
