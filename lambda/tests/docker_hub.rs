//! Docker Hub's pull limit, watched: when `ratelimit-remaining` runs low, a tag that moved is
//! answered from the cache (marked stale) instead of with one of the last GETs (issue 11,
//! item 7). A fake Docker Hub lowers the header; HEADs, which Docker Hub does not count, still
//! tell whether the tag moved.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use cache::{Clock, ManualClock, Tiered};
use mquery_tests::fake::FakeServer;
use mquery_tests::fixtures::two_platform_index_body;
use registry::config::DockerHub;
use registry::manifest::media_type;
use registry::{ClientConfig, Digest};
use serde_json::Value;
use service::freshness::Lifetimes;
use service::inspect::Inspector;
use tower::ServiceExt as _;

const TTL: Duration = Duration::from_secs(60);

/// A fake Docker Hub whose `library/app:v1` has moved from `old` to `new` (HEAD and GET by tag
/// say `new`), answering every request with `ratelimit-remaining: {remaining};w=21600`.
async fn docker_hub(remaining: Arc<AtomicU64>, moved: Arc<AtomicU64>) -> FakeServer {
    let old = two_platform_index_body();
    let mut new: Value = serde_json::from_slice(&old).expect("json");
    new["annotations"] = serde_json::json!({"moved": "yes"});
    let new = serde_json::to_vec(&new).expect("json");
    FakeServer::start(Router::new().fallback(move |request: Request| {
        let (old, new) = (old.clone(), new.clone());
        let remaining = remaining.load(Ordering::SeqCst);
        let body = if moved.load(Ordering::SeqCst) == 1 {
            new
        } else {
            old
        };
        async move {
            let digest = Digest::sha256(&body).to_string();
            let head = request.method() == Method::HEAD;
            Response::builder()
                .status(200)
                .header("content-type", media_type::OCI_INDEX)
                .header("docker-content-digest", digest)
                .header("ratelimit-limit", "100;w=21600")
                .header("ratelimit-remaining", format!("{remaining};w=21600"))
                .body(if head {
                    Body::empty()
                } else {
                    Body::from(body)
                })
                .expect("response")
                .into_response()
        }
    }))
    .await
}

async fn inspect(app: &axum::Router) -> (String, Value) {
    let response = app
        .clone()
        .oneshot(
            axum::http::Request::get("/v1/inspect?image=app:v1")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("infallible");
    assert_eq!(response.status(), 200);
    let x_cache = response.headers()["x-cache"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    (x_cache, serde_json::from_slice(&body).expect("JSON"))
}

async fn setup(remaining: u64) -> (FakeServer, Arc<AtomicU64>, Arc<ManualClock>, axum::Router) {
    let moved = Arc::new(AtomicU64::new(0));
    let hub = docker_hub(Arc::new(AtomicU64::new(remaining)), Arc::clone(&moved)).await;
    let tokens = FakeServer::start(
        Router::new().fallback(|| async { axum::Json(serde_json::json!({"token": "t"})) }),
    )
    .await;
    let client = registry::Client::new(ClientConfig {
        docker_hub: DockerHub {
            registry: hub.url(),
            realm: format!("{}/token", tokens.url()),
            service: "registry.docker.io".into(),
        },
        ..mquery_tests::client_config(&[&hub.host(), &tokens.host()])
    })
    .expect("client");
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let dyn_clock: Arc<dyn Clock> = Arc::clone(&clock) as Arc<dyn Clock>;
    let inspector = Inspector::new(
        client,
        Tiered::new(16 << 20, None, Arc::clone(&dyn_clock)),
        dyn_clock,
        Lifetimes::new(TTL),
    );
    let app = service::app(service::AppState::new(inspector));
    (hub, moved, clock, app)
}

fn gets(hub: &FakeServer) -> usize {
    hub.seen()
        .iter()
        .filter(|s| s.method == "GET" && s.path.contains("/manifests/"))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn few_pulls_left_means_stale_answers_not_gets() {
    let (hub, moved, clock, app) = setup(3).await;
    let (_, first) = inspect(&app).await;
    assert_eq!(gets(&hub), 1);

    // the tag moves and its answer lapses; Docker Hub says 3 pulls remain
    moved.store(1, Ordering::SeqCst);
    clock.advance(TTL + Duration::from_secs(1));
    let (x_cache, doc) = inspect(&app).await;
    assert_eq!(doc["digest"], first["digest"], "the previous answer");
    assert_eq!(doc["cache"]["stale"], true, "{doc}");
    assert!(x_cache.ends_with("stale"), "{x_cache}");
    assert_eq!(gets(&hub), 1, "no GET spent");
    assert!(
        hub.seen().iter().any(|s| s.method == "HEAD"),
        "a free HEAD told that the tag moved"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_pulls_to_spare_a_moved_tag_is_fetched() {
    let (hub, moved, clock, app) = setup(50).await;
    let (_, first) = inspect(&app).await;
    moved.store(1, Ordering::SeqCst);
    clock.advance(TTL + Duration::from_secs(1));
    let (_, doc) = inspect(&app).await;
    assert_ne!(doc["digest"], first["digest"]);
    assert_eq!(doc["cache"]["stale"], false);
    assert_eq!(gets(&hub), 2);
}
