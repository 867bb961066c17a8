//! README badges: an SVG in the shields.io "flat" style, and the shields.io endpoint JSON.
//! Both say the same thing: which platforms, compactly, or why not.

use registry::{Platform, Summary};
use serde::Serialize;

use super::{clip, escape};

pub const LABEL: &str = "platforms";
/// Messages longer than this are compacted to "first | second | +N more".
const MAX_MESSAGE_CHARS: usize = 40;

/// A badge colour, by its shields.io name and hex value.
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

    fn hex(self) -> &'static str {
        match self {
            Color::BrightGreen => "#4c1",
            Color::Blue => "#007ec6",
            Color::LightGrey => "#9f9f9f",
            Color::Orange => "#fe7d37",
            Color::Red => "#e05d44",
        }
    }
}

/// What a badge says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Badge {
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

/// Joins names with " | ", compacting to "a | b | +N more" so 2 and 20 platforms both read.
pub fn compact(names: &[String]) -> String {
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

impl Badge {
    pub fn for_summary(summary: &Summary) -> Badge {
        if let Some(artifact) = &summary.artifact_type {
            return Badge {
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
                message: "none".into(),
                color: Color::LightGrey,
                is_error: false,
            },
            (false, [one]) => Badge {
                message: format!("{} only", clip(one, 30)),
                color: Color::Blue,
                is_error: false,
            },
            (_, names) => Badge {
                message: compact(names),
                color: if names.len() > 1 {
                    Color::BrightGreen
                } else {
                    Color::Blue
                },
                is_error: false,
            },
        }
    }

    pub fn for_error(code: &str) -> Badge {
        let (message, color) = match code {
            "NOT_FOUND" => ("not found", Color::LightGrey),
            "INVALID_REFERENCE" | "INVALID_PARAMETER" => ("invalid image", Color::Red),
            "REGISTRY_NOT_ALLOWED" => ("registry not allowed", Color::Red),
            "UPSTREAM_RATE_LIMITED" => ("rate limited", Color::Orange),
            "UPSTREAM_TIMEOUT" => ("registry timeout", Color::Orange),
            _ => ("registry error", Color::Red),
        };
        Badge {
            message: message.to_owned(),
            color,
            is_error: true,
        }
    }

    /// The shields.io endpoint document.
    pub fn shields_json(&self) -> Vec<u8> {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Endpoint<'a> {
            schema_version: u8,
            label: &'a str,
            message: &'a str,
            color: &'a str,
            #[serde(skip_serializing_if = "std::ops::Not::not")]
            is_error: bool,
        }
        serde_json::to_vec(&Endpoint {
            schema_version: 1,
            label: LABEL,
            message: &self.message,
            color: self.color.name(),
            is_error: self.is_error,
        })
        .unwrap_or_default()
    }

    /// The SVG, in the flat style: grey label, coloured message, 20 px high.
    pub fn svg(&self) -> String {
        let label_width = text_width(LABEL) + 10;
        let message_width = text_width(&self.message) + 10;
        let width = label_width + message_width;
        let label_x = label_width * 5; // centre, in the 10x-scaled text coordinates
        let message_x = (label_width * 2 + message_width) * 5;
        let label_len = (label_width - 10) * 10;
        let message_len = (message_width - 10) * 10;
        let label = escape(LABEL);
        let message = escape(&self.message);
        let color = self.color.hex();
        format!(
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" aria-label="{label}: {message}"><title>{label}: {message}</title><linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient><clipPath id="r"><rect width="{width}" height="20" rx="3" fill="#fff"/></clipPath><g clip-path="url(#r)"><rect width="{label_width}" height="20" fill="#555"/><rect x="{label_width}" width="{message_width}" height="20" fill="{color}"/><rect width="{width}" height="20" fill="url(#s)"/></g><g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" text-rendering="geometricPrecision" font-size="110"><text aria-hidden="true" x="{label_x}" y="150" fill="#010101" fill-opacity=".3" transform="scale(.1)" textLength="{label_len}">{label}</text><text x="{label_x}" y="140" transform="scale(.1)" fill="#fff" textLength="{label_len}">{label}</text><text aria-hidden="true" x="{message_x}" y="150" fill="#010101" fill-opacity=".3" transform="scale(.1)" textLength="{message_len}">{message}</text><text x="{message_x}" y="140" transform="scale(.1)" fill="#fff" textLength="{message_len}">{message}</text></g></svg>"##
        )
    }
}

/// Approximate width in pixels of `s` in 11 px Verdana, the badge font.
pub fn text_width(s: &str) -> u32 {
    let tenths: u32 = s
        .chars()
        .map(|c| match c {
            'i' | 'l' | 'j' | '.' | ':' | ',' | ';' | '!' | '\'' | '|' => 35,
            ' ' => 39,
            'f' | 't' | 'r' | 'I' | '/' | '(' | ')' | '-' | '[' | ']' => 45,
            'm' | 'w' | 'M' | 'W' => 99,
            'A'..='Z' => 75,
            '0'..='9' => 70,
            _ => 66,
        })
        .sum();
    tenths.div_ceil(10)
}

#[cfg(test)]
mod tests {
    use super::*;
    use registry::PlatformEntry;

    fn summary(is_list: bool, platforms: &[Platform]) -> Summary {
        Summary {
            digest: "sha256:1".into(),
            media_type: "m".into(),
            is_list,
            platforms: platforms
                .iter()
                .map(|p| PlatformEntry {
                    platform: p.clone(),
                    digest: "sha256:2".into(),
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
        let e = Badge::for_error("NOT_FOUND");
        assert!(e.is_error);
        assert_eq!(e.message, "not found");
    }

    #[test]
    fn svg_escapes_and_sizes() {
        let b = Badge {
            message: "<script>alert(1)</script>".into(),
            color: Color::Red,
            is_error: true,
        };
        let svg = b.svg();
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;"));
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        let short = Badge::for_error("NOT_FOUND").svg();
        assert!(short.len() < svg.len());
        assert!(text_width("platforms") > 40 && text_width("platforms") < 70);
    }

    #[test]
    fn shields_document() {
        let json: serde_json::Value =
            serde_json::from_slice(&Badge::for_error("UPSTREAM_TIMEOUT").shields_json())
                .expect("json");
        assert_eq!(
            json,
            serde_json::json!({"schemaVersion": 1, "label": "platforms", "message": "registry timeout", "color": "orange", "isError": true})
        );
    }
}
