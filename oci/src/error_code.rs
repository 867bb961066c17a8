//! The error codes of a registry's error body (`errors[].code`), as the OCI distribution spec
//! lists them: pure vocabulary, read from the body by the client and named in its errors.

/// The error codes of the OCI distribution spec (`errors[].code` in a registry's error body).
/// Codes the spec does not list are kept as sent (clipped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OciErrorCode {
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    SizeInvalid,
    Unauthorized,
    Denied,
    Unsupported,
    TooManyRequests,
    Other(String),
}

impl OciErrorCode {
    const KNOWN: [(&'static str, OciErrorCode); 14] = [
        ("BLOB_UNKNOWN", OciErrorCode::BlobUnknown),
        ("BLOB_UPLOAD_INVALID", OciErrorCode::BlobUploadInvalid),
        ("BLOB_UPLOAD_UNKNOWN", OciErrorCode::BlobUploadUnknown),
        ("DIGEST_INVALID", OciErrorCode::DigestInvalid),
        ("MANIFEST_BLOB_UNKNOWN", OciErrorCode::ManifestBlobUnknown),
        ("MANIFEST_INVALID", OciErrorCode::ManifestInvalid),
        ("MANIFEST_UNKNOWN", OciErrorCode::ManifestUnknown),
        ("NAME_INVALID", OciErrorCode::NameInvalid),
        ("NAME_UNKNOWN", OciErrorCode::NameUnknown),
        ("SIZE_INVALID", OciErrorCode::SizeInvalid),
        ("UNAUTHORIZED", OciErrorCode::Unauthorized),
        ("DENIED", OciErrorCode::Denied),
        ("UNSUPPORTED", OciErrorCode::Unsupported),
        ("TOOMANYREQUESTS", OciErrorCode::TooManyRequests),
    ];
    /// Unknown codes longer than this are clipped: they come from the registry.
    const OTHER_MAX: usize = 64;

    pub fn parse(code: &str) -> OciErrorCode {
        Self::KNOWN
            .iter()
            .find(|(name, _)| *name == code)
            .map(|(_, known)| known.clone())
            .unwrap_or_else(|| OciErrorCode::Other(code.chars().take(Self::OTHER_MAX).collect()))
    }

    pub fn as_str(&self) -> &str {
        match self {
            OciErrorCode::Other(code) => code,
            known => Self::KNOWN
                .iter()
                .find(|(_, k)| k == known)
                .map_or("", |(name, _)| name),
        }
    }
}

impl<'de> serde::Deserialize<'de> for OciErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<OciErrorCode, D::Error> {
        let code = std::borrow::Cow::<str>::deserialize(d)?;
        Ok(OciErrorCode::parse(&code))
    }
}

impl std::fmt::Display for OciErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_error_codes_are_typed() {
        #[derive(serde::Deserialize)]
        struct Body {
            errors: Vec<Entry>,
        }
        #[derive(serde::Deserialize)]
        struct Entry {
            code: OciErrorCode,
        }
        let body: Body = serde_json::from_str(
            r#"{"errors":[{"code":"MANIFEST_UNKNOWN"},{"code":"TOOMANYREQUESTS"},{"code":"NEW_THING"}]}"#,
        )
        .expect("parses");
        let codes: Vec<OciErrorCode> = body.errors.into_iter().map(|e| e.code).collect();
        assert_eq!(
            codes,
            [
                OciErrorCode::ManifestUnknown,
                OciErrorCode::TooManyRequests,
                OciErrorCode::Other("NEW_THING".into())
            ]
        );
        for (name, code) in OciErrorCode::KNOWN {
            assert_eq!(code.as_str(), name);
            assert_eq!(OciErrorCode::parse(name), code);
        }
        assert_eq!(OciErrorCode::parse(&"X".repeat(500)).as_str().len(), 64);
    }
}
