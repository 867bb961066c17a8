//! The error codes of the output contract: the status table of docs/errors.md, written the
//! same in every document (JSON answers, error documents, badges, the CLI's `--json`).

/// A machine-readable error code, written `SCREAMING_SNAKE_CASE` in every document: the one
/// list of the status table in docs/errors.md, shared by the service, the badges and the CLI.
/// The registry client's errors map to a subset (`registry::Error::code`); the rest are the
/// service's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    InvalidReference,
    InvalidParameter,
    RegistryNotAllowed,
    NotFound,
    MethodNotAllowed,
    /// A request body over the service's limits (`POST /v1/check`: 1 MiB, 200 images).
    PayloadTooLarge,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamError,
    InvalidManifest,
    UnsupportedManifest,
    DigestMismatch,
    Internal,
    /// A code this build does not know (a newer service's): read, never a parse failure.
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// Every code the contract defines.
    pub const ALL: [ErrorCode; 13] = [
        ErrorCode::InvalidReference,
        ErrorCode::InvalidParameter,
        ErrorCode::RegistryNotAllowed,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UpstreamRateLimited,
        ErrorCode::UpstreamTimeout,
        ErrorCode::UpstreamError,
        ErrorCode::InvalidManifest,
        ErrorCode::UnsupportedManifest,
        ErrorCode::DigestMismatch,
        ErrorCode::Internal,
    ];

    /// The code as documents write it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidReference => "INVALID_REFERENCE",
            ErrorCode::InvalidParameter => "INVALID_PARAMETER",
            ErrorCode::RegistryNotAllowed => "REGISTRY_NOT_ALLOWED",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            ErrorCode::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ErrorCode::UpstreamRateLimited => "UPSTREAM_RATE_LIMITED",
            ErrorCode::UpstreamTimeout => "UPSTREAM_TIMEOUT",
            ErrorCode::UpstreamError => "UPSTREAM_ERROR",
            ErrorCode::InvalidManifest => "INVALID_MANIFEST",
            ErrorCode::UnsupportedManifest => "UNSUPPORTED_MANIFEST",
            ErrorCode::DigestMismatch => "DIGEST_MISMATCH",
            ErrorCode::Internal => "INTERNAL",
            ErrorCode::Unknown => "UNKNOWN",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The schema of a code: one of [`ErrorCode::ALL`], as written (`UNKNOWN` is never sent).
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for ErrorCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .enum_values(Some(ErrorCode::ALL.map(ErrorCode::as_str)))
            .description(Some("A code of the status table (docs/errors.md)."))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for ErrorCode {}

/// Lets tests and logs compare a code with its written form.
impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_written() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(&code).expect("serializes");
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            let back: ErrorCode = serde_json::from_str(&json).expect("parses");
            assert_eq!(back, code);
        }
        let newer: ErrorCode = serde_json::from_str("\"SOMETHING_NEW\"").expect("parses");
        assert_eq!(newer, ErrorCode::Unknown);
    }
}
