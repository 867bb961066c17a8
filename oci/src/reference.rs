//! Image references, parsed and normalized exactly as distribution/reference's
//! `ParseNormalizedNamed` does, so that `alpine`, `alpine:latest` and
//! `docker.io/library/alpine:latest` are one image.
//!
//! Grammar (from distribution/reference):
//!
//! ```text
//! reference       := name [ ":" tag ] [ "@" digest ]
//! name            := [domain '/'] path-component ['/' path-component]*
//! domain          := host [':' port-number]
//! host            := domain-name | IPv4address | '[' IPv6address ']'
//! domain-name     := domain-component ['.' domain-component]*
//! domain-component:= [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
//! path-component  := [a-z0-9]+ (separator [a-z0-9]+)*
//! separator       := [_.] | '__' | '-'+
//! tag             := [\w][\w.-]{0,127}
//! ```

use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

use crate::digest::{Digest, DigestError};

/// The registry that names without a domain belong to.
pub const DEFAULT_DOMAIN: &str = "docker.io";
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
const OFFICIAL_REPOSITORY_PREFIX: &str = "library/";
/// The tag a reference without tag or digest gets.
pub const DEFAULT_TAG: &str = "latest";
/// distribution/reference's limit on the whole name, domain included.
pub const NAME_TOTAL_LENGTH_MAX: usize = 255;
const TAG_LENGTH_MAX: usize = 128;
/// No valid reference is longer: a 255-character name, a 128-character tag and a sha512 digest.
pub const REFERENCE_LENGTH_MAX: usize = NAME_TOTAL_LENGTH_MAX + 1 + TAG_LENGTH_MAX + 1 + 135;

/// Why a string is not an image reference. Each variant says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("reference is empty")]
    Empty,
    #[error("reference is longer than {REFERENCE_LENGTH_MAX} characters")]
    TooLong,
    #[error("repository name is missing")]
    NameEmpty,
    #[error("repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters")]
    NameTooLong,
    #[error("repository name must be lowercase")]
    NameContainsUppercase,
    #[error("invalid repository name: cannot specify 64-byte hexadecimal strings")]
    HexadecimalName,
    #[error(
        "invalid repository name component {0:?}: use lowercase letters and digits, separated by '.', '_', '__' or '-'"
    )]
    InvalidPathComponent(String),
    #[error("invalid registry domain {0:?}")]
    InvalidDomain(String),
    #[error(
        "invalid tag {0:?}: up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'"
    )]
    InvalidTag(String),
    #[error("invalid digest {input:?}: {source}")]
    InvalidDigest {
        input: String,
        #[source]
        source: DigestError,
    },
}

