//! TLS for the harness's servers: a fresh test CA per server and a certificate it issued for
//! `127.0.0.1` and `localhost` ([`TestCa`]), and an accept loop serving an axum router over
//! TLS with HTTP/2 and HTTP/1.1 offered by ALPN ([`serve_tls`]), as a public token service
//! or registry offers them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};

/// The files of a TLS server: a test CA and a server certificate it issued.
#[derive(Debug, Clone)]
pub struct TestCa {
    /// The CA's certificate (PEM): what a client must trust.
    pub ca: PathBuf,
    /// The server's certificate (PEM), for `127.0.0.1` and `localhost`.
    pub certificate: PathBuf,
    /// The server's private key (PEM).
    pub key: PathBuf,
}

impl TestCa {
    /// Issues a CA and a server certificate into `dir`.
    pub fn issue(dir: &Path) -> Result<TestCa, String> {
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
            IsCa, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
        };
        let error = |e: rcgen::Error| e.to_string();
        let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(error)?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(error)?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "mquery test CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).map_err(error)?;
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(error)?;
        // "127.0.0.1" becomes an IP address SAN
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .map_err(error)?;
        params
            .distinguished_name
            .push(DnType::CommonName, "mquery test server");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let certificate = params.signed_by(&key, &ca).map_err(error)?;
        let files = TestCa {
            ca: dir.join("ca.pem"),
            certificate: dir.join("server.crt"),
            key: dir.join("server.key"),
        };
        let write = |path: &PathBuf, text: String| {
            std::fs::write(path, text).map_err(|e| format!("write {}: {e}", path.display()))
        };
        write(&files.ca, ca.pem())?;
        write(&files.certificate, certificate.pem())?;
        write(&files.key, key.serialize_pem())?;
        Ok(files)
    }

    /// A rustls server configuration with this certificate, offering `h2` and `http/1.1`.
    pub fn server_config(&self) -> Result<rustls::ServerConfig, String> {
        let chain = CertificateDer::pem_file_iter(&self.certificate)
            .map_err(|e| e.to_string())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let key = PrivateKeyDer::from_pem_file(&self.key).map_err(|e| e.to_string())?;
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| e.to_string())?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }
}

/// Writes the CA certificates of `cas` (PEM files) into one file at `path`, the form
/// `MQUERY_CA_FILE` and `SSL_CERT_FILE` take: a client of a registry and its token server,
/// each with its own test CA, trusts both.
pub fn ca_bundle(path: &Path, cas: &[&Path]) -> Result<(), String> {
    let mut bundle = String::new();
    for ca in cas {
        bundle.push_str(
            &std::fs::read_to_string(ca).map_err(|e| format!("read {}: {e}", ca.display()))?,
        );
    }
    std::fs::write(path, bundle).map_err(|e| format!("write {}: {e}", path.display()))
}

/// Serves `app` over TLS on `listener` until the runtime ends, counting the TCP connections
/// accepted in `connections`.
pub fn serve_tls(
    listener: tokio::net::TcpListener,
    config: rustls::ServerConfig,
    app: axum::Router,
    connections: Arc<AtomicUsize>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            connections.fetch_add(1, Ordering::SeqCst);
            // as Go's servers and axum::serve do: a response's head and body written apart
            // must not wait for the peer's delayed ACK (Nagle)
            let _ = tcp.set_nodelay(true);
            let (acceptor, app) = (acceptor.clone(), app.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = TowerToHyperService::new(app);
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
}
