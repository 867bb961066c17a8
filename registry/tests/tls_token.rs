//! The real network's shape on loopback: `docker-registry` serving TLS (HTTP/2 offered by
//! ALPN) with `auth: token` whose realm is a second TLS server, each behind a proxy that
//! counts TCP connections. What is counted: registry connections, token-server connections
//! and token requests, and the protocol of every request in the registry's own access log.

use std::sync::{Arc, Mutex};

use mquery_tests::distribution::Distribution;
use mquery_tests::fixtures::{Format, Pusher, platform};
use mquery_tests::proxy::Proxy;
use mquery_tests::token::TokenServer;
use registry::auth::BearerChallenge;
use registry::challenges::{BookFuture, ChallengeBook};
use registry::{Client, ClientConfig, Reference};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// A TLS registry with a TLS token realm, the registry and the token server each behind a
/// counting proxy (no added latency).
struct Network {
    registry: Distribution,
    token: TokenServer,
    registry_proxy: Proxy,
    token_proxy: Proxy,
    pusher: Pusher,
}

impl Network {
    async fn start() -> Network {
        let token = TokenServer::start_tls().await;
        let token_proxy = Proxy::start(token.port(), std::time::Duration::ZERO).await;
        // the registry names the proxy as its realm: clients reach the token server through it
        // `localhost`, not `127.0.0.1`: a second name, as a token service has its own (a TLS
        // client keeps its sessions and key-exchange hints per server name)
        let token = token.via(format!("localhost:{}", token_proxy.port()));
        let registry = Distribution::start_tls_with_token(&token);
        let registry_proxy = Proxy::start(registry.port(), std::time::Duration::ZERO).await;
        let pusher = Pusher::for_tls_with_token(&registry, &token);
        Network {
            registry,
            token,
            registry_proxy,
            token_proxy,
            pusher,
        }
    }

    /// Pushes a two-platform index as `repo:v1`.
    async fn push(&self, repo: &str) {
        let platforms = vec![
            platform("linux", "amd64", None),
            platform("linux", "arm64", Some("v8")),
        ];
        self.pusher
            .index_of(repo, Some("v1"), Format::Oci, platforms)
            .await;
    }

    /// Settings trusting both test CAs, letting the guard pass both proxies.
    fn config(&self) -> ClientConfig {
        let mut config = mquery_tests::client_config(&[]);
        config.private_registries = vec![
            self.registry_proxy.host(),
            format!("localhost:{}", self.token_proxy.port()),
        ];
        for file in [self.registry.ca_file(), self.token.ca_file()] {
            let certs = CertificateDer::pem_file_iter(file)
                .expect("read a test CA")
                .collect::<Result<Vec<_>, _>>()
                .expect("the test CA is PEM");
            config.extra_roots.extend(certs);
        }
        config
    }

    fn reference(&self, repo: &str) -> Reference {
        Reference::parse(&format!("{}/{repo}:v1", self.registry_proxy.host()))
            .expect("valid reference")
    }

    /// The registry's own challenge, as its 401s name it.
    fn challenge(&self) -> BearerChallenge {
        BearerChallenge {
            realm: self.token.realm(),
            service: Some(self.token.service().to_owned()),
            scope: None,
        }
    }
}