/// A parsed, normalized image reference. Its existence proves it is valid.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parses `input` as Docker does: `alpine` is `docker.io/library/alpine:latest`.
    pub fn parse(input: &str) -> Result<Reference, ParseError> {
        input.parse()
    }

    /// The registry domain as written (`docker.io`, `ghcr.io`, `localhost:5000`, `[::1]:5000`).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path within the registry (`library/alpine`).
    pub fn repository(&self) -> &str {
        &self.path
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// `domain/path`, without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// What to ask the registry for: the digest when there is one, else the tag.
    pub fn manifest_reference(&self) -> &str {
        match (&self.digest, &self.tag) {
            (Some(digest), _) => digest.as_str(),
            (None, Some(tag)) => tag,
            (None, None) => DEFAULT_TAG,
        }
    }

    /// The canonical string, e.g. `docker.io/library/busybox:latest@sha256:...`: the cache key.
    pub fn canonical(&self) -> String {
        self.to_string()
    }

    /// The same repository, pinned to `digest` (tag dropped).
    pub fn with_digest(&self, digest: Digest) -> Reference {
        Reference {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: None,
            digest: Some(digest),
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.domain, self.path)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl FromStr for Reference {
    type Err = ParseError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        if input.is_empty() {
            return Err(ParseError::Empty);
        }
        if input.len() > REFERENCE_LENGTH_MAX {
            return Err(ParseError::TooLong);
        }
        if input.len() == 64 && is_lower_hex(input) {
            return Err(ParseError::HexadecimalName);
        }

        let (rest, digest) = match input.split_once('@') {
            Some((rest, digest)) => {
                let parsed =
                    digest
                        .parse::<Digest>()
                        .map_err(|source| ParseError::InvalidDigest {
                            input: digest.to_owned(),
                            source,
                        })?;
                (rest, Some(parsed))
            }
            None => (input, None),
        };

        // A tag is whatever follows the last ':' that comes after the last '/'
        // (an earlier ':' belongs to a port).
        let last_slash = rest.rfind('/');
        let (name, tag) = match rest.rfind(':') {
            Some(colon) if last_slash.is_none_or(|slash| colon > slash) => {
                (&rest[..colon], Some(&rest[colon + 1..]))
            }
            _ => (rest, None),
        };
        if let Some(tag) = tag {
            validate_tag(tag)?;
        }
        if name.is_empty() {
            return Err(ParseError::NameEmpty);
        }

        let (domain, remainder) = split_domain(name);
        validate_domain(domain)?;
        if remainder.is_empty() {
            return Err(ParseError::NameEmpty);
        }
        if remainder.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(ParseError::NameContainsUppercase);
        }
        for component in remainder.split('/') {
            if !is_path_component(component) {
                return Err(ParseError::InvalidPathComponent(component.to_owned()));
            }
        }

        let domain = if domain == LEGACY_DEFAULT_DOMAIN {
            DEFAULT_DOMAIN
        } else {
            domain
        };
        let path = if domain == DEFAULT_DOMAIN && !remainder.contains('/') {
            format!("{OFFICIAL_REPOSITORY_PREFIX}{remainder}")
        } else {
            remainder.to_owned()
        };
        if domain.len() + 1 + path.len() > NAME_TOTAL_LENGTH_MAX {
            return Err(ParseError::NameTooLong);
        }

        let tag = match (tag, &digest) {
            (Some(tag), _) => Some(tag.to_owned()),
            (None, None) => Some(DEFAULT_TAG.to_owned()),
            (None, Some(_)) => None,
        };
        Ok(Reference {
            domain: domain.to_owned(),
            path,
            tag,
            digest,
        })
    }
}

/// distribution's `splitDockerDomain`: the first component is a domain when it contains
/// `.` or `:`, is `localhost`, or has an uppercase letter (path components cannot).
fn split_domain(name: &str) -> (&str, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            (first, rest)
        }
        _ => (DEFAULT_DOMAIN, name),
    }
}

fn validate_domain(domain: &str) -> Result<(), ParseError> {
    let invalid = || ParseError::InvalidDomain(domain.to_owned());
    let (host_ok, port) = if let Some(bracketed) = domain.strip_prefix('[') {
        let (inside, after) = bracketed.split_once(']').ok_or_else(invalid)?;
        let host_ok = !inside.is_empty()
            && inside.bytes().all(|b| b.is_ascii_hexdigit() || b == b':')
            && inside.parse::<Ipv6Addr>().is_ok();
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or_else(invalid)?),
        };
        (host_ok, port)
    } else {
        let (host, port) = match domain.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (domain, None),
        };
        (
            !host.is_empty() && host.split('.').all(is_domain_component),
            port,
        )
    };
    let port_ok = port.is_none_or(|p| {
        !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok()
    });
    if host_ok && port_ok {
        Ok(())
    } else {
        Err(invalid())
    }
}

fn is_domain_component(s: &str) -> bool {
    let bytes = s.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        }
        _ => false,
    }
}

