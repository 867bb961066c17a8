//! The registry client: one narrow API ([`Client::summarize`], [`Client::head_digest`],
//! [`Client::verify`]) over the OCI distribution HTTP API. This file holds the lookups: it
//! bounds each one (concurrency, per-host bulkhead and circuit breaker ([`breaker`]),
//! deadline, request budget), fetches manifests, configs and nested indexes, and hands parsed
//! manifests to the pure summarizer ([`Summary::from_index`], [`Summary::from_image`]). Its
//! parts: `routing` (which endpoint a reference goes to: Docker Hub, its mirror, the fallback
//! on 429), `request` (one request: the loop with token auth and its retries; the token request
//! itself is [`crate::auth`]'s) and [`quota`] (Docker Hub's pull quota).
//!
//! Request budget (what tests count): a cold lookup of an index on an open registry is one
//! manifest GET (no `/v2/` ping); behind token auth it is challenge + token + GET, and later
//! lookups of the same registry skip the challenge; Docker Hub's challenge is known in
//! advance. A single image adds one config blob GET.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::header::CONTENT_TYPE;

use crate::auth::{AuthCache, DockerHubAccount};
use crate::config::ClientConfig;
use crate::digest::Digest;
use crate::error::Error;
use crate::guard::Guard;
use crate::manifest::{
    Descriptor, MANIFEST_ACCEPT, Manifest, ManifestError, is_image_config, parse_manifest,
    platform_from_config,
};
use crate::reference::Reference;
use crate::summary::{ImageContent, Summary};
use crate::transport::{
    Endpoint, Repository, Transport, grow_budget, header_str, read_body, with_budget,
};
pub use crate::transport::{Url, parse_retry_after};
use crate::verify::{EntryContent, Verification};

pub mod breaker;
mod knowledge;
mod prepare;
pub mod quota;
mod request;
mod routing;

use breaker::{Gate, Shares, Verdict};
pub use quota::LOW_PULLS;
use quota::PullQuota;
use routing::Routes;

/// Requests each distinct nested index adds to the budget (its GET and a retry).
const NESTED_BUDGET: usize = 2;
/// Distinct nested indexes one index may name (real ones name one or two).
const MAX_NESTED_INDEXES: usize = 16;
/// How long a negative answer is remembered: here, a lookup that failed on the content
/// itself (an invalid or hostile manifest, an exhausted budget) is answered from memory
/// instead of being fetched again; the service's freshness policy remembers "not found" at
/// most as long (README "Cache").
pub const FAILURE_MEMORY: Duration = Duration::from_secs(60);

/// A manifest as the registry sent it, its digest verified.
#[derive(Debug)]
struct FetchedManifest {
    digest: Digest,
    content_type: Option<String>,
    body: Vec<u8>,
}

/// The registry client. Cheap to clone: clones share connections, tokens and challenges.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    transport: Transport,
    /// Bounds the lookups (and so the registry fetches) running at once, and what hosts that
    /// have not answered may hold of them.
    shares: Shares,
    /// Per registry host, its circuit breaker and its share of `shares` (a bulkhead against
    /// hanging registries).
    gates: moka::sync::Cache<String, Arc<Gate>>,
    config: ClientConfig,
    auth: AuthCache,
    /// The operator's Docker Hub account, if set, for Docker Hub's token service only.
    account: Option<DockerHubAccount>,
    /// The command line user's logins (never set in the service).
    logins: Option<crate::credentials::Logins>,
    /// Lookups that failed on content, by canonical reference, for [`FAILURE_MEMORY`]: a
    /// hostile index costs the registry (and our pull quota) once a minute, not per request.
    failures: moka::sync::Cache<String, Error>,
    /// What remains of Docker Hub's pull quota.
    quota: PullQuota,
    /// Where references go: Docker Hub, its mirror, the fallback, plain HTTP or HTTPS.
    routes: Routes,
    /// What index entries turned out to be (`verify`), by digest: content never changes.
    entries: moka::sync::Cache<Digest, EntryContent>,
    /// Challenges kept outside the process (the service's cache table), if any.
    book: Option<Arc<dyn crate::challenges::ChallengeBook>>,
    /// Registries asked something within [`knowledge::CONNECTION_WARM`]: their connections
    /// are open.
    recent: moka::sync::Cache<String, ()>,
}

