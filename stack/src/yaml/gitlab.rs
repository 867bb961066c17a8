//! GitLab CI (`.gitlab-ci.yml`): the images each job runs in and its services (docs/cli.md,
//! "Files it reads"), as GitLab resolves them (gitlabhq lib/gitlab/ci/config/entry/root.rb,
//! job.rb, hidden.rb, default.rb, image.rb, service.rb; lib/gitlab/ci/config/extendable/
//! entry.rb):
//! - a job is a top-level mapping under a key that is not a keyword of root.rb; a key starting
//!   with `.` is a hidden job, never run, used through `extends`;
//! - a job's `image` is a string, or a mapping whose `name` is the image (image.rb); its
//!   `services` a list of strings or of mappings with `name` (service.rb);
//! - `extends` (a name or a list) deep-merges the bases in order, the job's own keys on top:
//!   a later base wins over an earlier one; at most 10 levels, no cycle (extendable/entry.rb);
//! - a job without `image` or `services` takes them from `default:`, or from the deprecated
//!   top-level keys (default.rb, root.rb);
//! - `$NAME` and `${NAME}` in an image name are the job's `variables`, then the file's
//!   (gitlab-runner common/variables.go `ExpandValue`; GitLab expands a variable's own
//!   references first). A variable the file does not set (GitLab's predefined `CI_*` ones
//!   included) is known only when the job runs: the row says which.
//!
//! One row per place an image is written and name it resolves to: a template used by ten jobs
//! is one row, at the template's line.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};

use super::tree::{Id, Tree};
use super::{location, text_field};
use crate::limits::{MAX_EXPANSION, MAX_GITLAB_STEPS};
use crate::{Found, Problem, Rows};

/// The top-level keys that are not jobs (root.rb; `types` is the old name of `stages`).
const KEYWORDS: [&str; 11] = [
    "default",
    "include",
    "before_script",
    "image",
    "services",
    "after_script",
    "variables",
    "stages",
    "cache",
    "workflow",
    "types",
];

/// The keys that make a mapping a job: a script (job.rb), a trigger (bridge.rb), or a base to
/// extend (the job's script may come from it).
const JOB_KEYS: [&str; 4] = ["script", "run", "trigger", "extends"];

/// extendable/entry.rb `MAX_NESTING_LEVELS`.
const MAX_EXTENDS: usize = 10;

/// How deep variables may refer to variables.
const MAX_VARIABLE_DEPTH: usize = 10;

/// The jobs of the document `doc`: (name, mapping), hidden ones included.
fn jobs<'t>(tree: &'t Tree, doc: Id) -> Vec<(&'t str, Id)> {
    tree.entries(doc)
        .into_iter()
        .filter_map(|(key, value)| {
            let name = tree.text(key)?;
            (!KEYWORDS.contains(&name) && tree.is_mapping(value)).then_some((name, value))
        })
        .collect()
}

/// Whether `doc` is a GitLab CI configuration: it has a job, or `stages` beside an image.
pub(super) fn is_gitlab_ci(tree: &Tree, doc: Id) -> bool {
    if !tree.is_mapping(doc) {
        return false;
    }
    let has_job = jobs(tree, doc)
        .iter()
        .any(|&(_, job)| JOB_KEYS.iter().any(|k| tree.get(job, k).is_some()));
    has_job
        || (tree.get(doc, "stages").is_some()
            && (tree.get(doc, "image").is_some() || tree.get(doc, "default").is_some()))
        || includes(tree, doc)
            .iter()
            .any(|&item| INCLUDE_KEYS.iter().any(|k| tree.get(item, k).is_some()))
}

/// The keys of a GitLab `include:` item (gitlabhq lib/gitlab/ci/config/entry/include.rb);
/// Compose's items have `path` instead.
const INCLUDE_KEYS: [&str; 6] = [
    "local",
    "project",
    "file",
    "template",
    "remote",
    "component",
];

/// The items of the document's `include:` (one item, or a list).
fn includes(tree: &Tree, doc: Id) -> Vec<Id> {
    match tree.get(doc, "include") {
        Some(include) if tree.is_mapping(include) || tree.text(include).is_some() => vec![include],
        Some(include) => tree.items(include).to_vec(),
        None => Vec::new(),
    }
}

