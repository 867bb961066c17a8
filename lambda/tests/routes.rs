//! The router, called in process (`app(state).oneshot(request)`) against the real registry:
//! every route, content negotiation, caching headers, conditional requests, errors, escaping.

use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use mquery_tests::distribution::Distribution;
use mquery_tests::fixtures::{Format, Pusher, app_and_pi, platform};
use registry::manifest::media_type;
use serde_json::{Value, json};
use service::config::Config;
use tower::ServiceExt as _;

struct Setup {
    registry: Distribution,
    app: axum::Router,
    index_digest: String,
}

async fn setup() -> Setup {
    let registry = Distribution::start_open();
    let pusher = Pusher::new(&registry.base_url(), None);
    let (index, _) = app_and_pi(&pusher).await;
    let host = registry.host();
    let config =
        Config::from_lookup(|name| (name == "MQUERY_INSECURE_REGISTRIES").then(|| host.clone()))
            .expect("config");
    let app = service::app(service::server::state(&config).await.expect("state"));
    Setup {
        registry,
        app,
        index_digest: index.digest.to_string(),
    }
}

async fn get(app: &axum::Router, uri: &str, headers: &[(&str, &str)]) -> (Response<Body>, Vec<u8>) {
    let mut request = Request::builder().uri(uri);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .expect("body")
        .to_vec();
    (Response::from_parts(parts, Body::empty()), bytes)
}

fn header<'a>(response: &'a Response<Body>, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("JSON body")
}

fn q(s: &str) -> String {
    mquery_tests::encode_query(s)
}

#[tokio::test(flavor = "multi_thread")]
async fn inspect_json_and_text() {
    let s = setup().await;
    let image = format!("{}/acme/app:v1", s.registry.host());
    let (r, body) = get(&s.app, &format!("/v1/inspect?image={}", q(&image)), &[]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), "application/json");
    assert_eq!(header(&r, "access-control-allow-origin"), "*");
    assert_eq!(header(&r, "cache-control"), "public, max-age=60");
    assert_eq!(header(&r, "vary"), "accept");
    assert!(!header(&r, "x-request-id").is_empty());
    let doc = json(&body);
    assert_eq!(doc["image"], image.as_str());
    assert_eq!(doc["reference"], image.as_str());
    assert_eq!(doc["digest"], s.index_digest.as_str());
    assert_eq!(doc["isList"], true);
    assert_eq!(doc["platforms"].as_array().map(Vec::len), Some(5));
    assert_eq!(doc["cache"]["source"], "registry");

    let expected_text = format!(
        "Image: {image} (digest: {})\n * Manifest List: Yes (Image type: {})\n * Supported platforms:\n   - linux/amd64\n   - linux/arm64/v8\n   - linux/arm/v7\n   - linux/ppc64le\n   - linux/s390x\n",
        s.index_digest,
        media_type::OCI_INDEX
    );
    let (r, body) = get(
        &s.app,
        &format!("/v1/inspect?image={}&format=text", q(&image)),
        &[],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), "text/plain; charset=utf-8");
    assert_eq!(String::from_utf8(body).expect("utf-8"), expected_text);
    let (r, body) = get(
        &s.app,
        &format!("/v1/inspect?image={}", q(&image)),
        &[("accept", "text/plain")],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(String::from_utf8(body).expect("utf-8"), expected_text);

    let (r, body) = get(
        &s.app,
        &format!("/v1/inspect?image={}&format=yaml", q(&image)),
        &[],
    )
    .await;
    assert_eq!(r.status(), 400);
    assert_eq!(json(&body)["error"]["code"], "INVALID_PARAMETER");
}

