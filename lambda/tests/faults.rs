//! Faults, against the real `mquery-lambda` binary, on loopback only, bounded and
//! self-stopping: a registry that never answers, rate-limits, fails, loses its token server
//! or dies mid-run. The process never dies, and the first request after recovery is right.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use mquery_tests::fake::{self, FakeServer, InFlight};
use mquery_tests::fixtures::{Pusher, five_platform_index, open_with_app};
use mquery_tests::process::ServiceProcess;
use mquery_tests::{free_port, header};
use registry::manifest::media_type;
use serde_json::Value;

const OK: u8 = 0;
const SILENT: u8 = 1;
const RATE_LIMITED: u8 = 2;
const FAILING: u8 = 3;

/// A registry whose behaviour the test switches while the service runs.
async fn switchable(mode: Arc<AtomicU8>) -> FakeServer {
    FakeServer::start(Router::new().fallback(move |method: Method| {
        let mode = Arc::clone(&mode);
        async move {
            match mode.load(Ordering::SeqCst) {
                SILENT => std::future::pending::<Response>().await,
                RATE_LIMITED => {
                    (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "30")]).into_response()
                }
                FAILING => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
                _ => {
                    let body = mquery_tests::fixtures::two_platform_index_body();
                    fake::manifest(&method, media_type::OCI_INDEX, &body)
                }
            }
        }
    }))
    .await
}

