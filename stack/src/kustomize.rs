//! Kustomize's kustomization files, as kustomize reads them: what a kustomization names
//! (its resources and components, to read next) and the image rules it applies to them.
//! Pure: the caller reads the files; [`parse`] reads one file's text and [`apply`] rewrites
//! one image field.
//!
//! A kustomization is decoded with unknown fields refused and field names matched as Go's
//! `encoding/json` matches them, without regard to case (api/types/kustomization.go
//! `Unmarshal`); the deprecated `bases` and `imageTags` are appended to `resources` and
//! `images` (same file, `FixKustomization`).

mod build;
mod image;
#[cfg(test)]
mod tests;

pub(crate) use build::scan;

pub use image::{apply, passes, transform};

use crate::limits::{MAX_EXPANSION, MAX_KUSTOMIZE_ENTRIES};
use crate::yaml::tree::{Id, Tree, Value};
use crate::{Found, Problem};

/// A path a kustomization names, with the line it is written on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    pub line: usize,
}

/// One entry of `images` (api/types/image.go `Image`). An empty value is `None`: kustomize
/// reads an empty string as unset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageRule {
    /// The image name, a Go regexp inserted unescaped (see [`apply`]).
    pub name: String,
    pub new_name: Option<String>,
    pub new_tag: Option<String>,
    pub digest: Option<String>,
    pub tag_suffix: Option<String>,
    pub line: usize,
}

impl ImageRule {
    /// The first character of regexp syntax in the rule's name that mquery does not follow
    /// (groups, classes, repetitions, alternation, anchors, escapes such as `\d`): such a rule
    /// matches nothing in [`apply`], where kustomize may match. `None` when the name is
    /// literal characters, `.` (any character) and escaped punctuation, as real names are,
    /// or when Go's regexp refuses it (kustomize then matches nothing either).
    pub fn unsupported_syntax(&self) -> Option<char> {
        match image::pattern(&self.name) {
            Err(image::Pattern::Beyond(c)) => Some(c),
            Ok(_) | Err(image::Pattern::Invalid) => None,
        }
    }
}

/// What a kustomization names and applies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Kustomization {
    /// `resources`, then the deprecated `bases`: files and directories (kustomizations),
    /// relative to the kustomization's directory, or remote URLs.
    pub resources: Vec<Entry>,
    /// `components`: directories holding `kind: Component` kustomizations.
    pub components: Vec<Entry>,
    /// `images`, then the deprecated `imageTags`, in the order kustomize applies them.
    pub images: Vec<ImageRule>,
}

/// The file names kustomize looks for in a directory (api/konfig/general.go
/// `RecognizedKustomizationFileNames`).
pub const FILE_NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// The fields of a kustomization (api/types/kustomization.go `Kustomization`, with
/// `TypeMeta`'s `apiVersion` and `kind`).
const FIELDS: [&str; 34] = [
    "apiVersion",
    "kind",
    "metadata",
    "openapi",
    "namePrefix",
    "nameSuffix",
    "namespace",
    "commonLabels",
    "labels",
    "commonAnnotations",
    "patchesStrategicMerge",
    "patchesJson6902",
    "patches",
    "images",
    "imageTags",
    "replacements",
    "replicas",
    "vars",
    "sortOptions",
    "resources",
    "components",
    "crds",
    "bases",
    "configMapGenerator",
    "secretGenerator",
    "helmGlobals",
    "helmCharts",
    "helmChartInflationGenerator",
    "generatorOptions",
    "configurations",
    "generators",
    "transformers",
    "validators",
    "buildMetadata",
];

/// The fields of an image rule (api/types/image.go).
const IMAGE_FIELDS: [&str; 5] = ["name", "newName", "newTag", "digest", "tagSuffix"];

/// The fields that make a mapping without `kind` or `apiVersion` a kustomization.
const TELLING_FIELDS: [&str; 5] = ["resources", "bases", "components", "images", "imageTags"];

const API_GROUP: &str = "kustomize.config.k8s.io/";

/// Reads `text` as a kustomization: `None` when it is not one; a problem row (`file:line`
/// and why) when it is one kustomize would refuse, or one past a limit. A kustomization is a
/// single YAML mapping with `kind: Kustomization` or `kind: Component` and an `apiVersion` of
/// `kustomize.config.k8s.io` (either may be left out); or, with neither, one whose every
/// key is a kustomization field and which names resources, components or images. A file
/// that is not YAML is a problem row only when `name` is one of [`FILE_NAMES`].
pub fn parse(name: &str, text: &str) -> Option<Result<Kustomization, Found>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let named = FILE_NAMES.contains(&base);
    let tree = match Tree::load(text) {
        Ok(tree) => tree,
        Err(error) => return named.then(|| Err(crate::yaml::refused(name, error))),
    };
    // kustomize reads one document; a stream of several is Kubernetes YAML
    let [doc] = tree.documents[..] else {
        return None;
    };
    if !tree.is_mapping(doc) {
        return None;
    }
    let file = File { name, tree: &tree };
    let entries = tree.entries(doc);
    match (file.detect(&entries)?, file.read(&entries)) {
        // a mapping that only looks like a kustomization (an image transformer's
        // configuration holds `images:` too) and does not read as one is something else
        (Detected::Fields, Err(_)) if !named => None,
        (_, read) => Some(read),
    }
}