/// The work one file's resolution may do: `extends` bases visited, variables followed,
/// services resolved, in all its jobs ([`MAX_GITLAB_STEPS`]). Past it the remaining jobs are one row that says so.
struct Steps(Cell<usize>);

impl Steps {
    fn spend(&self, n: usize) -> Result<(), Problem> {
        let left = self.0.get();
        if left < n {
            self.0.set(0);
            return Err(Problem::Limit(format!(
                "the file's resolution budget ({MAX_GITLAB_STEPS} steps of extends, variables \
                 and services) is spent"
            )));
        }
        self.0.set(left - n);
        Ok(())
    }
}

/// What every job falls back to, resolved once: `default:`'s and the top-level `image` and
/// `services`, and the file's `variables`.
struct Fallback<'t> {
    image: Option<Id>,
    services: Option<Id>,
    variables: HashMap<&'t str, Id>,
}

/// The images and services of every job that runs, in the order written.
pub(super) fn scan(name: &str, tree: &Tree, doc: Id, rows: &mut Rows) {
    let jobs = jobs(tree, doc);
    let by_name: HashMap<&str, Id> = jobs.iter().copied().collect();
    let default = tree.get(doc, "default").filter(|&d| tree.is_mapping(d));
    let defaults: Vec<Id> = default.into_iter().chain([doc]).collect();
    let fallback = Fallback {
        image: defaults.iter().find_map(|&l| image_name(tree, l)),
        services: defaults.iter().find_map(|&l| tree.get(l, "services")),
        variables: tree
            .get(doc, "variables")
            .map(|v| {
                tree.entries(v)
                    .into_iter()
                    .filter_map(|(k, v)| Some((tree.text(k)?, v)))
                    .collect()
            })
            .unwrap_or_default(),
    };
    // the files it includes are not read: each is a row naming it, listed, not a problem
    for item in includes(tree, doc) {
        let named = INCLUDE_KEYS
            .iter()
            .find_map(|k| tree.get(item, k).map(|v| (*k, v)))
            .and_then(|(k, v)| Some(format!("{k} {}", tree.text(v)?)))
            .or_else(|| tree.text(item).map(str::to_owned))
            .unwrap_or_else(|| "a file".to_owned());
        if rows.room() {
            rows.push(Found {
                location: location(name, tree, item),
                image: Err(Problem::Elsewhere(format!(
                    "includes {}, which mquery does not read: check it too",
                    output::clip(&named, crate::limits::MAX_QUOTED)
                ))),
                platform: None,
            });
        }
    }
    let steps = Steps(Cell::new(MAX_GITLAB_STEPS));
    let mut seen: HashSet<(Id, Result<String, Problem>)> = HashSet::new();
    let mut push = |rows: &mut Rows, at: Id, image: Result<String, Problem>| {
        if seen.insert((at, image.clone())) && rows.room() {
            rows.push(Found {
                location: location(name, tree, at),
                image: image.and_then(|i| crate::reference(&i)),
                platform: None,
            });
        }
    };
    for &(job_name, job) in &jobs {
        if job_name.starts_with('.') {
            continue;
        }
        // every job spends a step at least: the loop ends with the budget
        if steps.0.get() == 0 {
            break;
        }
        // the mappings a key is looked up in, first to last: the job and its bases
        let mut chain = Vec::new();
        if let Err((at, problem)) =
            bases(tree, &by_name, job, 0, &mut Vec::new(), &mut chain, &steps)
        {
            push(rows, at, Err(problem));
            continue;
        }
        let variables = |var: &str| variable(tree, &chain, &fallback, var);
        // image: the first layer naming one (a mapping without `name` merges with the next)
        let image = chain
            .iter()
            .find_map(|&layer| image_name(tree, layer))
            .or(fallback.image);
        if let Some(image) = image {
            push(rows, image, resolve(tree, image, &variables, &steps));
        }
        // services: lists are replaced, not merged: the first layer that has them
        let services = chain
            .iter()
            .find_map(|&l| tree.get(l, "services"))
            .or(fallback.services);
        for &service in services.map_or(&[][..], |s| tree.items(s)) {
            if let Err(limit) = steps.spend(1) {
                push(rows, service, Err(limit));
                break;
            }
            let named = match tree.is_mapping(service) {
                true => tree.get(service, "name"),
                false => Some(service),
            };
            match named {
                Some(named) => push(rows, named, resolve(tree, named, &variables, &steps)),
                None => push(rows, service, Err(Problem::NoImage)),
            }
        }
    }
}

