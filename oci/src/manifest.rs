//! Manifest formats: media types, the JSON shapes this crate reads, and the pure steps that
//! turn a manifest body into platforms. No I/O here: the client fetches, these functions read.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::platform::Platform;

/// Media types this crate understands.
pub mod media_type {
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
    pub const DOCKER_SCHEMA1_SIGNED: &str =
        "application/vnd.docker.distribution.manifest.v1+prettyjws";
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
}

/// The Accept header for manifest requests. Every type is needed: distribution answers 404 to
/// an OCI index request that does not accept OCI indexes, and silently rewrites a Docker list
/// to its linux/amd64 manifest when the list type is missing. Schema 1 is accepted last only
/// so that an old image gets a clear "unsupported" instead of a 404.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json, \
application/vnd.docker.distribution.manifest.v1+prettyjws, \
application/vnd.docker.distribution.manifest.v1+json";

/// The annotation BuildKit puts on attestation manifests in an index.
pub const REFERENCE_TYPE_ANNOTATION: &str = "vnd.docker.reference.type";

/// Why a manifest or config body cannot be summarized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("not valid manifest JSON: {0}")]
    InvalidJson(String),
    #[error(
        "Docker schema 1 manifests are not supported (deprecated since 2017; push the image again with a current client)"
    )]
    Schema1,
    #[error("unsupported manifest media type {0:?}")]
    UnsupportedMediaType(String),
    #[error("{media_type} manifest without {field:?}")]
    MissingField {
        media_type: String,
        field: &'static str,
    },
    /// `count` is where reading stopped: at least that many entries.
    #[error("index has at least {count} entries, more than the {limit} this service reads")]
    TooManyEntries { count: usize, limit: usize },
    #[error("nested index deeper than one level")]
    NestedTooDeep,
    #[error("index names more than {limit} distinct nested indexes")]
    TooManyNested { limit: usize },
    #[error("image config is not valid: {0}")]
    InvalidConfig(String),
}

/// A media type (`application/vnd.oci.image.index.v1+json`), as the registry wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct MediaType(String);

impl MediaType {
    pub fn new(media_type: impl Into<String>) -> MediaType {
        MediaType(media_type.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An OCI index or a Docker manifest list.
    pub fn is_index(&self) -> bool {
        self.0 == media_type::OCI_INDEX || self.0 == media_type::DOCKER_LIST
    }
}

impl std::fmt::Display for MediaType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for MediaType {
    fn from(media_type: String) -> MediaType {
        MediaType(media_type)
    }
}

impl From<&str> for MediaType {
    fn from(media_type: &str) -> MediaType {
        MediaType(media_type.to_owned())
    }
}

impl PartialEq<&str> for MediaType {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// A content descriptor: an index entry or a manifest's config.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    #[serde(default)]
    pub digest: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub platform: Option<RawPlatform>,
    #[serde(default)]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub artifact_type: Option<String>,
}

/// A platform object as written in an index entry (every field optional, so a sloppy index
/// does not fail the whole lookup).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct RawPlatform {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub variant: Option<String>,
    #[serde(rename = "os.version", default)]
    pub os_version: Option<String>,
    #[serde(rename = "os.features", default)]
    pub os_features: Option<Vec<String>>,
}

/// The fields of a manifest this crate reads. Deserialized through [`RawManifestSeed`], so an
/// index's `manifests` array is cut off at the entry limit while it is parsed: a 4 MiB body of
/// a million `{}` entries costs a few kilobytes, not hundreds of megabytes.
#[derive(Default)]
struct RawManifest {
    schema_version: Option<i64>,
    media_type: Option<String>,
    manifests: Option<Vec<Descriptor>>,
    config: Option<Descriptor>,
    artifact_type: Option<String>,
}

/// Why parsing stopped early: the `manifests` array went past the limit.
const TOO_MANY_ENTRIES: &str = "mquery: too many index entries";

struct RawManifestSeed {
    max_entries: usize,
}

impl<'de> serde::de::DeserializeSeed<'de> for RawManifestSeed {
    type Value = RawManifest;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<RawManifest, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for RawManifestSeed {
    type Value = RawManifest;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a manifest object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<RawManifest, A::Error> {
        let mut raw = RawManifest::default();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "schemaVersion" => raw.schema_version = map.next_value()?,
                "mediaType" => raw.media_type = map.next_value()?,
                "manifests" => {
                    raw.manifests = map.next_value_seed(EntriesSeed {
                        max_entries: self.max_entries,
                    })?
                }
                "config" => raw.config = map.next_value()?,
                "artifactType" => raw.artifact_type = map.next_value()?,
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(raw)
    }
}

/// `manifests`: `null` or an array of at most `max_entries` descriptors.
struct EntriesSeed {
    max_entries: usize,
}

impl<'de> serde::de::DeserializeSeed<'de> for EntriesSeed {
    type Value = Option<Vec<Descriptor>>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> serde::de::Visitor<'de> for EntriesSeed {
    type Value = Option<Vec<Descriptor>>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of descriptors")
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        // the size hint comes from the body: never trust it beyond the limit
        let mut entries = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(self.max_entries));
        while let Some(entry) = seq.next_element::<Descriptor>()? {
            if entries.len() == self.max_entries {
                return Err(serde::de::Error::custom(TOO_MANY_ENTRIES));
            }
            entries.push(entry);
        }
        Ok(Some(entries))
    }
}

