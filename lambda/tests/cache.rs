//! The cache as users see it, in process with a manual clock against the real registry:
//! revalidation by HEAD, re-pushed tags, coalesced misses, stale answers, remembered 404s.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::http::Request;
use cache::{Clock, ManualClock, Tiered};
use mquery_tests::distribution::{Distribution, Served};
use mquery_tests::fixtures::{Pusher, five_platform_index};
use registry::manifest::media_type;
use serde_json::Value;
use service::inspect::{Inspector, Lifetimes};
use tower::ServiceExt as _;

const TTL: Duration = Duration::from_secs(60);

fn app(registry: &Distribution, clock: &Arc<ManualClock>) -> (axum::Router, Inspector) {
    let client = mquery_tests::client_for(&[&registry.host()]);
    let clock: Arc<dyn Clock> = Arc::clone(clock) as Arc<dyn Clock>;
    let inspector = Inspector::new(
        client,
        Tiered::new(16 << 20, None, Arc::clone(&clock)),
        clock,
        Lifetimes::new(TTL),
    );
    (
        service::app(service::AppState::new(inspector.clone())),
        inspector,
    )
}

async fn inspect(app: &axum::Router, image: &str) -> (u16, String, Value) {
    let uri = format!("/v1/inspect?image={}", mquery_tests::encode_query(image));
    let response = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let status = response.status().as_u16();
    let x_cache = response
        .headers()
        .get("x-cache")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    (
        status,
        x_cache,
        serde_json::from_slice(&body).expect("JSON"),
    )
}

fn requests(served: &[Served]) -> Vec<String> {
    served
        .iter()
        .map(|s| format!("{} {}", s.method, s.path))
        .collect()
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(SystemTime::now()))
}

