//! The service's one error type and the one place that maps errors to HTTP statuses
//! (the status table of docs/errors.md).

use axum::http::StatusCode;
use output::{ErrorBody, ErrorReport};
use registry::ErrorCode;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Registry(#[from] registry::Error),
    #[error("{0}")]
    InvalidParameter(String),
    #[error("no such route: {0}")]
    RouteNotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    /// A request body over the route's limits: the sentence says which and by how much.
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn code(&self) -> ErrorCode {
        match self {
            AppError::Registry(e) => e.code(),
            AppError::InvalidParameter(_) => ErrorCode::InvalidParameter,
            AppError::RouteNotFound(_) => ErrorCode::NotFound,
            AppError::MethodNotAllowed => ErrorCode::MethodNotAllowed,
            AppError::PayloadTooLarge(_) => ErrorCode::PayloadTooLarge,
            AppError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The status table. Every error response's status comes from here.
    pub fn status(&self) -> StatusCode {
        status_of(self.code())
    }

    /// What the client is told. 5xx answers name the failing registry but repeat nothing it
    /// sent; the full detail is logged.
    pub fn public_message(&self) -> String {
        match self {
            AppError::Registry(e) => e.public_message(),
            AppError::Internal(_) => "internal error".to_owned(),
            other => other.to_string(),
        }
    }

    /// Seconds for a `Retry-After` header.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            AppError::Registry(e) => e.retry_after().map(|d| d.as_secs().max(1)),
            _ => None,
        }
    }

    pub fn to_report(&self, image: Option<&str>, reference: Option<&str>) -> ErrorReport {
        ErrorReport {
            image: image.map(str::to_owned),
            reference: reference.map(str::to_owned),
            error: ErrorBody {
                code: self.code(),
                message: self.public_message(),
            },
        }
    }
}

/// The status table of docs/errors.md, one arm per code.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::InvalidReference | ErrorCode::InvalidParameter => StatusCode::BAD_REQUEST,
        ErrorCode::RegistryNotAllowed => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::UpstreamRateLimited => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
        ErrorCode::UpstreamError
        | ErrorCode::InvalidManifest
        | ErrorCode::UnsupportedManifest
        | ErrorCode::DigestMismatch => StatusCode::BAD_GATEWAY,
        ErrorCode::Internal | ErrorCode::Unknown => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn registry_error(code: &str) -> AppError {
        let registry = "r.io".to_owned();
        AppError::Registry(match code {
            "NOT_FOUND" => registry::Error::NotFound {
                reference: "r.io/a:b".into(),
            },
            "UPSTREAM_RATE_LIMITED" => registry::Error::RateLimited {
                registry,
                retry_after: Some(Duration::from_secs(30)),
            },
            "UPSTREAM_TIMEOUT" => registry::Error::Timeout { registry },
            "UPSTREAM_ERROR" => registry::Error::Transport {
                registry,
                detail: "secret detail".into(),
            },
            "DIGEST_MISMATCH" => registry::Error::DigestMismatch {
                reference: "r.io/a:b".into(),
                expected: registry::Digest::sha256(b"1"),
                actual: registry::Digest::sha256(b"2"),
            },
            "REGISTRY_NOT_ALLOWED" => registry::Error::NotAllowed {
                host: "10.0.0.1".into(),
                reason: "private address".into(),
            },
            _ => registry::Error::InvalidReference {
                input: "A".into(),
                source: registry::reference::ParseError::NameContainsUppercase,
            },
        })
    }

    #[test]
    fn status_table() {
        let cases = [
            ("INVALID_REFERENCE", 400),
            ("NOT_FOUND", 404),
            ("REGISTRY_NOT_ALLOWED", 403),
            ("UPSTREAM_RATE_LIMITED", 503),
            ("UPSTREAM_TIMEOUT", 504),
            ("UPSTREAM_ERROR", 502),
            ("DIGEST_MISMATCH", 502),
        ];
        for (code, status) in cases {
            let e = registry_error(code);
            assert_eq!(e.code(), code);
            assert_eq!(e.status().as_u16(), status, "{code}");
        }
        assert_eq!(AppError::InvalidParameter("x".into()).status(), 400);
        assert_eq!(AppError::RouteNotFound("/x".into()).status(), 404);
        assert_eq!(AppError::Internal("boom".into()).status(), 500);
        assert_eq!(AppError::MethodNotAllowed.status(), 405);
        assert_eq!(AppError::PayloadTooLarge("big".into()).status(), 413);
        // every code of the contract has its row
        for code in ErrorCode::ALL {
            let status = status_of(code);
            assert!(
                status.is_client_error() || status.is_server_error(),
                "{code}"
            );
        }
    }

    #[test]
    fn server_errors_do_not_leak_detail() {
        let e = registry_error("UPSTREAM_ERROR");
        assert_eq!(e.public_message(), "registry r.io failed");
        assert!(
            !e.to_report(Some("x"), None)
                .error
                .message
                .contains("secret")
        );
        assert_eq!(
            AppError::Internal("stack".into()).public_message(),
            "internal error"
        );
        assert_eq!(
            registry_error("UPSTREAM_RATE_LIMITED").retry_after_secs(),
            Some(30)
        );
    }
}