/// A parsed manifest: an index (OCI index or Docker manifest list) or a single image manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manifest {
    Index {
        media_type: String,
        entries: Vec<Descriptor>,
    },
    Image {
        media_type: String,
        config: Box<Descriptor>,
        artifact_type: Option<String>,
    },
}

impl Manifest {
    pub fn media_type(&self) -> &str {
        match self {
            Manifest::Index { media_type, .. } | Manifest::Image { media_type, .. } => media_type,
        }
    }
}

/// Parses a manifest body. The media type is the body's `mediaType`, else the response's
/// `Content-Type`, else inferred from the shape (early OCI documents omit it).
pub fn parse_manifest(
    content_type: Option<&str>,
    body: &[u8],
    max_entries: usize,
) -> Result<Manifest, ManifestError> {
    use serde::de::DeserializeSeed as _;
    let mut json = serde_json::Deserializer::from_slice(body);
    let raw = RawManifestSeed { max_entries }
        .deserialize(&mut json)
        .and_then(|raw| json.end().map(|()| raw))
        .map_err(|e| {
            if e.to_string().starts_with(TOO_MANY_ENTRIES) {
                ManifestError::TooManyEntries {
                    count: max_entries + 1,
                    limit: max_entries,
                }
            } else {
                ManifestError::InvalidJson(e.to_string())
            }
        })?;
    let header_type = content_type
        .map(|ct| ct.split(';').next().unwrap_or("").trim())
        .filter(|ct| !ct.is_empty() && *ct != "application/json" && *ct != "text/plain");
    let media_type = match (
        raw.media_type.as_deref().filter(|m| !m.is_empty()),
        header_type,
    ) {
        (Some(body_type), _) => body_type.to_owned(),
        (None, Some(header)) => header.to_owned(),
        (None, None) if raw.schema_version == Some(1) => media_type::DOCKER_SCHEMA1.to_owned(),
        (None, None) if raw.manifests.is_some() => media_type::OCI_INDEX.to_owned(),
        (None, None) if raw.config.is_some() => media_type::OCI_MANIFEST.to_owned(),
        (None, None) => return Err(ManifestError::UnsupportedMediaType(String::new())),
    };
    if raw.schema_version == Some(1)
        || media_type == media_type::DOCKER_SCHEMA1
        || media_type == media_type::DOCKER_SCHEMA1_SIGNED
    {
        return Err(ManifestError::Schema1);
    }
    let missing = |field| ManifestError::MissingField {
        media_type: media_type.clone(),
        field,
    };
    match media_type.as_str() {
        media_type::OCI_INDEX | media_type::DOCKER_LIST => {
            let entries = raw.manifests.ok_or_else(|| missing("manifests"))?;
            Ok(Manifest::Index {
                media_type,
                entries,
            })
        }
        media_type::OCI_MANIFEST | media_type::DOCKER_MANIFEST => {
            let config = raw.config.ok_or_else(|| missing("config"))?;
            Ok(Manifest::Image {
                media_type,
                config: Box::new(config),
                artifact_type: raw.artifact_type,
            })
        }
        _ => Err(ManifestError::UnsupportedMediaType(media_type)),
    }
}

/// What one index entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A runnable image for a platform.
    Platform(Platform),
    /// An attestation (SBOM, provenance): not a platform.
    Attestation,
    /// An index inside the index, to be resolved one level deep.
    NestedIndex,
    /// An entry that declares no platform (allowed by the spec, common for artifacts).
    Unlabeled,
}

