//! Lookups against the real CNCF distribution registry, open (no auth): every kind of image
//! public registries serve, with the registry's own request log as the request counter.

use mquery_tests::distribution::Served;
use mquery_tests::fixtures::{Format, Lookups, five_platform_index, open_with_app, platform};
use mquery_tests::{assert_error, client_with, header};
use registry::manifest::media_type;
use registry::{Error, Reference, Summary};
use serde_json::json;

fn gets(served: &[Served]) -> Vec<String> {
    served
        .iter()
        .map(|s| format!("{} {} {}", s.method, s.path, s.status))
        .collect()
}

fn platforms(summary: &Summary) -> Vec<String> {
    summary
        .platforms
        .iter()
        .map(|p| p.platform.to_string())
        .collect()
}

/// Looks `rest` up, expecting an answer: the answer and the requests it cost.
async fn found(s: &Lookups, rest: &str) -> (Summary, Vec<String>) {
    let (result, served) = s.lookup_served(rest).await;
    let summary = result.unwrap_or_else(|e| panic!("{rest}: {e}"));
    (summary, gets(&served))
}

#[tokio::test(flavor = "multi_thread")]
async fn oci_index_is_one_manifest_get() {
    let s = Lookups::open();
    let (index, children) = five_platform_index(&s.pusher, "acme/app", "v1").await;

    let (summary, served) = found(&s, "acme/app:v1").await;
    assert_eq!(served, vec!["GET /v2/acme/app/manifests/v1 200"]);
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
    let s = Lookups::open();
    let arm = vec![
        platform("linux", "amd64", None),
        platform("linux", "arm", Some("v6")),
    ];
    let (list, _) = s
        .pusher
        .index_of("lib/tool", Some("1.0"), Format::Docker, arm)
        .await;
    let (summary, served) = found(&s, "lib/tool:1.0").await;
    assert_eq!(served.len(), 1);
    assert_eq!(summary.media_type, media_type::DOCKER_LIST);
    assert_eq!(summary.digest, list.digest.as_str());
    assert_eq!(platforms(&summary), ["linux/amd64", "linux/arm/v6"]);
    assert_eq!(summary.platforms[1].media_type, media_type::DOCKER_MANIFEST);
}

