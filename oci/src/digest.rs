//! Content digests (`algorithm:hex`), parsed the way go-digest validates them.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest as _, Sha256, Sha384, Sha512};

/// A digest algorithm this crate can compute and verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    Sha256,
    Sha384,
    Sha512,
}

impl Algorithm {
    fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha384 => "sha384",
            Algorithm::Sha512 => "sha512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha384 => 96,
            Algorithm::Sha512 => 128,
        }
    }
}

/// Why a string is not a digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error("invalid digest format (expected algorithm:hex, e.g. sha256:<64 hex digits>)")]
    InvalidFormat,
    #[error("unsupported digest algorithm {0:?} (sha256, sha384 and sha512 are supported)")]
    UnsupportedAlgorithm(String),
    #[error("invalid {algorithm} digest: expected {expected} lowercase hex digits")]
    InvalidEncoded {
        algorithm: &'static str,
        expected: usize,
    },
}

/// A validated digest such as `sha256:3f9a...`. Its existence proves it is well formed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Digest {
    algorithm: Algorithm,
    value: String,
}

impl Digest {
    /// The digest of `bytes` under `algorithm`.
    pub fn compute(algorithm: Algorithm, bytes: &[u8]) -> Digest {
        let hex = match algorithm {
            Algorithm::Sha256 => hex(&Sha256::digest(bytes)),
            Algorithm::Sha384 => hex(&Sha384::digest(bytes)),
            Algorithm::Sha512 => hex(&Sha512::digest(bytes)),
        };
        Digest {
            algorithm,
            value: format!("{}:{hex}", algorithm.name()),
        }
    }

    /// The sha256 digest of `bytes`: what registries use for new content.
    pub fn sha256(bytes: &[u8]) -> Digest {
        Digest::compute(Algorithm::Sha256, bytes)
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The whole digest, `algorithm:hex`.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The hex part after the colon.
    pub fn encoded(&self) -> &str {
        &self.value[self.algorithm.name().len() + 1..]
    }

    /// Whether `bytes` hash to this digest. The digest of the bytes under this digest's
    /// algorithm is returned on a mismatch so the caller can report it.
    pub fn verify(&self, bytes: &[u8]) -> Result<(), Digest> {
        let actual = Digest::compute(self.algorithm, bytes);
        if actual == *self { Ok(()) } else { Err(actual) }
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

/// go-digest's algorithm grammar: `[a-z0-9]+(?:[.+_-][a-z0-9]+)*`.
fn is_algorithm_grammar(s: &str) -> bool {
    !s.is_empty()
        && s.split(['.', '+', '_', '-']).all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (algorithm, encoded) = s.split_once(':').ok_or(DigestError::InvalidFormat)?;
        if !is_algorithm_grammar(algorithm) || encoded.is_empty() {
            return Err(DigestError::InvalidFormat);
        }
        let algorithm = match algorithm {
            "sha256" => Algorithm::Sha256,
            "sha384" => Algorithm::Sha384,
            "sha512" => Algorithm::Sha512,
            other => return Err(DigestError::UnsupportedAlgorithm(other.to_owned())),
        };
        let valid = encoded.len() == algorithm.hex_len()
            && encoded
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !valid {
            return Err(DigestError::InvalidEncoded {
                algorithm: algorithm.name(),
                expected: algorithm.hex_len(),
            });
        }
        Ok(Digest {
            algorithm,
            value: s.to_owned(),
        })
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

/// Lets tests and callers compare a digest with its written form.
impl PartialEq<&str> for Digest {
    fn eq(&self, other: &&str) -> bool {
        self.value == *other
    }
}

impl PartialEq<String> for Digest {
    fn eq(&self, other: &String) -> bool {
        self.value == *other
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.value)
    }
}

/// A digest is written `algorithm:hex` in every document (docs/json.md), its hex as long as
/// the algorithm's ([`Algorithm::hex_len`]).
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Digest {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let alternatives = [Algorithm::Sha256, Algorithm::Sha384, Algorithm::Sha512]
            .map(|a| format!("{}:[0-9a-f]{{{}}}", a.name(), a.hex_len()));
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .pattern(Some(format!("^({})$", alternatives.join("|"))))
            .description(Some("A content digest, `algorithm:hex`."))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Digest {}

/// Deserializing validates, as parsing does: a stored or sent digest is a digest.
impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Digest, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_validates() {
        let d = Digest::sha256(b"x");
        let json = serde_json::to_string(&d).expect("serializes");
        assert_eq!(json, format!("\"{d}\""));
        assert_eq!(serde_json::from_str::<Digest>(&json).expect("parses"), d);
        assert!(serde_json::from_str::<Digest>("\"sha256:abc\"").is_err());
    }

    const EMPTY_SHA256: &str =
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn computes_known_sha256() {
        assert_eq!(Digest::sha256(b"").as_str(), EMPTY_SHA256);
        assert_eq!(
            Digest::sha256(b"").encoded(),
            &EMPTY_SHA256["sha256:".len()..]
        );
    }

    #[test]
    fn verify_reports_actual_digest() {
        let d: Digest = EMPTY_SHA256.parse().expect("valid digest");
        assert_eq!(d.verify(b""), Ok(()));
        let actual = d.verify(b"x").expect_err("mismatch");
        assert_eq!(actual, Digest::sha256(b"x"));
    }

    #[test]
    fn sha512_round_trip() {
        let d = Digest::compute(Algorithm::Sha512, b"abc");
        let parsed: Digest = d.as_str().parse().expect("valid sha512");
        assert_eq!(parsed, d);
        assert_eq!(parsed.verify(b"abc"), Ok(()));
    }

    #[test]
    fn parse_table() {
        let cases: &[(&str, Result<(), DigestError>)] = &[
            (EMPTY_SHA256, Ok(())),
            ("sha256", Err(DigestError::InvalidFormat)),
            ("sha256:", Err(DigestError::InvalidFormat)),
            (":abc", Err(DigestError::InvalidFormat)),
            (
                "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
                Err(DigestError::InvalidEncoded {
                    algorithm: "sha256",
                    expected: 64,
                }),
            ),
            (
                "sha256:abc",
                Err(DigestError::InvalidEncoded {
                    algorithm: "sha256",
                    expected: 64,
                }),
            ),
            (
                "md5:d41d8cd98f00b204e9800998ecf8427e",
                Err(DigestError::UnsupportedAlgorithm("md5".into())),
            ),
            ("SHA256:abc", Err(DigestError::InvalidFormat)),
        ];
        for (input, want) in cases {
            let got = input.parse::<Digest>().map(|_| ());
            assert_eq!(&got, want, "input {input:?}");
        }
    }
}
