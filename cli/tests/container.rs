//! The CLI as a container image (`scripts/build-image.sh`, the Dockerfile), run with podman and
//! with the literal `docker` client against podman's Docker API, next to the host binary:
//! same output byte for byte, same exit codes, and an image index of linux/amd64 and
//! linux/arm64 once pushed to a real registry.
//!
//! Every test first runs `scripts/build-image.sh --profile $MQUERY_IMAGE_PROFILE` (default
//! `smoke`), which is quick when the image is up to date and serialized by a lock.

use std::process::{Command, Output};
use std::time::Duration;

use mquery_tests::distribution::Distribution;
use mquery_tests::fixtures::{APP, Pusher, five_platform_index, open_with_app_and_pi};
use mquery_tests::podman::{self, Containers, Service};
use serde_json::Value;

const HOST_TIMEOUT: Duration = Duration::from_secs(60);

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// The image, built when not up to date, and a registry with a five-platform index
/// (`acme/app:v1`) and a single linux/arm/v6 image (`acme/pi:v6`).
struct Fixture {
    registry: Distribution,
}

impl Fixture {
    async fn start() -> Fixture {
        podman::ensure_image();
        let (registry, _, _) = open_with_app_and_pi().await;
        Fixture { registry }
    }

    /// The index, the single image and a tag that is not there.
    fn images(&self) -> (String, String, String) {
        let registry = &self.registry;
        let single = registry.image("acme/pi:v6");
        (registry.image(APP), single, registry.image("acme/app:nope"))
    }

    /// The host binary, with only the settings the container gets.
    fn host(&self, args: &[&str]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_mquery"));
        command
            .args(args)
            .env("MQUERY_INSECURE_REGISTRIES", self.registry.host())
            .env_remove("MQUERY_DOCKER_HUB_MIRROR")
            .env_remove("MQUERY_ENDPOINT")
            .env_remove("RUST_LOG");
        podman::output_within(command, HOST_TIMEOUT, "mquery")
    }

    /// `podman run --rm` of the local image.
    fn podman_run(&self, containers: &mut Containers, args: &[&str]) -> Output {
        let insecure = format!("MQUERY_INSECURE_REGISTRIES={}", self.registry.host());
        run_image(containers, &["-e", &insecure], args)
    }
}

