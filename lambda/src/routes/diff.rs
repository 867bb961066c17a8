//! `GET /v1/diff?old=REF&new=REF`: what NEW added and dropped relative to OLD, as JSON (the
//! same document as `mquery diff --json`), so a CI job can ask without installing anything.

use std::time::SystemTime;

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;

use super::inspect::lookup;
use super::{AppState, Format, caching, openapi, params, typed};
use crate::error::AppError;

/// `GET /v1/diff`.
#[utoipa::path(
    get,
    path = "/v1/diff",
    tag = "image",
    params(openapi::DiffQuery),
    responses(
        (status = 200, description = "The diff document (docs/json.md); the first failed lookup's error document otherwise", body = registry::Diff),
        openapi::LookupErrors,
    ),
)]
pub(super) async fn diff(State(state): State<AppState>, uri: Uri) -> Result<Response, AppError> {
    let p = params::query(&uri);
    let given = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
    let (Some(old), Some(new)) = (given(p.old), given(p.new)) else {
        return Err(AppError::invalid_parameter(
            "missing old or new parameter, e.g. ?old=app:1&new=app:2",
        ));
    };
    // the two lookups at once; OLD's failure first
    let (old, new) = tokio::join!(lookup(&state, Some(&old)), lookup(&state, Some(&new)));
    let ((old_image, old), (new_image, new)) = (old?, new?);
    let diff = registry::Diff::of(&old_image, &old.summary, &new_image, &new.summary);
    // fresh as long as both answers are
    let first_to_lapse = if old.expires_at <= new.expires_at {
        &old
    } else {
        &new
    };
    let freshness = caching::freshness(first_to_lapse, Format::Json);
    let cache = freshness.cache_control(state.inspector.lifetimes(), SystemTime::now());
    let body = serde_json::to_vec(&diff).unwrap_or_default();
    Ok(typed(StatusCode::OK, body, Format::Json, &cache))
}
