//! The one error type of this crate. Every variant carries the context a user needs, and
//! `Display` is a short sentence fit for a terminal or a JSON error message.

use std::time::Duration;

use crate::digest::Digest;
use crate::manifest::ManifestError;
use crate::reference::ParseError;
use crate::tls::CertificateProblem;

pub use oci::OciErrorCode;
pub use output::ErrorCode;

/// Everything a lookup can fail with.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("invalid reference {input:?}: {source}")]
    InvalidReference {
        input: String,
        #[source]
        source: ParseError,
    },
    #[error("image not found or not public: {reference}")]
    NotFound { reference: String },
    /// A registry refused the lookup where the command line's user logins are read
    /// ([`crate::credentials`]): no login, or one that cannot read the image. Its code is
    /// `NOT_FOUND`, as a refusal without logins.
    #[error("unauthorized: check your login for {registry} ({reference})")]
    Unauthorized { registry: String, reference: String },
    /// The user's login for a registry could not be read (a credential helper that failed,
    /// hung or printed garbage): that registry's lookups fail, as `docker pull` and podman do.
    #[error("cannot read the login for {registry}: {detail}")]
    Login { registry: String, detail: String },
    #[error("registry rate limit{}", retry_suffix(*retry_after))]
    RateLimited {
        registry: String,
        retry_after: Option<Duration>,
    },
    #[error("registry {registry} did not answer in time")]
    Timeout { registry: String },
    /// The connection failed: refused, reset, a broken redirect chain, a truncated body.
    #[error("registry {registry} failed: {detail}")]
    Transport { registry: String, detail: String },
    /// The registry answered with a status the protocol does not expect here.
    #[error("registry {registry} failed: HTTP {status}{}", codes_suffix(codes))]
    UnexpectedStatus {
        registry: String,
        status: u16,
        /// The registry's own `errors[].code` values, when its body had them.
        codes: Vec<OciErrorCode>,
    },
    /// The token service named by the registry's challenge failed.
    #[error("registry {registry} failed: token server {realm_host}: {problem}")]
    TokenServer {
        registry: String,
        realm_host: String,
        problem: TokenProblem,
    },
    /// Content an index or manifest points at is missing: the image was found, the registry
    /// is broken.
    #[error("registry {registry} failed: {what} {digest} is missing")]
    MissingContent {
        registry: String,
        what: &'static str,
        digest: Digest,
    },
    #[error("certificate not trusted: {registry}: {problem}")]
    CertificateNotTrusted {
        registry: String,
        problem: CertificateProblem,
    },
    #[error("lookup at {registry} needed more than {limit} registry requests")]
    BudgetExceeded { registry: String, limit: usize },
    #[error("cannot set up the registry client: {detail}")]
    ClientSetup { detail: String },
    #[error("invalid manifest from {registry}: {source}")]
    InvalidManifest {
        registry: String,
        #[source]
        source: ManifestError,
    },
    #[error("unsupported manifest from {registry}: {source}")]
    UnsupportedManifest {
        registry: String,
        #[source]
        source: ManifestError,
    },
    #[error("{what} is larger than the {limit}-byte limit (from {registry})")]
    TooLarge {
        registry: String,
        what: &'static str,
        limit: usize,
    },
    #[error("digest mismatch for {reference}: expected {expected}, the registry sent {actual}")]
    DigestMismatch {
        reference: String,
        expected: Digest,
        actual: Digest,
    },
    #[error("registry {host} is not allowed: {reason}")]
    NotAllowed { host: String, reason: String },
}

/// What went wrong at a token service.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenProblem {
    #[error("invalid token realm {0:?}")]
    InvalidRealm(String),
    #[error("answered HTTP {0}")]
    Status(u16),
    #[error("response over {0} bytes")]
    TooLarge(usize),
    #[error("token response is not JSON: {0}")]
    NotJson(String),
    #[error("token response has neither token nor access_token")]
    NoToken,
}

fn codes_suffix(codes: &[OciErrorCode]) -> String {
    if codes.is_empty() {
        return String::new();
    }
    let names: Vec<&str> = codes.iter().map(OciErrorCode::as_str).collect();
    format!(": {}", names.join(", "))
}

fn retry_suffix(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!(", retry after {}s", d.as_secs().max(1)),
        None => String::new(),
    }
}

