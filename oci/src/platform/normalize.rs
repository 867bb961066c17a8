//! OS, architecture and variant aliases as containerd's `Normalize` reads them
//! (containerd/platforms database.go, `normalizeOS` and `normalizeArch`).

use std::fmt;

use super::Platform;

/// Lowercased, with `macos` read as `darwin`.
pub(super) fn normalize_os(os: &str) -> String {
    let os = os.to_ascii_lowercase();
    if os == "macos" {
        "darwin".to_owned()
    } else {
        os
    }
}

/// containerd's `normalizeArch`: the canonical architecture and variant.
pub(super) fn normalize_arch(arch: &str, variant: &str) -> (String, String) {
    let arch = arch.to_ascii_lowercase();
    let variant = variant.to_ascii_lowercase();
    match arch.as_str() {
        "i386" => ("386".into(), String::new()),
        "x86_64" | "x86-64" | "amd64" => {
            let variant = if variant == "v1" {
                String::new()
            } else {
                variant
            };
            ("amd64".into(), variant)
        }
        "aarch64" | "arm64" => {
            let variant = match variant.as_str() {
                "8" | "v8" | "v8.0" => String::new(),
                "9" | "9.0" | "v9.0" => "v9".into(),
                _ => variant,
            };
            ("arm64".into(), variant)
        }
        "armhf" => ("arm".into(), "v7".into()),
        "armel" => ("arm".into(), "v6".into()),
        "arm" => {
            let variant = match variant.as_str() {
                "" | "7" => "v7".into(),
                "5" | "6" | "8" => format!("v{variant}"),
                _ => variant,
            };
            ("arm".into(), variant)
        }
        _ => (arch, variant),
    }
}

/// A platform as containerd compares it: OS and architecture normalized, the variant in its
/// canonical spelling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalized {
    pub os: String,
    pub architecture: String,
    pub variant: String,
}

impl Normalized {
    pub fn of(platform: &Platform) -> Normalized {
        let (architecture, variant) = normalize_arch(
            &platform.architecture,
            platform.variant.as_deref().unwrap_or(""),
        );
        Normalized {
            os: normalize_os(&platform.os),
            architecture,
            variant,
        }
    }
}

impl fmt::Display for Normalized {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if !self.variant.is_empty() {
            write!(f, "/{}", self.variant)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::p;
    use super::*;

    /// containerd's `Normalize` of an image's platform (database.go), printed `os/arch[/variant]`.
    #[test]
    fn normalizes_image_platforms() {
        for (declared, normalized) in [
            ("Linux/AMD64", "linux/amd64"),
            ("macOS/arm64", "darwin/arm64"),
            ("linux/i386/v7", "linux/386"),
            ("linux/x86_64/v1", "linux/amd64"),
            ("linux/x86-64/v3", "linux/amd64/v3"),
            ("linux/aarch64/v8", "linux/arm64"),
            ("linux/arm64/8", "linux/arm64"),
            ("linux/arm64/v8.0", "linux/arm64"),
            ("linux/arm64/9", "linux/arm64/v9"),
            ("linux/arm64/9.0", "linux/arm64/v9"),
            ("linux/arm64/v9.0", "linux/arm64/v9"),
            ("linux/arm64/V8.2", "linux/arm64/v8.2"),
            ("linux/arm64/8.2", "linux/arm64/8.2"),
            ("linux/arm", "linux/arm/v7"),
            ("linux/arm/7", "linux/arm/v7"),
            ("linux/arm/5", "linux/arm/v5"),
            ("linux/arm/8", "linux/arm/v8"),
            ("linux/arm/4", "linux/arm/4"),
            ("linux/armhf/v6", "linux/arm/v7"),
            ("linux/armel", "linux/arm/v6"),
            ("linux/ppc64le/power9", "linux/ppc64le/power9"),
        ] {
            assert_eq!(
                Normalized::of(&p(declared)).to_string(),
                normalized,
                "{declared}"
            );
        }
    }
}
