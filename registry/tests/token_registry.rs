//! Lookups against the real registry in `auth: token` mode, with our own token server:
//! the anonymous Bearer flow, token and challenge reuse, and denied repositories.

use mquery_tests::fixtures::{Lookups, five_platform_index};
use mquery_tests::token::{TokenServer, TokenStyle};
use registry::{Error, Summary};

async fn setup() -> (Lookups, TokenServer) {
    let token = TokenServer::start().await;
    (Lookups::with_token(&token), token)
}

/// Looks `rest` up: the outcome and the statuses of the registry requests it cost.
async fn lookup(s: &Lookups, rest: &str) -> (Result<Summary, Error>, Vec<u16>) {
    let (result, served) = s.lookup_served(rest).await;
    (result, served.iter().map(|r| r.status).collect())
}

#[tokio::test(flavor = "multi_thread")]
async fn challenge_token_get_then_reuse() {
    let (s, token) = setup().await;
    let (index, _) = five_platform_index(&s.pusher, "team/app", "v1").await;
    five_platform_index(&s.pusher, "team/other", "v1").await;

    // cold: challenge (401) + token + GET
    let (summary, statuses) = lookup(&s, "team/app:v1").await;
    let summary = summary.expect("lookup succeeds");
    assert_eq!(summary.digest, index.digest.as_str());
    assert_eq!(statuses, [401, 200]);
    assert_eq!(token.requests(), 1);
    assert_eq!(token.scopes(), ["repository:team/app:pull"]);

    // the same repository again: the cached token, one GET; another repository on the same
    // registry: the challenge is known, token + GET
    for (rest, tokens) in [("team/app:v1", 1), ("team/other:v1", 2)] {
        let (summary, statuses) = lookup(&s, rest).await;
        summary.expect("lookup succeeds");
        assert_eq!(statuses, [200], "{rest}");
        assert_eq!(token.requests(), tokens, "{rest}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn denied_token_means_not_found() {
    let (s, token) = setup().await;
    five_platform_index(&s.pusher, "secret/app", "v1").await;
    token.deny("secret/app");
    let (err, statuses) = lookup(&s, "secret/app:v1").await;
    let err = err.expect_err("denied");
    assert_eq!(err.code(), "NOT_FOUND");
    assert!(
        err.to_string().starts_with("image not found or not public"),
        "{err}"
    );
    // challenge, token, refused GET: no loop of retries
    assert_eq!(statuses, [401, 401]);
    assert_eq!(token.requests(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn access_token_field_without_expiry() {
    let (s, token) = setup().await;
    token.set_style(TokenStyle::AccessTokenOnly);
    let (index, _) = five_platform_index(&s.pusher, "oauth/app", "v1").await;
    let summary = s
        .lookup("oauth/app:v1")
        .await
        .expect("access_token is accepted");
    assert_eq!(summary.digest, index.digest.as_str());
    // the default 60 s lifetime keeps it cached for the next lookup
    let (summary, statuses) = lookup(&s, "oauth/app:v1").await;
    summary.expect("lookup succeeds");
    assert_eq!(statuses, [200]);
    assert_eq!(token.requests(), 1);
}
