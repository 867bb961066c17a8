//! HTTP caching of the answers about an image (docs/http-api.md, "Caching headers"): the weak
//! ETag, conditional requests (304), `X-Cache`, and the prepared responses. The numbers behind
//! `Cache-Control` are the freshness policy's ([`crate::freshness`]).
//!
//! A response about an answer is first a [`Prepared`]: its body, ETag and freshness, computed
//! once. The route sends it through [`Prepared::response`] and, when the answer is fresh in
//! memory and the query names only `image` and `platform`, keeps it: a repeated `GET` of the
//! same path and query is then answered before routing, parsing or a cache lookup (the
//! middleware), by the same [`Prepared::response`], for as long as the cache entry it was made
//! from is in memory and fresh by the cache's clock: a lapsed answer, or one memory evicted or
//! replaced with a reloaded one, is the route's again. Its `Cache-Control` is computed at each
//! response, so `max-age` counts down to the second as the route's does.

use std::sync::{Arc, Weak};
use std::time::SystemTime;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Format;
use super::negotiation;
use super::params::Platform;
use crate::freshness::{Freshness, Lifetimes};
use cache::Cached;

use crate::inspect::{Answer, Entry, Inspector};

/// The most bytes of prepared responses kept (bodies, keys and ETags): about 4,000 badges or
/// small JSON documents.
const PREPARED_BYTES: u64 = 8 << 20;
/// The longest request (path and query) a response is prepared for.
const MAX_PREPARED_KEY: usize = 512;
/// A prepared response's own size, beside its body, key and ETag, for the weigher.
const PREPARED_OVERHEAD: usize = 128;

/// A weak ETag from the manifest digest and the format: the same digest in the same format
/// is the same answer, whatever the cache metadata says. With `platform` a hash of the
/// platform as written is added (the check is in the document), and a verified answer is
/// another document.
pub(super) fn etag(
    answer: &Answer,
    format: Format,
    platform: Option<&Platform>,
    verified: bool,
) -> HeaderValue {
    let digest = answer.summary.digest.encoded();
    let verified = if verified { ".verified" } else { "" };
    let etag = match platform {
        Some((raw, _)) => {
            let asked = registry::Digest::sha256(raw.as_bytes());
            let asked = &asked.encoded()[..16];
            format!("W/\"{digest}.{}.{asked}{verified}\"", format.tag())
        }
        None => format!("W/\"{digest}.{}{verified}\"", format.tag()),
    };
    HeaderValue::try_from(etag).expect("lowercase hex, a format tag and dots are a header value")
}

/// Whether `If-None-Match` lists `etag` (weak comparison), or is `*`.
pub(super) fn not_modified(request: &HeaderMap, etag: &str) -> bool {
    fn strip(tag: &str) -> &str {
        tag.trim().trim_start_matches("W/")
    }
    let ours = strip(etag);
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == "*" || strip(t) == ours)
}

/// `X-Cache`: the tier that answered, and whether the answer is stale.
pub(super) fn x_cache(answer: &Answer) -> &'static str {
    match (answer.source, answer.stale) {
        (output::Source::Memory, false) => "memory",
        (output::Source::Dynamodb, false) => "dynamodb",
        (output::Source::Registry, false) => "registry",
        (output::Source::Memory, true) => "memory, stale",
        (output::Source::Dynamodb, true) => "dynamodb, stale",
        (output::Source::Registry, true) => "registry, stale",
    }
}

/// What the `Cache-Control` of `answer` in `format` is computed from.
pub(super) fn freshness(answer: &Answer, format: Format) -> Freshness {
    Freshness {
        immutable: answer.pinned() && !answer.stale,
        stale: answer.stale,
        expires_at: answer.expires_at,
        badge: format.is_badge(),
    }
}

/// `key` (a request's path and query, `None` when the query names more than `image` and
/// `platform`) if the response to it about `answer` in `format` may be prepared: the answer
/// is fresh in memory (its body the same at every request), and it is not the page (which
/// also depends on the Host header).
pub(super) fn preparable<'k>(
    key: Option<&'k str>,
    answer: &Answer,
    format: Format,
) -> Option<&'k str> {
    let fresh_in_memory = answer.source == output::Source::Memory && !answer.stale;
    key.filter(|key| fresh_in_memory && format != Format::Html && key.len() <= MAX_PREPARED_KEY)
}