/// Looks `references` up as `mquery check` does: prepared, then all at once.
async fn stack(
    client: &Client,
    references: &[Reference],
) -> Vec<Result<registry::Summary, registry::Error>> {
    client.prepare(references).await;
    let mut tasks = tokio::task::JoinSet::new();
    for (i, reference) in references.iter().cloned().enumerate() {
        let client = client.clone();
        tasks.spawn(async move { (i, client.summarize(&reference).await) });
    }
    let mut results: Vec<_> = (0..references.len()).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        let (i, result) = joined.expect("a lookup task");
        results[i] = Some(result);
    }
    results
        .into_iter()
        .map(|r| r.expect("every lookup answered"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stack_of_fifty_costs_one_connection_and_one_token() {
    let net = Network::start().await;
    let repos: Vec<String> = (0..50).map(|i| format!("acme/svc{i:02}")).collect();
    for repo in &repos {
        net.push(repo).await;
    }
    let (tokens_before, token_conns_before) = (net.token.requests(), net.token.connections());
    let mark = net.registry.mark();
    let client = Client::new(net.config()).expect("client");
    let references: Vec<Reference> = repos.iter().map(|r| net.reference(r)).collect();
    let results = stack(&client, &references).await;
    for (repo, result) in repos.iter().zip(&results) {
        let summary = result.as_ref().unwrap_or_else(|e| panic!("{repo}: {e}"));
        assert_eq!(summary.platforms.len(), 2, "{repo}");
    }
    // one TCP connection to the registry, one to the token server, one token request
    // naming all fifty repositories
    assert_eq!(net.registry_proxy.connections(), 1, "registry connections");
    assert_eq!(net.token_proxy.connections(), 1, "token-server connections");
    assert_eq!(net.token.connections() - token_conns_before, 1);
    assert_eq!(net.token.requests() - tokens_before, 1, "token requests");
    let scopes = net.token.scopes();
    for repo in &repos {
        assert!(
            scopes.contains(&format!("repository:{repo}:pull")),
            "{repo} asked for"
        );
    }
    // HTTP/2, read from the registry's own access log: the probe and fifty manifests
    let served = net.registry.served_since(mark);
    let manifests: Vec<_> = served
        .iter()
        .filter(|s| s.path.contains("/manifests/"))
        .collect();
    assert_eq!(manifests.len(), 50, "{served:?}");
    assert!(manifests.iter().all(|s| s.status == 200), "{served:?}");
    assert!(
        served.iter().all(|s| s.protocol == "HTTP/2.0"),
        "{served:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_repository_the_grant_leaves_out_asks_its_own_token() {
    let net = Network::start().await;
    for repo in ["acme/web", "acme/db", "acme/secret"] {
        net.push(repo).await;
    }
    net.token.deny("acme/secret");
    let client = Client::new(net.config()).expect("client");
    let references: Vec<Reference> = ["acme/web", "acme/db", "acme/secret"]
        .iter()
        .map(|r| net.reference(r))
        .collect();
    let before = net.token.requests();
    let results = stack(&client, &references).await;
    assert!(results[0].is_ok() && results[1].is_ok(), "{results:?}");
    let denied = results[2].as_ref().expect_err("the denied repository");
    assert_eq!(denied.code(), "NOT_FOUND", "{denied}");
    // the combined request, then the left-out repository's own (and its one retry after the
    // registry's 401)
    let scopes = net.token.scopes();
    let own: Vec<_> = scopes
        .iter()
        .filter(|s| *s == "repository:acme/secret:pull")
        .collect();
    assert_eq!(own.len(), 3, "{scopes:?}");
    assert_eq!(net.token.requests() - before, 3);
    assert_eq!(net.registry_proxy.connections(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_known_challenge_asks_the_token_while_the_registry_connection_opens() {
    let net = Network::start().await;
    net.push("library/alpine").await;
    // the registry is "Docker Hub" here: its challenge is known from the settings
    let mut config = net.config();
    config.docker_hub.registry = format!("https://{}", net.registry_proxy.host());
    config.docker_hub.realm = net.token.realm();
    config.docker_hub.service = net.token.service().to_owned();
    let client = Client::new(config).expect("client");
    let mark = net.registry.mark();
    let reference = Reference::parse("alpine:v1").expect("valid reference");
    let summary = client.summarize(&reference).await.expect("lookup");
    assert_eq!(summary.platforms.len(), 2);
    // no 401 on the manifest: the token came first; the registry's connection was opened by
    // the version check sent at the same time as the token request, and reused
    let served = net.registry.served_since(mark);
    let paths: Vec<(&str, u16)> = served.iter().map(|s| (s.path.as_str(), s.status)).collect();
    assert_eq!(
        paths,
        [("/v2/", 401), ("/v2/library/alpine/manifests/v1", 200)],
        "{served:?}"
    );
    assert_eq!(net.registry_proxy.connections(), 1);
    assert_eq!(net.token.requests(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_known_challenge_that_is_wrong_is_corrected_by_the_registry() {
    let net = Network::start().await;
    net.push("library/alpine").await;
    net.push("library/redis").await;
    // the settings' realm answers 404: the registry's 401 names the right one
    let mut config = net.config();
    config.docker_hub.registry = format!("https://{}", net.registry_proxy.host());
    config.docker_hub.realm = format!("https://localhost:{}/wrong", net.token_proxy.port());
    config.docker_hub.service = "wrong-service".to_owned();
    let client = Client::new(config).expect("client");
    for image in ["alpine:v1", "redis:v1"] {
        let reference = Reference::parse(image).expect("valid reference");
        let summary = client.summarize(&reference).await.expect("lookup");
        assert_eq!(summary.platforms.len(), 2, "{image}");
    }
    // the second image used the learned challenge at once: one token request each, both
    // to the right realm
    assert_eq!(net.token.requests(), 2);
}

/// A challenge book in memory, as the service's cache table is one outside the process.
#[derive(Debug, Default)]
struct Book(Mutex<Vec<(String, BearerChallenge)>>);

impl ChallengeBook for Book {
    fn recall<'a>(&'a self, base: &'a str) -> BookFuture<'a, Option<BearerChallenge>> {
        let found = self
            .0
            .lock()
            .expect("book lock")
            .iter()
            .find(|(b, _)| b == base)
            .map(|(_, c)| c.clone());
        Box::pin(async move { found })
    }

    fn record<'a>(&'a self, base: &'a str, challenge: &'a BearerChallenge) -> BookFuture<'a, ()> {
        let mut book = self.0.lock().expect("book lock");
        book.retain(|(b, _)| b != base);
        book.push((base.to_owned(), challenge.clone()));
        Box::pin(async {})
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_instance_knows_what_the_book_recorded() {
    let net = Network::start().await;
    net.push("acme/app").await;
    let book = Arc::new(Book::default());
    let first = Client::with_book(net.config(), book.clone()).expect("client");
    first
        .summarize(&net.reference("acme/app"))
        .await
        .expect("first lookup");
    // written in the background
    for _ in 0..100 {
        if !book.0.lock().expect("book lock").is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let recorded = book.0.lock().expect("book lock").clone();
    let base = format!("https://{}", net.registry_proxy.host());
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0].0, base);
    assert!(recorded[0].1.same_grant(&net.challenge()));
    // a second instance (a new client) on the same book: no 401 to learn the challenge
    let second = Client::with_book(net.config(), book.clone()).expect("client");
    let mark = net.registry.mark();
    second
        .summarize(&net.reference("acme/app"))
        .await
        .expect("second lookup");
    let served = net.registry.served_since(mark);
    assert!(
        served
            .iter()
            .filter(|s| s.path.contains("/manifests/"))
            .all(|s| s.status == 200),
        "{served:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_token_server_delays_a_stack_once_and_fails_no_row() {
    let net = Network::start().await;
    let repos: Vec<String> = (0..20).map(|i| format!("acme/slow{i:02}")).collect();
    for repo in &repos {
        net.push(repo).await;
    }
    // the token server's link: 200 ms each way, its handshake included (a token in about
    // 1.2 s, where a lookup's own token request would have 20 lookups wait for 20 of them)
    net.token_proxy
        .set_delay(std::time::Duration::from_millis(200));
    let before = net.token.requests();
    let client = Client::new(net.config()).expect("client");
    let references: Vec<Reference> = repos.iter().map(|r| net.reference(r)).collect();
    let results = stack(&client, &references).await;
    for (repo, result) in repos.iter().zip(&results) {
        assert!(result.is_ok(), "{repo}: {result:?}");
    }
    // one token request, one connection to the token server: the stack waited once
    assert_eq!(net.token.requests() - before, 1);
    assert_eq!(net.token_proxy.connections(), 1);
}
