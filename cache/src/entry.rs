//! A cache entry ([`Cached`]: a value and its times) and how a stored item becomes one
//! ([`decode`]): the tiers' common currency, and the decode path the fuzz target drives
//! (it needs no runtime and no moka).

use std::sync::Arc;
use std::time::SystemTime;

use serde::de::DeserializeOwned;

use crate::clock::from_epoch_secs;
use crate::store::Item;

/// A cached value and its times.
#[derive(Debug)]
pub struct Cached<V> {
    pub value: Arc<V>,
    pub fetched_at: SystemTime,
    pub fresh_until: SystemTime,
    pub keep_until: SystemTime,
    /// Served past its freshness because the origin failed.
    pub stale: bool,
    /// Bytes of the serialized value: the L1 weight.
    pub(crate) weight: u32,
}

impl<V> Cached<V> {
    pub fn is_fresh(&self, now: SystemTime) -> bool {
        now < self.fresh_until
    }

    /// Still kept as the previous value (for revalidation and stale serving).
    pub fn is_kept(&self, now: SystemTime) -> bool {
        now < self.keep_until
    }

    /// Bytes of the serialized value: what the entry weighs in memory, about.
    pub fn weight(&self) -> u32 {
        self.weight
    }
}

/// Why a stored item is not an entry.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("{name} {secs} is out of range")]
    TimeOutOfRange { name: &'static str, secs: u64 },
    #[error("fetched_at <= fresh_until <= expires_at does not hold")]
    TimesOutOfOrder,
    #[error("the payload does not parse: {0}")]
    Payload(#[source] serde_json::Error),
}

/// Turns a stored item back into an entry. Nothing stored is trusted: a payload that does not
/// parse, a time `SystemTime` cannot hold or times out of order make the item a miss (and the
/// answer loaded instead overwrites it), never a panic.
pub fn decode<V: DeserializeOwned>(item: &Item) -> Result<Cached<V>, DecodeError> {
    let time = |name: &'static str, secs: u64| {
        from_epoch_secs(secs).ok_or(DecodeError::TimeOutOfRange { name, secs })
    };
    let fetched_at = time("fetched_at", item.fetched_at)?;
    let fresh_until = time("fresh_until", item.fresh_until)?;
    let keep_until = time("expires_at", item.expires_at)?;
    if !(fetched_at <= fresh_until && fresh_until <= keep_until) {
        return Err(DecodeError::TimesOutOfOrder);
    }
    let value: V = serde_json::from_str(&item.payload).map_err(DecodeError::Payload)?;
    Ok(Cached {
        value: Arc::new(value),
        fetched_at,
        fresh_until,
        keep_until,
        stale: false,
        weight: u32::try_from(item.payload.len()).unwrap_or(u32::MAX),
    })
}