/// A response about an answer: everything it says, computed once.
#[derive(Debug)]
pub(super) struct Prepared {
    format: Format,
    body: Bytes,
    etag: HeaderValue,
    freshness: Freshness,
    x_cache: &'static str,
    /// `/v1/inspect`'s: the format came from `Accept` and the response varies by it.
    vary: bool,
}

impl Prepared {
    /// The response about `answer` in `format` with `body` (empty when it will not be sent:
    /// a 304), tagged `etag`.
    pub fn new(
        answer: &Answer,
        format: Format,
        body: Bytes,
        etag: HeaderValue,
        vary: bool,
    ) -> Prepared {
        Prepared {
            format,
            body,
            etag,
            freshness: freshness(answer, format),
            x_cache: x_cache(answer),
            vary,
        }
    }

    /// The response to a request with `request`'s headers: 304 when the client has it, else
    /// the body; the ETag, and `Cache-Control` as of now.
    pub fn response(&self, request: &HeaderMap, life: Lifetimes) -> Response {
        let mut response = if not_modified(request, self.etag.to_str().unwrap_or_default()) {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            let mut r = Response::new(Body::from(self.body.clone()));
            let headers = r.headers_mut();
            let content_type = HeaderValue::from_static(self.format.content_type());
            headers.insert(header::CONTENT_TYPE, content_type);
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(self.body.len()));
            r
        };
        let headers = response.headers_mut();
        headers.insert(header::ETAG, self.etag.clone());
        let cache = self.freshness.cache_control(life, SystemTime::now());
        if let Ok(cache) = HeaderValue::try_from(cache) {
            headers.insert(header::CACHE_CONTROL, cache);
        }
        headers.insert("x-cache", HeaderValue::from_static(self.x_cache));
        if self.vary {
            headers.insert(header::VARY, HeaderValue::from_static("accept"));
        }
        response
    }
}

/// Prepared responses by request path and query: README badges and repeated lookups are the
/// hottest requests.
#[derive(Debug, Clone)]
pub(super) struct PreparedResponses(moka::sync::Cache<String, Arc<Kept>>);

/// A prepared response, and the cache entry of the answer it was made from: it stands while
/// that entry is in memory and fresh.
#[derive(Debug)]
struct Kept {
    response: Prepared,
    /// Held weakly: memory drops an entry it evicts, or replaces with a reloaded answer, and
    /// the response made from it goes with it; a kept response does not keep the entry's
    /// summary alive.
    entry: Weak<Cached<Entry>>,
}

impl PreparedResponses {
    pub fn new() -> PreparedResponses {
        let weigher = |key: &String, kept: &Arc<Kept>| {
            let (body, etag) = (kept.response.body.len(), kept.response.etag.len());
            let bytes = key.len() + body + etag + PREPARED_OVERHEAD;
            u32::try_from(bytes).unwrap_or(u32::MAX)
        };
        let cache = moka::sync::Cache::builder()
            .max_capacity(PREPARED_BYTES)
            .weigher(weigher)
            .build();
        PreparedResponses(cache)
    }

    /// Keeps `prepared`, made from `answer`, as the response to `key` (see [`preparable`]).
    pub fn keep(&self, key: &str, answer: &Answer, prepared: Prepared) {
        let kept = Kept {
            response: prepared,
            entry: Arc::downgrade(&answer.entry),
        };
        self.0.insert(key.to_owned(), Arc::new(kept));
    }

