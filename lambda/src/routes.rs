//! The HTTP interface: routes, content negotiation, caching headers and error responses.
//! `app(state)` is the whole service; Lambda and the local server both run it unchanged.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use lambda_http::request::RequestContext;
use tracing::Instrument as _;

use crate::check;
use crate::error::AppError;
use crate::inspect::{Answer, Failure, Inspector, Lifetimes, parse_image};
use crate::render::badge::Badge;
use crate::render::html::{self, PageContent};
use crate::render::mquery;
use registry::{PlatformCheck, PlatformSpec, Sense, Verification};

/// Shared state of every request.
#[derive(Debug, Clone)]
pub struct AppState {
    inspector: Inspector,
    /// Badge responses of fresh answers in memory, by path and query: README badges are the
    /// hottest requests, and a repeat is answered before routing, parsing or a cache lookup.
    badges: moka::sync::Cache<String, Arc<PreparedBadge>>,
}

/// How many prepared badge responses are kept.
const PREPARED_BADGES: u64 = 4096;
/// The longest request (path and query) a badge is prepared for.
const MAX_PREPARED_KEY: usize = 512;

/// A badge response to send again while its answer is fresh: exactly what the badge route
/// would build from memory (same body, ETag, freshness), computed once.
#[derive(Debug)]
struct PreparedBadge {
    format: Format,
    body: Bytes,
    etag: HeaderValue,
    fresh_until: SystemTime,
    pinned: bool,
}

impl AppState {
    pub fn new(inspector: Inspector) -> AppState {
        AppState {
            inspector,
            badges: moka::sync::Cache::builder()
                .max_capacity(PREPARED_BADGES)
                .build(),
        }
    }

    /// The prepared response to a repeated badge request, if its answer is still fresh.
    fn prepared_badge(&self, request: &Request) -> Option<Response> {
        if request.method() != axum::http::Method::GET {
            return None;
        }
        let key = request.uri().path_and_query()?.as_str();
        let badge = self.badges.get(key)?;
        if self.inspector.now() >= badge.fresh_until {
            self.badges.invalidate(key);
            return None;
        }
        let etag = badge.etag.to_str().unwrap_or_default();
        let mut response = if not_modified(request.headers(), etag) {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            let mut r = Response::new(Body::from(badge.body.clone()));
            let headers = r.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(badge.format.content_type()),
            );
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(badge.body.len()));
            r
        };
        let cache = freshness(
            badge.pinned,
            false,
            Some(badge.fresh_until),
            true,
            self.inspector.lifetimes(),
            SystemTime::now(),
        );
        let headers = response.headers_mut();
        headers.insert(header::ETAG, badge.etag.clone());
        if let Ok(cache) = HeaderValue::from_str(&cache) {
            headers.insert(header::CACHE_CONTROL, cache);
        }
        headers.insert("x-cache", HeaderValue::from_static("memory"));
        Some(response)
    }

    /// Keeps a badge answered from memory for [`AppState::prepared_badge`], with the ETag
    /// [`respond`] gave it.
    #[allow(clippy::too_many_arguments)]
    fn prepare_badge(
        &self,
        key: &str,
        beyond_badge: bool,
        image: &str,
        answer: &Answer,
        format: Format,
        platform: Option<&Platform>,
        etag: &HeaderValue,
    ) {
        if !format.is_badge() || answer.source != output::Source::Memory || answer.stale {
            return;
        }
        if key.len() > MAX_PREPARED_KEY || beyond_badge {
            return;
        }
        let etag = etag.clone();
        let body = rendered(image, answer, format, platform, || {
            let check =
                platform.map(|(raw, spec)| PlatformCheck::with_spec(raw, spec, &answer.summary));
            render(
                format,
                image,
                answer,
                &HeaderMap::new(),
                check.as_ref(),
                None,
            )
        });
        let badge = PreparedBadge {
            format,
            body,
            etag,
            fresh_until: answer.entry.fresh_until,
            pinned: answer.pinned(),
        };
        self.badges.insert(key.to_owned(), Arc::new(badge));
    }
}

