//! Lookups against the real CNCF distribution registry, open (no auth): every kind of image
//! public registries serve, with the registry's own request log as the request counter.

use mquery_tests::client_for;
use mquery_tests::distribution::{Distribution, Served};
use mquery_tests::fixtures::{Format, Pusher, five_platform_index, platform};
use registry::manifest::media_type;
use registry::{Error, Reference};
use serde_json::json;

fn setup() -> (Distribution, Pusher, registry::Client) {
    let registry = Distribution::start_open();
    let pusher = Pusher::new(&registry.base_url(), None);
    let client = client_for(&[&registry.host()]);
    (registry, pusher, client)
}

fn reference(registry: &Distribution, rest: &str) -> Reference {
    Reference::parse(&format!("{}/{rest}", registry.host())).expect("valid reference")
}

fn gets(served: &[Served]) -> Vec<String> {
    served
        .iter()
        .map(|s| format!("{} {} {}", s.method, s.path, s.status))
        .collect()
}

fn platforms(summary: &registry::Summary) -> Vec<String> {
    summary
        .platforms
        .iter()
        .map(|p| p.platform.to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn oci_index_is_one_manifest_get() {
    let (registry, pusher, client) = setup();
    let (index, children) = five_platform_index(&pusher, "acme/app", "v1").await;

    let mark = registry.mark();
    let summary = client
        .summarize(&reference(&registry, "acme/app:v1"))
        .await
        .expect("lookup succeeds");

    assert_eq!(
        gets(&registry.served_since(mark)),
        vec!["GET /v2/acme/app/manifests/v1 200"]
    );
    assert!(summary.is_list);
    assert_eq!(summary.media_type, media_type::OCI_INDEX);
    assert_eq!(summary.digest, index.digest.as_str());
    assert_eq!(
        platforms(&summary),
        [
            "linux/amd64",
            "linux/arm64/v8",
            "linux/arm/v7",
            "linux/ppc64le",
            "linux/s390x"
        ]
    );
    for (entry, child) in summary.platforms.iter().zip(&children) {
        assert_eq!(entry.digest, child.digest.as_str());
        assert_eq!(entry.size, child.size);
        assert_eq!(entry.media_type, media_type::OCI_MANIFEST);
    }
    assert_eq!(summary.attestations, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_manifest_list() {
    let (registry, pusher, client) = setup();
    let amd64 = pusher
        .image(
            "lib/tool",
            None,
            Format::Docker,
            platform("linux", "amd64", None),
        )
        .await;
    let arm = pusher
        .image(
            "lib/tool",
            None,
            Format::Docker,
            platform("linux", "arm", Some("v6")),
        )
        .await;
    let list = pusher
        .index(
            "lib/tool",
            Some("1.0"),
            media_type::DOCKER_LIST,
            vec![
                amd64.entry(Some(platform("linux", "amd64", None))),
                arm.entry(Some(platform("linux", "arm", Some("v6")))),
            ],
        )
        .await;
    let mark = registry.mark();
    let summary = client
        .summarize(&reference(&registry, "lib/tool:1.0"))
        .await
        .expect("lookup succeeds");
    assert_eq!(registry.served_since(mark).len(), 1);
    assert_eq!(summary.media_type, media_type::DOCKER_LIST);
    assert_eq!(summary.digest, list.digest.as_str());
    assert_eq!(platforms(&summary), ["linux/amd64", "linux/arm/v6"]);
    assert_eq!(summary.platforms[1].media_type, media_type::DOCKER_MANIFEST);
}

#[tokio::test(flavor = "multi_thread")]
async fn single_docker_image_adds_only_its_config() {
    let (registry, pusher, client) = setup();
    let image = pusher
        .image(
            "pi/app",
            Some("armv6"),
            Format::Docker,
            platform("linux", "arm", Some("v6")),
        )
        .await;
    let mark = registry.mark();
    let summary = client
        .summarize(&reference(&registry, "pi/app:armv6"))
        .await
        .expect("lookup succeeds");
    let served = gets(&registry.served_since(mark));
    assert_eq!(served.len(), 2, "{served:?}");
    assert_eq!(served[0], "GET /v2/pi/app/manifests/armv6 200");
    assert!(
        served[1].starts_with("GET /v2/pi/app/blobs/sha256:"),
        "{served:?}"
    );
    assert!(!summary.is_list);
    assert_eq!(summary.media_type, media_type::DOCKER_MANIFEST);
    assert_eq!(summary.digest, image.digest.as_str());
    assert_eq!(platforms(&summary), ["linux/arm/v6"]);
    assert_eq!(summary.platforms[0].digest, image.digest.as_str());
    assert_eq!(summary.platforms[0].size, image.size);
}

#[tokio::test(flavor = "multi_thread")]
async fn single_oci_image_and_windows_config() {
    let (registry, pusher, client) = setup();
    pusher
        .image(
            "x/oci",
            Some("latest"),
            Format::Oci,
            platform("linux", "riscv64", None),
        )
        .await;
    let summary = client
        .summarize(&reference(&registry, "x/oci"))
        .await
        .expect("lookup succeeds");
    assert_eq!(summary.media_type, media_type::OCI_MANIFEST);
    assert_eq!(platforms(&summary), ["linux/riscv64"]);

    let windows =
        json!({"os": "windows", "architecture": "amd64", "os.version": "10.0.20348.2113"});
    pusher
        .image("x/win", Some("ltsc2022"), Format::Docker, windows)
        .await;
    let summary = client
        .summarize(&reference(&registry, "x/win:ltsc2022"))
        .await
        .expect("lookup succeeds");
    assert_eq!(platforms(&summary), ["windows/amd64:10.0.20348.2113"]);
    assert_eq!(
        summary.platforms[0].platform.os_version.as_deref(),
        Some("10.0.20348.2113")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn attestations_windows_and_unlabeled_entries() {
    let (registry, pusher, client) = setup();
    let linux = pusher
        .image(
            "multi/app",
            None,
            Format::Oci,
            platform("linux", "amd64", None),
        )
        .await;
    let win = json!({"os": "windows", "architecture": "amd64", "os.version": "10.0.17763.2300"});
    let windows = pusher
        .image("multi/app", None, Format::Oci, win.clone())
        .await;
    let attestation_a = pusher.attestation("multi/app").await;
    let attestation_b = pusher.attestation("multi/app").await;
    let unknown = platform("unknown", "unknown", None);
    let mut annotated = attestation_a.entry(Some(unknown.clone()));
    annotated["annotations"] = json!({
        "vnd.docker.reference.type": "attestation-manifest",
        "vnd.docker.reference.digest": linux.digest.as_str(),
    });
    let index = pusher
        .index(
            "multi/app",
            Some("v2"),
            media_type::OCI_INDEX,
            vec![
                linux.entry(Some(platform("linux", "amd64", None))),
                windows.entry(Some(json!({"os": "windows", "architecture": "amd64", "os.version": "10.0.17763.2300", "os.features": ["win32k"]}))),
                annotated,
                attestation_b.entry(Some(unknown)),
                // an entry without platform must not crash the lookup
                linux.entry(None),
            ],
        )
        .await;
    let mark = registry.mark();
    let summary = client
        .summarize(&reference(&registry, "multi/app:v2"))
        .await
        .expect("lookup succeeds");
    assert_eq!(registry.served_since(mark).len(), 1);
    assert_eq!(summary.digest, index.digest.as_str());
    assert_eq!(
        platforms(&summary),
        ["linux/amd64", "windows/amd64:10.0.17763.2300"]
    );
    assert_eq!(summary.platforms[1].platform.os_features, ["win32k"]);
    assert_eq!(summary.attestations, 2);
    assert_eq!(summary.unlabeled, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn nested_index_is_resolved_one_level_deep() {
    let (registry, pusher, client) = setup();
    let (inner, _) = five_platform_index(&pusher, "nest/app", "inner").await;
    let windows = pusher
        .image(
            "nest/app",
            None,
            Format::Oci,
            platform("windows", "arm64", None),
        )
        .await;
    pusher
        .index(
            "nest/app",
            Some("outer"),
            media_type::OCI_INDEX,
            vec![
                windows.entry(Some(platform("windows", "arm64", None))),
                inner.entry(None),
            ],
        )
        .await;
    let mark = registry.mark();
    let summary = client
        .summarize(&reference(&registry, "nest/app:outer"))
        .await
        .expect("lookup succeeds");
    let served = gets(&registry.served_since(mark));
    assert_eq!(
        served,
        vec![
            "GET /v2/nest/app/manifests/outer 200".to_owned(),
            format!("GET /v2/nest/app/manifests/{} 200", inner.digest),
        ]
    );
    assert_eq!(
        platforms(&summary),
        [
            "windows/arm64",
            "linux/amd64",
            "linux/arm64/v8",
            "linux/arm/v7",
            "linux/ppc64le",
            "linux/s390x"
        ]
    );

    // two levels of nesting are refused with a clear error, not followed forever
    let outer = pusher
        .index(
            "nest/app",
            None,
            media_type::OCI_INDEX,
            vec![inner.entry(None)],
        )
        .await;
    pusher
        .index(
            "nest/app",
            Some("deep"),
            media_type::OCI_INDEX,
            vec![outer.entry(None)],
        )
        .await;
    let err = client
        .summarize(&reference(&registry, "nest/app:deep"))
        .await
        .expect_err("too deep");
    assert_eq!(err.code(), "INVALID_MANIFEST");
    assert!(
        err.to_string()
            .contains("nested index deeper than one level"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn digest_references() {
    let (registry, pusher, client) = setup();
    let (index, children) = five_platform_index(&pusher, "pin/app", "v1").await;

    for form in [
        format!("pin/app@{}", index.digest),
        format!("pin/app:v1@{}", index.digest),
    ] {
        let mark = registry.mark();
        let summary = client
            .summarize(&reference(&registry, &form))
            .await
            .expect("lookup by digest");
        assert_eq!(
            gets(&registry.served_since(mark)),
            vec![format!("GET /v2/pin/app/manifests/{} 200", index.digest)],
            "{form}: a digest reference is fetched by digest"
        );
        assert_eq!(summary.digest, index.digest.as_str());
        assert_eq!(summary.platforms.len(), 5);
    }

    // a child manifest's digest is a single image
    let arm64 = &children[1];
    let summary = client
        .summarize(&reference(&registry, &format!("pin/app@{}", arm64.digest)))
        .await
        .expect("lookup of a child");
    assert!(!summary.is_list);
    assert_eq!(platforms(&summary), ["linux/arm64/v8"]);

    // a well-formed digest that is not there
    let missing = registry::Digest::sha256(b"missing");
    let err = client
        .summarize(&reference(&registry, &format!("pin/app@{missing}")))
        .await
        .expect_err("missing digest");
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn artifacts_are_reported_not_crashed() {
    let (registry, pusher, client) = setup();
    pusher
        .artifact("sig/app", "sbom", "application/vnd.example.sbom.v1+json")
        .await;
    let mark = registry.mark();
    let summary = client
        .summarize(&reference(&registry, "sig/app:sbom"))
        .await
        .expect("an artifact is an answer");
    // the empty config is not fetched: it says nothing about platforms
    assert_eq!(registry.served_since(mark).len(), 1);
    assert!(summary.platforms.is_empty());
    assert_eq!(
        summary.artifact_type.as_deref(),
        Some("application/vnd.example.sbom.v1+json")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_repository_and_tag_are_not_found() {
    let (registry, pusher, client) = setup();
    five_platform_index(&pusher, "here/app", "v1").await;
    for missing in ["here/app:v2", "nowhere/app:v1"] {
        let err = client
            .summarize(&reference(&registry, missing))
            .await
            .expect_err("missing");
        assert_eq!(err.code(), "NOT_FOUND");
        assert_eq!(
            err.to_string(),
            format!(
                "image not found or not public: {}/{missing}",
                registry.host()
            )
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_hub_mirror_serves_docker_io_references() {
    let (registry, pusher, _) = setup();
    let (index, _) = five_platform_index(&pusher, "library/alpine", "latest").await;
    let client = registry::Client::new(registry::ClientConfig {
        docker_hub_mirror: Some(reqwest::Url::parse(&registry.base_url()).expect("url")),
        ..mquery_tests::client_config(&[])
    })
    .expect("client");
    let mark = registry.mark();
    let summary = client
        .summarize(&Reference::parse("alpine").expect("valid"))
        .await
        .expect("lookup through the mirror");
    assert_eq!(
        gets(&registry.served_since(mark)),
        vec!["GET /v2/library/alpine/manifests/latest 200"]
    );
    assert_eq!(summary.digest, index.digest.as_str());
}

/// Why the full Accept list matters: the real registry answers 404 to an OCI index request
/// that does not accept OCI indexes, and rewrites a Docker list to its linux/amd64 manifest
/// when the list type is missing.
#[tokio::test(flavor = "multi_thread")]
async fn registry_quirks_that_need_the_full_accept_list() {
    let (registry, pusher, client) = setup();
    five_platform_index(&pusher, "quirk/oci", "v1").await;
    let amd64 = pusher
        .image(
            "quirk/docker",
            None,
            Format::Docker,
            platform("linux", "amd64", None),
        )
        .await;
    let arm64 = pusher
        .image(
            "quirk/docker",
            None,
            Format::Docker,
            platform("linux", "arm64", Some("v8")),
        )
        .await;
    pusher
        .index(
            "quirk/docker",
            Some("v1"),
            media_type::DOCKER_LIST,
            vec![
                arm64.entry(Some(platform("linux", "arm64", Some("v8")))),
                amd64.entry(Some(platform("linux", "amd64", None))),
            ],
        )
        .await;
    let http = reqwest::Client::new();
    let narrow = format!(
        "{}, {}",
        media_type::DOCKER_LIST,
        media_type::DOCKER_MANIFEST
    );
    let response = http
        .get(format!("{}/v2/quirk/oci/manifests/v1", registry.base_url()))
        .header("accept", &narrow)
        .send()
        .await
        .expect("request");
    assert_eq!(
        response.status(),
        404,
        "OCI index without the OCI Accept type"
    );

    let response = http
        .get(format!(
            "{}/v2/quirk/docker/manifests/v1",
            registry.base_url()
        ))
        .header("accept", media_type::DOCKER_MANIFEST)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let digest = response
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    assert_eq!(
        digest.as_deref(),
        Some(amd64.digest.as_str()),
        "silently picked linux/amd64"
    );

    // our client sees both indexes for what they are
    let oci = client
        .summarize(&reference(&registry, "quirk/oci:v1"))
        .await
        .expect("lookup");
    assert_eq!(oci.platforms.len(), 5);
    let docker = client
        .summarize(&reference(&registry, "quirk/docker:v1"))
        .await
        .expect("lookup");
    assert_eq!(platforms(&docker), ["linux/arm64/v8", "linux/amd64"]);
}

/// Host names are case-insensitive: a registry listed as `Localhost:PORT` is reached over
/// plain HTTP when a reference spells it `LOCALHOST:PORT` (the list was compared exactly).
#[tokio::test(flavor = "multi_thread")]
async fn insecure_registries_match_whatever_the_case() {
    let registry = Distribution::start_open();
    let pusher = Pusher::new(&registry.base_url(), None);
    let (index, _) = five_platform_index(&pusher, "acme/app", "v1").await;
    let listed = format!("Localhost:{}", registry.port());
    let client = registry::Client::new(registry::ClientConfig {
        insecure_registries: registry::config::parse_insecure_registries("X", &listed)
            .expect("valid"),
        ..mquery_tests::client_config(&[])
    })
    .expect("client");
    let reference = Reference::parse(&format!("LOCALHOST:{}/acme/app:v1", registry.port()))
        .expect("an uppercase registry domain is valid");
    let summary = client.summarize(&reference).await.expect("plain HTTP");
    assert_eq!(summary.digest, index.digest.to_string());
}
