//! The parameters of a query string, or of a form's body, which is encoded the same way
//! (docs/http-api.md, "Parameters").

use axum::http::Uri;
use registry::{PlatformSpec, Sense};

use crate::error::AppError;

/// The longest `platform` parameter accepted.
pub(super) const MAX_PLATFORM_PARAM: usize = 200;
/// The longest `name` parameter of `/v1/check` kept.
const MAX_NAME_PARAM: usize = 100;

/// A `platform` parameter: as written, and parsed.
pub(super) type Platform = stack::plan::Asked;

#[derive(Debug, Default)]
pub(super) struct Params {
    pub image: Option<String>,
    pub format: Option<String>,
    pub platform: Option<String>,
    /// `verify=1` (or `true`): check the index against its entries' configs.
    pub verify: bool,
    /// `/v1/diff`'s two images.
    pub old: Option<String>,
    pub new: Option<String>,
    /// `/v1/check`: `compatible=1` judges by containerd's `Only` (the CLI's `--compatible`).
    pub compatible: bool,
    /// `/v1/check`: the file's name, for `file:line` and as a hint for its kind.
    pub name: Option<String>,
    /// Whether the query named anything but `image` and `platform` (its response then is not
    /// prepared: parameters the route ignores would let anyone choose cache keys).
    pub others: bool,
}

impl Params {
    /// The `platform` parameter, parsed before any lookup (absent or empty: none).
    pub fn platform(&self) -> Result<Option<Platform>, AppError> {
        let Some(raw) = self
            .platform
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
        else {
            return Ok(None);
        };
        let invalid = |message: String| {
            AppError::invalid_parameter(message).about(self.image.as_deref(), None)
        };
        if raw.len() > MAX_PLATFORM_PARAM {
            return Err(invalid(format!(
                "platform parameter is longer than {MAX_PLATFORM_PARAM} characters"
            )));
        }
        match raw.parse::<PlatformSpec>() {
            Ok(spec) => Ok(Some((raw.to_owned(), spec))),
            Err(e) => Err(invalid(format!("platform: {e}"))),
        }
    }

    /// How a check judges: `compatible` or natively.
    pub fn sense(&self) -> Sense {
        if self.compatible {
            Sense::Compatible
        } else {
            Sense::Native
        }
    }

    /// `/v1/check`'s file name: `name` clipped, its control characters escaped, or `file`.
    pub fn file_name(&self) -> String {
        self.name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map_or_else(
                || "file".to_owned(),
                |n| output::printable(&crate::render::clip(n, MAX_NAME_PARAM)).into_owned(),
            )
    }
}

/// The parameters of a request's query string.
pub(super) fn query(uri: &Uri) -> Params {
    params(uri.query().map(str::as_bytes))
}

/// The parameters of a query string (or of a form's body, which is encoded the same way).
pub(super) fn params(query: Option<&[u8]>) -> Params {
    let mut p = Params::default();
    if let Some(query) = query {
        for (key, value) in form_urlencoded::parse(query) {
            // anything but one `image` and one `platform` is a query the prepared responses do
            // not answer: a repeated parameter the route ignores would let anyone mint keys
            p.others |= match key.as_ref() {
                "image" => p.image.is_some(),
                "platform" => p.platform.is_some(),
                _ => true,
            };
            match key.as_ref() {
                "image" if p.image.is_none() => p.image = Some(value.into_owned()),
                "format" if p.format.is_none() => p.format = Some(value.into_owned()),
                "platform" if p.platform.is_none() => p.platform = Some(value.into_owned()),
                "verify" => p.verify = matches!(value.as_ref(), "1" | "true"),
                "compatible" => p.compatible = matches!(value.as_ref(), "1" | "true" | "on"),
                "name" if p.name.is_none() => p.name = Some(value.into_owned()),
                "old" if p.old.is_none() => p.old = Some(value.into_owned()),
                "new" if p.new.is_none() => p.new = Some(value.into_owned()),
                _ => {}
            }
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_decode() {
        let p = params(Some(
            b"image=ghcr.io%2Forg%2Fapp%3Av1%40sha256%3Aabc&format=text&image=second",
        ));
        assert_eq!(p.image.as_deref(), Some("ghcr.io/org/app:v1@sha256:abc"));
        assert_eq!(p.format.as_deref(), Some("text"));
        let p = params(Some(b"image=a+b"));
        assert_eq!(p.image.as_deref(), Some("a b"));
    }

    /// Only one `image` and one `platform` make a query whose response may be prepared: a
    /// repeated one, which the route ignores, would let anyone mint prepared-response keys.
    #[test]
    fn a_repeated_image_or_platform_is_another_parameter() {
        for (query, others) in [
            ("image=alpine", false),
            ("image=alpine&platform=linux/arm64", false),
            ("image=alpine&image=random1", true),
            ("image=alpine&platform=a&platform=b", true),
            ("image=alpine&format=json", true),
        ] {
            assert_eq!(params(Some(query.as_bytes())).others, others, "{query}");
        }
    }
}
