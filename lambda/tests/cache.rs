//! The cache as users see it, in process with a manual clock against the real registry:
//! revalidation by HEAD, re-pushed tags, coalesced misses, stale answers, remembered 404s.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::http::Request;
use cache::{Clock, ManualClock, Tiered};
use mquery_tests::distribution::Distribution;
use mquery_tests::fixtures::{APP, Pushed, Pusher, open_with_app, platform};
use serde_json::Value;
use service::freshness::Lifetimes;
use service::inspect::Inspector;
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

/// What `/v1/inspect` answered: the status, `X-Cache` and the document.
type Answer = (u16, String, Value);

async fn inspect(app: &axum::Router, image: &str) -> Answer {
    let uri = format!("/v1/inspect?image={}", mquery_tests::encode_query(image));
    let response = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let status = response.status().as_u16();
    let x_cache = mquery_tests::header(response.headers(), "x-cache");
    let x_cache = x_cache.unwrap_or("").to_owned();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    let doc = serde_json::from_slice(&body).expect("JSON");
    (status, x_cache, doc)
}

/// An open registry with the index [`APP`], and the service in process in front of it with a
/// manual clock.
struct Setup {
    registry: Distribution,
    index: Pushed,
    clock: Arc<ManualClock>,
    app: axum::Router,
    inspector: Inspector,
    image: String,
}

async fn setup() -> Setup {
    let (registry, index) = open_with_app().await;
    let clock = clock();
    let (app, inspector) = app(&registry, &clock);
    let image = registry.image(APP);
    Setup {
        registry,
        index,
        clock,
        app,
        inspector,
        image,
    }
}

impl Setup {
    /// Asks about `image`: the answer, and the requests (`METHOD path`) it cost the registry.
    async fn inspect_served(&self, image: &str) -> (Answer, Vec<String>) {
        let mark = self.registry.mark();
        let answer = inspect(&self.app, image).await;
        let served = self.registry.served_since(mark);
        let requests = served.iter().map(|s| format!("{} {}", s.method, s.path));
        (answer, requests.collect())
    }
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(SystemTime::now()))
}

