//! The answer as the store holds it: [`StoredAnswer`], the service's cache value (an image's
//! summary, or "not found"), in a versioned layout of its own. Its field names are written
//! here, apart from the JSON answer's (docs/json.md, which are `Summary`'s serde): renaming a
//! field of the answer cannot silently turn every stored item into a miss, and a change of
//! this layout bumps [`PAYLOAD_VERSION`], so older items become misses on purpose.
//!
//! Version 1 is the layout items had before the payload named its version:
//! `{"type":"image","summary":{"digest","mediaType","isList","platforms":[{"os",
//! "architecture","variant","os.version","os.features","digest","mediaType","size"}],
//! "attestations","unlabeled","artifactType"}}`, or `{"type":"missing"}`. A payload without
//! `v` is version 1; this build writes `"v":1` first, then the same fields. A version this
//! build does not know is a miss (the answer loaded instead overwrites the item), never a
//! panic: `v` is checked as soon as it is read, so a newer item is refused before its other
//! fields are parsed.
//!
//! The decode is one pass of serde_json into these structs (nothing buffered on the way),
//! four levels deep, bounded by the size of the item (DynamoDB's 400 KB).

use std::borrow::Cow;
use std::sync::Arc;

use oci::{Digest, MediaType, Platform, PlatformEntry, Summary};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The payload layout this build writes and reads.
pub const PAYLOAD_VERSION: u64 = 1;

/// What the service caches for a reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredAnswer {
    /// The image's summary.
    Image(Arc<Summary>),
    /// Not found (kept for a short while).
    Missing,
}

impl Serialize for StoredAnswer {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (kind, summary) = match self {
            StoredAnswer::Image(summary) => (Kind::Image, Some(StoredSummary::from(&**summary))),
            StoredAnswer::Missing => (Kind::Missing, None),
        };
        Layout {
            v: PAYLOAD_VERSION,
            kind,
            summary,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for StoredAnswer {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<StoredAnswer, D::Error> {
        let layout = Layout::deserialize(deserializer)?;
        match (layout.kind, layout.summary) {
            (Kind::Image, Some(summary)) => {
                Ok(StoredAnswer::Image(Arc::new(summary.into_summary())))
            }
            (Kind::Image, None) => Err(D::Error::missing_field("summary")),
            (Kind::Missing, _) => Ok(StoredAnswer::Missing),
        }
    }
}

/// The top level: `{"v", "type", "summary"}`, `v` first.
#[derive(Serialize, Deserialize)]
struct Layout<'a> {
    #[serde(default = "unversioned", deserialize_with = "known_version")]
    v: u64,
    #[serde(rename = "type")]
    kind: Kind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    summary: Option<StoredSummary<'a>>,
}

/// The version of a payload without `v`: written before the payload named its version.
fn unversioned() -> u64 {
    1
}

/// `v`, refused at once unless this build reads it.
fn known_version<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    match u64::deserialize(deserializer)? {
        PAYLOAD_VERSION => Ok(PAYLOAD_VERSION),
        other => Err(D::Error::custom(format_args!(
            "payload version {other} is not {PAYLOAD_VERSION}, the one this build reads"
        ))),
    }
}

#[derive(Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Image,
    Missing,
}

/// A summary's fields, borrowed when written and owned when read.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredSummary<'a> {
    digest: Cow<'a, Digest>,
    media_type: Cow<'a, MediaType>,
    is_list: bool,
    platforms: Vec<StoredPlatform<'a>>,
    attestations: usize,
    #[serde(default)]
    unlabeled: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    artifact_type: Option<Cow<'a, str>>,
}

/// One platform entry, its platform's fields inline.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredPlatform<'a> {
    os: Cow<'a, str>,
    architecture: Cow<'a, str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    variant: Option<Cow<'a, str>>,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    os_version: Option<Cow<'a, str>>,
    #[serde(
        rename = "os.features",
        default,
        skip_serializing_if = "<[String]>::is_empty"
    )]
    os_features: Cow<'a, [String]>,
    digest: Cow<'a, Digest>,
    media_type: Cow<'a, MediaType>,
    size: u64,
}

// The conversions name every field (no `..`): a field added to `Summary`, `PlatformEntry` or
// `Platform` does not compile until it has a place in this layout (and, if the layout
// changes, a new `PAYLOAD_VERSION`).

impl<'a> From<&'a Summary> for StoredSummary<'a> {
    fn from(summary: &'a Summary) -> StoredSummary<'a> {
        let Summary {
            digest,
            media_type,
            is_list,
            platforms,
            attestations,
            unlabeled,
            artifact_type,
        } = summary;
        StoredSummary {
            digest: Cow::Borrowed(digest),
            media_type: Cow::Borrowed(media_type),
            is_list: *is_list,
            platforms: platforms.iter().map(StoredPlatform::from).collect(),
            attestations: *attestations,
            unlabeled: *unlabeled,
            artifact_type: artifact_type.as_deref().map(Cow::Borrowed),
        }
    }
}

impl StoredSummary<'_> {
    fn into_summary(self) -> Summary {
        Summary {
            digest: self.digest.into_owned(),
            media_type: self.media_type.into_owned(),
            is_list: self.is_list,
            platforms: self
                .platforms
                .into_iter()
                .map(StoredPlatform::into_entry)
                .collect(),
            attestations: self.attestations,
            unlabeled: self.unlabeled,
            artifact_type: self.artifact_type.map(Cow::into_owned),
        }
    }
}

impl<'a> From<&'a PlatformEntry> for StoredPlatform<'a> {
    fn from(entry: &'a PlatformEntry) -> StoredPlatform<'a> {
        let PlatformEntry {
            platform:
                Platform {
                    os,
                    architecture,
                    variant,
                    os_version,
                    os_features,
                },
            digest,
            media_type,
            size,
        } = entry;
        StoredPlatform {
            os: Cow::Borrowed(os),
            architecture: Cow::Borrowed(architecture),
            variant: variant.as_deref().map(Cow::Borrowed),
            os_version: os_version.as_deref().map(Cow::Borrowed),
            os_features: Cow::Borrowed(os_features),
            digest: Cow::Borrowed(digest),
            media_type: Cow::Borrowed(media_type),
            size: *size,
        }
    }
}

impl StoredPlatform<'_> {
    fn into_entry(self) -> PlatformEntry {
        PlatformEntry {
            platform: Platform {
                os: self.os.into_owned(),
                architecture: self.architecture.into_owned(),
                variant: self.variant.map(Cow::into_owned),
                os_version: self.os_version.map(Cow::into_owned),
                os_features: self.os_features.into_owned(),
            },
            digest: self.digest.into_owned(),
            media_type: self.media_type.into_owned(),
            size: self.size,
        }
    }
}

#[cfg(test)]
mod tests;
