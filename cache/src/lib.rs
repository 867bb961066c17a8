//! The two-tier cache of mquery: moka in memory (L1) in front of a [`Store`] (L2: DynamoDB,
//! or in memory). It knows nothing of HTTP or registries: values are anything serializable,
//! and the caller's loader decides how to fetch, revalidate or serve stale.
//!
//! # Layout
//!
//! - [`tiered`]: the cache itself, with per-entry freshness, coalesced loads (the answering
//!   tier travels in the `Hit`), stats.
//! - [`store`]: the L2 `Store` trait, its item layout and the in-memory store (moka, LRU).
//! - [`dynamo`]: the DynamoDB store (`pk` key, `expires_at` TTL attribute).
//! - [`breaker`]: the circuit breaker that keeps a stalled store from slowing every lookup.
//! - [`clock`]: injectable time.

pub mod breaker;
pub mod clock;
#[cfg(feature = "dynamodb")]
pub mod dynamo;
pub mod store;
pub mod tiered;

pub use clock::{Clock, ManualClock, SystemClock};
#[cfg(feature = "dynamodb")]
pub use dynamo::{DynamoStore, sdk_config};
pub use store::{Item, MemoryStore, Store, StoreError};
pub use tiered::{Cached, DecodeError, Hit, Loaded, StatsSnapshot, Tier, Tiered};
