//! The mquery HTTP service.
//!
//! # Layout
//!
//! - [`routes`]: `app(state) -> Router`, the routes, the one `Format` enum with one renderer
//!   each, content negotiation, caching headers from the cache's lifetimes, `Rejection` (the
//!   error response, its detail carried to the request log in a response extension).
//! - [`inspect`]: the `image` parameter, the lookup behind every route (memory, store,
//!   registry), the `Answer` every renderer takes, and the memo of rendered bodies.
//! - [`render`]: HTML page (maud), SVG badge (the `shields` crate), shields.io JSON, mquery's
//!   JSON shape (JSON and text come from the `output` crate).
//! - [`check`]: `POST /v1/check` and the page's check form: a file's images, each looked up
//!   once through the cache, judged by `stack::report`.
//! - [`error`]: the service's error type and the status table, one arm per `ErrorCode`.
//! - [`config`]: every environment variable, read once, into the types the settings own
//!   (`Config`, the local server's `ConnectionLimits`).
//! - [`server`]: running `app` on Lambda or on a local socket with graceful shutdown.
//! - [`secrets`]: the operator's Docker Hub account from AWS Secrets Manager.

pub mod check;
pub mod config;
pub mod error;
pub mod inspect;
pub mod render;
pub mod routes;
pub mod secrets;
pub mod server;

pub use routes::{AppState, app};
