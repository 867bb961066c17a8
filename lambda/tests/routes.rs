//! The router, called in process (`app(state).oneshot(request)`) against the real registry:
//! every route, content negotiation, caching headers, conditional requests, errors, escaping.

use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use mquery_tests::distribution::Distribution;
use mquery_tests::fixtures::{APP, Pusher, open_with_app_and_pi};
use mquery_tests::helm::rendered_chart;
use registry::manifest::media_type;
use serde_json::{Value, json};
use service::config::Config;
use tower::ServiceExt as _;

struct Setup {
    registry: Distribution,
    app: axum::Router,
    /// [`APP`] on the registry, and its digest.
    image: String,
    index_digest: String,
}

async fn setup() -> Setup {
    let (registry, index, _) = open_with_app_and_pi().await;
    let (name, host) = registry.insecure_env();
    let config = Config::from_lookup(|n| (n == name).then(|| host.clone())).expect("config");
    let app = service::app(service::server::state(&config).await.expect("state"));
    Setup {
        image: registry.image(APP),
        registry,
        app,
        index_digest: index.digest.to_string(),
    }
}

impl Setup {
    /// GETs `uri`, expecting a 200.
    async fn ok(&self, uri: &str) -> (Response<Body>, Vec<u8>) {
        let (r, body) = get(&self.app, uri, &[]).await;
        assert_eq!(r.status(), 200, "{uri}");
        (r, body)
    }
}

/// Sends `request` to `app`: the response (its body taken out) and the body.
async fn send(app: &axum::Router, request: Request<Body>) -> (Response<Body>, Vec<u8>) {
    let response = app.clone().oneshot(request).await.expect("infallible");
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .expect("body")
        .to_vec();
    (Response::from_parts(parts, Body::empty()), bytes)
}

async fn get(app: &axum::Router, uri: &str, headers: &[(&str, &str)]) -> (Response<Body>, Vec<u8>) {
    let mut request = Request::builder().uri(uri);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    send(app, request.body(Body::empty()).expect("request")).await
}

fn header<'a>(response: &'a Response<Body>, name: &str) -> &'a str {
    mquery_tests::header(response.headers(), name).unwrap_or("")
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("JSON body")
}

fn utf8(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("utf-8")
}

/// A string member of a document, or "".
fn text(value: &Value) -> &str {
    value.as_str().unwrap_or("")
}

/// `path` asking about `image`.
fn about(path: &str, image: &str) -> String {
    format!("{path}?image={}", mquery_tests::encode_query(image))
}

#[tokio::test(flavor = "multi_thread")]
async fn inspect_json_and_text() {
    let s = setup().await;
    let (r, body) = s.ok(&about("/v1/inspect", &s.image)).await;
    assert_eq!(header(&r, "content-type"), "application/json");
    assert_eq!(header(&r, "access-control-allow-origin"), "*");
    // what is left of the tag's freshness: MQUERY_CACHE_TTL (300 s) on a new answer
    let cache_control = header(&r, "cache-control");
    let max_age = cache_control
        .strip_prefix("public, max-age=")
        .and_then(|n| n.parse::<u64>().ok());
    assert!(
        max_age.is_some_and(|n| (290..=300).contains(&n)),
        "{cache_control}"
    );
    assert_eq!(header(&r, "vary"), "accept");
    assert!(!header(&r, "x-request-id").is_empty());
    let doc = json(&body);
    mquery_tests::assert_index_document(&doc, &s.image, &s.index_digest);
    assert_eq!(doc["cache"]["source"], "registry");

    let expected_text = format!(
        "Image: {} (digest: {})\n * Manifest List: Yes (Image type: {})\n * Supported platforms:\n   - linux/amd64\n   - linux/arm64/v8\n   - linux/arm/v7\n   - linux/ppc64le\n   - linux/s390x\n",
        s.image,
        s.index_digest,
        media_type::OCI_INDEX
    );
    let inspect = about("/v1/inspect", &s.image);
    let as_text = [
        (format!("{inspect}&format=text"), None),
        (inspect.clone(), Some(("accept", "text/plain"))),
    ];
    for (uri, accept) in as_text {
        let (r, body) = get(&s.app, &uri, accept.as_slice()).await;
        assert_eq!(r.status(), 200, "{uri}");
        if accept.is_none() {
            assert_eq!(header(&r, "content-type"), "text/plain; charset=utf-8");
        }
        assert_eq!(utf8(body), expected_text, "{uri}");
    }

    let (r, body) = get(&s.app, &format!("{inspect}&format=yaml"), &[]).await;
    assert_eq!(r.status(), 400);
    assert_eq!(json(&body)["error"]["code"], "INVALID_PARAMETER");
}

