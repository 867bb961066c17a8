//! Real files of public projects (tests/fixtures/*/README.md says which, with their commit and
//! licence), scanned as `mquery check` scans them: the kind detected from the content, and the
//! images at the lines the projects wrote them.

use stack::{Context, Kind, Problem, scan};

fn rows(path: &str, kind: Kind) -> Vec<(String, Result<String, Problem>)> {
    let full = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&full).expect("a fixture");
    let scan = scan(path, &text, &Context::default());
    assert_eq!(scan.kind, kind, "{path}");
    scan.found
        .into_iter()
        .map(|f| (f.location, f.image))
        .collect()
}

fn at(path: &str, line: usize, image: &str) -> (String, Result<String, Problem>) {
    (format!("{path}:{line}"), Ok(image.to_owned()))
}

#[test]
fn github_workflows() {
    let quay = "github/quay-ci-config-tool.yaml";
    assert_eq!(
        rows(quay, Kind::GithubWorkflow),
        [
            at(quay, 46, "docker.io/library/golang:1.25.0"),
            at(quay, 49, "postgres:11.5"),
            at(quay, 55, "redis:7.4"),
            at(quay, 57, "mysql:5.7"),
        ]
    );
    let container = "github/languageservices-job-container.yml";
    assert_eq!(
        rows(container, Kind::GithubWorkflow),
        [
            at(container, 8, "ubuntu:16.04"),
            at(container, 15, "node:14.16"),
            at(container, 32, "private:latest"),
        ]
    );
    let services = "github/languageservices-job-services.yml";
    assert_eq!(
        rows(services, Kind::GithubWorkflow),
        [
            at(services, 8, "nginx"),
            at(services, 9, "redis:latest"),
            at(services, 11, "postgres:latest"),
            at(services, 17, "docker.pkg.github.com"),
        ]
    );
}

#[test]
fn gitlab_templates() {
    let docker = "gitlab/Docker.gitlab-ci.yml";
    assert_eq!(
        rows(docker, Kind::GitlabCi),
        [
            at(docker, 3, "docker:latest"),
            at(docker, 6, "docker:dind"),
            at(docker, 17, "docker:latest"),
            at(docker, 20, "docker:dind"),
        ]
    );
    let build = "gitlab/Jobs-Build.gitlab-ci.yml";
    assert_eq!(
        rows(build, Kind::GitlabCi),
        [
            at(
                build,
                3,
                "registry.gitlab.com/gitlab-org/cluster-integration/auto-build-image:v1.0.0"
            ),
            at(build, 7, "docker:20.10.6-dind"),
        ]
    );
    // every analyzer's image is built from GitLab's own CI_TEMPLATE_REGISTRY_HOST, known
    // only when the job runs: one row per analyzer's image line, each saying so
    let sast = "gitlab/Jobs-SAST.gitlab-ci.yml";
    let found = rows(sast, Kind::GitlabCi);
    assert_eq!(found.len(), 6, "{found:?}");
    for (location, image) in &found {
        assert!(location.starts_with(sast), "{location}");
        assert_eq!(
            image,
            &Err(Problem::UnresolvedVariable(
                "CI_TEMPLATE_REGISTRY_HOST".into()
            ))
        );
    }
}

#[test]
fn dev_containers() {
    let runner = "devcontainer/actions-runner.devcontainer.json";
    assert_eq!(
        rows(runner, Kind::Devcontainer),
        [at(runner, 3, "mcr.microsoft.com/devcontainers/base:noble")]
    );
    let cli = "devcontainer/devcontainers-cli.devcontainer.json";
    assert_eq!(
        rows(cli, Kind::Devcontainer),
        [(
            format!("{cli}:8"),
            Err(Problem::Elsewhere(
                "built from the Dockerfile Dockerfile: check that file".into()
            ))
        )]
    );
    let compose = "devcontainer/compose-image-with-features.devcontainer.json";
    assert_eq!(
        rows(compose, Kind::Devcontainer),
        [(
            format!("{compose}:3"),
            Err(Problem::Elsewhere(
                "the service app of docker-compose.yml: check that file".into()
            ))
        )]
    );
    let moby = "devcontainer/moby.devcontainer.json";
    assert_eq!(rows(moby, Kind::Devcontainer).len(), 1);
}
