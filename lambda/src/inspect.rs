//! Turning a user's `image` parameter into an answer: validation, then the lookup.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use cache::{Cached, Clock, Loaded, StoredAnswer, Tier, Tiered};
use output::{CacheInfo, Report, ReportRef, Source};
use registry::{Client, Digest, ErrorCode, Reference, Summary};

use crate::error::AppError;
use crate::freshness::Lifetimes;

/// The longest `image` parameter accepted: no valid reference is longer.
pub const MAX_IMAGE_PARAM: usize = registry::reference::REFERENCE_LENGTH_MAX;

/// The answer for one reference, shared by every format.
#[derive(Debug, Clone)]
pub struct Answer {
    pub reference: Reference,
    pub summary: Arc<Summary>,
    pub source: Source,
    pub fetched_at: SystemTime,
    /// When this answer stops being fresh.
    pub expires_at: Option<SystemTime>,
    pub stale: bool,
    /// The cache entry behind the answer, which memoizes its rendered forms.
    pub entry: Arc<Cached<Entry>>,
}

impl Answer {
    /// The body rendered in `format` (a tag) for `image` as written, made once per cache
    /// entry, freshness and staleness.
    pub fn rendered(
        &self,
        format: &'static str,
        image: &str,
        platform: Option<&str>,
        make: impl FnOnce() -> bytes::Bytes,
    ) -> bytes::Bytes {
        match &*self.entry.value {
            Entry::Image { rendered, .. } => rendered.get_or_make(
                MemoKey {
                    format,
                    image,
                    platform,
                    fresh_until: self.entry.fresh_until,
                    stale: self.stale,
                },
                make,
            ),
            Entry::Missing => make(),
        }
    }

    /// A digest reference names immutable content.
    pub fn pinned(&self) -> bool {
        self.reference.digest().is_some()
    }

    pub fn cache_info(&self) -> CacheInfo {
        CacheInfo {
            source: self.source,
            fetched_at: self.fetched_at,
            expires_at: self.expires_at,
            stale: self.stale,
        }
    }

    /// The v1 document as JSON, with the image as the user wrote it (serialized from
    /// borrowed parts: the summary is not copied).
    pub fn json(
        &self,
        image: &str,
        check: Option<&registry::PlatformCheck>,
        verification: Option<&registry::Verification>,
    ) -> Vec<u8> {
        let reference = self.reference.canonical();
        let cache = self.cache_info();
        let report = ReportRef {
            image,
            reference: &reference,
            summary: &self.summary,
            cache: &cache,
            platform_check: check,
            verification,
        };
        // serializing plain structs of strings and numbers cannot fail
        serde_json::to_vec(&report).unwrap_or_default()
    }

    /// The v1 document, owned (for the HTML page).
    pub fn report(&self, image: &str) -> Report {
        Report {
            image: image.to_owned(),
            reference: self.reference.canonical(),
            summary: (*self.summary).clone(),
            cache: self.cache_info(),
            platform_check: None,
            verification: None,
        }
    }
}

/// Validates the `image` parameter and parses it, before any network I/O.
pub fn parse_image(image: Option<&str>) -> Result<(String, Reference), AppError> {
    let image = image
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            AppError::invalid_parameter("missing image parameter, e.g. ?image=alpine")
        })?;
    if image.len() > MAX_IMAGE_PARAM {
        return Err(AppError::invalid_parameter(format!(
            "image parameter is longer than {MAX_IMAGE_PARAM} characters"
        )));
    }
    let reference = Reference::parse(image).map_err(|source| {
        let error = registry::Error::InvalidReference {
            input: image.to_owned(),
            source,
        };
        AppError::from(error).about(Some(image), None)
    })?;
    Ok((image.to_owned(), reference))
}

/// What the cache holds for a reference: the summary, or "not found" for a short while.
/// Stored (DynamoDB) as a [`StoredAnswer`], the cache crate's versioned payload.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(from = "StoredAnswer", into = "StoredAnswer")]
pub enum Entry {
    Image {
        summary: Arc<Summary>,
        /// The answer's rendered bodies (the service's, never stored).
        rendered: Memo,
    },
    Missing,
}