/// The node naming the image of the mapping `layer`: its `image`, or that mapping's `name`.
fn image_name(tree: &Tree, layer: Id) -> Option<Id> {
    let image = tree.get(layer, "image")?;
    match tree.is_mapping(image) {
        true => tree.get(image, "name"),
        false => Some(image),
    }
}

/// Appends `job` and, through `extends`, its bases to `chain` in precedence order (a later
/// base before an earlier one); a base already in the chain is not walked again (its keys
/// are already there, ahead of it). `Err`: where and why the extends cannot be resolved.
fn bases(
    tree: &Tree,
    by_name: &HashMap<&str, Id>,
    job: Id,
    depth: usize,
    path: &mut Vec<Id>,
    chain: &mut Vec<Id>,
    steps: &Steps,
) -> Result<(), (Id, Problem)> {
    steps.spend(1).map_err(|limit| (job, limit))?;
    if path.contains(&job) {
        return Err((
            job,
            Problem::Gitlab("circular dependency detected in `extends`".into()),
        ));
    }
    if chain.contains(&job) {
        return Ok(());
    }
    chain.push(job);
    let Some(extends) = tree.get(job, "extends") else {
        return Ok(());
    };
    if depth >= MAX_EXTENDS {
        return Err((
            extends,
            Problem::Gitlab(format!("`extends` nested deeper than {MAX_EXTENDS} levels")),
        ));
    }
    let names: Vec<Id> = match tree.items(extends) {
        [] => vec![extends],
        items => items.to_vec(),
    };
    path.push(job);
    for &base in names.iter().rev() {
        let Some(base_name) = tree.text(base) else {
            return Err((
                base,
                Problem::Gitlab("`extends` names something that is not a job name".into()),
            ));
        };
        let Some(&base_job) = by_name.get(base_name) else {
            return Err((
                base,
                Problem::Gitlab(format!(
                    "unknown key in `extends`: {:?}",
                    crate::excerpt(base_name)
                )),
            ));
        };
        bases(tree, by_name, base_job, depth + 1, path, chain, steps)?;
    }
    path.pop();
    Ok(())
}

/// The value of the variable `var` for a job: its own and its bases' `variables` (first in
/// `chain` wins), then the file's; a value is a string, a number, or a mapping with `value`.
fn variable(tree: &Tree, chain: &[Id], fallback: &Fallback, var: &str) -> Option<String> {
    let value = chain
        .iter()
        .find_map(|&layer| tree.get(tree.get(layer, "variables")?, var))
        .or_else(|| fallback.variables.get(var).copied())?;
    let value = match tree.is_mapping(value) {
        true => tree.get(value, "value")?,
        false => value,
    };
    match &tree.node(value).value {
        // a value longer than any image is cut where the expansion will refuse it, so no
        // long value is copied whole
        super::tree::Value::Scalar { text, .. } => {
            let mut end = text.len().min(MAX_EXPANSION + 1);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            Some(text[..end].to_owned())
        }
        _ => None,
    }
}

/// The image name written at `at`, its variables expanded.
fn resolve(
    tree: &Tree,
    at: Id,
    variables: &dyn Fn(&str) -> Option<String>,
    steps: &Steps,
) -> Result<String, Problem> {
    let text = text_field(tree, at)?;
    let mut out = String::new();
    expand(text, variables, 0, &mut out, steps)?;
    Ok(out)
}

