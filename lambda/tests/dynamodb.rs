//! The second cache tier against real DynamoDB Local (table created from template.yaml's
//! schema): answers survive a restart with the registry gone, expired items are misses,
//! items carry a future `expires_at`, and a dead DynamoDB costs nothing but a log line.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::body::Body;
use axum::http::Request;
use cache::{Clock, DynamoStore, ManualClock, Store, Tiered};
use mquery_tests::distribution::Distribution;
use mquery_tests::dynamodb::{DynamoLocal, TABLE, TableAndApp};
use mquery_tests::fixtures::{APP, Pusher, five_platform_index, open_with_app};
use mquery_tests::process::ServiceProcess;
use serde_json::Value;
use service::freshness::Lifetimes;
use service::inspect::Inspector;
use tower::ServiceExt as _;

const TTL: Duration = Duration::from_secs(60);

/// The table of DynamoDB Local at `endpoint` as the service's second tier: placeholder
/// credentials (DynamoDB Local accepts any) instead of the environment's, and the deadline and
/// retry of the service's own store.
async fn local_store(endpoint: String) -> Arc<dyn Store> {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region("us-east-1")
        .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
            "local", "local", None, None, "static",
        ))
        .endpoint_url(endpoint)
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_millis(500))
                .operation_timeout(cache::dynamo::STORE_DEADLINE)
                .build(),
        )
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(2))
        .load()
        .await;
    Arc::new(DynamoStore::with_config(TABLE.to_owned(), &config))
}

async fn app_with_store(
    registry: &Distribution,
    store: std::sync::Arc<dyn Store>,
    clock: &Arc<ManualClock>,
) -> (axum::Router, Inspector) {
    let clock: Arc<dyn Clock> = Arc::clone(clock) as Arc<dyn Clock>;
    let inspector = Inspector::new(
        mquery_tests::client_for(&[&registry.host()]),
        Tiered::new(16 << 20, Some(store), Arc::clone(&clock)),
        clock,
        Lifetimes::new(TTL),
    );
    (
        service::app(service::AppState::new(inspector.clone())),
        inspector,
    )
}

