//! Turning a user's `image` parameter into an answer: validation, then the lookup.

use std::sync::Arc;
use std::time::SystemTime;

use registry::summary::rfc3339;
use registry::{CacheInfo, Client, Reference, Report, Source, Summary};

use crate::error::AppError;

/// The longest `image` parameter accepted: no valid reference is longer.
pub const MAX_IMAGE_PARAM: usize = registry::reference::REFERENCE_LENGTH_MAX;

/// The answer for one reference, shared by every format.
#[derive(Debug, Clone)]
pub struct Answer {
    pub reference: Reference,
    pub summary: Arc<Summary>,
    pub source: Source,
    pub fetched_at: SystemTime,
    /// When this answer stops being fresh; `None` for a digest reference (immutable).
    pub expires_at: Option<SystemTime>,
    pub stale: bool,
}

impl Answer {
    /// A digest reference names immutable content.
    pub fn pinned(&self) -> bool {
        self.reference.digest().is_some()
    }

    /// The v1 document, with the image as the user wrote it.
    pub fn report(&self, image: &str) -> Report {
        Report {
            image: image.to_owned(),
            reference: self.reference.canonical(),
            summary: (*self.summary).clone(),
            cache: CacheInfo {
                source: self.source,
                fetched_at: rfc3339(self.fetched_at),
                expires_at: self.expires_at.map(rfc3339),
                stale: self.stale,
            },
        }
    }
}

/// A failed lookup, with what is known of the request for the error document.
#[derive(Debug)]
pub struct Failure {
    pub image: Option<String>,
    pub reference: Option<String>,
    pub error: Box<AppError>,
}

impl Failure {
    pub fn new(image: Option<&str>, reference: Option<&Reference>, error: AppError) -> Failure {
        Failure {
            image: image.map(str::to_owned),
            reference: reference.map(Reference::canonical),
            error: Box::new(error),
        }
    }
}

/// Validates the `image` parameter and parses it, before any network I/O.
pub fn parse_image(image: Option<&str>) -> Result<(String, Reference), Failure> {
    let image = image
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            Failure::new(
                None,
                None,
                AppError::InvalidParameter("missing image parameter, e.g. ?image=alpine".into()),
            )
        })?;
    if image.len() > MAX_IMAGE_PARAM {
        return Err(Failure::new(
            None,
            None,
            AppError::InvalidParameter(format!(
                "image parameter is longer than {MAX_IMAGE_PARAM} characters"
            )),
        ));
    }
    let reference = Reference::parse(image).map_err(|source| {
        Failure::new(
            Some(image),
            None,
            AppError::Registry(registry::Error::InvalidReference {
                input: image.to_owned(),
                source,
            }),
        )
    })?;
    Ok((image.to_owned(), reference))
}

/// Looks images up in the registry.
#[derive(Debug, Clone)]
pub struct Inspector {
    client: Client,
}

impl Inspector {
    pub fn new(client: Client) -> Inspector {
        Inspector { client }
    }

    pub async fn inspect(&self, image: &str, reference: &Reference) -> Result<Answer, Failure> {
        let summary = self.client.summarize(reference).await.map_err(|e| {
            if e.code() != "NOT_FOUND" {
                tracing::warn!(reference = %reference, error = %e, "lookup failed");
            }
            Failure::new(Some(image), Some(reference), AppError::Registry(e))
        })?;
        Ok(Answer {
            reference: reference.clone(),
            summary: Arc::new(summary),
            source: Source::Registry,
            fetched_at: SystemTime::now(),
            expires_at: None,
            stale: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_parameter_validation() {
        let missing = parse_image(None).expect_err("missing");
        assert_eq!(missing.error.code(), "INVALID_PARAMETER");
        let blank = parse_image(Some("   ")).expect_err("blank");
        assert_eq!(blank.error.code(), "INVALID_PARAMETER");
        let long = "a".repeat(MAX_IMAGE_PARAM + 1);
        let too_long = parse_image(Some(&long)).expect_err("too long");
        assert_eq!(too_long.error.code(), "INVALID_PARAMETER");
        assert!(
            too_long.image.is_none(),
            "an oversized input is not echoed back"
        );
        let invalid = parse_image(Some("Alpine")).expect_err("invalid");
        assert_eq!(invalid.error.code(), "INVALID_REFERENCE");
        assert_eq!(invalid.image.as_deref(), Some("Alpine"));
        let (image, reference) = parse_image(Some(" alpine ")).expect("valid");
        assert_eq!(image, "alpine");
        assert_eq!(reference.canonical(), "docker.io/library/alpine:latest");
    }
}
