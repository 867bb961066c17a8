//! The tiered cache: moka in memory (L1, bounded by weight, per-entry expiry) in front of an
//! optional [`Store`] (L2). Concurrent misses for one key share one load (`try_get_with`).
//!
//! Every entry has two times: `fresh_until`, before which it is served without asking the
//! origin, and `keep_until`, before which it is kept as the "previous" value handed to the
//! loader — for revalidation (is it still the same?) and for serving stale when the origin
//! fails. Freshness is judged with the injected [`Clock`].

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use std::time::{Duration, Instant, SystemTime};

use moka::Expiry;
use moka::future::Cache;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::breaker::{Admit, Breaker, OPEN_FOR};
use crate::clock::{Clock, epoch_secs};
use crate::entry::{Cached, decode};
use crate::store::{Item, Store, StoreError};

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    Memory,
    Store,
    Origin,
}

/// What a loader returns.
#[derive(Debug)]
pub struct Loaded<V> {
    pub value: Arc<V>,
    pub fetched_at: SystemTime,
    /// How long the value is fresh, from now.
    pub fresh_for: Duration,
    /// How long it is kept for revalidation and stale serving, from now (at least
    /// `fresh_for`).
    pub keep_for: Duration,
    /// A previous value served again because the origin failed: kept in memory for
    /// `fresh_for` so a failing origin is not hammered, and not written to the store.
    pub stale: bool,
}

/// An answer and the tier it came from.
#[derive(Debug)]
pub struct Hit<V> {
    pub entry: Arc<Cached<V>>,
    pub tier: Tier,
}

impl<V> Clone for Hit<V> {
    fn clone(&self) -> Hit<V> {
        Hit {
            entry: Arc::clone(&self.entry),
            tier: self.tier,
        }
    }
}

/// Counters, for logs and tests.
#[derive(Debug, Default)]
pub struct Stats {
    memory_hits: AtomicU64,
    store_hits: AtomicU64,
    loads: AtomicU64,
    store_errors: AtomicU64,
    store_skipped: AtomicU64,
    stale: AtomicU64,
}

/// A snapshot of [`Stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatsSnapshot {
    pub memory_hits: u64,
    pub store_hits: u64,
    pub loads: u64,
    pub store_errors: u64,
    /// Store calls skipped because the circuit breaker was open.
    pub store_skipped: u64,
    pub stale: u64,
}

impl Stats {
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            memory_hits: self.memory_hits.load(Ordering::Relaxed),
            store_hits: self.store_hits.load(Ordering::Relaxed),
            loads: self.loads.load(Ordering::Relaxed),
            store_errors: self.store_errors.load(Ordering::Relaxed),
            store_skipped: self.store_skipped.load(Ordering::Relaxed),
            stale: self.stale.load(Ordering::Relaxed),
        }
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// L1 entries live until their `keep_until`, by the injected clock.
struct KeepUntil {
    clock: Arc<dyn Clock>,
}

impl<V: Send + Sync + 'static> Expiry<String, Arc<Cached<V>>> for KeepUntil {
    fn expire_after_create(
        &self,
        _key: &String,
        value: &Arc<Cached<V>>,
        _at: Instant,
    ) -> Option<Duration> {
        Some(
            value
                .keep_until
                .duration_since(self.clock.now())
                .unwrap_or(Duration::ZERO),
        )
    }

    fn expire_after_update(
        &self,
        key: &String,
        value: &Arc<Cached<V>>,
        at: Instant,
        _current: Option<Duration>,
    ) -> Option<Duration> {
        self.expire_after_create(key, value, at)
    }
}

/// The two-tier cache for values of type `V` (stored in L2 as JSON).
pub struct Tiered<V> {
    l1: Cache<String, Arc<Cached<V>>>,
    /// Loads in flight, with the tier that answered them: concurrent callers join one.
    inflight: Cache<String, Hit<V>>,
    store: Option<Arc<dyn Store>>,
    breaker: Breaker,
    clock: Arc<dyn Clock>,
    stats: Stats,
}