#[tokio::test(flavor = "multi_thread")]
async fn etag_304_and_immutable_digests() {
    let s = setup().await;
    let image = format!("{}/acme/app:v1", s.registry.host());
    let uri = format!("/v1/inspect?image={}", q(&image));
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
    let (r, _) = get(
        &s.app,
        &format!("{uri}&format=text"),
        &[("if-none-match", &etag)],
    )
    .await;
    assert_eq!(r.status(), 200);

    let pinned = format!("{}/acme/app@{}", s.registry.host(), s.index_digest);
    let (r, _) = get(&s.app, &format!("/v1/inspect?image={}", q(&pinned)), &[]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "cache-control"),
        "public, max-age=31536000, immutable"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn mquery_compatible_shape() {
    let s = setup().await;
    let image = format!("{}/acme/pi:v6", s.registry.host());
    let (r, body) = get(&s.app, &format!("/mquery?image={}", q(&image)), &[]).await;
    assert_eq!(r.status(), 200);
    let doc = json(&body);
    assert_eq!(doc["islist"], false);
    assert_eq!(doc["imagename"], image.as_str());
    assert_eq!(doc["mediatype"], media_type::DOCKER_MANIFEST);
    assert!(
        doc["digest"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:"))
    );
    assert!(doc["cachets"].as_u64().is_some_and(|t| t > 1_700_000_000));
    assert_eq!(
        doc["archlist"],
        json!([{"os": "linux", "architecture": "arm", "variant": "v6"}])
    );

    let (r, body) = get(&s.app, "/mquery?image=Bad", &[]).await;
    assert_eq!(r.status(), 400);
    assert!(
        json(&body)["error"]
            .as_str()
            .is_some_and(|e| e.contains("lowercase"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn badges_never_break() {
    let s = setup().await;
    let image = format!("{}/acme/app:v1", s.registry.host());
    let (r, body) = get(&s.app, &format!("/v1/badge?image={}", q(&image)), &[]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), "image/svg+xml");
    assert!(header(&r, "cache-control").contains("max-age=300"));
    let svg = String::from_utf8(body).expect("utf-8");
    assert!(svg.contains(">platforms<"));
    assert!(
        svg.contains("amd64 | arm64/v8 | arm/v7 | +2 more")
            || svg.contains("amd64 | arm64/v8 | arm/v7 | ppc64le | s390x"),
        "{svg}"
    );

    let missing = format!("{}/acme/nope:v1", s.registry.host());
    let (r, body) = get(&s.app, &format!("/v1/badge?image={}", q(&missing)), &[]).await;
    assert_eq!(r.status(), 200, "a README never shows a broken image");
    assert!(
        String::from_utf8(body)
            .expect("utf-8")
            .contains("not found")
    );
    assert_eq!(header(&r, "cache-control"), "no-cache, max-age=0");

    let (r, body) = get(&s.app, &format!("/v1/shields?image={}", q(&image)), &[]).await;
    assert_eq!(r.status(), 200);
    let doc = json(&body);
    assert_eq!(doc["schemaVersion"], 1);
    assert_eq!(doc["label"], "platforms");
    assert_eq!(doc["color"], "brightgreen");
    assert!(
        doc["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("amd64 | arm64/v8"))
    );
    let (r, body) = get(&s.app, "/v1/shields", &[]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(json(&body)["isError"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn html_page_form_and_result() {
    let s = setup().await;
    let (r, body) = get(&s.app, "/", &[]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), "text/html; charset=utf-8");
    let html = String::from_utf8(body).expect("utf-8");
    assert!(html.contains("<form") && html.contains("name=\"image\""));

    let image = format!("{}/acme/app:v1", s.registry.host());
    let (r, body) = get(&s.app, &format!("/?image={}", q(&image)), &[]).await;
    assert_eq!(r.status(), 200);
    let html = String::from_utf8(body).expect("utf-8");
    for platform in ["linux/amd64", "linux/arm64/v8", "linux/s390x"] {
        assert!(html.contains(&format!(">{platform}<")), "{platform}");
    }
    assert!(html.contains("Multi-platform"));

    let (r, body) = get(&s.app, "/?image=%3Cscript%3Ealert(1)%3C%2Fscript%3E", &[]).await;
    assert_eq!(r.status(), 400);
    let html = String::from_utf8(body).expect("utf-8");
    assert!(!html.contains("<script>"), "user input is escaped");
    assert!(html.contains("&lt;script&gt;"));
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_registry_strings_are_escaped() {
    let s = setup().await;
    let pusher = Pusher::new(&s.registry.base_url(), None);
    let evil =
        json!({"os": "linux", "architecture": "amd64", "variant": "<script>alert(1)</script>"});
    let child = pusher
        .image(
            "evil/app",
            None,
            Format::Oci,
            platform("linux", "amd64", None),
        )
        .await;
    pusher
        .index(
            "evil/app",
            Some("v1"),
            media_type::OCI_INDEX,
            vec![child.entry(Some(evil))],
        )
        .await;
    let image = format!("{}/evil/app:v1", s.registry.host());
    let (r, body) = get(&s.app, &format!("/?image={}", q(&image)), &[]).await;
    assert_eq!(r.status(), 200);
    let html = String::from_utf8(body).expect("utf-8");
    assert!(
        !html.contains("<script>alert(1)"),
        "registry data renders as text"
    );
    assert!(html.contains("linux/amd64/&lt;script&gt;alert(1)&lt;/script&gt;"));
    let (_, body) = get(&s.app, &format!("/v1/badge?image={}", q(&image)), &[]).await;
    let svg = String::from_utf8(body).expect("utf-8");
    assert!(!svg.contains("<script>"));

    // control characters: escaped in text, where a terminal would obey them
    let forged =
        json!({"os": "linux", "architecture": "arm\n * Supported platforms: fake/line\u{1b}[31m"});
    pusher
        .index(
            "evil/app",
            Some("v2"),
            media_type::OCI_INDEX,
            vec![child.entry(Some(forged))],
        )
        .await;
    let image = format!("{}/evil/app:v2", s.registry.host());
    let (r, body) = get(
        &s.app,
        &format!("/v1/inspect?format=text&image={}", q(&image)),
        &[],
    )
    .await;
    assert_eq!(r.status(), 200);
    let text = String::from_utf8(body).expect("utf-8");
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

    let missing = format!("{}/acme/nope:v1", s.registry.host());
    let (r, body) = get(&s.app, &format!("/v1/inspect?image={}", q(&missing)), &[]).await;
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

    let response = s
        .app
        .clone()
        .oneshot(
            Request::post("/v1/inspect?image=alpine")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("infallible");
    assert_eq!(response.status(), 405);
    assert_eq!(
        response
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok()),
        Some("GET, HEAD")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn head_and_healthz() {
    let s = setup().await;
    let image = format!("{}/acme/app:v1", s.registry.host());
    let response = s
        .app
        .clone()
        .oneshot(
            Request::head(format!("/v1/inspect?image={}", q(&image)))
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("infallible");
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("etag"));
    let body = axum::body::to_bytes(response.into_body(), 1024)
        .await
        .expect("body");
    assert!(body.is_empty(), "HEAD has no body");
    let (r, body) = get(&s.app, "/healthz", &[]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(json(&body)["status"], "ok");
}
