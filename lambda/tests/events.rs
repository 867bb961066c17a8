//! API Gateway HTTP API (v2), REST API (v1) and function-URL events, parsed by lambda_http's
//! own request parsing and fed to the app: what production Lambda does, minus the socket.

use axum::body::Body;
use mquery_tests::distribution::Distribution;
use mquery_tests::fixtures::{Pusher, five_platform_index};
use service::config::Config;
use tower::ServiceExt as _;

struct Setup {
    _registry: Distribution,
    app: axum::Router,
    image: String,
    digest: String,
}

async fn setup() -> Setup {
    let registry = Distribution::start_open();
    let pusher = Pusher::new(&registry.base_url(), None);
    let (index, _) = five_platform_index(&pusher, "acme/app", "v1").await;
    let host = registry.host();
    let config =
        Config::from_lookup(|name| (name == "MQUERY_INSECURE_REGISTRIES").then(|| host.clone()))
            .expect("config");
    // a digest reference: the query string carries '/', ':' and '@'
    let image = format!("{}/acme/app:v1@{}", registry.host(), index.digest);
    Setup {
        app: service::app(service::server::state(&config).await.expect("state")),
        _registry: registry,
        image,
        digest: index.digest.to_string(),
    }
}

/// Loads a fixture, fills in the placeholders, and parses it as Lambda would.
fn event(name: &str, image: &str, etag: &str) -> lambda_http::Request {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("fixture");
    let text = text
        .replace("{{IMAGE_ENCODED}}", &mquery_tests::encode_query(image))
        .replace("{{IMAGE}}", image)
        .replace("{{ETAG}}", &etag.replace('"', "\\\""));
    lambda_http::request::from_str(&text).expect("lambda_http parses the event")
}

async fn call(
    app: &axum::Router,
    request: lambda_http::Request,
) -> (axum::http::response::Parts, String) {
    let response = app.clone().oneshot(request).await.expect("infallible");
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(Body::new(body), 1 << 20)
        .await
        .expect("body");
    (parts, String::from_utf8(bytes.to_vec()).expect("utf-8"))
}

fn header<'a>(parts: &'a axum::http::response::Parts, name: &str) -> &'a str {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[tokio::test(flavor = "multi_thread")]
async fn http_api_v2_default_stage() {
    let s = setup().await;
    let (parts, body) = call(&s.app, event("apigw_v2_http_api.json", &s.image, "")).await;
    assert_eq!(parts.status, 200, "{body}");
    assert_eq!(header(&parts, "content-type"), "text/plain; charset=utf-8");
    assert_eq!(
        header(&parts, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(header(&parts, "x-request-id"), "req-v2-default");
    assert!(
        body.starts_with(&format!("Image: {} (digest: {})\n", s.image, s.digest)),
        "{body}"
    );
    assert!(body.contains("   - linux/arm64/v8\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn http_api_v2_named_stage_prefix() {
    let s = setup().await;
    let (parts, body) = call(&s.app, event("apigw_v2_named_stage.json", &s.image, "")).await;
    assert_eq!(parts.status, 200, "{body}");
    let doc: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(doc["imagename"], s.image.as_str());
    assert_eq!(doc["islist"], true);
    assert_eq!(doc["archlist"].as_array().map(Vec::len), Some(5));
}

#[tokio::test(flavor = "multi_thread")]
async fn rest_api_v1_with_stage() {
    let s = setup().await;
    let (parts, body) = call(&s.app, event("apigw_v1_rest_api.json", &s.image, "")).await;
    assert_eq!(parts.status, 200, "{body}");
    assert_eq!(header(&parts, "content-type"), "image/svg+xml");
    assert_eq!(header(&parts, "x-request-id"), "req-v1-prod");
    assert_eq!(header(&parts, "access-control-allow-origin"), "*");
    assert!(body.starts_with("<svg"), "{body}");
    assert!(body.contains("amd64"));
}

#[tokio::test(flavor = "multi_thread")]
async fn function_url_with_conditional_request() {
    let s = setup().await;
    let (parts, body) = call(&s.app, event("function_url.json", &s.image, "")).await;
    assert_eq!(parts.status, 200, "{body}");
    let doc: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(doc["schemaVersion"], 1);
    assert_eq!(doc["color"], "brightgreen");
    let etag = header(&parts, "etag").to_owned();
    assert!(!etag.is_empty());
    let (parts, body) = call(&s.app, event("function_url.json", &s.image, &etag)).await;
    assert_eq!(parts.status, 304);
    assert!(body.is_empty());
}