impl<V> std::fmt::Debug for Tiered<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tiered")
            .field("l1_entries", &self.l1.entry_count())
            .field("store", &self.store.as_ref().map(|s| s.name()))
            .field("stats", &self.stats.snapshot())
            .finish()
    }
}

impl<V> Tiered<V>
where
    V: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    /// `l1_max_bytes` bounds memory, estimated from the serialized size of the values.
    pub fn new(
        l1_max_bytes: u64,
        store: Option<Arc<dyn Store>>,
        clock: Arc<dyn Clock>,
    ) -> Tiered<V> {
        let l1 = Cache::builder()
            .max_capacity(l1_max_bytes)
            // the decoded value takes about twice its JSON, plus the entry's own overhead
            .weigher(|key: &String, value: &Arc<Cached<V>>| {
                value
                    .weight()
                    .saturating_mul(2)
                    .saturating_add(key.len() as u32)
                    .saturating_add(256)
            })
            .expire_after(KeepUntil {
                clock: Arc::clone(&clock),
            })
            .build();
        let inflight = Cache::builder().max_capacity(10_000).build();
        Tiered {
            l1,
            inflight,
            store,
            breaker: Breaker::default(),
            clock,
            stats: Stats::default(),
        }
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    pub fn store(&self) -> Option<&dyn Store> {
        self.store.as_deref()
    }

    /// The value of `key` if memory holds it fresh: the hit path alone, without the loader's
    /// machinery. A miss returns what memory holds (lapsed, or nothing) for
    /// [`Tiered::load_missing`].
    pub async fn get_fresh(&self, key: &str) -> Result<Hit<V>, Option<Arc<Cached<V>>>> {
        match self.l1.get(key).await {
            Some(entry) if entry.is_fresh(self.clock.now()) => {
                bump(&self.stats.memory_hits);
                Ok(Hit {
                    entry,
                    tier: Tier::Memory,
                })
            }
            previous => Err(previous),
        }
    }

    /// The fresh value of `key`, or the loader's. Concurrent callers for one key share one
    /// load; they all get its value or its error. `load` receives the previous value, if one
    /// is kept (fresh or not), to revalidate or to serve stale.
    pub async fn get_or_load<E, F, Fut>(&self, key: &str, load: F) -> Result<Hit<V>, Arc<E>>
    where
        F: FnOnce(Option<Arc<Cached<V>>>) -> Fut,
        Fut: Future<Output = Result<Loaded<V>, E>>,
        E: Send + Sync + 'static,
    {
        match self.get_fresh(key).await {
            Ok(hit) => Ok(hit),
            Err(previous) => self.load_missing(key, previous, load).await,
        }
    }

    /// The load after a [`Tiered::get_fresh`] miss, given what memory held then.
    pub async fn load_missing<E, F, Fut>(
        &self,
        key: &str,
        previous: Option<Arc<Cached<V>>>,
        load: F,
    ) -> Result<Hit<V>, Arc<E>>
    where
        F: FnOnce(Option<Arc<Cached<V>>>) -> Fut,
        Fut: Future<Output = Result<Loaded<V>, E>>,
        E: Send + Sync + 'static,
    {
        let result = self
            .inflight
            .try_get_with(key.to_owned(), self.fill(key, previous, load))
            .await;
        // the in-flight map only joins concurrent callers; answers live in L1
        self.inflight.invalidate(key).await;
        result
    }

    /// Stores a value the caller loaded itself (in L1, and in L2 unless it is stale).
    pub async fn put(&self, key: &str, loaded: Loaded<V>) -> Arc<Cached<V>> {
        self.save(key, loaded).await
    }

    async fn save(&self, key: &str, loaded: Loaded<V>) -> Arc<Cached<V>> {
        let now = self.clock.now();
        let payload = serde_json::to_string(&*loaded.value).unwrap_or_default();
        let entry = Arc::new(Cached {
            value: loaded.value,
            fetched_at: loaded.fetched_at,
            fresh_until: now + loaded.fresh_for,
            keep_until: now + loaded.keep_for.max(loaded.fresh_for),
            stale: loaded.stale,
            weight: u32::try_from(payload.len()).unwrap_or(u32::MAX),
        });
        if loaded.stale {
            bump(&self.stats.stale);
        } else if let Some(store) = &self.store {
            let item = Item {
                key: key.to_owned(),
                payload,
                fetched_at: epoch_secs(entry.fetched_at),
                fresh_until: epoch_secs(entry.fresh_until),
                expires_at: epoch_secs(entry.keep_until),
            };
            let _ = self
                .store_call(store.as_ref(), key, "write", store.put(&item))
                .await;
        }
        self.l1.insert(key.to_owned(), Arc::clone(&entry)).await;
        entry
    }

    async fn fill<E, F, Fut>(
        &self,
        key: &str,
        previous: Option<Arc<Cached<V>>>,
        load: F,
    ) -> Result<Hit<V>, E>
    where
        F: FnOnce(Option<Arc<Cached<V>>>) -> Fut,
        Fut: Future<Output = Result<Loaded<V>, E>>,
    {
        let now = self.clock.now();
        let mut previous = previous.filter(|p| p.is_kept(now));
        if let Some(store) = &self.store {
            match self
                .store_call(
                    store.as_ref(),
                    key,
                    "read",
                    store.get_live(key, epoch_secs(now)),
                )
                .await
            {
                None => {}
                Some(Ok(Some(item))) => match decode::<V>(&item) {
                    Ok(entry) if entry.is_fresh(now) => {
                        bump(&self.stats.store_hits);
                        let entry = Arc::new(entry);
                        self.l1.insert(key.to_owned(), Arc::clone(&entry)).await;
                        return Ok(Hit {
                            entry,
                            tier: Tier::Store,
                        });
                    }
                    Ok(entry) => {
                        if previous
                            .as_ref()
                            .is_none_or(|p| p.fetched_at < entry.fetched_at)
                        {
                            previous = Some(Arc::new(entry));
                        }
                    }
                    Err(reason) => {
                        tracing::warn!(key, %reason, "ignoring a malformed cache item");
                    }
                },
                Some(Ok(None)) => {}
                Some(Err(error)) => {
                    tracing::warn!(key, store = store.name(), %error, "cache store read failed; asking the origin");
                }
            }
        }
        bump(&self.stats.loads);
        let loaded = load(previous).await?;
        Ok(Hit {
            entry: self.save(key, loaded).await,
            tier: Tier::Origin,
        })
    }
}

