//! The two-tier cache of mquery: moka in memory (L1) in front of a [`Store`] (L2: DynamoDB,
//! or in memory), and the layout of the answer the service stores in it. The cache itself
//! knows nothing of HTTP or registries: values are anything serializable, and the caller's
//! loader decides how to fetch, revalidate or serve stale.
//!
//! # Layout
//!
//! - [`tiered`] (feature `tiered`): the cache itself, with per-entry freshness, coalesced
//!   loads (the answering tier travels in the `Hit`), stats.
//! - [`entry`]: a cache entry ([`Cached`]: a value and its times) and [`decode`], which turns
//!   a stored item back into one, whatever the item holds.
//! - [`payload`]: [`StoredAnswer`], the service's cached answer in a versioned layout of its
//!   own, apart from the JSON answer's field names.
//! - [`store`]: the L2 `Store` trait and its item layout.
//! - [`memory`] (feature `tiered`): the in-memory store (moka, LRU).
//! - [`dynamo`] (feature `dynamodb`): the DynamoDB store (`pk` key, `expires_at` TTL
//!   attribute).
//! - [`breaker`]: the circuit breaker that keeps a stalled store from slowing every lookup.
//! - [`clock`]: injectable time.
//!
//! Without its default features (`tiered`, `dynamodb`) the crate is the decode path alone,
//! with no runtime, moka or AWS SDK: what the `store` fuzz target drives.

pub mod breaker;
pub mod clock;
#[cfg(feature = "dynamodb")]
pub mod dynamo;
pub mod entry;
#[cfg(feature = "tiered")]
pub mod memory;
pub mod payload;
pub mod store;
#[cfg(feature = "tiered")]
pub mod tiered;

pub use clock::{Clock, ManualClock, SystemClock};
#[cfg(feature = "dynamodb")]
pub use dynamo::{DynamoStore, sdk_config};
pub use entry::{Cached, DecodeError, decode};
#[cfg(feature = "tiered")]
pub use memory::MemoryStore;
pub use payload::{PAYLOAD_VERSION, StoredAnswer};
pub use store::{Item, Store, StoreError};
#[cfg(feature = "tiered")]
pub use tiered::{Hit, Loaded, StatsSnapshot, Tier, Tiered};