/// The service. Tests call `app(state).oneshot(request)` without a socket.
pub fn app(state: AppState) -> Router {
    let routes = Router::new()
        .route("/", get(page).post(page_check))
        .route("/v1/inspect", get(inspect))
        .route("/mquery", speaks(Format::Mquery))
        .route("/v1/badge", speaks(Format::Svg))
        .route("/v1/shields", speaks(Format::Shields))
        .route("/v1/diff", get(diff))
        .route("/v1/check", post(check_file).options(preflight))
        .route("/healthz", get(healthz))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state.clone());
    // `common` strips the stage prefix, which must happen before routing: it wraps the whole
    // router.
    Router::new()
        .fallback_service(routes)
        .layer(middleware::from_fn_with_state(state, common))
}

/// The formats an answer is rendered in: one per route and `format` value, each with one
/// renderer ([`render`]) and one error form ([`Rejection`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Text,
    Html,
    Mquery,
    Svg,
    Shields,
}

impl Format {
    fn content_type(self) -> &'static str {
        match self {
            Format::Json | Format::Mquery | Format::Shields => "application/json",
            Format::Text => "text/plain; charset=utf-8",
            Format::Html => "text/html; charset=utf-8",
            Format::Svg => "image/svg+xml",
        }
    }

    fn tag(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Text => "text",
            Format::Html => "html",
            Format::Mquery => "mquery",
            Format::Svg => "svg",
            Format::Shields => "shields",
        }
    }

    fn is_badge(self) -> bool {
        matches!(self, Format::Svg | Format::Shields)
    }
}

/// Cache-Control for an answer, from the lifetimes the cache keeps it by: one freshness
/// policy, so no client or CDN reuses an answer longer than the service itself would.
fn cache_control(answer: &Answer, format: Format, life: Lifetimes, now: SystemTime) -> String {
    freshness(
        answer.pinned() && !answer.stale,
        answer.stale,
        answer.expires_at,
        format.is_badge(),
        life,
        now,
    )
}

/// The rule behind [`cache_control`]:
/// - a digest reference names content that never changes: `max-age` is
///   [`Lifetimes::digest`], and `immutable`;
/// - a tag's answer may be reused for the seconds it has left to be fresh here (`expires_at`
///   minus now, rounded up), at most [`Lifetimes::tag`];
/// - a stale answer (the registry failed) the same, at most [`Lifetimes::stale_retry`], after
///   which the service asks the registry again;
/// - badges add `stale-while-revalidate` = [`Lifetimes::grace`], the time the service itself
///   may serve a lapsed answer: GitHub's image proxy and shields.io keep showing the badge
///   while they revalidate it with the ETag.
fn freshness(
    immutable: bool,
    stale: bool,
    expires_at: Option<SystemTime>,
    badge: bool,
    life: Lifetimes,
    now: SystemTime,
) -> String {
    if immutable {
        return format!("public, max-age={}, immutable", life.digest.as_secs());
    }
    let cap = if stale { life.stale_retry } else { life.tag };
    let left = expires_at
        .and_then(|t| t.duration_since(now).ok())
        .unwrap_or(Duration::ZERO)
        .min(cap);
    let max_age = left.as_secs() + u64::from(left.subsec_nanos() > 0);
    if badge {
        format!(
            "public, max-age={max_age}, stale-while-revalidate={}",
            life.grace.as_secs()
        )
    } else {
        format!("public, max-age={max_age}")
    }
}

/// A weak ETag from the manifest digest and the format: the same digest in the same format
/// is the same answer, whatever the cache metadata says.
fn etag(answer: &Answer, format: Format, platform: Option<&Platform>) -> String {
    let digest = answer.summary.digest.encoded();
    match platform {
        // the check depends on the platform asked for (as written: it is in the document)
        Some((raw, _)) => {
            let asked = registry::Digest::sha256(raw.as_bytes());
            format!("W/\"{digest}.{}.{}\"", format.tag(), &asked.encoded()[..16])
        }
        None => format!("W/\"{digest}.{}\"", format.tag()),
    }
}

fn not_modified(request: &HeaderMap, etag: &str) -> bool {
    let strip = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    let ours = strip(etag);
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == "*" || strip(t) == ours)
}

