//! mquery's registry client: the lookups, the HTTP layer under them and everything that keeps
//! them safe (auth, SSRF guard, TLS, budgets). The pure OCI types it reads and answers with
//! (references, digests, platforms, manifests, summaries) are the `oci` crate's, re-exported
//! here under their old paths (`registry::Platform`, `registry::reference::Reference`, ...).
//!
//! # Layout
//!
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
//! - [`credentials`]: the command line user's own logins (a [`credentials::LoginSource`] the
//!   CLI sets in [`ClientConfig::logins`]; the service never does), read once per registry,
//!   and where they may be sent.
//! - [`config`]: the client's settings and the parsers binaries use for the environment.
//! - [`guard`]: the SSRF guard every outbound connection passes (IP checks, resolver).
//! - [`tls`]: which certificate authorities are trusted (system, compiled-in, `MQUERY_CA_FILE`)
//!   and what a refused certificate means.
//! - [`error`]: the crate's one error type and its code in the status table of
//!   docs/errors.md (`output::ErrorCode`, re-exported as `ErrorCode`); `OciErrorCode` is
//!   re-exported from `oci`.
//! - re-exported from `oci`: [`reference`](mod@reference), [`digest`], [`platform`],
//!   [`check`], [`diff`], [`verify`], [`manifest`], [`summary`].
//!
//! Nothing here knows about HTTP servers, Lambda, DynamoDB or how answers are printed (the
//! `output` crate).

pub mod auth;
pub mod batch;
pub mod challenges;
pub mod client;
pub mod config;
pub mod credentials;
pub mod error;
pub mod guard;
pub mod tls;
pub mod transport;

pub use batch::{Unfinished, gather};
pub use client::Client;
pub use config::ClientConfig;
pub use error::{Error, ErrorCode, OciErrorCode};
pub use oci::{
    Diff, Digest, Finding, ImageContent, MediaType, Platform, PlatformCheck, PlatformEntry,
    PlatformMatch, PlatformSpec, Reference, Sense, Summary, Verification,
};
pub use oci::{check, diff, digest, manifest, platform, reference, summary, verify};