async fn inspect(app: &axum::Router, image: &str) -> (u16, Value) {
    let response = app
        .clone()
        .oneshot(
            Request::get(format!(
                "/v1/inspect?image={}",
                mquery_tests::encode_query(image)
            ))
            .body(Body::empty())
            .expect("request"),
        )
        .await
        .expect("infallible");
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    (status, serde_json::from_slice(&body).expect("JSON"))
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_survive_a_restart_with_the_registry_gone() {
    let mut f = TableAndApp::start().await;
    let binary = Path::new(env!("CARGO_BIN_EXE_mquery-lambda"));

    let first = ServiceProcess::start(binary, &f.env);
    let doc: Value = first.inspect(&f.image).await.json().await.expect("JSON");
    assert_eq!(doc["cache"]["source"], "registry");
    assert!(first.terminate().success());
    f.registry.stop();

    let second = ServiceProcess::start(binary, &f.env);
    let response = second.inspect(&f.image).await;
    assert_eq!(response.status(), 200);
    let x_cache = mquery_tests::header(response.headers(), "x-cache");
    assert_eq!(x_cache, Some("dynamodb"));
    let doc: Value = response.json().await.expect("JSON");
    assert_eq!(doc["cache"]["source"], "dynamodb");
    assert_eq!(doc["digest"], f.index.digest.as_str());
    assert_eq!(doc["platforms"].as_array().map(Vec::len), Some(5));
}

#[tokio::test(flavor = "multi_thread")]
async fn items_expire_and_are_not_served_as_fresh() {
    let dynamodb = DynamoLocal::start();
    let (registry, _) = open_with_app().await;
    let image = registry.image(APP);
    let store = local_store(dynamodb.endpoint()).await;
    let clock = Arc::new(ManualClock::new(SystemTime::now()));

    let (app, _) = app_with_store(&registry, store.clone(), &clock).await;
    assert_eq!(inspect(&app, &image).await.0, 200);
    // the item carries a future expires_at (and a freshness inside it)
    let now = cache::clock::epoch_secs(clock.now());
    let key = service::inspect::cache_key(&registry::Reference::parse(&image).expect("valid"));
    let item = store
        .get_live(&key, now)
        .await
        .expect("get")
        .expect("the answer was written");
    assert!(item.expires_at > now, "{item:?}");
    assert!(
        item.fresh_until > now && item.fresh_until <= item.expires_at,
        "{item:?}"
    );
    assert!(
        item.payload.contains("\"type\":\"image\""),
        "{}",
        item.payload
    );

    // a new process (empty memory) within the freshness: served from DynamoDB
    let (app, _) = app_with_store(&registry, store.clone(), &clock).await;
    assert_eq!(inspect(&app, &image).await.1["cache"]["source"], "dynamodb");

    // past freshness: not fresh, so the registry is asked (one HEAD revalidates it)
    clock.advance(TTL + Duration::from_secs(1));
    let (app, _) = app_with_store(&registry, store.clone(), &clock).await;
    let mark = registry.mark();
    assert_eq!(inspect(&app, &image).await.1["cache"]["source"], "registry");
    let served = registry.served_since(mark);
    assert_eq!(served.len(), 1);
    assert_eq!(served[0].method, "HEAD");

    // past expires_at the item is a miss even though DynamoDB may not have deleted it yet
    clock.advance(Duration::from_secs(3 * 86_400));
    let later = cache::clock::epoch_secs(clock.now());
    assert!(store.get_live(&key, later).await.expect("get").is_none());
    let (app, _) = app_with_store(&registry, store, &clock).await;
    let mark = registry.mark();
    assert_eq!(inspect(&app, &image).await.1["cache"]["source"], "registry");
    let served = registry.served_since(mark);
    assert_eq!(served.len(), 1);
    assert_eq!(
        served[0].method, "GET",
        "nothing previous to revalidate: a full GET"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_dynamodb_costs_only_a_log_line() {
    let mut dynamodb = DynamoLocal::start();
    let endpoint = dynamodb.endpoint();
    dynamodb.stop();
    let (registry, index) = open_with_app().await;
    let image = registry.image(APP);
    let store = local_store(endpoint).await;
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let (app, inspector) = app_with_store(&registry, store, &clock).await;

    let started = Instant::now();
    let (status, doc) = inspect(&app, &image).await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["cache"]["source"], "registry");
    assert_eq!(doc["digest"], index.digest.as_str());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(
        inspector.cache_stats().store_errors >= 1,
        "the failure is counted"
    );
    // and memory still works
    let (status, doc) = inspect(&app, &image).await;
    assert_eq!(
        (status, doc["cache"]["source"].clone()),
        (200, Value::from("memory"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_serves_with_dynamodb_down() {
    let mut dynamodb = DynamoLocal::start();
    let mut env = dynamodb.env();
    dynamodb.stop();
    let (registry, _) = open_with_app().await;
    env.push(registry.insecure_env());
    let service = ServiceProcess::start(Path::new(env!("CARGO_BIN_EXE_mquery-lambda")), &env);
    let response = service.inspect(&registry.image(APP)).await;
    assert_eq!(response.status(), 200);
}

/// A stalled DynamoDB (SIGSTOP) cost every uncached lookup a read and two writes, each
/// waiting out its 1.5 s deadline (issue 11, item 9). After the first timeout the circuit opens:
/// later lookups skip the store, and once it answers again a probe closes the circuit.
#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_dynamodb_costs_one_short_wait_then_nothing() {
    let dynamodb = DynamoLocal::start();
    let registry = Distribution::start_open();
    let pusher = Pusher::open(&registry);
    for i in 0..6 {
        five_platform_index(&pusher, &format!("acme/app{i}"), "v1").await;
    }
    let store = local_store(dynamodb.endpoint()).await;
    let clock = Arc::new(ManualClock::new(SystemTime::now()));
    let (app, inspector) = app_with_store(&registry, store, &clock).await;
    // the SDK's connection is set up while the table answers
    let (status, _) = inspect(&app, &registry.image("acme/app0:v1")).await;
    assert_eq!(status, 200);

    dynamodb.pause();
    let started = Instant::now();
    let (status, doc) = inspect(&app, &registry.image("acme/app1:v1")).await;
    let first = started.elapsed();
    assert_eq!(
        (status, doc["cache"]["source"].clone()),
        (200, Value::from("registry"))
    );
    assert!(
        first < Duration::from_millis(2_500),
        "first lookup took {first:?}"
    );
    for i in 2..6 {
        let started = Instant::now();
        let (status, _) = inspect(&app, &registry.image(&format!("acme/app{i}:v1"))).await;
        assert_eq!(status, 200);
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "lookup {i} waited {:?} for a stalled store",
            started.elapsed()
        );
    }
    let stats = inspector.cache_stats();
    assert_eq!(stats.store_errors, 1, "{stats:?}");
    assert!(stats.store_skipped >= 2 + 4 * 3, "{stats:?}");

    // the table answers again; after the open period one probe closes the circuit
    dynamodb.resume();
    clock.advance(cache::breaker::OPEN_FOR + Duration::from_secs(1));
    let (status, _) = inspect(&app, &registry.image("acme/app0:v2")).await;
    assert_eq!(
        status, 404,
        "no such tag: still a full lookup through the store"
    );
    let skipped = inspector.cache_stats().store_skipped;
    let (status, _) = inspect(&app, &registry.image("acme/app0:v3")).await;
    assert_eq!(status, 404);
    assert_eq!(
        inspector.cache_stats().store_skipped,
        skipped,
        "closed again"
    );
    // a second process, memory empty: app0's answer (written before the stall) is read from
    // the table; app5's was not written while the circuit was open
    let store = local_store(dynamodb.endpoint()).await;
    let (other, _) = app_with_store(&registry, store, &clock).await;
    let (_, doc) = inspect(&other, &registry.image("acme/app0:v1")).await;
    assert_eq!(doc["cache"]["source"], "dynamodb", "{doc}");
    let (_, doc) = inspect(&other, &registry.image("acme/app5:v1")).await;
    assert_eq!(doc["cache"]["source"], "registry", "{doc}");
}

/// The challenge book: the first instance learns a TLS token registry's challenge from its
/// 401 and writes it to the table (`challenge#BASE`); a second instance (a new process, memory
/// empty) reads it there and asks for its token at once: no request of its gets a 401.
#[tokio::test(flavor = "multi_thread")]
async fn a_new_instance_reads_the_registries_challenges_from_the_table() {
    use mquery_tests::fixtures::{Format, platform};
    use mquery_tests::proxy::Proxy;
    use mquery_tests::token::TokenServer;

    let dynamodb = DynamoLocal::start();
    let token = TokenServer::start_tls().await;
    // a name of its own, as a token service has
    let token = token.via(format!("localhost:{}", token.port()));
    let registry = Distribution::start_tls_with_token(&token);
    let pusher = Pusher::for_tls_with_token(&registry, &token);
    for repo in ["acme/web", "acme/db"] {
        let platforms = vec![platform("linux", "amd64", None)];
        pusher
            .index_of(repo, Some("v1"), Format::Oci, platforms)
            .await;
    }
    // both CAs in one file
    let dir = tempfile::tempdir().expect("a temporary directory");
    let ca_file = dir.path().join("cas.pem");
    mquery_tests::tls::ca_bundle(&ca_file, &[registry.ca_file(), token.ca_file()])
        .expect("both CAs in one file");
    let proxy = Proxy::start(registry.port(), Duration::ZERO).await;
    let mut env = dynamodb.env();
    env.push((
        "MQUERY_PRIVATE_REGISTRIES",
        format!("{},localhost:{}", proxy.host(), token.port()),
    ));
    env.push(("MQUERY_CA_FILE", ca_file.display().to_string()));
    let binary = Path::new(env!("CARGO_BIN_EXE_mquery-lambda"));

    let first = ServiceProcess::start(binary, &env);
    let mark = registry.mark();
    let response = first
        .inspect(&format!("{}/acme/web:v1", proxy.host()))
        .await;
    assert_eq!(response.status(), 200);
    let learned = registry.served_since(mark);
    assert!(learned.iter().any(|s| s.status == 401), "{learned:?}");
    // the item is written in the background: wait for it
    let store = local_store(dynamodb.endpoint()).await;
    let key = service::challenge_book::StoreBook::key(&format!("https://{}", proxy.host()));
    let mut item = None;
    for _ in 0..100 {
        item = store.get(&key).await.expect("GetItem");
        if item.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let item = item.expect("the challenge item");
    let recorded: Value = serde_json::from_str(&item.payload).expect("JSON payload");
    assert_eq!(recorded["realm"], token.realm(), "{recorded}");
    assert_eq!(recorded["service"], token.service(), "{recorded}");
    assert!(item.expires_at > item.fetched_at + 86_400, "{item:?}");
    assert!(first.terminate().success());

    let second = ServiceProcess::start(binary, &env);
    let mark = registry.mark();
    let response = second
        .inspect(&format!("{}/acme/db:v1", proxy.host()))
        .await;
    assert_eq!(response.status(), 200);
    // the version check that opened the connection while the token was asked for, then the
    // manifest with its token: no 401 on the manifest
    let served = registry.served_since(mark);
    let paths: Vec<(&str, u16)> = served.iter().map(|s| (s.path.as_str(), s.status)).collect();
    assert_eq!(
        paths,
        [("/v2/", 401), ("/v2/acme/db/manifests/v1", 200)],
        "{served:?}"
    );
    assert!(second.terminate().success());
}