#[derive(Debug, Default)]
struct Params {
    image: Option<String>,
    format: Option<String>,
    platform: Option<String>,
    /// `verify=1` (or `true`): check the index against its entries' configs.
    verify: bool,
    /// `/v1/diff`'s two images.
    old: Option<String>,
    new: Option<String>,
    /// `/v1/check`: `compatible=1` judges by containerd's `Only` (the CLI's `--compatible`).
    compatible: bool,
    /// `/v1/check`: the file's name, for `file:line` and as a hint for its kind.
    name: Option<String>,
    /// Whether the query named anything but `image` and `platform` (a badge then is not
    /// prepared: parameters it ignores would let anyone choose cache keys).
    beyond_badge: bool,
}

/// The longest `platform` parameter accepted.
const MAX_PLATFORM_PARAM: usize = 200;

/// A `platform` parameter: as written, and parsed.
type Platform = stack::plan::Asked;

impl Params {
    /// The `platform` parameter, parsed before any lookup (absent or empty: none).
    fn platform(&self) -> Result<Option<Platform>, Failure> {
        let Some(raw) = self
            .platform
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
        else {
            return Ok(None);
        };
        let invalid = |message: String| {
            Failure::new(
                self.image.as_deref(),
                None,
                AppError::InvalidParameter(message),
            )
        };
        if raw.len() > MAX_PLATFORM_PARAM {
            return Err(invalid(format!(
                "platform parameter is longer than {MAX_PLATFORM_PARAM} characters"
            )));
        }
        match raw.parse::<PlatformSpec>() {
            Ok(spec) => Ok(Some((raw.to_owned(), spec))),
            Err(e) => Err(invalid(format!("platform: {e}"))),
        }
    }
}

/// The parameters of a query string (or of a form's body, which is encoded the same way).
fn params(query: Option<&[u8]>) -> Params {
    let mut p = Params::default();
    if let Some(query) = query {
        for (key, value) in form_urlencoded::parse(query) {
            p.beyond_badge |= !matches!(key.as_ref(), "image" | "platform");
            match key.as_ref() {
                "image" if p.image.is_none() => p.image = Some(value.into_owned()),
                "format" if p.format.is_none() => p.format = Some(value.into_owned()),
                "platform" if p.platform.is_none() => p.platform = Some(value.into_owned()),
                "verify" => p.verify = matches!(value.as_ref(), "1" | "true"),
                "compatible" => p.compatible = matches!(value.as_ref(), "1" | "true" | "on"),
                "name" if p.name.is_none() => p.name = Some(value.into_owned()),
                "old" if p.old.is_none() => p.old = Some(value.into_owned()),
                "new" if p.new.is_none() => p.new = Some(value.into_owned()),
                _ => {}
            }
        }
    }
    p
}

async fn lookup(state: &AppState, image: Option<&str>) -> Result<(String, Answer), Failure> {
    let (image, reference) = parse_image(image)?;
    let answer = state.inspector.inspect(&image, &reference).await?;
    Ok((image, answer))
}

/// The response for an answer: 304 when the client has it, else the body, rendered once per
/// memory entry and format.
async fn respond(
    state: &AppState,
    request: &HeaderMap,
    image: &str,
    answer: &Answer,
    format: Format,
    platform: Option<&Platform>,
    verification: Option<&Verification>,
) -> Response {
    let mut etag = etag(answer, format, platform);
    if verification.is_some() {
        // a verified answer is another document
        etag.insert_str(etag.len() - 1, ".verified");
    }
    let mut response = if not_modified(request, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let make = || {
            let check =
                platform.map(|(raw, spec)| PlatformCheck::with_spec(raw, spec, &answer.summary));
            render(format, image, answer, request, check.as_ref(), verification)
        };
        let body = match verification {
            // verified answers are rare and their check is cached by digest: not memoized
            Some(_) => Bytes::from(make()),
            None => rendered(image, answer, format, platform, make),
        };
        let mut r = Response::new(Body::from(body));
        set(&mut r, header::CONTENT_TYPE, format.content_type());
        r
    };
    set(&mut response, header::ETAG, &etag);
    let cache = cache_control(
        answer,
        format,
        state.inspector.lifetimes(),
        SystemTime::now(),
    );
    set(&mut response, header::CACHE_CONTROL, &cache);
    response
        .headers_mut()
        .insert("x-cache", HeaderValue::from_static(x_cache(answer)));
    response
}

