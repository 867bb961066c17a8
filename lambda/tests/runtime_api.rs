//! The built function under a Lambda Runtime API: cargo-lambda's own emulator
//! (`cargo lambda watch --only-lambda-apis`), the `mquery-lambda` binary polling it as a
//! `provided.al2023` bootstrap does, and API Gateway v1/v2 and function-URL events posted to
//! its invoke API. The cache table is DynamoDB Local; registries are the real CNCF registry
//! and a server that never answers. See `mquery_tests::lambda_runtime` for the harness.
//!
//! The binary is `env!("CARGO_BIN_EXE_mquery-lambda")`: this crate's own `mquery-lambda`
//! target with this crate's features, the same target and features `cargo lambda build
//! --bin mquery-lambda` ships as `bootstrap` (scripts/build-lambda.sh); only the profile and
//! the target triple differ.
//!
//! cargo-lambda must be installed (scripts/setup-test-env.sh): without it these tests fail,
//! saying so; they never skip.

use std::path::Path;
use std::time::Duration;

use mquery_tests::dynamodb::TableAndApp;
use mquery_tests::fake::Silent;
use mquery_tests::fixtures::APP;
use mquery_tests::lambda_runtime::{Emulator, Function, HttpResponse, fill_event};
use serde_json::Value;

const BINARY: &str = env!("CARGO_BIN_EXE_mquery-lambda");
/// How long the emulator waits for the function (`--timeout`); far above what a lookup on
/// loopback takes, so only a hang reaches it.
const FUNCTION_TIMEOUT: Duration = Duration::from_secs(6);
/// Time a function may take from spawn to asking for its first event.
const INIT_WITHIN: Duration = Duration::from_secs(10);
/// The HTTP API v2 event asking for `/v1/inspect` as JSON.
const INSPECT: &str = "apigw_v2_inspect_json.json";

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn event(name: &str, image: &str, etag: &str) -> String {
    fill_event(&fixture(name), image, etag)
}

async fn invoke(emulator: &Emulator, event: &str) -> HttpResponse {
    emulator.invoke(event).await.http()
}

/// Every non-empty line the function wrote is a JSON object (Lambda-mode logging); returns
/// them, parsed.
fn json_log_lines(output: &[String]) -> Vec<Value> {
    output
        .iter()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"));
            assert!(
                value.is_object(),
                "a log line that is not an object: {line}"
            );
            value
        })
        .collect()
}

