//! The answer for one image, and the output contract of DESIGN.md: the v1 JSON document and
//! mquery's text. The CLI and the service render from these same types, so their outputs
//! cannot drift apart.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::platform::Platform;

/// One platform of an image, with the manifest that implements it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlatformEntry {
    #[serde(flatten)]
    pub platform: Platform,
    pub digest: String,
    pub media_type: String,
    pub size: u64,
}

/// What a manifest digest means. Immutable for a digest, so it can be cached for a long time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub digest: String,
    pub media_type: String,
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

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Memory,
    Dynamodb,
    Registry,
}

/// Cache metadata of an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CacheInfo {
    pub source: Source,
    /// When the registry was asked, RFC 3339.
    pub fetched_at: String,
    /// When the answer stops being fresh, RFC 3339; `None` when it is not cached.
    pub expires_at: Option<String>,
    pub stale: bool,
}

impl CacheInfo {
    /// Metadata for an answer fetched just now and not cached (the CLI's direct mode).
    pub fn fresh_from_registry() -> CacheInfo {
        CacheInfo {
            source: Source::Registry,
            fetched_at: rfc3339(SystemTime::now()),
            expires_at: None,
            stale: false,
        }
    }
}

/// The v1 JSON document for one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The reference as the user wrote it.
    pub image: String,
    /// The canonical reference (`docker.io/library/alpine:latest`).
    pub reference: String,
    #[serde(flatten)]
    pub summary: Summary,
    pub cache: CacheInfo,
}

impl Report {
    /// mquery's text format.
    pub fn to_text(&self) -> String {
        text(&self.image, &self.summary)
    }

    /// The same document, borrowed.
    pub fn as_ref(&self) -> ReportRef<'_> {
        ReportRef {
            image: &self.image,
            reference: &self.reference,
            summary: &self.summary,
            cache: &self.cache,
        }
    }
}

/// The v1 document, borrowed: the service serializes it without copying the summary. Its
/// JSON is exactly [`Report`]'s.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportRef<'a> {
    pub image: &'a str,
    pub reference: &'a str,
    #[serde(flatten)]
    pub summary: &'a Summary,
    pub cache: &'a CacheInfo,
}

/// Registry strings longer than this are clipped in text.
const TEXT_FIELD_MAX: usize = 120;

/// mquery's text format for `image` (as the user wrote it) and its summary. Registry
/// strings are clipped so a hostile registry cannot flood a terminal.
pub fn text(image: &str, s: &Summary) -> String {
    let mut out = String::with_capacity(128 + 32 * s.platforms.len());
    // Writing to a String cannot fail.
    let _ = writeln!(
        out,
        "Image: {image} (digest: {})",
        clip(&s.digest, TEXT_FIELD_MAX + 20)
    );
    let list = if s.is_list { "Yes" } else { "No" };
    let _ = writeln!(
        out,
        " * Manifest List: {list} (Image type: {})",
        clip(&s.media_type, TEXT_FIELD_MAX)
    );
    let platform = |p: &PlatformEntry| clip(&p.platform.to_string(), TEXT_FIELD_MAX);
    if s.is_list {
        if s.platforms.is_empty() {
            let _ = writeln!(out, " * Supported platforms: none");
        } else {
            let _ = writeln!(out, " * Supported platforms:");
            for p in &s.platforms {
                let _ = writeln!(out, "   - {}", platform(p));
            }
        }
    } else if let Some(artifact) = &s.artifact_type {
        let _ = writeln!(
            out,
            " * Artifact: {} (not a runnable image)",
            clip(artifact, TEXT_FIELD_MAX)
        );
    } else {
        let platforms: Vec<String> = s.platforms.iter().map(platform).collect();
        let _ = writeln!(out, " * Supports: {}", platforms.join(", "));
    }
    out
}

/// The JSON error document: `{"image", "reference" (when parsed), "error": {code, message}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReport {
    /// The image as given; absent when the request named none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    pub error: ErrorBody,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

/// Shortens registry-controlled text for display, on a character boundary, so a hostile
/// registry cannot flood a terminal or a page, and makes it [`printable`] (the clipping counts
/// the escapes, so a line stays short however the text is spelled).
pub fn clip(s: &str, max_chars: usize) -> String {
    let printable = printable(s);
    if printable.chars().count() <= max_chars {
        printable.into_owned()
    } else {
        let mut out: String = printable
            .chars()
            .take(max_chars.saturating_sub(1))
            .collect();
        out.push('…');
        out
    }
}