/// `[a-z0-9]+ (([_.] | '__' | '-'+) [a-z0-9]+)*`
fn is_path_component(s: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = s.as_bytes();
    let mut i = 0;
    loop {
        // one run of alphanumerics
        let start = i;
        while i < bytes.len() && alnum(bytes[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == bytes.len() {
            return true;
        }
        // one separator
        match bytes[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if bytes.get(i) == Some(&b'_') {
                    i += 1;
                }
            }
            b'-' => {
                while bytes.get(i) == Some(&b'-') {
                    i += 1;
                }
            }
            _ => return false,
        }
    }
}

fn validate_tag(tag: &str) -> Result<(), ParseError> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = tag.as_bytes();
    let valid = !bytes.is_empty()
        && bytes.len() <= TAG_LENGTH_MAX
        && word(bytes[0])
        && bytes.iter().all(|&b| word(b) || b == b'.' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(ParseError::InvalidTag(tag.to_owned()))
    }
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn valid_references_normalize() {
        // `{D}` stands for the digest D, `{HEX}` for its 64 hex digits
        let cases: &[(&str, &str)] = &[
            ("alpine", "docker.io/library/alpine:latest"),
            ("alpine:3.20", "docker.io/library/alpine:3.20"),
            ("library/alpine", "docker.io/library/alpine:latest"),
            ("docker.io/alpine", "docker.io/library/alpine:latest"),
            ("index.docker.io/alpine", "docker.io/library/alpine:latest"),
            (
                "index.docker.io/library/alpine:edge",
                "docker.io/library/alpine:edge",
            ),
            ("mplatform/mquery", "docker.io/mplatform/mquery:latest"),
            ("golang:1.22", "docker.io/library/golang:1.22"),
            ("ghcr.io/org/app:v1", "ghcr.io/org/app:v1"),
            ("ghcr.io/app", "ghcr.io/app:latest"),
            ("quay.io/x/y@{D}", "quay.io/x/y@{D}"),
            ("busybox:latest@{D}", "docker.io/library/busybox:latest@{D}"),
            ("busybox@{D}", "docker.io/library/busybox@{D}"),
            ("localhost/foo", "localhost/foo:latest"),
            ("localhost:5000/foo/bar:1", "localhost:5000/foo/bar:1"),
            // without a '/', "localhost:5000" is the image "localhost" with tag "5000"
            ("localhost:5000", "docker.io/library/localhost:5000"),
            ("127.0.0.1:5000/a", "127.0.0.1:5000/a:latest"),
            ("[::1]:5000/a:b", "[::1]:5000/a:b"),
            ("[2001:db8::1]/a", "[2001:db8::1]/a:latest"),
            ("Example.com/a", "Example.com/a:latest"),
            (
                "a.b-c.d/e__f.g-h---i/j_k",
                "a.b-c.d/e__f.g-h---i/j_k:latest",
            ),
            ("foo:_Tag.1-x", "docker.io/library/foo:_Tag.1-x"),
            // 64 hex digits are fine as a component of a longer name
            ("x/{HEX}", "docker.io/x/{HEX}:latest"),
        ];
        let digests = |s: &str| s.replace("{D}", D).replace("{HEX}", &D[7..]);
        for (input, want) in cases {
            let (input, want) = (digests(input), digests(want));
            let got =
                Reference::parse(&input).unwrap_or_else(|e| panic!("{input:?} should parse: {e}"));
            assert_eq!(got.canonical(), want, "input {input:?}");
            // the canonical form is a fixed point
            let again = Reference::parse(&want).expect("canonical form parses");
            assert_eq!(again, got, "canonical {want:?}");
        }
    }

    #[test]
    fn accessors() {
        let r = Reference::parse(&format!("localhost:5000/ns/app:v1@{D}")).expect("valid");
        assert_eq!(r.domain(), "localhost:5000");
        assert_eq!(r.repository(), "ns/app");
        assert_eq!(r.tag(), Some("v1"));
        assert_eq!(r.digest().map(Digest::as_str), Some(D));
        assert_eq!(r.manifest_reference(), D);
        assert_eq!(r.name(), "localhost:5000/ns/app");
        let r = Reference::parse("alpine").expect("valid");
        assert_eq!(r.manifest_reference(), "latest");
        let pinned = r.with_digest(D.parse().expect("digest"));
        assert_eq!(pinned.canonical(), format!("docker.io/library/alpine@{D}"));
    }

    #[test]
    fn invalid_references_say_why() {
        let long_name = "a".repeat(240);
        let long_tag = "t".repeat(129);
        let tag = |t: &str| ParseError::InvalidTag(t.into());
        let path = |p: &str| ParseError::InvalidPathComponent(p.into());
        let domain = |d: &str| ParseError::InvalidDomain(d.into());
        let not_sha256 = |input: &str| ParseError::InvalidDigest {
            input: input.into(),
            source: DigestError::InvalidEncoded {
                algorithm: "sha256",
                expected: 64,
            },
        };
        let cases: Vec<(String, ParseError)> = vec![
            ("".into(), ParseError::Empty),
            ("Alpine".into(), ParseError::NameContainsUppercase),
            (
                "docker.io/Library/alpine".into(),
                ParseError::NameContainsUppercase,
            ),
            (D[7..].into(), ParseError::HexadecimalName),
            (":tag".into(), ParseError::NameEmpty),
            ("ghcr.io/".into(), ParseError::NameEmpty),
            ("alpine:".into(), tag("")),
            ("alpine:-x".into(), tag("-x")),
            ("alpine:.x".into(), tag(".x")),
            (format!("alpine:{long_tag}"), tag(&long_tag)),
            ("alpine:a b".into(), tag("a b")),
            ("a//b".into(), path("")),
            ("a/b/".into(), path("")),
            ("-a".into(), path("-a")),
            ("a-".into(), path("a-")),
            ("a..b".into(), path("a..b")),
            ("a___b".into(), path("a___b")),
            ("a b".into(), path("a b")),
            ("ghcr.io/a!b".into(), path("a!b")),
            ("-bad.io/a".into(), domain("-bad.io")),
            ("bad..io/a".into(), domain("bad..io")),
            ("host:port/a".into(), domain("host:port")),
            ("host:99999/a".into(), domain("host:99999")),
            ("host:/a".into(), domain("host:")),
            ("[::1/a".into(), domain("[::1")),
            ("[zz::1]/a".into(), domain("[zz::1]")),
            ("[::1]x/a".into(), domain("[::1]x")),
            (
                format!("ghcr.io/{long_name}/{}", "b".repeat(20)),
                ParseError::NameTooLong,
            ),
            ("x".repeat(REFERENCE_LENGTH_MAX + 1), ParseError::TooLong),
            ("alpine@sha256:abc".into(), not_sha256("sha256:abc")),
            (
                "alpine@".into(),
                ParseError::InvalidDigest {
                    input: "".into(),
                    source: DigestError::InvalidFormat,
                },
            ),
            (format!("alpine@{D}@{D}"), not_sha256(&format!("{D}@{D}"))),
        ];
        for (input, want) in cases {
            assert_eq!(Reference::parse(&input), Err(want), "input {input:?}");
        }
    }

    #[test]
    fn name_length_counts_the_normalized_domain() {
        // 255 - len("docker.io/library/") = 237 characters fit, 238 do not
        let fits = "a".repeat(NAME_TOTAL_LENGTH_MAX - "docker.io/library/".len());
        assert!(Reference::parse(&fits).is_ok());
        let too_long = format!("{fits}a");
        assert_eq!(Reference::parse(&too_long), Err(ParseError::NameTooLong));
    }

    #[test]
    fn messages_are_sentences() {
        let err = Reference::parse("Alpine").expect_err("invalid");
        assert_eq!(err.to_string(), "repository name must be lowercase");
        let err = Reference::parse("alpine@md5:abc").expect_err("invalid");
        assert!(
            err.to_string().contains("unsupported digest algorithm"),
            "{err}"
        );
    }
}
