//! The registry client: one narrow API (`summarize`, `fetch_manifest`) over the OCI
//! distribution HTTP API, with anonymous token auth, retries and limits hidden inside.
//!
//! Request budget (what tests count): a cold lookup of an index on an open registry is one
//! manifest GET (no `/v2/` ping); behind token auth it is challenge + token + GET, and later
//! lookups of the same registry skip the challenge; Docker Hub's challenge is known in
//! advance. A single image adds one config blob GET.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use reqwest::Url;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{Method, Response, StatusCode};

use crate::auth::{
    BearerChallenge, Challenge, Token, TokenCache, parse_challenge, parse_token_response,
};
use crate::config::ClientConfig;
use crate::digest::Digest;
use crate::error::Error;
use crate::guard::{Guard, Refused, find_refusal};
use crate::manifest::{
    EntryKind, MANIFEST_ACCEPT, Manifest, ManifestError, add_entry, classify_entry,
    is_image_config, parse_manifest, platform_from_config,
};
use crate::reference::{DEFAULT_DOMAIN, Reference};
use crate::summary::{PlatformEntry, Summary};

/// Below this many remaining Docker Hub pulls, tag answers are served stale rather than
/// spending the last pulls on GETs (HEADs are free).
pub const LOW_PULLS: u64 = 10;
/// How long a low `ratelimit-remaining` reading counts, unless a newer one replaces it.
const LOW_PULLS_FOR: Duration = Duration::from_secs(600);
const MAX_TOKEN_BODY: usize = 64 << 10;
const MAX_ERROR_BODY: usize = 16 << 10;
const MAX_REDIRECTS: usize = 3;
/// Requests one lookup may send besides its nested indexes: challenge, token, manifest, config,
/// a token refetch, the 429 wait and the 5xx retry, with room to spare.
const LOOKUP_BUDGET: usize = 12;
/// Requests each distinct nested index adds to the budget (its GET and a retry).
const NESTED_BUDGET: usize = 2;
/// Distinct nested indexes one index may name (real ones name one or two).
const MAX_NESTED_INDEXES: usize = 16;
/// How long a lookup that failed on the content itself (an invalid or hostile manifest, an
/// exhausted budget) is answered from memory instead of being fetched again.
const FAILURE_MEMORY: Duration = Duration::from_secs(60);

tokio::task_local! {
    /// Registry requests the running lookup may still send (set by `Client::bounded`).
    static BUDGET: std::cell::Cell<usize>;
}

/// A manifest as the registry sent it, its digest verified.
#[derive(Debug, Clone)]
struct FetchedManifest {
    digest: Digest,
    content_type: Option<String>,
    body: Vec<u8>,
}

/// Where a registry domain is reached.
#[derive(Debug, Clone)]
struct Endpoint {
    /// `scheme://host[:port][/prefix]`, without a trailing slash.
    base: String,
    /// The host, for messages and logs.
    host: String,
}

/// The registry client. Cheap to clone: clones share connections, tokens and challenges.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    guard: Guard,
    /// Bounds the lookups (and so the registry fetches) running at once.
    lookups: tokio::sync::Semaphore,
    /// Per registry host, its share of `lookups` (a bulkhead against one hanging registry).
    host_slots: moka::sync::Cache<String, Arc<tokio::sync::Semaphore>>,
    config: ClientConfig,
    tokens: TokenCache,
    /// Bearer challenges per registry base URL, so a second repository skips the probe.
    challenges: Mutex<HashMap<String, BearerChallenge>>,
    /// Lookups that failed on content, by canonical reference, for [`FAILURE_MEMORY`]: a
    /// hostile index costs the registry (and our pull quota) once a minute, not per request.
    failures: moka::sync::Cache<String, Error>,
    /// Docker Hub's last `ratelimit-remaining`, and when it was read.
    docker_hub_pulls: Mutex<Option<(u64, Instant)>>,
    /// Docker Hub itself, from the settings, parsed once.
    docker_hub: Endpoint,
    /// Where `docker.io` references go: the mirror if one is set, else Docker Hub.
    docker_io: Endpoint,
    /// Asked for `docker.io` references when Docker Hub answers 429.
    fallback: Option<Endpoint>,
}

/// Docker Hub's `ratelimit-remaining` / `ratelimit-limit` value: `76;w=21600`.
pub fn parse_ratelimit(value: &str) -> Option<(u64, Option<u64>)> {
    let mut parts = value.split(';');
    let count = parts.next()?.trim().parse().ok()?;
    let window = parts
        .filter_map(|p| p.trim().strip_prefix("w="))
        .find_map(|w| w.parse().ok());
    Some((count, window))
}

