//! The second tier: a key-value store of cache items with an expiry attribute. Two
//! implementations: DynamoDB (production) and in memory (tests, and a stand-in anywhere).

use std::collections::HashMap;
use std::sync::Mutex;

#[cfg(feature = "dynamodb")]
use crate::dynamo::DynamoStore;

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

/// The L2 store. Cheap to clone: clones share the same items or connections.
#[derive(Debug, Clone)]
pub enum Store {
    Memory(std::sync::Arc<MemoryStore>),
    #[cfg(feature = "dynamodb")]
    Dynamo(DynamoStore),
}

impl Store {
    /// The item under `key`, if there is one that has not expired at `now` (epoch seconds).
    pub async fn get(&self, key: &str, now: u64) -> Result<Option<Item>, StoreError> {
        let item = match self {
            Store::Memory(m) => m.get(key),
            #[cfg(feature = "dynamodb")]
            Store::Dynamo(d) => d.get(key).await?,
        };
        Ok(item.filter(|item| item.expires_at > now))
    }

    pub async fn put(&self, item: &Item) -> Result<(), StoreError> {
        match self {
            Store::Memory(m) => {
                m.put(item.clone());
                Ok(())
            }
            #[cfg(feature = "dynamodb")]
            Store::Dynamo(d) => d.put(item).await,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Store::Memory(_) => "memory",
            #[cfg(feature = "dynamodb")]
            Store::Dynamo(_) => "dynamodb",
        }
    }
}

/// An in-memory store, bounded: when full it drops expired items, then the oldest.
#[derive(Debug)]
pub struct MemoryStore {
    items: Mutex<HashMap<String, Item>>,
    capacity: usize,
}

impl MemoryStore {
    pub fn new(capacity: usize) -> MemoryStore {
        MemoryStore {
            items: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Item>> {
        // a map of plain values stays consistent even if a holder panicked
        self.items.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn get(&self, key: &str) -> Option<Item> {
        self.lock().get(key).cloned()
    }

    pub fn put(&self, item: Item) {
        let mut items = self.lock();
        if items.len() >= self.capacity && !items.contains_key(&item.key) {
            let now = item.fetched_at;
            items.retain(|_, i| i.expires_at > now);
            if items.len() >= self.capacity
                && let Some(oldest) = items
                    .values()
                    .min_by_key(|i| i.fetched_at)
                    .map(|i| i.key.clone())
            {
                items.remove(&oldest);
            }
        }
        items.insert(item.key.clone(), item);
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
    async fn expired_items_are_misses() {
        let store = Store::Memory(std::sync::Arc::new(MemoryStore::new(10)));
        store.put(&item("a", 100, 200)).await.expect("put");
        assert!(store.get("a", 199).await.expect("get").is_some());
        assert!(store.get("a", 200).await.expect("get").is_none());
        assert!(store.get("b", 0).await.expect("get").is_none());
    }

    #[test]
    fn memory_store_is_bounded() {
        let store = MemoryStore::new(2);
        store.put(item("a", 1, 1000));
        store.put(item("b", 2, 1000));
        store.put(item("c", 3, 1000));
        assert_eq!(store.len(), 2);
        assert!(store.get("a").is_none(), "the oldest goes first");
        assert!(store.get("c").is_some());
    }
}
