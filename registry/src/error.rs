//! The one error type of this crate. Every variant carries the context a user needs, and
//! `Display` is a short sentence fit for a terminal or a JSON error message.

use std::time::Duration;

use crate::manifest::ManifestError;
use crate::reference::ParseError;
use crate::tls::CertificateProblem;

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
    #[error("registry rate limit{}", retry_suffix(*retry_after))]
    RateLimited {
        registry: String,
        retry_after: Option<Duration>,
    },
    #[error("registry {registry} did not answer in time")]
    Timeout { registry: String },
    #[error("registry {registry} failed: {detail}")]
    Upstream {
        registry: String,
        detail: String,
        status: Option<u16>,
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
        expected: String,
        actual: String,
    },
    #[error("registry {host} is not allowed: {reason}")]
    NotAllowed { host: String, reason: String },
}

fn retry_suffix(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!(", retry after {}s", d.as_secs().max(1)),
        None => String::new(),
    }
}

impl Error {
    /// The stable machine-readable code of DESIGN.md's status table.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidReference { .. } => "INVALID_REFERENCE",
            Error::NotFound { .. } => "NOT_FOUND",
            Error::RateLimited { .. } => "UPSTREAM_RATE_LIMITED",
            Error::Timeout { .. } => "UPSTREAM_TIMEOUT",
            Error::Upstream { .. }
            | Error::CertificateNotTrusted { .. }
            | Error::BudgetExceeded { .. }
            | Error::ClientSetup { .. } => "UPSTREAM_ERROR",
            Error::InvalidManifest { .. } | Error::TooLarge { .. } => "INVALID_MANIFEST",
            Error::UnsupportedManifest { .. } => "UNSUPPORTED_MANIFEST",
            Error::DigestMismatch { .. } => "DIGEST_MISMATCH",
            Error::NotAllowed { .. } => "REGISTRY_NOT_ALLOWED",
        }
    }

    /// A sentence safe to show to anyone: for upstream failures it names the registry but
    /// repeats nothing the registry sent (those details belong in logs).
    pub fn public_message(&self) -> String {
        match self {
            Error::Upstream { registry, .. } => format!("registry {registry} failed"),
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
        let e = Error::Upstream {
            registry: "ghcr.io".into(),
            detail: "HTTP 500: <script>".into(),
            status: Some(500),
        };
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