/// An answer in a format: every renderer takes the same answer.
fn render(
    format: Format,
    image: &str,
    answer: &Answer,
    request: &HeaderMap,
    check: Option<&PlatformCheck>,
    verification: Option<&Verification>,
) -> Vec<u8> {
    let badge = || match check {
        Some(check) => Badge::for_platform(check),
        None => Badge::for_summary(&answer.summary),
    };
    match format {
        Format::Json => answer.json(image, check, verification),
        Format::Text => {
            output::text::document(image, &answer.summary, check, verification, Sense::Native)
                .into_bytes()
        }
        Format::Html => {
            let mut report = answer.report(image);
            report.platform_check = check.cloned();
            let origin = public_origin(request);
            html::page(&origin, Some(image), &PageContent::Answer(&report)).into_bytes()
        }
        // mquery's own shape has no place for a platform check
        Format::Mquery => mquery::answer(answer, image),
        Format::Svg => badge().svg().into_bytes(),
        Format::Shields => badge().shields_json(),
    }
}

/// The body. Answers served from memory render the same bytes every time (their source,
/// times and flags are those of the entry), so they are rendered once per entry, format and
/// image spelling and memoized on the entry itself: the hot path does one cache lookup and
/// no serialization.
fn rendered(
    image: &str,
    answer: &Answer,
    format: Format,
    platform: Option<&Platform>,
    render: impl FnOnce() -> Vec<u8>,
) -> Bytes {
    // the page also depends on the Host header
    if answer.source != output::Source::Memory || format == Format::Html {
        return Bytes::from(render());
    }
    let platform = platform.map(|(raw, _)| raw.as_str());
    answer.rendered(format.tag(), image, platform, || Bytes::from(render()))
}

fn x_cache(answer: &Answer) -> &'static str {
    match (answer.source, answer.stale) {
        (output::Source::Memory, false) => "memory",
        (output::Source::Dynamodb, false) => "dynamodb",
        (output::Source::Registry, false) => "registry",
        (output::Source::Memory, true) => "memory, stale",
        (output::Source::Dynamodb, true) => "dynamodb, stale",
        (output::Source::Registry, true) => "registry, stale",
    }
}

/// A response in `format`: the status, the body, its Content-Type and Cache-Control.
fn typed(status: StatusCode, body: impl Into<Body>, format: Format, cache: &str) -> Response {
    let mut response = (status, body.into()).into_response();
    set(&mut response, header::CONTENT_TYPE, format.content_type());
    set(&mut response, header::CACHE_CONTROL, cache);
    response
}

fn set(response: &mut Response, name: impl header::IntoHeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}

/// A failed request in the format its route speaks: the error response.
#[derive(Debug)]
pub struct Rejection {
    pub failure: Failure,
    pub format: Format,
}

/// What a failed response carries for the request log (the middleware writes it): the code
/// and the full detail, which the body does not show for server errors.
#[derive(Debug, Clone)]
pub struct ErrorDetail {
    pub code: registry::ErrorCode,
    pub detail: String,
    pub image: Option<String>,
    /// The status table's answer (badges answer 200 whatever it says).
    pub status: StatusCode,
}

impl Failure {
    fn reject(self, format: Format) -> Response {
        Rejection {
            failure: self,
            format,
        }
        .into_response()
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let Rejection { failure, format } = self;
        let error = &failure.error;
        let status = error.status();
        let report = error.to_report(failure.image.as_deref(), failure.reference.as_deref());
        let (status, body) = match format {
            Format::Json => (status, serde_json::to_vec(&report).unwrap_or_default()),
            Format::Text => (
                status,
                format!("error: {}\n", output::printable(&report.error.message)).into_bytes(),
            ),
            Format::Html => (
                status,
                html::page("", failure.image.as_deref(), &PageContent::Error(&report)).into_bytes(),
            ),
            Format::Mquery => (status, mquery::error(&report.error.message)),
            // a README never shows a broken image: badges answer 200 with an error badge
            Format::Svg => (
                StatusCode::OK,
                Badge::for_error(error.code()).svg().into_bytes(),
            ),
            Format::Shields => (
                StatusCode::OK,
                Badge::for_error(error.code()).shields_json(),
            ),
        };
        let cache = if format.is_badge() {
            "no-cache, max-age=0"
        } else {
            "no-store"
        };
        let mut response = typed(status, body, format, cache);
        if let Some(secs) = error.retry_after_secs().filter(|_| !format.is_badge()) {
            set(&mut response, header::RETRY_AFTER, &secs.to_string());
        }
        response.extensions_mut().insert(ErrorDetail {
            code: error.code(),
            detail: error.to_string(),
            image: failure.image.clone(),
            status: error.status(),
        });
        response
    }
}

