//! The mquery HTTP service.
//!
//! # Layout
//!
//! - [`routes`]: `app(state) -> Router` and the HTTP interface, one file per job: the router
//!   (`routes/mod.rs`), the handler families (`inspect.rs`: `/v1/inspect`, `/mquery`, the
//!   badges, the one `Format` enum with one renderer each; `page.rs`: the page and its check
//!   form; `diff.rs`; `check.rs`: `POST /v1/check` and the check behind it and the form;
//!   `health.rs`; a check is judged by `stack::report`), `params.rs`, `negotiation.rs` (`Accept`), `caching.rs` (ETags, 304s and the
//!   prepared responses repeated requests are answered from before routing), `apigw.rs` (API
//!   Gateway's stage and request id) and `middleware.rs` (common headers, the request log).
//! - [`error`]: the service's one error type, `AppError`, which handlers return and which is
//!   its own response (in the route's format, its detail carried to the request log), and
//!   the status table, one arm per `ErrorCode`.
//! - [`freshness`]: the freshness policy: every lifetime (a tag's, a digest's, "not found",
//!   grace, stale retry, the page's) named once, the cache's `Lifetimes` and the
//!   `Cache-Control` rule built on them.
//! - [`inspect`]: the `image` parameter, the lookup behind every route (memory, store,
//!   registry), the `Answer` every renderer takes, and the memo of rendered bodies.
//! - [`render`]: HTML page (maud), SVG badge (the `shields` crate), shields.io JSON, mquery's
//!   JSON shape (JSON and text come from the `output` crate).
//! - [`config`]: every environment variable, read once, into the types the settings own
//!   (`Config`, the local server's `ConnectionLimits`).
//! - [`server`]: running `app` on Lambda or on a local socket with graceful shutdown: the
//!   state, the workers (`server/mod.rs`), the accept loop (`accept.rs`), the connection cap
//!   and its shedding (`shedding.rs`), the write timeout (`write_timeout.rs`).
//! - [`secrets`]: the operator's Docker Hub account from AWS Secrets Manager.

pub mod challenge_book;
pub mod config;
pub mod error;
pub mod freshness;
pub mod inspect;
pub mod render;
pub mod routes;
pub mod secrets;
pub mod server;

pub use routes::{AppState, app};