impl<V> Tiered<V> {
    /// One store call through the circuit breaker: `None` when it was skipped. Errors are
    /// counted and logged here; a malformed item means the store itself is fine. Callers box
    /// the call: the SDK's futures are large, and nesting them unboxed overflows the stack of
    /// a debug build.
    async fn store_call<T>(
        &self,
        store: &dyn Store,
        key: &str,
        what: &'static str,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Option<Result<T, StoreError>> {
        let now = self.clock.now();
        if self.breaker.admit(now) == Admit::Skip {
            bump(&self.stats.store_skipped);
            tracing::debug!(key, what, "cache store skipped: circuit open");
            return None;
        }
        let result = call.await;
        match &result {
            Ok(_) | Err(StoreError::Malformed { .. }) => {
                if self.breaker.succeeded() {
                    tracing::info!(
                        store = store.name(),
                        "cache store answers again: circuit closed"
                    );
                }
            }
            Err(error) => {
                bump(&self.stats.store_errors);
                let timed_out = matches!(error, StoreError::Timeout { .. });
                tracing::warn!(key, store = store.name(), what, %error, "cache store call failed");
                if self.breaker.failed(self.clock.now(), timed_out) {
                    tracing::warn!(
                        store = store.name(),
                        skipped = self.stats.store_skipped.load(Ordering::Relaxed),
                        "cache store circuit open: not asking it for {}s",
                        OPEN_FOR.as_secs()
                    );
                }
            }
        }
        Some(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{ManualClock, from_epoch_secs};
    use crate::memory::MemoryStore;
    use std::sync::atomic::AtomicUsize;

    const MINUTE: Duration = Duration::from_secs(60);

    fn loaded(value: &str, clock: &ManualClock) -> Loaded<String> {
        Loaded {
            value: Arc::new(value.to_owned()),
            fetched_at: clock.now(),
            fresh_for: MINUTE,
            keep_for: 10 * MINUTE,
            stale: false,
        }
    }

    fn setup(store: bool) -> (Arc<ManualClock>, Tiered<String>) {
        let clock = Arc::new(ManualClock::new(
            from_epoch_secs(1_800_000_000).expect("in range"),
        ));
        let store = store.then(|| Arc::new(MemoryStore::new(100)) as Arc<dyn Store>);
        let cache = Tiered::new(1 << 20, store, Arc::clone(&clock) as Arc<dyn Clock>);
        (clock, cache)
    }

    /// [`setup`], with `k` loaded from the origin as "v1".
    async fn loaded_v1(store: bool) -> (Arc<ManualClock>, Tiered<String>) {
        let (clock, cache) = setup(store);
        cache
            .get_or_load("k", |_| async { Ok::<_, String>(loaded("v1", &clock)) })
            .await
            .expect("loads");
        (clock, cache)
    }

    /// What a cache at `now` over a store holding `item` answers for `k`, the origin answering
    /// "fresh"; and the store.
    async fn over_a_store_of(item: &Item, now: u64) -> (Arc<MemoryStore>, Hit<String>) {
        let clock = Arc::new(ManualClock::new(from_epoch_secs(now).expect("in range")));
        let memory = Arc::new(MemoryStore::new(10));
        memory.put(item).await.expect("put");
        let cache = Tiered::<String>::new(
            1 << 20,
            Some(Arc::clone(&memory) as Arc<dyn Store>),
            Arc::clone(&clock) as Arc<dyn Clock>,
        );
        let hit = cache
            .get_or_load("k", |_| async { Ok::<_, String>(loaded("fresh", &clock)) })
            .await
            .expect("an answer, from the store or the origin");
        (memory, hit)
    }

    /// Items no process of ours wrote: times `SystemTime` cannot hold (2^64-1 panicked in
    /// `from_epoch_secs` before), times out of order, a payload that does not parse. Each is
    /// a miss, the origin answers, and its answer overwrites the item.
    #[tokio::test]
    async fn corrupt_store_items_are_misses_that_get_overwritten() {
        let now = 1_800_000_000;
        let good = Item {
            key: "k".into(),
            payload: "\"stored\"".into(),
            fetched_at: now,
            fresh_until: now + 60,
            expires_at: now + 600,
        };
        let corrupt = [
            Item {
                fetched_at: u64::MAX,
                ..good.clone()
            },
            Item {
                fresh_until: u64::MAX,
                ..good.clone()
            },
            Item {
                expires_at: u64::MAX,
                fresh_until: u64::MAX,
                fetched_at: u64::MAX,
                ..good.clone()
            },
            Item {
                fresh_until: now + 6_000,
                ..good.clone()
            },
            Item {
                payload: "{not json".into(),
                ..good.clone()
            },
        ];
        for item in corrupt {
            let (memory, hit) = over_a_store_of(&item, now).await;
            assert_eq!(
                (hit.tier, hit.entry.value.as_str()),
                (Tier::Origin, "fresh"),
                "{item:?}"
            );
            let stored = memory.get("k").await.expect("get").expect("written back");
            assert_eq!(stored.payload, "\"fresh\"", "{item:?}");
            assert_eq!(stored.fresh_until, now + 60, "{item:?}");
        }
        // the same item, uncorrupted, is a hit
        let (_, hit) = over_a_store_of(&good, now).await;
        assert_eq!(
            (hit.tier, hit.entry.value.as_str()),
            (Tier::Store, "stored")
        );
    }

    #[tokio::test]
    async fn memory_then_store_then_origin() {
        let (clock, cache) = setup(true);
        let calls = AtomicUsize::new(0);
        let load = |_prev: Option<Arc<Cached<String>>>| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Ok::<_, String>(loaded("v1", &clock)) }
        };
        let hit = cache.get_or_load("k", load).await.expect("loads");
        assert_eq!((hit.tier, hit.entry.value.as_str()), (Tier::Origin, "v1"));
        let hit = cache.get_or_load("k", load).await.expect("cached");
        assert_eq!(hit.tier, Tier::Memory);
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        // a second process: same store, empty memory
        let store = cache.store.clone();
        let other = Tiered::<String>::new(1 << 20, store, Arc::clone(&clock) as Arc<dyn Clock>);
        let hit = other.get_or_load("k", load).await.expect("from store");
        assert_eq!((hit.tier, hit.entry.value.as_str()), (Tier::Store, "v1"));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(other.stats().store_hits, 1);
    }