    /// The prepared response to a repeated `GET`, while the answer it was made from is in
    /// memory and fresh (counted as a memory hit).
    pub fn answer(&self, request: &Request, inspector: &Inspector) -> Option<Response> {
        if request.method() != Method::GET {
            return None;
        }
        let key = request.uri().path_and_query()?.as_str();
        let kept = self.0.get(key)?;
        let prepared = &kept.response;
        // `/v1/inspect` answers the format `Accept` asks for: another one is the route's
        if prepared.vary && negotiation::accepted(request.headers()) != prepared.format {
            return None;
        }
        let now = inspector.now();
        let fresh = kept
            .entry
            .upgrade()
            .is_some_and(|entry| entry.is_fresh(now));
        if !fresh {
            // lapsed, or no longer in memory: the route answers, and prepares again
            self.0.invalidate(key);
            return None;
        }
        inspector.count_prepared_hit();
        Some(prepared.response(request.headers(), inspector.lifetimes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_is_weak_and_listed() {
        let mut h = HeaderMap::new();
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"x\", W/\"abc.json\""),
        );
        assert!(not_modified(&h, "W/\"abc.json\""));
        assert!(!not_modified(&h, "W/\"abc.text\""));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(not_modified(&h, "W/\"anything\""));
    }

    /// A response, raw: status, headers (but the request id) and body.
    type Raw = (u16, HeaderMap, Vec<u8>);

    fn header<'a>(raw: &'a Raw, name: &str) -> &'a str {
        mquery_tests::header(&raw.1, name).unwrap_or("")
    }

    fn max_age(raw: &Raw) -> u64 {
        let cache_control = header(raw, "cache-control");
        let max_age = cache_control.strip_prefix("public, max-age=");
        max_age.and_then(|n| n.parse().ok()).expect("a max-age")
    }

    /// Repeated `/v1/inspect` requests, against the real registry, are answered as the route
    /// answers from memory (the same bytes and headers), 304 for the ETag, in the format
    /// `Accept` asks for, `max-age` counted down, and never past the answer's freshness.
    #[tokio::test(flavor = "multi_thread")]
    async fn repeated_inspects_are_the_routes_own_answer_until_it_lapses() {
        use std::time::Duration;

        use axum::body::Body;
        use cache::{Clock, ManualClock, Tiered};
        use mquery_tests::fixtures::{APP, open_with_app};
        use tower::ServiceExt as _;

        let (registry, _) = open_with_app().await;
        let clock = Arc::new(ManualClock::new(SystemTime::now()));
        let ttl = Duration::from_secs(60);
        let shared: Arc<dyn Clock> = Arc::clone(&clock) as Arc<dyn Clock>;
        let inspector = Inspector::new(
            mquery_tests::client_for(&[&registry.host()]),
            Tiered::new(16 << 20, None, Arc::clone(&shared)),
            shared,
            Lifetimes::new(ttl),
        );
        let app = crate::app(crate::AppState::new(inspector));
        let image = mquery_tests::encode_query(&registry.image(APP));
        let uri = format!("/v1/inspect?image={image}");
        let get = |headers: &[(&str, &str)]| {
            let mut request = axum::http::Request::get(&uri);
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            let request = request.body(Body::empty()).expect("request");
            let app = app.clone();
            async move {
                let response = app.oneshot(request).await.expect("infallible");
                let status = response.status().as_u16();
                let mut headers = response.headers().clone();
                headers.remove("x-request-id");
                let body = axum::body::to_bytes(response.into_body(), 1 << 20)
                    .await
                    .expect("body");
                (status, headers, body.to_vec())
            }
        };
        let first = get(&[]).await;
        assert_eq!(header(&first, "x-cache"), "registry");
        // the second is the route's from memory, and prepared; the third is the prepared one
        let second = get(&[]).await;
        let third = get(&[]).await;
        assert_eq!(header(&second, "x-cache"), "memory");
        assert_eq!(second, third);
        assert_eq!(header(&third, "content-type"), "application/json");
        assert_eq!(header(&third, "vary"), "accept");
        let etag = header(&third, "etag").to_owned();
        let revalidated = get(&[("if-none-match", &etag)]).await;
        assert_eq!(revalidated.0, 304);
        assert!(revalidated.2.is_empty());
        assert_eq!(header(&revalidated, "etag"), etag);
        // another format by Accept is not the prepared JSON, and JSON stays JSON
        let text = get(&[("accept", "text/plain")]).await;
        assert_eq!(header(&text, "content-type"), "text/plain; charset=utf-8");
        assert!(text.2.starts_with(b"Image: "));
        let json = get(&[]).await;
        assert_eq!(json.2, third.2);
        // max-age counts down as time passes
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let later = get(&[]).await;
        assert!(max_age(&later) < max_age(&third), "{later:?}");
        assert_eq!(later.2, third.2);
        // the answer lapses: the route asks the registry again
        clock.advance(ttl + Duration::from_secs(1));
        let lapsed = get(&[]).await;
        assert_eq!(header(&lapsed, "x-cache"), "registry");
    }
}
