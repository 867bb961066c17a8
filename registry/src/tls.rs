//! Which certificate authorities the client trusts, and what a refused certificate means.
//!
//! Roots, in order of preference:
//! 1. the system's store, read the way OpenSSL reads it (`SSL_CERT_FILE`, `SSL_CERT_DIR`, or
//!    the distribution's bundle such as `/etc/ssl/certs/ca-certificates.crt`);
//! 2. where the system has none — the `FROM scratch` image, any empty root filesystem —
//!    Mozilla's roots compiled into the binary (`webpki-roots`), so the binary starts and
//!    reaches public registries anywhere;
//!
//! plus, in both cases, the certificates of `MQUERY_CA_FILE` (a PEM bundle), for a private
//! registry's CA without giving up the public roots. A `SSL_CERT_FILE` or `SSL_CERT_DIR` that
//! is set but yields no certificate is an error, not a silent switch to other roots.
//!
//! Verification is rustls's webpki verifier (what rustls-platform-verifier does on Linux);
//! no setting turns it off.

use std::error::Error as StdError;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// Where the trusted roots came from (logged at start-up, and asserted by tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootSource {
    /// The system's certificate store (or `SSL_CERT_FILE` / `SSL_CERT_DIR`).
    System,
    /// Mozilla's roots compiled into the binary: the system has none.
    Bundled,
}

/// Why the TLS settings cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    #[error("{name}: cannot read {path}: {reason}")]
    Unreadable {
        name: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("{name}: {path} holds no PEM certificate")]
    Empty { name: &'static str, path: PathBuf },
    #[error("{name}: {path}: certificate {index} is not a valid CA certificate: {reason}")]
    BadCertificate {
        name: &'static str,
        path: PathBuf,
        index: usize,
        reason: String,
    },
    #[error("SSL_CERT_FILE/SSL_CERT_DIR are set but no certificate could be read from them")]
    SystemStoreUnreadable,
    #[error("cannot set up TLS: {0}")]
    Setup(String),
}

/// Reads every certificate of a PEM file (`MQUERY_CA_FILE`), each checked to be usable as a
/// trust anchor, so a wrong file is an error at start-up rather than a refused handshake later.
pub fn read_pem_certificates(
    name: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let unreadable = |reason: String| TlsError::Unreadable {
        name,
        path: path.to_owned(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| unreadable(e.to_string()))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| unreadable(e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsError::Empty {
            name,
            path: path.to_owned(),
        });
    }
    for (index, cert) in certs.iter().enumerate() {
        rustls::RootCertStore::empty()
            .add(cert.clone())
            .map_err(|e| TlsError::BadCertificate {
                name,
                path: path.to_owned(),
                index: index + 1,
                reason: e.to_string(),
            })?;
    }
    Ok(certs)
}

/// The rustls settings of every HTTPS connection: the roots above plus `extra`.
///
/// The roots are read at the first HTTPS handshake, not here: parsing the system's ~140
/// certificates takes a few milliseconds, which would more than double a Lambda cold start,
/// and a lookup over plain HTTP never needs them. Where `SSL_CERT_FILE` or `SSL_CERT_DIR` is
/// set they are read now, so a wrong path is an error at start-up.
pub fn client_config(extra: &[CertificateDer<'static>]) -> Result<rustls::ClientConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let roots = Arc::new(LazyRoots {
        extra: extra.to_vec(),
        provider: Arc::clone(&provider),
        verifier: std::sync::OnceLock::new(),
    });
    if explicit_store() {
        roots.verifier().map_err(|_| roots.error())?;
    }
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(roots)
        .with_no_client_auth();
    // HTTP/2 where the server offers it (every request of a process to one registry then
    // shares one connection), HTTP/1.1 elsewhere. reqwest sets no ALPN on a configuration it
    // is handed, so it is set here. Session resumption is rustls's default (an in-memory
    // cache of 256 sessions).
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Whether the user named the system store (`SSL_CERT_FILE`, `SSL_CERT_DIR`): then it must
/// hold certificates, and it is read at start-up.
fn explicit_store() -> bool {
    std::env::var_os("SSL_CERT_FILE").is_some() || std::env::var_os("SSL_CERT_DIR").is_some()
}

/// Reads the roots, in the order of the module's documentation.
fn load_roots(
    extra: &[CertificateDer<'static>],
) -> Result<(rustls::RootCertStore, RootSource), TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    let system = rustls_native_certs::load_native_certs();
    let (added, _ignored) = roots.add_parsable_certificates(system.certs);
    let source = if added > 0 {
        RootSource::System
    } else if explicit_store() {
        return Err(TlsError::SystemStoreUnreadable);
    } else {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        RootSource::Bundled
    };
    for cert in extra {
        roots
            .add(cert.clone())
            .map_err(|e| TlsError::Setup(e.to_string()))?;
    }
    Ok((roots, source))
}

