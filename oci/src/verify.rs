//! `--verify`: does an index tell the truth about its entries? Each platform entry's image
//! config is read and compared with the platform the index claims (users hit indexes whose
//! labels disagree with their images), duplicate platform entries are listed, and entries
//! that are not images are reported.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::platform::{Normalized, Platform};
use crate::summary::Summary;

/// What an index entry's manifest turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryContent {
    /// An image, with the platform its config names.
    Image(Platform),
    /// Not a runnable image: an index, or an artifact (its type).
    NotAnImage(String),
    /// The manifest or its config could not be read (why).
    Unreadable(String),
}

/// One thing `--verify` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Finding {
    /// The index says one platform, the entry's config another.
    #[serde(rename_all = "camelCase")]
    PlatformMismatch {
        digest: Digest,
        index: String,
        config: String,
    },
    /// The same platform listed more than once.
    #[serde(rename_all = "camelCase")]
    Duplicate {
        platform: String,
        digests: Vec<Digest>,
    },
    /// A platform entry whose manifest or config could not be read: missing, invalid, too
    /// large, or not what its digest says.
    #[serde(rename_all = "camelCase")]
    Unreadable {
        digest: Digest,
        platform: String,
        reason: String,
    },
    /// A platform entry whose manifest is not an image.
    #[serde(rename_all = "camelCase")]
    NotAnImage {
        digest: Digest,
        platform: String,
        actual: String,
    },
}

/// The `verification` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    /// Platform entries examined (the client reads at most 64), an unreadable one included.
    pub checked: usize,
    pub findings: Vec<Finding>,
}

/// Whether a config's platform agrees with what the index says: the same OS and architecture
/// after normalization, and the same variant when the config names one (many configs do not).
fn agrees(index: &Platform, config: &Platform) -> bool {
    let (i, c) = (Normalized::of(index), Normalized::of(config));
    let config_names_variant = config.variant.as_deref().is_some_and(|v| !v.is_empty());
    i.os == c.os
        && i.architecture == c.architecture
        && (!config_names_variant || i.variant == c.variant)
}

/// Duplicate platform entries of a summary (same normalized platform, OS version and
/// features), in index order.
fn duplicates(summary: &Summary) -> Vec<Finding> {
    let mut seen: BTreeMap<String, (usize, Vec<Digest>)> = BTreeMap::new();
    for (position, entry) in summary.platforms.iter().enumerate() {
        let p = &entry.platform;
        let mut features = p.os_features.clone();
        features.sort();
        let key = format!(
            "{}|{}|{}",
            Normalized::of(p),
            p.os_version.as_deref().unwrap_or(""),
            features.join("+")
        );
        seen.entry(key)
            .or_insert_with(|| (position, Vec::new()))
            .1
            .push(entry.digest.clone());
    }
    let mut found: Vec<(usize, Finding)> = seen
        .into_values()
        .filter(|(_, digests)| digests.len() > 1)
        .map(|(position, digests)| {
            let platform = summary.platforms[position].platform.to_string();
            (position, Finding::Duplicate { platform, digests })
        })
        .collect();
    found.sort_by_key(|(position, _)| *position);
    found.into_iter().map(|(_, f)| f).collect()
}

/// The findings for a summary, given what each platform entry turned out to be (in the
/// summary's order).
pub fn verification(summary: &Summary, contents: &[EntryContent]) -> Verification {
    let mut findings = Vec::new();
    for (entry, content) in summary.platforms.iter().zip(contents) {
        match content {
            EntryContent::Image(config) if !agrees(&entry.platform, config) => {
                findings.push(Finding::PlatformMismatch {
                    digest: entry.digest.clone(),
                    index: entry.platform.to_string(),
                    config: config.to_string(),
                });
            }
            EntryContent::Image(_) => {}
            EntryContent::NotAnImage(actual) => findings.push(Finding::NotAnImage {
                digest: entry.digest.clone(),
                platform: entry.platform.to_string(),
                actual: actual.clone(),
            }),
            EntryContent::Unreadable(reason) => findings.push(Finding::Unreadable {
                digest: entry.digest.clone(),
                platform: entry.platform.to_string(),
                reason: reason.clone(),
            }),
        }
    }
    findings.extend(duplicates(summary));
    Verification {
        checked: contents.len(),
        findings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::PlatformEntry;

    fn entry(os: &str, arch: &str, variant: Option<&str>, name: &[u8]) -> PlatformEntry {
        PlatformEntry {
            platform: Platform::new(os, arch, variant),
            digest: Digest::sha256(name),
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            size: 1,
        }
    }

    #[test]
    fn configs_agree_by_normalized_platform() {
        let p = |os, arch, variant| Platform::new(os, arch, variant);
        assert!(agrees(
            &p("linux", "arm64", Some("v8")),
            &p("linux", "arm64", None)
        ));
        assert!(
            agrees(&p("linux", "arm", Some("v6")), &p("linux", "arm", None)),
            "no variant in the config"
        );
        assert!(agrees(
            &p("linux", "amd64", None),
            &p("Linux", "x86_64", None)
        ));
        assert!(!agrees(
            &p("linux", "arm64", None),
            &p("linux", "amd64", None)
        ));
        assert!(!agrees(
            &p("linux", "arm", Some("v6")),
            &p("linux", "arm", Some("v7"))
        ));
        assert!(!agrees(
            &p("windows", "amd64", None),
            &p("linux", "amd64", None)
        ));
    }

    #[test]
    fn findings() {
        let summary = Summary {
            digest: Digest::sha256(b"index"),
            media_type: "application/vnd.oci.image.index.v1+json".into(),
            is_list: true,
            platforms: vec![
                entry("linux", "amd64", None, b"a"),
                entry("linux", "arm64", Some("v8"), b"b"),
                entry("linux", "arm64", None, b"c"),
                entry("linux", "s390x", None, b"d"),
            ],
            attestations: 0,
            unlabeled: 0,
            artifact_type: None,
        };
        let contents = [
            EntryContent::Image(Platform::new("linux", "amd64", None)),
            EntryContent::Image(Platform::new("linux", "amd64", None)),
            EntryContent::Image(Platform::new("linux", "arm64", None)),
            EntryContent::NotAnImage("an index".into()),
        ];
        let v = verification(&summary, &contents);
        assert_eq!(v.checked, 4);
        assert_eq!(
            v.findings,
            [
                Finding::PlatformMismatch {
                    digest: Digest::sha256(b"b"),
                    index: "linux/arm64/v8".into(),
                    config: "linux/amd64".into()
                },
                Finding::NotAnImage {
                    digest: Digest::sha256(b"d"),
                    platform: "linux/s390x".into(),
                    actual: "an index".into()
                },
                Finding::Duplicate {
                    platform: "linux/arm64/v8".into(),
                    digests: vec![Digest::sha256(b"b"), Digest::sha256(b"c")]
                },
            ]
        );
        let json = serde_json::to_value(&v).expect("serializes");
        assert_eq!(json["findings"][0]["kind"], "platformMismatch");
        assert_eq!(json["findings"][2]["kind"], "duplicate");
        assert_eq!(json["checked"], 4);
    }
}