/// How many platform entries `verify` reads: two requests each.
pub const MAX_VERIFIED_ENTRIES: usize = 64;

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
        let transport = Transport::new(&config, Guard::new(&exempt))?;
        let routes = Routes::new(&config);
        let known = routes.known_challenge(&config);
        Ok(Client {
            inner: Arc::new(Inner {
                transport,
                shares: Shares::new(&config),
                // idle hosts' gates go (an open breaker's cool-down is at most 300 s by
                // default); a busy one is kept alive by its holders' Arcs
                gates: moka::sync::Cache::builder()
                    .max_capacity(4096)
                    .time_to_idle(Duration::from_secs(600))
                    .build(),
                auth: AuthCache::new(config.token_cache_capacity, known),
                account: DockerHubAccount::from_config(&config, routes.docker_hub()),
                logins: crate::credentials::Logins::from_config(&config),
                quota: PullQuota::new(routes.docker_hub(), config.docker_hub_mirror.is_some()),
                routes,
                failures: moka::sync::Cache::builder()
                    .max_capacity(4096)
                    .time_to_live(FAILURE_MEMORY)
                    .build(),
                entries: moka::sync::Cache::builder().max_capacity(16_384).build(),
                book: None,
                recent: moka::sync::Cache::builder()
                    .max_capacity(4096)
                    .time_to_live(knowledge::CONNECTION_WARM)
                    .build(),
                config,
            }),
        })
    }

    /// The client of `config` that reads the challenges of registries it has not met from
    /// `book`, and writes those it learns there (the service: its cache table).
    pub fn with_book(
        config: ClientConfig,
        book: Arc<dyn crate::challenges::ChallengeBook>,
    ) -> Result<Client, Error> {
        let mut client = Client::new(config)?;
        Arc::get_mut(&mut client.inner)
            .expect("a client just built is not shared")
            .book = Some(book);
        Ok(client)
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// Whether Docker Hub said, within the last ten minutes, that fewer than [`LOW_PULLS`]
    /// pulls remain: then a changed tag is better answered stale than with one of the last
    /// GETs. Only for `docker.io` references on Docker Hub itself (not a mirror).
    pub fn docker_hub_pulls_low(&self, reference: &Reference) -> bool {
        self.inner.quota.low(reference)
    }

    /// Resolves a reference to its platform summary: the manifest, and for a single image its
    /// config blob, for an index its nested indexes one level deep.
    pub async fn summarize(&self, reference: &Reference) -> Result<Summary, Error> {
        let key = reference.canonical();
        if let Some(error) = self.inner.failures.get(&key) {
            tracing::debug!(reference = %key, error = %error, "failed recently; not asking again");
            return Err(error);
        }
        let result = self
            .with_fallback(
                reference,
                |repo| async move { self.summarize_at(&repo).await },
            )
            .await;
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

    /// The current digest of what a reference names, by one `HEAD` (which Docker Hub does not
    /// count against pull limits). `None` when the registry does not say
    /// (no `Docker-Content-Digest`): then only a `GET` can tell.
    pub async fn head_digest(&self, reference: &Reference) -> Result<Option<Digest>, Error> {
        self.with_fallback(reference, |repo| async move {
            let path = format!("manifests/{}", reference.manifest_reference());
            let response = self
                .request(&repo, Method::HEAD, &path, Some(MANIFEST_ACCEPT))
                .await?;
            Ok(header_str(response.headers(), "docker-content-digest")
                .and_then(|h| h.trim().parse::<Digest>().ok()))
        })
        .await
    }

    /// Checks an index against its entries: reads each platform entry's manifest and image
    /// config (the first [`MAX_VERIFIED_ENTRIES`]; two requests each, added to the lookup's
    /// budget, and cached by digest) and reports configs that disagree with the index,
    /// duplicate platforms and entries that are not images. A single image is its config's
    /// platform already: nothing to read.
    pub async fn verify(
        &self,
        reference: &Reference,
        summary: &Summary,
    ) -> Result<Verification, Error> {
        if !summary.is_list {
            return Ok(crate::verify::verification(summary, &[]));
        }
        if self.docker_hub_pulls_low(reference) {
            // two GETs per entry would spend Docker Hub's last pulls
            return Err(Error::RateLimited {
                registry: self.inner.routes.docker_hub().host.clone(),
                retry_after: None,
            });
        }
        let entries = &summary.platforms[..summary.platforms.len().min(MAX_VERIFIED_ENTRIES)];
        let contents = self
            .with_fallback(reference, |repo| async move {
                grow_budget(2 * entries.len());
                let mut contents = Vec::with_capacity(entries.len());
                for entry in entries {
                    let content = match self.entry_content(&repo, &entry.digest).await {
                        Ok(content) => content,
                        // what the entry points at is broken: a finding, not a failure
                        Err(
                            e @ (Error::MissingContent { .. }
                            | Error::InvalidManifest { .. }
                            | Error::UnsupportedManifest { .. }
                            | Error::TooLarge { .. }
                            | Error::DigestMismatch { .. }),
                        ) => EntryContent::Unreadable(e.to_string()),
                        Err(e) => return Err(e),
                    };
                    contents.push(content);
                }
                Ok(contents)
            })
            .await?;
        Ok(crate::verify::verification(summary, &contents))
    }

    /// What the manifest `digest` of an index entry is: an image and its config's platform, or
    /// not an image.
    async fn entry_content(
        &self,
        repo: &Repository<'_>,
        digest: &Digest,
    ) -> Result<EntryContent, Error> {
        if let Some(content) = self.inner.entries.get(digest) {
            return Ok(content);
        }
        let fetched = self
            .fetch_manifest(repo, digest.as_str(), Some(digest))
            .await
            .map_err(|e| missing_content(e, repo, "platform manifest", digest))?;
        let limit = self.inner.config.max_index_entries;
        let manifest = parse_off_runtime(fetched.content_type, fetched.body, limit)
            .await
            .map_err(|e| manifest_error(repo, e))?;
        let content = match manifest {
            Manifest::Index { .. } => EntryContent::NotAnImage("an index".to_owned()),
            Manifest::Image {
                config,
                artifact_type,
                ..
            } => match self.image_content(repo, config, artifact_type).await? {
                ImageContent::Image(platform) => EntryContent::Image(platform),
                ImageContent::Artifact(kind) => {
                    EntryContent::NotAnImage(format!("an artifact ({kind})"))
                }
            },
        };
        self.inner.entries.insert(digest.clone(), content.clone());
        Ok(content)
    }

    /// Runs one lookup within the host's breaker, its share and the process-wide cap
    /// ([`breaker`]), the lookup deadline (waiting for a turn counts against it) and a fresh
    /// request budget; then tells the breaker whether the host answered.
    async fn bounded<T>(
        &self,
        ep: &Endpoint,
        lookup: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        let inner = &self.inner;
        let gate = inner
            .gates
            .get_with_by_ref(&ep.host, || Arc::new(Gate::new(&ep.host, &inner.config)));
        // a host whose breaker is open fails at once, before queueing for anything
        if let Some(refusal) = gate.refusal(Instant::now()) {
            return Err(refusal.error(&ep.host));
        }
        let mut entry = None;
        let run = async {
            entry = Some(gate.enter(&inner.shares).await?);
            with_budget(lookup).await
        };
        let deadline = inner.config.lookup_timeout;
        let (result, deadline_hit) = match tokio::time::timeout(deadline, run).await {
            Ok(result) => (result, false),
            Err(_) => (
                Err(Error::Timeout {
                    registry: ep.host.clone(),
                }),
                true,
            ),
        };
        if let Some(entry) = entry {
            let now = Instant::now();
            let verdict = match verdict(&result) {
                // the deadline went on waiting for a turn (the lookup ran less than a quarter
                // of it): the host had no fair chance to answer
                Verdict::TimedOut if deadline_hit && entry.running_for(now) < deadline / 4 => {
                    Verdict::Neutral
                }
                verdict => verdict,
            };
            entry.finish(verdict, now);
        }
        result
    }

    async fn summarize_at(&self, repo: &Repository<'_>) -> Result<Summary, Error> {
        let reference = repo.reference;
        let fetched = self
            .fetch_manifest(repo, reference.manifest_reference(), reference.digest())
            .await?;
        let config = &self.inner.config;
        let size = fetched.body.len() as u64;
        let manifest =
            parse_off_runtime(fetched.content_type, fetched.body, config.max_index_entries)
                .await
                .map_err(|e| manifest_error(repo, e))?;
        match manifest {
            Manifest::Index {
                media_type,
                entries,
            } => {
                // each distinct nested index is fetched once, however often it is named
                let distinct = Summary::nested_indexes(&entries);
                if distinct.len() > MAX_NESTED_INDEXES {
                    return Err(manifest_error(
                        repo,
                        ManifestError::TooManyNested {
                            limit: MAX_NESTED_INDEXES,
                        },
                    ));
                }
                grow_budget(NESTED_BUDGET * distinct.len());
                let mut nested = HashMap::with_capacity(distinct.len());
                for entry in distinct {
                    nested.insert(entry.digest.as_str(), self.fetch_nested(repo, entry).await?);
                }
                Summary::from_index(
                    &fetched.digest,
                    media_type.into(),
                    &entries,
                    &nested,
                    config.max_index_entries,
                )
                .map_err(|e| manifest_error(repo, e))
            }
            Manifest::Image {
                media_type,
                config: config_descriptor,
                artifact_type,
            } => {
                let content = self
                    .image_content(repo, config_descriptor, artifact_type)
                    .await?;
                Ok(Summary::from_image(
                    &fetched.digest,
                    media_type.into(),
                    size,
                    content,
                ))
            }
        }
    }

    /// What an image manifest holds: a runnable image (its config's platform, fetched), or an
    /// artifact (its type, from `artifactType` or the config's media type).
    async fn image_content(
        &self,
        repo: &Repository<'_>,
        config: Box<Descriptor>,
        artifact_type: Option<String>,
    ) -> Result<ImageContent, Error> {
        if is_image_config(&config.media_type) {
            Ok(ImageContent::Image(
                self.fetch_config(repo, &config.digest).await?,
            ))
        } else {
            Ok(ImageContent::Artifact(
                artifact_type.unwrap_or(config.media_type),
            ))
        }
    }

    /// The entries of an index inside the index.
    async fn fetch_nested(
        &self,
        repo: &Repository<'_>,
        entry: &Descriptor,
    ) -> Result<Vec<Descriptor>, Error> {
        let digest: Digest = entry.digest.parse().map_err(|e| {
            manifest_error(
                repo,
                ManifestError::InvalidJson(format!("index entry digest {:?}: {e}", entry.digest)),
            )
        })?;
        let child = self
            .fetch_manifest(repo, digest.as_str(), Some(&digest))
            .await
            .map_err(|e| missing_content(e, repo, "nested index", &digest))?;
        let parsed = parse_off_runtime(
            child.content_type,
            child.body,
            self.inner.config.max_index_entries,
        )
        .await
        .map_err(|e| manifest_error(repo, e))?;
        match parsed {
            Manifest::Index { entries, .. } => Ok(entries),
            Manifest::Image { .. } => Err(manifest_error(
                repo,
                ManifestError::UnsupportedMediaType(format!(
                    "entry {digest} is declared an index but is an image manifest"
                )),
            )),
        }
    }

    async fn fetch_config(
        &self,
        repo: &Repository<'_>,
        digest: &str,
    ) -> Result<crate::platform::Platform, Error> {
        let digest: Digest = digest.parse().map_err(|e| {
            manifest_error(
                repo,
                ManifestError::InvalidConfig(format!("config digest: {e}")),
            )
        })?;
        let response = self
            .request(repo, Method::GET, &format!("blobs/{digest}"), None)
            .await
            .map_err(|e| missing_content(e, repo, "config blob", &digest))?;
        let limit = self.inner.config.max_config_bytes;
        let body = read_body(&repo.endpoint, response, limit, "image config").await?;
        digest
            .verify(&body)
            .map_err(|actual| Error::DigestMismatch {
                reference: format!("{} config", repo.reference.canonical()),
                expected: digest.clone(),
                actual,
            })?;
        platform_from_config(&body).map_err(|e| manifest_error(repo, e))
    }

    async fn fetch_manifest(
        &self,
        repo: &Repository<'_>,
        tag_or_digest: &str,
        expected: Option<&Digest>,
    ) -> Result<FetchedManifest, Error> {
        let path = format!("manifests/{tag_or_digest}");
        let response = self
            .request(repo, Method::GET, &path, Some(MANIFEST_ACCEPT))
            .await?;
        let headers = response.headers();
        let content_type = header_str(headers, CONTENT_TYPE.as_str()).map(str::to_owned);
        let header_digest = header_str(headers, "docker-content-digest").map(str::to_owned);
        let limit = self.inner.config.max_manifest_bytes;
        let body = read_body(&repo.endpoint, response, limit, "manifest").await?;
        let digest =
            verify_manifest_digest(repo.reference, expected, header_digest.as_deref(), &body)?;
        Ok(FetchedManifest {
            digest,
            content_type,
            body,
        })
    }
}

/// What a lookup's result says about its host, for the breaker: any HTTP answer, even an
/// error status or a broken manifest, is an answer; a timeout is none; a failed connection or
/// a refusal before anything was sent says nothing.
fn verdict<T>(result: &Result<T, Error>) -> Verdict {
    match result {
        Ok(_) => Verdict::Answered,
        Err(Error::Timeout { .. }) => Verdict::TimedOut,
        Err(
            Error::NotFound { .. }
            | Error::Unauthorized { .. }
            | Error::RateLimited { .. }
            | Error::UnexpectedStatus { .. }
            | Error::TokenServer { .. }
            | Error::MissingContent { .. }
            | Error::BudgetExceeded { .. }
            | Error::InvalidManifest { .. }
            | Error::UnsupportedManifest { .. }
            | Error::TooLarge { .. }
            | Error::DigestMismatch { .. },
        ) => Verdict::Answered,
        Err(
            Error::Transport { .. }
            | Error::CertificateNotTrusted { .. }
            | Error::NotAllowed { .. }
            | Error::Login { .. }
            | Error::ClientSetup { .. }
            | Error::InvalidReference { .. },
        ) => Verdict::Neutral,
    }
}

fn verify_manifest_digest(
    reference: &Reference,
    expected: Option<&Digest>,
    header: Option<&str>,
    body: &[u8],
) -> Result<Digest, Error> {
    let mismatch = |expected: &Digest, actual: Digest| Error::DigestMismatch {
        reference: reference.canonical(),
        expected: expected.clone(),
        actual,
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

fn manifest_error(repo: &Repository<'_>, e: ManifestError) -> Error {
    let registry = repo.host().to_owned();
    match e {
        ManifestError::Schema1 | ManifestError::UnsupportedMediaType(_) => {
            Error::UnsupportedManifest {
                registry,
                source: e,
            }
        }
        e => Error::InvalidManifest {
            registry,
            source: e,
        },
    }
}

/// Content an index or manifest points at is missing: the registry is broken, the image
/// itself was found.
fn missing_content(e: Error, repo: &Repository<'_>, what: &'static str, digest: &Digest) -> Error {
    match e {
        Error::NotFound { .. } => Error::MissingContent {
            registry: repo.host().to_owned(),
            what,
            digest: digest.clone(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_result_says_about_the_host() {
        let registry = || "r.example".to_owned();
        assert_eq!(verdict(&Ok::<(), Error>(())), Verdict::Answered);
        let answered = [
            Error::NotFound {
                reference: "r.example/a:b".into(),
            },
            Error::RateLimited {
                registry: registry(),
                retry_after: None,
            },
            Error::UnexpectedStatus {
                registry: registry(),
                status: 503,
                codes: Vec::new(),
            },
            Error::BudgetExceeded {
                registry: registry(),
                limit: 12,
            },
        ];
        for error in answered {
            assert_eq!(verdict(&Err::<(), _>(error)), Verdict::Answered);
        }
        let timeout = Error::Timeout {
            registry: registry(),
        };
        assert_eq!(verdict(&Err::<(), _>(timeout)), Verdict::TimedOut);
        let refused = Error::Transport {
            registry: registry(),
            detail: "cannot connect".into(),
        };
        assert_eq!(verdict(&Err::<(), _>(refused)), Verdict::Neutral);
        let blocked = Error::NotAllowed {
            host: "10.0.0.1".into(),
            reason: "private".into(),
        };
        assert_eq!(verdict(&Err::<(), _>(blocked)), Verdict::Neutral);
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
}