    #[tokio::test]
    async fn lapsed_entries_are_revalidated_with_the_previous_value() {
        let (clock, cache) = loaded_v1(false).await;
        clock.advance(MINUTE + Duration::from_secs(1));
        let c = Arc::clone(&clock);
        let hit = cache
            .get_or_load("k", |prev| async move {
                let prev = prev.expect("the previous value is handed over");
                assert_eq!(prev.value.as_str(), "v1");
                Ok::<_, String>(loaded("v2", &c))
            })
            .await
            .expect("reloads");
        assert_eq!((hit.tier, hit.entry.value.as_str()), (Tier::Origin, "v2"));
        // past keep_until nothing is handed over
        clock.advance(11 * MINUTE);
        cache
            .get_or_load("k", |prev| async move {
                assert!(prev.is_none());
                Ok::<_, String>(loaded("v3", &clock))
            })
            .await
            .expect("reloads");
    }

    #[tokio::test]
    async fn expired_store_items_are_not_fresh() {
        let (clock, cache) = loaded_v1(true).await;
        clock.advance(MINUTE * 2);
        let other =
            Tiered::<String>::new(1 << 20, cache.store, Arc::clone(&clock) as Arc<dyn Clock>);
        let c = Arc::clone(&clock);
        let hit = other
            .get_or_load("k", |prev| async move {
                // lapsed in the store: handed over as previous, not served as fresh
                assert_eq!(prev.map(|p| p.value.to_string()), Some("v1".into()));
                Ok::<_, String>(loaded("v2", &c))
            })
            .await
            .expect("reloads");
        assert_eq!((hit.tier, hit.entry.value.as_str()), (Tier::Origin, "v2"));
    }

