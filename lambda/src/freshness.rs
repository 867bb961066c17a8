//! The freshness policy: every number that says how long an answer is fresh, how long it is
//! kept, and how long a client or a CDN may reuse a response, named once here, and the rule
//! that turns them into `Cache-Control` (docs/http-api.md, "Caching headers"; README.md's
//! cache table). The cache keeps answers by these [`Lifetimes`] and HTTP tells the same
//! numbers downstream, so nobody reuses an answer longer than the service itself would.

use std::time::{Duration, SystemTime};

/// How long a tag's answer is fresh unless `MQUERY_CACHE_TTL` says otherwise; then one HEAD
/// asks whether the tag still names the same digest.
pub const DEFAULT_TAG_FRESH: Duration = Duration::from_secs(300);
/// How long a digest's summary is kept, fresh all along: content under a digest never
/// changes. A digest reference's answers are `max-age` this, and `immutable`.
pub const DIGEST_KEPT: Duration = Duration::from_secs(30 * 86_400);
/// The longest "not found" is remembered (the tag's freshness, when that is shorter): the
/// registry client's memory of failed lookups, one number for every negative answer.
pub const MISSING_AT_MOST: Duration = registry::client::FAILURE_MEMORY;
/// How long past its freshness a tag's answer may still be served, marked stale, while the
/// registry fails; badges tell it downstream as `stale-while-revalidate`.
pub const GRACE: Duration = Duration::from_secs(86_400);
/// While an answer is served stale, the registry is asked again after this long: a stale
/// answer's `max-age` is at most this.
pub const STALE_RETRY: Duration = Duration::from_secs(30);
/// How long a registry's token challenge stays in the cache table's challenge book
/// (`challenge#BASE` items; docs/registries.md): a new instance knows it without a probe.
pub const CHALLENGE_KEPT: Duration = Duration::from_secs(7 * 86_400);
/// The page without an image (only the forms): `max-age` this.
pub const PAGE_MAX_AGE: Duration = Duration::from_secs(3600);
/// How long a browser may reuse the answer to `/v1/check`'s CORS preflight
/// (`Access-Control-Max-Age`).
pub const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(86_400);
/// The `Cache-Control` of what nobody may keep: error answers, `POST` answers, `/healthz`.
pub const NO_STORE: &str = "no-store";
/// The `Cache-Control` of an error badge: a README's image proxy may keep it, but asks again
/// before showing it.
pub const ERROR_BADGE: &str = "no-cache, max-age=0";

/// How long the cache keeps answers: one tag lifetime (`MQUERY_CACHE_TTL`) and the fixed
/// numbers above.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    /// A tag's answer is fresh this long (`MQUERY_CACHE_TTL`); then one HEAD revalidates it.
    pub tag: Duration,
    /// A digest's summary never changes; it is kept this long ([`DIGEST_KEPT`]).
    pub digest: Duration,
    /// "Not found" is remembered this long ([`MISSING_AT_MOST`], or `tag` if shorter).
    pub missing: Duration,
    /// A lapsed answer may be served, marked stale, this long when the registry fails
    /// ([`GRACE`]).
    pub grace: Duration,
    /// While serving stale, the registry is asked again after this long ([`STALE_RETRY`]).
    pub stale_retry: Duration,
}

impl Lifetimes {
    pub fn new(tag: Duration) -> Lifetimes {
        Lifetimes {
            tag,
            digest: DIGEST_KEPT,
            missing: tag.min(MISSING_AT_MOST),
            grace: GRACE,
            stale_retry: STALE_RETRY,
        }
    }
}

/// What an answer's `Cache-Control` depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freshness {
    /// A digest reference's answer, not stale: content that never changes.
    pub immutable: bool,
    /// Served past its freshness because the registry failed.
    pub stale: bool,
    /// When the answer stops being fresh in the service's cache.
    pub expires_at: Option<SystemTime>,
    /// A badge, which may be shown stale while it is revalidated.
    pub badge: bool,
}

