//! Misbehaviour a real registry will not produce, from an in-process fake: wrong digests,
//! oversized and broken bodies, 429s, 500s, silence, redirects, 403 to an expired token,
//! schema 1, Basic auth and a dead token server.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use mquery_tests::fake::{FakeServer, InFlight, Silent};
use mquery_tests::{assert_error, client_for, client_with, free_port};
use registry::manifest::media_type;
use registry::{Client, ClientConfig, Digest, Error, Reference, Summary};
use serde_json::json;

/// A router whose every request is answered by `f(path, headers, call number)`.
fn router<F>(f: F) -> Router
where
    F: Fn(&str, &HeaderMap, usize) -> Response + Clone + Send + Sync + 'static,
{
    let calls = Arc::new(AtomicUsize::new(0));
    Router::new().fallback(move |request: Request| {
        let f = f.clone();
        let n = calls.fetch_add(1, Ordering::SeqCst);
        async move { f(request.uri().path(), request.headers(), n) }
    })
}

fn index_body() -> Vec<u8> {
    serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_INDEX,
        "manifests": [{
            "mediaType": media_type::OCI_MANIFEST,
            "digest": Digest::sha256(b"child").as_str(),
            "size": 5,
            "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}
        }]
    }))
    .expect("json")
}

fn manifest_response(body: Vec<u8>, digest_header: Option<String>) -> Response {
    let mut response = Response::builder()
        .status(200)
        .header("content-type", media_type::OCI_INDEX);
    if let Some(digest) = digest_header {
        response = response.header("docker-content-digest", digest);
    }
    response.body(Body::from(body)).expect("response")
}

/// The config of a linux/arm64/v8 image.
const ARM64_CONFIG: &[u8] = br#"{"os":"linux","architecture":"arm64","variant":"v8"}"#;

/// An OCI image manifest whose config blob is `config`.
fn image_manifest(config: &[u8]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_MANIFEST,
        "config": {"mediaType": media_type::OCI_CONFIG, "digest": Digest::sha256(config).as_str(), "size": config.len()},
        "layers": []
    }))
    .expect("json")
}

fn image_manifest_response(manifest: Vec<u8>) -> Response {
    Response::builder()
        .status(200)
        .header("content-type", media_type::OCI_MANIFEST)
        .body(Body::from(manifest))
        .expect("response")
}

/// A blob download sent elsewhere, as registries send them to a CDN.
fn redirect(location: String) -> Response {
    (StatusCode::TEMPORARY_REDIRECT, [("location", location)]).into_response()
}

fn reference(server: &str, rest: &str) -> Reference {
    Reference::parse(&format!("{server}/{rest}")).expect("valid reference")
}

/// A fake registry answering every request with `f(path, headers, call number)`.
async fn serve<F>(f: F) -> FakeServer
where
    F: Fn(&str, &HeaderMap, usize) -> Response + Clone + Send + Sync + 'static,
{
    FakeServer::start(router(f)).await
}

/// Looks `rest` up on `host` with `client`.
async fn lookup_on(client: &Client, host: &str, rest: &str) -> Result<Summary, Error> {
    client.summarize(&reference(host, rest)).await
}

/// Looks `rest` up on `server` with a client of its own, allowed to reach it and `others`.
async fn lookup_via(server: &FakeServer, others: &[&str], rest: &str) -> Result<Summary, Error> {
    let host = server.host();
    let insecure: Vec<&str> = [host.as_str()]
        .into_iter()
        .chain(others.iter().copied())
        .collect();
    lookup_on(&client_for(&insecure), &host, rest).await
}

async fn lookup(server: &FakeServer, rest: &str) -> Result<Summary, Error> {
    lookup_via(server, &[], rest).await
}

/// Looks `rest` up on `server` with a client of its own whose settings `change` changed.
async fn lookup_with(
    server: &FakeServer,
    change: impl FnOnce(&mut ClientConfig),
    rest: &str,
) -> Result<Summary, Error> {
    lookup_on(
        &client_with(&[&server.host()], change),
        &server.host(),
        rest,
    )
    .await
}