/// Whether the client prefers text/plain to JSON, by RFC 9110's rules: a type's quality is the
/// `q` of the most specific range naming it (`text/plain`, then `text/*`, then `*/*`); the
/// higher quality wins; on a tie the more specific range, then the one listed first; JSON when
/// neither is acceptable or nothing is said.
fn wants_text(headers: &HeaderMap) -> bool {
    let ranges: Vec<(String, f32)> = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|range| {
            // media types and parameter names are case-insensitive
            let range = range.to_ascii_lowercase();
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim().to_owned();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .filter(|q| q.is_finite())
                .map_or(1.0, |q| q.clamp(0.0, 1.0));
            (media, q)
        })
        .collect();
    // (quality, specificity, -position): larger is preferred
    let rank = |media: &str| {
        let wildcard = format!("{}/*", media.split('/').next().unwrap_or(""));
        ranges
            .iter()
            .enumerate()
            .filter_map(|(i, (range, q))| {
                let specificity = if range == media {
                    2
                } else if *range == wildcard {
                    1
                } else if range == "*/*" {
                    0
                } else {
                    return None;
                };
                Some((specificity, *q, i))
            })
            .max_by_key(|(specificity, _, _)| *specificity)
    };
    match (rank("text/plain"), rank("application/json")) {
        (Some((_, text_q, _)), None) => text_q > 0.0,
        (Some((text_s, text_q, text_i)), Some((json_s, json_q, json_i))) => {
            text_q > 0.0
                && (text_q > json_q
                    || (text_q == json_q
                        && (text_s > json_s || (text_s == json_s && text_i < json_i))))
        }
        (None, _) => false,
    }
}

async fn inspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let p = params(query.as_deref().map(str::as_bytes));
    let format = match p.format.as_deref() {
        Some("text") => Format::Text,
        Some("json") => Format::Json,
        None if wants_text(&headers) => Format::Text,
        None => Format::Json,
        Some(other) => {
            let error = AppError::InvalidParameter(format!(
                "format must be json or text, not {:?}",
                crate::render::clip(other, 20)
            ));
            return Failure::new(p.image.as_deref(), None, error).reject(Format::Json);
        }
    };
    let platform = match p.platform() {
        Ok(platform) => platform,
        Err(f) => return f.reject(format),
    };
    let response = match lookup(&state, p.image.as_deref()).await {
        Ok((image, answer)) => {
            let verification = match p.verify {
                true => match state.inspector.verify(&answer).await {
                    Ok(verification) => Some(verification),
                    Err(e) => {
                        let failure = Failure::new(
                            Some(&image),
                            Some(&answer.reference),
                            AppError::Registry(e),
                        );
                        return with_vary(failure.reject(format));
                    }
                },
                false => None,
            };
            let platform = platform.as_ref();
            let verified = verification.as_ref();
            respond(
                &state, &headers, &image, &answer, format, platform, verified,
            )
            .await
        }
        Err(f) => f.reject(format),
    };
    with_vary(response)
}

/// `/v1/inspect` answers vary by `Accept`.
fn with_vary(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("accept"));
    response
}

async fn page(State(state): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    let p = params(uri.query().map(str::as_bytes));
    if p.image.as_deref().map(str::trim).is_none_or(str::is_empty) {
        let page = html::page("", None, &PageContent::Nothing);
        return typed(StatusCode::OK, page, Format::Html, "public, max-age=3600");
    }
    let platform = match p.platform() {
        Ok(platform) => platform,
        Err(f) => return f.reject(Format::Html),
    };
    match lookup(&state, p.image.as_deref()).await {
        Ok((image, answer)) => {
            respond(
                &state,
                &headers,
                &image,
                &answer,
                Format::Html,
                platform.as_ref(),
                None,
            )
            .await
        }
        Err(f) => f.reject(Format::Html),
    }
}

