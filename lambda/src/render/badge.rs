//! README badges: an SVG in the shields.io "flat" style (drawn by the `shields` crate), and the
//! shields.io endpoint JSON.
//! Both say the same thing: which platforms, compactly, or why not.

use registry::{ErrorCode, Platform, PlatformCheck, Summary};
use serde::Serialize;

use super::clip;

pub const LABEL: &str = "platforms";
/// Messages longer than this are compacted to "first | second | +N more".
const MAX_MESSAGE_CHARS: usize = 40;

/// A badge colour, by its shields.io name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    BrightGreen,
    Blue,
    LightGrey,
    Orange,
    Red,
}

impl Color {
    pub fn name(self) -> &'static str {
        match self {
            Color::BrightGreen => "brightgreen",
            Color::Blue => "blue",
            Color::LightGrey => "lightgrey",
            Color::Orange => "orange",
            Color::Red => "red",
        }
    }
}

/// What a badge says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Badge {
    pub label: String,
    pub message: String,
    pub color: Color,
    pub is_error: bool,
}

/// A platform as a badge writes it: the architecture alone for Linux (the usual case), the
/// OS too otherwise; Windows versions fold into one `windows/amd64`.
fn short(p: &Platform) -> String {
    let arch = match p.variant.as_deref() {
        Some(v) => format!("{}/{v}", p.architecture),
        None => p.architecture.clone(),
    };
    if p.os == "linux" {
        arch
    } else {
        format!("{}/{arch}", p.os)
    }
}

/// A badge message of names: joined with " | ", cut to "a | b | +N more" when longer than
/// `MAX_MESSAGE_CHARS`, so 2 and 20 platforms both fit a badge.
pub fn fit_message(names: &[String]) -> String {
    let all = names.join(" | ");
    if all.chars().count() <= MAX_MESSAGE_CHARS {
        return all;
    }
    let mut shown: Vec<&str> = Vec::new();
    for name in names {
        let rest = names.len() - shown.len() - 1;
        let candidate = shown.iter().map(|s| s.chars().count() + 3).sum::<usize>()
            + name.chars().count()
            + format!(" | +{rest} more").len();
        if candidate > MAX_MESSAGE_CHARS && !shown.is_empty() {
            break;
        }
        shown.push(name);
    }
    let rest = names.len() - shown.len();
    let mut message = shown
        .iter()
        .map(|s| clip(s, MAX_MESSAGE_CHARS / 2))
        .collect::<Vec<_>>()
        .join(" | ");
    if rest > 0 {
        message.push_str(&format!(" | +{rest} more"));
    }
    message
}

/// The shields.io endpoint document (docs/json.md, "The shields.io endpoint document").
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ShieldsEndpoint<'a> {
    /// Always 1.
    #[schema(minimum = 1, maximum = 1)]
    schema_version: u8,
    label: &'a str,
    message: &'a str,
    /// A shields.io colour name.
    color: &'a str,
    /// Present, `true`, when the lookup failed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[schema(required = false)]
    is_error: bool,
}

impl Badge {
    pub fn for_summary(summary: &Summary) -> Badge {
        if let Some(artifact) = &summary.artifact_type {
            return Badge {
                label: LABEL.to_owned(),
                message: format!("artifact {}", clip(artifact, 24)),
                color: Color::LightGrey,
                is_error: false,
            };
        }
        let mut names: Vec<String> = Vec::new();
        for p in &summary.platforms {
            let name = short(&p.platform);
            if !names.contains(&name) {
                names.push(name);
            }
        }
        match (summary.is_list, names.as_slice()) {
            (_, []) => Badge {
                label: LABEL.to_owned(),
                message: "none".into(),
                color: Color::LightGrey,
                is_error: false,
            },
            (false, [one]) => Badge {
                label: LABEL.to_owned(),
                message: format!("{} only", clip(one, 30)),
                color: Color::Blue,
                is_error: false,
            },
            (_, names) => Badge {
                label: LABEL.to_owned(),
                message: fit_message(names),
                color: if names.len() > 1 {
                    Color::BrightGreen
                } else {
                    Color::Blue
                },
                is_error: false,
            },
        }
    }

