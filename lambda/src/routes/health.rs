//! `GET /healthz`: the process answers.

use axum::http::StatusCode;
use axum::response::Response;

use super::{Format, typed};
use crate::freshness::NO_STORE;

pub(super) async fn healthz() -> Response {
    typed(StatusCode::OK, r#"{"status":"ok"}"#, Format::Json, NO_STORE)
}