/// `scheme://host` as the client reached us (API Gateway sets `X-Forwarded-Proto`); empty
/// when the Host header is missing or odd, so links stay relative.
fn public_origin(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let valid = !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b));
    if !valid {
        return String::new();
    }
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    format!("{scheme}://{host}")
}

/// The GET handler of a route that speaks one format (`/mquery`, the badges).
fn speaks(format: Format) -> MethodRouter<AppState> {
    get(
        move |State(state): State<AppState>, uri: Uri, headers: HeaderMap| async move {
            single_format(&state, &headers, &uri, format).await
        },
    )
}

/// The routes that speak one format: look up, then render or fail in it.
async fn single_format(
    state: &AppState,
    headers: &HeaderMap,
    uri: &Uri,
    format: Format,
) -> Response {
    let p = params(uri.query().map(str::as_bytes));
    let platform = match p.platform() {
        Ok(platform) => platform,
        Err(f) => return f.reject(format),
    };
    match lookup(state, p.image.as_deref()).await {
        Ok((image, answer)) => {
            let platform = platform.as_ref();
            let response = respond(state, headers, &image, &answer, format, platform, None).await;
            if let (Some(key), Some(etag)) =
                (uri.path_and_query(), response.headers().get(header::ETAG))
            {
                let beyond = p.beyond_badge;
                let (key, image) = (key.as_str(), image.as_str());
                state.prepare_badge(key, beyond, image, &answer, format, platform, etag);
            }
            response
        }
        Err(f) => f.reject(format),
    }
}

/// `GET /v1/diff?old=REF&new=REF`: what NEW added and dropped relative to OLD, as JSON (the
/// same document as `mquery diff --json`), so a CI job can ask without installing anything.
async fn diff(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let p = params(query.as_deref().map(str::as_bytes));
    let given = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
    let (old, new) = match (given(p.old), given(p.new)) {
        (Some(old), Some(new)) => (old, new),
        _ => {
            let error = AppError::InvalidParameter(
                "missing old or new parameter, e.g. ?old=app:1&new=app:2".to_owned(),
            );
            return Failure::new(None, None, error).reject(Format::Json);
        }
    };
    // the two lookups at once
    let (old, new) = match tokio::join!(lookup(&state, Some(&old)), lookup(&state, Some(&new))) {
        (Ok(old), Ok(new)) => (old, new),
        (Err(f), _) | (_, Err(f)) => return f.reject(Format::Json),
    };
    let diff = registry::Diff::of(&old.0, &old.1.summary, &new.0, &new.1.summary);
    // fresh as long as both answers are
    let cache = cache_control(
        if old.1.expires_at <= new.1.expires_at {
            &old.1
        } else {
            &new.1
        },
        Format::Json,
        state.inspector.lifetimes(),
        SystemTime::now(),
    );
    let body = serde_json::to_vec(&diff).unwrap_or_default();
    typed(StatusCode::OK, body, Format::Json, &cache)
}

/// The longest `name` parameter of `/v1/check` kept.
const MAX_NAME_PARAM: usize = 100;

/// `POST /v1/check[?platform=P][&compatible=1][&name=FILE]`: the body is a Compose file,
/// Kubernetes YAML, a Dockerfile or a list (at most 1 MiB and 200 distinct images, else 413);
/// the answer is `mquery check --json`'s document, 200 whatever the verdicts (its `status`
/// says them).
async fn check_file(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    body: Body,
) -> Response {
    let deadline = tokio::time::Instant::now() + check::CHECK_DEADLINE;
    let p = params(query.as_deref().map(str::as_bytes));
    let platform = match p.platform() {
        Ok(platform) => platform,
        Err(f) => return f.reject(Format::Json),
    };
    let name = p
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map_or_else(
            || "file".to_owned(),
            |n| output::printable(&crate::render::clip(n, MAX_NAME_PARAM)).into_owned(),
        );
    let checked = async {
        let body = check::read_body(body, check::MAX_FILE, "the file").await?;
        let text = check::text(&body)?.to_owned();
        drop(body);
        let report = check::check(&state.inspector, &name, text, platform, sense(&p), deadline);
        check::answer(&report.await?)
    };
    match checked.await {
        Ok(body) => typed(StatusCode::OK, body, Format::Json, "no-store"),
        Err(e) => Failure::new(None, None, e).reject(Format::Json),
    }
}