#[tokio::test]
async fn digest_mismatch_against_header_and_reference() {
    let wrong = Digest::sha256(b"something else");
    let header = wrong.to_string();
    let fake = serve(move |_, _, _| manifest_response(index_body(), Some(header.clone()))).await;
    let err = lookup(&fake, "a/b:v1")
        .await
        .expect_err("header digest does not match the body");
    assert_error(&err, "DIGEST_MISMATCH", wrong.as_str());

    let honest = serve(|_, _, _| manifest_response(index_body(), None)).await;
    let client = client_for(&[&honest.host()]);
    let err = lookup_on(&client, &honest.host(), &format!("a/b@{wrong}"))
        .await
        .expect_err("body does not match the requested digest");
    match err {
        Error::DigestMismatch {
            expected, actual, ..
        } => {
            assert_eq!(expected.as_str(), wrong.as_str());
            assert_eq!(actual.as_str(), Digest::sha256(&index_body()).as_str());
        }
        other => panic!("expected a digest mismatch, got {other:?}"),
    }
    // the same body under its true digest is fine
    let right = Digest::sha256(&index_body());
    let summary = lookup_on(&client, &honest.host(), &format!("a/b@{right}"))
        .await
        .expect("matching digest");
    assert_eq!(summary.digest, right.as_str());
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let limit = |config: &mut ClientConfig| config.max_manifest_bytes = 16 << 10;
    // announced by Content-Length
    let big = serve(|_, _, _| manifest_response(vec![b' '; 64 << 10], None)).await;
    let err = lookup_with(&big, limit, "a/b")
        .await
        .expect_err("too large");
    assert_error(&err, "INVALID_MANIFEST", "larger than the 16384-byte limit");

    // streamed without a length
    let streamed = serve(|_, _, _| {
        let chunks = (0..64).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1024]));
        Response::builder()
            .status(200)
            .header("content-type", media_type::OCI_INDEX)
            .body(Body::from_stream(futures_stream(chunks)))
            .expect("response")
    })
    .await;
    let err = lookup_with(&streamed, limit, "a/b")
        .await
        .expect_err("too large");
    assert!(matches!(err, Error::TooLarge { .. }), "{err:?}");
}

/// A stream of chunks without a known length.
fn futures_stream(
    chunks: impl Iterator<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static,
) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    tokio_stream::iter(chunks)
}

#[tokio::test]
async fn invalid_json_is_an_invalid_manifest() {
    let fake = serve(|_, _, _| manifest_response(b"{\"manifests\": [".to_vec(), None)).await;
    let err = lookup(&fake, "a/b").await.expect_err("broken JSON");
    assert_error(&err, "INVALID_MANIFEST", "not valid manifest JSON");
}

#[tokio::test]
async fn rate_limits_short_waits_are_honoured_long_ones_reported() {
    let short = serve(|_, _, n| {
        if n == 0 {
            (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")]).into_response()
        } else {
            manifest_response(index_body(), None)
        }
    })
    .await;
    let started = Instant::now();
    let summary = lookup(&short, "a/b")
        .await
        .expect("succeeds after waiting once");
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(summary.platforms.len(), 1);
    assert_eq!(short.count(), 2);

    let long =
        serve(|_, _, _| (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "30")]).into_response())
            .await;
    let err = lookup(&long, "a/b").await.expect_err("rate limited");
    assert_eq!(err.to_string(), "registry rate limit, retry after 30s");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
    assert_eq!(long.count(), 1, "a long Retry-After is not waited out");
}

