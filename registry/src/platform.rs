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

/// Why a `--platform` value is not a platform specifier (containerd's grammar).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlatformSpecError {
    #[error("platform is empty")]
    Empty,
    #[error("{0:?}: wildcards are not supported")]
    Wildcard(String),
    #[error(
        "{component:?} is not an operating system in {spec:?}: expected letters, digits, '_' or \
         '-', optionally followed by (version+feature+...)"
    )]
    InvalidOs { component: String, spec: String },
    #[error(
        "{component:?} in {spec:?} is not an architecture or variant: expected letters, digits, \
         '_', '.' or '-'"
    )]
    InvalidComponent { component: String, spec: String },
    #[error("{0:?}: unknown operating system or architecture")]
    Unknown(String),
    #[error("{0:?} has too many parts: expected os/arch[/variant]")]
    TooManyParts(String),
    #[error("{spec:?}: invalid percent-escape in {text:?}")]
    InvalidEscape { spec: String, text: String },
}

/// A platform a user asks for, parsed and normalized as containerd's `platforms.Parse` does:
/// `os/arch[/variant]`, an architecture alone (`arm64`, `x86_64`, `armhf`: the OS is linux),
/// an OS alone (`windows`: any architecture of that OS, containerd's `OnlyOS`), and the
/// `os(version+feature...)` form (`windows(10.0.17763)/amd64`, `linux(+gpu)/amd64`).
///
/// Matching follows containerd's `Only`: [`PlatformSpec::vector`] lists what a host of this
/// platform runs, best first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformSpec {
    os: String,
    os_version: Option<String>,
    /// Sorted, without duplicates: what the host supports.
    os_features: Vec<String>,
    /// `None`: an OS alone.
    architecture: Option<String>,
    /// Normalized (`arm64` v8 and `amd64` v1 are empty, `arm` is at least `v7`).
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

/// `%XX` escapes decoded (containerd decodes versions and features this way); a malformed
/// escape or bytes that are not UTF-8 are refused.
fn percent_decode(text: &str) -> Option<String> {
    if !text.contains('%') {
        return Some(text.to_owned());
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn is_name(text: &str, extra: &[u8]) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || extra.contains(&b))
}

/// containerd's OS component: `name` or `name(version+feature+...)`. Returns the name, the
/// raw version and the raw features, or `None` when it does not match the grammar.
fn split_os_component(component: &str) -> Option<(&str, Option<&str>, Vec<&str>)> {
    let Some(open) = component.find('(') else {
        return is_name(component, b"").then_some((component, None, Vec::new()));
    };
    let name = &component[..open];
    let inner = component[open + 1..].strip_suffix(')')?;
    if !is_name(name, b"") {
        return None;
    }
    let mut parts = inner.split('+');
    let version = parts.next().unwrap_or("");
    let features: Vec<&str> = parts.collect();
    let allowed = |t: &str| {
        t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.%-".contains(&b))
    };
    if !allowed(version) || features.iter().any(|f| f.is_empty() || !allowed(f)) {
        return None;
    }
    Some((name, Some(version), features))
}

