//! containerd's `Only` (containerd/platforms compare.go): the compatibility vector of a
//! platform, where an image platform stands in it, and the Windows `os.version` rule
//! (platform_windows_compat.go).
//!
//! The rules follow containerd/platforms v1.0.0-rc.4, commit
//! 09756f59cb1d6b3fb368f371043d36e634789537 (the README's `--platform` section names it).

use super::normalize::Normalized;
use super::{Platform, PlatformSpec};

/// The `v` number of a variant (`v7` -> 7), if it has one.
fn variant_number(variant: &str) -> Option<u32> {
    variant.strip_prefix('v').unwrap_or(variant).parse().ok()
}

/// Variants numbered above this get no older-variant fallbacks (real ones stop at amd64 v4
/// and arm v8): containerd would list every number below a `v4000000000`.
const MAX_VARIANT_LEVEL: u32 = 64;

/// The arm64 variants containerd knows (compare.go's `arm64variantToVersion` at the commit
/// above), each with what a host of it runs: runs of `(major, highest minor)`, each walked
/// from its highest minor down to 0. A v9.x host runs v9.x ... v9, then v8.(x+5) ... v8,
/// where v8.9 is the highest v8 containerd names. Any other spelling is unknown.
fn arm64_runs(variant: &str) -> Option<&'static [(u32, u32)]> {
    Some(match variant {
        "v8" | "v8.0" => &[(8, 0)],
        "v8.1" => &[(8, 1)],
        "v8.2" => &[(8, 2)],
        "v8.3" => &[(8, 3)],
        "v8.4" => &[(8, 4)],
        "v8.5" => &[(8, 5)],
        "v8.6" => &[(8, 6)],
        "v8.7" => &[(8, 7)],
        "v8.8" => &[(8, 8)],
        "v8.9" => &[(8, 9)],
        "v9" | "v9.0" => &[(9, 0), (8, 5)],
        "v9.1" => &[(9, 1), (8, 6)],
        "v9.2" => &[(9, 2), (8, 7)],
        "v9.3" => &[(9, 3), (8, 8)],
        "v9.4" => &[(9, 4), (8, 9)],
        "v9.5" => &[(9, 5), (8, 9)],
        "v9.6" => &[(9, 6), (8, 9)],
        "v9.7" => &[(9, 7), (8, 9)],
        _ => return None,
    })
}

/// An arm64 variant as `Normalize` spells it, which is how containerd's `Ordered` compares
/// each entry of the vector: v8 is the empty variant, v9.0 is `v9`.
fn arm64_variant(major: u32, minor: u32) -> String {
    match (major, minor) {
        (8, 0) => String::new(),
        (major, 0) => format!("v{major}"),
        (major, minor) => format!("v{major}.{minor}"),
    }
}

/// containerd's `platformVector`: the architectures and variants a host of `arch/variant`
/// (normalized) runs, best first.
fn vector(arch: &str, variant: &str) -> Vec<(String, String)> {
    if arch == "arm64" {
        return arm64_vector(variant);
    }
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
        _ => {}
    }
    out
}

/// compare.go's arm64 case: the host's own variant and the older arm64 ones of
/// [`arm64_runs`], then 32-bit arm v8 and below, for every variant it knows (v9.x too: there
/// is no 32-bit arm v9). containerd empties the vector before looking the variant up, so a
/// variant it does not know (`v8.10`, `v10`, `8.2`) yields an empty vector: a host of it
/// matches nothing, not even an image of that same variant.
fn arm64_vector(variant: &str) -> Vec<(String, String)> {
    // an empty (normalized) variant is v8
    let known = if variant.is_empty() { "v8" } else { variant };
    let Some(runs) = arm64_runs(known) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for &(major, highest) in runs {
        for minor in (0..=highest).rev() {
            out.push(("arm64".to_owned(), arm64_variant(major, minor)));
        }
    }
    out.extend(vector("arm", "v8"));
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
    /// What this platform runs, best first (containerd's `Only`); empty for an OS alone, and
    /// for an arm64 variant containerd does not know.
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
}

#[cfg(test)]
mod tests;