#[tokio::test]
async fn server_errors_are_retried_once() {
    let flaky = serve(|_, _, n| {
        if n == 0 {
            StatusCode::BAD_GATEWAY.into_response()
        } else {
            manifest_response(index_body(), None)
        }
    })
    .await;
    lookup(&flaky, "a/b").await.expect("the retry succeeds");
    assert_eq!(flaky.count(), 2);

    let broken = serve(|_, _, _| {
        let body = json!({"errors": [{"code": "UNKNOWN", "message": "boom"}]});
        (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
    })
    .await;
    let err = lookup(&broken, "a/b").await.expect_err("still failing");
    assert_eq!(err.code(), "UPSTREAM_ERROR");
    assert_eq!(
        err.to_string(),
        format!("registry {} failed: HTTP 500: UNKNOWN", broken.host())
    );
    assert_eq!(broken.count(), 2, "exactly one retry");
}

#[tokio::test]
async fn a_registry_that_never_answers_times_out() {
    let silent = Silent::start().await;
    // each request has a deadline, and the whole lookup has its own too
    let deadlines: [fn(&mut ClientConfig); 2] = [
        |config| config.request_timeout = Duration::from_millis(300),
        |config| {
            config.request_timeout = Duration::from_secs(30);
            config.lookup_timeout = Duration::from_millis(300);
        },
    ];
    for deadline in deadlines {
        let client = client_with(&[&silent.host()], deadline);
        let started = Instant::now();
        let err = lookup_on(&client, &silent.host(), "a/b")
            .await
            .expect_err("no answer");
        assert_eq!(err.code(), "UPSTREAM_TIMEOUT");
        let elapsed = started.elapsed();
        assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    }
}

/// ghcr.io and ECR Public answer 403 without a challenge to an expired token.
#[tokio::test]
async fn expired_token_answered_with_403_gets_a_new_token() {
    let tokens = Arc::new(AtomicUsize::new(0));
    let issued = Arc::clone(&tokens);
    let token_server = FakeServer::start(Router::new().fallback(move || {
        let n = issued.fetch_add(1, Ordering::SeqCst);
        async move { axum::Json(json!({"token": format!("t{n}"), "expires_in": 300})) }
    }))
    .await;
    let realm = format!("{}/token", token_server.url());
    let registry = serve(move |_, headers, n| {
        let authorization = headers.get("authorization").and_then(|v| v.to_str().ok());
        match (n, authorization) {
            (_, None) => bearer_challenge(&format!("realm=\"{realm}\",service=\"fake\"")),
            // t0 works for the first lookup, then "expires": a bare 403, no challenge
            (1, Some("Bearer t0")) | (_, Some("Bearer t1")) => {
                manifest_response(index_body(), None)
            }
            _ => StatusCode::FORBIDDEN.into_response(),
        }
    })
    .await;
    let client = client_for(&[&registry.host(), &token_server.host()]);
    for _ in 0..2 {
        let summary = lookup_on(&client, &registry.host(), "a/b")
            .await
            .expect("a fresh token is fetched after the 403");
        assert_eq!(summary.platforms.len(), 1);
    }
    assert_eq!(tokens.load(Ordering::SeqCst), 2);
    let auth: Vec<Option<String>> = registry
        .seen()
        .into_iter()
        .map(|s| s.authorization)
        .collect();
    assert_eq!(
        auth,
        [
            None,
            Some("Bearer t0".into()),
            Some("Bearer t0".into()),
            Some("Bearer t1".into())
        ]
    );
}

/// A known challenge that is wrong (here the settings' Docker Hub realm; the built-in table's
/// are the same path) whose tokens the registry refuses with a bare 403, as ghcr.io and ECR
/// Public refuse tokens: the registry's own challenge is learned and the lookup succeeds; the
/// guess's token is sent once, and the next lookup goes to the right realm at once.
#[tokio::test]
async fn a_wrong_known_challenge_refused_without_a_challenge_is_relearned() {
    let token_server = |prefix: &'static str| {
        FakeServer::start(Router::new().fallback(move || async move {
            axum::Json(json!({"token": format!("{prefix}-token"), "expires_in": 300}))
        }))
    };
    let (wrong, right) = (token_server("wrong").await, token_server("right").await);
    let realm = format!("{}/token", right.url());
    let registry = serve(move |_, headers, _| {
        match headers.get("authorization").and_then(|v| v.to_str().ok()) {
            None => bearer_challenge(&format!("realm=\"{realm}\",service=\"fake\"")),
            Some("Bearer right-token") => manifest_response(index_body(), None),
            Some(_) => StatusCode::FORBIDDEN.into_response(),
        }
    })
    .await;
    let client = mquery_tests::client_with(
        &[&registry.host(), &wrong.host(), &right.host()],
        |config| {
            config.docker_hub.registry = registry.url();
            config.docker_hub.realm = format!("{}/token", wrong.url());
            config.docker_hub.service = "wrong".to_owned();
        },
    );
    for image in ["acme/a:v1", "acme/b:v1"] {
        let reference = Reference::parse(image).expect("valid reference");
        let summary = client.summarize(&reference).await.expect("relearned");
        assert_eq!(summary.platforms.len(), 1);
    }
    let sent: Vec<Option<String>> = registry
        .seen()
        .into_iter()
        .filter(|s| s.path.contains("/manifests/"))
        .map(|s| s.authorization)
        .collect();
    let wrong_sent = sent
        .iter()
        .filter(|a| a.as_deref() == Some("Bearer wrong-token"))
        .count();
    assert!(wrong_sent <= 1, "{sent:?}");
    assert_eq!(
        sent.last().cloned().flatten().as_deref(),
        Some("Bearer right-token"),
        "{sent:?}"
    );
}

