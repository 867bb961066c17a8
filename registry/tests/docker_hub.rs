//! Docker Hub as a public deployment meets it (issue 11, item 7), with a stand-in: the real
//! registry in `auth: token` mode and our token server play registry-1.docker.io and
//! auth.docker.io. The operator's account goes to Docker Hub's token service only; refused
//! credentials fall back to anonymous; a 429 from Docker Hub goes to the fallback mirror.

use axum::Router;
use axum::http::StatusCode;
use mquery_tests::client_config;
use mquery_tests::distribution::Distribution;
use mquery_tests::fake::FakeServer;
use mquery_tests::fixtures::{Pusher, five_platform_index};
use mquery_tests::token::{Accounts, TokenServer};
use registry::config::{Credentials, DockerHub};
use registry::{Client, ClientConfig, Reference};

const USER: &str = "mquery-bot";
const TOKEN: &str = "dckr_pat_not_a_real_token";

fn basic(user: &str, password: &str) -> Option<String> {
    use base64::Engine as _;
    Some(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    ))
}

/// A Docker Hub stand-in with `library/app:v1` (five platforms) pushed to it.
async fn docker_hub() -> (Distribution, TokenServer) {
    let token = TokenServer::start().await;
    let registry = Distribution::start_with_token(&token);
    let pusher = Pusher::new(&registry.base_url(), Some(&token));
    five_platform_index(&pusher, "library/app", "v1").await;
    (registry, token)
}

fn hub_config(registry: &Distribution, token: &TokenServer) -> ClientConfig {
    ClientConfig {
        docker_hub: DockerHub {
            registry: registry.base_url(),
            realm: token.realm(),
            service: token.service().to_owned(),
        },
        docker_hub_credentials: Credentials::new(USER, TOKEN),
        ..client_config(&[&registry.host(), &token.host()])
    }
}

fn app() -> Reference {
    Reference::parse("app:v1").expect("docker.io/library/app:v1")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_account_goes_to_docker_hubs_token_service_and_nowhere_else() {
    let (hub, hub_tokens) = docker_hub().await;
    hub_tokens.set_accounts(Accounts::Only {
        username: USER.into(),
        password: TOKEN.into(),
    });
    // another registry whose challenge names the same token server: it gets no credentials
    let other = Distribution::start_with_token(&hub_tokens);
    hub_tokens.set_accounts(Accounts::Anyone);
    five_platform_index(
        &Pusher::new(&other.base_url(), Some(&hub_tokens)),
        "acme/app",
        "v1",
    )
    .await;
    hub_tokens.set_accounts(Accounts::Only {
        username: USER.into(),
        password: TOKEN.into(),
    });
    let mut config = hub_config(&hub, &hub_tokens);
    config.insecure_registries.push(other.host());
    let client = Client::new(config).expect("client");

    let summary = client.summarize(&app()).await.expect("authenticated pull");
    assert_eq!(summary.platforms.len(), 5);
    assert_eq!(hub_tokens.authorizations(), vec![basic(USER, TOKEN)]);

    hub_tokens.set_accounts(Accounts::Anyone);
    let elsewhere = Reference::parse(&format!("{}/acme/app:v1", other.host())).expect("ref");
    client.summarize(&elsewhere).await.expect("anonymous pull");
    let seen = hub_tokens.authorizations();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1], None, "no credentials for another registry's realm");
    // and the token never prints
    assert!(format!("{client:?}").contains("<redacted>"));
    assert!(!format!("{client:?}").contains(TOKEN));
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_credentials_fall_back_to_anonymous() {
    let (hub, hub_tokens) = docker_hub().await;
    hub_tokens.set_accounts(Accounts::AnonymousOr {
        username: USER.into(),
        password: "the-right-one".into(),
    });
    let client = Client::new(hub_config(&hub, &hub_tokens)).expect("client");
    let summary = client.summarize(&app()).await.expect("anonymous after all");
    assert_eq!(summary.platforms.len(), 5);
    assert_eq!(
        hub_tokens.authorizations(),
        vec![basic(USER, TOKEN), None],
        "credentials once, refused, then anonymous"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_429_from_docker_hub_goes_to_the_fallback_mirror() {
    let limited = FakeServer::start(Router::new().fallback(|| async {
        (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "3600")],
            "toomanyrequests",
        )
    }))
    .await;
    let mirror = Distribution::start_open();
    five_platform_index(&Pusher::new(&mirror.base_url(), None), "library/app", "v1").await;
    let tokens = FakeServer::start(
        Router::new().fallback(|| async { axum::Json(serde_json::json!({"token": "t"})) }),
    )
    .await;
    let base = ClientConfig {
        docker_hub: DockerHub {
            registry: limited.url(),
            realm: format!("{}/token", tokens.url()),
            service: "registry.docker.io".into(),
        },
        ..client_config(&[&limited.host(), &tokens.host()])
    };
    // without a fallback: the rate limit is the answer
    let err = Client::new(base.clone())
        .expect("client")
        .summarize(&app())
        .await
        .expect_err("rate limited");
    assert_eq!(err.code(), "UPSTREAM_RATE_LIMITED");
    let client = Client::new(ClientConfig {
        docker_hub_fallback: Some(mirror.base_url().parse().expect("url")),
        ..base
    })
    .expect("client");
    let mark = mirror.mark();
    let summary = client.summarize(&app()).await.expect("from the fallback");
    assert_eq!(summary.platforms.len(), 5);
    assert!(
        mirror
            .served_since(mark)
            .iter()
            .any(|s| s.path == "/v2/library/app/manifests/v1"),
        "the mirror answered"
    );
}