/// rustls's webpki verifier, built from the roots at the first handshake. Signature checks
/// need no roots and go straight to the provider's algorithms.
#[derive(Debug)]
struct LazyRoots {
    extra: Vec<CertificateDer<'static>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
    verifier: std::sync::OnceLock<Result<Arc<rustls::client::WebPkiServerVerifier>, TlsError>>,
}

impl LazyRoots {
    fn verifier(&self) -> Result<&Arc<rustls::client::WebPkiServerVerifier>, rustls::Error> {
        self.verifier
            .get_or_init(|| {
                let started = std::time::Instant::now();
                let (roots, source) = load_roots(&self.extra)?;
                tracing::debug!(
                    roots = ?source,
                    anchors = roots.len(),
                    extra = self.extra.len(),
                    micros = started.elapsed().as_micros() as u64,
                    "TLS roots"
                );
                rustls::client::WebPkiServerVerifier::builder_with_provider(
                    Arc::new(roots),
                    Arc::clone(&self.provider),
                )
                .build()
                .map_err(|e| TlsError::Setup(e.to_string()))
            })
            .as_ref()
            .map_err(|e| rustls::Error::General(e.to_string()))
    }

    fn error(&self) -> TlsError {
        match self.verifier.get() {
            Some(Err(e)) => e.clone(),
            _ => TlsError::Setup("the TLS roots could not be read".to_owned()),
        }
    }
}

impl rustls::client::danger::ServerCertVerifier for LazyRoots {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        self.verifier()?.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// What was wrong with a certificate the client refused, in words a user can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateProblem {
    UnknownIssuer,
    Expired,
    NotValidYet,
    WrongName,
    Revoked,
    Invalid,
}

impl std::fmt::Display for CertificateProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CertificateProblem::UnknownIssuer => {
                "issued by an unknown authority (trust its CA with SSL_CERT_FILE or MQUERY_CA_FILE)"
            }
            CertificateProblem::Expired => "expired",
            CertificateProblem::NotValidYet => "not valid yet",
            CertificateProblem::WrongName => "not valid for this host name",
            CertificateProblem::Revoked => "revoked",
            CertificateProblem::Invalid => "invalid",
        })
    }
}

/// Finds a refused server certificate anywhere in an error's chain. hyper and tokio-rustls
/// wrap rustls's error in `io::Error`, whose `source()` skips the wrapped error itself, so
/// each `io::Error` is opened with `get_ref()` as well.
pub fn certificate_problem(error: &(dyn StdError + 'static)) -> Option<CertificateProblem> {
    let mut next = Some(error);
    let mut depth = 0;
    while let Some(e) = next {
        if let Some(problem) = as_problem(e) {
            return Some(problem);
        }
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
            && let Some(problem) = certificate_problem(inner)
        {
            return Some(problem);
        }
        depth += 1;
        if depth > 16 {
            break;
        }
        next = e.source();
    }
    None
}

fn as_problem(e: &(dyn StdError + 'static)) -> Option<CertificateProblem> {
    use rustls::CertificateError as C;
    let rustls::Error::InvalidCertificate(cert) = e.downcast_ref::<rustls::Error>()? else {
        return None;
    };
    Some(match cert {
        C::UnknownIssuer => CertificateProblem::UnknownIssuer,
        C::Expired | C::ExpiredContext { .. } => CertificateProblem::Expired,
        C::NotValidYet | C::NotValidYetContext { .. } => CertificateProblem::NotValidYet,
        C::NotValidForName | C::NotValidForNameContext { .. } => CertificateProblem::WrongName,
        C::Revoked => CertificateProblem::Revoked,
        _ => CertificateProblem::Invalid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_certificates_are_found_inside_io_errors() {
        let rustls_error =
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, rustls_error);
        assert_eq!(
            certificate_problem(&io),
            Some(CertificateProblem::UnknownIssuer)
        );
        let name = rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName);
        assert_eq!(
            certificate_problem(&name),
            Some(CertificateProblem::WrongName)
        );
        let other = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(certificate_problem(&other), None);
    }

    #[test]
    fn ca_files_are_checked_when_read() {
        let dir = std::env::temp_dir().join(format!("mquery-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "no certificates here\n").expect("write");
        assert_eq!(
            read_pem_certificates("MQUERY_CA_FILE", &empty),
            Err(TlsError::Empty {
                name: "MQUERY_CA_FILE",
                path: empty.clone()
            })
        );
        let missing = dir.join("missing.pem");
        assert!(matches!(
            read_pem_certificates("MQUERY_CA_FILE", &missing),
            Err(TlsError::Unreadable { .. })
        ));
        let garbage = dir.join("garbage.pem");
        std::fs::write(
            &garbage,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .expect("write");
        let err = read_pem_certificates("MQUERY_CA_FILE", &garbage).expect_err("not a cert");
        assert!(err.to_string().starts_with("MQUERY_CA_FILE: "), "{err}");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