/// Classifies an index entry. Never fails: a sloppy entry is `Unlabeled`, not an error.
pub fn classify_entry(entry: &Descriptor) -> EntryKind {
    if entry
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(REFERENCE_TYPE_ANNOTATION))
    {
        return EntryKind::Attestation;
    }
    if entry.media_type == media_type::OCI_INDEX || entry.media_type == media_type::DOCKER_LIST {
        return EntryKind::NestedIndex;
    }
    match &entry.platform {
        Some(p) if p.os == "unknown" && p.architecture == "unknown" => EntryKind::Attestation,
        Some(p) if !p.os.is_empty() || !p.architecture.is_empty() => {
            EntryKind::Platform(Platform {
                os: p.os.clone(),
                architecture: p.architecture.clone(),
                variant: p.variant.clone().filter(|v| !v.is_empty()),
                os_version: p.os_version.clone().filter(|v| !v.is_empty()),
                os_features: p.os_features.clone().unwrap_or_default(),
            })
        }
        _ => EntryKind::Unlabeled,
    }
}

/// Whether a config media type is an image config (rather than an artifact's).
pub fn is_image_config(media_type: &str) -> bool {
    media_type == media_type::OCI_CONFIG || media_type == media_type::DOCKER_CONFIG
}

#[derive(Deserialize)]
struct RawConfig {
    #[serde(default)]
    architecture: Option<String>,
    #[serde(default)]
    os: Option<String>,
    #[serde(default)]
    variant: Option<String>,
    #[serde(rename = "os.version", default)]
    os_version: Option<String>,
    #[serde(rename = "os.features", default)]
    os_features: Option<Vec<String>>,
}