/// A 401 with a Bearer challenge of `params`.
fn bearer_challenge(params: &str) -> Response {
    let challenge = format!("Bearer {params}");
    (StatusCode::UNAUTHORIZED, [("www-authenticate", challenge)]).into_response()
}

#[tokio::test]
async fn schema1_is_unsupported_with_a_clear_message() {
    let fake = serve(|_, _, _| {
        Response::builder()
            .status(200)
            .header("content-type", media_type::DOCKER_SCHEMA1_SIGNED)
            .body(Body::from(
                r#"{"schemaVersion":1,"name":"a/b","tag":"old","architecture":"amd64","fsLayers":[]}"#,
            ))
            .expect("response")
    })
    .await;
    let err = lookup(&fake, "a/b:old").await.expect_err("schema 1");
    let message = "Docker schema 1 manifests are not supported";
    assert_error(&err, "UNSUPPORTED_MANIFEST", message);
}

#[tokio::test]
async fn config_blob_redirect_is_followed_without_credentials() {
    let config = ARM64_CONFIG.to_vec();
    let cdn = serve(move |_, _, _| config.clone().into_response()).await;
    let cdn_url = cdn.url();
    let manifest = image_manifest(ARM64_CONFIG);
    let tokens = FakeServer::start(
        Router::new().fallback(|| async { axum::Json(json!({"token": "secret-token"})) }),
    )
    .await;
    let realm = format!("{}/token", tokens.url());
    let registry = serve(move |path, headers, _| {
        if headers.get("authorization").is_none() {
            return bearer_challenge(&format!("realm=\"{realm}\""));
        }
        if path.contains("/blobs/") {
            redirect(format!("{cdn_url}/blob?sig=1"))
        } else {
            image_manifest_response(manifest.clone())
        }
    })
    .await;
    let summary = lookup_via(&registry, &[&tokens.host(), &cdn.host()], "a/b")
        .await
        .expect("redirect followed");
    assert_eq!(summary.platforms[0].platform.to_string(), "linux/arm64/v8");
    let cdn_seen = cdn.seen();
    assert_eq!(cdn_seen.len(), 1);
    assert_eq!(
        cdn_seen[0].authorization, None,
        "the token must not leak to the CDN"
    );
}

