//! Compose files and Kubernetes YAML, read with a bounded loader ([`tree`]) on saphyr-parser's
//! YAML 1.2 events, so every value keeps its line and no file can exhaust the stack or the
//! memory. Where strict YAML 1.2 and docker compose's parser (go-yaml v3) disagree, the
//! Compose reading follows go-yaml ([`lenient`]).

mod compose;
mod github;
mod gitlab;
mod lenient;
pub mod tree;

use crate::limits::MAX_EXPANSION;
use crate::{Context, Found, Kind, Problem, Rows, Scan, reference, too_long};
use tree::{Id, LoadError, Tree};

/// The pod-spec fields that hold containers, wherever a pod template sits (Pod, Deployment,
/// StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, a `kind: List` of any of them).
pub(crate) const CONTAINER_FIELDS: [&str; 3] =
    ["containers", "initContainers", "ephemeralContainers"];

fn location(name: &str, tree: &Tree, id: Id) -> String {
    format!("{name}:{}", tree.line(id))
}

/// A field that must be a string naming an image: its text, or why it is not one.
pub(crate) fn text_field<'t>(tree: &'t Tree, id: Id) -> Result<&'t str, Problem> {
    match tree.text(id) {
        Some(t) if t.len() > MAX_EXPANSION => Err(too_long(t)),
        Some(t) => Ok(t),
        None => Err(Problem::NotAString),
    }
}

/// The problem row of a file that was not read.
pub(crate) fn refused(name: &str, error: LoadError) -> Found {
    let line = error.line();
    Found {
        location: format!("{name}:{line}"),
        image: Err(match error {
            LoadError::Syntax { message, .. } => Problem::Unparsable(message),
            LoadError::Limit { message, .. } => Problem::Limit(message),
        }),
        platform: None,
    }
}

/// Compose or Kubernetes: `Ok(None)` when the YAML is neither; `Err` (a problem row) when it
/// does not parse or reaches a limit.
pub fn scan(name: &str, text: &str, context: &Context) -> Result<Option<Scan>, Found> {
    let adjusted;
    let tree = match Tree::load(text) {
        Ok(tree) => tree,
        Err(error @ LoadError::Limit { .. }) => return Err(refused(name, error)),
        Err(error) => match lenient::adjust(text) {
            // what go-yaml accepts and strict YAML 1.2 does not: read once more, adjusted
            Some(text) => {
                adjusted = text;
                Tree::load(&adjusted).map_err(|_| refused(name, error))?
            }
            None => return Err(refused(name, error)),
        },
    };
    let docs = &tree.documents;
    // Compose's `services` is a mapping (GitLab CI's is a list); a file may also hold only
    // `include:` (compose-spec's top-level include: a list of paths or of mappings with
    // `path`; GitLab CI's `include:` comes with jobs, so GitLab's is read as GitLab's first)
    let compose_doc = docs.iter().copied().find(|&d| {
        tree.get(d, "services").is_some_and(|s| tree.is_mapping(s))
            || (tree
                .get(d, "include")
                .is_some_and(|i| !tree.items(i).is_empty())
                && only_compose_keys(&tree, d)
                && !gitlab::is_gitlab_ci(&tree, d))
    });
    if let Some(doc) = compose_doc {
        // compose-go refuses a mapping that names a key twice (go-yaml's "already defined")
        if let Some((line, key, first)) = tree.duplicate_key() {
            return Err(Found {
                location: format!("{name}:{line}"),
                image: Err(Problem::Unparsable(format!(
                    "mapping key {:?} already defined at line {first}",
                    output::clip(key, crate::limits::MAX_QUOTED)
                ))),
                platform: None,
            });
        }
        let mut rows = Rows::default();
        compose::scan(name, &tree, doc, context, &mut rows);
        return Ok(Some(rows.scan(Kind::Compose)));
    }
    let kubernetes = docs
        .iter()
        .any(|&d| tree.get(d, "kind").is_some() && tree.get(d, "apiVersion").is_some());
    if !kubernetes {
        return Ok(ci(name, &tree));
    }
    let mut rows = Rows::default();
    for &doc in docs {
        containers(name, &tree, doc, &mut rows);
    }
    Ok(Some(rows.scan(Kind::Kubernetes)))
}

/// The top-level keys of a Compose file (compose-spec's schema: compose-go
/// schema/compose-spec.json), and extensions (`x-`).
const COMPOSE_KEYS: [&str; 9] = [
    "version", "name", "include", "services", "networks", "volumes", "configs", "secrets", "models",
];

