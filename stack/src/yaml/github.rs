//! GitHub Actions workflows: the images a workflow's jobs run in (docs/cli.md, "Files it
//! reads"). A document is a workflow when it has a `jobs` mapping and an `on` key (the
//! runner reads YAML 1.2, where `on` is a string: actions/runner YamlObjectReader.cs).
//!
//! Where images are, as the workflow schema (actions/languageservices
//! workflow-parser/src/workflow-v1.0.json: `container`, `services`, `step-uses`) and the
//! runner's converter (actions/runner PipelineTemplateConverter.cs `ConvertToJobContainer`,
//! `ConvertToJobServiceContainers`, `ConvertToStep`) read them:
//! - `jobs.<id>.container`: a string, or a mapping whose `image` names it; an empty string is
//!   no container; a leading `docker://` is dropped;
//! - `jobs.<id>.services.<name>`: the same forms;
//! - a step's `uses: docker://IMAGE`.
//!
//! A value holding an expression (`${{ matrix.node }}`) is decided when the workflow runs
//! (languageservices converter/container.ts skips it too): it is a row that says so.

use super::tree::{Id, Tree};
use super::{location, text_field};
use crate::{Found, Problem, Rows};

/// Whether the document `doc` is a workflow.
pub(super) fn is_workflow(tree: &Tree, doc: Id) -> bool {
    tree.get(doc, "jobs")
        .is_some_and(|jobs| tree.is_mapping(jobs))
        && tree.get(doc, "on").is_some()
}

/// The images of the workflow `doc`, job by job, in the order written.
pub(super) fn scan(name: &str, tree: &Tree, doc: Id, rows: &mut Rows) {
    let Some(jobs) = tree.get(doc, "jobs") else {
        return;
    };
    for (_, job) in tree.entries(jobs) {
        if !tree.is_mapping(job) {
            continue;
        }
        if let Some(container) = tree.get(job, "container") {
            container_image(name, tree, container, rows);
        }
        if let Some(services) = tree.get(job, "services") {
            for (_, service) in tree.entries(services) {
                container_image(name, tree, service, rows);
            }
        }
        if let Some(steps) = tree.get(job, "steps") {
            for &step in tree.items(steps) {
                let Some(uses) = tree.get(step, "uses") else {
                    continue;
                };
                // `docker://` is matched as written, before any other form of `uses`
                if let Some(image) = tree.text(uses).and_then(|u| u.strip_prefix("docker://"))
                    && !image.trim().is_empty()
                    && rows.room()
                {
                    rows.push(row(name, tree, uses, Ok(image)));
                }
            }
        }
    }
}

/// A job's `container` or one of its `services`: a string, or a mapping with `image`.
fn container_image(name: &str, tree: &Tree, value: Id, rows: &mut Rows) {
    let (at, image) = if tree.is_mapping(value) {
        match tree.get(value, "image") {
            Some(image) => (image, text_field(tree, image)),
            // "Container image cannot be empty" (languageservices converter/container.ts)
            None => (value, Err(Problem::NoImage)),
        }
    } else {
        (value, text_field(tree, value))
    };
    let image = image.map(|i| i.strip_prefix("docker://").unwrap_or(i));
    // an empty container is no container (PipelineTemplateConverter.cs returns none)
    if matches!(image, Ok(i) if i.trim().is_empty()) || !rows.room() {
        return;
    }
    rows.push(row(name, tree, at, image));
}

fn row(name: &str, tree: &Tree, at: Id, image: Result<&str, Problem>) -> Found {
    Found {
        location: location(name, tree, at),
        image: image.and_then(|i| match i.contains("${{") {
            true => Err(Problem::Expression(crate::excerpt(i))),
            false => crate::reference(i),
        }),
        platform: None,
    }
}

#[cfg(test)]
mod tests {
    use crate::{Context, Kind, Problem, ScanRow, image_at, rows, scan};

    fn workflow_rows(text: &str) -> Vec<ScanRow> {
        let scan = scan("ci.yml", text, &Context::default());
        assert_eq!(scan.kind, Kind::GithubWorkflow, "{text}");
        rows(&scan)
    }

    #[test]
    fn containers_services_and_docker_steps() {
        // the forms of actions/languageservices' testdata (job-container.yml,
        // job-services.yml, errors-step-uses-syntax.yml)
        let text = r#"on: push
jobs:
  build:
    runs-on: linux
    container: ubuntu:16.04
    steps:
      - run: echo hi
  build2:
    runs-on: linux
    container:
      image: node:14.16
      options: --cpus 1
    services:
      nginx: nginx
      postgres:
        image: postgres:latest
        ports: [5432]
      gpr:
        image: docker://docker.pkg.github.com/org/repo/img:1
    steps:
      - uses: docker://alpine:3.8
      - uses: actions/checkout@v4
      - uses: docker://
      - uses: ./local-action
  matrix:
    runs-on: linux
    strategy: {matrix: {node: [18, 20]}}
    container: node:${{ matrix.node }}
  none:
    runs-on: linux
    container: ''
  broken:
    runs-on: linux
    container:
      options: --cpus 1
  called:
    uses: org/repo/.github/workflows/w.yml@v1
"#;
        assert_eq!(
            workflow_rows(text),
            [
                image_at("ci.yml:5", "ubuntu:16.04", None),
                image_at("ci.yml:11", "node:14.16", None),
                image_at("ci.yml:14", "nginx", None),
                image_at("ci.yml:16", "postgres:latest", None),
                image_at("ci.yml:19", "docker.pkg.github.com/org/repo/img:1", None),
                image_at("ci.yml:21", "alpine:3.8", None),
                (
                    "ci.yml:28".into(),
                    Err(Problem::Expression("node:${{ matrix.node }}".into())),
                    None
                ),
                ("ci.yml:35".into(), Err(Problem::NoImage), None),
            ]
        );
    }

    #[test]
    fn what_is_not_a_workflow() {
        // an action's metadata (runs.image) and a mapping with jobs but no trigger are not
        let action = "name: x\nruns:\n  using: docker\n  image: docker://alpine\n";
        assert_ne!(
            scan("action.yml", action, &Context::default()).kind,
            Kind::GithubWorkflow
        );
        let no_on = "jobs:\n  a:\n    container: alpine\n";
        assert_ne!(
            scan("x.yml", no_on, &Context::default()).kind,
            Kind::GithubWorkflow
        );
        // `on` quoted or plain, and YAML 1.1's `true` spelling of it is still the key `on`
        let quoted = "\"on\": [push]\njobs:\n  a:\n    container: alpine\n";
        assert_eq!(
            workflow_rows(quoted),
            [image_at("ci.yml:4", "alpine", None)]
        );
    }
}