/// CORS preflight for `/v1/check`, as template.yaml's API answers it in production: a page on
/// another origin may post a file as `application/yaml`.
async fn preflight() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    set(&mut response, header::ACCESS_CONTROL_ALLOW_METHODS, "POST");
    set(
        &mut response,
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        "content-type",
    );
    set(&mut response, header::ACCESS_CONTROL_MAX_AGE, "86400");
    response
}

fn sense(p: &Params) -> Sense {
    if p.compatible {
        Sense::Compatible
    } else {
        Sense::Native
    }
}

/// The page's "check a file" form (`POST /`, form-encoded `file`, `platform`, `compatible`):
/// the same check as `/v1/check`, shown as a table under the form.
async fn page_check(State(state): State<AppState>, body: Body) -> Response {
    let deadline = tokio::time::Instant::now() + check::CHECK_DEADLINE;
    // form encoding at most triples the file's bytes
    let form = match check::read_body(body, 3 * check::MAX_FILE + 4096, "the form").await {
        Ok(form) => form,
        Err(e) => return Failure::new(None, None, e).reject(Format::Html),
    };
    let p = params(Some(&form));
    // browsers send a textarea's line breaks as CRLF
    let file = form_urlencoded::parse(&form)
        .find(|(key, _)| key == "file")
        .map(|(_, value)| value.replace("\r\n", "\n"))
        .unwrap_or_default();
    if file.len() > check::MAX_FILE {
        let error = check::too_large("the file", check::MAX_FILE);
        return Failure::new(None, None, error).reject(Format::Html);
    }
    let platform = match p.platform() {
        Ok(platform) => platform,
        Err(f) => return f.reject(Format::Html),
    };
    let form = html::CheckForm {
        file: &file,
        platform: p.platform.as_deref().unwrap_or(""),
        compatible: p.compatible,
    };
    let checked = check::check(
        &state.inspector,
        "file",
        file.clone(),
        platform,
        sense(&p),
        deadline,
    );
    let (status, outcome) = match checked.await {
        Ok(report) => (StatusCode::OK, Ok(report)),
        Err(e) => (e.status(), Err(e.to_report(None, None))),
    };
    let content = match &outcome {
        Ok(report) => PageContent::Check(report),
        Err(error) => PageContent::Error(error),
    };
    let page = html::page_with("", None, Some(&form), &content);
    typed(status, page, Format::Html, "no-store")
}

async fn healthz() -> Response {
    let mut response = r#"{"status":"ok"}"#.into_response();
    set(&mut response, header::CONTENT_TYPE, "application/json");
    set(&mut response, header::CACHE_CONTROL, "no-store");
    response
}

async fn route_not_found(uri: Uri) -> Response {
    let path = crate::render::clip(uri.path(), 100);
    Failure::new(None, None, AppError::RouteNotFound(path)).reject(Format::Json)
}

/// 405, with the methods the path does answer.
async fn method_not_allowed(uri: Uri) -> Response {
    let mut response = Failure::new(None, None, AppError::MethodNotAllowed).reject(Format::Json);
    let allow = match uri.path() {
        "/v1/check" => "POST, OPTIONS",
        "/" => "GET, HEAD, POST",
        _ => "GET, HEAD",
    };
    set(&mut response, header::ALLOW, allow);
    response
}

/// API Gateway puts a named stage in front of the path (`/prod/v1/inspect`); routes are
/// written without it.
fn strip_stage(request: &mut Request) {
    let stage = match request.extensions().get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV1(context)) => context.stage.as_deref(),
        Some(RequestContext::ApiGatewayV2(context)) => context.stage.as_deref(),
        _ => None,
    };
    let Some(stage) = stage.filter(|s| !s.is_empty() && *s != "$default") else {
        return;
    };
    let path = request.uri().path();
    let Some(rest) = path.strip_prefix('/').and_then(|p| p.strip_prefix(stage)) else {
        return;
    };
    if !(rest.is_empty() || rest.starts_with('/')) {
        return;
    }
    let rest = if rest.is_empty() { "/" } else { rest };
    let new = match request.uri().query() {
        Some(q) => format!("{rest}?{q}"),
        None => rest.to_owned(),
    };
    if let Ok(uri) = new.parse::<Uri>() {
        *request.uri_mut() = uri;
    }
}