#[tokio::test(flavor = "multi_thread")]
async fn etag_304_and_immutable_digests() {
    let s = setup().await;
    let uri = about("/v1/inspect", &s.image);
    let (r, _) = get(&s.app, &uri, &[]).await;
    let etag = header(&r, "etag").to_owned();
    assert!(
        etag.starts_with("W/\"") && etag.contains(&s.index_digest[7..]),
        "{etag}"
    );
    let (r, body) = get(&s.app, &uri, &[("if-none-match", &etag)]).await;
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    assert_eq!(header(&r, "etag"), etag);
    // another format of the same digest is another representation
    let text = format!("{uri}&format=text");
    let (r, _) = get(&s.app, &text, &[("if-none-match", &etag)]).await;
    assert_eq!(r.status(), 200);

    let pinned = s.registry.image(&format!("acme/app@{}", s.index_digest));
    let (r, _) = get(&s.app, &about("/v1/inspect", &pinned), &[]).await;
    assert_eq!(r.status(), 200);
    // the 30 days the service keeps a digest's summary
    let immutable = "public, max-age=2592000, immutable";
    assert_eq!(header(&r, "cache-control"), immutable);
}

#[tokio::test(flavor = "multi_thread")]
async fn mquery_compatible_shape() {
    let s = setup().await;
    let image = s.registry.image("acme/pi:v6");
    let (_, body) = s.ok(&about("/mquery", &image)).await;
    let doc = json(&body);
    assert_eq!(doc["islist"], false);
    assert_eq!(doc["imagename"], image.as_str());
    assert_eq!(doc["mediatype"], media_type::DOCKER_MANIFEST);
    assert!(text(&doc["digest"]).starts_with("sha256:"));
    assert!(doc["cachets"].as_u64().is_some_and(|t| t > 1_700_000_000));
    let archlist = json!([{"os": "linux", "architecture": "arm", "variant": "v6"}]);
    assert_eq!(doc["archlist"], archlist);

    let (r, body) = get(&s.app, "/mquery?image=Bad", &[]).await;
    assert_eq!(r.status(), 400);
    assert!(text(&json(&body)["error"]).contains("lowercase"));
}

