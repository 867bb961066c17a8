//! The second tier: the [`Store`] trait over a key-value store of cache items with an expiry
//! attribute, and the item layout. The implementations are `memory` (in process) and `dynamo`.

/// The item layout's version (DynamoDB's `v` attribute); items of another version are
/// misses. The payload inside has a version of its own ([`crate::payload::PAYLOAD_VERSION`]).
pub const SCHEMA_VERSION: u64 = 1;

/// One cache item as the store holds it. Times are epoch seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The partition key `pk`: the canonical cache key.
    pub key: String,
    /// The value, serialized as JSON (the service's: a [`crate::payload::StoredAnswer`]).
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

/// The L2 store: DynamoDB in production, `MemoryStore` anywhere else. Implementations
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
