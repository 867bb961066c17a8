//! The `--platform` specifier grammar, containerd's `platforms.Parse` and `FormatAll`
//! (containerd/platforms platforms.go): [`PlatformSpec`] parsed from text and printed back.

use std::fmt;
use std::str::FromStr;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use super::normalize::{Normalized, normalize_arch, normalize_os};

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
    pub(super) os: String,
    pub(super) os_version: Option<String>,
    /// Sorted, without duplicates: what the host supports.
    pub(super) os_features: Vec<String>,
    /// `None`: an OS alone.
    pub(super) architecture: Option<String>,
    /// Normalized (`arm64` v8 and `amd64` v1 are empty, `arm` is at least `v7`).
    pub(super) variant: String,
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

/// What [`escape`] leaves as it is: the bytes a version or feature may hold unescaped
/// (letters, digits, `_`, `.`, `-`); every other byte, `%` included, becomes `%XX`.
const OS_OPTION: &AsciiSet = &NON_ALPHANUMERIC.remove(b'_').remove(b'.').remove(b'-');

/// `%XX` escapes decoded, as containerd's `decodeOSOption` does with Go's `url.PathUnescape`.
/// `percent_decode_str` passes a malformed escape through as it is; Go refuses it, and so does
/// this: every `%` must start two hex digits. Bytes that are not UTF-8 are refused too.
fn percent_decode(text: &str) -> Option<String> {
    let well_formed = text.split('%').skip(1).all(|after| {
        after
            .as_bytes()
            .get(..2)
            .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    });
    if !well_formed {
        return None;
    }
    percent_decode_str(text).decode_utf8().ok().map(Into::into)
}

/// Escapes a version or feature for the `os(...)` form: containerd's `FormatAll` escapes `%`,
/// `+`, `(`, `)` and `/`; this escapes every byte the grammar does not allow, so what it
/// prints always parses back (containerd's `10:0` does not).
fn escape(text: &str) -> String {
    utf8_percent_encode(text, OS_OPTION).to_string()
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

    /// The platform asked for, normalized, or `None` for an OS alone. It is the first entry
    /// of [`PlatformSpec::vector`] except for an arm64 variant containerd does not know,
    /// whose vector is empty.
    pub fn platform(&self) -> Option<Normalized> {
        let architecture = self.architecture.clone()?;
        Some(Normalized {
            os: self.os.clone(),
            architecture,
            variant: self.variant.clone(),
        })
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

impl fmt::Display for PlatformSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.normalized())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::spec;
    use super::*;

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

    /// Every byte the grammar does not allow in a version or feature is printed `%XX` (upper
    /// case hex, one escape per UTF-8 byte); letters, digits, `_`, `.` and `-` are kept.
    #[test]
    fn escapes_every_byte_the_grammar_does_not_allow() {
        for c in (0u8..=0x7f).map(char::from).chain(['é', '€', '\u{10000}']) {
            let text = c.to_string();
            let kept = c.is_ascii_alphanumeric() || "_.-".contains(c);
            let want = if kept {
                text.clone()
            } else {
                text.bytes().map(|b| format!("%{b:02X}")).collect()
            };
            assert_eq!(escape(&text), want, "{c:?}");
            assert_eq!(
                percent_decode(&want).as_deref(),
                Some(text.as_str()),
                "{c:?}"
            );
        }
        assert_eq!(
            escape("10.0.17763+build/1 (x)%"),
            "10.0.17763%2Bbuild%2F1%20%28x%29%25"
        );
    }

    /// Escapes decode as Go's `url.PathUnescape` does, which refuses a `%` without two hex
    /// digits; what `normalized()` prints parses back to the same specifier.
    #[test]
    fn percent_escapes_decode_and_print_back() {
        assert_eq!(percent_decode("plain").as_deref(), Some("plain"));
        assert_eq!(percent_decode("10%3a0").as_deref(), Some("10:0"));
        assert_eq!(percent_decode("%C3%a9").as_deref(), Some("é"));
        assert_eq!(percent_decode("%2541").as_deref(), Some("%41"));
        for malformed in [
            "%", "a%", "%4", "%4g", "%g4", "%%41", "a%%", "%-1", "%FF", "%C3",
        ] {
            assert_eq!(percent_decode(malformed), None, "{malformed:?}");
        }
        for (input, printed) in [
            ("windows(10%3a0)", "windows(10%3A0)"),
            ("linux(+a%20b+c%2Fd)", "linux(+a%20b+c%2Fd)"),
            ("windows(%C3%A9%2B1)/arm64", "windows(%C3%A9%2B1)/arm64"),
        ] {
            let parsed = spec(input);
            assert_eq!(parsed.normalized(), printed, "{input}");
            assert_eq!(spec(printed), parsed, "{printed} parses back");
        }
    }
}
