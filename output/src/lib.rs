//! mquery's output contract (docs/json.md, docs/cli.md#output): the v1 JSON documents, the text
//! format, and the error codes of the status table. The CLI and the service both render from
//! these types, so their outputs cannot drift apart.
//!
//! # Layout
//!
//! - [`report`]: the v1 answer ([`Report`], borrowed as [`ReportRef`]), its cache metadata
//!   ([`CacheInfo`], [`Source`]) and the error document ([`ErrorReport`]).
//! - [`text`]: mquery's text format and the escaping of registry-controlled strings.
//! - [`timestamp`]: RFC 3339 rendering of times, used by the documents' serde.
//! - [`error_code`]: [`ErrorCode`], the status table's codes (docs/errors.md).

pub mod error_code;
pub mod report;
pub mod text;
pub mod timestamp;

pub use error_code::ErrorCode;
pub use report::{CacheInfo, ErrorBody, ErrorReport, Report, ReportRef, Source};
pub use text::{clip, printable};
