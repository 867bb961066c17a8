//! The HTML page: `GET /` shows the forms, and with `?image=` the image's answer; `POST /` is
//! the "check a file" form, answered with the page showing the check's table.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::Response;

use super::inspect::{Answering, about_image};
use super::{AppState, Format, check, openapi, params, typed};
use crate::error::AppError;
use crate::freshness::{NO_STORE, page_cache_control};
use crate::render::html::{self, PageContent};

/// `GET /[?image=REF[&platform=P]]`.
#[utoipa::path(
    get,
    path = "/",
    tag = "page",
    params(openapi::PageQuery),
    responses(
        (status = 200, description = "The page: its forms, and with `image` the image's answer", content_type = "text/html", body = String),
        (status = 304, description = "`If-None-Match` names the answer's ETag: no body"),
        openapi::PageErrors,
    ),
)]
pub(super) async fn page(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let p = params::query(&uri);
    if p.image.as_deref().map(str::trim).is_none_or(str::is_empty) {
        let page = html::page("", None, &PageContent::Nothing);
        return Ok(typed(
            StatusCode::OK,
            page,
            Format::Html,
            &page_cache_control(),
        ));
    }
    let answering = Answering {
        format: Format::Html,
        vary: false,
        verify: false,
    };
    about_image(&state, &uri, &headers, &p, answering).await
}

/// The page's "check a file" form (`POST /`, form-encoded `file`, `platform`, `compatible`):
/// the same check as `/v1/check`, shown as a table under the form.
#[utoipa::path(
    post,
    path = "/",
    tag = "page",
    request_body(content = openapi::CheckForm, content_type = "application/x-www-form-urlencoded", description = "The form; without `file`, `400 INVALID_PARAMETER`"),
    responses(
        (status = 200, description = "The page with the check's table under the form", content_type = "text/html", body = String),
        openapi::FormErrors,
    ),
)]
pub(super) async fn check_form(
    State(state): State<AppState>,
    body: Body,
) -> Result<Response, AppError> {
    let deadline = tokio::time::Instant::now() + check::CHECK_DEADLINE;
    let in_page = |e: AppError| e.in_format(Format::Html);
    // form encoding at most triples the file's bytes
    let form = check::read_body(body, 3 * check::MAX_FILE + 4096, "the form")
        .await
        .map_err(in_page)?;
    let p = params::params(Some(&form));
    // browsers send a textarea's line breaks as CRLF; the page's form always sends `file`, so
    // a body without it is not the form
    let file = form_urlencoded::parse(&form)
        .find(|(key, _)| key == "file")
        .map(|(_, value)| value.replace("\r\n", "\n"))
        .ok_or_else(|| in_page(AppError::invalid_parameter("the form has no file field")))?;
    if file.len() > check::MAX_FILE {
        return Err(in_page(check::too_large("the file", check::MAX_FILE)));
    }
    let platform = p.platform().map_err(in_page)?;
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
        p.sense(),
        deadline,
    );
    let (status, outcome) = match checked.await {
        Ok(report) => (StatusCode::OK, Ok(report)),
        Err(e) => (e.status(), Err(e.report())),
    };
    let content = match &outcome {
        Ok(report) => PageContent::Check(report),
        Err(error) => PageContent::Error(error),
    };
    let page = html::page_with("", None, Some(&form), &content);
    Ok(typed(status, page, Format::Html, NO_STORE))
}

/// `scheme://host` as the client reached us (API Gateway sets `X-Forwarded-Proto`); empty
/// when the Host header is missing or odd, so links stay relative.
pub(super) fn public_origin(headers: &HeaderMap) -> String {
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
