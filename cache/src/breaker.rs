//! A circuit breaker in front of the store. A stalled DynamoDB would otherwise cost every
//! uncached lookup a read and two writes, each waiting out its deadline (+4.5 s). After a
//! timeout, or three errors in a row, the store is left alone for a while; then one call at a
//! time probes it, and a success closes the circuit again.
//!
//! State lives in atomics (no lock on the hot path) and time comes from the cache's clock, so
//! tests move it instead of sleeping.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Errors in a row that open the circuit (a timeout opens it at once).
const ERRORS_TO_OPEN: u32 = 3;
/// How long an open circuit keeps calls away from the store before a probe.
pub const OPEN_FOR: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
pub struct Breaker {
    errors_in_a_row: AtomicU32,
    /// Milliseconds since the epoch until which calls are skipped; 0: closed.
    open_until_ms: AtomicU64,
    /// A probe is running (half-open): other calls keep skipping.
    probing: AtomicBool,
}

/// What the breaker says about one store call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Closed: call the store.
    Call,
    /// Half-open: call it, as the one probe.
    Probe,
    /// Open: skip the store.
    Skip,
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Breaker {
    pub fn admit(&self, now: SystemTime) -> Admit {
        let until = self.open_until_ms.load(Ordering::Acquire);
        if until == 0 {
            Admit::Call
        } else if millis(now) < until || self.probing.swap(true, Ordering::AcqRel) {
            Admit::Skip
        } else {
            Admit::Probe
        }
    }

    /// The store answered (an item, no item, or a malformed item: it is reachable).
    /// Returns true when this closed an open circuit.
    pub fn succeeded(&self) -> bool {
        self.errors_in_a_row.store(0, Ordering::Release);
        self.probing.store(false, Ordering::Release);
        self.open_until_ms.swap(0, Ordering::AcqRel) != 0
    }

    /// The store failed; a timeout counts as many errors. Returns true when this opened the
    /// circuit (or kept it open after a failed probe).
    pub fn failed(&self, now: SystemTime, timed_out: bool) -> bool {
        let errors = self.errors_in_a_row.fetch_add(1, Ordering::AcqRel) + 1;
        let was_probe = self.probing.swap(false, Ordering::AcqRel);
        if timed_out || errors >= ERRORS_TO_OPEN || was_probe {
            let until = millis(now).saturating_add(OPEN_FOR.as_millis() as u64);
            self.open_until_ms.store(until.max(1), Ordering::Release);
            true
        } else {
            false
        }
    }

    pub fn is_open(&self) -> bool {
        self.open_until_ms.load(Ordering::Acquire) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_on_a_timeout_or_three_errors_and_probes_one_at_a_time() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let b = Breaker::default();
        assert_eq!(b.admit(t0), Admit::Call);
        assert!(!b.failed(t0, false));
        assert!(!b.failed(t0, false));
        assert!(b.failed(t0, false), "the third error in a row opens it");
        assert_eq!(b.admit(t0), Admit::Skip);
        assert_eq!(
            b.admit(t0 + OPEN_FOR - Duration::from_millis(1)),
            Admit::Skip
        );
        let later = t0 + OPEN_FOR;
        assert_eq!(b.admit(later), Admit::Probe);
        assert_eq!(b.admit(later), Admit::Skip, "one probe at a time");
        assert!(b.failed(later, false), "a failed probe opens it again");
        assert_eq!(b.admit(later), Admit::Skip);
        let again = later + OPEN_FOR;
        assert_eq!(b.admit(again), Admit::Probe);
        assert!(b.succeeded(), "a good probe closes it");
        assert_eq!(b.admit(again), Admit::Call);

        let fresh = Breaker::default();
        assert!(fresh.failed(t0, true), "a timeout opens it at once");
        assert!(fresh.is_open());
        assert!(!Breaker::default().succeeded());
    }
}
