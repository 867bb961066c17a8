//! Lookups against the real registry in `auth: token` mode, with our own token server:
//! the anonymous Bearer flow, token and challenge reuse, and denied repositories.

use mquery_tests::client_for;
use mquery_tests::distribution::Distribution;
use mquery_tests::fixtures::{Pusher, five_platform_index};
use mquery_tests::token::{TokenServer, TokenStyle};
use registry::Reference;

struct Setup {
    registry: Distribution,
    token: TokenServer,
    pusher: Pusher,
    client: registry::Client,
}

async fn setup() -> Setup {
    let token = TokenServer::start().await;
    let registry = Distribution::start_with_token(&token);
    let pusher = Pusher::new(&registry.base_url(), Some(&token));
    let client = client_for(&[&registry.host(), &token.host()]);
    Setup {
        registry,
        token,
        pusher,
        client,
    }
}

fn reference(s: &Setup, rest: &str) -> Reference {
    Reference::parse(&format!("{}/{rest}", s.registry.host())).expect("valid reference")
}

fn statuses(s: &Setup, mark: usize) -> Vec<u16> {
    s.registry
        .served_since(mark)
        .iter()
        .map(|r| r.status)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn challenge_token_get_then_reuse() {
    let s = setup().await;
    let (index, _) = five_platform_index(&s.pusher, "team/app", "v1").await;
    five_platform_index(&s.pusher, "team/other", "v1").await;

    // cold: challenge (401) + token + GET
    let mark = s.registry.mark();
    let summary = s
        .client
        .summarize(&reference(&s, "team/app:v1"))
        .await
        .expect("lookup succeeds");
    assert_eq!(summary.digest, index.digest.as_str());
    assert_eq!(statuses(&s, mark), [401, 200]);
    assert_eq!(s.token.requests(), 1);
    assert_eq!(s.token.scopes(), ["repository:team/app:pull"]);

    // the same repository again: the cached token, one GET
    let mark = s.registry.mark();
    s.client
        .summarize(&reference(&s, "team/app:v1"))
        .await
        .expect("lookup succeeds");
    assert_eq!(statuses(&s, mark), [200]);
    assert_eq!(s.token.requests(), 1);

    // another repository on the same registry: the challenge is known, token + GET
    let mark = s.registry.mark();
    s.client
        .summarize(&reference(&s, "team/other:v1"))
        .await
        .expect("lookup succeeds");
    assert_eq!(statuses(&s, mark), [200]);
    assert_eq!(s.token.requests(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn denied_token_means_not_found() {
    let s = setup().await;
    five_platform_index(&s.pusher, "secret/app", "v1").await;
    s.token.deny("secret/app");
    let mark = s.registry.mark();
    let err = s
        .client
        .summarize(&reference(&s, "secret/app:v1"))
        .await
        .expect_err("denied");
    assert_eq!(err.code(), "NOT_FOUND");
    assert!(
        err.to_string().starts_with("image not found or not public"),
        "{err}"
    );
    // challenge, token, refused GET: no loop of retries
    assert_eq!(statuses(&s, mark), [401, 401]);
    assert_eq!(s.token.requests(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn access_token_field_without_expiry() {
    let s = setup().await;
    s.token.set_style(TokenStyle::AccessTokenOnly);
    let (index, _) = five_platform_index(&s.pusher, "oauth/app", "v1").await;
    let summary = s
        .client
        .summarize(&reference(&s, "oauth/app:v1"))
        .await
        .expect("access_token is accepted");
    assert_eq!(summary.digest, index.digest.as_str());
    // the default 60 s lifetime keeps it cached for the next lookup
    let mark = s.registry.mark();
    s.client
        .summarize(&reference(&s, "oauth/app:v1"))
        .await
        .expect("lookup succeeds");
    assert_eq!(statuses(&s, mark), [200]);
    assert_eq!(s.token.requests(), 1);
}
