//! Platforms as images declare them, how mquery prints them, and containerd-style matching
//! for `--platform`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A platform an image supports, as its index entry or image config declares it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    #[serde(rename = "os.features", default, skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
}

impl Platform {
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Platform {
        Platform {
            os: os.to_owned(),
            architecture: architecture.to_owned(),
            variant: variant.map(str::to_owned),
            os_version: None,
            os_features: Vec::new(),
        }
    }
}

/// mquery's rule: `os/arch`, then `/variant` if set, then `:os.version` for Windows.
impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = self.variant.as_deref().filter(|v| !v.is_empty()) {
            write!(f, "/{variant}")?;
        }
        if self.os == "windows"
            && let Some(version) = self.os_version.as_deref().filter(|v| !v.is_empty())
        {
            write!(f, ":{version}")?;
        }
        Ok(())
    }
}

/// Why a `--platform` value is not a platform.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlatformSpecError {
    #[error("platform is empty")]
    Empty,
    #[error("invalid platform {0:?}: expected os/arch[/variant], e.g. linux/arm64/v8")]
    InvalidFormat(String),
    #[error("{0:?}: unknown operating system or architecture")]
    Unknown(String),
}

/// A platform a user asks for (`linux/arm64`, `arm64`, `windows`), normalized as containerd
/// normalizes: `arm64` = `linux/arm64` = `linux/arm64/v8` = `aarch64`; `x86_64` = `amd64`;
/// `armhf` = `linux/arm/v7`.
///
/// Unlike containerd, which fills a missing architecture with the host's, an operating
/// system alone (`windows`) matches every architecture of that system: a query service has
/// no meaningful host architecture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformSpec {
    os: String,
    architecture: Option<String>,
    variant: String,
}

const KNOWN_OS: &[&str] = &[
    "aix",
    "android",
    "darwin",
    "dragonfly",
    "freebsd",
    "hurd",
    "illumos",
    "ios",
    "js",
    "linux",
    "nacl",
    "netbsd",
    "openbsd",
    "plan9",
    "solaris",
    "wasip1",
    "windows",
    "zos",
];
const KNOWN_ARCH: &[&str] = &[
    "386",
    "amd64",
    "amd64p32",
    "arm",
    "armbe",
    "arm64",
    "arm64be",
    "loong64",
    "mips",
    "mipsle",
    "mips64",
    "mips64le",
    "mips64p32",
    "mips64p32le",
    "ppc",
    "ppc64",
    "ppc64le",
    "riscv",
    "riscv64",
    "s390",
    "s390x",
    "sparc",
    "sparc64",
    "wasm",
];

fn normalize_os(os: &str) -> String {
    let os = os.to_ascii_lowercase();
    if os == "macos" {
        "darwin".to_owned()
    } else {
        os
    }
}

/// containerd's `normalizeArch`.
fn normalize_arch(arch: &str, variant: &str) -> (String, String) {
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

impl PlatformSpec {
    /// Whether an image platform satisfies this request.
    pub fn matches(&self, platform: &Platform) -> bool {
        let os = normalize_os(&platform.os);
        let (arch, variant) = normalize_arch(
            &platform.architecture,
            platform.variant.as_deref().unwrap_or(""),
        );
        os == self.os
            && self
                .architecture
                .as_ref()
                .is_none_or(|want| *want == arch && self.variant == variant)
    }
}

impl FromStr for PlatformSpec {
    type Err = PlatformSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(PlatformSpecError::Empty);
        }
        let parts: Vec<&str> = s.split('/').collect();
        let component_ok = |p: &&str| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        };
        if parts.len() > 3 || !parts.iter().all(component_ok) {
            return Err(PlatformSpecError::InvalidFormat(s.to_owned()));
        }
        match parts.as_slice() {
            [single] => {
                let os = normalize_os(single);
                if KNOWN_OS.contains(&os.as_str()) {
                    return Ok(PlatformSpec {
                        os,
                        architecture: None,
                        variant: String::new(),
                    });
                }
                let (arch, variant) = normalize_arch(single, "");
                if KNOWN_ARCH.contains(&arch.as_str()) {
                    Ok(PlatformSpec {
                        os: "linux".into(),
                        architecture: Some(arch),
                        variant,
                    })
                } else {
                    Err(PlatformSpecError::Unknown(s.to_owned()))
                }
            }
            [os, arch] => {
                let (arch, variant) = normalize_arch(arch, "");
                Ok(PlatformSpec {
                    os: normalize_os(os),
                    architecture: Some(arch),
                    variant,
                })
            }
            [os, arch, variant] => {
                let (arch, variant) = normalize_arch(arch, variant);
                Ok(PlatformSpec {
                    os: normalize_os(os),
                    architecture: Some(arch),
                    variant,
                })
            }
            _ => Err(PlatformSpecError::InvalidFormat(s.to_owned())),
        }
    }
}