/// What made a document a kustomization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Detected {
    /// Its `kind` or `apiVersion`.
    Declared,
    /// Neither: its fields.
    Fields,
}

/// Whether a key names `field` as Go's `encoding/json` matches names: exactly or without
/// regard to case, with Unicode's simple folding (`bytes.EqualFold`), under which the
/// Kelvin sign is `k` and the long s is `s` (the only non-ASCII letters that fold to ASCII).
fn names(key: &str, field: &str) -> bool {
    let fold = |c: char| match c {
        '\u{212A}' => 'k',
        '\u{17F}' => 's',
        c => c.to_ascii_lowercase(),
    };
    key.chars()
        .map(fold)
        .eq(field.chars().map(|c| c.to_ascii_lowercase()))
}

/// The field of `fields` that `key` names, if any.
fn field_of<'f>(key: &str, fields: &[&'f str]) -> Option<&'f str> {
    fields.iter().copied().find(|field| names(key, field))
}

/// One kustomization file being read.
struct File<'t, 'a> {
    name: &'t str,
    tree: &'t Tree<'a>,
}

impl<'t, 'a> File<'t, 'a> {
    fn row(&self, id: Id, problem: Problem) -> Found {
        Found {
            location: format!("{}:{}", self.name, self.tree.line(id)),
            image: Err(problem),
            platform: None,
        }
    }

    /// A kustomization kustomize refuses: its reason, quoting the file.
    fn invalid(&self, id: Id, reason: String) -> Found {
        // a kustomization that parses as YAML but not as a kustomization
        self.row(id, Problem::Kustomize(reason))
    }

    /// The key's name (its text, at most [`MAX_QUOTED`](crate::limits::MAX_QUOTED)
    /// characters quoted).
    fn key_name(&self, key: Id) -> String {
        crate::excerpt(self.tree.text(key).unwrap_or("(not a string)"))
    }

    /// Whether the document is a kustomization, from its kind, its apiVersion, or else its
    /// fields.
    fn detect(&self, entries: &[(Id, Id)]) -> Option<Detected> {
        let value = |field: &str| {
            entries
                .iter()
                .rev()
                .find(|&&(k, _)| self.tree.text(k).is_some_and(|k| names(k, field)))
                .map(|&(_, v)| self.tree.text(v))
        };
        let kind = value("kind");
        let api = value("apiVersion");
        let known = || {
            entries.iter().all(|&(k, _)| {
                self.tree
                    .text(k)
                    .is_some_and(|k| field_of(k, &FIELDS).is_some())
            })
        };
        let ours_kind = |k: Option<&str>| matches!(k, Some("Kustomization" | "Component"));
        let ours_api = |a: Option<&str>| a.is_some_and(|a| a.starts_with(API_GROUP));
        let telling = || {
            entries.iter().any(|&(k, _)| {
                self.tree
                    .text(k)
                    .is_some_and(|k| field_of(k, &TELLING_FIELDS).is_some())
            })
        };
        match (kind, api) {
            (Some(kind), Some(api)) => {
                (ours_kind(kind) && ours_api(api)).then_some(Detected::Declared)
            }
            (Some(kind), None) => (ours_kind(kind) && known()).then_some(Detected::Declared),
            (None, Some(api)) => (ours_api(api) && known()).then_some(Detected::Declared),
            (None, None) => (known() && telling()).then_some(Detected::Fields),
        }
    }

    /// The kustomization's resources, components and image rules, or why kustomize refuses
    /// it.
    fn read(&self, entries: &[(Id, Id)]) -> Result<Kustomization, Found> {
        let mut k = Kustomization::default();
        let (mut resources, mut bases, mut images, mut image_tags) = (None, None, None, None);
        let (mut kind, mut api) = (None, None);
        for &(key, value) in entries {
            let field = self.tree.text(key).and_then(|k| field_of(k, &FIELDS));
            // a later key of the same field replaces an earlier one, as go-yaml's map does
            match field {
                None => {
                    let (key_id, key) = (key, self.key_name(key));
                    return Err(self.invalid(key_id, format!("unknown field {key:?}")));
                }
                Some("resources") => resources = Some((key, value)),
                Some("bases") => bases = Some((key, value)),
                Some("components") => k.components = self.paths(key, value, 0)?,
                Some("images") => images = Some((key, value)),
                Some("imageTags") => image_tags = Some((key, value)),
                Some("kind") => kind = Some(value),
                Some("apiVersion") => api = Some(value),
                Some(_) => {}
            }
        }
        self.enforce(kind, api)?;
        if let Some((key, value)) = resources {
            k.resources = self.paths(key, value, 0)?;
        }
        if let Some((key, value)) = bases {
            let more = self.paths(key, value, k.resources.len())?;
            k.resources.extend(more);
        }
        if let Some((key, value)) = images {
            k.images = self.rules(key, value, 0)?;
        }
        if let Some((key, value)) = image_tags {
            let more = self.rules(key, value, k.images.len())?;
            k.images.extend(more);
        }
        Ok(k)
    }