/// Reads os/architecture/variant/os.version from an image config blob.
pub fn platform_from_config(body: &[u8]) -> Result<Platform, ManifestError> {
    let raw: RawConfig =
        serde_json::from_slice(body).map_err(|e| ManifestError::InvalidConfig(e.to_string()))?;
    match (
        raw.os.filter(|s| !s.is_empty()),
        raw.architecture.filter(|s| !s.is_empty()),
    ) {
        (Some(os), Some(architecture)) => Ok(Platform {
            os,
            architecture,
            variant: raw.variant.filter(|v| !v.is_empty()),
            os_version: raw.os_version.filter(|v| !v.is_empty()),
            os_features: raw.os_features.unwrap_or_default(),
        }),
        _ => Err(ManifestError::InvalidConfig(
            "no os or architecture".to_owned(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(&v).expect("json")
    }

    #[test]
    fn index_with_every_kind_of_entry() {
        let index = body(json!({
            "schemaVersion": 2,
            "mediaType": media_type::OCI_INDEX,
            "manifests": [
                {"mediaType": media_type::OCI_MANIFEST, "digest": "sha256:a", "size": 1,
                 "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
                {"mediaType": media_type::OCI_MANIFEST, "digest": "sha256:b", "size": 2,
                 "platform": {"os": "unknown", "architecture": "unknown"}},
                {"mediaType": media_type::OCI_MANIFEST, "digest": "sha256:c", "size": 3,
                 "platform": {"os": "linux", "architecture": "amd64"},
                 "annotations": {"vnd.docker.reference.type": "attestation-manifest"}},
                {"mediaType": media_type::OCI_MANIFEST, "digest": "sha256:d", "size": 4},
                {"mediaType": media_type::OCI_INDEX, "digest": "sha256:e", "size": 5},
                {"mediaType": media_type::OCI_MANIFEST, "digest": "sha256:f", "size": 6,
                 "platform": {"os": "windows", "architecture": "amd64",
                              "os.version": "10.0.17763.2300", "os.features": ["win32k"]}},
            ]
        }));
        let parsed = parse_manifest(None, &index, 100).expect("parses");
        assert_eq!(parsed.media_type(), media_type::OCI_INDEX);
        let Manifest::Index { entries, .. } = parsed else {
            panic!("expected an index");
        };
        let kinds: Vec<EntryKind> = entries.iter().map(classify_entry).collect();
        assert_eq!(
            kinds,
            vec![
                EntryKind::Platform(Platform::new("linux", "arm64", Some("v8"))),
                EntryKind::Attestation,
                EntryKind::Attestation,
                EntryKind::Unlabeled,
                EntryKind::NestedIndex,
                EntryKind::Platform(Platform {
                    os_version: Some("10.0.17763.2300".into()),
                    os_features: vec!["win32k".into()],
                    ..Platform::new("windows", "amd64", None)
                }),
            ]
        );
    }

    #[test]
    fn media_type_from_header_or_shape() {
        let list = body(json!({"schemaVersion": 2, "manifests": []}));
        let parsed = parse_manifest(
            Some("application/vnd.docker.distribution.manifest.list.v2+json; charset=utf-8"),
            &list,
            10,
        )
        .expect("parses");
        assert_eq!(parsed.media_type(), media_type::DOCKER_LIST);
        let parsed = parse_manifest(Some("application/json"), &list, 10).expect("parses");
        assert_eq!(parsed.media_type(), media_type::OCI_INDEX);
        let image = body(
            json!({"schemaVersion": 2, "config": {"mediaType": media_type::OCI_CONFIG, "digest": "sha256:x", "size": 1}, "layers": []}),
        );
        let parsed = parse_manifest(None, &image, 10).expect("parses");
        assert_eq!(parsed.media_type(), media_type::OCI_MANIFEST);
    }

    #[test]
    fn artifact_manifest_keeps_its_type() {
        let artifact = body(json!({
            "schemaVersion": 2,
            "mediaType": media_type::OCI_MANIFEST,
            "artifactType": "application/vnd.example.sbom",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": "sha256:x", "size": 2},
            "layers": []
        }));
        let Manifest::Image {
            config,
            artifact_type,
            ..
        } = parse_manifest(None, &artifact, 10).expect("parses")
        else {
            panic!("expected an image manifest");
        };
        assert!(!is_image_config(&config.media_type));
        assert_eq!(
            artifact_type.as_deref(),
            Some("application/vnd.example.sbom")
        );
    }

    #[test]
    fn errors() {
        assert!(matches!(
            parse_manifest(None, b"{not json", 10),
            Err(ManifestError::InvalidJson(_))
        ));
        assert!(matches!(
            parse_manifest(None, b"[1,2]", 10),
            Err(ManifestError::InvalidJson(_))
        ));
        assert_eq!(
            parse_manifest(
                None,
                &body(json!({"schemaVersion": 1, "name": "x", "fsLayers": []})),
                10
            ),
            Err(ManifestError::Schema1)
        );
        assert_eq!(
            parse_manifest(
                Some(media_type::DOCKER_SCHEMA1_SIGNED),
                &body(json!({"name": "x"})),
                10
            ),
            Err(ManifestError::Schema1)
        );
        assert_eq!(
            parse_manifest(None, &body(json!({"mediaType": "text/html"})), 10),
            Err(ManifestError::UnsupportedMediaType("text/html".into()))
        );
        assert_eq!(
            parse_manifest(
                None,
                &body(json!({"mediaType": media_type::DOCKER_LIST})),
                10
            ),
            Err(ManifestError::MissingField {
                media_type: media_type::DOCKER_LIST.into(),
                field: "manifests"
            })
        );
        let many: Vec<_> = (0..11).map(|_| json!({})).collect();
        assert_eq!(
            parse_manifest(None, &body(json!({"manifests": many})), 10),
            Err(ManifestError::TooManyEntries {
                count: 11,
                limit: 10
            })
        );
        // exactly at the limit is fine; null manifests is a missing field
        let ten: Vec<_> = (0..10).map(|_| json!({})).collect();
        assert!(matches!(
            parse_manifest(None, &body(json!({"manifests": ten})), 10),
            Ok(Manifest::Index { entries, .. }) if entries.len() == 10
        ));
        assert_eq!(
            parse_manifest(
                None,
                &body(json!({"mediaType": media_type::OCI_INDEX, "manifests": null})),
                10
            ),
            Err(ManifestError::MissingField {
                media_type: media_type::OCI_INDEX.into(),
                field: "manifests"
            })
        );
        // a 4 MiB body of a million empty entries stops at entry 11, whatever follows it
        let mut huge = b"{\"manifests\":[".to_vec();
        huge.extend(std::iter::repeat_n(b"{},".as_slice(), 1_400_000).flatten());
        huge.extend(b"{}]}");
        assert_eq!(
            parse_manifest(None, &huge, 10),
            Err(ManifestError::TooManyEntries {
                count: 11,
                limit: 10
            })
        );
        // trailing garbage is still invalid JSON
        assert!(matches!(
            parse_manifest(None, b"{\"manifests\":[]} x", 10),
            Err(ManifestError::InvalidJson(_))
        ));
        assert!(matches!(
            parse_manifest(None, &body(json!({"manifests": [{"size": -1}]})), 10),
            Err(ManifestError::InvalidJson(_))
        ));
    }

    #[test]
    fn config_platform() {
        let config =
            body(json!({"architecture": "arm", "os": "linux", "variant": "v6", "rootfs": {}}));
        assert_eq!(
            platform_from_config(&config),
            Ok(Platform::new("linux", "arm", Some("v6")))
        );
        let windows =
            body(json!({"architecture": "amd64", "os": "windows", "os.version": "10.0.20348.1"}));
        assert_eq!(
            platform_from_config(&windows).expect("valid").to_string(),
            "windows/amd64:10.0.20348.1"
        );
        assert!(matches!(
            platform_from_config(&body(json!({"os": "linux"}))),
            Err(ManifestError::InvalidConfig(_))
        ));
        assert!(matches!(
            platform_from_config(b"\xff"),
            Err(ManifestError::InvalidConfig(_))
        ));
    }
}