#[tokio::test(flavor = "multi_thread")]
async fn lapsed_tags_are_revalidated_by_head_and_repushes_are_seen() {
    let s = setup().await;
    let (image, v1) = (&s.image, &s.index);

    // cold: one GET
    let ((status, x_cache, doc), served) = s.inspect_served(image).await;
    assert_eq!((status, x_cache.as_str()), (200, "registry"));
    assert_eq!(served, ["GET /v2/acme/app/manifests/v1"]);
    assert_eq!(doc["cache"]["source"], "registry");
    assert_eq!(doc["cache"]["stale"], false);
    let fetched_at = doc["cache"]["fetchedAt"].as_str().unwrap_or("");
    assert!(
        doc["cache"]["expiresAt"]
            .as_str()
            .is_some_and(|e| e > fetched_at)
    );

    // warm: nothing reaches the registry
    let ((_, x_cache, doc), served) = s.inspect_served(image).await;
    assert_eq!(x_cache, "memory");
    assert_eq!(doc["cache"]["source"], "memory");
    assert!(served.is_empty());
    // the same image spelled canonically shares the entry
    let (_, x_cache, _) = inspect(&s.app, &s.registry.image(APP)).await;
    assert_eq!(x_cache, "memory");

    // lapsed: one HEAD, no GET, since the digest is unchanged
    s.clock.advance(TTL + Duration::from_secs(1));
    let ((status, x_cache, doc), served) = s.inspect_served(image).await;
    assert_eq!((status, x_cache.as_str()), (200, "registry"));
    assert_eq!(served, ["HEAD /v2/acme/app/manifests/v1"]);
    assert_eq!(doc["digest"], v1.digest.as_str());

    // the tag is pushed again; the fresh answer stands until it lapses, then the change shows
    let amd64 = vec![platform("linux", "amd64", None)];
    let v2 = Pusher::open(&s.registry)
        .index_naming_one_image("acme/app", "v1", amd64)
        .await;
    let (_, _, doc) = inspect(&s.app, image).await;
    assert_eq!(doc["digest"], v1.digest.as_str());
    s.clock.advance(TTL + Duration::from_secs(1));
    let ((_, _, doc), served) = s.inspect_served(image).await;
    assert_eq!(doc["digest"], v2.digest.as_str());
    assert_eq!(doc["platforms"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        served,
        [
            "HEAD /v2/acme/app/manifests/v1".to_owned(),
            format!("GET /v2/acme/app/manifests/{}", v2.digest)
        ]
    );
    // the old digest stays answerable from the cache: digests never change
    let pinned = s.registry.image(&format!("acme/app@{}", v1.digest));
    let ((status, x_cache, _), served) = s.inspect_served(&pinned).await;
    assert_eq!((status, x_cache.as_str()), (200, "memory"));
    assert!(served.is_empty());
    let stats = s.inspector.cache_stats();
    assert!(stats.memory_hits >= 4 && stats.loads >= 3, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_simultaneous_misses_cost_one_load() {
    let s = setup().await;
    let mark = s.registry.mark();
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let app = s.app.clone();
            let image = s.image.clone();
            tokio::spawn(async move { inspect(&app, &image).await.0 })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.expect("join"), 200);
    }
    let manifests = s
        .registry
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
    let mut s = setup().await;
    assert_eq!(inspect(&s.app, &s.image).await.0, 200);

    s.registry.stop();
    s.clock.advance(TTL + Duration::from_secs(1));
    let (status, x_cache, doc) = inspect(&s.app, &s.image).await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(x_cache, "memory, stale");
    assert_eq!(doc["cache"]["stale"], true);
    assert_eq!(doc["digest"], s.index.digest.as_str());
    // while stale, the registry is not asked on every request
    let loads = s.inspector.cache_stats().loads;
    let (status, _, doc) = inspect(&s.app, &s.image).await;
    assert_eq!(
        (status, doc["cache"]["stale"].clone()),
        (200, Value::Bool(true))
    );
    assert_eq!(s.inspector.cache_stats().loads, loads);

    // past the grace period the failure shows
    s.clock.advance(Duration::from_secs(2 * 86_400));
    let (status, _, doc) = inspect(&s.app, &s.image).await;
    assert_eq!(status, 502, "{doc}");
    assert_eq!(doc["error"]["code"], "UPSTREAM_ERROR");
}

#[tokio::test(flavor = "multi_thread")]
async fn not_found_is_remembered_briefly() {
    let registry = Distribution::start_open();
    let clock = clock();
    let (app, _) = app(&registry, &clock);
    let image = registry.image("acme/nope:v1");
    assert_eq!(inspect(&app, &image).await.0, 404);
    let mark = registry.mark();
    assert_eq!(inspect(&app, &image).await.0, 404);
    assert!(registry.served_since(mark).is_empty(), "the 404 was cached");
    clock.advance(Duration::from_secs(61));
    let mark = registry.mark();
    assert_eq!(inspect(&app, &image).await.0, 404);
    assert_eq!(registry.served_since(mark).len(), 1);
}

/// A badge request, raw: status, headers and body.
async fn badge(app: &axum::Router, path: &str, image: &str) -> axum::response::Response {
    let uri = format!("{path}?image={}", mquery_tests::encode_query(image));
    app.clone()
        .oneshot(Request::get(uri).body(Body::empty()).expect("request"))
        .await
        .expect("infallible")
}

async fn parts(response: axum::response::Response) -> (u16, Vec<(String, String)>, String) {
    let status = response.status().as_u16();
    let mut headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter(|(name, _)| *name != "x-request-id")
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    headers.sort();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

/// Repeated badge requests are answered from a prepared response (before routing): the same
/// bytes and headers the route builds from memory, 304 for a matching ETag, and never past
/// the answer's freshness.
#[tokio::test(flavor = "multi_thread")]
async fn repeated_badges_are_the_routes_own_answer_until_it_lapses() {
    let s = setup().await;
    for path in ["/v1/badge", "/v1/shields"] {
        let first = parts(badge(&s.app, path, &s.image).await).await;
        assert_eq!(first.0, 200);
        // the second is built by the route from memory, and prepares the third
        let second = parts(badge(&s.app, path, &s.image).await).await;
        let third = parts(badge(&s.app, path, &s.image).await).await;
        assert!(second.1.contains(&("x-cache".into(), "memory".into())));
        assert_eq!(second, third, "{path}");
        assert_eq!(first.2, third.2, "{path}: the same body");
        let etag = third
            .1
            .iter()
            .find(|(n, _)| n == "etag")
            .map(|(_, v)| v.clone())
            .expect("etag");
        let uri = format!("{path}?image={}", mquery_tests::encode_query(&s.image));
        let revalidated = s
            .app
            .clone()
            .oneshot(
                Request::get(uri)
                    .header("if-none-match", &etag)
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("infallible");
        assert_eq!(revalidated.status().as_u16(), 304, "{path}");
    }
    // the tag changes and its answer lapses: the next badge is the new answer, not the
    // prepared one
    let amd64 = vec![platform("linux", "amd64", None)];
    Pusher::open(&s.registry)
        .index_naming_one_image("acme/app", "v1", amd64)
        .await;
    let before = parts(badge(&s.app, "/v1/badge", &s.image).await).await;
    s.clock.advance(TTL + Duration::from_secs(1));
    let mark = s.registry.mark();
    let after = parts(badge(&s.app, "/v1/badge", &s.image).await).await;
    assert!(
        !s.registry.served_since(mark).is_empty(),
        "the registry was asked"
    );
    assert!(after.1.contains(&("x-cache".into(), "registry".into())));
    assert_ne!(before.2, after.2, "the badge shows the new platforms");
    assert!(
        after.2.contains("aria-label=\"platforms: amd64\""),
        "{}",
        after.2
    );
}