/// `$NAME`, `${NAME}` and `$$` (a `$`) in `text`, each variable's value expanded in turn, into
/// `out`: at most [`MAX_EXPANSION`] bytes and [`MAX_VARIABLE_DEPTH`] levels; every variable
/// followed costs a step, so empty values referenced a billion times end too.
fn expand(
    text: &str,
    variables: &dyn Fn(&str) -> Option<String>,
    depth: usize,
    out: &mut String,
    steps: &Steps,
) -> Result<(), Problem> {
    let too_long = || {
        Problem::Limit(format!(
            "an image name expands to more than {MAX_EXPANSION} bytes"
        ))
    };
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, next) = if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(end) => (&braced[..end], &braced[end + 1..]),
                None => return Err(Problem::Syntax(crate::excerpt(text))),
            }
        } else if let Some(next) = after.strip_prefix('$') {
            out.push('$');
            rest = next;
            continue;
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        if name.is_empty() {
            out.push('$');
        } else {
            steps.spend(1)?;
            let value =
                variables(name).ok_or_else(|| Problem::UnresolvedVariable(name.to_owned()))?;
            if depth >= MAX_VARIABLE_DEPTH {
                return Err(Problem::Limit(format!(
                    "variables refer to variables more than {MAX_VARIABLE_DEPTH} levels deep"
                )));
            }
            expand(&value, variables, depth + 1, out, steps)?;
        }
        if out.len() > MAX_EXPANSION {
            return Err(too_long());
        }
        rest = next;
    }
    out.push_str(rest);
    match out.len() > MAX_EXPANSION {
        true => Err(too_long()),
        false => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use crate::{Context, Kind, Problem, ScanRow, image_at, rows, scan};

    fn gitlab_rows(text: &str) -> Vec<ScanRow> {
        let scan = scan(".gitlab-ci.yml", text, &Context::default());
        assert_eq!(scan.kind, Kind::GitlabCi, "{text}");
        rows(&scan)
    }

    #[test]
    fn jobs_defaults_and_services() {
        // the forms of GitLab's own templates (Docker.gitlab-ci.yml, Jobs/Build.gitlab-ci.yml)
        let text = r#"default:
  image: ruby:3.3
  services:
    - postgres:16
stages: [build, test]
build:
  stage: build
  image: 'registry.gitlab.com/gitlab-org/cluster-integration/auto-build-image:v1.0.0'
  services:
    - name: 'docker:20.10.6-dind'
      command: ['--tls=false']
  script: [build]
test:
  stage: test
  script: [rake]
lint:
  image:
    name: golangci/golangci-lint:v1.59
    entrypoint: [""]
  services: []
  script: [lint]
"#;
        assert_eq!(
            gitlab_rows(text),
            [
                image_at(
                    ".gitlab-ci.yml:8",
                    "registry.gitlab.com/gitlab-org/cluster-integration/auto-build-image:v1.0.0",
                    None
                ),
                image_at(".gitlab-ci.yml:10", "docker:20.10.6-dind", None),
                image_at(".gitlab-ci.yml:2", "ruby:3.3", None),
                image_at(".gitlab-ci.yml:4", "postgres:16", None),
                image_at(".gitlab-ci.yml:18", "golangci/golangci-lint:v1.59", None),
            ]
        );
    }

    #[test]
    fn extends_and_variables() {
        // SAST.gitlab-ci.yml's shape: hidden templates, chains of extends, a map-form image
        // whose name is built from the job's variables
        let text = r#"variables:
  PREFIX: "$CI_TEMPLATE_REGISTRY_HOST/security-products"
  HOST: registry.example.com
  SUFFIX: ""
.analyzer:
  image: alpine:3.20
  script: [/analyzer run]
.pinned:
  extends: .analyzer
  image:
    name: "$HOST/tools/$TOOL:${TOOL_TAG}$SUFFIX"
a:
  extends: .pinned
  variables:
    TOOL: semgrep
    TOOL_TAG: "5"
b:
  extends: [.pinned, .analyzer]
c:
  extends: .pinned
  variables: {TOOL: semgrep, TOOL_TAG: 5}
d:
  image: "$PREFIX/x:1 $$HOME"
  script: [x]
loop1:
  extends: loop2
  script: [x]
loop2:
  extends: loop1
e:
  extends: .missing
"#;
        assert_eq!(
            gitlab_rows(text),
            [
                image_at(
                    ".gitlab-ci.yml:11",
                    "registry.example.com/tools/semgrep:5",
                    None
                ),
                // b: the later base wins
                image_at(".gitlab-ci.yml:6", "alpine:3.20", None),
                (
                    ".gitlab-ci.yml:23".into(),
                    Err(Problem::UnresolvedVariable(
                        "CI_TEMPLATE_REGISTRY_HOST".into()
                    )),
                    None
                ),
                (
                    ".gitlab-ci.yml:26".into(),
                    Err(Problem::Gitlab(
                        "circular dependency detected in `extends`".into()
                    )),
                    None
                ),
                (
                    ".gitlab-ci.yml:29".into(),
                    Err(Problem::Gitlab(
                        "circular dependency detected in `extends`".into()
                    )),
                    None
                ),
                (
                    ".gitlab-ci.yml:31".into(),
                    Err(Problem::Gitlab(
                        "unknown key in `extends`: \".missing\"".into()
                    )),
                    None
                ),
            ]
        );
    }

    #[test]
    fn expansion_is_bounded() {
        let mut text = String::from("variables:\n  V0: aaaaaaaaaaaaaaaa\n");
        for i in 1..10 {
            text.push_str(&format!("  V{i}: \"$V{p}$V{p}$V{p}$V{p}\"\n", p = i - 1));
        }
        text.push_str("job:\n  image: $V9\n  script: [x]\n");
        let rows = gitlab_rows(&text);
        assert!(
            matches!(&rows[0].1, Err(Problem::Limit(m)) if m.contains("4096")),
            "{rows:?}"
        );
        let deep: String = (0..20).map(|i| format!("  W{i}: $W{}\n", i + 1)).collect();
        let text = format!("variables:\n{deep}job:\n  image: $W0\n  script: [x]\n");
        assert!(matches!(&gitlab_rows(&text)[0].1, Err(Problem::Limit(m)) if m.contains("levels")));
    }

    /// A base reached many ways is walked once; a billion references to an empty variable
    /// end at the file's step budget (both found by a review, before any limit held them).
    #[test]
    fn repeated_bases_and_empty_variables_are_bounded() {
        let mut text = String::from(".t0: {image: alpine, script: [x]}\n");
        for n in 1..10 {
            let bases = vec![format!(".t{}", n - 1); 10].join(", ");
            text.push_str(&format!(".t{n}: {{extends: [{bases}]}}\n"));
        }
        text.push_str(&format!(
            "job: {{extends: [{}], script: [x]}}\n",
            [".t9"; 10].join(", ")
        ));
        assert_eq!(
            gitlab_rows(&text),
            [image_at(".gitlab-ci.yml:1", "alpine", None)]
        );
        let mut text = String::from("variables:\n  V0: \"\"\n");
        for i in 1..=9 {
            text.push_str(&format!(
                "  V{i}: \"{}\"\n",
                format!("$V{}", i - 1).repeat(100)
            ));
        }
        text.push_str("job:\n  image: \"x$V9\"\n  script: [x]\n");
        let rows = gitlab_rows(&text);
        assert!(
            matches!(&rows[0].1, Err(Problem::Limit(m)) if m.contains("budget")),
            "{rows:?}"
        );
    }

    /// GitLab's includes are named, not read; a file of includes alone is GitLab's, not a
    /// Compose file.
    #[test]
    fn includes_are_listed() {
        let text = "include:\n  - template: Auto-DevOps.gitlab-ci.yml\n  - local: ci/build.yml\nvariables:\n  A: b\n";
        assert_eq!(
            gitlab_rows(text),
            [
                (
                    ".gitlab-ci.yml:2".into(),
                    Err(Problem::Elsewhere(
                        "includes template Auto-DevOps.gitlab-ci.yml, which mquery does not read: check it too".into()
                    )),
                    None
                ),
                (
                    ".gitlab-ci.yml:3".into(),
                    Err(Problem::Elsewhere(
                        "includes local ci/build.yml, which mquery does not read: check it too".into()
                    )),
                    None
                ),
            ]
        );
    }

    #[test]
    fn a_compose_file_is_not_gitlab_ci() {
        let compose = "services:\n  web:\n    image: nginx\n";
        assert_eq!(
            scan("compose.yaml", compose, &Context::default()).kind,
            Kind::Compose
        );
        let top = "image: alpine\nservices: [docker:dind]\nbuild:\n  script: [make]\n";
        assert_eq!(
            gitlab_rows(top),
            [
                image_at(".gitlab-ci.yml:1", "alpine", None),
                image_at(".gitlab-ci.yml:2", "docker:dind", None),
            ]
        );
    }
}