#[tokio::test(flavor = "multi_thread")]
async fn lapsed_tags_are_revalidated_by_head_and_repushes_are_seen() {
    let registry = Distribution::start_open();
    let pusher = Pusher::new(&registry.base_url(), None);
    let (v1, children) = five_platform_index(&pusher, "acme/app", "v1").await;
    let clock = clock();
    let (app, inspector) = app(&registry, &clock);
    let image = format!("{}/acme/app:v1", registry.host());

    // cold: one GET
    let mark = registry.mark();
    let (status, x_cache, doc) = inspect(&app, &image).await;
    assert_eq!((status, x_cache.as_str()), (200, "registry"));
    assert_eq!(
        requests(&registry.served_since(mark)),
        ["GET /v2/acme/app/manifests/v1"]
    );
    assert_eq!(doc["cache"]["source"], "registry");
    assert_eq!(doc["cache"]["stale"], false);
    assert!(
        doc["cache"]["expiresAt"]
            .as_str()
            .is_some_and(|e| e > doc["cache"]["fetchedAt"].as_str().unwrap_or(""))
    );

    // warm: nothing reaches the registry
    let mark = registry.mark();
    let (_, x_cache, doc) = inspect(&app, &image).await;
    assert_eq!(x_cache, "memory");
    assert_eq!(doc["cache"]["source"], "memory");
    assert!(registry.served_since(mark).is_empty());
    // the same image spelled canonically shares the entry
    let (_, x_cache, _) = inspect(&app, &format!("{}/acme/app:v1", registry.host())).await;
    assert_eq!(x_cache, "memory");

    // lapsed: one HEAD, no GET, since the digest is unchanged
    clock.advance(TTL + Duration::from_secs(1));
    let mark = registry.mark();
    let (status, x_cache, doc) = inspect(&app, &image).await;
    assert_eq!((status, x_cache.as_str()), (200, "registry"));
    assert_eq!(
        requests(&registry.served_since(mark)),
        ["HEAD /v2/acme/app/manifests/v1"]
    );
    assert_eq!(doc["digest"], v1.digest.as_str());

    // the tag is pushed again; the fresh answer stands until it lapses, then the change shows
    let v2 = pusher
        .index(
            "acme/app",
            Some("v1"),
            media_type::OCI_INDEX,
            vec![children[0].entry(Some(mquery_tests::fixtures::platform(
                "linux", "amd64", None,
            )))],
        )
        .await;
    let (_, _, doc) = inspect(&app, &image).await;
    assert_eq!(doc["digest"], v1.digest.as_str());
    clock.advance(TTL + Duration::from_secs(1));
    let mark = registry.mark();
    let (_, _, doc) = inspect(&app, &image).await;
    assert_eq!(doc["digest"], v2.digest.as_str());
    assert_eq!(doc["platforms"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        requests(&registry.served_since(mark)),
        [
            "HEAD /v2/acme/app/manifests/v1".to_owned(),
            format!("GET /v2/acme/app/manifests/{}", v2.digest)
        ]
    );
    // the old digest stays answerable from the cache: digests never change
    let mark = registry.mark();
    let (status, x_cache, _) =
        inspect(&app, &format!("{}/acme/app@{}", registry.host(), v1.digest)).await;
    assert_eq!((status, x_cache.as_str()), (200, "memory"));
    assert!(registry.served_since(mark).is_empty());
    let stats = inspector.cache_stats();
    assert!(stats.memory_hits >= 4 && stats.loads >= 3, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_simultaneous_misses_cost_one_load() {
    let registry = Distribution::start_open();
    let pusher = Pusher::new(&registry.base_url(), None);
    five_platform_index(&pusher, "acme/app", "v1").await;
    let clock = clock();
    let (app, _) = app(&registry, &clock);
    let image = format!("{}/acme/app:v1", registry.host());
    let mark = registry.mark();
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let app = app.clone();
            let image = image.clone();
            tokio::spawn(async move { inspect(&app, &image).await.0 })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.expect("join"), 200);
    }
    let manifests = registry
        .served_since(mark)
        .iter()
        .filter(|s| s.path.contains("/manifests/"))
        .count();
    assert!(
        manifests <= 2,
        "{manifests} manifest requests for 100 simultaneous lookups"
    );
    assert!(manifests >= 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_registry_gets_the_previous_answer_marked_stale() {
    let mut registry = Distribution::start_open();
    let pusher = Pusher::new(&registry.base_url(), None);
    let (v1, _) = five_platform_index(&pusher, "acme/app", "v1").await;
    let clock = clock();
    let (app, inspector) = app(&registry, &clock);
    let image = format!("{}/acme/app:v1", registry.host());
    assert_eq!(inspect(&app, &image).await.0, 200);

    registry.stop();
    clock.advance(TTL + Duration::from_secs(1));
    let (status, x_cache, doc) = inspect(&app, &image).await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(x_cache, "memory, stale");
    assert_eq!(doc["cache"]["stale"], true);
    assert_eq!(doc["digest"], v1.digest.as_str());
    // while stale, the registry is not asked on every request
    let loads = inspector.cache_stats().loads;
    let (status, _, doc) = inspect(&app, &image).await;
    assert_eq!(
        (status, doc["cache"]["stale"].clone()),
        (200, Value::Bool(true))
    );
    assert_eq!(inspector.cache_stats().loads, loads);

    // past the grace period the failure shows
    clock.advance(Duration::from_secs(2 * 86_400));
    let (status, _, doc) = inspect(&app, &image).await;
    assert_eq!(status, 502, "{doc}");
    assert_eq!(doc["error"]["code"], "UPSTREAM_ERROR");
}

#[tokio::test(flavor = "multi_thread")]
async fn not_found_is_remembered_briefly() {
    let registry = Distribution::start_open();
    let clock = clock();
    let (app, _) = app(&registry, &clock);
    let image = format!("{}/acme/nope:v1", registry.host());
    assert_eq!(inspect(&app, &image).await.0, 404);
    let mark = registry.mark();
    assert_eq!(inspect(&app, &image).await.0, 404);
    assert!(registry.served_since(mark).is_empty(), "the 404 was cached");
    clock.advance(Duration::from_secs(61));
    let mark = registry.mark();
    assert_eq!(inspect(&app, &image).await.0, 404);
    assert_eq!(registry.served_since(mark).len(), 1);
}
