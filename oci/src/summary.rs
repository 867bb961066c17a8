//! The answer for one image, and the pure summarizer that makes it from parsed manifests:
//! no I/O, so the client, the fuzz targets and the tests all call the same code.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::manifest::{Descriptor, EntryKind, ManifestError, MediaType, classify_entry};
use crate::platform::Platform;

/// One platform of an image, with the manifest that implements it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PlatformEntry {
    #[serde(flatten)]
    pub platform: Platform,
    pub digest: Digest,
    pub media_type: MediaType,
    pub size: u64,
}

/// What a manifest digest means. Immutable for a digest, so it can be cached for a long time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub digest: Digest,
    pub media_type: MediaType,
    pub is_list: bool,
    pub platforms: Vec<PlatformEntry>,
    /// Attestation manifests (SBOM, provenance) in the index: not platforms.
    pub attestations: usize,
    /// Index entries that declare no platform.
    #[serde(default)]
    pub unlabeled: usize,
    /// For an OCI artifact (a manifest whose config is not an image config): its type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
}

/// What a single (non-index) manifest describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageContent {
    /// A runnable image, with the platform its config names.
    Image(Platform),
    /// An OCI artifact: its `artifactType` (or its config's media type).
    Artifact(String),
}

impl Summary {
    /// The distinct nested indexes an index names, in order: what [`Summary::from_index`]
    /// needs resolved.
    pub fn nested_indexes(entries: &[Descriptor]) -> Vec<&Descriptor> {
        let mut seen = std::collections::HashSet::new();
        entries
            .iter()
            .filter(|e| classify_entry(e) == EntryKind::NestedIndex)
            .filter(|e| seen.insert(e.digest.as_str()))
            .collect()
    }

    /// The summary of an index: platforms in index order, attestations counted, entries
    /// without platform counted as unlabeled. Nested indexes are resolved one level deep from
    /// `nested` (by digest); one missing from it counts as unlabeled. Fails when the entries,
    /// nested ones included, exceed `max_entries`, or an index nests deeper.
    pub fn from_index(
        digest: &Digest,
        media_type: MediaType,
        entries: &[Descriptor],
        nested: &HashMap<&str, Vec<Descriptor>>,
        max_entries: usize,
    ) -> Result<Summary, ManifestError> {
        let mut summary = Summary {
            digest: digest.clone(),
            media_type,
            is_list: true,
            platforms: Vec::with_capacity(entries.len()),
            attestations: 0,
            unlabeled: 0,
            artifact_type: None,
        };
        let mut seen = entries.len();
        for entry in entries {
            let kind = classify_entry(entry);
            let children = match kind {
                EntryKind::NestedIndex => nested.get(entry.digest.as_str()),
                _ => None,
            };
            let Some(children) = children else {
                summary.add(entry, kind)?;
                continue;
            };
            seen += children.len();
            if seen > max_entries {
                return Err(ManifestError::TooManyEntries {
                    count: seen,
                    limit: max_entries,
                });
            }
            for child in children {
                match classify_entry(child) {
                    EntryKind::NestedIndex => return Err(ManifestError::NestedTooDeep),
                    kind => summary.add(child, kind)?,
                }
            }
        }
        Ok(summary)
    }

    /// The summary of a single manifest of `size` bytes.
    pub fn from_image(
        digest: &Digest,
        media_type: MediaType,
        size: u64,
        content: ImageContent,
    ) -> Summary {
        let digest = digest.clone();
        let (platforms, artifact_type) = match content {
            ImageContent::Image(platform) => (
                vec![PlatformEntry {
                    platform,
                    digest: digest.clone(),
                    media_type: media_type.clone(),
                    size,
                }],
                None,
            ),
            ImageContent::Artifact(kind) => (Vec::new(), Some(kind)),
        };
        Summary {
            digest,
            media_type,
            is_list: false,
            platforms,
            attestations: 0,
            unlabeled: 0,
            artifact_type,
        }
    }