/// The per-request log lines (`served`), each with Lambda's request id in its span.
fn request_lines(lines: &[Value]) -> Vec<&Value> {
    lines
        .iter()
        .filter(|line| line["fields"]["message"] == "served")
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn api_gateway_and_function_url_events_end_to_end() {
    let mut f = TableAndApp::start().await;
    let emulator = Emulator::start(FUNCTION_TIMEOUT);

    let mut function = Function::start(Path::new(BINARY), &emulator, &f.env).await;
    let init = function.wait_ready(INIT_WITHIN).await;
    eprintln!("init (spawn to first `next`): {init:?}");

    // HTTP API v2, /v1/inspect: the v1 JSON from the registry
    let inspect = event(INSPECT, &f.image, "");
    let first = emulator.invoke(&inspect).await;
    eprintln!("first invocation: {:?}", first.elapsed);
    let response = first.http();
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.header("content-type"), "application/json");
    // what is left of the tag's freshness: MQUERY_CACHE_TTL (300 s) on a new answer
    let max_age = response
        .header("cache-control")
        .strip_prefix("public, max-age=")
        .and_then(|n| n.parse::<u64>().ok());
    assert!(
        max_age.is_some_and(|n| (240..=300).contains(&n)),
        "{}",
        response.header("cache-control")
    );
    assert_eq!(response.header("access-control-allow-origin"), "*");
    assert_eq!(response.header("x-cache"), "registry");
    let etag = response.header("etag").to_owned();
    // derived from the manifest digest (weak for a tag: the tag may move)
    let hex = f.index.digest.as_str().trim_start_matches("sha256:");
    assert!(etag.contains(hex), "etag {etag:?} for {hex}");
    let doc = response.json();
    mquery_tests::assert_index_document(&doc, &f.image, f.index.digest.as_str());
    assert_eq!(doc["cache"]["source"], "registry");

    // the same event again: answered from the function's memory, same ETag
    let response = invoke(&emulator, &inspect).await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.header("x-cache"), "memory");
    assert_eq!(response.header("etag"), etag);
    assert_eq!(response.json()["cache"]["source"], "memory");

    // the same event through `cargo lambda invoke --data-file`: the same route, same answer
    let response = emulator.invoke_with_cli(&inspect).http();
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.header("x-cache"), "memory");

    // REST API v1 with a stage (`/prod/v1/badge`): the SVG badge
    let response = invoke(&emulator, &event("apigw_v1_rest_api.json", &f.image, "")).await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.header("content-type"), "image/svg+xml");
    assert_eq!(response.header("access-control-allow-origin"), "*");
    assert!(response.body.starts_with("<svg"), "{}", response.body);
    assert!(response.body.contains("amd64"), "{}", response.body);

    // function URL: shields JSON, then If-None-Match with its ETag is a 304
    let response = invoke(&emulator, &event("function_url.json", &f.image, "")).await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.json()["schemaVersion"], 1);
    let shields_etag = response.header("etag").to_owned();
    assert!(!shields_etag.is_empty());
    let conditional = event("function_url.json", &f.image, &shields_etag);
    let response = invoke(&emulator, &conditional).await;
    assert_eq!(response.status, 304, "{}", response.body);
    assert!(response.body.is_empty(), "{}", response.body);

    // an invalid reference: 400 and the error document, before any registry request
    let mark = f.registry.mark();
    let response = invoke(&emulator, &event(INSPECT, "Alpine", "")).await;
    assert_eq!(response.status, 400, "{}", response.body);
    assert_eq!(response.header("cache-control"), "no-store");
    assert_eq!(response.header("access-control-allow-origin"), "*");
    let doc = response.json();
    assert_eq!(doc["image"], "Alpine");
    assert_eq!(doc["error"]["code"], "INVALID_REFERENCE", "{doc}");
    assert!(f.registry.served_since(mark).is_empty());

    let output = function.stop();
    let lines = json_log_lines(&output);
    let served = request_lines(&lines);
    assert!(
        served.len() >= 7,
        "one request line per invocation: {output:#?}"
    );
    assert!(
        served
            .iter()
            .all(|line| line["spans"][0]["requestId"].is_string()),
        "Lambda's request id on every request line: {output:#?}"
    );

    // a new instance (cold memory) on the same emulator, the registry gone: the answer comes
    // from the DynamoDB table the first instance wrote
    f.registry.stop();
    let mut function = Function::start(Path::new(BINARY), &emulator, &f.env).await;
    function.wait_ready(INIT_WITHIN).await;
    let response = invoke(&emulator, &inspect).await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.header("x-cache"), "dynamodb");
    assert_eq!(response.json()["digest"], f.index.digest.as_str());
    let output = function.stop();
    assert!(!request_lines(&json_log_lines(&output)).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_registry_is_a_504_before_the_function_timeout() {
    const REGISTRY_DEADLINE: Duration = Duration::from_millis(1500);
    let silent = Silent::start().await;
    let emulator = Emulator::start(FUNCTION_TIMEOUT);
    let mut function = Function::start(
        Path::new(BINARY),
        &emulator,
        &[
            ("MQUERY_INSECURE_REGISTRIES", silent.host()),
            (
                "MQUERY_REGISTRY_TIMEOUT_MS",
                REGISTRY_DEADLINE.as_millis().to_string(),
            ),
        ],
    )
    .await;
    function.wait_ready(INIT_WITHIN).await;

    let image = format!("{}/{APP}", silent.host());
    let invocation = emulator.invoke(&event(INSPECT, &image, "")).await;
    let elapsed = invocation.elapsed;
    // the function answered (not the emulator's 408 at its timeout), with a 504
    let response = invocation.http();
    assert_eq!(response.status, 504, "{}", response.body);
    assert_eq!(response.json()["error"]["code"], "UPSTREAM_TIMEOUT");
    assert_eq!(response.header("cache-control"), "no-store");
    assert!(
        elapsed >= REGISTRY_DEADLINE,
        "answered in {elapsed:?}, before the registry deadline"
    );
    assert!(
        elapsed < REGISTRY_DEADLINE + Duration::from_millis(1500),
        "answered in {elapsed:?}, well after the registry deadline"
    );
    assert!(elapsed < emulator.function_timeout());

    // the instance lives on: the next event is answered too
    let response = invoke(&emulator, &event(INSPECT, "Alpine", "")).await;
    assert_eq!(response.status, 400);

    let output = function.stop();
    let lines = json_log_lines(&output);
    assert!(
        request_lines(&lines).len() >= 2,
        "request lines: {output:#?}"
    );
}

/// A 4 MiB OCI index of 1.4 million `{}` entries took one request to 322 MB peak RSS in
/// Lambda mode, past the template's 256 MB, and the function aborted (issue 11, failure 1).
/// Parsing now stops at entry 1,025: under a 256 MB address-space limit the function answers
/// 502, stays small, and serves the next event. (A fake registry: the real one refuses index
/// entries without a digest.)
#[tokio::test(flavor = "multi_thread")]
async fn a_huge_index_fits_a_256_mb_function() {
    use axum::response::IntoResponse as _;
    let mut body = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":["#.to_vec();
    while body.len() < (4 << 20) - 16 {
        body.extend_from_slice(b"{},");
    }
    body.extend_from_slice(b"{}]}");
    let entries = body.iter().filter(|&&b| b == b'{').count() - 1;
    assert!(entries > 1_390_000, "{entries} entries");
    let fake = mquery_tests::fake::FakeServer::start(axum::Router::new().fallback(move || {
        let body = body.clone();
        async move {
            (
                [("content-type", "application/vnd.oci.image.index.v1+json")],
                body,
            )
                .into_response()
        }
    }))
    .await;
    let emulator = Emulator::start(FUNCTION_TIMEOUT);
    let mut function = Function::start_limited(
        256 << 20,
        Path::new(BINARY),
        &emulator,
        &[("MQUERY_INSECURE_REGISTRIES", fake.host())],
    )
    .await;
    function.wait_ready(INIT_WITHIN).await;

    let image = format!("{}/big/empty:v1", fake.host());
    let response = invoke(&emulator, &event(INSPECT, &image, "")).await;
    assert_eq!(response.status, 502, "{}", response.body);
    assert_eq!(response.json()["error"]["code"], "INVALID_MANIFEST");
    let peak_mib = function.peak_rss_kib() / 1024;
    assert!(peak_mib < 64, "peak RSS {peak_mib} MiB for one 4 MiB index");

    // alive, and the failure is remembered: no second fetch
    let response = invoke(&emulator, &event(INSPECT, &image, "")).await;
    assert_eq!(response.status, 502);
    assert_eq!(fake.count(), 1);
    function.stop();
}