    #[tokio::test]
    async fn stale_answers_are_not_written_back_and_errors_are_shared() {
        let (clock, cache) = setup(true);
        let hit = cache
            .get_or_load("k", |_| async {
                Ok::<_, String>(Loaded {
                    stale: true,
                    ..loaded("old", &clock)
                })
            })
            .await
            .expect("stale answer");
        assert!(hit.entry.stale);
        assert_eq!(cache.stats().stale, 1);
        let stored = cache.store().expect("store").get("k").await.expect("get");
        assert!(stored.is_none(), "a stale answer is not written back");

        let err = cache
            .get_or_load("e", |_| async {
                Err::<Loaded<String>, _>("boom".to_owned())
            })
            .await
            .expect_err("error");
        assert_eq!(err.as_str(), "boom");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_misses_share_one_load() {
        let (clock, cache) = setup(false);
        let cache = Arc::new(cache);
        let calls = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..100 {
            let cache = Arc::clone(&cache);
            let calls = Arc::clone(&calls);
            let clock = Arc::clone(&clock);
            tasks.push(tokio::spawn(async move {
                cache
                    .get_or_load("k", |_| async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok::<_, String>(loaded("v", &clock))
                    })
                    .await
                    .map(|hit| hit.entry.value.to_string())
            }));
        }
        for task in tasks {
            assert_eq!(task.await.expect("join").expect("value"), "v");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