impl Freshness {
    /// The `Cache-Control` header at `now`:
    /// - a digest reference names content that never changes: `max-age` is
    ///   [`Lifetimes::digest`], and `immutable`;
    /// - a tag's answer may be reused for the seconds it has left to be fresh here
    ///   (`expires_at` minus now, rounded up), at most [`Lifetimes::tag`];
    /// - a stale answer (the registry failed) the same, at most [`Lifetimes::stale_retry`],
    ///   after which the service asks the registry again;
    /// - badges add `stale-while-revalidate` = [`Lifetimes::grace`], the time the service
    ///   itself may serve a lapsed answer: GitHub's image proxy and shields.io keep showing
    ///   the badge while they revalidate it with the ETag.
    pub fn cache_control(self, life: Lifetimes, now: SystemTime) -> String {
        if self.immutable {
            return format!("public, max-age={}, immutable", life.digest.as_secs());
        }
        let cap = if self.stale {
            life.stale_retry
        } else {
            life.tag
        };
        let left = self
            .expires_at
            .and_then(|t| t.duration_since(now).ok())
            .unwrap_or(Duration::ZERO)
            .min(cap);
        let max_age = left.as_secs() + u64::from(left.subsec_nanos() > 0);
        if self.badge {
            format!(
                "public, max-age={max_age}, stale-while-revalidate={}",
                life.grace.as_secs()
            )
        } else {
            format!("public, max-age={max_age}")
        }
    }
}

/// The `Cache-Control` of the page without an image.
pub fn page_cache_control() -> String {
    format!("public, max-age={}", PAGE_MAX_AGE.as_secs())
}

/// The `Access-Control-Max-Age` of the CORS preflight.
pub fn preflight_max_age() -> String {
    PREFLIGHT_MAX_AGE.as_secs().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn cache_control_follows_the_cache_lifetimes() {
        let life = Lifetimes::new(Duration::from_secs(300));
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let at =
            |millis: i64| Some(UNIX_EPOCH + Duration::from_millis((1_000_000_000 + millis) as u64));
        let freshness = |immutable, stale, expires_at, badge, life, now| {
            let freshness = Freshness {
                immutable,
                stale,
                expires_at,
                badge,
            };
            freshness.cache_control(life, now)
        };
        // (pinned, stale, expires in ms, badge, lifetimes, header)
        let cases = [
            // a digest: the digest lifetime, immutable, badges too
            (
                true,
                false,
                at(5_000),
                false,
                life,
                "public, max-age=2592000, immutable",
            ),
            (
                true,
                false,
                at(5_000),
                true,
                life,
                "public, max-age=2592000, immutable",
            ),
            // a tag: what is left of its freshness, rounded up, at most the tag lifetime
            (
                false,
                false,
                at(300_000),
                false,
                life,
                "public, max-age=300",
            ),
            (
                false,
                false,
                at(120_000),
                false,
                life,
                "public, max-age=120",
            ),
            (
                false,
                false,
                at(299_400),
                false,
                life,
                "public, max-age=300",
            ),
            (
                false,
                false,
                at(100_000_000),
                false,
                life,
                "public, max-age=300",
            ),
            (false, false, at(-1_000), false, life, "public, max-age=0"),
            (false, false, None, false, life, "public, max-age=0"),
            // a stale answer: until the service asks the registry again
            (false, true, at(30_000), false, life, "public, max-age=30"),
            (false, true, at(300_000), false, life, "public, max-age=30"),
            // badges may be shown stale while revalidating, as long as the service would
            (
                false,
                false,
                at(300_000),
                true,
                life,
                "public, max-age=300, stale-while-revalidate=86400",
            ),
            (
                false,
                true,
                at(10_000),
                true,
                life,
                "public, max-age=10, stale-while-revalidate=86400",
            ),
            // MQUERY_CACHE_TTL moves the tag numbers with it
            (
                false,
                false,
                at(300_000),
                false,
                Lifetimes::new(Duration::from_secs(60)),
                "public, max-age=60",
            ),
        ];
        for (pinned, stale, expires, badge, life, want) in cases {
            assert_eq!(
                freshness(pinned, stale, expires, badge, life, now),
                want,
                "{pinned} {stale} {expires:?} {badge}"
            );
        }
    }

    /// The fixed numbers keep the bytes docs/http-api.md and README.md give them.
    #[test]
    fn fixed_headers_keep_their_bytes() {
        assert_eq!(page_cache_control(), "public, max-age=3600");
        assert_eq!(preflight_max_age(), "86400");
        let life = Lifetimes::new(DEFAULT_TAG_FRESH);
        assert_eq!(life.missing, Duration::from_secs(60));
        assert_eq!(
            Lifetimes::new(Duration::from_secs(10)).missing.as_secs(),
            10
        );
    }
}