impl Entry {
    fn image(summary: Arc<Summary>) -> Entry {
        Entry::Image {
            summary,
            rendered: Memo::default(),
        }
    }
}

impl From<StoredAnswer> for Entry {
    fn from(stored: StoredAnswer) -> Entry {
        match stored {
            StoredAnswer::Image(summary) => Entry::image(summary),
            StoredAnswer::Missing => Entry::Missing,
        }
    }
}

impl From<Entry> for StoredAnswer {
    fn from(entry: Entry) -> StoredAnswer {
        match entry {
            Entry::Image { summary, .. } => StoredAnswer::Image(summary),
            Entry::Missing => StoredAnswer::Missing,
        }
    }
}

/// Rendered bodies of one cached summary, by everything else they depend on (format, the
/// image as written, the entry's freshness and staleness): the hot path serves them with one
/// cache lookup, no serialization and no allocation. A few are kept per entry.
#[derive(Default)]
pub struct Memo(std::sync::Mutex<Vec<(OwnedMemoKey, bytes::Bytes)>>);

/// What a rendered body depends on besides the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoKey<'a> {
    pub format: &'static str,
    pub image: &'a str,
    /// The `platform` parameter as written, if any.
    pub platform: Option<&'a str>,
    pub fresh_until: SystemTime,
    pub stale: bool,
}

#[derive(Debug, PartialEq, Eq)]
struct OwnedMemoKey {
    format: &'static str,
    image: Box<str>,
    platform: Option<Box<str>>,
    fresh_until: SystemTime,
    stale: bool,
}

impl OwnedMemoKey {
    fn is(&self, key: &MemoKey<'_>) -> bool {
        self.format == key.format
            && self.fresh_until == key.fresh_until
            && self.stale == key.stale
            && *self.image == *key.image
            && self.platform.as_deref() == key.platform
    }
}

/// How many rendered bodies an entry keeps.
const MEMO_MAX: usize = 8;

impl Memo {
    /// The body memoized under `key`, made by `make` the first time.
    pub fn get_or_make(
        &self,
        key: MemoKey<'_>,
        make: impl FnOnce() -> bytes::Bytes,
    ) -> bytes::Bytes {
        let mut memo = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, bytes)) = memo.iter().find(|(k, _)| k.is(&key)) {
            return bytes.clone();
        }
        let bytes = make();
        if memo.len() < MEMO_MAX {
            let owned = OwnedMemoKey {
                format: key.format,
                image: key.image.into(),
                platform: key.platform.map(Into::into),
                fresh_until: key.fresh_until,
                stale: key.stale,
            };
            memo.push((owned, bytes.clone()));
        }
        bytes
    }
}

/// A copy of an entry starts with nothing rendered.
impl Clone for Memo {
    fn clone(&self) -> Memo {
        Memo::default()
    }
}

impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let held = self.0.lock().map_or(0, |m| m.len());
        write!(f, "Memo({held} rendered)")
    }
}

/// Looks images up: memory, then the store, then the registry.
#[derive(Debug, Clone)]
pub struct Inspector {
    inner: Arc<InspectorInner>,
}

#[derive(Debug)]
struct InspectorInner {
    client: Client,
    cache: Tiered<Entry>,
    clock: Arc<dyn Clock>,
    lifetimes: Lifetimes,
    /// Answers sent from their prepared response: memory hits the cache did not count.
    prepared_hits: AtomicU64,
}

/// The cache key: the canonical reference; a digest makes the tag irrelevant.
pub fn cache_key(reference: &Reference) -> String {
    match reference.digest() {
        Some(digest) => reference.with_digest(digest.clone()).canonical(),
        None => reference.canonical(),
    }
}