impl fmt::Display for PlatformSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.os)?;
        if let Some(arch) = &self.architecture {
            write!(f, "/{arch}")?;
            if !self.variant.is_empty() {
                write!(f, "/{}", self.variant)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn windows(version: &str) -> Platform {
        Platform {
            os_version: Some(version.into()),
            ..Platform::new("windows", "amd64", None)
        }
    }

    #[test]
    fn displays_like_mquery() {
        assert_eq!(
            Platform::new("linux", "amd64", None).to_string(),
            "linux/amd64"
        );
        assert_eq!(
            Platform::new("linux", "arm64", Some("v8")).to_string(),
            "linux/arm64/v8"
        );
        assert_eq!(
            Platform::new("linux", "arm", Some("")).to_string(),
            "linux/arm"
        );
        assert_eq!(
            windows("10.0.17763.2300").to_string(),
            "windows/amd64:10.0.17763.2300"
        );
        let linux_with_version = Platform {
            os_version: Some("6.1".into()),
            ..Platform::new("linux", "amd64", None)
        };
        assert_eq!(linux_with_version.to_string(), "linux/amd64");
    }

    #[test]
    fn serializes_with_oci_field_names() {
        let json = serde_json::to_value(windows("10.0.1")).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({"os": "windows", "architecture": "amd64", "os.version": "10.0.1"})
        );
    }

    #[test]
    fn matching_table() {
        let arm64_v8 = Platform::new("linux", "arm64", Some("v8"));
        let arm64 = Platform::new("linux", "arm64", None);
        let amd64 = Platform::new("linux", "amd64", None);
        let armv7 = Platform::new("linux", "arm", Some("v7"));
        let armv6 = Platform::new("linux", "arm", Some("v6"));
        let cases: &[(&str, &Platform, bool)] = &[
            ("arm64", &arm64_v8, true),
            ("linux/arm64", &arm64_v8, true),
            ("linux/arm64/v8", &arm64_v8, true),
            ("linux/arm64/v8", &arm64, true),
            ("aarch64", &arm64_v8, true),
            ("linux/aarch64", &arm64, true),
            ("x86_64", &amd64, true),
            ("linux/amd64", &amd64, true),
            ("amd64", &arm64, false),
            ("armhf", &armv7, true),
            ("linux/arm", &armv7, true),
            ("linux/arm/7", &armv7, true),
            ("linux/arm/v6", &armv7, false),
            ("armel", &armv6, true),
            ("linux/arm64/v9", &arm64_v8, false),
            ("windows", &windows("10.0.1"), true),
            ("windows/amd64", &windows("10.0.1"), true),
            ("windows", &amd64, false),
            ("linux", &armv6, true),
            ("LINUX/AMD64", &amd64, true),
        ];
        for (spec, platform, want) in cases {
            let parsed: PlatformSpec = spec.parse().unwrap_or_else(|e| panic!("{spec}: {e}"));
            assert_eq!(parsed.matches(platform), *want, "{spec} vs {platform}");
        }
    }

    #[test]
    fn invalid_specs() {
        assert_eq!("".parse::<PlatformSpec>(), Err(PlatformSpecError::Empty));
        assert_eq!(
            "linux//arm".parse::<PlatformSpec>(),
            Err(PlatformSpecError::InvalidFormat("linux//arm".into()))
        );
        assert_eq!(
            "a/b/c/d".parse::<PlatformSpec>(),
            Err(PlatformSpecError::InvalidFormat("a/b/c/d".into()))
        );
        assert_eq!(
            "linux/amd64:10".parse::<PlatformSpec>(),
            Err(PlatformSpecError::InvalidFormat("linux/amd64:10".into()))
        );
        assert_eq!(
            "toaster".parse::<PlatformSpec>(),
            Err(PlatformSpecError::Unknown("toaster".into()))
        );
    }

    #[test]
    fn spec_displays_normalized() {
        let spec: PlatformSpec = "aarch64".parse().expect("valid");
        assert_eq!(spec.to_string(), "linux/arm64");
        let spec: PlatformSpec = "armhf".parse().expect("valid");
        assert_eq!(spec.to_string(), "linux/arm/v7");
    }
}
