//! mquery's output contract (docs/json.md, docs/cli.md#output): the v1 JSON documents, the text
//! format, and the error codes of the status table. The CLI and the service both render from
//! these types, so their outputs cannot drift apart.
//!
//! # Layout
//!
//! - [`report`]: the v1 answer ([`Report`], borrowed as [`ReportRef`]), its cache metadata
//!   ([`CacheInfo`], [`Source`]), the error document ([`ErrorReport`]) and one lookup's
//!   outcome, either of them ([`LookupResult`]).
//! - [`stack`]: the check document of a stack ([`StackReport`]): its counts, its entries
//!   per image and per problem, and the rows of its table.
//! - [`text`]: mquery's text format and the escaping of registry-controlled strings; in it
//!   [`text::stack`], a stack check's table and summary line.
//! - [`timestamp`]: RFC 3339 rendering of times, used by the documents' serde.
//! - [`error_code`]: [`ErrorCode`], the status table's codes (docs/errors.md).
//! - [`formats`]: `--format`'s formats of a stack check: GitHub workflow commands, SARIF,
//!   JUnit XML and Markdown, beside the text and the check document.

pub mod error_code;
pub mod formats;
pub mod report;
pub mod stack;
pub mod text;
pub mod timestamp;

pub use error_code::ErrorCode;
pub use report::{CacheInfo, ErrorBody, ErrorReport, LookupResult, Report, ReportRef, Source};
pub use stack::StackReport;
pub use text::{clip, printable};