#[tokio::test(flavor = "multi_thread")]
async fn single_docker_image_adds_only_its_config() {
    let s = Lookups::open();
    let armv6 = platform("linux", "arm", Some("v6"));
    let image = s
        .pusher
        .image("pi/app", Some("armv6"), Format::Docker, armv6)
        .await;
    let (summary, served) = found(&s, "pi/app:armv6").await;
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
    let s = Lookups::open();
    let riscv64 = platform("linux", "riscv64", None);
    s.pusher
        .image("x/oci", Some("latest"), Format::Oci, riscv64)
        .await;
    let (summary, _) = found(&s, "x/oci").await;
    assert_eq!(summary.media_type, media_type::OCI_MANIFEST);
    assert_eq!(platforms(&summary), ["linux/riscv64"]);

    let windows =
        json!({"os": "windows", "architecture": "amd64", "os.version": "10.0.20348.2113"});
    s.pusher
        .image("x/win", Some("ltsc2022"), Format::Docker, windows)
        .await;
    let (summary, _) = found(&s, "x/win:ltsc2022").await;
    assert_eq!(platforms(&summary), ["windows/amd64:10.0.20348.2113"]);
    assert_eq!(
        summary.platforms[0].platform.os_version.as_deref(),
        Some("10.0.20348.2113")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn attestations_windows_and_unlabeled_entries() {
    let s = Lookups::open();
    let amd64 = platform("linux", "amd64", None);
    let linux = s
        .pusher
        .image("multi/app", None, Format::Oci, amd64.clone())
        .await;
    let win = json!({"os": "windows", "architecture": "amd64", "os.version": "10.0.17763.2300"});
    let windows = s
        .pusher
        .image("multi/app", None, Format::Oci, win.clone())
        .await;
    let attestation_a = s.pusher.attestation("multi/app").await;
    let attestation_b = s.pusher.attestation("multi/app").await;
    let unknown = platform("unknown", "unknown", None);
    let mut annotated = attestation_a.entry(Some(unknown.clone()));
    annotated["annotations"] = json!({
        "vnd.docker.reference.type": "attestation-manifest",
        "vnd.docker.reference.digest": linux.digest.as_str(),
    });
    let index = s
        .pusher
        .index(
            "multi/app",
            Some("v2"),
            media_type::OCI_INDEX,
            vec![
                linux.entry(Some(amd64)),
                windows.entry(Some(json!({"os": "windows", "architecture": "amd64", "os.version": "10.0.17763.2300", "os.features": ["win32k"]}))),
                annotated,
                attestation_b.entry(Some(unknown)),
                // an entry without platform must not crash the lookup
                linux.entry(None),
            ],
        )
        .await;
    let (summary, served) = found(&s, "multi/app:v2").await;
    assert_eq!(served.len(), 1);
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
    let s = Lookups::open();
    let (inner, _) = five_platform_index(&s.pusher, "nest/app", "inner").await;
    let arm64 = platform("windows", "arm64", None);
    let windows = s
        .pusher
        .image("nest/app", None, Format::Oci, arm64.clone())
        .await;
    let entries = vec![windows.entry(Some(arm64)), inner.entry(None)];
    s.pusher
        .index("nest/app", Some("outer"), media_type::OCI_INDEX, entries)
        .await;
    let (summary, served) = found(&s, "nest/app:outer").await;
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
    let entries = vec![inner.entry(None)];
    let outer = s
        .pusher
        .index("nest/app", None, media_type::OCI_INDEX, entries)
        .await;
    let entries = vec![outer.entry(None)];
    s.pusher
        .index("nest/app", Some("deep"), media_type::OCI_INDEX, entries)
        .await;
    let err = s.lookup("nest/app:deep").await.expect_err("too deep");
    assert_error(
        &err,
        "INVALID_MANIFEST",
        "nested index deeper than one level",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn digest_references() {
    let s = Lookups::open();
    let (index, children) = five_platform_index(&s.pusher, "pin/app", "v1").await;

    for form in [
        format!("pin/app@{}", index.digest),
        format!("pin/app:v1@{}", index.digest),
    ] {
        let (summary, served) = found(&s, &form).await;
        assert_eq!(
            served,
            vec![format!("GET /v2/pin/app/manifests/{} 200", index.digest)],
            "{form}: a digest reference is fetched by digest"
        );
        assert_eq!(summary.digest, index.digest.as_str());
        assert_eq!(summary.platforms.len(), 5);
    }

    // a child manifest's digest is a single image
    let arm64 = &children[1];
    let (summary, _) = found(&s, &format!("pin/app@{}", arm64.digest)).await;
    assert!(!summary.is_list);
    assert_eq!(platforms(&summary), ["linux/arm64/v8"]);

    // a well-formed digest that is not there
    let missing = registry::Digest::sha256(b"missing");
    let err = s
        .lookup(&format!("pin/app@{missing}"))
        .await
        .expect_err("missing digest");
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn artifacts_are_reported_not_crashed() {
    let s = Lookups::open();
    s.pusher
        .artifact("sig/app", "sbom", "application/vnd.example.sbom.v1+json")
        .await;
    let (summary, served) = found(&s, "sig/app:sbom").await;
    // the empty config is not fetched: it says nothing about platforms
    assert_eq!(served.len(), 1);
    assert!(summary.platforms.is_empty());
    assert_eq!(
        summary.artifact_type.as_deref(),
        Some("application/vnd.example.sbom.v1+json")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_repository_and_tag_are_not_found() {
    let s = Lookups::open();
    five_platform_index(&s.pusher, "here/app", "v1").await;
    for missing in ["here/app:v2", "nowhere/app:v1"] {
        let err = s.lookup(missing).await.expect_err("missing");
        assert_eq!(err.code(), "NOT_FOUND");
        assert_eq!(
            err.to_string(),
            format!(
                "image not found or not public: {}",
                s.registry.image(missing)
            )
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn docker_hub_mirror_serves_docker_io_references() {
    let s = Lookups::open();
    let (index, _) = five_platform_index(&s.pusher, "library/alpine", "latest").await;
    let mirror = reqwest::Url::parse(&s.registry.base_url()).expect("url");
    let client = client_with(&[], |c| c.docker_hub_mirror = Some(mirror));
    let mark = s.registry.mark();
    let summary = client
        .summarize(&Reference::parse("alpine").expect("valid"))
        .await
        .expect("lookup through the mirror");
    assert_eq!(
        gets(&s.registry.served_since(mark)),
        vec!["GET /v2/library/alpine/manifests/latest 200"]
    );
    assert_eq!(summary.digest, index.digest.as_str());
}

/// Why the full Accept list matters: the real registry answers 404 to an OCI index request
/// that does not accept OCI indexes, and rewrites a Docker list to its linux/amd64 manifest
/// when the list type is missing.
#[tokio::test(flavor = "multi_thread")]
async fn registry_quirks_that_need_the_full_accept_list() {
    let s = Lookups::open();
    five_platform_index(&s.pusher, "quirk/oci", "v1").await;
    let arm64_first = vec![
        platform("linux", "arm64", Some("v8")),
        platform("linux", "amd64", None),
    ];
    let (_, images) = s
        .pusher
        .index_of("quirk/docker", Some("v1"), Format::Docker, arm64_first)
        .await;
    let amd64 = &images[1];
    let http = reqwest::Client::new();
    let get = |repo: &str, accept: &str| {
        let url = format!("{}/v2/{repo}/manifests/v1", s.registry.base_url());
        http.get(url).header("accept", accept).send()
    };
    let narrow = format!(
        "{}, {}",
        media_type::DOCKER_LIST,
        media_type::DOCKER_MANIFEST
    );
    let response = get("quirk/oci", &narrow).await.expect("request");
    assert_eq!(
        response.status(),
        404,
        "OCI index without the OCI Accept type"
    );

    let response = get("quirk/docker", media_type::DOCKER_MANIFEST)
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(response.headers(), "docker-content-digest"),
        Some(amd64.digest.as_str()),
        "silently picked linux/amd64"
    );

    // our client sees both indexes for what they are
    let oci = s.lookup("quirk/oci:v1").await.expect("lookup");
    assert_eq!(oci.platforms.len(), 5);
    let docker = s.lookup("quirk/docker:v1").await.expect("lookup");
    assert_eq!(platforms(&docker), ["linux/arm64/v8", "linux/amd64"]);
}

/// Host names are case-insensitive: a registry listed as `Localhost:PORT` is reached over
/// plain HTTP when a reference spells it `LOCALHOST:PORT` (the list was compared exactly).
#[tokio::test(flavor = "multi_thread")]
async fn insecure_registries_match_whatever_the_case() {
    let (registry, index) = open_with_app().await;
    let listed = format!("Localhost:{}", registry.port());
    let listed = registry::config::parse_insecure_registries("X", &listed).expect("valid");
    let client = client_with(&[], |c| c.insecure_registries = listed);
    let reference = Reference::parse(&format!("LOCALHOST:{}/acme/app:v1", registry.port()))
        .expect("an uppercase registry domain is valid");
    let summary = client.summarize(&reference).await.expect("plain HTTP");
    assert_eq!(summary.digest, index.digest.to_string());
}
