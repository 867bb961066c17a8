//! The command line user's logins (`registry::credentials`): sent to the token realm of the
//! registry they were stored for (Basic, or an identity token as an OAuth2 refresh grant) for
//! pull tokens only, as Basic auth to a registry that asks for it, never to a plain-HTTP realm
//! that is not listed as insecure, never across a redirect to another host; a refusal reads
//! "unauthorized: check your login for HOST" when a login was sent and refused.

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use mquery_tests::fake::{self, FakeServer};
use mquery_tests::fixtures::{Lookups, five_platform_index};
use mquery_tests::token::{Accounts, TokenServer};
use registry::credentials::{Login, LoginError, LoginSource, Secret};
use registry::{Client, Reference};

/// Logins by registry, as the CLI's files would give them.
#[derive(Debug, Default)]
struct Fixed(Vec<(String, Login)>);

impl LoginSource for Fixed {
    fn login(&self, registry: &str) -> Result<Option<Login>, LoginError> {
        Ok(self
            .0
            .iter()
            .find(|(host, _)| host == registry)
            .map(|(_, login)| login.clone()))
    }
}

fn basic(username: &str, password: &str) -> Login {
    Login::Basic {
        username: username.into(),
        password: Secret::new(password),
    }
}

/// A client reaching `insecure` over plain HTTP, with `logins` for `registry`.
fn client(insecure: &[&str], logins: Vec<(String, Login)>) -> Client {
    mquery_tests::client_with(insecure, |config| {
        config.logins = Some(Arc::new(Fixed(logins)));
    })
}