impl Inspector {
    pub fn new(
        client: Client,
        cache: Tiered<Entry>,
        clock: Arc<dyn Clock>,
        lifetimes: Lifetimes,
    ) -> Inspector {
        Inspector {
            inner: Arc::new(InspectorInner {
                client,
                cache,
                clock,
                lifetimes,
                prepared_hits: AtomicU64::new(0),
            }),
        }
    }

    /// `verify=1`: the answer's index checked against its entries' configs (the client caches
    /// what each entry is by digest).
    pub async fn verify(&self, answer: &Answer) -> Result<registry::Verification, registry::Error> {
        self.inner
            .client
            .verify(&answer.reference, &answer.summary)
            .await
    }

    /// The registry client (its settings, for start-up checks and tests).
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// Now, by the cache's clock.
    pub fn now(&self) -> SystemTime {
        self.inner.clock.now()
    }

    /// How long answers are kept (the freshness policy's [`Lifetimes`]): the cache's numbers
    /// and HTTP `Cache-Control`'s are the same.
    pub fn lifetimes(&self) -> Lifetimes {
        self.inner.lifetimes
    }

    /// The cache's counters; memory hits include the answers sent from prepared responses.
    pub fn cache_stats(&self) -> cache::StatsSnapshot {
        let mut stats = self.inner.cache.stats();
        stats.memory_hits += self.inner.prepared_hits.load(Ordering::Relaxed);
        stats
    }

    /// Counts an answer sent from its prepared response (routes/caching.rs) as the memory hit
    /// it is: the cache itself was not asked.
    pub fn count_prepared_hit(&self) {
        self.inner.prepared_hits.fetch_add(1, Ordering::Relaxed);
    }

    pub async fn inspect(&self, image: &str, reference: &Reference) -> Result<Answer, AppError> {
        let fail = |e: registry::Error| AppError::from(e).about(Some(image), Some(reference));
        let key = cache_key(reference);
        // The hot path, a fresh answer in memory, stays a small future; the load (registry
        // client, store) is a large one, boxed so that it is only built, and moved, on a miss.
        let hit = match self.inner.cache.get_fresh(&key).await {
            Ok(hit) => hit,
            Err(previous) => {
                // the digest's entry is written while the tag's is: the answer waits for both
                // writes at once, not one after the other (never for neither: a write left
                // running when Lambda freezes the instance would time out on thaw)
                let digest_write = std::sync::Mutex::new(None);
                let loaded = Box::pin(self.inner.cache.load_missing(&key, previous, |previous| {
                    self.load(reference, previous, &digest_write)
                }))
                .await;
                let pending = digest_write
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .take();
                if let Some(write) = pending {
                    let _ = write.await;
                }
                loaded.map_err(|e| {
                    if e.code() != ErrorCode::NotFound {
                        tracing::warn!(reference = %reference, error = %e, "lookup failed");
                    }
                    fail((*e).clone())
                })?
            }
        };
        let stats = self.cache_stats();
        if hit.tier == Tier::Memory {
            tracing::debug!(key, "cache hit (memory)");
        } else {
            tracing::info!(
                key,
                tier = ?hit.tier,
                stale = hit.entry.stale,
                memory_hits = stats.memory_hits,
                store_hits = stats.store_hits,
                loads = stats.loads,
                store_errors = stats.store_errors,
                stale_served = stats.stale,
                "cache miss in memory"
            );
        }
        let summary = match &*hit.entry.value {
            Entry::Image { summary, .. } => Arc::clone(summary),
            Entry::Missing => {
                return Err(fail(registry::Error::NotFound {
                    reference: reference.canonical(),
                }));
            }
        };
        Ok(Answer {
            reference: reference.clone(),
            summary,
            // a stale answer is the service's own copy, whichever tier held it
            source: match hit.tier {
                _ if hit.entry.stale => Source::Memory,
                Tier::Memory => Source::Memory,
                Tier::Store => Source::Dynamodb,
                Tier::Origin => Source::Registry,
            },
            fetched_at: hit.entry.fetched_at,
            expires_at: Some(hit.entry.fresh_until),
            stale: hit.entry.stale,
            entry: hit.entry,
        })
    }

