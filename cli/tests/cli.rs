//! The `mquery` binary against the real registry: text, JSON, exit codes, `--platform`.

use std::process::{Command, Output};

use mquery_tests::distribution::Distribution;
use mquery_tests::fixtures::{APP, Pusher, open_with_app_and_pi, platform};

fn mquery(registry: &Distribution, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mquery"))
        .args(args)
        .env("MQUERY_INSECURE_REGISTRIES", registry.host())
        .env_remove("MQUERY_DOCKER_HUB_MIRROR")
        .env_remove("MQUERY_ENDPOINT")
        .output()
        .expect("run mquery")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("utf-8")
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("utf-8")
}

/// Asserts that mquery exited with `code` and said something containing `text` on stderr.
fn assert_fails(out: &Output, code: i32, text: &str) {
    assert_eq!(out.status.code(), Some(code), "{}", stderr(out));
    assert!(stderr(out).contains(text), "{}", stderr(out));
}

/// The JSON document (or array) mquery printed.
fn json(out: &Output) -> serde_json::Value {
    serde_json::from_str(&stdout(out)).unwrap_or_else(|e| panic!("{e}: {}", stderr(out)))
}

struct Fixture {
    registry: Distribution,
    index_digest: String,
    single_digest: String,
}

async fn fixture() -> Fixture {
    let (registry, index, single) = open_with_app_and_pi().await;
    Fixture {
        registry,
        index_digest: index.digest.to_string(),
        single_digest: single.digest.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn text_output_is_mquerys() {
    let f = fixture().await;
    let image = f.registry.image(APP);
    let out = mquery(&f.registry, &[&image]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "Image: {image} (digest: {})\n \
             * Manifest List: Yes (Image type: application/vnd.oci.image.index.v1+json)\n \
             * Supported platforms:\n   - linux/amd64\n   - linux/arm64/v8\n   - linux/arm/v7\n   \
             - linux/ppc64le\n   - linux/s390x\n",
            f.index_digest
        )
    );

    let single = f.registry.image("acme/pi:v6");
    let out = mquery(&f.registry, &[&single]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        format!(
            "Image: {single} (digest: {})\n \
             * Manifest List: No (Image type: application/vnd.docker.distribution.manifest.v2+json)\n \
             * Supports: linux/arm/v6\n",
            f.single_digest
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn json_document_and_arrays() {
    let f = fixture().await;
    let image = f.registry.image(APP);
    let out = mquery(&f.registry, &["--json", &image]);
    assert_eq!(out.status.code(), Some(0));
    let doc = json(&out);
    mquery_tests::assert_index_document(&doc, &image, &f.index_digest);
    assert_eq!(doc["mediaType"], "application/vnd.oci.image.index.v1+json");
    assert_eq!(doc["attestations"], 0);
    let arm64 = &doc["platforms"][1];
    assert_eq!(arm64["os"], "linux");
    assert_eq!(arm64["architecture"], "arm64");
    assert_eq!(arm64["variant"], "v8");
    assert!(
        arm64["digest"]
            .as_str()
            .unwrap_or("")
            .starts_with("sha256:")
    );
    assert_eq!(
        arm64["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert!(arm64["size"].as_u64().is_some_and(|s| s > 0));
    assert_eq!(doc["cache"]["source"], "registry");
    assert_eq!(doc["cache"]["stale"], false);

    // several images: an array, errors included as error documents on stdout
    let missing = f.registry.image("acme/nope:v1");
    let out = mquery(&f.registry, &["--json", &image, &missing, "Bad"]);
    assert_eq!(out.status.code(), Some(1));
    let docs = json(&out);
    let docs = docs.as_array().expect("an array");
    assert_eq!(docs.len(), 3);
    assert_eq!(docs[0]["isList"], true);
    assert_eq!(docs[1]["error"]["code"], "NOT_FOUND");
    assert_eq!(docs[1]["reference"], missing.as_str());
    assert_eq!(docs[2]["error"]["code"], "INVALID_REFERENCE");
    assert!(
        docs[2].get("reference").is_none(),
        "an unparsed reference has no canonical form"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn platform_check_exit_codes() {
    let f = fixture().await;
    let (index, single) = (f.registry.image(APP), f.registry.image("acme/pi:v6"));
    for spec in [
        "arm64",
        "linux/arm64",
        "linux/arm64/v8",
        "aarch64",
        "x86_64",
        "armhf",
    ] {
        let out = mquery(&f.registry, &["--platform", spec, &index]);
        assert_eq!(out.status.code(), Some(0), "{spec}: {}", stderr(&out));
    }
    let out = mquery(&f.registry, &["--platform", "windows/amd64", &index]);
    assert_fails(&out, 3, "does not support windows/amd64");
    // every image must support it
    let out = mquery(&f.registry, &["--platform", "linux/arm64", &index, &single]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stdout(&out).contains("linux/arm/v6"),
        "both answers are still printed"
    );
    let out = mquery(&f.registry, &["--platform", "linux/arm/v6", &single]);
    assert_eq!(out.status.code(), Some(0));
    // with --json the exit code is the same
    let out = mquery(&f.registry, &["--json", "--platform", "s390x", &single]);
    assert_eq!(out.status.code(), Some(3));
    let out = mquery(&f.registry, &["--platform", "toaster", &single]);
    assert_fails(&out, 1, "unknown operating system or architecture");
}

/// Native and compatible: the pi image is linux/arm/v6 only, which an arm64 host runs only
/// through containerd's 32-bit fallback.
#[tokio::test(flavor = "multi_thread")]
async fn native_and_compatible_platform_answers() {
    let f = fixture().await;
    let (index, single) = (f.registry.image(APP), f.registry.image("acme/pi:v6"));
    let out = mquery(&f.registry, &["--platform", "arm64", &index]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).ends_with(" * linux/arm64: yes (linux/arm64/v8)\n"),
        "{}",
        stdout(&out)
    );
    let out = mquery(&f.registry, &["--platform", "linux/arm64", &single]);
    assert_fails(&out, 3, "does not support linux/arm64 natively");
    assert!(
        stdout(&out).ends_with(
            " * linux/arm64: no; linux/arm/v6 runs only with 32-bit support (--compatible)\n"
        ),
        "{}",
        stdout(&out)
    );
    let out = mquery(
        &f.registry,
        &["--platform", "linux/arm64", "--compatible", &single],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).ends_with(" * linux/arm64: yes (linux/arm/v6; compatible, not native)\n"));
    // an amd64 host has no 32-bit arm fallback
    let out = mquery(
        &f.registry,
        &["--platform", "amd64", "--compatible", &single],
    );
    assert_fails(
        &out,
        3,
        "does not support linux/amd64, not even with a fallback",
    );
    assert!(stdout(&out).ends_with(" * linux/amd64: no\n"));
    // the JSON documents carry platformCheck
    let out = mquery(
        &f.registry,
        &["--json", "--platform", "linux/arm64", &index, &single],
    );
    assert_eq!(out.status.code(), Some(3));
    let docs = json(&out);
    assert_eq!(
        docs[0]["platformCheck"]["native"]["platform"],
        "linux/arm64/v8"
    );
    assert_eq!(docs[0]["platformCheck"]["requested"], "linux/arm64");
    assert!(docs[1]["platformCheck"]["native"].is_null());
    assert_eq!(
        docs[1]["platformCheck"]["compatible"]["platform"],
        "linux/arm/v6"
    );
    assert_eq!(
        docs[1]["platformCheck"]["compatible"]["digest"],
        f.single_digest.as_str()
    );
    // containerd's syntax errors are sentences, exit 1; --compatible needs --platform
    let out = mquery(&f.registry, &["--platform", "linux(+)/amd64", &index]);
    assert_fails(&out, 1, "is not an operating system in \"linux(+)/amd64\"");
    let out = mquery(&f.registry, &["--compatible", &index]);
    assert_eq!(out.status.code(), Some(1));
}

/// `--verify` reads each platform entry's image config: an index whose labels lie (an amd64
/// image listed as arm64: estesp/mquery#9), a platform listed twice and an entry that is not
/// an image are reported, exit 5; an honest index passes with exit 0. The service's
/// `verify=1` gives the same document.
#[tokio::test(flavor = "multi_thread")]
async fn verify_finds_lying_indexes() {
    use mquery_tests::fixtures::Format;
    let f = fixture().await;
    let pusher = Pusher::open(&f.registry);
    let amd64 = pusher
        .image(
            "acme/liar",
            None,
            Format::Oci,
            platform("linux", "amd64", None),
        )
        .await;
    let arm64 = pusher
        .image(
            "acme/liar",
            None,
            Format::Oci,
            platform("linux", "arm64", Some("v8")),
        )
        .await;
    let artifact = pusher
        .artifact("acme/liar", "sbom", "application/spdx+json")
        .await;
    // an image whose config names no platform at all
    let nameless = pusher
        .image("acme/liar", None, Format::Oci, serde_json::json!({}))
        .await;
    let entries = vec![
        nameless.entry(Some(platform("linux", "riscv64", None))),
        amd64.entry(Some(platform("linux", "amd64", None))),
        // the amd64 image, labelled arm64
        amd64.entry(Some(platform("linux", "arm64", Some("v8")))),
        arm64.entry(Some(platform("linux", "arm64", None))),
        artifact.entry(Some(platform("linux", "s390x", None))),
    ];
    pusher
        .index(
            "acme/liar",
            Some("v1"),
            registry::manifest::media_type::OCI_INDEX,
            entries,
        )
        .await;
    let liar = f.registry.image("acme/liar:v1");

    let out = mquery(&f.registry, &["--verify", &liar]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(" * Verified: 5 of 5 platform entries read, 4 findings\n"),
        "{text}"
    );
    assert!(
        text.contains("   - linux/riscv64 ("),
        "an unreadable entry is a finding: {text}"
    );
    assert!(text.contains("unreadable: invalid manifest"), "{text}");
    let short = &amd64.digest.encoded()[..12];
    assert!(
        text.contains(&format!(
            "   - linux/arm64/v8 ({short}…): its image config says linux/amd64\n"
        )),
        "{text}"
    );
    assert!(
        text.contains("   - linux/arm64/v8 is listed 2 times\n"),
        "{text}"
    );
    assert!(
        text.contains("not an image but an artifact (application/spdx+json)"),
        "{text}"
    );

    let out = mquery(&f.registry, &["--json", "--verify", &liar]);
    assert_eq!(out.status.code(), Some(5));
    let doc = json(&out);
    let kinds: Vec<&str> = doc["verification"]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|finding| finding["kind"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        kinds,
        ["unreadable", "platformMismatch", "notAnImage", "duplicate"]
    );
    assert_eq!(doc["verification"]["findings"][1]["config"], "linux/amd64");

    // an honest index: every entry read, nothing found
    let out = mquery(&f.registry, &["--verify", &f.registry.image(APP)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains(" * Verified: 5 of 5 platform entries read, no findings\n"));
    // a platform failure outranks findings
    let out = mquery(&f.registry, &["--verify", "--platform", "ppc64le", &liar]);
    assert_eq!(out.status.code(), Some(3));

    // the service: verify=1 gives the same verification object
    let endpoint = service_for(&f.registry).await;
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_mquery"))
            .args(["--json", "--verify", "--endpoint", &endpoint, &liar])
            .env_remove("MQUERY_ENDPOINT")
            .output()
            .expect("runs")
    })
    .await
    .expect("join");
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert_eq!(json(&out)["verification"], doc["verification"]);
}

/// The service (the real router on a real socket) in front of `registry`: its base URL.
async fn service_for(registry: &Distribution) -> String {
    let (name, host) = registry.insecure_env();
    let config = service::config::Config::from_lookup(|n| (n == name).then(|| host.clone()))
        .expect("config");
    let app = service::app(service::server::state(&config).await.expect("state"));
    let (listener, addr) = mquery_tests::bind_loopback().await;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

/// `mquery diff OLD NEW`: added and dropped platforms by normalized form (arm64 = arm64/v8),
/// exit 4 when NEW dropped one; the service's `/v1/diff` answers the same document.
#[tokio::test(flavor = "multi_thread")]
async fn diff_reports_dropped_platforms() {
    use mquery_tests::fixtures::Format;
    let f = fixture().await;
    Pusher::open(&f.registry)
        .index_of(
            "acme/app",
            Some("v2"),
            Format::Oci,
            vec![
                platform("linux", "amd64", None),
                platform("linux", "arm64", None),
                platform("linux", "riscv64", None),
            ],
        )
        .await;
    let (v1, v2) = (f.registry.image(APP), f.registry.image("acme/app:v2"));
    let out = mquery(&f.registry, &["diff", &v1, &v2]);
    assert_fails(&out, 4, "dropped linux/arm/v7, linux/ppc64le, linux/s390x");
    let text = stdout(&out);
    assert!(text.contains(" * Added: linux/riscv64\n"), "{text}");
    assert!(
        text.contains(" * Dropped: linux/arm/v7, linux/ppc64le, linux/s390x\n"),
        "{text}"
    );
    assert!(
        text.starts_with(&format!("Old: {v1} (digest: {})\n", f.index_digest)),
        "{text}"
    );
    // the other way round nothing is dropped but riscv64 (flags before or after `diff`)
    let out = mquery(&f.registry, &["--json", "diff", &v2, &v1]);
    assert_eq!(out.status.code(), Some(4));
    let doc = json(&out);
    assert_eq!(doc["dropped"], serde_json::json!(["linux/riscv64"]));
    assert_eq!(doc["added"].as_array().map(Vec::len), Some(3));
    // the same release: exit 0
    let out = mquery(&f.registry, &["diff", &v1, &v1]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains(" * Same manifest\n * Added: none\n * Dropped: none\n"));
    // a failed lookup is exit 1
    let out = mquery(
        &f.registry,
        &["diff", &v1, &f.registry.image("acme/nope:v9")],
    );
    assert_fails(&out, 1, "image not found or not public");

    // the service answers the same document
    let endpoint = service_for(&f.registry).await;
    let url = format!(
        "{endpoint}/v1/diff?old={}&new={}",
        mquery_tests::encode_query(&v1),
        mquery_tests::encode_query(&v2)
    );
    let body = reqwest::get(&url)
        .await
        .expect("GET")
        .bytes()
        .await
        .expect("body");
    let served: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    let out = mquery(&f.registry, &["diff", "--json", &v1, &v2]);
    assert_eq!(served, json(&out));
    let missing = reqwest::get(format!("{endpoint}/v1/diff?old=alpine"))
        .await
        .expect("GET");
    assert_eq!(missing.status().as_u16(), 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_are_sentences_on_stderr() {
    let f = fixture().await;
    let out = mquery(&f.registry, &["Alpine"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
    assert_eq!(
        stderr(&out),
        "mquery: invalid reference \"Alpine\": repository name must be lowercase\n"
    );
    let missing = f.registry.image("acme/nope:v1");
    let out = mquery(&f.registry, &[&missing]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!("mquery: image not found or not public: {missing}\n")
    );

    let out = Command::new(env!("CARGO_BIN_EXE_mquery"))
        .arg("alpine")
        .env("MQUERY_DOCKER_HUB_MIRROR", "not a url")
        .output()
        .expect("run mquery");
    assert_fails(&out, 1, "MQUERY_DOCKER_HUB_MIRROR");

    let out = Command::new(env!("CARGO_BIN_EXE_mquery"))
        .output()
        .expect("run mquery");
    assert_eq!(out.status.code(), Some(1), "usage errors exit 1");
}

/// `--endpoint` asks the service (here the real router on a real socket) and prints exactly
/// what direct mode prints.
#[tokio::test(flavor = "multi_thread")]
async fn endpoint_mode_prints_what_direct_mode_prints() {
    let f = fixture().await;
    let endpoint = service_for(&f.registry).await;

    let (index, single) = (f.registry.image(APP), f.registry.image("acme/pi:v6"));
    let missing = f.registry.image("acme/nope:v1");
    let run = |args: Vec<String>, via_service: bool| {
        let registry_host = f.registry.host();
        let endpoint = endpoint.clone();
        tokio::task::spawn_blocking(move || {
            let mut command = Command::new(env!("CARGO_BIN_EXE_mquery"));
            command
                .args(&args)
                .env("MQUERY_INSECURE_REGISTRIES", registry_host)
                .env_remove("MQUERY_ENDPOINT");
            if via_service {
                command.env("MQUERY_ENDPOINT", endpoint);
            }
            command.output().expect("run mquery")
        })
    };
    let args = vec![index.clone(), single.clone()];
    let direct = run(args.clone(), false).await.expect("join");
    let served = run(args, true).await.expect("join");
    assert_eq!(direct.status.code(), Some(0));
    assert_eq!(served.status.code(), Some(0), "{}", stderr(&served));
    assert_eq!(stdout(&served), stdout(&direct));

    // --endpoint on the command line, --platform and errors behave the same way
    let flag = vec![
        "--endpoint".to_owned(),
        endpoint.clone(),
        "--platform".to_owned(),
        "linux/arm64".to_owned(),
        single.clone(),
    ];
    let out = run(flag, false).await.expect("join");
    assert_eq!(out.status.code(), Some(3));
    let out = run(vec![missing.clone()], true).await.expect("join");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!("mquery: image not found or not public: {missing}\n")
    );

    // JSON documents agree but for the cache metadata
    let direct = run(vec!["--json".into(), index.clone()], false)
        .await
        .expect("join");
    let served = run(vec!["--json".into(), index], true).await.expect("join");
    let (mut a, mut b) = (json(&direct), json(&served));
    a["cache"] = serde_json::Value::Null;
    b["cache"] = serde_json::Value::Null;
    assert_eq!(a, b);

    // a service that is not there is a clear error
    let dead = format!("http://127.0.0.1:{}", mquery_tests::free_port());
    let out = run(vec!["--endpoint".into(), dead, single], false)
        .await
        .expect("join");
    assert_fails(&out, 1, "mquery service at");
}

/// Private, link-local and unique-local registries are refused. The binary runs inside an
/// empty network namespace (`unshare -n`), so even a broken guard could send nothing anywhere.
#[test]
fn private_registries_are_refused_inside_an_empty_network_namespace() {
    for reference in [
        "10.0.0.1/acme/app",
        "172.16.0.5/acme/app:v1",
        "192.168.1.10:5000/acme/app:v1",
        "169.254.169.254/latest/meta-data",
        "100.64.0.1/acme/app",
        "[fd00::1]/acme/app",
        "[fe80::1]:5000/acme/app",
        "[::ffff:a9fe:a9fe]/acme/app",
    ] {
        let out = Command::new("unshare")
            .args(["-n", "--"])
            .arg(env!("CARGO_BIN_EXE_mquery"))
            .args(["--json", reference])
            .env_remove("MQUERY_INSECURE_REGISTRIES")
            .env_remove("MQUERY_ENDPOINT")
            .output()
            .expect("run unshare (the test command runs as root)");
        assert_eq!(out.status.code(), Some(1), "{reference}: {}", stderr(&out));
        let doc = json(&out);
        let error = &doc["error"];
        assert_eq!(error["code"], "REGISTRY_NOT_ALLOWED", "{reference}: {doc}");
        let message = error["message"].as_str().unwrap_or("");
        assert!(message.contains("is not allowed"), "{reference}: {doc}");
    }
}

/// Registry-controlled strings cannot drive the terminal or forge lines: colour codes, a
/// window-title sequence and CR/LF in an index's platforms, stored in the real registry,
/// come out as visible escapes.
#[tokio::test(flavor = "multi_thread")]
async fn control_characters_from_the_registry_are_escaped() {
    let registry = Distribution::start_open();
    let platforms = [
        "arm\u{1b}[31m",
        "\u{1b}]0;pwned\u{7}amd64",
        "arm\n * Supported platforms: fake/line",
        "arm64\r   - linux/s390x",
    ]
    .iter()
    .map(|arch| platform("linux", arch, None))
    .collect();
    Pusher::open(&registry)
        .index_naming_one_image("acme/hostile", "v1", platforms)
        .await;
    let image = registry.image("acme/hostile:v1");
    let out = mquery(&registry, &[&image]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        !text.chars().any(|c| c != '\n' && c.is_control()),
        "{text:?}"
    );
    let platforms: Vec<&str> = text.lines().skip(3).collect();
    assert_eq!(
        platforms,
        [
            r"   - linux/arm\x1b[31m",
            r"   - linux/\x1b]0;pwned\x07amd64",
            r"   - linux/arm\x0a * Supported platforms: fake/line",
            r"   - linux/arm64\x0d   - linux/s390x",
        ],
        "{text}"
    );
}