    /// "Does the image support P?": `linux/arm64 | yes` in green, `no` in red, `compatible`
    /// in orange when only a fallback containerd would pull exists (`linux/arm/v7`).
    pub fn for_platform(check: &PlatformCheck) -> Badge {
        let (message, color) = match (&check.native, &check.compatible) {
            (Some(_), _) => ("yes", Color::BrightGreen),
            (None, Some(_)) => ("compatible", Color::Orange),
            (None, None) => ("no", Color::Red),
        };
        Badge {
            label: clip(&check.normalized, 40),
            message: message.to_owned(),
            color,
            is_error: false,
        }
    }

    pub fn for_error(code: ErrorCode) -> Badge {
        let (message, color) = match code {
            ErrorCode::NotFound => ("not found", Color::LightGrey),
            ErrorCode::InvalidReference | ErrorCode::InvalidParameter => {
                ("invalid image", Color::Red)
            }
            ErrorCode::RegistryNotAllowed => ("registry not allowed", Color::Red),
            ErrorCode::UpstreamRateLimited => ("rate limited", Color::Orange),
            ErrorCode::UpstreamTimeout => ("registry timeout", Color::Orange),
            ErrorCode::UpstreamError
            | ErrorCode::InvalidManifest
            | ErrorCode::UnsupportedManifest
            | ErrorCode::DigestMismatch
            | ErrorCode::MethodNotAllowed
            | ErrorCode::PayloadTooLarge
            | ErrorCode::Internal
            | ErrorCode::Unknown => ("registry error", Color::Red),
        };
        Badge {
            label: LABEL.to_owned(),
            message: message.to_owned(),
            color,
            is_error: true,
        }
    }

    /// The shields.io endpoint document.
    pub fn shields_json(&self) -> Vec<u8> {
        serde_json::to_vec(&ShieldsEndpoint {
            schema_version: 1,
            label: &self.label,
            message: &self.message,
            color: self.color.name(),
            is_error: self.is_error,
        })
        .unwrap_or_default()
    }

