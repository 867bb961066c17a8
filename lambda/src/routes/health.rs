//! `GET /healthz`: the process answers.

use axum::http::StatusCode;
use axum::response::Response;

use super::{Format, openapi, typed};
use crate::freshness::NO_STORE;

/// `GET /healthz`.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "meta",
    responses((status = 200, description = "The process can serve", body = openapi::Health)),
)]
pub(super) async fn healthz() -> Response {
    typed(StatusCode::OK, r#"{"status":"ok"}"#, Format::Json, NO_STORE)
}
