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

/// The disk, as `mquery check` reads the files a file names.
#[derive(Debug)]
struct Disk;

impl stack::files::Files for Disk {
    fn read(&self, path: &str) -> Result<String, String> {
        std::fs::read_to_string(path).map_err(|e| e.to_string())
    }

    fn is_dir(&self, path: &str) -> bool {
        std::path::Path::new(path).is_dir()
    }
}

/// A kustomization at `path` (under the fixtures, or absolute), read with its files.
fn kustomized(path: &str) -> Vec<(String, Result<String, Problem>)> {
    let fixtures = format!("{}/tests/fixtures/", env!("CARGO_MANIFEST_DIR"));
    let full = match path.starts_with('/') {
        true => path.to_owned(),
        false => format!("{fixtures}{path}"),
    };
    let text = std::fs::read_to_string(&full).expect("a kustomization");
    let context = Context {
        files: Some(std::sync::Arc::new(Disk)),
        ..Context::default()
    };
    let scan = scan(&full, &text, &context);
    assert_eq!(scan.kind, Kind::Kustomization, "{path}");
    scan.found
        .into_iter()
        .map(|f| (f.location.replace(&fixtures, ""), f.image))
        .collect()
}

#[test]
fn kustomize_examples() {
    // kustomize's examples/multibases: three overlays of one base
    let pod = at("kustomize/multibases/base/pod.yaml", 10, "nginx:1.7.9");
    assert_eq!(
        kustomized("kustomize/multibases/kustomization.yaml"),
        [pod.clone(), pod.clone(), pod]
    );
    // examples/transformerconfigs/images: the outputs kustomize's own test expects; the
    // field only its `configurations:` names (spec.runLatest.container.image) is not read
    let resources = "kustomize/transformerconfigs/images/resources.yaml";
    assert_eq!(
        kustomized("kustomize/transformerconfigs/images/kustomization.yaml"),
        [
            at(resources, 10, "my-docker2@sha256:25a0d4"),
            at(resources, 12, "prod-mysql:v3"),
            at(resources, 25, "new-app-1:MYNEWTAG-1"),
            at(resources, 27, "alpine:1.8.0"),
        ]
    );
}

#[test]
fn kustomize_components_rewrite_the_including_resources() {
    // microservices-demo's components over its base's cartservice, in the order written: the
    // tag's rules match the original name, so they come before the registry's (the other way
    // round the tag would not apply, as with kustomize)
    let fixtures = format!(
        "{}/tests/fixtures/kustomize/microservices-demo",
        env!("CARGO_MANIFEST_DIR")
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let app = dir.path().join("app");
    std::fs::create_dir_all(app.join("empty")).expect("mkdir");
    std::fs::copy(
        format!("{fixtures}/base/cartservice.yaml"),
        app.join("cartservice.yaml"),
    )
    .expect("copy");
    std::fs::write(dir.path().join("outside.yaml"), "kind: Pod\n").expect("write");
    let overlay = app.join("kustomization.yaml");
    std::fs::write(
        &overlay,
        format!(
            "resources:\n- cartservice.yaml\n- ../outside.yaml\n- empty\ncomponents:\n- {fixtures}/components/container-images-tag\n- {fixtures}/components/container-images-registry\n- ../nowhere\n"
        ),
    )
    .expect("write");
    let found = kustomized(&overlay.display().to_string());
    let cart = format!("{}/cartservice.yaml", app.display());
    let shown = |line: usize| format!("{}:{line}", overlay.display());
    // kustomize's load restrictor: a file above the kustomization's directory is refused,
    // there or not
    let refused = |row: &(String, Result<String, Problem>), line: usize, file: &str| {
        assert_eq!(row.0, shown(line));
        let want = format!(
            "security; file '{}/{file}' is not in or below '{}'",
            dir.path().display(),
            app.display()
        );
        assert_eq!(row.1, Err(Problem::Kustomize(want)));
    };
    refused(&found[0], 8, "nowhere");
    refused(&found[1], 3, "outside.yaml");
    assert_eq!(found[2].0, shown(4));
    assert!(
        matches!(&found[2].1, Err(Problem::Unread(m)) if m.contains("unable to find one of 'kustomization.yaml'")),
        "{found:?}"
    );
    assert_eq!(
        found[3..],
        [
            (
                format!("{cart}:46"),
                Ok("CONTAINER_IMAGES_REGISTRY/cartservice:CONTAINER_IMAGES_TAG".to_owned())
            ),
            (
                format!("{cart}:118"),
                Ok("CONTAINER_IMAGES_REGISTRY/redis:alpine".to_owned())
            ),
        ]
    );
    // the service has no files: each resource says so
    let text = std::fs::read_to_string(&overlay).expect("read");
    let alone = scan("kustomization.yaml", &text, &Context::default());
    assert_eq!(alone.found.len(), 6);
    assert!(alone.found.iter().all(|f| matches!(&f.image, Err(Problem::Unread(m)) if m.contains("only mquery check on the command line"))));
}
