//! The pure OCI vocabulary of mquery: what an image reference, a digest, a platform, a
//! manifest and an image's answer are, and what is judged from them. No I/O of any kind: no
//! network, no runtime, no cache. The registry client (`registry`), the output contract
//! (`output`), the stack scanner (`stack`), the service and the fuzz targets all call this
//! same code.
//!
//! # Layout
//!
//! - [`reference`](mod@reference): image references, parsed and normalized as
//!   distribution/reference does.
//! - [`digest`]: content digests and their verification.
//! - [`platform`]: platforms, mquery's display rule, containerd's specifier syntax, `Only`
//!   vectors and Windows/feature rules.
//! - [`check`]: `PlatformCheck`, which entry satisfies a platform natively and compatibly.
//! - [`diff`]: platforms a release added and dropped (`mquery diff`).
//! - [`verify`]: `--verify`'s pure part: index labels against image configs, duplicates.
//! - [`manifest`]: media types and the pure parsing of manifests, index entries and configs.
//! - [`summary`]: the answer for one image, and the pure summarizer
//!   (`Summary::from_index`, `Summary::from_image`) that makes it from parsed manifests.
//! - [`error_code`]: `OciErrorCode`, the codes of a registry's error body.

pub mod check;
pub mod diff;
pub mod digest;
pub mod error_code;
pub mod manifest;
pub mod platform;
pub mod reference;
pub mod summary;
pub mod token_claims;
pub mod verify;

pub use check::{PlatformCheck, PlatformMatch, Sense};
pub use diff::Diff;
pub use digest::Digest;
pub use error_code::OciErrorCode;
pub use manifest::MediaType;
pub use platform::{Platform, PlatformSpec};
pub use reference::Reference;
pub use summary::{ImageContent, PlatformEntry, Summary};
pub use verify::{Finding, Verification};