#[tokio::test]
async fn basic_auth_means_not_public() {
    let fake = serve(|_, _, _| {
        let challenge = [("www-authenticate", "Basic realm=\"registry\"")];
        (StatusCode::UNAUTHORIZED, challenge).into_response()
    })
    .await;
    let err = lookup(&fake, "private/app").await.expect_err("private");
    assert_eq!(err.code(), "NOT_FOUND");
    assert_eq!(fake.count(), 1);
}

#[tokio::test]
async fn token_server_down_is_an_upstream_error() {
    let port = free_port();
    let realm = format!("http://127.0.0.1:{port}/token");
    let fake = FakeServer::start(mquery_tests::fake::challenging(realm)).await;
    let err = lookup_via(&fake, &[&format!("127.0.0.1:{port}")], "a/b")
        .await
        .expect_err("token server is down");
    assert_error(&err, "UPSTREAM_ERROR", "cannot connect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_lookups_are_capped_per_process() {
    let in_flight = InFlight::default();
    let gauge = in_flight.clone();
    let fake = FakeServer::start(Router::new().fallback(move || {
        let gauge = gauge.clone();
        async move {
            gauge.hold(Duration::from_millis(100)).await;
            manifest_response(index_body(), None)
        }
    }))
    .await;
    let client = client_with(&[&fake.host()], |c| c.max_concurrent_lookups = 2);
    let lookups = spawn_lookups(&client, &fake.host(), "burst", 10);
    for lookup in lookups {
        lookup
            .await
            .expect("join")
            .expect("every lookup succeeds, in turn");
    }
    assert_eq!(fake.count(), 10);
    assert_eq!(in_flight.most(), 2, "never more than the cap at once");
}

/// `count` lookups of `host/{repo}/app{i}` at once.
fn spawn_lookups(
    client: &Client,
    host: &str,
    repo: &str,
    count: usize,
) -> Vec<tokio::task::JoinHandle<Result<Summary, Error>>> {
    (0..count)
        .map(|i| {
            let client = client.clone();
            let reference = reference(host, &format!("{repo}/app{i}"));
            tokio::spawn(async move { client.summarize(&reference).await })
        })
        .collect()
}

#[tokio::test]
async fn oversized_configs_and_indexes_are_refused() {
    let config = format!(
        r#"{{"os":"linux","architecture":"amd64","pad":"{}"}}"#,
        "x".repeat(64 << 10)
    );
    let manifest = image_manifest(config.as_bytes());
    let fake = serve(move |path, _, _| {
        if path.contains("/blobs/") {
            config.clone().into_response()
        } else {
            image_manifest_response(manifest.clone())
        }
    })
    .await;
    let err = lookup_with(&fake, |c| c.max_config_bytes = 16 << 10, "big/config")
        .await
        .expect_err("config too large");
    assert_eq!(err.code(), "INVALID_MANIFEST");
    assert!(
        err.to_string()
            .starts_with("image config is larger than the 16384-byte limit"),
        "{err}"
    );

    let entries: Vec<_> = (0..1025)
        .map(|i| json!({"mediaType": media_type::OCI_MANIFEST, "digest": Digest::sha256(format!("{i}").as_bytes()).as_str(), "size": 1,
                        "platform": {"os": "linux", "architecture": format!("arch{i}")}}))
        .collect();
    let index = serde_json::to_vec(
        &json!({"schemaVersion": 2, "mediaType": media_type::OCI_INDEX, "manifests": entries}),
    )
    .expect("json");
    let huge = serve(move |_, _, _| manifest_response(index.clone(), None)).await;
    let err = lookup(&huge, "huge/index")
        .await
        .expect_err("too many entries");
    let message = "index has at least 1025 entries, more than the 1024";
    assert_error(&err, "INVALID_MANIFEST", message);
}

/// A single image whose config blob is reached after `hops` redirects (the registry's own
/// redirect counts as the first).
async fn config_behind_redirects(hops: usize) -> Result<registry::Summary, Error> {
    let config = ARM64_CONFIG.to_vec();
    let cdn = serve(move |path, _, _| {
        let hop: usize = path
            .strip_prefix("/hop/")
            .and_then(|n| n.parse().ok())
            .expect("a hop path");
        if hop < hops {
            let next = format!("/hop/{}", hop + 1);
            (StatusCode::FOUND, [("location", next)]).into_response()
        } else {
            config.clone().into_response()
        }
    })
    .await;
    let cdn_url = cdn.url();
    let manifest = image_manifest(ARM64_CONFIG);
    let registry = serve(move |path, _, _| {
        if path.contains("/blobs/") {
            redirect(format!("{cdn_url}/hop/1"))
        } else {
            image_manifest_response(manifest.clone())
        }
    })
    .await;
    lookup_via(&registry, &[&cdn.host()], "a/b").await
}

/// SECURITY.md allows three redirects: three are followed, a fourth is refused.
#[tokio::test]
async fn three_redirects_are_followed_and_a_fourth_is_refused() {
    for hops in 1..=3 {
        let summary = config_behind_redirects(hops)
            .await
            .unwrap_or_else(|e| panic!("{hops} redirects: {e}"));
        assert_eq!(summary.platforms[0].platform.to_string(), "linux/arm64/v8");
    }
    let err = config_behind_redirects(4).await.expect_err("4 redirects");
    assert_error(&err, "UPSTREAM_ERROR", "too many redirects");
}

/// A registry challenging for a token at `realm`, which `tokens` serves.
async fn lookup_behind_token_server(tokens: &FakeServer, realm: String) -> Error {
    let registry = FakeServer::start(mquery_tests::fake::challenging(realm)).await;
    lookup_via(&registry, &[&tokens.host()], "a/b")
        .await
        .expect_err("the token server fails")
}

/// A realm with userinfo (`http://user:pass@host/token`): reqwest would send it as Basic auth.
/// Credentials named by a URL the registry supplied are never sent.
#[tokio::test]
async fn userinfo_in_a_token_realm_is_never_sent() {
    let tokens =
        FakeServer::start(Router::new().fallback(|| async { (StatusCode::UNAUTHORIZED, "no") }))
            .await;
    let realm = format!("http://victim:hunter2@{}/token", tokens.host());
    let err = lookup_behind_token_server(&tokens, realm).await;
    assert_eq!(err.code(), "NOT_FOUND");
    let seen = tokens.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].authorization, None, "no credentials to the realm");
}