impl Error {
    /// The stable machine-readable code of the status table (docs/errors.md).
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::InvalidReference { .. } => ErrorCode::InvalidReference,
            Error::NotFound { .. } | Error::Unauthorized { .. } => ErrorCode::NotFound,
            Error::RateLimited { .. } => ErrorCode::UpstreamRateLimited,
            Error::Timeout { .. } => ErrorCode::UpstreamTimeout,
            Error::Transport { .. }
            | Error::UnexpectedStatus { .. }
            | Error::TokenServer { .. }
            | Error::MissingContent { .. }
            | Error::CertificateNotTrusted { .. }
            | Error::BudgetExceeded { .. }
            | Error::Login { .. }
            | Error::ClientSetup { .. } => ErrorCode::UpstreamError,
            Error::InvalidManifest { .. } | Error::TooLarge { .. } => ErrorCode::InvalidManifest,
            Error::UnsupportedManifest { .. } => ErrorCode::UnsupportedManifest,
            Error::DigestMismatch { .. } => ErrorCode::DigestMismatch,
            Error::NotAllowed { .. } => ErrorCode::RegistryNotAllowed,
        }
    }

    /// A sentence safe to show to anyone: for upstream failures it names the registry but
    /// repeats nothing the registry sent (those details belong in logs).
    pub fn public_message(&self) -> String {
        match self {
            Error::Transport { registry, .. }
            | Error::UnexpectedStatus { registry, .. }
            | Error::TokenServer { registry, .. }
            | Error::MissingContent { registry, .. } => format!("registry {registry} failed"),
            Error::ClientSetup { .. } => "the registry client is not set up".to_owned(),
            Error::InvalidManifest { registry, .. } | Error::TooLarge { registry, .. } => {
                format!("invalid manifest from {registry}")
            }
            Error::UnsupportedManifest {
                registry,
                source: ManifestError::Schema1,
            } => format!(
                "unsupported manifest from {registry}: {}",
                ManifestError::Schema1
            ),
            Error::UnsupportedManifest { registry, .. } => {
                format!("unsupported manifest media type from {registry}")
            }
            Error::DigestMismatch { reference, .. } => {
                format!("digest mismatch for {reference}: the registry sent other content")
            }
            other => other.to_string(),
        }
    }

    /// How long the registry asked us to wait, for a rate-limit error.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_short_sentences() {
        let e = Error::RateLimited {
            registry: "registry-1.docker.io".into(),
            retry_after: Some(Duration::from_secs(30)),
        };
        assert_eq!(e.to_string(), "registry rate limit, retry after 30s");
        assert_eq!(e.code(), "UPSTREAM_RATE_LIMITED");
        assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
        assert_eq!(e.public_message(), "registry rate limit, retry after 30s");
        let e = Error::UnexpectedStatus {
            registry: "ghcr.io".into(),
            status: 500,
            codes: vec![OciErrorCode::parse("<script>")],
        };
        assert_eq!(e.to_string(), "registry ghcr.io failed: HTTP 500: <script>");
        assert_eq!(e.public_message(), "registry ghcr.io failed");
        let e = Error::CertificateNotTrusted {
            registry: "127.0.0.1:5443".into(),
            problem: CertificateProblem::UnknownIssuer,
        };
        assert_eq!(e.code(), "UPSTREAM_ERROR");
        assert_eq!(
            e.public_message(),
            "certificate not trusted: 127.0.0.1:5443: issued by an unknown authority \
             (trust its CA with SSL_CERT_FILE or MQUERY_CA_FILE)"
        );
        let e = Error::MissingContent {
            registry: "r.io".into(),
            what: "config blob",
            digest: Digest::sha256(b"x"),
        };
        assert_eq!(e.code(), ErrorCode::UpstreamError);
        assert!(
            e.to_string()
                .starts_with("registry r.io failed: config blob sha256:")
        );
        let e = Error::NotFound {
            reference: "docker.io/library/nope:latest".into(),
        };
        assert_eq!(
            e.to_string(),
            "image not found or not public: docker.io/library/nope:latest"
        );
        let e = Error::InvalidReference {
            input: "Alpine".into(),
            source: ParseError::NameContainsUppercase,
        };
        assert_eq!(
            e.to_string(),
            "invalid reference \"Alpine\": repository name must be lowercase"
        );
    }
}
