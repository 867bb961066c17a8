//! API Gateway's part of a request, as `lambda_http` hands it over: the stage in front of the
//! path, and the request id.

use axum::extract::Request;
use axum::http::Uri;
use lambda_http::RequestExt as _;
use lambda_http::request::RequestContext;

/// API Gateway puts a named stage in front of the path (`/prod/v1/inspect`); routes are
/// written without it.
pub(super) fn strip_stage(request: &mut Request) {
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

/// Lambda's request id, or API Gateway's, when the request came through them.
pub(super) fn request_id(request: &Request) -> Option<String> {
    if let Some(context) = request.lambda_context_ref() {
        return Some(context.request_id.clone());
    }
    match request.extensions().get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV1(c)) => c.request_id.clone(),
        Some(RequestContext::ApiGatewayV2(c)) => c.request_id.clone(),
        _ => None,
    }
}
