//! The mquery HTTP service.
//!
//! # Layout
//!
//! - [`routes`]: `app(state) -> Router`, the routes, content negotiation, caching headers.
//! - [`inspect`]: the `image` parameter, and the lookup behind every route.
//! - [`render`]: HTML page, SVG badge, shields.io JSON, mquery's JSON shape (JSON and text
//!   come from [`registry::Report`]).
//! - [`error`]: the service's error type and the one status table.
//! - [`config`]: every environment variable, read once.
//! - [`server`]: running `app` on Lambda or on a local socket with graceful shutdown.
//! - [`secrets`]: the operator's Docker Hub account from AWS Secrets Manager.

pub mod config;
pub mod error;
pub mod inspect;
pub mod render;
pub mod routes;
pub mod secrets;
pub mod server;

pub use routes::{AppState, app};
