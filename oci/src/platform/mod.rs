//! Platforms as images declare them, how mquery prints them, and containerd-style matching
//! for `--platform`.
//!
//! - this file: [`Platform`], what an index entry or image config declares, and mquery's
//!   display rule;
//! - `spec.rs`: the specifier grammar (containerd's `platforms.Parse`), [`PlatformSpec`]
//!   parsed and printed back, its percent-escapes;
//! - `normalize.rs`: OS, architecture and variant aliases (containerd's `Normalize`),
//!   [`Normalized`];
//! - `matching.rs`: the compatibility vector (containerd's `Only`), `rank`, `native`,
//!   `compatible` and the Windows `os.version` rule.

use std::fmt;

use serde::{Deserialize, Serialize};

mod matching;
mod normalize;
mod spec;

pub use normalize::Normalized;
pub use spec::{PlatformSpec, PlatformSpecError};

/// A platform an image supports, as its index entry or image config declares it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    #[serde(rename = "os.features", default, skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
}

impl Platform {
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Platform {
        Platform {
            os: os.to_owned(),
            architecture: architecture.to_owned(),
            variant: variant.map(str::to_owned),
            os_version: None,
            os_features: Vec::new(),
        }
    }
}

/// mquery's rule: `os/arch`, then `/variant` if set, then `:os.version` for Windows.
impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = self.variant.as_deref().filter(|v| !v.is_empty()) {
            write!(f, "/{variant}")?;
        }
        if self.os == "windows"
            && let Some(version) = self.os_version.as_deref().filter(|v| !v.is_empty())
        {
            write!(f, ":{version}")?;
        }
        Ok(())
    }
}

/// Helpers the submodules' tests share.
#[cfg(test)]
mod testing {
    use super::{Platform, PlatformSpec};

    /// A specifier that must parse.
    pub(super) fn spec(s: &str) -> PlatformSpec {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    /// An image platform written `os/arch[/variant]`, taken as written (not normalized).
    pub(super) fn p(s: &str) -> Platform {
        let mut parts = s.split('/');
        let os = parts.next().unwrap_or("");
        let arch = parts.next().unwrap_or("");
        Platform::new(os, arch, parts.next())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn windows(version: &str) -> Platform {
        Platform {
            os_version: Some(version.into()),
            ..Platform::new("windows", "amd64", None)
        }
    }

    #[test]
    fn displays_like_mquery() {
        assert_eq!(
            Platform::new("linux", "amd64", None).to_string(),
            "linux/amd64"
        );
        assert_eq!(
            Platform::new("linux", "arm64", Some("v8")).to_string(),
            "linux/arm64/v8"
        );
        assert_eq!(
            Platform::new("linux", "arm", Some("")).to_string(),
            "linux/arm"
        );
        assert_eq!(
            windows("10.0.17763.2300").to_string(),
            "windows/amd64:10.0.17763.2300"
        );
        let linux_with_version = Platform {
            os_version: Some("6.1".into()),
            ..Platform::new("linux", "amd64", None)
        };
        assert_eq!(linux_with_version.to_string(), "linux/amd64");
    }

    #[test]
    fn serializes_with_oci_field_names() {
        let json = serde_json::to_value(windows("10.0.1")).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({"os": "windows", "architecture": "amd64", "os.version": "10.0.1"})
        );
    }
}