/// `Retry-After` as seconds or an HTTP date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Client, Error> {
        // the operator's own settings are trusted: listed registries and the mirror
        let mut exempt = config.insecure_registries.clone();
        exempt.extend(config.private_registries.iter().cloned());
        for url in [&config.docker_hub_mirror, &config.docker_hub_fallback]
            .into_iter()
            .flatten()
        {
            if let Some(host) = url.host_str() {
                exempt.push(match url.port() {
                    Some(port) => format!("{host}:{port}"),
                    None => host.to_owned(),
                });
            }
        }
        let guard = Guard::new(&exempt);
        let redirect_guard = guard.clone();
        // redirects (blob CDNs) are followed a few times, each target through the guard
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            // previous() starts with the original URL: N redirects make it N long
            if attempt.previous().len() > MAX_REDIRECTS {
                return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
            }
            if !matches!(attempt.url().scheme(), "http" | "https") {
                return attempt.error("redirect to a scheme other than http(s)");
            }
            if !attempt.url().username().is_empty() || attempt.url().password().is_some() {
                return attempt.error("redirect to a URL with credentials");
            }
            match redirect_guard.check_url(attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(refused) => attempt.error(refused),
            }
        });
        let tls =
            crate::tls::client_config(&config.extra_roots).map_err(|e| Error::ClientSetup {
                detail: e.to_string(),
            })?;
        let http = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .redirect(redirects)
            .dns_resolver(guard.resolver())
            .tls_backend_preconfigured(tls)
            .build()
            .map_err(|e| Error::ClientSetup {
                detail: format!("cannot build the HTTP client: {e}"),
            })?;
        let docker_hub = url_endpoint(&config.docker_hub.registry);
        let docker_io = match &config.docker_hub_mirror {
            Some(mirror) => url_endpoint(mirror.as_str()),
            None => docker_hub.clone(),
        };
        let fallback = config
            .docker_hub_fallback
            .as_ref()
            .map(|url| url_endpoint(url.as_str()));
        let mut challenges = HashMap::new();
        if config.docker_hub_mirror.is_none() {
            challenges.insert(
                docker_hub.base.clone(),
                BearerChallenge {
                    realm: config.docker_hub.realm.clone(),
                    service: Some(config.docker_hub.service.clone()),
                    scope: None,
                },
            );
        }
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                guard,
                lookups: tokio::sync::Semaphore::new(config.max_concurrent_lookups.max(1)),
                // idle hosts' semaphores go; a busy one is kept alive by its holders' Arcs
                host_slots: moka::sync::Cache::builder()
                    .max_capacity(4096)
                    .time_to_idle(Duration::from_secs(600))
                    .build(),
                tokens: TokenCache::new(config.token_cache_capacity),
                challenges: Mutex::new(challenges),
                docker_hub_pulls: Mutex::new(None),
                docker_hub,
                docker_io,
                fallback,
                failures: moka::sync::Cache::builder()
                    .max_capacity(4096)
                    .time_to_live(FAILURE_MEMORY)
                    .build(),
                config,
            }),
        })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// Whether Docker Hub said, within the last ten minutes, that fewer than [`LOW_PULLS`]
    /// pulls remain: then a changed tag is better answered stale than with one of the last
    /// GETs. Only for `docker.io` references on Docker Hub itself (not a mirror).
    pub fn docker_hub_pulls_low(&self, reference: &Reference) -> bool {
        if reference.domain() != DEFAULT_DOMAIN || self.inner.config.docker_hub_mirror.is_some() {
            return false;
        }
        lock(&self.inner.docker_hub_pulls)
            .is_some_and(|(remaining, at)| remaining < LOW_PULLS && at.elapsed() < LOW_PULLS_FOR)
    }

    /// Logs a registry's pull limit and, for Docker Hub, keeps what remains.
    fn note_ratelimit(&self, ep: &Endpoint, headers: &HeaderMap) {
        if let Some(remaining) = log_ratelimit(ep, headers)
            && ep.base == self.inner.docker_hub.base
        {
            *lock(&self.inner.docker_hub_pulls) = Some((remaining, Instant::now()));
        }
    }

    /// Where `docker.io` references go when Docker Hub answers 429, if anywhere.
    fn fallback_for(&self, reference: &Reference, error: &Error) -> Option<Endpoint> {
        match (error, &self.inner.fallback) {
            (Error::RateLimited { .. }, Some(fallback))
                if reference.domain() == DEFAULT_DOMAIN
                    && self.inner.config.docker_hub_mirror.is_none() =>
            {
                tracing::warn!(fallback = %fallback.base, "Docker Hub rate-limited us; asking the fallback mirror");
                Some(fallback.clone())
            }
            _ => None,
        }
    }

    fn endpoint(&self, domain: &str) -> Endpoint {
        let config = &self.inner.config;
        if domain == DEFAULT_DOMAIN {
            return self.inner.docker_io.clone();
        }
        // host names are case-insensitive: the list is lowercased when parsed
        let scheme = if config
            .insecure_registries
            .iter()
            .any(|r| r.eq_ignore_ascii_case(domain))
        {
            "http"
        } else {
            "https"
        };
        Endpoint {
            base: format!("{scheme}://{domain}"),
            host: domain.to_owned(),
        }
    }

    /// Resolves a reference to its platform summary: the manifest, and for a single image its
    /// config blob, for an index its nested indexes one level deep.
    pub async fn summarize(&self, reference: &Reference) -> Result<Summary, Error> {
        let key = reference.canonical();
        if let Some(error) = self.inner.failures.get(&key) {
            tracing::debug!(reference = %key, error = %error, "failed recently; not asking again");
            return Err(error);
        }
        let ep = self.endpoint(reference.domain());
        let mut result = self.bounded(&ep, self.summarize_at(&ep, reference)).await;
        if let Err(error) = &result
            && let Some(fallback) = self.fallback_for(reference, error)
        {
            result = self
                .bounded(&fallback, self.summarize_at(&fallback, reference))
                .await;
        }
        if let Err(error) = &result
            && matches!(
                error,
                Error::InvalidManifest { .. }
                    | Error::TooLarge { .. }
                    | Error::UnsupportedManifest { .. }
                    | Error::BudgetExceeded { .. }
            )
        {
            self.inner.failures.insert(key, error.clone());
        }
        result
    }

    /// Runs one lookup within the concurrency cap and the lookup deadline (waiting for a
    /// turn counts against the deadline).
    async fn bounded<T>(
        &self,
        ep: &Endpoint,
        lookup: impl std::future::Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        let closed = || Error::Upstream {
            registry: ep.host.clone(),
            detail: "the client is shutting down".to_owned(),
            status: None,
        };
        let run = async {
            // the host's share first: lookups of a hanging registry queue here, not in the
            // process-wide pool that other registries need
            let per_host = self.inner.config.max_lookups_per_registry.max(1);
            let host = self.inner.host_slots.get_with(ep.host.clone(), || {
                Arc::new(tokio::sync::Semaphore::new(per_host))
            });
            let _host_permit = host.acquire_owned().await.map_err(|_| closed())?;
            let _permit = self.inner.lookups.acquire().await.map_err(|_| closed())?;
            BUDGET
                .scope(std::cell::Cell::new(LOOKUP_BUDGET), lookup)
                .await
        };
        match tokio::time::timeout(self.inner.config.lookup_timeout, run).await {
            Ok(result) => result,
            Err(_) => Err(Error::Timeout {
                registry: ep.host.clone(),
            }),
        }
    }

    async fn summarize_at(&self, ep: &Endpoint, reference: &Reference) -> Result<Summary, Error> {
        let fetched = self
            .fetch_manifest_at(
                ep,
                reference,
                reference.manifest_reference(),
                reference.digest(),
            )
            .await?;
        self.summarize_manifest_at(ep, reference, fetched).await
    }

    /// The current digest of what a reference names, by one `HEAD` (which Docker Hub does not
    /// count against pull limits). `None` when the registry does not say
    /// (no `Docker-Content-Digest`): then only a `GET` can tell.
    pub async fn head_digest(&self, reference: &Reference) -> Result<Option<Digest>, Error> {
        let ep = self.endpoint(reference.domain());
        let head = |ep: Endpoint| async move {
            let response = self
                .request(
                    &ep,
                    reference,
                    Method::HEAD,
                    &format!("manifests/{}", reference.manifest_reference()),
                    Some(MANIFEST_ACCEPT),
                )
                .await?;
            Ok(header_str(response.headers(), "docker-content-digest")
                .and_then(|h| h.trim().parse::<Digest>().ok()))
        };
        match self.bounded(&ep, head(ep.clone())).await {
            Err(error) => match self.fallback_for(reference, &error) {
                Some(fallback) => self.bounded(&fallback, head(fallback.clone())).await,
                None => Err(error),
            },
            ok => ok,
        }
    }

    async fn summarize_manifest_at(
        &self,
        ep: &Endpoint,
        reference: &Reference,
        fetched: FetchedManifest,
    ) -> Result<Summary, Error> {
        let config = &self.inner.config;
        let FetchedManifest {
            digest: fetched_digest,
            content_type,
            body,
        } = fetched;
        let body_len = body.len() as u64;
        let manifest = parse_off_runtime(content_type, body, config.max_index_entries)
            .await
            .map_err(|e| manifest_error(ep, e))?;
        match manifest {
            Manifest::Index {
                media_type,
                entries,
            } => {
                let mut summary = Summary {
                    digest: fetched_digest.to_string(),
                    media_type,
                    is_list: true,
                    platforms: Vec::with_capacity(entries.len()),
                    attestations: 0,
                    unlabeled: 0,
                    artifact_type: None,
                };
                // each distinct nested index is fetched once, however often it is named
                let mut nested: HashMap<&str, Arc<Vec<crate::manifest::Descriptor>>> =
                    HashMap::new();
                let distinct = entries
                    .iter()
                    .filter(|e| classify_entry(e) == EntryKind::NestedIndex)
                    .map(|e| e.digest.as_str())
                    .collect::<std::collections::HashSet<_>>()
                    .len();
                if distinct > MAX_NESTED_INDEXES {
                    return Err(manifest_error(
                        ep,
                        ManifestError::TooManyNested {
                            limit: MAX_NESTED_INDEXES,
                        },
                    ));
                }
                let _ = BUDGET.try_with(|left| left.set(left.get() + NESTED_BUDGET * distinct));
                let mut seen = entries.len();
                for entry in &entries {
                    match classify_entry(entry) {
                        EntryKind::NestedIndex => {
                            let children = match nested.get(entry.digest.as_str()) {
                                Some(children) => Arc::clone(children),
                                None => {
                                    let children =
                                        Arc::new(self.fetch_nested(ep, reference, entry).await?);
                                    nested.insert(&entry.digest, Arc::clone(&children));
                                    children
                                }
                            };
                            seen += children.len();
                            if seen > config.max_index_entries {
                                return Err(manifest_error(
                                    ep,
                                    ManifestError::TooManyEntries {
                                        count: seen,
                                        limit: config.max_index_entries,
                                    },
                                ));
                            }
                            for child in children.iter() {
                                match classify_entry(child) {
                                    EntryKind::NestedIndex => {
                                        return Err(manifest_error(
                                            ep,
                                            ManifestError::NestedTooDeep,
                                        ));
                                    }
                                    kind => add_entry(&mut summary, child, kind),
                                }
                            }
                        }
                        kind => add_entry(&mut summary, entry, kind),
                    }
                }
                Ok(summary)
            }
            Manifest::Image {
                media_type,
                config: config_descriptor,
                artifact_type,
            } => {
                let size = body_len;
                let digest = fetched_digest.to_string();
                if !is_image_config(&config_descriptor.media_type) {
                    return Ok(Summary {
                        digest,
                        media_type,
                        is_list: false,
                        platforms: Vec::new(),
                        attestations: 0,
                        unlabeled: 0,
                        artifact_type: Some(artifact_type.unwrap_or(config_descriptor.media_type)),
                    });
                }
                let platform = self
                    .fetch_config(ep, reference, &config_descriptor.digest)
                    .await?;
                Ok(Summary {
                    platforms: vec![PlatformEntry {
                        platform,
                        digest: digest.clone(),
                        media_type: media_type.clone(),
                        size,
                    }],
                    digest,
                    media_type,
                    is_list: false,
                    attestations: 0,
                    unlabeled: 0,
                    artifact_type: None,
                })
            }
        }
    }

    /// The entries of an index inside the index.
    async fn fetch_nested(
        &self,
        ep: &Endpoint,
        reference: &Reference,
        entry: &crate::manifest::Descriptor,
    ) -> Result<Vec<crate::manifest::Descriptor>, Error> {
        let digest: Digest = entry.digest.parse().map_err(|e| {
            manifest_error(
                ep,
                ManifestError::InvalidJson(format!("index entry digest {:?}: {e}", entry.digest)),
            )
        })?;
        let child = self
            .fetch_manifest_at(ep, reference, digest.as_str(), Some(&digest))
            .await
            .map_err(|e| missing_is_upstream(e, ep, "nested index", &digest))?;
        match parse_off_runtime(
            child.content_type,
            child.body,
            self.inner.config.max_index_entries,
        )
        .await
        .map_err(|e| manifest_error(ep, e))?
        {
            Manifest::Index { entries, .. } => Ok(entries),
            Manifest::Image { .. } => Err(manifest_error(
                ep,
                ManifestError::UnsupportedMediaType(format!(
                    "entry {digest} is declared an index but is an image manifest"
                )),
            )),
        }
    }

    async fn fetch_config(
        &self,
        ep: &Endpoint,
        reference: &Reference,
        digest: &str,
    ) -> Result<crate::platform::Platform, Error> {
        let digest: Digest = digest.parse().map_err(|e| {
            manifest_error(
                ep,
                ManifestError::InvalidConfig(format!("config digest: {e}")),
            )
        })?;
        let response = self
            .request(ep, reference, Method::GET, &format!("blobs/{digest}"), None)
            .await
            .map_err(|e| missing_is_upstream(e, ep, "config blob", &digest))?;
        let body = self
            .read_body(
                ep,
                response,
                self.inner.config.max_config_bytes,
                "image config",
            )
            .await?;
        digest
            .verify(&body)
            .map_err(|actual| Error::DigestMismatch {
                reference: format!("{} config", reference.canonical()),
                expected: digest.to_string(),
                actual: actual.to_string(),
            })?;
        platform_from_config(&body).map_err(|e| manifest_error(ep, e))
    }

    async fn fetch_manifest_at(
        &self,
        ep: &Endpoint,
        reference: &Reference,
        tag_or_digest: &str,
        expected: Option<&Digest>,
    ) -> Result<FetchedManifest, Error> {
        let response = self
            .request(
                ep,
                reference,
                Method::GET,
                &format!("manifests/{tag_or_digest}"),
                Some(MANIFEST_ACCEPT),
            )
            .await?;
        let headers = response.headers();
        let content_type = header_str(headers, CONTENT_TYPE.as_str()).map(str::to_owned);
        let header_digest = header_str(headers, "docker-content-digest").map(str::to_owned);
        let body = self
            .read_body(
                ep,
                response,
                self.inner.config.max_manifest_bytes,
                "manifest",
            )
            .await?;
        let digest = verify_manifest_digest(reference, expected, header_digest.as_deref(), &body)?;
        Ok(FetchedManifest {
            digest,
            content_type,
            body,
        })
    }

    /// One registry request with auth, the 429 wait and the one 5xx retry. Returns a 2xx
    /// response or the error it stands for.
    async fn request(
        &self,
        ep: &Endpoint,
        reference: &Reference,
        method: Method,
        path: &str,
        accept: Option<&str>,
    ) -> Result<Response, Error> {
        let repository = reference.repository();
        let url = format!("{}/v2/{repository}/{path}", ep.base);
        let parsed = Url::parse(&url).map_err(|_| Error::Upstream {
            registry: ep.host.clone(),
            detail: "invalid registry URL".to_owned(),
            status: None,
        })?;
        self.inner
            .guard
            .check_url(&parsed)
            .map_err(|refused| not_allowed(&refused))?;
        let mut token = self.inner.tokens.get(&ep.base, repository, Instant::now());
        if token.is_none()
            && let Some(challenge) = self.known_challenge(&ep.base)
        {
            token = Some(self.fetch_token(ep, &challenge, repository).await?);
        }
        let (mut auth_retry, mut rate_retry, mut server_retry) = (true, true, true);
        loop {
            let mut request = self.inner.http.request(method.clone(), &url);
            if let Some(accept) = accept {
                request = request.header(ACCEPT, accept);
            }
            if let Some(token) = &token {
                request = request.bearer_auth(token.secret());
            }
            spend(ep)?;
            let response = request.send().await.map_err(|e| transport_error(ep, e))?;
            let status = response.status();
            if status.is_success() {
                self.note_ratelimit(ep, response.headers());
                return Ok(response);
            }
            match status {
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    let challenge = bearer_challenge(response.headers());
                    let not_found = || Error::NotFound {
                        reference: reference.canonical(),
                    };
                    if !auth_retry {
                        // a token was just fetched and still refused: denied, not public
                        return Err(not_found());
                    }
                    auth_retry = false;
                    let challenge = match challenge {
                        Ok(Some(challenge)) => {
                            self.remember_challenge(&ep.base, &challenge);
                            challenge
                        }
                        // ghcr.io and ECR Public answer 403 without a challenge to an
                        // expired token: fetch a new one from the challenge we know
                        Ok(None) if token.is_some() => match self.known_challenge(&ep.base) {
                            Some(challenge) => challenge,
                            None => return Err(not_found()),
                        },
                        // Basic auth or no challenge: anonymous access is impossible
                        _ => return Err(not_found()),
                    };
                    self.inner.tokens.remove(&ep.base, repository);
                    token = Some(self.fetch_token(ep, &challenge, repository).await?);
                }
                StatusCode::TOO_MANY_REQUESTS => {
                    let wait = header_str(response.headers(), RETRY_AFTER.as_str())
                        .and_then(parse_retry_after);
                    match wait {
                        Some(wait) if rate_retry && wait <= self.inner.config.max_retry_wait => {
                            rate_retry = false;
                            tracing::info!(registry = %ep.host, wait_ms = wait.as_millis() as u64, "rate limited; waiting once");
                            tokio::time::sleep(wait).await;
                        }
                        _ => {
                            return Err(Error::RateLimited {
                                registry: ep.host.clone(),
                                retry_after: wait,
                            });
                        }
                    }
                }
                StatusCode::NOT_FOUND => {
                    return Err(Error::NotFound {
                        reference: reference.canonical(),
                    });
                }
                s if s.is_server_error() && server_retry => {
                    server_retry = false;
                    tracing::info!(registry = %ep.host, status = s.as_u16(), "server error; retrying once");
                    tokio::time::sleep(self.inner.config.retry_backoff).await;
                }
                s => {
                    let detail = self.error_detail(ep, response).await;
                    return Err(Error::Upstream {
                        registry: ep.host.clone(),
                        detail: format!("HTTP {}{detail}", s.as_u16()),
                        status: Some(s.as_u16()),
                    });
                }
            }
        }
    }

    fn known_challenge(&self, base: &str) -> Option<BearerChallenge> {
        lock(&self.inner.challenges).get(base).cloned()
    }

    fn remember_challenge(&self, base: &str, challenge: &BearerChallenge) {
        let mut challenges = lock(&self.inner.challenges);
        // bounded like the token cache: registries are few, but hosts come from users
        if challenges.len() >= self.inner.config.token_cache_capacity {
            let docker_hub = &self.inner.docker_hub.base;
            challenges.retain(|k, _| k == docker_hub);
        }
        challenges.insert(base.to_owned(), challenge.clone());
    }

    async fn fetch_token(
        &self,
        ep: &Endpoint,
        challenge: &BearerChallenge,
        repository: &str,
    ) -> Result<Token, Error> {
        let upstream = |detail: String, status: Option<u16>| Error::Upstream {
            registry: ep.host.clone(),
            detail,
            status,
        };
        let mut url = Url::parse(&challenge.realm)
            .map_err(|_| upstream(format!("invalid token realm {:?}", challenge.realm), None))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(upstream(
                format!("invalid token realm {:?}", challenge.realm),
                None,
            ));
        }
        // reqwest would send a realm's userinfo as Basic auth: credentials named by a URL the
        // registry supplied are never sent anywhere
        if !url.username().is_empty() || url.password().is_some() {
            tracing::debug!(registry = %ep.host, "dropping userinfo from the token realm");
            let _ = url.set_username("");
            let _ = url.set_password(None);
        }
        {
            let mut query = url.query_pairs_mut();
            if let Some(service) = &challenge.service {
                query.append_pair("service", service);
            }
            query.append_pair("scope", &format!("repository:{repository}:pull"));
        }
        self.inner
            .guard
            .check_url(&url)
            .map_err(|refused| not_allowed(&refused))?;
        let realm_host = url.host_str().unwrap_or_default().to_owned();
        // the operator's Docker Hub account goes to Docker Hub's token service, for Docker
        // Hub, and nowhere else: not to a mirror, not to a realm another registry names
        let hub = &self.inner.config.docker_hub;
        let credentials = self
            .inner
            .config
            .docker_hub_credentials
            .as_ref()
            .filter(|_| ep.base == self.inner.docker_hub.base && challenge.realm == hub.realm);
        spend(ep)?;
        let mut request = self.inner.http.get(url.clone());
        if let Some(credentials) = credentials {
            request = request.basic_auth(credentials.username(), Some(credentials.token()));
        }
        let mut response = request.send().await.map_err(|e| transport_error(ep, e))?;
        if credentials.is_some()
            && matches!(
                response.status(),
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
            )
        {
            // refused credentials must not take the service down: go on anonymously
            tracing::error!(registry = %ep.host, status = response.status().as_u16(), "Docker Hub refused the configured credentials; continuing anonymously");
            spend(ep)?;
            response = self
                .inner
                .http
                .get(url)
                .send()
                .await
                .map_err(|e| transport_error(ep, e))?;
        }
        let status = response.status();
        match status {
            s if s.is_success() => {
                let body = self
                    .read_body(ep, response, MAX_TOKEN_BODY, "token response")
                    .await
                    .map_err(|e| match e {
                        // an oversized token is the token server's failure, not a manifest's
                        Error::TooLarge { limit, .. } => upstream(
                            format!("token server {realm_host}: response over {limit} bytes"),
                            None,
                        ),
                        other => other,
                    })?;
                let (token, lifetime) = parse_token_response(&body)
                    .map_err(|e| upstream(format!("token server {realm_host}: {e}"), None))?;
                self.inner.tokens.insert(
                    &ep.base,
                    repository,
                    token.clone(),
                    lifetime,
                    Instant::now(),
                );
                Ok(token)
            }
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(Error::NotFound {
                reference: format!("{}/{repository}", ep.host),
            }),
            StatusCode::TOO_MANY_REQUESTS => Err(Error::RateLimited {
                registry: ep.host.clone(),
                retry_after: header_str(response.headers(), RETRY_AFTER.as_str())
                    .and_then(parse_retry_after),
            }),
            s => Err(upstream(
                format!("token server {realm_host} answered HTTP {}", s.as_u16()),
                Some(s.as_u16()),
            )),
        }
    }

    /// Reads a body, refusing more than `limit` bytes (before reading, when the length is
    /// announced).
    async fn read_body(
        &self,
        ep: &Endpoint,
        mut response: Response,
        limit: usize,
        what: &'static str,
    ) -> Result<Vec<u8>, Error> {
        let too_large = || Error::TooLarge {
            registry: ep.host.clone(),
            what,
            limit,
        };
        let announced = response.content_length();
        if announced.is_some_and(|len| len > limit as u64) {
            return Err(too_large());
        }
        let mut body = Vec::with_capacity(announced.map_or(8 << 10, |len| len as usize));
        while let Some(chunk) = response.chunk().await.map_err(|e| transport_error(ep, e))? {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// The registry's own error code, if its body has one (`: MANIFEST_INVALID`).
    async fn error_detail(&self, ep: &Endpoint, response: Response) -> String {
        #[derive(serde::Deserialize)]
        struct Errors {
            errors: Vec<ErrorEntry>,
        }
        #[derive(serde::Deserialize)]
        struct ErrorEntry {
            code: String,
        }
        match self
            .read_body(ep, response, MAX_ERROR_BODY, "error body")
            .await
        {
            Ok(body) => match serde_json::from_slice::<Errors>(&body) {
                Ok(errors) if !errors.errors.is_empty() => {
                    let codes: Vec<String> = errors
                        .errors
                        .into_iter()
                        .take(3)
                        .map(|e| e.code.chars().take(64).collect())
                        .collect();
                    format!(": {}", codes.join(", "))
                }
                _ => String::new(),
            },
            Err(_) => String::new(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // the maps behind these locks stay consistent even if a holder panicked
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The first Bearer challenge; `Err(())` when the registry asks for Basic auth.
fn bearer_challenge(headers: &HeaderMap) -> Result<Option<BearerChallenge>, ()> {
    let mut basic = false;
    for value in headers.get_all(WWW_AUTHENTICATE) {
        match value.to_str().ok().and_then(parse_challenge) {
            Some(Challenge::Bearer(challenge)) => return Ok(Some(challenge)),
            Some(Challenge::Basic) => basic = true,
            _ => {}
        }
    }
    if basic { Err(()) } else { Ok(None) }
}

fn verify_manifest_digest(
    reference: &Reference,
    expected: Option<&Digest>,
    header: Option<&str>,
    body: &[u8],
) -> Result<Digest, Error> {
    let mismatch = |expected: &Digest, actual: Digest| Error::DigestMismatch {
        reference: reference.canonical(),
        expected: expected.to_string(),
        actual: actual.to_string(),
    };
    if let Some(expected) = expected {
        expected
            .verify(body)
            .map_err(|actual| mismatch(expected, actual))?;
    }
    let header = header.and_then(|h| h.trim().parse::<Digest>().ok());
    if let Some(header) = &header {
        header
            .verify(body)
            .map_err(|actual| mismatch(header, actual))?;
    }
    Ok(expected
        .cloned()
        .or(header)
        .unwrap_or_else(|| Digest::sha256(body)))
}

fn manifest_error(ep: &Endpoint, e: ManifestError) -> Error {
    match e {
        ManifestError::Schema1 | ManifestError::UnsupportedMediaType(_) => {
            Error::UnsupportedManifest {
                registry: ep.host.clone(),
                source: e,
            }
        }
        e => Error::InvalidManifest {
            registry: ep.host.clone(),
            source: e,
        },
    }
}

/// Content an index or manifest points at is missing: the registry is broken, the image
/// itself was found.
fn missing_is_upstream(e: Error, ep: &Endpoint, what: &str, digest: &Digest) -> Error {
    match e {
        Error::NotFound { .. } => Error::Upstream {
            registry: ep.host.clone(),
            detail: format!("{what} {digest} is missing"),
            status: Some(404),
        },
        e => e,
    }
}

/// Bodies up to this size are parsed where they arrive; larger ones (up to the 4 MiB cap:
/// tens of milliseconds of JSON) on the blocking pool, so one hostile index cannot stall the
/// other requests a runtime worker is serving.
const INLINE_PARSE_BYTES: usize = 64 << 10;

async fn parse_off_runtime(
    content_type: Option<String>,
    body: Vec<u8>,
    max_entries: usize,
) -> Result<Manifest, ManifestError> {
    if body.len() <= INLINE_PARSE_BYTES {
        return parse_manifest(content_type.as_deref(), &body, max_entries);
    }
    tokio::task::spawn_blocking(move || parse_manifest(content_type.as_deref(), &body, max_entries))
        .await
        .unwrap_or_else(|e| {
            Err(ManifestError::InvalidJson(format!(
                "parser task failed: {e}"
            )))
        })
}

/// Takes one request from the running lookup's budget.
fn spend(ep: &Endpoint) -> Result<(), Error> {
    BUDGET
        .try_with(|left| match left.get() {
            0 => Err(Error::BudgetExceeded {
                registry: ep.host.clone(),
                limit: LOOKUP_BUDGET,
            }),
            n => {
                left.set(n - 1);
                Ok(())
            }
        })
        // outside a lookup (never in this crate): unbounded
        .unwrap_or(Ok(()))
}

/// An endpoint for a base URL of the operator's (Docker Hub, a mirror, a fallback).
fn url_endpoint(base: &str) -> Endpoint {
    let host = Url::parse(base)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    Endpoint {
        base: base.trim_end_matches('/').to_owned(),
        host,
    }
}

fn not_allowed(refused: &Refused) -> Error {
    Error::NotAllowed {
        host: refused.host.clone(),
        reason: format!("it resolves to {}", refused.reason.describe()),
    }
}

fn transport_error(ep: &Endpoint, e: reqwest::Error) -> Error {
    if let Some(refused) = find_refusal(&e) {
        return not_allowed(refused);
    }
    let registry = ep.host.clone();
    if let Some(problem) = crate::tls::certificate_problem(&e) {
        return Error::CertificateNotTrusted { registry, problem };
    }
    if e.is_timeout() {
        return Error::Timeout { registry };
    }
    let detail = if e.is_connect() {
        "cannot connect".to_owned()
    } else if e.is_redirect() {
        "too many redirects".to_owned()
    } else {
        e.without_url().to_string()
    };
    Error::Upstream {
        registry,
        detail,
        status: None,
    }
}

/// Logs `ratelimit-remaining` (a warning when few pulls remain) and returns it.
fn log_ratelimit(ep: &Endpoint, headers: &HeaderMap) -> Option<u64> {
    let (remaining, window) =
        header_str(headers, "ratelimit-remaining").and_then(parse_ratelimit)?;
    let limit = header_str(headers, "ratelimit-limit")
        .and_then(parse_ratelimit)
        .map(|(l, _)| l);
    if remaining < LOW_PULLS {
        tracing::warn!(registry = %ep.host, remaining, limit, window_secs = window, "registry pull limit nearly used up");
    } else {
        tracing::debug!(registry = %ep.host, remaining, limit, window_secs = window, "registry pull limit");
    }
    Some(remaining)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratelimit_header() {
        assert_eq!(parse_ratelimit("76;w=21600"), Some((76, Some(21600))));
        assert_eq!(parse_ratelimit("100"), Some((100, None)));
        assert_eq!(parse_ratelimit("x;w=1"), None);
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("30"), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let later =
            httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(120));
        let wait = parse_retry_after(&later).expect("http date");
        assert!(
            wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
            "{wait:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn endpoints() {
        let client = Client::new(ClientConfig {
            insecure_registries: vec!["localhost:5000".into()],
            ..ClientConfig::default()
        })
        .expect("client");
        assert_eq!(
            client.endpoint("docker.io").base,
            "https://registry-1.docker.io"
        );
        assert_eq!(
            client.endpoint("localhost:5000").base,
            "http://localhost:5000"
        );
        assert_eq!(
            client.endpoint("localhost:5001").base,
            "https://localhost:5001"
        );
        assert_eq!(client.endpoint("ghcr.io").base, "https://ghcr.io");
        assert!(
            client
                .known_challenge("https://registry-1.docker.io")
                .is_some()
        );

        let mirrored = Client::new(ClientConfig {
            docker_hub_mirror: Some(Url::parse("http://127.0.0.1:9/").expect("url")),
            ..ClientConfig::default()
        })
        .expect("client");
        assert_eq!(mirrored.endpoint("docker.io").base, "http://127.0.0.1:9");
        assert!(mirrored.known_challenge("http://127.0.0.1:9").is_none());
    }

    #[test]
    fn digest_verification() {
        let r = Reference::parse("a.io/x").expect("ref");
        let body = b"{}";
        let good = Digest::sha256(body);
        assert_eq!(
            verify_manifest_digest(&r, None, None, body).expect("ok"),
            good
        );
        assert_eq!(
            verify_manifest_digest(&r, Some(&good), Some(good.as_str()), body).expect("ok"),
            good
        );
        let other = Digest::sha256(b"other");
        assert!(matches!(
            verify_manifest_digest(&r, Some(&other), None, body),
            Err(Error::DigestMismatch { .. })
        ));
        assert!(matches!(
            verify_manifest_digest(&r, None, Some(other.as_str()), body),
            Err(Error::DigestMismatch { .. })
        ));
    }

    #[tokio::test]
    async fn the_request_budget_runs_out() {
        let ep = Endpoint {
            base: "https://registry.example".into(),
            host: "registry.example".into(),
        };
        let spent = BUDGET
            .scope(std::cell::Cell::new(2), async {
                (spend(&ep), spend(&ep), spend(&ep))
            })
            .await;
        assert!(spent.0.is_ok() && spent.1.is_ok());
        match spent.2 {
            Err(Error::BudgetExceeded { registry, limit }) => {
                assert_eq!(
                    (registry.as_str(), limit),
                    ("registry.example", LOOKUP_BUDGET)
                );
            }
            other => panic!("{other:?}"),
        }
        // outside a lookup nothing is counted
        assert!(spend(&ep).is_ok());
    }
}