impl FromStr for PlatformSpec {
    type Err = PlatformSpecError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(PlatformSpecError::Empty);
        }
        if s.contains('*') {
            return Err(PlatformSpecError::Wildcard(s.to_owned()));
        }
        let parts: Vec<&str> = s.splitn(4, '/').collect();
        let (os_name, version, features) =
            split_os_component(parts[0]).ok_or_else(|| PlatformSpecError::InvalidOs {
                component: parts[0].to_owned(),
                spec: s.to_owned(),
            })?;
        if let Some(bad) = parts[1..].iter().find(|p| !is_name(p, b".")) {
            return Err(PlatformSpecError::InvalidComponent {
                component: (*bad).to_owned(),
                spec: s.to_owned(),
            });
        }
        let escape = |text: &str| {
            percent_decode(text).ok_or_else(|| PlatformSpecError::InvalidEscape {
                spec: s.to_owned(),
                text: text.to_owned(),
            })
        };
        let os_version = match version {
            Some(v) => Some(escape(v)?).filter(|v| !v.is_empty()),
            None => None,
        };
        let mut os_features = Vec::new();
        for feature in features {
            let feature = escape(feature)?;
            if !feature.is_empty() {
                os_features.push(feature);
            }
        }
        os_features.sort();
        os_features.dedup();
        let os = normalize_os(os_name);
        let spec = |os: String, architecture: Option<String>, variant: String| PlatformSpec {
            os,
            os_version: os_version.clone(),
            os_features: os_features.clone(),
            architecture,
            variant,
        };
        match parts.as_slice() {
            [_] if KNOWN_OS.contains(&os.as_str()) => Ok(spec(os, None, String::new())),
            [single] => {
                // an architecture alone: containerd fills in the host's OS; a query service
                // has none, and Linux is what an architecture alone means to users
                let (arch, variant) = normalize_arch(single, "");
                if version.is_none() && KNOWN_ARCH.contains(&arch.as_str()) {
                    Ok(spec("linux".into(), Some(arch), variant))
                } else {
                    Err(PlatformSpecError::Unknown(s.to_owned()))
                }
            }
            [_, arch] => {
                let (arch, variant) = normalize_arch(arch, "");
                Ok(spec(os, Some(arch), variant))
            }
            [_, arch, variant] => {
                let (arch, variant) = normalize_arch(arch, variant);
                Ok(spec(os, Some(arch), variant))
            }
            _ => Err(PlatformSpecError::TooManyParts(s.to_owned())),
        }
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

/// The `v` number of a variant (`v7` -> 7), if it has one.
fn variant_number(variant: &str) -> Option<u32> {
    variant.strip_prefix('v').unwrap_or(variant).parse().ok()
}

/// Variants numbered above this get no older-variant fallbacks (real ones stop at amd64 v4
/// and arm v8): containerd would list every number below a `v4000000000`.
const MAX_VARIANT_LEVEL: u32 = 64;

/// containerd's `platformVector`: the architectures and variants a host of `arch/variant`
/// runs, best first.
fn vector(arch: &str, variant: &str) -> Vec<(String, String)> {
    let mut out = vec![(arch.to_owned(), variant.to_owned())];
    match arch {
        "amd64" => {
            if let Some(n) = variant_number(variant).filter(|n| (2..=MAX_VARIANT_LEVEL).contains(n))
            {
                for level in (1..n).rev() {
                    let v = if level == 1 {
                        String::new()
                    } else {
                        format!("v{level}")
                    };
                    out.push(("amd64".into(), v));
                }
            }
            out.push(("386".into(), String::new()));
        }
        "arm" => {
            if let Some(n) = variant_number(variant).filter(|n| (6..=MAX_VARIANT_LEVEL).contains(n))
            {
                for level in (5..n).rev() {
                    out.push(("arm".into(), format!("v{level}")));
                }
            }
        }
        "arm64" => {
            let full = if variant.is_empty() { "v8" } else { variant };
            let (major, minor) = full.split_once('.').unwrap_or((full, ""));
            if let Some(mut major) = variant_number(major).filter(|m| *m >= 8) {
                // containerd reads the minor only from `vX.Y` (so `v8.10` has none)
                let mut minor: u32 = if full.len() == 4 {
                    minor.parse().unwrap_or(0)
                } else {
                    0
                };
                if major == 9 {
                    for m in (1..minor).rev() {
                        out.push(("arm64".into(), format!("v9.{m}")));
                    }
                    if minor > 0 {
                        out.push(("arm64".into(), "v9".into()));
                    }
                    minor = (minor + 5).min(9);
                    major = 8;
                    out.push(("arm64".into(), format!("v8.{minor}")));
                }
                for m in (1..minor).rev() {
                    out.push(("arm64".into(), format!("v{major}.{m}")));
                }
                if minor > 0 || out.len() > 1 {
                    let bare = if major == 8 {
                        String::new()
                    } else {
                        format!("v{major}")
                    };
                    out.push(("arm64".into(), bare));
                }
            }
            let arm = if full.starts_with("v8.") || full.starts_with("v9.") {
                "v8"
            } else {
                full
            };
            out.extend(vector("arm", arm));
        }
        _ => {}
    }
    out.dedup();
    out
}

