//! API Gateway HTTP API (v2), REST API (v1) and function-URL events, parsed by lambda_http's
//! own request parsing and fed to the app: what production Lambda does, minus the socket.

use axum::body::Body;
use mquery_tests::distribution::Distribution;
use mquery_tests::fixtures::open_with_app;
use mquery_tests::lambda_runtime::fill_event;
use service::config::Config;
use tower::ServiceExt as _;

struct Setup {
    _registry: Distribution,
    app: axum::Router,
    image: String,
    digest: String,
}

async fn setup() -> Setup {
    let (registry, index) = open_with_app().await;
    let (name, host) = registry.insecure_env();
    let config = Config::from_lookup(|n| (n == name).then(|| host.clone())).expect("config");
    // a digest reference: the query string carries '/', ':' and '@'
    let image = registry.image(&format!("acme/app:v1@{}", index.digest));
    Setup {
        app: service::app(service::server::state(&config).await.expect("state")),
        _registry: registry,
        image,
        digest: index.digest.to_string(),
    }
}

type Parts = axum::http::response::Parts;

impl Setup {
    /// The fixture event `name` for the image, with `etag` in If-None-Match, parsed as Lambda
    /// would and fed to the app: the response and its body.
    async fn call(&self, name: &str, etag: &str) -> (Parts, String) {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).expect("fixture");
        let text = fill_event(&text, &self.image, etag);
        let request = lambda_http::request::from_str(&text).expect("lambda_http parses the event");
        let response = self.app.clone().oneshot(request).await.expect("infallible");
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(Body::new(body), 1 << 20)
            .await
            .expect("body");
        (parts, String::from_utf8(bytes.to_vec()).expect("utf-8"))
    }

    /// [`Setup::call`] without an ETag, expecting a 200.
    async fn ok(&self, name: &str) -> (Parts, String) {
        let (parts, body) = self.call(name, "").await;
        assert_eq!(parts.status, 200, "{name}: {body}");
        (parts, body)
    }

    /// [`Setup::ok`], the body a JSON document.
    async fn ok_json(&self, name: &str) -> (Parts, serde_json::Value) {
        let (parts, body) = self.ok(name).await;
        (parts, serde_json::from_str(&body).expect("JSON"))
    }
}

fn header<'a>(parts: &'a Parts, name: &str) -> &'a str {
    mquery_tests::header(&parts.headers, name).unwrap_or("")
}

#[tokio::test(flavor = "multi_thread")]
async fn http_api_v2_default_stage() {
    let s = setup().await;
    let (parts, body) = s.ok("apigw_v2_http_api.json").await;
    assert_eq!(header(&parts, "content-type"), "text/plain; charset=utf-8");
    let immutable = "public, max-age=2592000, immutable";
    assert_eq!(header(&parts, "cache-control"), immutable);
    assert_eq!(header(&parts, "x-request-id"), "req-v2-default");
    let first_line = format!("Image: {} (digest: {})\n", s.image, s.digest);
    assert!(body.starts_with(&first_line), "{body}");
    assert!(body.contains("   - linux/arm64/v8\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn http_api_v2_named_stage_prefix() {
    let s = setup().await;
    let (_, doc) = s.ok_json("apigw_v2_named_stage.json").await;
    assert_eq!(doc["imagename"], s.image.as_str());
    assert_eq!(doc["islist"], true);
    assert_eq!(doc["archlist"].as_array().map(Vec::len), Some(5));
}

#[tokio::test(flavor = "multi_thread")]
async fn rest_api_v1_with_stage() {
    let s = setup().await;
    let (parts, body) = s.ok("apigw_v1_rest_api.json").await;
    assert_eq!(header(&parts, "content-type"), "image/svg+xml");
    assert_eq!(header(&parts, "x-request-id"), "req-v1-prod");
    assert_eq!(header(&parts, "access-control-allow-origin"), "*");
    assert!(body.starts_with("<svg"), "{body}");
    assert!(body.contains("amd64"));
}

#[tokio::test(flavor = "multi_thread")]
async fn function_url_with_conditional_request() {
    let s = setup().await;
    let (parts, doc) = s.ok_json("function_url.json").await;
    let etag = header(&parts, "etag").to_owned();
    assert!(!etag.is_empty());
    assert_eq!(doc["schemaVersion"], 1);
    assert_eq!(doc["color"], "brightgreen");
    let (parts, body) = s.call("function_url.json", &etag).await;
    assert_eq!(parts.status, 304);
    assert!(body.is_empty());
}
