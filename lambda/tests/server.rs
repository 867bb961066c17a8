//! The real `mquery-lambda` binary as a local server on a free port, against the real
//! registry: start-up, answers over a socket, configuration errors, graceful shutdown.

use std::path::Path;
use std::process::Command;

use mquery_tests::distribution::Distribution;
use mquery_tests::fixtures::{Pusher, five_platform_index};
use mquery_tests::process::ServiceProcess;

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_mquery-lambda"))
}

#[tokio::test(flavor = "multi_thread")]
async fn serves_then_shuts_down_gracefully() {
    let registry = Distribution::start_open();
    let pusher = Pusher::new(&registry.base_url(), None);
    let (index, _) = five_platform_index(&pusher, "acme/app", "v1").await;
    let server =
        ServiceProcess::start(binary(), &[("MQUERY_INSECURE_REGISTRIES", registry.host())]);
    let http = reqwest::Client::new();

    let health = http
        .get(format!("{}/healthz", server.base_url()))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);

    let image = format!("{}/acme/app:v1", registry.host());
    let response = http
        .get(format!("{}/v1/inspect", server.base_url()))
        .query(&[("image", &image)])
        .send()
        .await
        .expect("inspect");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("*")
    );
    let doc: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(doc["digest"], index.digest.as_str());
    assert_eq!(doc["platforms"].as_array().map(Vec::len), Some(5));

    let status = server.terminate();
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
}

#[test]
fn bad_configuration_is_a_start_up_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_mquery-lambda"))
        .env_clear()
        .env("MQUERY_CACHE_TTL", "soon")
        .output()
        .expect("run mquery-lambda");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("MQUERY_CACHE_TTL"), "{stderr}");
}
