//! Did a release drop a platform? Two summaries compared by containerd's normalized platform
//! (`arm64` and `arm64/v8` are the same platform), Windows versions apart.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::platform::{Normalized, Platform};
use crate::summary::Summary;

/// One side of a diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DiffSide {
    /// The image as given.
    pub image: String,
    pub digest: Digest,
    /// Its platforms, normalized, in index order.
    pub platforms: Vec<String>,
    pub attestations: usize,
}

/// The platforms NEW added and dropped relative to OLD.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Diff {
    pub old: DiffSide,
    pub new: DiffSide,
    pub added: Vec<String>,
    pub dropped: Vec<String>,
    /// Whether OLD and NEW are the same manifest.
    pub same_digest: bool,
}

/// A platform as a diff compares it: normalized, with the Windows `os.version` (a Windows
/// image for another build is another platform).
fn key(p: &Platform) -> String {
    let normalized = Normalized::of(p).to_string();
    match p
        .os_version
        .as_deref()
        .filter(|v| !v.is_empty() && p.os == "windows")
    {
        Some(version) => format!("{normalized}:{version}"),
        None => normalized,
    }
}

fn side(image: &str, summary: &Summary) -> DiffSide {
    let mut seen = BTreeSet::new();
    let platforms = summary
        .platforms
        .iter()
        .map(|e| key(&e.platform))
        .filter(|k| seen.insert(k.clone()))
        .collect();
    DiffSide {
        image: image.to_owned(),
        digest: summary.digest.clone(),
        platforms,
        attestations: summary.attestations,
    }
}

impl Diff {
    pub fn of(old_image: &str, old: &Summary, new_image: &str, new: &Summary) -> Diff {
        let (old, new) = (side(old_image, old), side(new_image, new));
        // the platforms of `a` that `b` lacks, in `a`'s order
        let missing = |a: &DiffSide, b: &DiffSide| -> Vec<String> {
            let lacks = |p: &&String| !b.platforms.contains(p);
            a.platforms.iter().filter(lacks).cloned().collect()
        };
        let (added, dropped) = (missing(&new, &old), missing(&old, &new));
        let same_digest = old.digest == new.digest;
        Diff {
            old,
            new,
            added,
            dropped,
            same_digest,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::PlatformEntry;

    fn summary(name: &[u8], platforms: &[Platform], attestations: usize) -> Summary {
        Summary {
            digest: Digest::sha256(name),
            media_type: "application/vnd.oci.image.index.v1+json".into(),
            is_list: true,
            platforms: platforms
                .iter()
                .map(|p| PlatformEntry {
                    platform: p.clone(),
                    digest: Digest::sha256(p.to_string().as_bytes()),
                    media_type: "application/vnd.oci.image.manifest.v1+json".into(),
                    size: 1,
                })
                .collect(),
            attestations,
            unlabeled: 0,
            artifact_type: None,
        }
    }

    #[test]
    fn added_and_dropped_by_normalized_platform() {
        let p = Platform::new;
        let old = summary(
            b"old",
            &[
                p("linux", "amd64", None),
                p("linux", "arm64", Some("v8")),
                p("linux", "arm", Some("v7")),
            ],
            2,
        );
        let new = summary(
            b"new",
            &[
                p("linux", "amd64", None),
                p("linux", "arm64", None),
                p("linux", "riscv64", None),
            ],
            0,
        );
        let d = Diff::of("app:1", &old, "app:2", &new);
        assert_eq!(d.added, ["linux/riscv64"]);
        assert_eq!(
            d.dropped,
            ["linux/arm/v7"],
            "arm64 and arm64/v8 are one platform"
        );
        assert_eq!((d.old.attestations, d.new.attestations), (2, 0));
        assert!(!d.same_digest);
        let json = serde_json::to_value(&d).expect("serializes");
        assert_eq!(json["dropped"][0], "linux/arm/v7");
        assert_eq!(json["old"]["image"], "app:1");
        assert_eq!(json["sameDigest"], false);
        let same = Diff::of("a", &old, "b", &old);
        assert!(same.added.is_empty() && same.dropped.is_empty() && same.same_digest);
    }

    #[test]
    fn windows_versions_are_platforms() {
        let win = |v: &str| Platform {
            os_version: Some(v.into()),
            ..Platform::new("windows", "amd64", None)
        };
        let old = summary(b"o", &[win("10.0.17763.1"), win("10.0.20348.1")], 0);
        let new = summary(b"n", &[win("10.0.20348.1")], 0);
        let d = Diff::of("o", &old, "n", &new);
        assert_eq!(d.dropped, ["windows/amd64:10.0.17763.1"]);
    }
}
