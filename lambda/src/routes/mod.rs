//! The HTTP interface. `app(state)` is the whole service; Lambda and the local server both run
//! it unchanged. Handlers return `Result<Response, AppError>` ([`crate::error`]).
//!
//! - this file: the router, the state every request shares, the 404 and 405 answers;
//! - `inspect.rs`: `/v1/inspect`, `/mquery` and the badges: the one [`Format`] enum, one
//!   renderer per format, and the response for an answer;
//! - `page.rs`: the HTML page and its "check a file" form;
//! - `diff.rs`: `/v1/diff`;
//! - `check.rs`: `POST /v1/check`, its CORS preflight, and the check behind it and the form;
//! - `health.rs`: `/healthz`;
//! - `openapi.rs`: the OpenAPI document (`/openapi.json`, docs/openapi.json), made from the
//!   handlers' `#[utoipa::path]` attributes;
//! - `params.rs`: the parameters of a query string or a form;
//! - `negotiation.rs`: which format `format` or `Accept` asks for;
//! - `caching.rs`: ETags, conditional requests and the prepared responses (the numbers of
//!   `Cache-Control` are [`crate::freshness`]'s);
//! - `apigw.rs`: API Gateway's stage prefix and request ids;
//! - `middleware.rs`: what every response carries, the prepared responses answered before
//!   routing, and the request's log line.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::error::AppError;
use crate::inspect::Inspector;

mod apigw;
mod caching;
mod check;
mod diff;
mod health;
mod inspect;
mod middleware;
mod negotiation;
pub mod openapi;
mod page;
mod params;

pub use inspect::Format;

/// Shared state of every request.
#[derive(Debug, Clone)]
pub struct AppState {
    inspector: Inspector,
    /// Responses to repeated requests, prepared while their answer is fresh in memory.
    prepared: caching::PreparedResponses,
}

impl AppState {
    pub fn new(inspector: Inspector) -> AppState {
        AppState {
            inspector,
            prepared: caching::PreparedResponses::new(),
        }
    }
}

/// The service. Tests call `app(state).oneshot(request)` without a socket.
pub fn app(state: AppState) -> Router {
    let routes = Router::new()
        .route("/", get(page::page).post(page::check_form))
        .route("/v1/inspect", get(inspect::inspect))
        .route("/mquery", get(inspect::mquery))
        .route("/v1/badge", get(inspect::badge))
        .route("/v1/shields", get(inspect::shields))
        .route("/v1/diff", get(diff::diff))
        .route(
            "/v1/check",
            post(check::check_file).options(check::preflight),
        )
        .route("/healthz", get(health::healthz))
        .route("/openapi.json", get(openapi::openapi))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state.clone());
    // the middleware strips the stage prefix, which must happen before routing: it wraps the
    // whole router
    Router::new()
        .fallback_service(routes)
        .layer(from_fn_with_state(state, middleware::common))
}

async fn route_not_found(uri: Uri) -> AppError {
    AppError::route_not_found(&crate::render::clip(uri.path(), 100))
}

/// 405, with the methods the path does answer.
async fn method_not_allowed(uri: Uri) -> Response {
    let mut response = AppError::method_not_allowed().into_response();
    let allow = match uri.path() {
        "/v1/check" => "POST, OPTIONS",
        "/" => "GET, HEAD, POST",
        // /v1/inspect, /mquery, /v1/badge, /v1/shields, /v1/diff, /healthz, /openapi.json
        _ => "GET, HEAD",
    };
    set(&mut response, header::ALLOW, allow);
    response
}

/// A response in `format`: the status, the body, its Content-Type and Cache-Control.
pub(crate) fn typed(
    status: StatusCode,
    body: impl Into<Body>,
    format: Format,
    cache: &str,
) -> Response {
    let mut response = (status, body.into()).into_response();
    set(&mut response, header::CONTENT_TYPE, format.content_type());
    set(&mut response, header::CACHE_CONTROL, cache);
    response
}

/// Sets a header whose value is valid (every caller's is).
pub(crate) fn set(response: &mut Response, name: impl header::IntoHeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}
