//! What every response carries (CORS, `nosniff`, the request id), the prepared responses
//! answered before routing, and one log line per request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument as _;

use super::{AppState, apigw};
use crate::error::AppError;

static REQUEST_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A request id for logs: Lambda's own when there is one, else process-unique.
fn request_id(request: &Request) -> String {
    if let Some(id) = apigw::request_id(request) {
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

/// Strips API Gateway's stage, answers a repeated request from its prepared response (see
/// `caching.rs`) or routes it, adds the headers every response carries, and logs.
pub(super) async fn common(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    apigw::strip_stage(&mut request);
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
    let mut response = match state.prepared.answer(&request, &state.inspector) {
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
    if let Some(error) = response.extensions().get::<AppError>() {
        let (code, image) = (error.code().as_str(), error.image());
        span.in_scope(|| {
            if error.status().is_server_error() {
                tracing::error!(code, detail = %error, image, "request failed");
            } else {
                tracing::debug!(code, detail = %error, "request refused");
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