/// Whether every top-level key of `doc` is one a Compose file may have.
fn only_compose_keys(tree: &Tree, doc: Id) -> bool {
    tree.entries(doc).iter().all(|&(k, _)| {
        tree.text(k)
            .is_some_and(|k| COMPOSE_KEYS.contains(&k) || k.starts_with("x-"))
    })
}

/// A CI configuration: a GitHub Actions workflow, or GitLab CI's (whose configuration is the
/// last document when a `spec:` header comes first: gitlabhq lib/gitlab/ci/config/yaml/
/// documents.rb); `None` when it is neither.
fn ci(name: &str, tree: &Tree) -> Option<Scan> {
    let mut rows = Rows::default();
    let workflows: Vec<Id> = tree
        .documents
        .iter()
        .copied()
        .filter(|&d| github::is_workflow(tree, d))
        .collect();
    if !workflows.is_empty() {
        for doc in workflows {
            github::scan(name, tree, doc, &mut rows);
        }
        return Some(rows.scan(Kind::GithubWorkflow));
    }
    let doc = match tree.documents.as_slice() {
        [header, config] if tree.get(*header, "spec").is_some() => *config,
        [config] => *config,
        _ => return None,
    };
    if !gitlab::is_gitlab_ci(tree, doc) {
        return None;
    }
    gitlab::scan(name, tree, doc, &mut rows);
    Some(rows.scan(Kind::GitlabCi))
}

