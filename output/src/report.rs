//! The v1 documents of the output contract (docs/json.md): one image's answer and the error
//! document.

use std::time::SystemTime;

use crate::ErrorCode;
use oci::{PlatformCheck, Sense, Summary, Verification};
use serde::{Deserialize, Serialize};

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Memory,
    Dynamodb,
    Registry,
}

/// Cache metadata of an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CacheInfo {
    pub source: Source,
    /// When the registry was asked (RFC 3339 in documents).
    #[serde(with = "crate::timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub fetched_at: SystemTime,
    /// When the answer stops being fresh; `None` when it is not cached.
    #[serde(with = "crate::timestamp::option")]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Option<String>, format = DateTime, required = true)
    )]
    pub expires_at: Option<SystemTime>,
    pub stale: bool,
}

impl CacheInfo {
    /// Metadata for an answer fetched just now and not cached (the CLI's direct mode).
    pub fn fresh_from_registry() -> CacheInfo {
        CacheInfo {
            source: Source::Registry,
            fetched_at: SystemTime::now(),
            expires_at: None,
            stale: false,
        }
    }
}

/// The v1 JSON document for one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The reference as the user wrote it.
    pub image: String,
    /// The canonical reference (`docker.io/library/alpine:latest`).
    pub reference: String,
    #[serde(flatten)]
    pub summary: Summary,
    pub cache: CacheInfo,
    /// Whether the image supports the platform asked for (`--platform`, `platform=`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_check: Option<PlatformCheck>,
    /// What `--verify` (`verify=1`) found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
}

impl Report {
    /// mquery's text format, with the platform line (in `sense`) when a platform was asked for.
    pub fn to_text(&self, sense: Sense) -> String {
        crate::text::document(
            &self.image,
            &self.summary,
            self.platform_check.as_ref(),
            self.verification.as_ref(),
            sense,
        )
    }
}

/// The v1 document, borrowed: the service serializes it without copying the summary. Its
/// JSON is exactly [`Report`]'s.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportRef<'a> {
    pub image: &'a str,
    pub reference: &'a str,
    #[serde(flatten)]
    pub summary: &'a Summary,
    pub cache: &'a CacheInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform_check: Option<&'a PlatformCheck>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<&'a Verification>,
}

/// One image's lookup: its v1 document, or its error document.
pub type LookupResult = Result<Report, ErrorReport>;

/// The JSON error document: `{"image", "reference" (when parsed), "error": {code, message}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorReport {
    /// The image as given; absent when the request named none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    pub error: ErrorBody,
}

impl ErrorReport {
    /// The error document of a lookup of `image` (as given) that has no canonical reference
    /// to name.
    pub fn of_image(image: &str, code: ErrorCode, message: String) -> ErrorReport {
        ErrorReport {
            image: Some(image.to_owned()),
            reference: None,
            error: ErrorBody { code, message },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
}
