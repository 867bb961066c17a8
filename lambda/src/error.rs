//! The service's one error type, [`AppError`], and the one place that maps errors to HTTP
//! statuses (the status table of docs/errors.md).
//!
//! As in axum's error-handling example, handlers return `Result<Response, AppError>` and use
//! `?`: an `AppError` is its own response. It carries what is known of the request (the image
//! as given, the reference once it parsed) for the error document (docs/json.md, "The error
//! document"), the format of the route that failed, and the full detail, which the response
//! carries to the request's log line (the body does not show it for server errors).

use std::fmt;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use output::{ErrorBody, ErrorReport};
use registry::{ErrorCode, Reference};

use crate::freshness::{ERROR_BADGE, NO_STORE};
use crate::render::badge::Badge;
use crate::render::html::{self, PageContent};
use crate::render::mquery;
use crate::routes::{Format, set, typed};

/// Everything a request can fail with, as its error response will say it.
#[derive(Debug, Clone)]
pub struct AppError {
    code: ErrorCode,
    /// What the client is told. 5xx answers name the failing registry but repeat nothing it
    /// sent.
    message: String,
    /// The whole sentence, for the log.
    detail: String,
    /// Seconds for a `Retry-After` header: the delay a rate-limiting registry asked for.
    retry_after: Option<u64>,
    /// The image as the request gave it.
    image: Option<String>,
    /// The canonical reference, once the image parsed.
    reference: Option<String>,
    /// The format of the route that failed (JSON unless the route says otherwise).
    format: Format,
}

impl AppError {
    fn new(code: ErrorCode, message: String) -> AppError {
        AppError {
            code,
            detail: message.clone(),
            message,
            retry_after: None,
            image: None,
            reference: None,
            format: Format::Json,
        }
    }

    /// A missing or malformed parameter (or request body); `message` says which and why.
    pub fn invalid_parameter(message: impl Into<String>) -> AppError {
        AppError::new(ErrorCode::InvalidParameter, message.into())
    }

    /// A path that is no route.
    pub fn route_not_found(path: &str) -> AppError {
        AppError::new(ErrorCode::NotFound, format!("no such route: {path}"))
    }

    pub fn method_not_allowed() -> AppError {
        AppError::new(ErrorCode::MethodNotAllowed, "method not allowed".to_owned())
    }

    /// A request body over the route's limits: the sentence says which and by how much.
    pub fn payload_too_large(message: impl Into<String>) -> AppError {
        AppError::new(ErrorCode::PayloadTooLarge, message.into())
    }

    /// A bug: the client is told only "internal error"; the log has `detail`.
    pub fn internal(detail: impl fmt::Display) -> AppError {
        AppError {
            detail: format!("internal error: {detail}"),
            ..AppError::new(ErrorCode::Internal, "internal error".to_owned())
        }
    }

    /// The error about `image` (as given) and `reference`, for the error document.
    pub fn about(mut self, image: Option<&str>, reference: Option<&Reference>) -> AppError {
        self.image = image.map(str::to_owned);
        self.reference = reference.map(Reference::canonical);
        self
    }

    /// The error answered in `format`.
    pub fn in_format(mut self, format: Format) -> AppError {
        self.format = format;
        self
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The status table. Every error response's status comes from here.
    pub fn status(&self) -> StatusCode {
        status_of(self.code)
    }

    /// What the client is told.
    pub fn public_message(&self) -> &str {
        &self.message
    }

    /// Seconds for a `Retry-After` header.
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after
    }

    /// The image as the request gave it, if the error is about one.
    pub fn image(&self) -> Option<&str> {
        self.image.as_deref()
    }

    /// The error document.
    pub fn report(&self) -> ErrorReport {
        ErrorReport {
            image: self.image.clone(),
            reference: self.reference.clone(),
            error: ErrorBody {
                code: self.code,
                message: self.message.clone(),
            },
        }
    }
}

impl From<registry::Error> for AppError {
    fn from(e: registry::Error) -> AppError {
        AppError {
            detail: e.to_string(),
            retry_after: e.retry_after().map(|d| d.as_secs().max(1)),
            ..AppError::new(e.code(), e.public_message())
        }
    }
}

/// The full detail, as logged.
impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.detail)
    }
}

impl std::error::Error for AppError {}

/// The error response in the route's format, the error itself in its extensions for the
/// request log (the middleware writes it).
impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let format = self.format;
        let report = self.report();
        let (status, body) = match format {
            Format::Json => (
                self.status(),
                serde_json::to_vec(&report).unwrap_or_default(),
            ),
            Format::Text => (
                self.status(),
                format!("error: {}\n", output::printable(&report.error.message)).into_bytes(),
            ),
            Format::Html => (
                self.status(),
                html::page("", self.image(), &PageContent::Error(&report)).into_bytes(),
            ),
            Format::Mquery => (self.status(), mquery::error(&report.error.message)),
            // a README never shows a broken image: badges answer 200 with an error badge
            Format::Svg => (
                StatusCode::OK,
                Badge::for_error(self.code).svg().into_bytes(),
            ),
            Format::Shields => (StatusCode::OK, Badge::for_error(self.code).shields_json()),
        };
        let cache = if format.is_badge() {
            ERROR_BADGE
        } else {
            NO_STORE
        };
        let mut response = typed(status, body, format, cache);
        if let Some(secs) = self.retry_after.filter(|_| !format.is_badge()) {
            set(&mut response, header::RETRY_AFTER, &secs.to_string());
        }
        response.extensions_mut().insert(self);
        response
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
        AppError::from(match code {
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
        assert_eq!(AppError::invalid_parameter("x").status(), 400);
        assert_eq!(AppError::route_not_found("/x").status(), 404);
        assert_eq!(AppError::internal("boom").status(), 500);
        assert_eq!(AppError::method_not_allowed().status(), 405);
        assert_eq!(AppError::payload_too_large("big").status(), 413);
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
            !e.clone()
                .about(Some("x"), None)
                .report()
                .error
                .message
                .contains("secret")
        );
        assert_eq!(
            AppError::internal("stack").public_message(),
            "internal error"
        );
        assert_eq!(
            registry_error("UPSTREAM_RATE_LIMITED").retry_after_secs(),
            Some(30)
        );
    }

    /// The JSON error body keeps the bytes of docs/json.md's error document; the response
    /// carries the error, with its full detail, to the request log.
    #[tokio::test]
    async fn the_json_error_body_and_the_logged_detail() {
        let invalid = registry_error("INVALID_REFERENCE").about(Some("Alpine"), None);
        let response = invalid.into_response();
        assert_eq!(response.status(), 400);
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .expect("body");
        assert_eq!(
            body,
            r#"{"image":"Alpine","error":{"code":"INVALID_REFERENCE","message":"invalid reference \"A\": repository name must be lowercase"}}"#
        );
        let failed = registry_error("UPSTREAM_ERROR").in_format(Format::Svg);
        let response = failed.into_response();
        assert_eq!(response.status(), 200, "a badge never breaks");
        let logged = response.extensions().get::<AppError>().expect("the error");
        assert_eq!(logged.status(), 502);
        assert!(logged.to_string().contains("secret detail"), "{logged}");
    }
}