/// Every container of every pod template under `id`, in document order. The recursion is
/// bounded by the tree's expanded depth ([`crate::limits::MAX_DEPTH`]).
fn containers(name: &str, tree: &Tree, id: Id, rows: &mut Rows) {
    if tree.is_mapping(id) {
        for (key, value) in tree.entries(id) {
            let is_containers = tree
                .text(key)
                .is_some_and(|k| CONTAINER_FIELDS.contains(&k));
            let list = tree.items(value);
            if is_containers && !list.is_empty() {
                for &container in list {
                    if let Some(image) = tree.get(container, "image")
                        && rows.room()
                    {
                        rows.push(Found {
                            location: location(name, tree, image),
                            image: tree.text(image).map_or(Err(Problem::NotAString), reference),
                            platform: None,
                        });
                    }
                }
            } else {
                containers(name, tree, value, rows);
            }
        }
    } else {
        for &item in tree.items(id) {
            containers(name, tree, item, rows);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ScanRow, image_at, rows};

    #[test]
    fn compose_services() {
        let compose = r#"
x-common: &common
  restart: always
services:
  web:
    <<: *common
    image: "nginx:1.27-alpine"
    platform: linux/arm64
  api:
    build: ./api
  db:
    image: postgres:${PG_VERSION:-16}
  cache:
    image: redis:${REDIS_TAG}
  odd:
    image: 42
"#;
        assert_eq!(
            compose_rows(compose),
            [
                image_at("compose.yaml:7", "nginx:1.27-alpine", Some("linux/arm64")),
                ("compose.yaml:9".into(), Err(Problem::BuiltLocally), None),
                image_at("compose.yaml:12", "postgres:16", None),
                (
                    "compose.yaml:14".into(),
                    Err(Problem::UnresolvedVariable("REDIS_TAG".into())),
                    None
                ),
                ("compose.yaml:16".into(), Err(Problem::NotAString), None),
            ]
        );
    }

    #[test]
    fn kubernetes_documents_and_lists() {
        let k8s = r#"apiVersion: v1
kind: List
items:
- apiVersion: apps/v1
  kind: StatefulSet
  spec:
    template:
      spec:
        initContainers: [{name: init, image: ghcr.io/org/migrate:v3}]
        containers:
        - {name: app, image: ghcr.io/org/app:v3}
---
apiVersion: v1
kind: Pod
spec:
  ephemeralContainers:
  - name: debug
    image: "{{ .Values.image }}"
"#;
        assert_eq!(
            rows_of("-", k8s, Kind::Kubernetes),
            [
                image_at("-:9", "ghcr.io/org/migrate:v3", None),
                image_at("-:11", "ghcr.io/org/app:v3", None),
                (
                    "-:18".into(),
                    Err(Problem::Template("{{ .Values.image }}".into())),
                    None
                ),
            ]
        );
    }

    #[test]
    fn broken_yaml_is_a_row() {
        let err = scan(
            "bad.yaml",
            "services:\n  web: [unclosed\n",
            &Default::default(),
        )
        .expect_err("broken");
        assert!(err.location.starts_with("bad.yaml:"), "{err:?}");
        assert!(matches!(err.image, Err(Problem::Unparsable(_))));
        assert_eq!(
            scan("x.yaml", "just: a mapping\n", &Default::default()).expect("parses"),
            None
        );
    }

    /// The rows of `text` read as the file `name`, which is a `kind` file.
    fn rows_of(name: &str, text: &str, kind: Kind) -> Vec<ScanRow> {
        let scan = scan(name, text, &Context::default())
            .expect("parses")
            .expect("Compose or Kubernetes");
        assert_eq!(scan.kind, kind);
        rows(&scan)
    }

    fn compose_rows(text: &str) -> Vec<ScanRow> {
        rows_of("compose.yaml", text, Kind::Compose)
    }

    fn refusal(text: &str) -> Problem {
        let row = scan("attack.yaml", text, &Context::default()).expect_err("refused");
        row.image.expect_err("a problem")
    }

    #[test]
    fn merge_keys_as_compose_applies_them() {
        // go-yaml v3 decode.go: the mapping's own keys win; of the merged mappings, the first
        // written wins; merged mappings carry their own merges
        let text = r#"x-base: &base
  image: ghcr.io/org/base:1
  platform: linux/arm64
x-other: &other
  image: ghcr.io/org/other:1
x-deep: &deep
  <<: *base
  restart: always
services:
  shared:
    <<: *base
  own-wins:
    <<: *base
    image: ghcr.io/org/own:1
  first-wins:
    <<: [*other, *base]
  nested:
    <<: *deep
  "<<": {}
"#;
        assert_eq!(
            compose_rows(text),
            [
                image_at("compose.yaml:2", "ghcr.io/org/base:1", Some("linux/arm64")),
                image_at("compose.yaml:14", "ghcr.io/org/own:1", Some("linux/arm64")),
                image_at("compose.yaml:5", "ghcr.io/org/other:1", Some("linux/arm64")),
                image_at("compose.yaml:2", "ghcr.io/org/base:1", Some("linux/arm64")),
            ]
        );
    }

    #[test]
    fn merged_services_and_bad_merges() {
        let text = "x-more: &more\n  db:\n    image: postgres:16\nservices:\n  <<: *more\n  web:\n    image: nginx\n";
        let images: Vec<_> = compose_rows(text).into_iter().map(|r| r.1).collect();
        assert_eq!(images, [Ok("nginx".into()), Ok("postgres:16".into())]);
        assert_eq!(
            refusal("services:\n  web:\n    <<: [1, 2]\n    image: nginx\n"),
            Problem::Unparsable("map merge requires map or sequence of maps as the value".into())
        );
        assert_eq!(
            refusal("a: &a [*a]\n"),
            Problem::Unparsable("an alias refers to a node that contains it".into())
        );
    }

    #[test]
    fn closing_bracket_at_the_key_indentation() {
        // docker compose (go-yaml v3) runs this file; strict YAML 1.2 refuses the `]`
        let text = "services:\n  web:\n    image: nginx:1.27\n    command: [\n    \"serve\",\n    ]\n    ports: [\n      \"80:80\"\n  ]\n  api:\n    image: ghcr.io/org/api:2\n";
        assert!(Tree::load(text).is_err(), "strict YAML refuses it");
        let images: Vec<_> = compose_rows(text).into_iter().map(|r| (r.0, r.1)).collect();
        assert_eq!(
            images,
            [
                ("compose.yaml:3".into(), Ok("nginx:1.27".into())),
                ("compose.yaml:11".into(), Ok("ghcr.io/org/api:2".into())),
            ]
        );
    }

    #[test]
    fn crlf_line_ends() {
        let text = "services:\r\n  web:\r\n    image: nginx:1.27\r\n";
        assert_eq!(
            compose_rows(text),
            [image_at("compose.yaml:3", "nginx:1.27", None)]
        );
    }

    /// The limits hold while the file is read: each attack is refused with the limit's
    /// sentence, and no attack gets to allocate what it asks for.
    #[test]
    fn attacks_are_refused_by_their_limits() {
        let limit = |p: Problem, what: &str| match p {
            Problem::Limit(m) => assert!(m.contains(what), "{m}"),
            other => panic!("{what}: {other:?}"),
        };
        // block sequences nested 5,000 deep (10 KB), compact and indented
        limit(
            refusal(&("- ".repeat(5000) + "x\n")),
            "nested deeper than 128",
        );
        let indented: String = (0..300).map(|i| format!("{}-\n", " ".repeat(i))).collect();
        limit(refusal(&indented), "nested deeper than 128");
        limit(refusal(&"[".repeat(5000)), "nested deeper than 128");
        limit(refusal(&"{a: ".repeat(5000)), "nested deeper than 128");
        // 9 levels of 9 aliases
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
        for level in 1..9 {
            let prev = format!("*a{}", level - 1);
            let items = vec![prev; 9].join(", ");
            bomb.push_str(&format!("a{level}: &a{level} [{items}]\n"));
        }
        bomb.push_str("kind: Pod\napiVersion: v1\nspec: {containers: *a8}\n");
        assert!(bomb.len() < 1024);
        limit(refusal(&bomb), "aliases expand to more than 100000");
        // the same through merge keys
        let mut merges = String::from("m0: &m0 {image: x}\n");
        for level in 1..9 {
            let items = vec![format!("*m{}", level - 1); 9].join(", ");
            merges.push_str(&format!("m{level}: &m{level} {{<<: [{items}]}}\n"));
        }
        merges.push_str("services:\n  web:\n    <<: *m8\n");
        limit(refusal(&merges), "aliases expand to more than 100000");
        // a 3,000-link merge chain
        let mut chain = String::from("l0: &l0 {image: nginx}\n");
        for link in 1..3000 {
            chain.push_str(&format!("l{link}: &l{link} {{<<: *l{}}}\n", link - 1));
        }
        chain.push_str("services:\n  web:\n    <<: *l2999\n");
        limit(refusal(&chain), "nested deeper than 128");
    }

    /// An alias names one long string many times: no row copies it, and rows past the cap
    /// are counted without being built.
    #[test]
    fn an_aliased_long_string_is_refused_without_copies() {
        let long = "A".repeat(512 * 1024);
        let containers = vec!["{image: *b}"; 40_000].join(", ");
        let k8s = format!(
            "b: &b \"{long}\"\nkind: Pod\napiVersion: v1\nspec: {{containers: [{containers}]}}\n"
        );
        let k8s_scan = scan("k8s.yaml", &k8s, &Context::default())
            .expect("parses")
            .expect("kubernetes");
        assert_eq!(k8s_scan.found.len(), crate::limits::MAX_ROWS);
        assert_eq!(k8s_scan.omitted, 40_000 - crate::limits::MAX_ROWS);
        let Err(Problem::Limit(reason)) = &k8s_scan.found[0].image else {
            panic!("{:?}", k8s_scan.found[0].image);
        };
        assert!(
            reason.starts_with("an image field of 524288 bytes"),
            "{reason}"
        );
        assert!(reason.len() < 400, "{} bytes", reason.len());
        let services: String = (0..2_000)
            .map(|i| format!("  s{i}: {{image: *b, platform: *b}}\n"))
            .collect();
        let compose = format!("x: &b \"{long}\"\nservices:\n{services}");
        let scan = scan("compose.yaml", &compose, &Context::default())
            .expect("parses")
            .expect("compose");
        assert_eq!(scan.found.len(), crate::limits::MAX_ROWS);
        assert_eq!(scan.omitted, 1_000);
        assert!(matches!(&scan.found[0].image, Err(Problem::Limit(_))));
        assert!(
            scan.found[0]
                .platform
                .as_ref()
                .is_some_and(|p| p.len() <= 200)
        );
    }

    /// compose-go refuses a key written twice in one mapping; a Kubernetes file is read as
    /// before.
    #[test]
    fn duplicate_keys_in_a_compose_file() {
        let text = "services:\n  web:\n    image: nginx:1.25\n    image: nginx:1.27\n";
        let row = scan("compose.yaml", text, &Context::default()).expect_err("refused");
        assert_eq!(row.location, "compose.yaml:4");
        assert_eq!(
            row.image,
            Err(Problem::Unparsable(
                "mapping key \"image\" already defined at line 3".into()
            ))
        );
    }

    /// A platform that does not interpolate is kept as written, so the check says it does not
    /// parse instead of judging the image by no platform.
    #[test]
    fn an_unresolved_platform_is_kept_as_written() {
        let text = "services:\n  web:\n    image: nginx\n    platform: ${PLATFORM}\n";
        assert_eq!(
            compose_rows(text),
            [image_at("compose.yaml:3", "nginx", Some("${PLATFORM}"))]
        );
    }
}