    /// Loads what the cache does not have fresh. For a tag with a previous answer, one HEAD
    /// tells whether the digest is still the same: if so the summary is reused with no GET.
    async fn load(
        &self,
        reference: &Reference,
        previous: Option<Arc<Cached<Entry>>>,
        digest_write: &DigestWrite,
    ) -> Result<Loaded<Entry>, registry::Error> {
        let inner = &self.inner;
        let life = inner.lifetimes;
        let now = inner.clock.now();
        let fresh = |entry: Entry, fresh_for: Duration, keep_for: Duration| Loaded {
            value: Arc::new(entry),
            fetched_at: now,
            fresh_for,
            keep_for,
            stale: false,
        };
        let missing = || fresh(Entry::Missing, life.missing, life.missing);
        if reference.digest().is_some() {
            return match inner.client.summarize(reference).await {
                Ok(summary) => Ok(fresh(
                    Entry::image(Arc::new(summary)),
                    life.digest,
                    life.digest,
                )),
                Err(registry::Error::NotFound { .. }) => Ok(missing()),
                Err(e) => Err(e),
            };
        }
        let previous_summary = previous.as_ref().and_then(|p| match &*p.value {
            Entry::Image { summary, .. } => Some(Arc::clone(summary)),
            Entry::Missing => None,
        });
        let result = match &previous_summary {
            Some(summary) => match inner.client.head_digest(reference).await {
                Ok(Some(digest)) if digest == summary.digest => {
                    tracing::debug!(reference = %reference, "revalidated: digest unchanged");
                    Ok(Arc::clone(summary))
                }
                Ok(Some(_)) if inner.client.docker_hub_pulls_low(reference) => {
                    // the tag moved, but a GET would spend one of Docker Hub's last pulls:
                    // keep serving the previous answer, marked stale, until the limit recovers
                    tracing::warn!(reference = %reference, "Docker Hub pulls nearly used up; serving the previous answer, marked stale");
                    if let Some(previous) = previous {
                        return Ok(stale(previous, life, now));
                    }
                    inner.client.summarize(reference).await.map(Arc::new)
                }
                Ok(Some(digest)) => self.summary_of(reference, digest).await,
                Ok(None) => inner.client.summarize(reference).await.map(Arc::new),
                Err(e) => Err(e),
            },
            None => inner.client.summarize(reference).await.map(Arc::new),
        };
        match result {
            Ok(summary) => {
                if previous_summary
                    .as_ref()
                    .is_none_or(|p| p.digest != summary.digest)
                {
                    let (inspector, reference) = (self.clone(), reference.clone());
                    let summary = Arc::clone(&summary);
                    let write = tokio::spawn(async move {
                        inspector.remember_digest(&reference, &summary).await;
                    });
                    *digest_write
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(write);
                }
                Ok(fresh(
                    Entry::image(summary),
                    life.tag,
                    life.tag + life.grace,
                ))
            }
            Err(registry::Error::NotFound { .. }) => Ok(missing()),
            Err(e) => match previous.filter(|_| previous_summary.is_some()) {
                Some(previous) => {
                    tracing::warn!(reference = %reference, error = %e, "registry failed; serving the previous answer, marked stale");
                    Ok(stale(previous, life, now))
                }
                None => Err(e),
            },
        }
    }

    /// The summary of `digest` in the reference's repository: cached by digest, else fetched.
    async fn summary_of(
        &self,
        reference: &Reference,
        digest: Digest,
    ) -> Result<Arc<Summary>, registry::Error> {
        let pinned = reference.with_digest(digest);
        let key = pinned.canonical();
        let life = self.inner.lifetimes;
        let hit = self
            .inner
            .cache
            .get_or_load(&key, |_| async {
                let summary = Arc::new(self.inner.client.summarize(&pinned).await?);
                Ok::<_, registry::Error>(Loaded {
                    value: Arc::new(Entry::image(summary)),
                    fetched_at: self.inner.clock.now(),
                    fresh_for: life.digest,
                    keep_for: life.digest,
                    stale: false,
                })
            })
            .await
            .map_err(|e| (*e).clone())?;
        match &*hit.entry.value {
            Entry::Image { summary, .. } => Ok(Arc::clone(summary)),
            Entry::Missing => Err(registry::Error::NotFound { reference: key }),
        }
    }