fn reference(host: &str, rest: &str) -> Reference {
    Reference::parse(&format!("{host}/{rest}")).expect("valid reference")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_realm_gets_the_login_for_pull_tokens_only() {
    let token = TokenServer::start().await;
    let s = Lookups::with_token(&token);
    let (index, _) = five_platform_index(&s.pusher, "private/app", "v1").await;
    token.set_accounts(Accounts::Only {
        username: "alice".into(),
        password: "s3cret".into(),
    });
    let (host, token_host) = (s.registry.host(), token.host());
    let hosts = [host.as_str(), token_host.as_str()];
    let image = reference(&host, "private/app:v1");

    let with_login = client(&hosts, vec![(host.clone(), basic("alice", "s3cret"))]);
    let summary = with_login
        .summarize(&image)
        .await
        .expect("the login reads it");
    assert_eq!(summary.digest, index.digest.as_str());
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("alice:s3cret")
    );
    assert_eq!(token.authorizations(), [Some(expected)]);
    assert_eq!(token.scopes(), ["repository:private/app:pull"]);

    // a login that cannot read it: unauthorized, not "not found"; no login for this registry
    // (none, or one for another): "not found or not public", as for a misspelled image
    let unauthorized = format!("unauthorized: check your login for {host} ({host}/private/app:v1)");
    let not_found = format!("image not found or not public: {host}/private/app:v1");
    for (logins, expected) in [
        (vec![(host.clone(), basic("alice", "wrong"))], &unauthorized),
        (vec![], &not_found),
        (
            vec![("other.example".to_owned(), basic("alice", "s3cret"))],
            &not_found,
        ),
    ] {
        let err = client(&hosts, logins)
            .summarize(&image)
            .await
            .expect_err("refused");
        mquery_tests::assert_error(&err, "NOT_FOUND", expected);
        assert!(!format!("{err:?}").contains("s3cret"), "{err:?}");
    }
    // the service (no logins) says what it always said
    let err = mquery_tests::client_for(&hosts)
        .summarize(&image)
        .await
        .expect_err("refused");
    mquery_tests::assert_error(&err, "NOT_FOUND", "image not found or not public");
    // a repository the login cannot read: refused too
    token.deny("private/app");
    let err = client(&hosts, vec![(host.clone(), basic("alice", "s3cret"))])
        .summarize(&image)
        .await
        .expect_err("denied");
    mquery_tests::assert_error(&err, "NOT_FOUND", &unauthorized);
    assert!(
        token
            .scopes()
            .iter()
            .all(|scope| scope == "repository:private/app:pull")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_identity_token_is_exchanged_for_a_pull_token() {
    let token = TokenServer::start().await;
    let s = Lookups::with_token(&token);
    let (index, _) = five_platform_index(&s.pusher, "private/app", "v1").await;
    token.set_accounts(Accounts::RefreshToken("refresh-1".into()));
    let (host, token_host) = (s.registry.host(), token.host());
    let hosts = [host.as_str(), token_host.as_str()];
    let image = reference(&host, "private/app:v1");
    let refresh = Login::IdentityToken(Secret::new("refresh-1"));
    let summary = client(&hosts, vec![(host.clone(), refresh)])
        .summarize(&image)
        .await
        .expect("the identity token reads it");
    assert_eq!(summary.digest, index.digest.as_str());
    assert_eq!(token.scopes(), ["repository:private/app:pull"]);
    let stale = Login::IdentityToken(Secret::new("refresh-0"));
    let err = client(&hosts, vec![(host.clone(), stale)])
        .summarize(&image)
        .await
        .expect_err("refused");
    mquery_tests::assert_error(&err, "NOT_FOUND", "unauthorized: check your login for");
}

/// A registry asking for Basic auth, which redirects requests carrying it to `target`.
fn basic_then_redirect(target: String) -> Router {
    Router::new().fallback(move |headers: HeaderMap| {
        let target = target.clone();
        async move {
            let response: Response = match headers.get("authorization") {
                None => (
                    StatusCode::UNAUTHORIZED,
                    [("www-authenticate", "Basic realm=\"registry\"")],
                )
                    .into_response(),
                Some(_) => (
                    StatusCode::TEMPORARY_REDIRECT,
                    [("location", format!("{target}/elsewhere"))],
                )
                    .into_response(),
            };
            response
        }
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn basic_auth_goes_to_its_registry_and_never_across_a_redirect() {
    let elsewhere =
        FakeServer::start(Router::new().fallback(|| async { StatusCode::NOT_FOUND })).await;
    let registry = FakeServer::start(basic_then_redirect(elsewhere.url())).await;
    let host = registry.host();
    let elsewhere_host = elsewhere.host();
    let client = client(
        &[host.as_str(), elsewhere_host.as_str()],
        vec![(host.clone(), basic("alice", "s3cret"))],
    );
    let err = client
        .summarize(&reference(&host, "team/app:v1"))
        .await
        .expect_err("the redirect leads to nothing");
    assert!(!err.to_string().contains("s3cret"), "{err}");
    let sent: Vec<Option<String>> = registry
        .seen()
        .into_iter()
        .map(|s| s.authorization)
        .collect();
    assert_eq!(sent.first(), Some(&None), "the first request is anonymous");
    assert!(
        sent.iter().flatten().all(|a| a.starts_with("Basic "))
            && sent.iter().flatten().count() >= 1,
        "{sent:?}"
    );
    let seen = elsewhere.seen();
    assert!(!seen.is_empty(), "the redirect was followed");
    assert!(seen.iter().all(|s| s.authorization.is_none()), "{seen:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_login_goes_to_a_plain_http_realm_not_listed_as_insecure() {
    let realm =
        FakeServer::start(Router::new().fallback(|| async { StatusCode::UNAUTHORIZED })).await;
    let registry = FakeServer::start(fake::challenging(format!("{}/token", realm.url()))).await;
    let host = registry.host();
    // the realm may be reached (a private registry), but only over HTTPS with a login
    let client = mquery_tests::client_with(&[host.as_str()], |config| {
        config.private_registries = vec![realm.host()];
        config.logins = Some(Arc::new(Fixed(vec![(
            host.clone(),
            basic("alice", "s3cret"),
        )])));
    });
    let err = client
        .summarize(&reference(&host, "team/app:v1"))
        .await
        .expect_err("refused");
    // the login did not go, so its refusal is not the login's
    mquery_tests::assert_error(&err, "NOT_FOUND", "image not found or not public");
    let seen = realm.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].authorization, None);
}

/// A registry that redirects every request to another origin, which challenges with a realm
/// of its choosing: that challenge is not followed, so the realm never sees the login.
#[tokio::test(flavor = "multi_thread")]
async fn a_challenge_after_a_redirect_to_another_origin_gets_no_login() {
    let realm = FakeServer::start(
        Router::new().fallback(|| async { axum::Json(serde_json::json!({"token": "t"})) }),
    )
    .await;
    let elsewhere = FakeServer::start(fake::challenging(format!("{}/token", realm.url()))).await;
    let target = elsewhere.url();
    let registry = FakeServer::start(Router::new().fallback(move || {
        let location = format!("{target}/v2/team/app/manifests/v1");
        async move { (StatusCode::TEMPORARY_REDIRECT, [("location", location)]) }
    }))
    .await;
    let host = registry.host();
    let hosts = [host.clone(), elsewhere.host(), realm.host()];
    let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let err = client(&hosts, vec![(host.clone(), basic("alice", "s3cret"))])
        .summarize(&reference(&host, "team/app:v1"))
        .await
        .expect_err("refused");
    mquery_tests::assert_error(&err, "NOT_FOUND", "image not found or not public");
    assert!(!elsewhere.seen().is_empty(), "the redirect was followed");
    assert!(realm.seen().is_empty(), "{:?}", realm.seen());
}

/// An identity token's grant is a POST body: a token realm that answers with a 307 (which
/// would send the body again) is not followed, and the lookup fails on the token server.
#[tokio::test(flavor = "multi_thread")]
async fn an_identity_token_grant_follows_no_redirect() {
    let elsewhere =
        FakeServer::start(Router::new().fallback(|| async { StatusCode::NOT_FOUND })).await;
    let target = elsewhere.url();
    let realm = FakeServer::start(Router::new().fallback(move || {
        let location = format!("{target}/token");
        async move { (StatusCode::TEMPORARY_REDIRECT, [("location", location)]) }
    }))
    .await;
    let registry = FakeServer::start(fake::challenging(format!("{}/token", realm.url()))).await;
    let host = registry.host();
    let hosts = [host.clone(), elsewhere.host(), realm.host()];
    let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let refresh = Login::IdentityToken(Secret::new("refresh-1"));
    let err = client(&hosts, vec![(host.clone(), refresh)])
        .summarize(&reference(&host, "team/app:v1"))
        .await
        .expect_err("the token server redirected");
    mquery_tests::assert_error(&err, "UPSTREAM_ERROR", "307");
    assert_eq!(realm.count(), 1);
    assert!(elsewhere.seen().is_empty(), "{:?}", elsewhere.seen());
}

/// A fake Docker Hub (404 to everything) and its token service (a token for anyone); the
/// `docker.io` lookup through a client with a user login for `docker.io`, with the operator's
/// account if `operator`, through a mirror challenging with Docker Hub's realm if `mirror`:
/// the `Authorization` headers the token service saw.
async fn docker_io_token_requests(operator: bool, mirror: bool) -> Vec<Option<String>> {
    let hub = FakeServer::start(Router::new().fallback(|| async { StatusCode::NOT_FOUND })).await;
    let tokens = FakeServer::start(
        Router::new().fallback(|| async { axum::Json(serde_json::json!({"token": "t"})) }),
    )
    .await;
    let realm = format!("{}/token", tokens.url());
    let mirror = match mirror {
        true => Some(FakeServer::start(fake::challenging(realm.clone())).await),
        false => None,
    };
    let mut hosts = vec![hub.host(), tokens.host()];
    hosts.extend(mirror.as_ref().map(FakeServer::host));
    let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let client = mquery_tests::client_with(&hosts, |c| {
        c.docker_hub = registry::config::DockerHub {
            registry: hub.url(),
            realm: realm.clone(),
            service: "registry.docker.io".into(),
        };
        c.logins = Some(Arc::new(Fixed(vec![(
            "docker.io".into(),
            basic("alice", "s3cret"),
        )])));
        if operator {
            c.docker_hub_credentials = registry::config::Credentials::new("operator", "op-token");
        }
        c.docker_hub_mirror = mirror
            .as_ref()
            .map(|m| registry::client::Url::parse(&m.url()).expect("url"));
    });
    let reference = Reference::parse("library/app:v1").expect("valid reference");
    let err = client.summarize(&reference).await.expect_err("refused");
    assert!(!format!("{err:?}").contains("s3cret"), "{err:?}");
    tokens.seen().into_iter().map(|s| s.authorization).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_docker_io_login_goes_to_docker_hub_itself_only() {
    let encode = |pair: &str| {
        Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        ))
    };
    assert_eq!(
        docker_io_token_requests(false, false).await,
        [encode("alice:s3cret")]
    );
    // the operator's account, when set, goes first
    assert_eq!(
        docker_io_token_requests(true, false).await,
        [encode("operator:op-token")]
    );
    // a mirror, even one naming Docker Hub's own realm, never has the login sent for it
    let mirrored = docker_io_token_requests(false, true).await;
    assert!(
        !mirrored.is_empty() && mirrored.iter().all(Option::is_none),
        "{mirrored:?}"
    );
}