async fn get(http: &reqwest::Client, base: &str, image: &str) -> (u16, Option<String>, Value) {
    let response = http
        .get(format!("{base}/v1/inspect"))
        .query(&[("image", image)])
        .send()
        .await
        .expect("the service answers");
    let status = response.status().as_u16();
    let retry = header(response.headers(), "retry-after").map(str::to_owned);
    (status, retry, response.json().await.expect("JSON"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_service_survives_every_registry_fault() {
    let mode = Arc::new(AtomicU8::new(OK));
    let fake = switchable(Arc::clone(&mode)).await;
    let dead_realm_port = free_port();
    let realm = format!("http://127.0.0.1:{dead_realm_port}/token");
    let auth = FakeServer::start(mquery_tests::fake::challenging(realm)).await;
    let (mut registry, real_index) = open_with_app().await;
    five_platform_index(&Pusher::open(&registry), "acme/app", "v2").await;

    let insecure = [
        fake.host(),
        auth.host(),
        registry.host(),
        format!("127.0.0.1:{dead_realm_port}"),
    ]
    .join(",");
    let service = ServiceProcess::start(
        Path::new(env!("CARGO_BIN_EXE_mquery-lambda")),
        &[
            ("MQUERY_INSECURE_REGISTRIES", insecure),
            ("MQUERY_REGISTRY_TIMEOUT_MS", "800".to_owned()),
        ],
    );
    let base = service.base_url();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let image = |tag: &str| format!("{}/acme/app:{tag}", fake.host());

    let (status, _, doc) = get(&http, &base, &image("ok1")).await;
    assert_eq!(
        (status, doc["platforms"].as_array().map(Vec::len)),
        (200, Some(2))
    );

    // accepts the connection, never answers: 504 within the deadline
    mode.store(SILENT, Ordering::SeqCst);
    let started = Instant::now();
    let (status, _, doc) = get(&http, &base, &image("silent")).await;
    assert_eq!(
        (status, doc["error"]["code"].as_str()),
        (504, Some("UPSTREAM_TIMEOUT"))
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    // 429 with a long Retry-After: 503 with Retry-After
    mode.store(RATE_LIMITED, Ordering::SeqCst);
    let (status, retry, doc) = get(&http, &base, &image("limited")).await;
    assert_eq!((status, retry.as_deref()), (503, Some("30")));
    assert_eq!(
        doc["error"]["message"],
        "registry rate limit, retry after 30s"
    );

    // 500s: one retry, then 502 with a generic message
    mode.store(FAILING, Ordering::SeqCst);
    let before = fake.count();
    let (status, _, doc) = get(&http, &base, &image("failing")).await;
    assert_eq!(
        (status, doc["error"]["code"].as_str()),
        (502, Some("UPSTREAM_ERROR"))
    );
    assert_eq!(
        doc["error"]["message"],
        format!("registry {} failed", fake.host())
    );
    assert_eq!(fake.count() - before, 2, "exactly one retry");

    // the token server is down
    let (status, _, doc) = get(&http, &base, &format!("{}/acme/app:v1", auth.host())).await;
    assert_eq!(
        (status, doc["error"]["code"].as_str()),
        (502, Some("UPSTREAM_ERROR"))
    );

    // the registry is killed mid-run, then comes back
    let real_host = registry.host();
    let real = |tag: &str| format!("{real_host}/acme/app:{tag}");
    assert_eq!(get(&http, &base, &real("v1")).await.0, 200);
    registry.stop();
    let (status, _, doc) = get(&http, &base, &real("v2")).await;
    assert_eq!(
        (status, doc["error"]["code"].as_str()),
        (502, Some("UPSTREAM_ERROR"))
    );
    registry.restart();
    let (status, _, doc) = get(&http, &base, &real("v2")).await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["platforms"].as_array().map(Vec::len), Some(5));
    let (status, _, doc) = get(&http, &base, &real("v1")).await;
    assert_eq!(
        (status, doc["digest"].as_str()),
        (200, Some(real_index.digest.as_str()))
    );

    // recovery: the fake answers again and the next request is right
    mode.store(OK, Ordering::SeqCst);
    let (status, _, doc) = get(&http, &base, &image("recovered")).await;
    assert_eq!(
        (status, doc["platforms"][1]["variant"].as_str()),
        (200, Some("v8"))
    );
    let health = http
        .get(format!("{base}/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
    assert!(
        service.terminate().success(),
        "the process never died and exits cleanly"
    );
}

/// `POST /v1/check` of a large stack keeps at most 32 lookups in flight, across registries
/// too (each registry's own bulkhead is 16): half the client's 64 stay free for everyone
/// else's requests. Three slow registries of 20 images each.
#[tokio::test(flavor = "multi_thread")]
async fn a_large_check_leaves_lookups_to_others() {
    let in_flight = InFlight::default();
    let mut servers = Vec::new();
    for _ in 0..3 {
        let gauge = in_flight.clone();
        let router = Router::new().fallback(move |method: Method| {
            let gauge = gauge.clone();
            async move {
                gauge.hold(Duration::from_millis(100)).await;
                let body = mquery_tests::fixtures::two_platform_index_body();
                fake::manifest(&method, media_type::OCI_INDEX, &body)
            }
        });
        servers.push(FakeServer::start(router).await);
    }
    let hosts: Vec<String> = servers.iter().map(FakeServer::host).collect();
    let binary = Path::new(env!("CARGO_BIN_EXE_mquery-lambda"));
    let service = ServiceProcess::start(binary, &[("MQUERY_INSECURE_REGISTRIES", hosts.join(","))]);
    let list: String = (0..60)
        .map(|i| format!("{}/stack/s{i}:v1\n", hosts[i % 3]))
        .collect();
    let response = reqwest::Client::new()
        .post(format!(
            "{}/v1/check?platform=linux/arm64",
            service.base_url()
        ))
        .body(list)
        .send()
        .await
        .expect("the service answers");
    assert_eq!(response.status(), 200);
    let doc: Value = response.json().await.expect("JSON");
    assert_eq!(doc["status"], "ok", "{doc}");
    assert_eq!(doc["counts"]["supported"], 60);
    let most = in_flight.most();
    assert!(most <= 32, "{most} lookups at once");
    assert!(
        most > 16,
        "lookups of several registries overlap: {most} at once"
    );
}