/// A token response over the 64 KiB cap is the token server's failure (UPSTREAM_ERROR), not
/// an invalid manifest.
#[tokio::test]
async fn an_oversized_token_response_is_an_upstream_error() {
    let tokens = FakeServer::start(Router::new().fallback(|| async {
        let token = "x".repeat(70 << 10);
        axum::Json(json!({ "token": token }))
    }))
    .await;
    let realm = format!("{}/token", tokens.url());
    let err = lookup_behind_token_server(&tokens, realm).await;
    assert_error(&err, "UPSTREAM_ERROR", "response over 65536 bytes");
}

/// A registry whose tag `v1` is an index of `entries`, each naming one of the child indexes
/// in `children` (each child an index of one linux/amd64 image).
async fn nested_registry(children: usize, entries: usize) -> FakeServer {
    let child_bodies: Vec<Vec<u8>> = (0..children)
        .map(|i| {
            serde_json::to_vec(&json!({
                "schemaVersion": 2,
                "mediaType": media_type::OCI_INDEX,
                "manifests": [{
                    "mediaType": media_type::OCI_MANIFEST,
                    "digest": Digest::sha256(format!("image {i}").as_bytes()).as_str(),
                    "size": 7,
                    "platform": {"os": "linux", "architecture": "amd64"}
                }]
            }))
            .expect("json")
        })
        .collect();
    let top = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_INDEX,
        "manifests": (0..entries).map(|i| json!({
            "mediaType": media_type::OCI_INDEX,
            "digest": Digest::sha256(&child_bodies[i % children]).as_str(),
            "size": child_bodies[i % children].len(),
        })).collect::<Vec<_>>()
    }))
    .expect("json");
    serve(move |path, _, _| {
        let body = child_bodies
            .iter()
            .find(|b| path.ends_with(Digest::sha256(b).as_str()))
            .cloned()
            .unwrap_or_else(|| top.clone());
        manifest_response(body, None)
    })
    .await
}

