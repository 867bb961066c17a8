//! Pure domain types and a minimal registry client for mquery.
//!
//! # Layout
//!
//! - [`reference`](mod@reference): image references, parsed and normalized as distribution/reference does.
//! - [`digest`]: content digests and their verification.
//! - [`platform`]: platforms, mquery's display rule, containerd's specifier syntax, `Only`
//!   vectors and Windows/feature rules.
//! - [`check`]: `PlatformCheck`, which entry satisfies a platform natively and compatibly.
//! - [`diff`]: platforms a release added and dropped (`mquery diff`).
//! - [`verify`]: `--verify`'s pure part: index labels against image configs, duplicates.
//! - [`manifest`]: media types and the pure parsing of manifests, index entries and configs.
//! - [`summary`]: the answer for one image, and the pure summarizer
//!   (`Summary::from_index`, `Summary::from_image`) that makes it from parsed manifests.
//! - [`auth`]: `WWW-Authenticate` challenges, the token request and its response, the
//!   operator's Docker Hub account (sent to Docker Hub's token service only), one bounded
//!   cache of challenges and tokens.
//! - [`transport`]: the HTTP layer: guarded reqwest client and redirects, request budget,
//!   body caps, what a response means (`Outcome`), `Endpoint` and `Repository`.
//! - [`client`]: the lookups (`summarize`, `head_digest`, `verify`) with their deadline and
//!   request budget; in it `routing` (endpoints: Docker Hub, its mirror, the fallback on 429),
//!   `request` (the request loop with auth and its retries), [`client::breaker`] (a circuit
//!   breaker and a bulkhead per host) and [`client::quota`] (Docker Hub's pull quota).
//! - [`batch`]: many lookups at once ([`gather`]): bounded, in order, within a deadline.
//! - [`config`]: the client's settings and the parsers binaries use for the environment.
//! - [`guard`]: the SSRF guard every outbound connection passes (IP checks, resolver).
//! - [`tls`]: which certificate authorities are trusted (system, compiled-in, `MQUERY_CA_FILE`)
//!   and what a refused certificate means.
//! - [`error`]: the crate's one error type, `ErrorCode` (the status table's codes) and the
//!   registry's own `OciErrorCode`s.
//!
//! Nothing here knows about HTTP servers, Lambda, DynamoDB or how answers are printed (the
//! `output` crate).

pub mod auth;
pub mod batch;
pub mod check;
pub mod client;
pub mod config;
pub mod diff;
pub mod digest;
pub mod error;
pub mod guard;
pub mod manifest;
pub mod platform;
pub mod reference;
pub mod summary;
pub mod tls;
pub mod transport;
pub mod verify;

pub use batch::{Unfinished, gather};
pub use check::{PlatformCheck, PlatformMatch, Sense};
pub use client::Client;
pub use config::ClientConfig;
pub use diff::Diff;
pub use digest::Digest;
pub use error::{Error, ErrorCode, OciErrorCode};
pub use manifest::MediaType;
pub use platform::{Platform, PlatformSpec};
pub use reference::Reference;
pub use summary::{ImageContent, PlatformEntry, Summary};
pub use verify::{Finding, Verification};
