//! `/v1/inspect`, `/mquery` and the badges: the answer about one image, in one of the formats
//! the service speaks. The page (`page.rs`) answers about an image through the same
//! [`about_image`].

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use registry::{PlatformCheck, Sense, Verification};

use super::AppState;
use super::caching::{self, Prepared};
use super::negotiation;
use super::openapi;
use super::page::public_origin;
use super::params::{self, Params, Platform};
use crate::error::AppError;
use crate::inspect::{Answer, parse_image};
use crate::render::badge::{Badge, ShieldsEndpoint};
use crate::render::html::{self, PageContent};
use crate::render::mquery::{self, MqueryImage};
use output::Report;

/// The formats an answer is rendered in: one per route and `format` value, each with one
/// renderer ([`render`]) and one error form ([`AppError`]'s response).
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
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Format::Json | Format::Mquery | Format::Shields => "application/json",
            Format::Text => "text/plain; charset=utf-8",
            Format::Html => "text/html; charset=utf-8",
            Format::Svg => "image/svg+xml",
        }
    }

    pub(crate) fn tag(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Text => "text",
            Format::Html => "html",
            Format::Mquery => "mquery",
            Format::Svg => "svg",
            Format::Shields => "shields",
        }
    }

    pub(crate) fn is_badge(self) -> bool {
        matches!(self, Format::Svg | Format::Shields)
    }
}

/// `GET /v1/inspect`: the v1 document, or mquery's text, as `format` or `Accept` asks. Every
/// answer, an error too, varies by `Accept`.
#[utoipa::path(
    get,
    path = "/v1/inspect",
    tag = "image",
    params(openapi::ImageQuery, openapi::InspectQuery),
    responses(
        (status = 200, description = "The v1 document, or mquery's text (docs/json.md, docs/cli.md)", content(
            (Report = "application/json"),
            (String = "text/plain"),
        )),
        (status = 304, description = "`If-None-Match` names the answer's ETag: no body"),
        openapi::InspectErrors,
    ),
)]
pub(super) async fn inspect(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let mut response = negotiated(&state, &uri, &headers).await.into_response();
    let vary = HeaderValue::from_static("accept");
    response.headers_mut().insert(header::VARY, vary);
    response
}

async fn negotiated(
    state: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Response, AppError> {
    let p = params::query(uri);
    let format = negotiation::inspect_format(p.format.as_deref(), headers)
        .map_err(|e| e.about(p.image.as_deref(), None))?;
    let answering = Answering {
        format,
        vary: true,
        verify: p.verify,
    };
    about_image(state, uri, headers, &p, answering).await
}

/// `GET /mquery`: the mquery-compatible JSON.
#[utoipa::path(
    get,
    path = "/mquery",
    tag = "image",
    params(openapi::ImageQuery),
    responses(
        (status = 200, description = "The mquery-compatible JSON (docs/json.md)", body = MqueryImage),
        (status = 304, description = "`If-None-Match` names the answer's ETag: no body"),
        openapi::MqueryErrors,
    ),
)]
pub(super) async fn mquery(state: State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    speaks(Format::Mquery, state, uri, headers).await
}

/// `GET /v1/badge`: the SVG badge; every error is a 200 with an error badge.
#[utoipa::path(
    get,
    path = "/v1/badge",
    tag = "image",
    params(openapi::BadgeQuery),
    responses(
        (status = 200, description = "A shields.io-style flat SVG badge; an error is an error badge (docs/errors.md)", content_type = "image/svg+xml", body = String),
        (status = 304, description = "`If-None-Match` names the answer's ETag: no body"),
    ),
)]
pub(super) async fn badge(state: State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    speaks(Format::Svg, state, uri, headers).await
}