    /// A tag's summary is also the answer for its digest, which never changes.
    async fn remember_digest(&self, reference: &Reference, summary: &Arc<Summary>) {
        let digest = summary.digest.clone();
        let life = self.inner.lifetimes;
        let key = reference.with_digest(digest).canonical();
        self.inner
            .cache
            .put(
                &key,
                Loaded {
                    value: Arc::new(Entry::image(Arc::clone(summary))),
                    fetched_at: self.inner.clock.now(),
                    fresh_for: life.digest,
                    keep_for: life.digest,
                    stale: false,
                },
            )
            .await;
    }
}

/// The write of a tag's digest entry, running while the tag's own entry is written;
/// [`Inspector::inspect`] waits for it before answering.
type DigestWrite = std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>;

/// The previous answer again, marked stale, asked about again after `stale_retry`.
fn stale(previous: Arc<Cached<Entry>>, life: Lifetimes, now: SystemTime) -> Loaded<Entry> {
    Loaded {
        value: Arc::clone(&previous.value),
        fetched_at: previous.fetched_at,
        fresh_for: life.stale_retry,
        keep_for: previous
            .keep_until
            .duration_since(now)
            .unwrap_or(Duration::ZERO),
        stale: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memo_keeps_rendered_bodies_per_key() {
        let memo = Memo::default();
        let made = std::sync::atomic::AtomicUsize::new(0);
        fn key<'a>(format: &'static str, image: &'a str, stale: bool) -> MemoKey<'a> {
            MemoKey {
                format,
                image,
                platform: None,
                fresh_until: SystemTime::UNIX_EPOCH,
                stale,
            }
        }
        for _ in 0..3 {
            let bytes = memo.get_or_make(key("json", "alpine", false), || {
                made.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                bytes::Bytes::from_static(b"rendered")
            });
            assert_eq!(bytes, "rendered");
        }
        assert_eq!(made.load(std::sync::atomic::Ordering::SeqCst), 1);
        // another image spelling, or the stale copy, is another body
        let other = memo.get_or_make(key("json", "Alpine", false), || "other".into());
        assert_eq!(other, "other");
        let stale = memo.get_or_make(key("json", "alpine", true), || "stale".into());
        assert_eq!(stale, "stale");
        for i in 0..20 {
            let image = format!("k{i}");
            memo.get_or_make(key("svg", &image, false), || {
                bytes::Bytes::from_static(b"x")
            });
        }
        assert!(memo.0.lock().expect("memo").len() <= MEMO_MAX);
        assert_eq!(format!("{:?}", memo.clone()), "Memo(0 rendered)");
    }

    #[test]
    fn image_parameter_validation() {
        let missing = parse_image(None).expect_err("missing");
        assert_eq!(missing.code(), "INVALID_PARAMETER");
        let blank = parse_image(Some("   ")).expect_err("blank");
        assert_eq!(blank.code(), "INVALID_PARAMETER");
        let long = "a".repeat(MAX_IMAGE_PARAM + 1);
        let too_long = parse_image(Some(&long)).expect_err("too long");
        assert_eq!(too_long.code(), "INVALID_PARAMETER");
        assert!(
            too_long.image().is_none(),
            "an oversized input is not echoed back"
        );
        let invalid = parse_image(Some("Alpine")).expect_err("invalid");
        assert_eq!(invalid.code(), "INVALID_REFERENCE");
        assert_eq!(invalid.image(), Some("Alpine"));
        let (image, reference) = parse_image(Some(" alpine ")).expect("valid");
        assert_eq!(image, "alpine");
        assert_eq!(reference.canonical(), "docker.io/library/alpine:latest");
    }
}