/// Looks `a/b:v1` up on a [`nested_registry`] of `(children, entries)` and asserts that the
/// answer lists `platforms` platforms and cost `requests` requests.
async fn assert_nested_answer(
    (children, entries): (usize, usize),
    platforms: usize,
    requests: usize,
) {
    let fake = nested_registry(children, entries).await;
    let summary = lookup(&fake, "a/b:v1")
        .await
        .unwrap_or_else(|e| panic!("{children} children, {entries} entries: {e}"));
    assert_eq!(summary.platforms.len(), platforms);
    assert_eq!(fake.count(), requests, "the index and its children");
}

/// One index naming the same child index 1,024 times sent 663 identical GETs and ended in an
/// uncached 504 (issue 11, failure 3). Each distinct child is fetched once, and the failure is
/// remembered: asking again costs the registry nothing.
#[tokio::test]
async fn a_child_index_named_many_times_is_fetched_once() {
    // three entries, one child: the index and its one child
    assert_nested_answer((1, 3), 3, 2).await;

    let fake = nested_registry(1, 1024).await;
    let client = client_for(&[&fake.host()]);
    let started = Instant::now();
    let err = lookup_on(&client, &fake.host(), "a/b:v1")
        .await
        .expect_err("1024 + 1024 entries");
    assert_eq!(err.code(), "INVALID_MANIFEST", "{err}");
    assert_eq!(fake.count(), 2, "the index and its one child");
    assert!(started.elapsed() < Duration::from_secs(2));
    let again = lookup_on(&client, &fake.host(), "a/b:v1")
        .await
        .expect_err("remembered");
    assert_eq!(again.to_string(), err.to_string());
    assert_eq!(fake.count(), 2, "a remembered failure sends nothing");
}

#[tokio::test]
async fn distinct_nested_indexes_are_capped() {
    // 16 nested indexes are allowed
    assert_nested_answer((16, 16), 16, 17).await;

    let fake = nested_registry(17, 17).await;
    let err = lookup(&fake, "a/b:v1")
        .await
        .expect_err("17 nested indexes");
    assert_error(
        &err,
        "INVALID_MANIFEST",
        "more than 16 distinct nested indexes",
    );
    assert_eq!(fake.count(), 1, "refused before fetching any child");
}

/// 150-300 lookups against one hanging registry made lookups of other registries wait 10-20 s
/// behind the process-wide cap (issue 11, item 8). Each registry host gets its own share: a
/// hanging one holds at most that share, and the others go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hanging_registry_cannot_starve_the_others() {
    let hanging = Silent::start().await;
    let healthy = serve(|_, _, _| manifest_response(index_body(), None)).await;
    let client = client_with(&[&hanging.host(), &healthy.host()], |c| {
        c.max_concurrent_lookups = 8;
        c.max_lookups_per_registry = 3;
        c.request_timeout = Duration::from_secs(3);
        c.lookup_timeout = Duration::from_secs(3);
    });
    let stuck = spawn_lookups(&client, &hanging.host(), "stuck", 40);
    tokio::time::sleep(Duration::from_millis(200)).await;
    for i in 0..10 {
        let started = Instant::now();
        lookup_on(&client, &healthy.host(), &format!("ok/app{i}"))
            .await
            .expect("the healthy registry answers");
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "lookup {i} of a healthy registry waited {:?}",
            started.elapsed()
        );
    }
    assert_eq!(healthy.count(), 10);
    for lookup in stuck {
        lookup.abort();
    }
}
