//! The SSRF guard end to end, on loopback only: unlisted loopback registries, token realms and
//! redirect targets are refused before any packet reaches them. (Private and link-local
//! classes are tested as address values in the registry crate, and through the CLI inside an
//! empty network namespace: never over a real network.)

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use mquery_tests::client_for;
use mquery_tests::fake::FakeServer;
use registry::{Digest, Error, Reference};

async fn counting_server() -> FakeServer {
    FakeServer::start(Router::new().fallback(|| async { StatusCode::OK })).await
}

fn assert_refused(err: &Error) {
    assert_eq!(err.code(), "REGISTRY_NOT_ALLOWED", "{err:?}");
    assert!(err.to_string().contains("is not allowed"), "{err}");
}

/// Looks `a/b` up on `registry` (listed) and asserts the guard refused it.
async fn assert_lookup_refused(registry: &FakeServer) {
    let reference = Reference::parse(&format!("{}/a/b", registry.host())).expect("valid");
    let err = client_for(&[&registry.host()])
        .summarize(&reference)
        .await
        .expect_err("refused");
    assert_refused(&err);
}

#[tokio::test]
async fn unlisted_loopback_registries_are_refused_before_any_request() {
    let target = counting_server().await;
    let port = target.addr().port();
    let listed_elsewhere = client_for(&["127.0.0.1:1"]);
    for domain in [
        format!("127.0.0.1:{port}"),
        format!("127.0.0.2:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        format!("0.0.0.0:{port}"),
    ] {
        let reference = Reference::parse(&format!("{domain}/acme/app:v1")).expect("valid");
        let err = listed_elsewhere
            .summarize(&reference)
            .await
            .expect_err("refused");
        assert_refused(&err);
    }
    assert_eq!(target.count(), 0, "no request reached the target");
}

#[tokio::test]
async fn a_token_realm_on_an_unlisted_loopback_address_is_refused() {
    let token_server = counting_server().await;
    for realm in [
        format!("http://{}/token", token_server.host()),
        format!("http://localhost:{}/token", token_server.addr().port()),
    ] {
        let registry = FakeServer::start(mquery_tests::fake::challenging(realm)).await;
        assert_lookup_refused(&registry).await;
        assert_eq!(registry.count(), 1, "only the challenge was asked for");
    }
    assert_eq!(token_server.count(), 0, "the realm was never contacted");
}

#[tokio::test]
async fn a_redirect_to_an_unlisted_loopback_address_is_refused() {
    let cdn = counting_server().await;
    let config = br#"{"os":"linux","architecture":"amd64"}"#.to_vec();
    let config_digest = Digest::sha256(&config);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest.as_str(), "size": config.len()},
        "layers": []
    }))
    .expect("json");
    for target in [
        format!("http://{}/blob", cdn.host()),
        format!("http://localhost:{}/blob", cdn.addr().port()),
        format!("http://[::1]:{}/blob", cdn.addr().port()),
    ] {
        let manifest = manifest.clone();
        let registry = FakeServer::start(Router::new().fallback(move |uri: axum::http::Uri| {
            let manifest = manifest.clone();
            let target = target.clone();
            async move {
                if uri.path().contains("/blobs/") {
                    (StatusCode::FOUND, [("location", target)]).into_response()
                } else {
                    (
                        [("content-type", "application/vnd.oci.image.manifest.v1+json")],
                        manifest,
                    )
                        .into_response()
                }
            }
        }))
        .await;
        assert_lookup_refused(&registry).await;
    }
    assert_eq!(cdn.count(), 0, "the redirect target was never contacted");
}
