//! The service's challenge book ([`registry::challenges::ChallengeBook`]): the token
//! challenges registries answered with, kept in the cache table as one item per registry
//! (key `challenge#BASE`, the payload `{"realm":...,"service":...}`, expiring after
//! [`CHALLENGE_KEPT`]), so that a new Lambda instance asks a registry met before for its
//! token at once instead of probing first (docs/registries.md). Reads and writes are best
//! effort: a store failure is a miss, logged.

use std::sync::Arc;

use cache::{Clock, Item, Store};
use registry::auth::BearerChallenge;
use registry::challenges::{BookFuture, ChallengeBook, recordable};
use serde::{Deserialize, Serialize};

use crate::freshness::CHALLENGE_KEPT;

/// The longest a book read is waited for (DynamoDB answers in milliseconds).
const READ_DEADLINE: std::time::Duration = std::time::Duration::from_millis(250);

/// The key prefix of challenge items: `#` and `://` appear in no image's cache key.
const KEY_PREFIX: &str = "challenge#";

/// The challenges of the cache table's store.
#[derive(Debug, Clone)]
pub struct StoreBook {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

#[derive(Serialize, Deserialize)]
struct Recorded {
    realm: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    service: Option<String>,
}

impl StoreBook {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> StoreBook {
        StoreBook { store, clock }
    }

    /// The item key of the registry at `base`.
    pub fn key(base: &str) -> String {
        format!("{KEY_PREFIX}{base}")
    }

    fn now(&self) -> u64 {
        cache::clock::epoch_secs(self.clock.now())
    }
}

impl ChallengeBook for StoreBook {
    fn recall<'a>(&'a self, base: &'a str) -> BookFuture<'a, Option<BearerChallenge>> {
        Box::pin(async move {
            let key = StoreBook::key(base);
            let asked = std::time::Instant::now();
            // a hint, not an answer: a slow table is not waited for (the registry's own 401
            // says the same a round trip later)
            let Ok(item) =
                tokio::time::timeout(READ_DEADLINE, self.store.get_live(&key, self.now())).await
            else {
                tracing::warn!(registry = base, "the challenge book did not answer in time");
                return None;
            };
            tracing::debug!(
                registry = base,
                micros = asked.elapsed().as_micros() as u64,
                found = matches!(item, Ok(Some(_))),
                "challenge book read"
            );
            let item = match item {
                Ok(item) => item?,
                Err(e) => {
                    tracing::warn!(registry = base, error = %e, "cannot read the challenge book");
                    return None;
                }
            };
            let recorded: Recorded = serde_json::from_str(&item.payload).ok()?;
            let challenge = BearerChallenge {
                realm: recorded.realm,
                service: recorded.service,
                scope: None,
            };
            recordable(&challenge).then_some(challenge)
        })
    }

    fn record<'a>(&'a self, base: &'a str, challenge: &'a BearerChallenge) -> BookFuture<'a, ()> {
        Box::pin(async move {
            let payload = Recorded {
                realm: challenge.realm.clone(),
                service: challenge.service.clone(),
            };
            let Ok(payload) = serde_json::to_string(&payload) else {
                return;
            };
            let now = self.now();
            let until = now + CHALLENGE_KEPT.as_secs();
            let item = Item {
                key: StoreBook::key(base),
                payload,
                fetched_at: now,
                fresh_until: until,
                expires_at: until,
            };
            if let Err(e) = self.store.put(&item).await {
                tracing::warn!(registry = base, error = %e, "cannot write the challenge book");
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cache::{ManualClock, MemoryStore};

    #[tokio::test]
    async fn what_is_recorded_is_recalled_until_it_expires() {
        let clock = Arc::new(ManualClock::new(std::time::SystemTime::now()));
        let book = StoreBook::new(Arc::new(MemoryStore::new(64)), clock.clone());
        let base = "https://r.example";
        assert_eq!(book.recall(base).await, None);
        let challenge = BearerChallenge {
            realm: "https://auth.example/token".into(),
            service: Some("r.example".into()),
            scope: Some("repository:a:pull".into()),
        };
        book.record(base, &challenge).await;
        let recalled = book.recall(base).await.expect("recorded");
        assert!(recalled.same_grant(&challenge));
        assert_eq!(recalled.scope, None);
        assert_eq!(book.recall("https://other.example").await, None);
        clock.advance(CHALLENGE_KEPT + std::time::Duration::from_secs(1));
        assert_eq!(book.recall(base).await, None);
    }

    #[tokio::test]
    async fn a_hostile_item_is_a_miss() {
        let store = Arc::new(MemoryStore::new(64));
        let clock = Arc::new(ManualClock::new(std::time::SystemTime::now()));
        let book = StoreBook::new(store.clone(), clock.clone());
        for payload in [
            "not json".to_owned(),
            r#"{"realm":"file:///etc/passwd"}"#.to_owned(),
            format!(r#"{{"realm":"https://a/{}"}}"#, "x".repeat(4096)),
        ] {
            let item = Item {
                key: StoreBook::key("https://r.example"),
                payload,
                fetched_at: 0,
                fresh_until: u64::MAX,
                expires_at: u64::MAX,
            };
            store.put(&item).await.expect("put");
            assert_eq!(book.recall("https://r.example").await, None);
        }
    }
}