/// containerd's Windows rule for `os.version`: the same major and minor; before Windows
/// Server 2022 (build 20348) the same build; from it on, any build from the previous LTSC
/// release up to the host's. An unset host version, or an entry without one, matches.
fn windows_version_compatible(host: Option<&str>, entry: Option<&str>) -> bool {
    fn parse(v: &str) -> Option<(u8, u8, u16)> {
        let mut parts = v.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        let build = parts.next()?.parse().ok()?;
        Some((major, minor, build))
    }
    const LTSC: [u16; 2] = [20348, 26100];
    let Some(host) = host.and_then(parse).filter(|h| *h != (0, 0, 0)) else {
        return true;
    };
    let entry = match entry.filter(|e| !e.is_empty()) {
        None => return true,
        Some(e) => parse(e).unwrap_or((0, 0, 0)),
    };
    if (host.0, host.1) != (entry.0, entry.1) {
        return false;
    }
    if host.2 < LTSC[0] {
        return entry.2 == host.2;
    }
    let newest = LTSC.iter().rposition(|l| *l <= host.2).unwrap_or(0);
    let floor = LTSC[newest.saturating_sub(1)];
    floor <= entry.2 && entry.2 <= host.2
}

impl PlatformSpec {
    /// The operating system asked for.
    #[cfg(test)]
    fn os(&self) -> &str {
        &self.os
    }

    /// An OS alone, which any architecture of it satisfies.
    #[cfg(test)]
    fn is_os_only(&self) -> bool {
        self.architecture.is_none()
    }

    /// What this platform runs, best first (containerd's `Only`); empty for an OS alone.
    pub fn vector(&self) -> Vec<Normalized> {
        let Some(arch) = &self.architecture else {
            return Vec::new();
        };
        vector(arch, &self.variant)
            .into_iter()
            .map(|(architecture, variant)| Normalized {
                os: self.os.clone(),
                architecture,
                variant,
            })
            .collect()
    }

    /// Whether an image platform's OS, OS version and OS features suit this one.
    fn os_suits(&self, platform: &Platform, normalized: &Normalized) -> bool {
        if normalized.os != self.os {
            return false;
        }
        if self.os == "windows"
            && !windows_version_compatible(
                self.os_version.as_deref(),
                platform.os_version.as_deref(),
            )
        {
            return false;
        }
        // what the image requires must be among what the host has (win32k is not
        // considered for Windows, as containerd does not)
        platform
            .os_features
            .iter()
            .filter(|f| !(self.os == "windows" && *f == "win32k"))
            .all(|f| self.os_features.binary_search(f).is_ok())
    }

    /// Where in [`PlatformSpec::vector`] an image platform stands (0 is this platform
    /// itself), or `None` when a host of this platform does not run it. An OS alone puts every
    /// architecture of its OS at 0.
    pub fn rank(&self, platform: &Platform) -> Option<usize> {
        self.rank_and_native(platform).map(|(rank, _)| rank)
    }

    /// Whether a host of this platform runs `platform` natively: containerd's `Only` accepts
    /// it and it is of this platform's own architecture (older variants count; the 32-bit
    /// fallbacks do not).
    pub fn native(&self, platform: &Platform) -> bool {
        self.rank_and_native(platform)
            .is_some_and(|(_, native)| native)
    }

