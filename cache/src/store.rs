//! The second tier: the [`Store`] trait over a key-value store of cache items with an expiry
//! attribute, the item layout, and the in-memory implementation (DynamoDB's is in `dynamo`).

/// The item layout's version; items of another version are misses.
pub const SCHEMA_VERSION: u64 = 1;

/// One cache item as the store holds it. Times are epoch seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The partition key `pk`: the canonical cache key.
    pub key: String,
    /// The value, serialized as JSON.
    pub payload: String,
    /// When the origin was asked.
    pub fetched_at: u64,
    /// Until when the value may be served without asking the origin.
    pub fresh_until: u64,
    /// The table's TTL attribute: after this the item is gone (and a read treats it as a
    /// miss, since DynamoDB deletes expired items hours late).
    pub expires_at: u64,
}

/// Why the store could not answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{operation} timed out after {millis} ms")]
    Timeout {
        operation: &'static str,
        millis: u128,
    },
    #[error("{operation} failed: {source}")]
    Request {
        operation: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("item {key:?} is malformed: {reason}")]
    Malformed { key: String, reason: String },
}

/// A store call's future (boxed: the SDK's futures are large, and the trait is used as
/// `dyn Store`).
pub type StoreFuture<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// The L2 store: DynamoDB in production, [`MemoryStore`] anywhere else. Implementations
/// return what they hold; the cache itself treats expired items as misses.
pub trait Store: std::fmt::Debug + Send + Sync {
    /// The item under `key`, if any.
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Item>>;
    fn put<'a>(&'a self, item: &'a Item) -> StoreFuture<'a, ()>;
    /// For logs: `memory`, `dynamodb`.
    fn name(&self) -> &'static str;

    /// The item under `key` unless it expired by `now` (epoch seconds): DynamoDB deletes
    /// expired items hours late, so an expired item is a miss.
    fn get_live<'a>(&'a self, key: &'a str, now: u64) -> StoreFuture<'a, Option<Item>> {
        Box::pin(async move { Ok(self.get(key).await?.filter(|item| item.expires_at > now)) })
    }
}

/// An in-memory store, bounded: when full the least recently used item goes.
#[derive(Debug)]
pub struct MemoryStore {
    items: moka::sync::Cache<String, Item>,
}

impl MemoryStore {
    pub fn new(capacity: usize) -> MemoryStore {
        MemoryStore {
            items: moka::sync::Cache::builder()
                .max_capacity(capacity.max(1) as u64)
                .eviction_policy(moka::policy::EvictionPolicy::lru())
                .build(),
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.items.run_pending_tasks();
        usize::try_from(self.items.entry_count()).unwrap_or(usize::MAX)
    }
}

impl Store for MemoryStore {
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Item>> {
        let item = self.items.get(key);
        Box::pin(std::future::ready(Ok(item)))
    }

    fn put<'a>(&'a self, item: &'a Item) -> StoreFuture<'a, ()> {
        self.items.insert(item.key.clone(), item.clone());
        Box::pin(std::future::ready(Ok(())))
    }

    fn name(&self) -> &'static str {
        "memory"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(key: &str, fetched_at: u64, expires_at: u64) -> Item {
        Item {
            key: key.into(),
            payload: "{}".into(),
            fetched_at,
            fresh_until: fetched_at + 1,
            expires_at,
        }
    }

    #[tokio::test]
    async fn memory_store_round_trips_and_is_bounded() {
        let store = MemoryStore::new(2);
        store.put(&item("a", 1, 1000)).await.expect("put");
        assert_eq!(store.get("a").await.expect("get"), Some(item("a", 1, 1000)));
        assert!(store.get("b").await.expect("get").is_none());
        store.put(&item("b", 2, 1000)).await.expect("put");
        store.put(&item("c", 3, 1000)).await.expect("put");
        assert_eq!(store.len(), 2);
        assert!(
            store.get("a").await.expect("get").is_none(),
            "the oldest goes first"
        );
        assert!(store.get("c").await.expect("get").is_some());
        assert_eq!(store.name(), "memory");
    }

    #[tokio::test]
    async fn expired_items_are_misses() {
        let store = MemoryStore::new(10);
        store.put(&item("a", 100, 200)).await.expect("put");
        assert!(store.get_live("a", 199).await.expect("get").is_some());
        assert!(store.get_live("a", 200).await.expect("get").is_none());
        assert!(store.get_live("b", 0).await.expect("get").is_none());
    }
}
