//! mquery's text format, and the escaping that keeps registry-controlled strings from driving
//! a terminal or flooding a page. A stack check's table and summary line are in [`stack`].

pub mod stack;

use std::fmt::Write as _;

use oci::{Finding, PlatformCheck, PlatformEntry, Sense, Summary, Verification};

/// Registry strings longer than this are clipped in text.
const TEXT_FIELD_MAX: usize = 120;

/// The summary lines of mquery's text format for `image` (as the user wrote it): its digest,
/// whether it is a list, its platforms. Registry strings are clipped so a hostile registry
/// cannot flood a terminal.
pub fn summary_lines(image: &str, s: &Summary) -> String {
    let mut out = String::with_capacity(128 + 32 * s.platforms.len());
    // Writing to a String cannot fail.
    let _ = writeln!(out, "Image: {image} (digest: {})", s.digest);
    let list = if s.is_list { "Yes" } else { "No" };
    let _ = writeln!(
        out,
        " * Manifest List: {list} (Image type: {})",
        clip(s.media_type.as_str(), TEXT_FIELD_MAX)
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

/// The whole text answer: the summary lines, then the platform line (in `sense`) when a platform
/// was asked for, then the `--verify` lines when they were.
pub fn document(
    image: &str,
    summary: &Summary,
    check: Option<&PlatformCheck>,
    verification: Option<&Verification>,
    sense: Sense,
) -> String {
    let mut out = summary_lines(image, summary);
    if let Some(check) = check {
        out.push_str(&platform_line(check, sense));
    }
    if let Some(verification) = verification {
        out.push_str(&verification_lines(verification, summary));
    }
    out
}

/// The platform line of the text format, e.g. ` * linux/arm64: yes (linux/arm64/v8)`, or
/// ` * linux/arm64: no; linux/arm/v7 runs only with 32-bit support (--compatible)`.
fn platform_line(check: &PlatformCheck, sense: Sense) -> String {
    let asked = clip(&check.normalized, TEXT_FIELD_MAX);
    let entry = |m: &oci::PlatformMatch| clip(&m.platform, TEXT_FIELD_MAX);
    match (&check.native, &check.compatible, sense) {
        (Some(native), _, _) => format!(" * {asked}: yes ({})\n", entry(native)),
        (None, Some(fallback), Sense::Compatible) => {
            format!(
                " * {asked}: yes ({}; compatible, not native)\n",
                entry(fallback)
            )
        }
        (None, Some(fallback), Sense::Native) => format!(
            " * {asked}: no; {} runs only with 32-bit support (--compatible)\n",
            entry(fallback)
        ),
        (None, None, _) => format!(" * {asked}: no\n"),
    }
}

/// The `--verify` lines of the text format: how many entries were read, then one line per
/// finding.
fn verification_lines(v: &Verification, summary: &Summary) -> String {
    let mut out = String::new();
    let findings = match v.findings.len() {
        0 => "no findings".to_owned(),
        1 => "1 finding".to_owned(),
        n => format!("{n} findings"),
    };
    let _ = writeln!(
        out,
        " * Verified: {} of {} platform entries read, {findings}",
        v.checked,
        summary.platforms.len()
    );
    let short = |d: &oci::Digest| format!("{}…", &d.encoded()[..12]);
    for finding in &v.findings {
        let line = match finding {
            Finding::PlatformMismatch {
                digest,
                index,
                config,
            } => format!(
                "{} ({}): its image config says {}",
                clip(index, TEXT_FIELD_MAX),
                short(digest),
                clip(config, TEXT_FIELD_MAX)
            ),
            Finding::Duplicate { platform, digests } => format!(
                "{} is listed {} times",
                clip(platform, TEXT_FIELD_MAX),
                digests.len()
            ),
            Finding::Unreadable {
                digest,
                platform,
                reason,
            } => format!(
                "{} ({}): unreadable: {}",
                clip(platform, TEXT_FIELD_MAX),
                short(digest),
                clip(reason, TEXT_FIELD_MAX)
            ),
            Finding::NotAnImage {
                digest,
                platform,
                actual,
            } => format!(
                "{} ({}): not an image but {}",
                clip(platform, TEXT_FIELD_MAX),
                short(digest),
                clip(actual, TEXT_FIELD_MAX)
            ),
        };
        let _ = writeln!(out, "   - {line}");
    }
    out
}

/// `mquery diff`'s text: what NEW added and dropped relative to OLD.
pub fn diff(d: &oci::Diff) -> String {
    let mut out = String::new();
    let list = |platforms: &[String]| {
        if platforms.is_empty() {
            "none".to_owned()
        } else {
            platforms
                .iter()
                .map(|p| clip(p, TEXT_FIELD_MAX))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let _ = writeln!(out, "Old: {} (digest: {})", d.old.image, d.old.digest);
    let _ = writeln!(out, "New: {} (digest: {})", d.new.image, d.new.digest);
    if d.same_digest {
        let _ = writeln!(out, " * Same manifest");
    }
    let _ = writeln!(out, " * Added: {}", list(&d.added));
    let _ = writeln!(out, " * Dropped: {}", list(&d.dropped));
    let _ = writeln!(
        out,
        " * Attestations: {} -> {}",
        d.old.attestations, d.new.attestations
    );
    out
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CacheInfo, Report, Source};
    use oci::{Digest, Platform};

    fn abc() -> Digest {
        Digest::sha256(b"abc")
    }
    use std::time::{Duration, UNIX_EPOCH};

    fn entry(platform: Platform) -> PlatformEntry {
        PlatformEntry {
            platform,
            digest: Digest::sha256(b"1"),
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            size: 10,
        }
    }

    fn report(summary: Summary) -> Report {
        Report {
            image: "alpine".into(),
            reference: "docker.io/library/alpine:latest".into(),
            summary,
            platform_check: None,
            verification: None,
            cache: CacheInfo {
                source: Source::Registry,
                fetched_at: UNIX_EPOCH + Duration::from_secs(1_767_225_600),
                expires_at: None,
                stale: false,
            },
        }
    }

    /// An OCI index (digest [`abc`]) of `platforms`.
    fn oci_index(platforms: &[Platform]) -> Summary {
        Summary {
            digest: abc(),
            media_type: "application/vnd.oci.image.index.v1+json".into(),
            is_list: true,
            platforms: platforms.iter().cloned().map(entry).collect(),
            attestations: 0,
            unlabeled: 0,
            artifact_type: None,
        }
    }

    #[test]
    fn text_for_an_index() {
        let r = report(Summary {
            attestations: 2,
            ..oci_index(&[
                Platform::new("linux", "amd64", None),
                Platform::new("linux", "arm64", Some("v8")),
            ])
        });
        assert_eq!(
            r.to_text(Sense::Native),
            format!(
                "Image: alpine (digest: {})\n \
             * Manifest List: Yes (Image type: application/vnd.oci.image.index.v1+json)\n \
             * Supported platforms:\n   - linux/amd64\n   - linux/arm64/v8\n",
                abc()
            )
        );
    }

    #[test]
    fn text_for_a_single_image_and_an_artifact() {
        let single = Summary {
            digest: abc(),
            media_type: "application/vnd.docker.distribution.manifest.v2+json".into(),
            is_list: false,
            platforms: vec![entry(Platform::new("linux", "arm", Some("v6")))],
            attestations: 0,
            unlabeled: 0,
            artifact_type: None,
        };
        assert_eq!(
            report(single.clone()).to_text(Sense::Native),
            format!(
                "Image: alpine (digest: {})\n \
             * Manifest List: No (Image type: application/vnd.docker.distribution.manifest.v2+json)\n \
             * Supports: linux/arm/v6\n",
                abc()
            )
        );
        let artifact = Summary {
            platforms: vec![],
            artifact_type: Some("application/vnd.example".into()),
            ..single
        };
        assert!(
            report(artifact)
                .to_text(Sense::Native)
                .ends_with(" * Artifact: application/vnd.example (not a runnable image)\n")
        );
    }

    #[test]
    fn json_shape_round_trips() {
        let r = report(Summary {
            digest: abc(),
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
        assert_eq!(json["cache"]["fetchedAt"], "2026-01-01T00:00:00Z");
        let back: Report = serde_json::from_value(json).expect("deserializes");
        assert_eq!(back, r);
        // the borrowed form writes the same bytes
        let borrowed = crate::ReportRef {
            image: &r.image,
            reference: &r.reference,
            summary: &r.summary,
            cache: &r.cache,
            platform_check: r.platform_check.as_ref(),
            verification: r.verification.as_ref(),
        };
        assert_eq!(
            serde_json::to_string(&borrowed).expect("serializes"),
            serde_json::to_string(&r).expect("serializes")
        );
    }

    #[test]
    fn text_clips_registry_strings() {
        let mut hostile = entry(Platform::new("linux", &"x".repeat(10_000), None));
        hostile.digest = Digest::sha256(b"1");
        let r = report(Summary {
            digest: abc(),
            media_type: "m".repeat(5_000).into(),
            is_list: true,
            platforms: vec![hostile],
            attestations: 0,
            unlabeled: 0,
            artifact_type: None,
        });
        let text = r.to_text(Sense::Native);
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
            digest: abc(),
            media_type: "application/vnd.oci.image.index.v1+json\u{7f}".into(),
            is_list: true,
            platforms: hostile.into_iter().map(entry).collect(),
            attestations: 0,
            unlabeled: 0,
            artifact_type: None,
        });
        let text = r.to_text(Sense::Native);
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
    fn platform_lines() {
        let s = oci_index(&[
            Platform::new("linux", "amd64", None),
            Platform::new("linux", "arm", Some("v7")),
            Platform::new("linux", "arm64", Some("v8")),
        ]);
        let line =
            |spec: &str, sense| platform_line(&PlatformCheck::new(spec, &s).expect("valid"), sense);
        assert_eq!(
            line("linux/arm64", Sense::Native),
            " * linux/arm64: yes (linux/arm64/v8)\n"
        );
        assert_eq!(line("riscv64", Sense::Native), " * linux/riscv64: no\n");
        let no_arm64 = Summary {
            platforms: s.platforms[..2].to_vec(),
            ..s.clone()
        };
        let check = PlatformCheck::new("arm64", &no_arm64).expect("valid");
        assert_eq!(
            platform_line(&check, Sense::Native),
            " * linux/arm64: no; linux/arm/v7 runs only with 32-bit support (--compatible)\n"
        );
        assert_eq!(
            platform_line(&check, Sense::Compatible),
            " * linux/arm64: yes (linux/arm/v7; compatible, not native)\n"
        );
        let mut r = report(no_arm64);
        r.platform_check = Some(check);
        assert!(r.to_text(Sense::Native).ends_with("(--compatible)\n"));
        let json = serde_json::to_value(&r).expect("serializes");
        assert_eq!(json["platformCheck"]["normalized"], "linux/arm64");
        assert!(json["platformCheck"]["native"].is_null());
    }
}