/// Text that cannot drive a terminal or forge a line: control characters (C0 including CR
/// and LF, DEL, C1), and the bidirectional overrides that reorder what a reader sees, are
/// written as escapes (`\x1b`, `\u{202e}`); everything else is kept.
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    let hostile = |c: char| {
        c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !s.chars().any(hostile) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if !hostile(c) {
            out.push(c);
        } else if (c as u32) < 0x80 {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Formats a time as RFC 3339 UTC with second precision (`2026-11-22T19:23:55Z`).
pub fn rfc3339(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn entry(platform: Platform) -> PlatformEntry {
        PlatformEntry {
            platform,
            digest: "sha256:1".into(),
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            size: 10,
        }
    }

    fn report(summary: Summary) -> Report {
        Report {
            image: "alpine".into(),
            reference: "docker.io/library/alpine:latest".into(),
            summary,
            cache: CacheInfo {
                source: Source::Registry,
                fetched_at: "2026-01-01T00:00:00Z".into(),
                expires_at: None,
                stale: false,
            },
        }
    }

    #[test]
    fn text_for_an_index() {
        let r = report(Summary {
            digest: "sha256:abc".into(),
            media_type: "application/vnd.oci.image.index.v1+json".into(),
            is_list: true,
            platforms: vec![
                entry(Platform::new("linux", "amd64", None)),
                entry(Platform::new("linux", "arm64", Some("v8"))),
            ],
            attestations: 2,
            unlabeled: 0,
            artifact_type: None,
        });
        assert_eq!(
            r.to_text(),
            "Image: alpine (digest: sha256:abc)\n \
             * Manifest List: Yes (Image type: application/vnd.oci.image.index.v1+json)\n \
             * Supported platforms:\n   - linux/amd64\n   - linux/arm64/v8\n"
        );
    }

    #[test]
    fn text_for_a_single_image_and_an_artifact() {
        let single = Summary {
            digest: "sha256:abc".into(),
            media_type: "application/vnd.docker.distribution.manifest.v2+json".into(),
            is_list: false,
            platforms: vec![entry(Platform::new("linux", "arm", Some("v6")))],
            attestations: 0,
            unlabeled: 0,
            artifact_type: None,
        };
        assert_eq!(
            report(single.clone()).to_text(),
            "Image: alpine (digest: sha256:abc)\n \
             * Manifest List: No (Image type: application/vnd.docker.distribution.manifest.v2+json)\n \
             * Supports: linux/arm/v6\n"
        );
        let artifact = Summary {
            platforms: vec![],
            artifact_type: Some("application/vnd.example".into()),
            ..single
        };
        assert!(
            report(artifact)
                .to_text()
                .ends_with(" * Artifact: application/vnd.example (not a runnable image)\n")
        );
    }

    #[test]
    fn json_shape_round_trips() {
        let r = report(Summary {
            digest: "sha256:abc".into(),
            media_type: "m".into(),
            is_list: true,
            platforms: vec![entry(Platform::new("linux", "arm64", Some("v8")))],
            attestations: 1,
            unlabeled: 0,
            artifact_type: None,
        });
        let json = serde_json::to_value(&r).expect("serializes");
        assert_eq!(json["reference"], "docker.io/library/alpine:latest");
        assert_eq!(json["isList"], true);
        assert_eq!(json["mediaType"], "m");
        assert_eq!(json["attestations"], 1);
        assert_eq!(json["platforms"][0]["variant"], "v8");
        assert_eq!(
            json["platforms"][0]["mediaType"],
            "application/vnd.oci.image.manifest.v1+json"
        );
        assert_eq!(json["cache"]["source"], "registry");
        assert_eq!(json["cache"]["expiresAt"], serde_json::Value::Null);
        let back: Report = serde_json::from_value(json).expect("deserializes");
        assert_eq!(back, r);
        // the borrowed form writes the same bytes
        assert_eq!(
            serde_json::to_string(&r.as_ref()).expect("serializes"),
            serde_json::to_string(&r).expect("serializes")
        );
    }

    #[test]
    fn text_clips_registry_strings() {
        let mut hostile = entry(Platform::new("linux", &"x".repeat(10_000), None));
        hostile.digest = "sha256:1".into();
        let r = report(Summary {
            digest: "sha256:abc".into(),
            media_type: "m".repeat(5_000),
            is_list: true,
            platforms: vec![hostile],
            attestations: 0,
            unlabeled: 0,
            artifact_type: None,
        });
        let text = r.to_text();
        assert!(text.len() < 1_000, "{} bytes", text.len());
        assert!(text.lines().all(|l| l.chars().count() <= 160));
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("ab\u{1b}[31m", 20), "ab\\x1b[31m");
        assert_eq!(clip("ééééé", 3), "éé…");
    }

    /// The payloads of the attack (issue 11, failure 6): colour codes, a window-title OSC
    /// sequence, and CR/LF forging an extra platform line.
    #[test]
    fn text_escapes_control_characters() {
        let hostile = [
            Platform::new("linux", "arm\u{1b}[31m", None),
            Platform::new("linux", "\u{1b}]0;pwned\u{7}amd64", None),
            Platform::new("linux", "arm\n * Supported platforms: fake/line", None),
            Platform::new("linux", "arm64\r   - linux/s390x", Some("v8\u{9b}\u{202e}")),
        ];
        let r = report(Summary {
            digest: "sha256:abc".into(),
            media_type: "application/vnd.oci.image.index.v1+json\u{7f}".into(),
            is_list: true,
            platforms: hostile.into_iter().map(entry).collect(),
            attestations: 0,
            unlabeled: 0,
            artifact_type: None,
        });
        let text = r.to_text();
        assert!(
            !text.chars().any(|c| c != '\n' && c.is_control()),
            "{text:?}"
        );
        assert_eq!(text.lines().count(), 3 + 4, "{text}");
        assert!(text.contains("   - linux/arm\\x1b[31m\n"), "{text}");
        assert!(
            text.contains("   - linux/\\x1b]0;pwned\\x07amd64\n"),
            "{text}"
        );
        assert!(
            text.contains("   - linux/arm\\x0a * Supported platforms: fake/line\n"),
            "{text}"
        );
        assert!(
            text.contains("   - linux/arm64\\x0d   - linux/s390x/v8\\u{9b}\\u{202e}\n"),
            "{text}"
        );
        assert!(text.contains("(Image type: application/vnd.oci.image.index.v1+json\\x7f)"));
        assert_eq!(printable("linux/arm64/v8"), "linux/arm64/v8");
    }

    #[test]
    fn rfc3339_known_values() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(1_795_375_435)),
            "2026-11-22T19:23:55Z"
        );
    }
}
