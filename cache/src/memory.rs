//! The in-memory second tier: a bounded [`Store`] for local runs and tests (DynamoDB's is in
//! `dynamo`).

use crate::store::{Item, Store, StoreFuture};

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