/// `podman run --rm --network host` of the local image, with podman options `options` (say
/// `-e`, `-v`) and mquery's `args`.
fn run_image(containers: &mut Containers, options: &[&str], args: &[&str]) -> Output {
    let mut command = podman::podman();
    command
        .args(["run", "--rm", "--pull=never", "--network", "host"])
        .arg("--name")
        .arg(containers.name())
        .args(options)
        .arg(podman::IMAGE)
        .args(args);
    podman::output_within(command, podman::COMMAND_TIMEOUT, "podman run")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

/// The `cache.fetchedAt` values of a JSON answer (a document or an array of them), in order.
fn fetched_at(stdout: &[u8]) -> Vec<String> {
    let value: Value = serde_json::from_slice(stdout).expect("JSON on stdout");
    let docs = match value {
        Value::Array(docs) => docs,
        doc => vec![doc],
    };
    docs.iter()
        .filter_map(|doc| doc["cache"]["fetchedAt"].as_str().map(str::to_owned))
        .collect()
}

/// Asserts that the container's run printed exactly what the host binary printed and exited
/// the same way. With `--json` the one thing allowed to differ is the time of each lookup
/// (`cache.fetchedAt`, to the second).
fn assert_same(what: &str, host: &Output, container: &Output, json: bool) {
    let mut container_stdout = text(&container.stdout);
    if json {
        let (host_times, container_times) =
            (fetched_at(&host.stdout), fetched_at(&container.stdout));
        assert_eq!(host_times.len(), container_times.len(), "{what}: documents");
        for (h, c) in host_times.iter().zip(&container_times) {
            // a quoted timestamp appears nowhere else in the answer
            container_stdout =
                container_stdout.replacen(&format!("\"{c}\""), &format!("\"{h}\""), 1);
        }
    }
    assert_eq!(
        text(&host.stdout),
        container_stdout,
        "{what}: stdout differs (container stderr: {})",
        text(&container.stderr)
    );
    assert_eq!(
        text(&host.stderr),
        text(&container.stderr),
        "{what}: stderr differs"
    );
    assert_eq!(
        host.status.code(),
        container.status.code(),
        "{what}: exit status differs"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn container_prints_what_the_host_binary_prints() {
    let f = Fixture::start().await;
    let mut containers = Containers::new();
    let (index, single, missing) = f.images();
    for args in [
        vec![index.as_str()],
        vec![single.as_str()],
        vec![missing.as_str()],
        vec![index.as_str(), single.as_str()],
    ] {
        let host = f.host(&args);
        let container = f.podman_run(&mut containers, &args);
        assert_same(&format!("{args:?}"), &host, &container, false);
    }

    // the answers are mquery's, not an empty success
    let host = f.host(&[&index]);
    assert!(
        text(&host.stdout).starts_with(&format!("Image: {index} (digest: sha256:")),
        "{}",
        text(&host.stdout)
    );
    let host = f.host(&[&missing]);
    assert_eq!(
        text(&host.stderr),
        format!("mquery: image not found or not public: {missing}\n")
    );
    assert!(host.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_codes_and_json_survive_the_container() {
    let f = Fixture::start().await;
    let mut containers = Containers::new();
    let (index, single, missing) = f.images();
    let cases: [(&[&str], i32, bool); 8] = [
        (&[&index], 0, false),
        (&[&missing], 1, false),
        (&["Bad"], 1, false),
        (&["--platform", "linux/s390x", &single], 3, false),
        (&["--platform", "linux/arm/v6", &single], 0, false),
        (&["--json", &index], 0, true),
        (&["--json", &missing], 1, true),
        (&["--json", &index, &single, &missing, "Bad"], 1, true),
    ];
    for (args, code, json) in cases {
        let host = f.host(args);
        assert_eq!(host.status.code(), Some(code), "host {args:?}");
        let container = f.podman_run(&mut containers, args);
        assert_eq!(
            container.status.code(),
            Some(code),
            "container {args:?}: {}",
            text(&container.stderr)
        );
        assert_same(&format!("{args:?}"), &host, &container, json);
    }
}

/// A registries.conf for podman's service: `docker.io/mplatform/...` comes from `registry`.
fn remap_mplatform(registry: &Distribution) -> String {
    format!(
        "unqualified-search-registries = [\"docker.io\"]\n\n\
         [[registry]]\nprefix = \"docker.io/mplatform\"\nlocation = \"{}/mplatform\"\ninsecure = true\n",
        registry.host()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_docker_client_runs_the_published_image() {
    let f = Fixture::start().await;
    podman::push_image(&f.registry.image("mplatform/mquery:latest"));

    // a store of its own: see Service
    let service = Service::start(Some(&remap_mplatform(&f.registry)));
    let pull = service.docker_output(&["pull", "mplatform/mquery"]);
    assert!(
        pull.status.success(),
        "docker pull mplatform/mquery: {}{}\nservice log:\n{}",
        text(&pull.stdout),
        text(&pull.stderr),
        service.log()
    );

    let mut containers = Containers::of(&service);
    let insecure = format!("MQUERY_INSECURE_REGISTRIES={}", f.registry.host());
    let (index, single, missing) = f.images();
    // without --rm: podman 4.3's Docker API reports exit 0 for `docker run --rm` whatever the
    // container returned (fixed in podman 4.6); the containers are removed below
    let cases: [(&[&str], i32, bool); 6] = [
        (&[&index], 0, false),
        (&[&single], 0, false),
        (&[&missing], 1, false),
        (&["--platform", "linux/riscv64", &index], 3, false),
        (&["--platform", "linux/s390x", &index, &single], 3, false),
        (&["--json", &index, &missing], 1, true),
    ];
    for (args, code, json) in cases {
        let name = containers.name();
        let mut run = vec![
            "run",
            "--name",
            &name,
            "--network",
            "host",
            "-e",
            &insecure,
            "mplatform/mquery",
        ];
        run.extend_from_slice(args);
        let container = service.docker_output(&run);
        assert_eq!(
            container.status.code(),
            Some(code),
            "docker {run:?}: {}\nservice log:\n{}",
            text(&container.stderr),
            service.log()
        );
        let host = f.host(args);
        assert_same(&format!("docker {args:?}"), &host, &container, json);
    }

    // what the README shows: `docker run --rm` (its output; see above for its exit status)
    let container = service.docker_output(&[
        "run",
        "--rm",
        "--network",
        "host",
        "-e",
        &insecure,
        "mplatform/mquery",
        &index,
    ]);
    assert_same("docker run --rm", &f.host(&[&index]), &container, false);

    containers.remove_all();
    let mine = format!("name=mquery-test-{}-", std::process::id());
    let mut ps = podman::podman();
    ps.args(service.store_options())
        .args(["ps", "--all", "--quiet", "--filter", &mine]);
    let left = podman::output_within(ps, podman::COMMAND_TIMEOUT, "podman ps");
    assert!(left.status.success(), "{}", text(&left.stderr));
    assert_eq!(text(&left.stdout), "", "containers left behind");
    drop(service);
}

/// GETs `path` from the registry, checking the digest the registry states against the body.
async fn get(http: &reqwest::Client, registry: &Distribution, path: &str, accept: &str) -> Vec<u8> {
    let response = http
        .get(format!("{}{path}", registry.base_url()))
        .header("accept", accept)
        .send()
        .await
        .expect("registry request");
    assert_eq!(response.status(), 200, "GET {path}");
    let stated = response
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.bytes().await.expect("body").to_vec();
    if let Some(stated) = stated {
        assert_eq!(
            stated,
            registry::Digest::sha256(&body).as_str(),
            "GET {path}"
        );
    }
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn mquerys_own_image_is_multi_platform() {
    podman::ensure_image();
    let registry = Distribution::start_open();
    let reference = format!("{}/mplatform/mquery:latest", registry.host());
    podman::push_image(&reference);

    // what mquery says about itself
    let http = reqwest::Client::new();
    let index_body = get(
        &http,
        &registry,
        "/v2/mplatform/mquery/manifests/latest",
        OCI_INDEX,
    )
    .await;
    let digest = registry::Digest::sha256(&index_body);
    let mut command = Command::new(env!("CARGO_BIN_EXE_mquery"));
    command
        .arg(&reference)
        .env("MQUERY_INSECURE_REGISTRIES", registry.host())
        .env_remove("MQUERY_ENDPOINT")
        .env_remove("MQUERY_DOCKER_HUB_MIRROR");
    let out = podman::output_within(command, HOST_TIMEOUT, "mquery");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!(
            "Image: {reference} (digest: {digest})\n \
             * Manifest List: Yes (Image type: {OCI_INDEX})\n \
             * Supported platforms:\n   - linux/amd64\n   - linux/arm64\n"
        )
    );

    // and what the registry holds: each image's config names its platform
    let index: Value = serde_json::from_slice(&index_body).expect("index JSON");
    assert_eq!(index["mediaType"], OCI_INDEX);
    let entries = index["manifests"].as_array().expect("manifests");
    assert_eq!(entries.len(), 2, "{index}");
    for (entry, arch) in entries.iter().zip(["amd64", "arm64"]) {
        assert_eq!(entry["platform"]["os"], "linux", "{entry}");
        assert_eq!(entry["platform"]["architecture"], arch, "{entry}");
        assert_eq!(entry["mediaType"], OCI_MANIFEST, "{entry}");
        let entry_digest = entry["digest"].as_str().expect("entry digest");
        let manifest_body = get(
            &http,
            &registry,
            &format!("/v2/mplatform/mquery/manifests/{entry_digest}"),
            OCI_MANIFEST,
        )
        .await;
        assert_eq!(
            registry::Digest::sha256(&manifest_body).as_str(),
            entry_digest
        );
        let manifest: Value = serde_json::from_slice(&manifest_body).expect("manifest JSON");
        assert_eq!(
            manifest["layers"].as_array().map(Vec::len),
            Some(1),
            "one layer, the binary: {manifest}"
        );
        let config_digest = manifest["config"]["digest"]
            .as_str()
            .expect("config digest");
        let config_body = get(
            &http,
            &registry,
            &format!("/v2/mplatform/mquery/blobs/{config_digest}"),
            "*/*",
        )
        .await;
        assert_eq!(
            registry::Digest::sha256(&config_body).as_str(),
            config_digest
        );
        let config: Value = serde_json::from_slice(&config_body).expect("config JSON");
        assert_eq!(config["architecture"], arch, "{config}");
        assert_eq!(config["os"], "linux", "{config}");
        assert_eq!(config["config"]["User"], "65532:65532", "{config}");
        assert_eq!(
            config["config"]["Entrypoint"],
            serde_json::json!(["/mquery"]),
            "{config}"
        );
        assert_eq!(
            config["config"]["Labels"]["org.opencontainers.image.source"],
            "https://github.com/mquery-rs/mquery",
            "{config}"
        );
        let raw = text(&config_body);
        assert!(
            raw.contains(&format!("\"architecture\":\"{arch}\"")),
            "{raw}"
        );
    }
}

/// HTTPS from the empty image, which has no certificate store: the binary starts (its
/// compiled-in Mozilla roots), refuses the test CA's certificate with a clear sentence, and
/// accepts it once the CA is mounted and named by `MQUERY_CA_FILE` or `SSL_CERT_FILE`.
#[tokio::test(flavor = "multi_thread")]
async fn tls_from_the_empty_image() {
    podman::ensure_image();
    let registry = Distribution::start_tls();
    let (index, _) = five_platform_index(&Pusher::for_tls(&registry), "acme/app", "v1").await;
    let image = registry.image(APP);
    let ca = registry.ca_file().display().to_string();
    let mut containers = Containers::new();
    let private = format!("MQUERY_PRIVATE_REGISTRIES={}", registry.host());
    let mut run = |extra: &[&str]| {
        let options: Vec<&str> = ["-e", private.as_str()]
            .into_iter()
            .chain(extra.iter().copied())
            .collect();
        run_image(&mut containers, &options, &[&image])
    };

    let out = run(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        format!(
            "mquery: certificate not trusted: {}: issued by an unknown authority \
             (trust its CA with SSL_CERT_FILE or MQUERY_CA_FILE)\n",
            registry.host()
        )
    );

    let mount = format!("{ca}:/etc/mquery/ca.pem:ro");
    for variable in ["MQUERY_CA_FILE", "SSL_CERT_FILE"] {
        let out = run(&[
            "-v",
            &mount,
            "-e",
            &format!("{variable}=/etc/mquery/ca.pem"),
        ]);
        let digest = index.digest.as_str();
        mquery_tests::assert_index_answer(&out, &image, digest, variable);
    }
    containers.remove_all();
}