    /// Adds one classified index entry: a platform, an attestation or an entry without
    /// platform. A platform entry's digest must be one.
    fn add(&mut self, entry: &Descriptor, kind: EntryKind) -> Result<(), ManifestError> {
        match kind {
            EntryKind::Platform(platform) => {
                let digest = entry.digest.parse().map_err(|e| {
                    ManifestError::InvalidJson(format!(
                        "index entry digest {:?}: {e}",
                        entry.digest.chars().take(80).collect::<String>()
                    ))
                })?;
                self.platforms.push(PlatformEntry {
                    platform,
                    digest,
                    media_type: MediaType::new(entry.media_type.as_str()),
                    size: entry.size,
                });
            }
            EntryKind::Attestation => self.attestations += 1,
            EntryKind::Unlabeled | EntryKind::NestedIndex => self.unlabeled += 1,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Manifest, parse_manifest};

    fn index(body: &str) -> Vec<Descriptor> {
        match parse_manifest(
            Some(crate::manifest::media_type::OCI_INDEX),
            body.as_bytes(),
            1024,
        )
        .expect("parses")
        {
            Manifest::Index { entries, .. } => entries,
            other => panic!("{other:?}"),
        }
    }

    const M: &str = "application/vnd.oci.image.manifest.v1+json";
    const I: &str = "application/vnd.oci.image.index.v1+json";

    /// An index entry; `name` stands for a digest (`sha256:<hex of name>`).
    fn entry(media_type: &str, name: &str, platform: &str) -> String {
        let digest = Digest::sha256(name.as_bytes());
        format!(r#"{{"mediaType":"{media_type}","digest":"{digest}","size":1{platform}}}"#)
    }

    #[test]
    fn an_index_in_order_with_attestations_and_unlabeled() {
        let entries = index(&format!(
            r#"{{"schemaVersion":2,"manifests":[{},{},{},{}]}}"#,
            entry(
                M,
                "sha256:a",
                r#","platform":{"os":"linux","architecture":"arm64","variant":"v8"}"#
            ),
            entry(
                M,
                "sha256:b",
                r#","platform":{"os":"unknown","architecture":"unknown"}"#
            ),
            entry(M, "sha256:c", ""),
            entry(
                M,
                "sha256:d",
                r#","platform":{"os":"linux","architecture":"amd64"}"#
            ),
        ));
        let digest = Digest::sha256(b"x");
        let s = Summary::from_index(&digest, I.into(), &entries, &HashMap::new(), 1024)
            .expect("summary");
        let names: Vec<String> = s.platforms.iter().map(|p| p.platform.to_string()).collect();
        assert_eq!(names, ["linux/arm64/v8", "linux/amd64"]);
        assert_eq!((s.attestations, s.unlabeled, s.is_list), (1, 1, true));
        assert_eq!(s.digest, digest);
        let broken = index(&format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{M}","digest":"sha256:zz","size":1,"platform":{{"os":"linux","architecture":"amd64"}}}}]}}"#
        ));
        assert!(matches!(
            Summary::from_index(&digest, I.into(), &broken, &HashMap::new(), 1024),
            Err(ManifestError::InvalidJson(m)) if m.contains("index entry digest")
        ));
    }

    #[test]
    fn nested_indexes_resolve_one_level() {
        let entries = index(&format!(
            r#"{{"schemaVersion":2,"manifests":[{},{},{}]}}"#,
            entry(I, "sha256:n", ""),
            entry(I, "sha256:n", ""),
            entry(I, "sha256:unresolved", ""),
        ));
        let nested_digests: Vec<&str> = Summary::nested_indexes(&entries)
            .iter()
            .map(|e| e.digest.as_str())
            .collect();
        let n = Digest::sha256(b"sha256:n").to_string();
        let unresolved = Digest::sha256(b"sha256:unresolved").to_string();
        assert_eq!(nested_digests, [n.as_str(), unresolved.as_str()]);
        let children = index(&format!(
            r#"{{"schemaVersion":2,"manifests":[{}]}}"#,
            entry(
                M,
                "sha256:c",
                r#","platform":{"os":"linux","architecture":"s390x"}"#
            ),
        ));
        let nested = HashMap::from([(n.as_str(), children)]);
        let digest = Digest::sha256(b"x");
        let s = Summary::from_index(&digest, I.into(), &entries, &nested, 1024).expect("summary");
        assert_eq!(
            s.platforms.len(),
            2,
            "each naming of the nested index counts"
        );
        assert_eq!(s.unlabeled, 1, "an unresolved nested index is unlabeled");
        assert_eq!(
            Summary::from_index(&digest, I.into(), &entries, &nested, 4),
            Err(ManifestError::TooManyEntries { count: 5, limit: 4 })
        );
        let deeper = HashMap::from([(
            n.as_str(),
            index(&format!(
                r#"{{"schemaVersion":2,"manifests":[{}]}}"#,
                entry(I, "sha256:deep", "")
            )),
        )]);
        assert_eq!(
            Summary::from_index(&digest, I.into(), &entries, &deeper, 1024),
            Err(ManifestError::NestedTooDeep)
        );
    }

    #[test]
    fn a_single_image_and_an_artifact() {
        let digest = Digest::sha256(b"m");
        let s = Summary::from_image(
            &digest,
            M.into(),
            42,
            ImageContent::Image(Platform::new("linux", "arm", Some("v6"))),
        );
        assert!(!s.is_list);
        assert_eq!(s.platforms.len(), 1);
        assert_eq!(
            (s.platforms[0].size, &s.platforms[0].digest),
            (42, &s.digest)
        );
        let a = Summary::from_image(&digest, M.into(), 42, ImageContent::Artifact("x/y".into()));
        assert!(a.platforms.is_empty());
        assert_eq!(a.artifact_type.as_deref(), Some("x/y"));
    }
}