    /// [`PlatformSpec::rank`] and [`PlatformSpec::native`] at once, from one normalization.
    pub(crate) fn rank_and_native(&self, platform: &Platform) -> Option<(usize, bool)> {
        let normalized = Normalized::of(platform);
        if !self.os_suits(platform, &normalized) {
            return None;
        }
        let Some(architecture) = &self.architecture else {
            return Some((0, true));
        };
        let native = *architecture == normalized.architecture;
        self.vector()
            .iter()
            .position(|candidate| {
                candidate.architecture == normalized.architecture
                    && candidate.variant == normalized.variant
            })
            .map(|rank| (rank, native))
    }

    /// Whether containerd would pull `platform` for this one (`docker pull --platform`).
    pub fn compatible(&self, platform: &Platform) -> bool {
        self.rank(platform).is_some()
    }

    /// The normalized specifier, containerd's `FormatAll` of `Normalize`.
    pub fn normalized(&self) -> String {
        let mut out = self.os.clone();
        if self.os_version.is_some() || !self.os_features.is_empty() {
            out.push('(');
            out.push_str(&escape(self.os_version.as_deref().unwrap_or("")));
            for feature in &self.os_features {
                out.push('+');
                out.push_str(&escape(feature));
            }
            out.push(')');
        }
        if let Some(arch) = &self.architecture {
            out.push('/');
            out.push_str(arch);
            if !self.variant.is_empty() {
                out.push('/');
                out.push_str(&self.variant);
            }
        }
        out
    }
}