    /// The SVG, rendered by the `shields` crate exactly as shields.io draws a flat badge:
    /// grey label, coloured message, 20 px high, widths from its embedded Verdana metrics. The
    /// crate escapes the text for XML; control characters, which XML does not allow, become
    /// U+FFFD first.
    pub fn svg(&self) -> String {
        let label = self.label.replace(char::is_control, "\u{fffd}");
        let message = self.message.replace(char::is_control, "\u{fffd}");
        shields::render_badge_svg(&shields::BadgeParams {
            message_color: Some(self.color.name()),
            ..shields::BadgeParams::new(&label, &message)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use registry::PlatformEntry;

    fn summary(is_list: bool, platforms: &[Platform]) -> Summary {
        Summary {
            digest: registry::Digest::sha256(b"sha256:1"),
            media_type: "m".into(),
            is_list,
            platforms: platforms
                .iter()
                .map(|p| PlatformEntry {
                    platform: p.clone(),
                    digest: registry::Digest::sha256(b"sha256:2"),
                    media_type: "m".into(),
                    size: 1,
                })
                .collect(),
            attestations: 0,
            unlabeled: 0,
            artifact_type: None,
        }
    }

    #[test]
    fn two_platforms_are_listed() {
        let b = Badge::for_summary(&summary(
            true,
            &[
                Platform::new("linux", "amd64", None),
                Platform::new("linux", "arm64", Some("v8")),
            ],
        ));
        assert_eq!(b.message, "amd64 | arm64/v8");
        assert_eq!(b.color, Color::BrightGreen);
    }

    #[test]
    fn twenty_platforms_stay_readable() {
        let platforms: Vec<Platform> = (0..20)
            .map(|i| Platform::new("linux", &format!("arch{i}"), None))
            .collect();
        let b = Badge::for_summary(&summary(true, &platforms));
        assert!(
            b.message.chars().count() <= MAX_MESSAGE_CHARS,
            "{}",
            b.message
        );
        assert!(b.message.starts_with("arch0 | arch1 | "), "{}", b.message);
        assert!(b.message.ends_with(" more"), "{}", b.message);
        let shown = b.message.matches(" | ").count();
        let rest: usize = b
            .message
            .rsplit("+")
            .next()
            .and_then(|s| s.trim_end_matches(" more").parse().ok())
            .expect("a count");
        assert_eq!(shown + rest, 20, "{}", b.message);
    }

    #[test]
    fn single_windows_and_errors() {
        let b = Badge::for_summary(&summary(
            false,
            &[Platform::new("linux", "arm", Some("v6"))],
        ));
        assert_eq!((b.message.as_str(), b.color), ("arm/v6 only", Color::Blue));
        let mut w1 = Platform::new("windows", "amd64", None);
        w1.os_version = Some("10.0.1".into());
        let mut w2 = w1.clone();
        w2.os_version = Some("10.0.2".into());
        let b = Badge::for_summary(&summary(
            true,
            &[Platform::new("linux", "amd64", None), w1, w2],
        ));
        assert_eq!(b.message, "amd64 | windows/amd64");
        let e = Badge::for_error(ErrorCode::NotFound);
        assert!(e.is_error);
        assert_eq!(e.message, "not found");
    }

    #[test]
    fn svg_is_the_crates_flat_badge() {
        let b = Badge::for_summary(&summary(
            true,
            &[
                Platform::new("linux", "amd64", None),
                Platform::new("linux", "arm64", Some("v8")),
            ],
        ));
        let theirs = shields::builder::Badge::flat()
            .label("platforms")
            .message("amd64 | arm64/v8")
            .message_color("brightgreen")
            .build();
        assert_eq!(b.svg(), theirs);
        assert!(theirs.contains("fill=\"#4c1\""), "{theirs}");
        for code in [
            ErrorCode::NotFound,
            ErrorCode::InvalidReference,
            ErrorCode::UpstreamTimeout,
        ] {
            let e = Badge::for_error(code);
            let theirs = shields::builder::Badge::flat()
                .label(LABEL)
                .message(&e.message)
                .message_color(e.color.name())
                .build();
            assert_eq!(e.svg(), theirs, "{code}");
        }
    }

    #[test]
    fn svg_escapes_hostile_text() {
        let b = Badge {
            label: LABEL.to_owned(),
            message: "<script>alert(\"x&'y\")</script>\u{0}".into(),
            color: Color::Red,
            is_error: true,
        };
        let svg = b.svg();
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(
            svg.contains("&lt;script&gt;alert(&quot;x&amp;&apos;y&quot;)&lt;/script&gt;\u{fffd}"),
            "{svg}"
        );
        assert!(!svg.contains('\u{0}'));
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        let short = Badge::for_error(ErrorCode::NotFound).svg();
        assert!(short.len() < svg.len());
    }

    #[test]
    fn shields_document() {
        let json: serde_json::Value =
            serde_json::from_slice(&Badge::for_error(ErrorCode::UpstreamTimeout).shields_json())
                .expect("json");
        assert_eq!(
            json,
            serde_json::json!({"schemaVersion": 1, "label": "platforms", "message": "registry timeout", "color": "orange", "isError": true})
        );
    }

    #[test]
    fn platform_badges() {
        let s = summary(
            true,
            &[
                Platform::new("linux", "amd64", None),
                Platform::new("linux", "arm", Some("v7")),
            ],
        );
        let badge = |spec: &str| Badge::for_platform(&PlatformCheck::new(spec, &s).expect("valid"));
        let yes = badge("x86_64");
        assert_eq!(
            (yes.label.as_str(), yes.message.as_str(), yes.color),
            ("linux/amd64", "yes", Color::BrightGreen)
        );
        let compatible = badge("linux/arm64");
        assert_eq!(
            (compatible.message.as_str(), compatible.color),
            ("compatible", Color::Orange)
        );
        let no = badge("riscv64");
        assert_eq!((no.message.as_str(), no.color), ("no", Color::Red));
        let theirs = shields::builder::Badge::flat()
            .label("linux/amd64")
            .message("yes")
            .message_color("brightgreen")
            .build();
        assert_eq!(yes.svg(), theirs);
        let json: serde_json::Value = serde_json::from_slice(&no.shields_json()).expect("JSON");
        assert_eq!(json["label"], "linux/riscv64");
        assert_eq!(json["message"], "no");
        assert_eq!(json["color"], "red");
    }
}
