//! HTTP caching of the answers about an image (docs/http-api.md, "Caching headers"): the weak
//! ETag, conditional requests (304), `X-Cache`, and the prepared responses. The numbers behind
//! `Cache-Control` are the freshness policy's ([`crate::freshness`]).
//!
//! A response about an answer is first a [`Prepared`]: its body, ETag and freshness, computed
//! once. The route sends it through [`Prepared::response`] and, when the answer is fresh in
//! memory and the query names only `image` and `platform`, keeps it: a repeated `GET` of the
//! same path and query is then answered before routing or parsing (the middleware), by the
//! same [`Prepared::response`], for as long as the cache entry it was made from is the one
//! memory holds fresh: a lapsed, reloaded or replaced answer is the route's again. Its
//! `Cache-Control` is computed at each response, so `max-age` counts down to the second as
//! the route's does.

use std::sync::{Arc, Weak};
use std::time::SystemTime;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::Format;
use super::negotiation;
use super::params::Platform;
use crate::freshness::{Freshness, Lifetimes};
use cache::Cached;

use crate::inspect::{Answer, Entry, Inspector, cache_key};

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
    /// The cache key of the answer ([`cache_key`]).
    cache_key: Box<str>,
    /// The cache entry the answer came from: the response stands while memory holds it fresh
    /// (held weakly: a prepared response does not keep an evicted entry's summary alive, and
    /// the allocation it points to is not reused while it does).
    entry: Weak<Cached<Entry>>,
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
            cache_key: cache_key(&answer.reference).into(),
            entry: Arc::downgrade(&answer.entry),
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
pub(super) struct PreparedResponses(moka::sync::Cache<String, Arc<Prepared>>);

impl PreparedResponses {
    pub fn new() -> PreparedResponses {
        let weigher = |key: &String, prepared: &Arc<Prepared>| {
            let bytes = key.len() + prepared.body.len() + prepared.etag.len() + PREPARED_OVERHEAD;
            u32::try_from(bytes).unwrap_or(u32::MAX)
        };
        let cache = moka::sync::Cache::builder()
            .max_capacity(PREPARED_BYTES)
            .weigher(weigher)
            .build();
        PreparedResponses(cache)
    }

    /// Keeps `prepared` as the response to `key` (see [`preparable`]).
    pub fn keep(&self, key: &str, prepared: Prepared) {
        self.0.insert(key.to_owned(), Arc::new(prepared));
    }

    /// The prepared response to a repeated `GET` of `uri`, while the answer it was made from
    /// is the one memory holds fresh.
    pub async fn answer(
        &self,
        method: &Method,
        uri: &Uri,
        request: &HeaderMap,
        inspector: &Inspector,
    ) -> Option<Response> {
        if method != Method::GET {
            return None;
        }
        let key = uri.path_and_query()?.as_str();
        let prepared = self.0.get(key)?;
        // `/v1/inspect` answers the format `Accept` asks for: another one is the route's
        if prepared.vary && negotiation::accepted(request) != prepared.format {
            return None;
        }
        let current = inspector.fresh_in_memory(&prepared.cache_key).await;
        if !current.is_some_and(|entry| std::ptr::eq(Arc::as_ptr(&entry), prepared.entry.as_ptr()))
        {
            self.0.invalidate(key);
            return None;
        }
        Some(prepared.response(request, inspector.lifetimes()))
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
}
