//! Docker Hub's pull quota, as its answers report it: the `ratelimit-limit` and
//! `ratelimit-remaining` headers (logged for any registry that sends them), and what remains
//! of Docker Hub's own, so that a changed tag is answered stale rather than with one of the
//! last [`LOW_PULLS`] GETs (HEADs are free).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;

use crate::reference::{DEFAULT_DOMAIN, Reference};
use crate::transport::{Endpoint, header_str};

/// Below this many remaining Docker Hub pulls, tag answers are served stale rather than
/// spending the last pulls on GETs (HEADs are free).
pub const LOW_PULLS: u64 = 10;
/// How long a low `ratelimit-remaining` reading counts, unless a newer one replaces it.
const LOW_PULLS_FOR: Duration = Duration::from_secs(600);

/// What remains of Docker Hub's pull quota, from its latest answer.
#[derive(Debug)]
pub struct PullQuota {
    /// Docker Hub's base URL: only its answers are kept.
    docker_hub: String,
    /// Whether `docker.io` references go to a mirror (whose quota is not Docker Hub's).
    mirrored: bool,
    /// Docker Hub's last `ratelimit-remaining`, and when it was read.
    remaining: Mutex<Option<(u64, Instant)>>,
}

impl PullQuota {
    pub fn new(docker_hub: &Endpoint, mirrored: bool) -> PullQuota {
        PullQuota {
            docker_hub: docker_hub.base.clone(),
            mirrored,
            remaining: Mutex::new(None),
        }
    }

    /// Whether Docker Hub said, within the last ten minutes, that fewer than [`LOW_PULLS`]
    /// pulls remain. Only for `docker.io` references on Docker Hub itself (not a mirror).
    pub fn low(&self, reference: &Reference) -> bool {
        if reference.domain() != DEFAULT_DOMAIN || self.mirrored {
            return false;
        }
        lock(&self.remaining)
            .is_some_and(|(remaining, at)| remaining < LOW_PULLS && at.elapsed() < LOW_PULLS_FOR)
    }

    /// Logs a registry's pull limit and, for Docker Hub, keeps what remains.
    pub fn note(&self, ep: &Endpoint, headers: &HeaderMap) {
        if let Some(remaining) = log_ratelimit(ep, headers)
            && ep.base == self.docker_hub
        {
            *lock(&self.remaining) = Some((remaining, Instant::now()));
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // the value behind this lock stays consistent even if a holder panicked
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Logs `ratelimit-remaining` (a warning when few pulls remain) and returns it.
fn log_ratelimit(ep: &Endpoint, headers: &HeaderMap) -> Option<u64> {
    let (remaining, window) =
        header_str(headers, "ratelimit-remaining").and_then(parse_ratelimit)?;
    let limit = header_str(headers, "ratelimit-limit")
        .and_then(parse_ratelimit)
        .map(|(l, _)| l);
    if remaining < LOW_PULLS {
        tracing::warn!(registry = %ep.host, remaining, limit, window_secs = window, "registry pull limit nearly used up");
    } else {
        tracing::debug!(registry = %ep.host, remaining, limit, window_secs = window, "registry pull limit");
    }
    Some(remaining)
}

/// Docker Hub's `ratelimit-remaining` / `ratelimit-limit` value: `76;w=21600`.
pub fn parse_ratelimit(value: &str) -> Option<(u64, Option<u64>)> {
    let mut parts = value.split(';');
    let count = parts.next()?.trim().parse().ok()?;
    let window = parts
        .filter_map(|p| p.trim().strip_prefix("w="))
        .find_map(|w| w.parse().ok());
    Some((count, window))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratelimit_header() {
        assert_eq!(parse_ratelimit("76;w=21600"), Some((76, Some(21600))));
        assert_eq!(parse_ratelimit("100"), Some((100, None)));
        assert_eq!(parse_ratelimit("x;w=1"), None);
    }
}
