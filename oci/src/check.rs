//! Does an image run on a platform? The answer in both senses of the `--platform` issue: the
//! entry a host of that platform runs natively, and the one containerd would pull for it
//! (`docker pull --platform`), cross-architecture fallbacks included.

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::platform::{PlatformSpec, PlatformSpecError};
use crate::summary::{PlatformEntry, Summary};

/// One image's entry that satisfies a platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PlatformMatch {
    /// The entry's platform, as mquery prints platforms.
    pub platform: String,
    pub digest: Digest,
}

/// The `platformCheck` object: what was asked, how containerd reads it, and the entries that
/// satisfy it natively and compatibly (`null` when none does).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PlatformCheck {
    pub requested: String,
    pub normalized: String,
    pub native: Option<PlatformMatch>,
    pub compatible: Option<PlatformMatch>,
}

/// Which sense of "supports" a check is judged by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sense {
    /// The platform's own architecture (older variants count; 32-bit fallbacks do not).
    #[default]
    Native,
    /// Whatever containerd's `Only` accepts.
    Compatible,
}

impl PlatformCheck {
    /// Parses `requested` and checks `summary` against it.
    pub fn new(requested: &str, summary: &Summary) -> Result<PlatformCheck, PlatformSpecError> {
        let spec: PlatformSpec = requested.parse()?;
        Ok(PlatformCheck::with_spec(requested, &spec, summary))
    }

    /// Checks `summary` against a parsed `spec`: the best entry in containerd's order (the
    /// platform itself first, then its fallbacks), the first in the index on a tie.
    pub fn with_spec(requested: &str, spec: &PlatformSpec, summary: &Summary) -> PlatformCheck {
        // each entry ranked once, for both senses
        let ranked: Vec<(usize, bool, &PlatformEntry)> = summary
            .platforms
            .iter()
            .filter_map(|e| {
                let (rank, native) = spec.rank_and_native(&e.platform)?;
                Some((rank, native, e))
            })
            .collect();
        let best = |native_only: bool| {
            ranked
                .iter()
                .filter(|(_, native, _)| *native || !native_only)
                // containerd's Less: on a tie, the entry declaring more OS features first
                .min_by_key(|(rank, _, e)| (*rank, std::cmp::Reverse(e.platform.os_features.len())))
                .map(|(_, _, e)| PlatformMatch {
                    platform: e.platform.to_string(),
                    digest: e.digest.clone(),
                })
        };
        PlatformCheck {
            requested: requested.to_owned(),
            normalized: spec.normalized(),
            native: best(true),
            compatible: best(false),
        }
    }

    /// The entry that satisfies the platform in `sense`, if any.
    pub fn satisfied(&self, sense: Sense) -> Option<&PlatformMatch> {
        match sense {
            Sense::Native => self.native.as_ref(),
            Sense::Compatible => self.compatible.as_ref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::Platform;

    fn summary(platforms: &[(&str, &str, Option<&str>)]) -> Summary {
        let entries = platforms
            .iter()
            .enumerate()
            .map(|(i, (os, arch, variant))| PlatformEntry {
                platform: Platform::new(os, arch, *variant),
                digest: Digest::sha256(i.to_string().as_bytes()),
                media_type: "application/vnd.oci.image.manifest.v1+json".into(),
                size: 1,
            })
            .collect();
        Summary {
            digest: Digest::sha256(b"index"),
            media_type: "application/vnd.oci.image.index.v1+json".into(),
            is_list: true,
            platforms: entries,
            attestations: 0,
            unlabeled: 0,
            artifact_type: None,
        }
    }

    #[test]
    fn native_and_compatible_entries() {
        let s = summary(&[
            ("linux", "amd64", None),
            ("linux", "arm", Some("v6")),
            ("linux", "arm", Some("v7")),
            ("linux", "arm64", Some("v8")),
        ]);
        let check = PlatformCheck::new("arm64", &s).expect("valid");
        assert_eq!(check.normalized, "linux/arm64");
        let native = check.satisfied(Sense::Native).expect("native");
        assert_eq!(native.platform, "linux/arm64/v8");
        assert_eq!(native.digest, s.platforms[3].digest);
        assert_eq!(
            check.compatible.as_ref().map(|m| m.platform.as_str()),
            Some("linux/arm64/v8")
        );

        // an arm64 host without an arm64 entry: only the 32-bit fallback, the best of them
        let arm_only = summary(&[("linux", "arm", Some("v6")), ("linux", "arm", Some("v7"))]);
        let check = PlatformCheck::new("linux/arm64", &arm_only).expect("valid");
        assert_eq!(check.native, None);
        assert_eq!(
            check
                .satisfied(Sense::Compatible)
                .map(|m| m.platform.as_str()),
            Some("linux/arm/v7")
        );
        let check = PlatformCheck::new("linux/riscv64", &s).expect("valid");
        assert_eq!((check.native, check.compatible), (None, None));
    }

    #[test]
    fn ties_prefer_more_os_features() {
        let mut s = summary(&[("linux", "amd64", None), ("linux", "amd64", None)]);
        s.platforms[1].platform.os_features = vec!["gpu".into()];
        let check = PlatformCheck::new("linux(+gpu)/amd64", &s).expect("valid");
        assert_eq!(
            check.native.map(|m| m.digest),
            Some(s.platforms[1].digest.clone())
        );
        let plain = PlatformCheck::new("linux/amd64", &s).expect("valid");
        assert_eq!(
            plain.native.map(|m| m.digest),
            Some(s.platforms[0].digest.clone())
        );
    }

    #[test]
    fn json_shape() {
        let s = summary(&[("linux", "amd64", None)]);
        let check = PlatformCheck::new("x86_64", &s).expect("valid");
        let json = serde_json::to_value(&check).expect("serializes");
        assert_eq!(json["requested"], "x86_64");
        assert_eq!(json["normalized"], "linux/amd64");
        assert_eq!(json["native"]["platform"], "linux/amd64");
        assert_eq!(json["native"]["digest"], s.platforms[0].digest.as_str());
        let none = PlatformCheck::new("linux/s390x", &s).expect("valid");
        let json = serde_json::to_value(&none).expect("serializes");
        assert!(json["native"].is_null() && json["compatible"].is_null());
        assert!(PlatformCheck::new("linux/*", &s).is_err());
    }
}