#[tokio::test(flavor = "multi_thread")]
async fn badges_never_break() {
    let s = setup().await;
    let (r, body) = s.ok(&about("/v1/badge", &s.image)).await;
    assert_eq!(header(&r, "content-type"), "image/svg+xml");
    // the tag's freshness left, and the day of grace the service itself would serve it stale
    let cache_control = header(&r, "cache-control");
    let max_age = cache_control
        .strip_prefix("public, max-age=")
        .and_then(|rest| rest.strip_suffix(", stale-while-revalidate=86400"))
        .and_then(|n| n.parse::<u64>().ok());
    assert!(
        max_age.is_some_and(|n| (290..=300).contains(&n)),
        "{cache_control}"
    );
    let svg = utf8(body);
    assert!(svg.contains(">platforms<"));
    assert!(
        svg.contains("amd64 | arm64/v8 | arm/v7 | +2 more")
            || svg.contains("amd64 | arm64/v8 | arm/v7 | ppc64le | s390x"),
        "{svg}"
    );

    let missing = s.registry.image("acme/nope:v1");
    let (r, body) = get(&s.app, &about("/v1/badge", &missing), &[]).await;
    assert_eq!(r.status(), 200, "a README never shows a broken image");
    assert!(utf8(body).contains("not found"));
    assert_eq!(header(&r, "cache-control"), "no-cache, max-age=0");

    let (_, body) = s.ok(&about("/v1/shields", &s.image)).await;
    let doc = json(&body);
    assert_eq!(doc["schemaVersion"], 1);
    assert_eq!(doc["label"], "platforms");
    assert_eq!(doc["color"], "brightgreen");
    assert!(text(&doc["message"]).starts_with("amd64 | arm64/v8"));
    let (_, body) = s.ok("/v1/shields").await;
    assert_eq!(json(&body)["isError"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn html_page_form_and_result() {
    let s = setup().await;
    let (r, body) = s.ok("/").await;
    assert_eq!(header(&r, "content-type"), "text/html; charset=utf-8");
    let html = utf8(body);
    assert!(html.contains("<form") && html.contains("name=\"image\""));

    let (_, body) = s.ok(&about("/", &s.image)).await;
    let html = utf8(body);
    for platform in ["linux/amd64", "linux/arm64/v8", "linux/s390x"] {
        assert!(html.contains(&format!(">{platform}<")), "{platform}");
    }
    assert!(html.contains("Multi-platform"));

    let (r, body) = get(&s.app, "/?image=%3Cscript%3Ealert(1)%3C%2Fscript%3E", &[]).await;
    assert_eq!(r.status(), 400);
    let html = utf8(body);
    assert!(!html.contains("<script>"), "user input is escaped");
    assert!(html.contains("&lt;script&gt;"));
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_registry_strings_are_escaped() {
    let s = setup().await;
    let pusher = Pusher::open(&s.registry);
    let evil =
        json!({"os": "linux", "architecture": "amd64", "variant": "<script>alert(1)</script>"});
    pusher
        .index_naming_one_image("evil/app", "v1", vec![evil])
        .await;
    let image = s.registry.image("evil/app:v1");
    let (_, body) = s.ok(&about("/", &image)).await;
    let html = utf8(body);
    assert!(
        !html.contains("<script>alert(1)"),
        "registry data renders as text"
    );
    assert!(html.contains("linux/amd64/&lt;script&gt;alert(1)&lt;/script&gt;"));
    let (_, body) = get(&s.app, &about("/v1/badge", &image), &[]).await;
    assert!(!utf8(body).contains("<script>"));

    // control characters: escaped in text, where a terminal would obey them
    let forged =
        json!({"os": "linux", "architecture": "arm\n * Supported platforms: fake/line\u{1b}[31m"});
    pusher
        .index_naming_one_image("evil/app", "v2", vec![forged])
        .await;
    let image = s.registry.image("evil/app:v2");
    let uri = format!(
        "/v1/inspect?format=text&image={}",
        mquery_tests::encode_query(&image)
    );
    let (_, body) = s.ok(&uri).await;
    let text = utf8(body);
    assert!(
        text.ends_with(" * Supported platforms:\n   - linux/arm\\x0a * Supported platforms: fake/line\\x1b[31m\n"),
        "{text:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_follow_the_status_table() {
    let s = setup().await;
    let (r, body) = get(&s.app, "/v1/inspect", &[]).await;
    assert_eq!(r.status(), 400);
    assert_eq!(json(&body)["error"]["code"], "INVALID_PARAMETER");
    assert_eq!(header(&r, "cache-control"), "no-store");

    let (r, body) = get(&s.app, "/v1/inspect?image=Alpine", &[]).await;
    assert_eq!(r.status(), 400);
    let doc = json(&body);
    assert_eq!(doc["error"]["code"], "INVALID_REFERENCE");
    assert_eq!(doc["image"], "Alpine");
    assert!(doc.get("reference").is_none());

    let long = "a".repeat(600);
    let (r, body) = get(&s.app, &format!("/v1/inspect?image={long}"), &[]).await;
    assert_eq!(r.status(), 400);
    assert_eq!(json(&body)["error"]["code"], "INVALID_PARAMETER");

    let missing = s.registry.image("acme/nope:v1");
    let (r, body) = get(&s.app, &about("/v1/inspect", &missing), &[]).await;
    assert_eq!(r.status(), 404);
    let doc = json(&body);
    assert_eq!(doc["error"]["code"], "NOT_FOUND");
    assert_eq!(doc["reference"], missing.as_str());

    // an unlisted loopback registry: refused by the address guard before any request
    let (r, body) = get(&s.app, "/v1/inspect?image=127.0.0.1%3A1%2Fx%2Fy", &[]).await;
    assert_eq!(r.status(), 403);
    assert_eq!(json(&body)["error"]["code"], "REGISTRY_NOT_ALLOWED");

    let (r, body) = get(&s.app, "/nope", &[]).await;
    assert_eq!(r.status(), 404);
    assert_eq!(json(&body)["error"]["code"], "NOT_FOUND");
    assert_eq!(header(&r, "access-control-allow-origin"), "*");

    let post = Request::post("/v1/inspect?image=alpine").body(Body::empty());
    let (r, _) = send(&s.app, post.expect("request")).await;
    assert_eq!(r.status(), 405);
    assert_eq!(header(&r, "allow"), "GET, HEAD");
    // an empty old= is a missing parameter, named as such
    let (r, body) = get(&s.app, "/v1/diff?old=&new=alpine", &[]).await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        json(&body)["error"]["message"],
        "missing old or new parameter, e.g. ?old=app:1&new=app:2"
    );
    // each path names the methods it answers
    for (path, allow) in [("/v1/check", "POST, OPTIONS"), ("/", "GET, HEAD, POST")] {
        let delete = Request::delete(path).body(Body::empty());
        let (r, _) = send(&s.app, delete.expect("request")).await;
        assert_eq!(r.status(), 405, "{path}");
        assert_eq!(header(&r, "allow"), allow, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn head_and_healthz() {
    let s = setup().await;
    let head = Request::head(about("/v1/inspect", &s.image)).body(Body::empty());
    let (r, body) = send(&s.app, head.expect("request")).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("etag"));
    assert!(body.is_empty(), "HEAD has no body");
    let (_, body) = s.ok("/healthz").await;
    assert_eq!(json(&body)["status"], "ok");
}

/// `platform=P` on every route that answers about an image: the `platformCheck` object, the
/// text line, the page's verdict, `P | yes/no/compatible` badges; an invalid P is a 400 (an
/// error badge for badges), before any registry request.
#[tokio::test(flavor = "multi_thread")]
async fn platform_parameter() {
    let s = setup().await;
    // an index with only 32-bit arm: arm64 hosts pull it only through the fallback
    let (_, arm_children) = mquery_tests::fixtures::Pusher::open(&s.registry)
        .index_of(
            "acme/armonly",
            Some("v1"),
            mquery_tests::fixtures::Format::Oci,
            vec![
                mquery_tests::fixtures::platform("linux", "arm", Some("v6")),
                mquery_tests::fixtures::platform("linux", "arm", Some("v7")),
            ],
        )
        .await;
    let arm_image = s.registry.image("acme/armonly:v1");
    let with = |path: &str, image: &str, platform: &str| {
        format!(
            "{}&platform={}",
            about(path, image),
            mquery_tests::encode_query(platform)
        )
    };

    let (_, body) = s.ok(&with("/v1/inspect", &s.image, "aarch64")).await;
    let check = &json(&body)["platformCheck"];
    assert_eq!(check["requested"], "aarch64");
    assert_eq!(check["normalized"], "linux/arm64");
    assert_eq!(check["native"]["platform"], "linux/arm64/v8");
    assert!(text(&check["native"]["digest"]).starts_with("sha256:"));
    assert_eq!(check["compatible"], check["native"]);

    let (_, body) = s.ok(&with("/v1/inspect", &arm_image, "linux/arm64")).await;
    let check = &json(&body)["platformCheck"];
    assert!(check["native"].is_null());
    assert_eq!(check["compatible"]["platform"], "linux/arm/v7");
    assert_eq!(
        text(&check["compatible"]["digest"]),
        arm_children[1].digest.as_str(),
        "the best fallback: arm/v7 before arm/v6"
    );
    let (_, body) = s
        .ok(&format!(
            "{}&format=text",
            with("/v1/inspect", &arm_image, "linux/arm64")
        ))
        .await;
    assert!(utf8(body).ends_with(
        " * linux/arm64: no; linux/arm/v7 runs only with 32-bit support (--compatible)\n"
    ));
    // without platform= the document has no platformCheck
    let (_, body) = s.ok(&about("/v1/inspect", &s.image)).await;
    assert!(json(&body).get("platformCheck").is_none());

    // badges: yes / compatible / no, in shields' schema too
    for (image, platform, message, color) in [
        (&s.image, "linux/arm64", "yes", "brightgreen"),
        (&arm_image, "linux/arm64", "compatible", "orange"),
        (&s.image, "linux/riscv64", "no", "red"),
    ] {
        let (_, body) = s.ok(&with("/v1/shields", image, platform)).await;
        let doc = json(&body);
        assert_eq!(
            (
                text(&doc["label"]),
                text(&doc["message"]),
                text(&doc["color"])
            ),
            (platform, message, color),
            "{image} {platform}"
        );
        let (r, body) = s.ok(&with("/v1/badge", image, platform)).await;
        assert_eq!(header(&r, "content-type"), "image/svg+xml");
        let svg = utf8(body);
        assert!(
            svg.contains(&format!("aria-label=\"{platform}: {message}\"")),
            "{svg}"
        );
        // the plain badge of the same image is another response, with another ETag
        let (plain, _) = s.ok(&about("/v1/badge", image)).await;
        assert_ne!(header(&plain, "etag"), header(&r, "etag"));
    }

    // the page shows the verdict
    let (_, body) = s.ok(&with("/", &arm_image, "linux/arm64")).await;
    let page = utf8(body);
    assert!(page.contains("id=\"platform-check\""), "{page}");
    assert!(page.contains("linux/arm64: compatible only"), "{page}");

    // an invalid P: 400 INVALID_PARAMETER with a sentence, nothing asked of the registry
    let mark = s.registry.mark();
    let (r, body) = get(
        &s.app,
        &with("/v1/inspect", &s.image, "linux/arm/foo/bar"),
        &[],
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let doc = json(&body);
    assert_eq!(doc["error"]["code"], "INVALID_PARAMETER");
    assert_eq!(
        doc["error"]["message"],
        "platform: \"linux/arm/foo/bar\" has too many parts: expected os/arch[/variant]"
    );
    let (r, body) = get(&s.app, &with("/v1/shields", &s.image, "linux/*"), &[]).await;
    assert_eq!(r.status(), 200, "badges never break");
    assert_eq!(json(&body)["isError"], true);
    assert!(s.registry.served_since(mark).is_empty());
}

/// `verify=1` reads each platform entry's manifest and config once: a second verification of
/// the same index asks the registry nothing (what each entry is, is cached by digest).
#[tokio::test(flavor = "multi_thread")]
async fn verify_reads_each_entry_once() {
    let s = setup().await;
    let uri = format!("{}&verify=1", about("/v1/inspect", &s.image));
    let mark = s.registry.mark();
    let (_, body) = s.ok(&uri).await;
    let doc = json(&body);
    assert_eq!(doc["verification"]["checked"], 5);
    assert_eq!(doc["verification"]["findings"], json!([]));
    let gets = s.registry.served_since(mark);
    // the index (1 GET), then a manifest and a config per platform entry
    assert_eq!(gets.len(), 1 + 2 * 5, "{gets:?}");
    let mark = s.registry.mark();
    let (r, body) = s.ok(&format!("{uri}&format=text")).await;
    assert!(utf8(body).contains(" * Verified: 5 of 5 platform entries read, no findings\n"));
    assert!(header(&r, "etag").contains("verified"));
    assert!(s.registry.served_since(mark).is_empty());
    // without verify=1, no verification object
    let (_, body) = s.ok(&about("/v1/inspect", &s.image)).await;
    assert!(json(&body).get("verification").is_none());
}

/// `POST /v1/check`: a rendered Helm chart (an init container, a CronJob, a placeholder left
/// unrendered, an image that does not exist) answered with `mquery check --json`'s document,
/// each distinct image looked up once; and the limits, each a sentence.
#[tokio::test(flavor = "multi_thread")]
async fn check_scans_a_posted_file() {
    let s = setup().await;
    let r = s.registry.host();
    let rendered = rendered_chart(
        &[("wait", &format!("{r}/acme/pi:v6"))],
        &[
            ("app", &format!("\"{r}/{APP}\"")),
            ("sidecar", "\"{{ .Values.sidecar.image }}\""),
        ],
        &[
            ("report", &format!("{r}/{APP}")),
            ("gone", &format!("{r}/acme/gone:v1")),
        ],
    );
    let post = |uri: &str, body: Vec<u8>| {
        let request = Request::post(uri)
            .header("content-type", "application/yaml")
            .body(Body::from(body))
            .expect("request");
        send(&s.app, request)
    };
    let mark = s.registry.mark();
    let (response, body) = post(
        "/v1/check?platform=linux/arm64&name=chart.yaml",
        rendered.clone().into_bytes(),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), "application/json");
    assert_eq!(header(&response, "cache-control"), "no-store");
    let served = s.registry.served_since(mark);
    let indexes = served
        .iter()
        .filter(|g| g.path.contains("/acme/app/manifests/"))
        .count();
    assert_eq!(
        indexes, 1,
        "the app, named twice, is looked up once: {served:?}"
    );
    let doc = json(&body);
    assert_eq!(doc["platform"], "linux/arm64");
    assert_eq!(doc["status"], "error");
    assert_eq!(
        doc["summary"],
        "3 images: 1 supports linux/arm64, 1 does not, 1 failed, 1 not checked"
    );
    assert_eq!(
        doc["counts"],
        json!({"images": 3, "supported": 1, "unsupported": 1, "failed": 1, "notChecked": 1, "builtLocally": 0})
    );
    let images = doc["images"].as_array().expect("images");
    assert_eq!(images[0]["foundIn"], json!(["chart.yaml:12"]));
    assert_eq!(images[0]["platformCheck"]["native"], Value::Null);
    assert_eq!(
        images[1]["foundIn"],
        json!(["chart.yaml:15", "chart.yaml:32"])
    );
    assert_eq!(
        images[1]["platformCheck"]["native"]["platform"],
        "linux/arm64/v8"
    );
    assert_eq!(images[1]["digest"], s.index_digest.as_str());
    assert_eq!(images[2]["error"]["code"], "NOT_FOUND");
    assert_eq!(doc["problems"][0]["foundIn"], json!(["chart.yaml:17"]));
    assert!(
        text(&doc["problems"][0]["problem"]).contains("{{ .Values.sidecar.image }}"),
        "{doc}"
    );

    // a Dockerfile read as BuildKit reads it: the meta ARG, the platform ARGs holding the
    // platform asked for, a heredoc's FROM no stage, COPY --from naming an image
    let dockerfile = format!(
        "ARG TAG=v6\nFROM {r}/acme/pi:${{TAG}} AS build\nRUN <<EOF\nFROM {r}/evil:1\nEOF\n\
         FROM {r}/acme/none-${{TARGETARCH}}${{TARGETVARIANT:+-}}${{TARGETVARIANT}}:1\n\
         COPY --from={r}/{APP} /a /a\nCOPY --from=build /b /b\n"
    );
    let (_, body) = post(
        "/v1/check?platform=linux/arm/v7&name=Dockerfile",
        dockerfile.into_bytes(),
    )
    .await;
    let doc = json(&body);
    let images: Vec<&str> = doc["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(|i| i["image"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        images,
        [
            format!("{r}/acme/pi:v6"),
            format!("{r}/acme/none-arm-v7:1"),
            format!("{r}/{APP}"),
        ],
        "{doc}"
    );
    assert_eq!(doc["images"][1]["foundIn"], json!(["Dockerfile:6"]));
    assert_eq!(doc["images"][2]["foundIn"], json!(["Dockerfile:7"]));

    // compatible=1: pi's linux/arm/v6 runs on linux/arm64 through containerd's 32-bit fallback
    let list = format!("{r}/acme/pi:v6\n");
    let (_, body) = post("/v1/check?platform=linux/arm64", list.clone().into_bytes()).await;
    assert_eq!(json(&body)["status"], "unsupported");
    let (_, body) = post(
        "/v1/check?platform=linux/arm64&compatible=1",
        list.into_bytes(),
    )
    .await;
    let doc = json(&body);
    assert_eq!(doc["status"], "ok", "{doc}");
    assert_eq!(doc["images"][0]["foundIn"], json!(["file:1"]));

    // the limits: 1 MiB, 200 distinct images, UTF-8, a valid platform, POST only
    let mark = s.registry.mark();
    let huge = "# padding\n".repeat((1 << 20) / 10 + 1);
    let (response, body) = post("/v1/check", huge.into_bytes()).await;
    assert_eq!(response.status(), 413);
    let doc = json(&body);
    assert_eq!(doc["error"]["code"], "PAYLOAD_TOO_LARGE");
    assert_eq!(
        doc["error"]["message"],
        "the file is larger than 1024 KiB; a check reads at most that much"
    );
    let many: String = (0..201).map(|i| format!("{r}/acme/n{i}:v1\n")).collect();
    let (response, body) = post("/v1/check", many.into_bytes()).await;
    assert_eq!(response.status(), 413);
    assert_eq!(
        json(&body)["error"]["message"],
        "the file names 201 distinct images; a check looks up at most 200 (split the file)"
    );
    assert!(
        s.registry.served_since(mark).is_empty(),
        "refused before any lookup"
    );
    let (response, body) = post("/v1/check", vec![b'a', 0xff, b'\n']).await;
    assert_eq!(response.status(), 400);
    assert!(text(&json(&body)["error"]["message"]).contains("not UTF-8"));
    let (response, body) = post("/v1/check?platform=linux/arm64/v8/x", b"alpine\n".to_vec()).await;
    assert_eq!(response.status(), 400);
    assert_eq!(json(&body)["error"]["code"], "INVALID_PARAMETER");
    let (response, _) = get(&s.app, "/v1/check", &[]).await;
    assert_eq!(response.status(), 405);
    // a page on another origin may post YAML: the preflight allows it
    let preflight = Request::builder()
        .method("OPTIONS")
        .uri("/v1/check")
        .header("origin", "https://example.org")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .body(Body::empty())
        .expect("request");
    let (response, _) = send(&s.app, preflight).await;
    assert_eq!(response.status(), 204);
    assert_eq!(header(&response, "access-control-allow-methods"), "POST");
    assert_eq!(
        header(&response, "access-control-allow-headers"),
        "content-type"
    );
    assert_eq!(header(&response, "access-control-allow-origin"), "*");
    // the page's form: the same check, and the same limit on the file once decoded
    let form = |file: &str| {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("file", file)
            .append_pair("platform", "linux/arm64")
            .finish();
        Request::post("/")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .expect("request")
    };
    let (response, body) = send(&s.app, form(&format!("{r}/{APP}\r\n"))).await;
    assert_eq!(response.status(), 200);
    let page = utf8(body);
    assert!(
        page.contains("1 image: 1 supports linux/arm64, 0 do not, 0 failed"),
        "{page}"
    );
    assert!(page.contains("file:1"), "{page}");
    let (response, body) = send(&s.app, form(&"#".repeat((1 << 20) + 1))).await;
    assert_eq!(response.status(), 413);
    assert!(utf8(body).contains("PAYLOAD_TOO_LARGE"));
    // a body that is not the form (no `file`: schemathesis sent `AAA`) is refused, in the page
    for body in ["AAA", "", "platform=linux/arm64"] {
        let request = Request::post("/")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .expect("request");
        let (response, page) = send(&s.app, request).await;
        assert_eq!(response.status(), 400, "{body:?}");
        assert_eq!(
            header(&response, "content-type"),
            "text/html; charset=utf-8"
        );
        let page = utf8(page);
        assert!(page.contains("the form has no file field"), "{page}");
    }

    // a file with no images is an answer that says so
    let (response, body) = post("/v1/check", b"# nothing yet\n".to_vec()).await;
    assert_eq!(response.status(), 200);
    let doc = json(&body);
    assert_eq!(doc["status"], "error");
    assert_eq!(doc["problems"][0]["problem"], "no image references found");
}