    /// kustomize's check of `kind` and `apiVersion` (api/types/kustomization.go
    /// `EnforceFields`): a Kustomization is `v1beta1`, a Component `v1alpha1`.
    fn enforce(&self, kind: Option<Id>, api: Option<Id>) -> Result<(), Found> {
        let kind_text = kind.and_then(|id| self.tree.text(id)).unwrap_or("");
        if let Some(id) = kind
            && !matches!(kind_text, "Kustomization" | "Component")
        {
            let reason = "kind should be Kustomization or Component".to_owned();
            return Err(self.invalid(id, reason));
        }
        let required = match kind_text {
            "Component" => "kustomize.config.k8s.io/v1alpha1",
            _ => "kustomize.config.k8s.io/v1beta1",
        };
        match api {
            Some(id) if self.tree.text(id) != Some(required) => {
                let kind = if kind_text.is_empty() {
                    "Kustomization"
                } else {
                    kind_text
                };
                Err(self.invalid(id, format!("apiVersion for {kind} should be {required}")))
            }
            _ => Ok(()),
        }
    }

    /// The items of a list, checked: a sequence (or null), at most the limit with the
    /// `before` items already read, each item accepted by `item`.
    fn list<T>(
        &self,
        key: Id,
        value: Id,
        before: usize,
        mut item: impl FnMut(Id) -> Result<Option<T>, Found>,
    ) -> Result<Vec<T>, Found> {
        if self.is_null(value) {
            return Ok(Vec::new());
        }
        let field = self.key_name(key);
        let items = self.tree.items(value);
        if !matches!(self.tree.node(value).value, Value::Sequence(_)) {
            return Err(self.invalid(value, format!("{field} is not a list")));
        }
        if before + items.len() > MAX_KUSTOMIZE_ENTRIES {
            return Err(self.row(
                key,
                Problem::Limit(format!(
                    "a kustomization with more than {MAX_KUSTOMIZE_ENTRIES} entries in {field} \
                     ({}); a check reads at most that",
                    before + items.len()
                )),
            ));
        }
        let mut out = Vec::with_capacity(items.len());
        for &id in items {
            if let Some(read) = item(id)? {
                out.push(read);
            }
        }
        Ok(out)
    }

    /// A list of paths (`resources`, `bases`, `components`): strings; a null item is skipped
    /// (Go leaves an empty string, which names no file).
    fn paths(&self, key: Id, value: Id, before: usize) -> Result<Vec<Entry>, Found> {
        self.list(key, value, before, |id| {
            Ok(self.string(id, "a path")?.map(|path| Entry {
                path,
                line: self.tree.line(id),
            }))
        })
    }

    /// A list of image rules: mappings of [`IMAGE_FIELDS`], each a string or null.
    fn rules(&self, key: Id, value: Id, before: usize) -> Result<Vec<ImageRule>, Found> {
        self.list(key, value, before, |id| {
            let mut rule = ImageRule {
                line: self.tree.line(id),
                ..ImageRule::default()
            };
            if self.is_null(id) {
                return Ok(Some(rule));
            }
            if !self.tree.is_mapping(id) {
                return Err(self.invalid(id, "an image rule is not a mapping".to_owned()));
            }
            for (k, v) in self.tree.entries(id) {
                let Some(field) = self.tree.text(k).and_then(|k| field_of(k, &IMAGE_FIELDS)) else {
                    let key = self.key_name(k);
                    return Err(self.invalid(k, format!("unknown field {key:?} in an image rule")));
                };
                let text = self.string(v, field)?.filter(|t| !t.is_empty());
                match field {
                    "name" => rule.name = text.unwrap_or_default(),
                    "newName" => rule.new_name = text,
                    "newTag" => rule.new_tag = text,
                    "digest" => rule.digest = text,
                    _ => rule.tag_suffix = text,
                }
            }
            Ok(Some(rule))
        })
    }

    /// A string field: its text, `None` for null, refused when it is another scalar or a
    /// collection (Go's decoder refuses a number or a boolean for a string) or longer than
    /// [`MAX_EXPANSION`].
    fn string(&self, id: Id, what: &str) -> Result<Option<String>, Found> {
        if self.is_null(id) {
            return Ok(None);
        }
        let Some(text) = self.tree.text(id) else {
            return Err(self.invalid(id, format!("{what} is not a string")));
        };
        if text.len() > MAX_EXPANSION {
            return Err(self.row(
                id,
                Problem::Limit(format!(
                    "a kustomization string of {} bytes, more than the {MAX_EXPANSION} a check \
                     reads: \"{}…\"",
                    text.len(),
                    crate::excerpt(text)
                )),
            ));
        }
        Ok(Some(text.to_owned()))
    }

    /// A plain null: empty, `~`, or `null` in any of YAML's spellings.
    fn is_null(&self, id: Id) -> bool {
        matches!(&self.tree.node(id).value,
            Value::Scalar { text, plain: true } if matches!(text.as_ref(), "" | "~" | "null" | "Null" | "NULL"))
    }
}