static REQUEST_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A request id for logs: Lambda's own when there is one, else process-unique.
fn request_id(request: &Request) -> String {
    use lambda_http::RequestExt as _;
    if let Some(context) = request.lambda_context_ref() {
        return context.request_id.clone();
    }
    if let Some(Some(id)) = match request.extensions().get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV1(c)) => Some(c.request_id.clone()),
        Some(RequestContext::ApiGatewayV2(c)) => Some(c.request_id.clone()),
        _ => None,
    } {
        return id;
    }
    // the process's start second, then a counter
    static START: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let start = START.get_or_init(|| {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        format!("{secs:x}")
    });
    format!(
        "{start}-{}",
        REQUEST_COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Headers every response carries (CORS, request id) and one log line per request.
async fn common(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    strip_stage(&mut request);
    let id = request_id(&request);
    let span = tracing::info_span!("request", request_id = %id);
    // what the "served" line needs, read only when it is written
    let served = tracing::enabled!(tracing::Level::INFO).then(|| {
        (
            request.method().clone(),
            request.uri().path().to_owned(),
            Instant::now(),
        )
    });
    let mut response = match state.prepared_badge(&request) {
        Some(response) => response,
        None => next.run(request).instrument(span.clone()).await,
    };
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(value) = HeaderValue::from_str(&id) {
        headers.insert("x-request-id", value);
    }
    if let Some(error) = response.extensions().get::<ErrorDetail>() {
        let (code, detail, image) = (error.code.as_str(), &error.detail, error.image.as_deref());
        span.in_scope(|| {
            if error.status.is_server_error() {
                tracing::error!(code, detail = %detail, image, "request failed");
            } else {
                tracing::debug!(code, detail = %detail, "request refused");
            }
        });
    }
    if let Some((method, path, started)) = served {
        span.in_scope(|| {
            tracing::info!(
                %method,
                path = %path,
                status = response.status().as_u16(),
                cache = response.headers().get("x-cache").and_then(|v| v.to_str().ok()).unwrap_or("-"),
                micros = started.elapsed().as_micros() as u64,
                "served"
            );
        });
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_negotiation() {
        let mut h = HeaderMap::new();
        assert!(!wants_text(&h));
        h.insert(header::ACCEPT, HeaderValue::from_static("text/plain"));
        assert!(wants_text(&h));
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/json, text/plain;q=0.5"),
        );
        assert!(!wants_text(&h));
        h.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        assert!(!wants_text(&h));
        // q-values decide, not the order (issue 10: this one answered text)
        for (accept, text) in [
            ("text/plain;q=0.1, application/json", false),
            ("text/plain;q=0.9, application/json;q=0.5", true),
            ("application/json;q=0, text/plain", true),
            ("text/plain;q=0", false),
            ("text/*", true),
            ("text/plain, */*", true),
            ("*/*, text/plain", true),
            ("application/json, text/plain", false),
            ("text/plain, application/json", true),
            ("text/*;q=0.5, application/*;q=0.4", true),
            ("TEXT/PLAIN; Q=0.8, application/json; q=0.9", false),
            ("text/html", false),
            ("text/plain;q=abc", true),
        ] {
            h.insert(header::ACCEPT, HeaderValue::from_static(accept));
            assert_eq!(wants_text(&h), text, "{accept}");
        }
    }

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

    #[test]
    fn cache_control_follows_the_cache_lifetimes() {
        let life = Lifetimes::new(Duration::from_secs(300));
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let at =
            |millis: i64| Some(UNIX_EPOCH + Duration::from_millis((1_000_000_000 + millis) as u64));
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

    #[test]
    fn query_parameters_decode() {
        let p = params(Some(
            b"image=ghcr.io%2Forg%2Fapp%3Av1%40sha256%3Aabc&format=text&image=second",
        ));
        assert_eq!(p.image.as_deref(), Some("ghcr.io/org/app:v1@sha256:abc"));
        assert_eq!(p.format.as_deref(), Some("text"));
        let p = params(Some(b"image=a+b"));
        assert_eq!(p.image.as_deref(), Some("a b"));
    }
}