/// `GET /v1/shields`: the shields.io endpoint JSON; every error is a 200 with `isError`.
#[utoipa::path(
    get,
    path = "/v1/shields",
    tag = "image",
    params(openapi::BadgeQuery),
    responses(
        (status = 200, description = "The shields.io endpoint document; an error has `isError` (docs/errors.md)", body = ShieldsEndpoint),
        (status = 304, description = "`If-None-Match` names the answer's ETag: no body"),
    ),
)]
pub(super) async fn shields(state: State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    speaks(Format::Shields, state, uri, headers).await
}

/// A route that speaks one format (`/mquery`, the badges).
async fn speaks(
    format: Format,
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let answering = Answering {
        format,
        vary: false,
        verify: false,
    };
    about_image(&state, &uri, &headers, &params::query(&uri), answering)
        .await
        .into_response()
}

/// How a route answers about an image.
#[derive(Debug, Clone, Copy)]
pub(super) struct Answering {
    pub format: Format,
    /// `/v1/inspect`: the format came from `Accept`, and the response varies by it.
    pub vary: bool,
    /// `verify=1` on `/v1/inspect`: the index checked against its entries' configs.
    pub verify: bool,
}

/// Looks the query's image up and answers about it as `answering` says, or fails in its
/// format.
pub(super) async fn about_image(
    state: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
    p: &Params,
    answering: Answering,
) -> Result<Response, AppError> {
    let answered =
        async {
            let platform = p.platform()?;
            let (image, answer) = lookup(state, p.image.as_deref()).await?;
            let verification =
                match answering.verify {
                    true => Some(state.inspector.verify(&answer).await.map_err(|e| {
                        AppError::from(e).about(Some(&image), Some(&answer.reference))
                    })?),
                    false => None,
                };
            let key = uri.path_and_query().map(|key| key.as_str());
            let reply = Reply {
                image: &image,
                answer: &answer,
                platform: platform.as_ref(),
                verification: verification.as_ref(),
            };
            Ok(respond(
                state,
                headers,
                key.filter(|_| !p.others),
                answering,
                reply,
            ))
        };
    answered
        .await
        .map_err(|e: AppError| e.in_format(answering.format))
}

/// The image as given (trimmed) and its answer.
pub(super) async fn lookup(
    state: &AppState,
    image: Option<&str>,
) -> Result<(String, Answer), AppError> {
    let (image, reference) = parse_image(image)?;
    let answer = state.inspector.inspect(&image, &reference).await?;
    Ok((image, answer))
}

/// What a response about an answer says.
struct Reply<'a> {
    image: &'a str,
    answer: &'a Answer,
    platform: Option<&'a Platform>,
    verification: Option<&'a Verification>,
}

/// The response about an answer: 304 when the client has it, else the body, rendered once per
/// memory entry and format ([`rendered`]). `key`, the request's path and query (when it names
/// only `image` and `platform`), keeps it prepared for the next identical request, when
/// [`caching::preparable`] allows: that request gets it from [`Prepared::response`] too.
fn respond(
    state: &AppState,
    request: &HeaderMap,
    key: Option<&str>,
    answering: Answering,
    reply: Reply<'_>,
) -> Response {
    let Reply {
        image,
        answer,
        platform,
        verification,
    } = reply;
    let format = answering.format;
    let etag = caching::etag(answer, format, platform, verification.is_some());
    let keep = caching::preparable(key, answer, format);
    let body = if keep.is_none() && caching::not_modified(request, etag.to_str().unwrap_or("")) {
        // a 304 has no body
        Bytes::new()
    } else {
        let make = || {
            let check =
                platform.map(|(raw, spec)| PlatformCheck::with_spec(raw, spec, &answer.summary));
            render(format, image, answer, request, check.as_ref(), verification)
        };
        match verification {
            // verified answers are rare and their check is cached by digest: not memoized
            Some(_) => Bytes::from(make()),
            None => rendered(image, answer, format, platform, make),
        }
    };
    let prepared = Prepared::new(answer, format, body, etag, answering.vary);
    let response = prepared.response(request, state.inspector.lifetimes());
    if let Some(key) = keep {
        state.prepared.keep(key, answer, prepared);
    }
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