/// Escapes a version or feature for the `os(...)` form: containerd's `FormatAll` escapes `%`,
/// `+`, `(`, `)` and `/`; this escapes every byte the grammar does not allow, so what it
/// prints always parses back (containerd's `10:0` does not).
fn escape(text: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"_.-".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

impl fmt::Display for PlatformSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.normalized())
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

    fn spec(s: &str) -> PlatformSpec {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn p(s: &str) -> Platform {
        let mut parts = s.split('/');
        let os = parts.next().unwrap_or("");
        let arch = parts.next().unwrap_or("");
        Platform::new(os, arch, parts.next())
    }

    /// containerd's parse table (platforms_test.go): input -> normalized form.
    #[test]
    fn parse_and_normalize() {
        for (input, normalized) in [
            ("linux", "linux"),
            ("Linux", "linux"),
            ("macOS", "darwin"),
            ("windows(10.0.17763)", "windows(10.0.17763)"),
            ("windows(10.0.17763+win32k)", "windows(10.0.17763+win32k)"),
            ("linux(+gpu+simd)", "linux(+gpu+simd)"),
            ("linux(+unsorted+erofs)", "linux(+erofs+unsorted)"),
            ("linux(+gpu+gpu)", "linux(+gpu)"),
            (
                "windows(10.0.17763%2Bbuild.42+win32k)",
                "windows(10.0.17763%2Bbuild.42+win32k)",
            ),
            ("windows(50%25done)", "windows(50%25done)"),
            ("windows(10%3A0)", "windows(10%3A0)"),
            ("windows()", "windows"),
            ("x86_64", "linux/amd64"),
            ("x86-64", "linux/amd64"),
            ("Aarch64", "linux/arm64"),
            ("arm", "linux/arm/v7"),
            ("armhf", "linux/arm/v7"),
            ("armel", "linux/arm/v6"),
            ("i386", "linux/386"),
            ("s390x", "linux/s390x"),
            ("Linux/x86_64", "linux/amd64"),
            ("linux/arm64", "linux/arm64"),
            ("linux/aarch64", "linux/arm64"),
            ("linux/arm64/v8", "linux/arm64"),
            ("linux/arm64/8", "linux/arm64"),
            ("linux/arm64/v8.0", "linux/arm64"),
            ("linux/arm64/V8", "linux/arm64"),
            ("linux/arm64/v9.0", "linux/arm64/v9"),
            ("linux/arm64/9", "linux/arm64/v9"),
            ("linux/arm64/v8.2", "linux/arm64/v8.2"),
            ("linux/arm/7", "linux/arm/v7"),
            ("linux/arm/v6", "linux/arm/v6"),
            ("linux/armhf/v6", "linux/arm/v7"),
            ("linux/amd64/v1", "linux/amd64"),
            ("linux/amd64/v3", "linux/amd64/v3"),
            ("foo/bar", "foo/bar"),
            ("windows(10.0.17763)/amd64", "windows(10.0.17763)/amd64"),
            ("linux(+gpu)/amd64", "linux(+gpu)/amd64"),
        ] {
            assert_eq!(spec(input).normalized(), normalized, "{input}");
        }
        assert!(spec("windows").is_os_only());
        assert!(!spec("arm64").is_os_only());
        assert_eq!(spec("arm64").os(), "linux");
    }

    /// containerd rejects these (each with a sentence saying why).
    #[test]
    fn invalid_specifiers() {
        use PlatformSpecError as E;
        let invalid = |s: &str| s.parse::<PlatformSpec>().expect_err(s);
        assert_eq!(invalid(""), E::Empty);
        for s in ["*", "linux/*"] {
            assert_eq!(invalid(s), E::Wildcard(s.into()));
        }
        for (s, component) in [
            ("/linux/arm", ""),
            ("linux(", "linux("),
            ("linux(+)", "linux(+)"),
            ("linux(+a+)", "linux(+a+)"),
            ("linux(a b)/amd64", "linux(a b)"),
            ("freebsd13.0", "freebsd13.0"),
        ] {
            assert_eq!(
                invalid(s),
                E::InvalidOs {
                    component: component.into(),
                    spec: s.into()
                },
                "{s}"
            );
        }
        for (s, component) in [
            ("linux/arm/", ""),
            ("linux//arm", ""),
            ("linux/&arm", "&arm"),
            ("linux/amd64(x)", "amd64(x)"),
            ("linux/amd64:10", "amd64:10"),
        ] {
            assert_eq!(
                invalid(s),
                E::InvalidComponent {
                    component: component.into(),
                    spec: s.into()
                },
                "{s}"
            );
        }
        for s in ["foo", "toaster", "amd64()"] {
            assert_eq!(invalid(s), E::Unknown(s.into()), "{s}");
        }
        assert_eq!(
            invalid("linux/arm/foo/bar"),
            E::TooManyParts("linux/arm/foo/bar".into())
        );
        for (s, text) in [
            ("windows(10%)", "10%"),
            ("windows(%zz)", "%zz"),
            ("linux(+%FF)", "%FF"),
        ] {
            assert_eq!(
                invalid(s),
                E::InvalidEscape {
                    spec: s.into(),
                    text: text.into()
                },
                "{s}"
            );
        }
        assert_eq!(
            invalid("linux/arm/foo/bar").to_string(),
            "\"linux/arm/foo/bar\" has too many parts: expected os/arch[/variant]"
        );
    }

    /// containerd's `Only` vectors (compare.go), per architecture.
    #[test]
    fn vectors() {
        let v =
            |s: &str| -> Vec<String> { spec(s).vector().iter().map(ToString::to_string).collect() };
        assert_eq!(v("linux/amd64"), ["linux/amd64", "linux/386"]);
        assert_eq!(
            v("linux/amd64/v3"),
            [
                "linux/amd64/v3",
                "linux/amd64/v2",
                "linux/amd64",
                "linux/386"
            ]
        );
        assert_eq!(v("linux/386"), ["linux/386"]);
        assert_eq!(
            v("linux/arm"),
            ["linux/arm/v7", "linux/arm/v6", "linux/arm/v5"]
        );
        assert_eq!(
            v("linux/arm/v8"),
            [
                "linux/arm/v8",
                "linux/arm/v7",
                "linux/arm/v6",
                "linux/arm/v5"
            ]
        );
        assert_eq!(v("linux/arm/v4"), ["linux/arm/v4"]);
        assert_eq!(
            v("linux/arm64"),
            [
                "linux/arm64",
                "linux/arm/v8",
                "linux/arm/v7",
                "linux/arm/v6",
                "linux/arm/v5"
            ]
        );
        assert_eq!(
            v("linux/arm64/v8.2"),
            [
                "linux/arm64/v8.2",
                "linux/arm64/v8.1",
                "linux/arm64",
                "linux/arm/v8",
                "linux/arm/v7",
                "linux/arm/v6",
                "linux/arm/v5"
            ]
        );
        let v9 = v("linux/arm64/v9");
        assert_eq!(
            v9[..7],
            [
                "linux/arm64/v9",
                "linux/arm64/v8.5",
                "linux/arm64/v8.4",
                "linux/arm64/v8.3",
                "linux/arm64/v8.2",
                "linux/arm64/v8.1",
                "linux/arm64"
            ]
        );
        assert_eq!(
            v9[7], "linux/arm/v9",
            "containerd's quirk: bare v9 keeps v9 for arm"
        );
        let v92 = v("linux/arm64/v9.2");
        assert_eq!(
            v92[..4],
            [
                "linux/arm64/v9.2",
                "linux/arm64/v9.1",
                "linux/arm64/v9",
                "linux/arm64/v8.7"
            ]
        );
        assert!(v("linux/arm64/v9.5").contains(&"linux/arm64/v8.9".to_owned()));
        assert!(!v("linux/arm64/v9.5").contains(&"linux/arm64/v8.10".to_owned()));
        assert_eq!(
            v("linux/arm64/v8.10"),
            [
                "linux/arm64/v8.10",
                "linux/arm/v8",
                "linux/arm/v7",
                "linux/arm/v6",
                "linux/arm/v5"
            ],
            "containerd's quirk: v8.10 has no arm64 fallbacks"
        );
        assert_eq!(v("linux/ppc64le"), ["linux/ppc64le"]);
        // a hostile variant number does not list billions of fallbacks (fuzzing found this)
        assert_eq!(
            v("linux/amd64/v4000000000"),
            ["linux/amd64/v4000000000", "linux/386"]
        );
        assert_eq!(
            v("w/arm64/v6697677"),
            ["w/arm64/v6697677", "w/arm/v6697677"]
        );
        assert!(v("windows").is_empty());
    }

    /// containerd's `Only` truth table (compare_test.go), and the native sense.
    #[test]
    fn only_and_native() {
        let cases: &[(&str, &[&str], &[&str])] = &[
            (
                "linux/amd64",
                &["linux/amd64", "linux/386"],
                &[
                    "linux/amd64/v2",
                    "linux/arm/v7",
                    "linux/arm64",
                    "windows/amd64",
                ],
            ),
            (
                "linux/amd64/v2",
                &[
                    "linux/amd64",
                    "linux/amd64/v1",
                    "linux/amd64/v2",
                    "linux/386",
                ],
                &["linux/amd64/v3", "linux/amd64/v4"],
            ),
            ("linux/386", &["linux/386"], &["linux/amd64"]),
            (
                "windows/amd64",
                &["windows/amd64"],
                &["linux/amd64", "windows/arm"],
            ),
            (
                "linux/arm/v8",
                &[
                    "linux/arm",
                    "linux/arm/v5",
                    "linux/arm/v6",
                    "linux/arm/v7",
                    "linux/arm/v8",
                ],
                &["linux/arm/v4", "linux/arm64"],
            ),
            (
                "linux/arm/v7",
                &["linux/arm", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7"],
                &["linux/arm/v4", "linux/arm/v8"],
            ),
            (
                "linux/arm/v6",
                &["linux/arm/v5", "linux/arm/v6"],
                &["linux/arm"],
            ),
            (
                "linux/arm64/v9",
                &[
                    "linux/arm",
                    "linux/arm/v5",
                    "linux/arm/v8",
                    "linux/arm64",
                    "linux/arm64/v8",
                    "linux/arm64/v8.1",
                    "linux/arm64/v8.5",
                    "linux/arm64/v9",
                    "linux/arm64/v9.0",
                ],
                &["linux/arm64/v8.6", "linux/amd64"],
            ),
            (
                "linux/arm64/v8.1",
                &[
                    "linux/arm",
                    "linux/arm/v8",
                    "linux/arm64",
                    "linux/arm64/v8",
                    "linux/arm64/v8.1",
                ],
                &["linux/arm/v9", "linux/arm64/v9"],
            ),
            (
                "linux/arm64",
                &[
                    "linux/arm",
                    "linux/arm/v5",
                    "linux/arm/v8",
                    "linux/arm64",
                    "linux/arm64/v8",
                ],
                &["linux/arm/v9", "linux/arm64/v9", "linux/arm64/v8.1"],
            ),
        ];
        for (host, runs, does_not) in cases {
            let host_spec = spec(host);
            let host_arch = Normalized::of(&p(host)).architecture;
            for image in *runs {
                let image_platform = p(image);
                assert!(host_spec.compatible(&image_platform), "{host} runs {image}");
                let same_arch = Normalized::of(&image_platform).architecture == host_arch;
                assert_eq!(
                    host_spec.native(&image_platform),
                    same_arch,
                    "{host} natively {image}"
                );
            }
            for image in *does_not {
                assert!(
                    !host_spec.compatible(&p(image)),
                    "{host} does not run {image}"
                );
                assert!(!host_spec.native(&p(image)), "{host} not natively {image}");
            }
        }
        // an OS alone: any architecture of it
        assert!(spec("windows").native(&p("windows/arm64")));
        assert!(!spec("windows").compatible(&p("linux/amd64")));
        assert!(spec("linux").native(&p("linux/s390x")));
        // other architectures compare variants exactly
        assert!(!spec("linux/ppc64le/power9").compatible(&p("linux/ppc64le")));
        assert!(spec("linux/riscv64").native(&p("linux/riscv64")));
    }

    #[test]
    fn os_version_and_features() {
        let win = |build: &str| Platform {
            os_version: Some(format!("10.0.{build}")),
            ..p("windows/amd64")
        };
        // the host table of containerd's Windows compatibility
        for (host, images) in [
            ("17763", [true, false, false, false, false]),
            ("20348", [false, true, false, false, false]),
            ("22621", [false, true, true, false, false]),
            ("26100", [false, true, true, true, true]),
            ("26200", [false, true, true, true, true]),
        ] {
            let host_spec = spec(&format!("windows(10.0.{host})/amd64"));
            for (image, want) in ["17763", "20348", "22621", "25398", "26100"]
                .iter()
                .zip(images)
            {
                assert_eq!(
                    host_spec.native(&win(image)),
                    want,
                    "host {host}, image {image}"
                );
            }
        }
        // revisions are ignored; no host version matches every version; other OSes ignore it
        assert!(spec("windows(10.0.17763)/amd64").native(&win("17763.2300")));
        assert!(spec("windows/amd64").native(&win("17763")));
        assert!(spec("windows(10.0.17763)/amd64").native(&p("windows/amd64")));
        assert!(!spec("windows(10.0.20348)/amd64").native(&Platform {
            os_version: Some("6.3.9600".into()),
            ..p("windows/amd64")
        }));
        let linux_version = Platform {
            os_version: Some("6.1".into()),
            ..p("linux/amd64")
        };
        assert!(spec("linux(5.4)/amd64").native(&linux_version));
        // features: what the image requires must be what the host has
        let gpu = Platform {
            os_features: vec!["gpu".into()],
            ..p("linux/amd64")
        };
        assert!(!spec("linux/amd64").native(&gpu));
        assert!(spec("linux(+gpu)/amd64").native(&gpu));
        assert!(spec("linux(+gpu+simd)/amd64").native(&gpu));
        assert!(spec("linux(+gpu)/amd64").native(&p("linux/amd64")));
        let win32k = Platform {
            os_features: vec!["win32k".into()],
            ..p("windows/amd64")
        };
        assert!(
            spec("windows/amd64").native(&win32k),
            "win32k is not considered"
        );
    }
}
