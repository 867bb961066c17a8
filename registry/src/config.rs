//! The registry client's settings. Binaries read the environment (each in its own `config`
//! module) and use the parsers here, so a bad value is an error at start-up, never a silent
//! fallback.

use std::time::Duration;

use std::path::Path;

use reqwest::Url;
use rustls::pki_types::CertificateDer;

use crate::reference::Reference;
use crate::tls::{TlsError, read_pem_certificates};

/// Why a configuration value is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{name}: {value:?} is not a registry host[:port]")]
    InvalidRegistry { name: &'static str, value: String },
    #[error("{name}: {value:?} is not an http(s) URL")]
    InvalidUrl { name: &'static str, value: String },
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("MQUERY_DOCKER_HUB_USERNAME and MQUERY_DOCKER_HUB_TOKEN must be set together")]
    HalfCredentials,
}

/// Where Docker Hub is. Production uses Docker Hub's own addresses; tests point it at a local
/// registry and token server, which is the only reason it is a setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerHub {
    /// `https://registry-1.docker.io`.
    pub registry: String,
    /// The token service, `https://auth.docker.io/token`: the only place credentials go.
    pub realm: String,
    pub service: String,
}

impl Default for DockerHub {
    fn default() -> Self {
        DockerHub {
            registry: "https://registry-1.docker.io".to_owned(),
            realm: "https://auth.docker.io/token".to_owned(),
            service: "registry.docker.io".to_owned(),
        }
    }
}

/// The operator's Docker Hub account (a username and an access token), so the service's
/// pulls count against that account's limit instead of the anonymous per-IP one. The token
/// never prints: `Debug` shows `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    username: String,
    token: String,
}

impl Credentials {
    /// `None` when either part is empty.
    pub fn new(username: &str, token: &str) -> Option<Credentials> {
        let (username, token) = (username.trim(), token.trim());
        (!username.is_empty() && !token.is_empty()).then(|| Credentials {
            username: username.to_owned(),
            token: token.to_owned(),
        })
    }

    pub fn username(&self) -> &str {
        &self.username
    }

    pub(crate) fn token(&self) -> &str {
        &self.token
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// Settings of a [`crate::Client`]. `Default` is what production uses.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `host[:port]` entries reached over plain HTTP (local registries); exempt from the
    /// address guard.
    pub insecure_registries: Vec<String>,
    /// `host[:port]` entries exempt from the address guard but still reached over HTTPS with
    /// the certificate verified (a registry with TLS on loopback or a private network).
    pub private_registries: Vec<String>,
    /// CA certificates trusted in addition to the system's (or the compiled-in) roots.
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// Used instead of `https://registry-1.docker.io` for `docker.io` references.
    pub docker_hub_mirror: Option<Url>,
    /// Asked for `docker.io` references when Docker Hub answers 429.
    pub docker_hub_fallback: Option<Url>,
    /// Docker Hub's addresses (tests point them at local servers).
    pub docker_hub: DockerHub,
    /// Sent, as Basic auth, to Docker Hub's token service and nowhere else.
    pub docker_hub_credentials: Option<Credentials>,
    /// The user's own registry logins ([`crate::credentials`]): set by the command line only,
    /// never by the service. Where it is set, a refusal reads "unauthorized: check your
    /// login for HOST" instead of "not found".
    pub logins: Option<std::sync::Arc<dyn crate::credentials::LoginSource>>,
    /// Deadline of each HTTP request, body included.
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    /// Deadline of a whole lookup (token, manifest, config, nested index).
    pub lookup_timeout: Duration,
    pub max_manifest_bytes: usize,
    pub max_config_bytes: usize,
    pub max_index_entries: usize,
    /// A 429 whose Retry-After is at most this long is waited out once; longer is an error.
    pub max_retry_wait: Duration,
    /// Pause before the one retry of a 5xx answer.
    pub retry_backoff: Duration,
    /// Lookups running at once in this process; more wait (within their deadline).
    pub max_concurrent_lookups: usize,
    /// Lookups running at once against one registry host that has answered its latest
    /// lookups: a bulkhead, so one slow or hanging registry holds at most this share of
    /// `max_concurrent_lookups`. A host not yet heard from, or whose latest lookup timed out,
    /// may run an eighth of it (at least one), and all such hosts together at most half of
    /// `max_concurrent_lookups` (`client::breaker`).
    pub max_lookups_per_registry: usize,
    /// Whether a host not yet heard from, or whose latest lookup timed out, starts with an
    /// eighth of its share and all such hosts with half of `max_concurrent_lookups`
    /// (`client::breaker`): on in the service, where many users share the lookups and silent
    /// registries must not hold them all; off in the command line, one person's run, where a
    /// stack's lookups all go at once (slow start cost it a round trip per new registry, and
    /// a silent registry's rows wait for their timeout either way).
    pub slow_start: bool,
    /// Lookups of one registry host that time out in a row (no answer between them) before
    /// its circuit breaker opens: its lookups then fail at once (`UPSTREAM_ERROR`, "not
    /// answering") until the cool-down is over and one probe lookup gets an answer.
    pub breaker_threshold: u32,
    /// How long an open breaker fails lookups at once; each reopening after a probe that got
    /// no answer adds it again, up to `breaker_max_cool_down`.
    pub breaker_cool_down: Duration,
    pub breaker_max_cool_down: Duration,
    /// How many (registry, repository) tokens are kept.
    pub token_cache_capacity: usize,
    pub user_agent: String,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            insecure_registries: Vec::new(),
            private_registries: Vec::new(),
            extra_roots: Vec::new(),
            docker_hub_mirror: None,
            docker_hub_fallback: None,
            docker_hub: DockerHub::default(),
            docker_hub_credentials: None,
            logins: None,
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            lookup_timeout: Duration::from_secs(20),
            // the OCI distribution spec asks registries to accept manifests up to 4 MiB
            max_manifest_bytes: 4 << 20,
            max_config_bytes: 8 << 20,
            max_index_entries: 1024,
            max_retry_wait: Duration::from_secs(2),
            retry_backoff: Duration::from_millis(200),
            max_concurrent_lookups: 64,
            max_lookups_per_registry: 16,
            slow_start: true,
            // Envoy's outlier detection (envoy api/envoy/config/cluster/v3/
            // outlier_detection.proto) ejects a host after 5 consecutive failures, for 30 s
            // times its ejection count, at most 300 s; a lookup that times out holds its
            // share far longer than a 5xx does, so 3 in a row open the breaker here
            breaker_threshold: 3,
            breaker_cool_down: Duration::from_secs(30),
            breaker_max_cool_down: Duration::from_secs(300),
            token_cache_capacity: 4096,
            user_agent: concat!("mquery/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// The registry settings both binaries read, through their own `config` module's `lookup`:
/// `MQUERY_INSECURE_REGISTRIES`, `MQUERY_PRIVATE_REGISTRIES`, `MQUERY_CA_FILE`,
/// `MQUERY_DOCKER_HUB_MIRROR`, `MQUERY_DOCKER_HUB_FALLBACK`, and `MQUERY_DOCKER_HUB_USERNAME`
/// with `MQUERY_DOCKER_HUB_TOKEN` (both or neither). Empty values are unset. (`SSL_CERT_FILE`
/// and `SSL_CERT_DIR` are read by [`crate::tls`] when the TLS settings are built.)
pub fn client_config_from(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<ClientConfig, ConfigError> {
    let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
    let mut client = ClientConfig::default();
    if let Some(value) = get("MQUERY_INSECURE_REGISTRIES") {
        client.insecure_registries =
            parse_insecure_registries("MQUERY_INSECURE_REGISTRIES", &value)?;
    }
    if let Some(value) = get("MQUERY_PRIVATE_REGISTRIES") {
        client.private_registries = parse_insecure_registries("MQUERY_PRIVATE_REGISTRIES", &value)?;
    }
    if let Some(value) = get("MQUERY_CA_FILE") {
        client.extra_roots = read_pem_certificates("MQUERY_CA_FILE", Path::new(value.trim()))?;
    }
    if let Some(value) = get("MQUERY_DOCKER_HUB_MIRROR") {
        client.docker_hub_mirror = Some(parse_base_url("MQUERY_DOCKER_HUB_MIRROR", &value)?);
    }
    if let Some(value) = get("MQUERY_DOCKER_HUB_FALLBACK") {
        client.docker_hub_fallback = Some(parse_base_url("MQUERY_DOCKER_HUB_FALLBACK", &value)?);
    }
    match (
        get("MQUERY_DOCKER_HUB_USERNAME"),
        get("MQUERY_DOCKER_HUB_TOKEN"),
    ) {
        (Some(username), Some(token)) => {
            client.docker_hub_credentials = Credentials::new(&username, &token);
        }
        (None, None) => {}
        _ => return Err(ConfigError::HalfCredentials),
    }
    Ok(client)
}

/// Parses `MQUERY_INSECURE_REGISTRIES` (and `MQUERY_PRIVATE_REGISTRIES`): a comma list of `host[:port]`.
pub fn parse_insecure_registries(
    name: &'static str,
    value: &str,
) -> Result<Vec<String>, ConfigError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|entry| {
            // a registry domain is exactly what a reference's first component may be
            match Reference::parse(&format!("{entry}/x")) {
                Ok(r) if r.domain() == entry => Ok(entry.to_ascii_lowercase()),
                _ => Err(ConfigError::InvalidRegistry {
                    name,
                    value: entry.to_owned(),
                }),
            }
        })
        .collect()
}

/// Parses an http(s) base URL such as `MQUERY_DOCKER_HUB_MIRROR`.
pub fn parse_base_url(name: &'static str, value: &str) -> Result<Url, ConfigError> {
    let invalid = || ConfigError::InvalidUrl {
        name,
        value: value.to_owned(),
    };
    let url = Url::parse(value.trim()).map_err(|_| invalid())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid());
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`client_config_from`] over an environment of these variables.
    fn from_vars(vars: &[(&str, &str)]) -> Result<ClientConfig, ConfigError> {
        client_config_from(|name| {
            vars.iter()
                .find(|(var, _)| *var == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    #[test]
    fn insecure_registries() {
        assert_eq!(
            parse_insecure_registries(
                "X",
                " localhost:5000, 127.0.0.1:8080,[::1]:5000,,reg.local "
            ),
            Ok(vec![
                "localhost:5000".into(),
                "127.0.0.1:8080".into(),
                "[::1]:5000".into(),
                "reg.local".into()
            ])
        );
        assert_eq!(parse_insecure_registries("X", ""), Ok(vec![]));
        assert_eq!(
            parse_insecure_registries("X", "Registry.LAN:5000"),
            Ok(vec!["registry.lan:5000".into()])
        );
        assert_eq!(
            parse_insecure_registries("X", "http://localhost:5000"),
            Err(ConfigError::InvalidRegistry {
                name: "X",
                value: "http://localhost:5000".into()
            })
        );
        assert!(parse_insecure_registries("X", "host:port").is_err());
        assert!(parse_insecure_registries("X", "a/b").is_err());
    }

    #[test]
    fn shared_client_settings() {
        let config = from_vars(&[
            ("MQUERY_INSECURE_REGISTRIES", "localhost:5000"),
            ("MQUERY_PRIVATE_REGISTRIES", "127.0.0.1:5443, registry.lan"),
            ("MQUERY_CA_FILE", "  "),
        ])
        .expect("valid");
        assert_eq!(config.insecure_registries, ["localhost:5000"]);
        assert_eq!(
            config.private_registries,
            ["127.0.0.1:5443", "registry.lan"]
        );
        assert!(config.extra_roots.is_empty());
        let err = from_vars(&[("MQUERY_PRIVATE_REGISTRIES", "https://x")])
            .expect_err("a URL is not host[:port]");
        assert_eq!(
            err,
            ConfigError::InvalidRegistry {
                name: "MQUERY_PRIVATE_REGISTRIES",
                value: "https://x".into()
            }
        );
        let err =
            from_vars(&[("MQUERY_CA_FILE", "/nonexistent/ca.pem")]).expect_err("a missing CA file");
        assert!(
            err.to_string()
                .starts_with("MQUERY_CA_FILE: cannot read /nonexistent/ca.pem: "),
            "{err}"
        );
    }

    #[test]
    fn docker_hub_credentials_come_in_pairs_and_never_print() {
        let config = from_vars(&[
            ("MQUERY_DOCKER_HUB_USERNAME", "mquery-bot"),
            ("MQUERY_DOCKER_HUB_TOKEN", "dckr_pat_secret"),
            ("MQUERY_DOCKER_HUB_FALLBACK", "https://mirror.gcr.io"),
        ])
        .expect("valid");
        let credentials = config.docker_hub_credentials.expect("set");
        assert_eq!(credentials.username(), "mquery-bot");
        let printed = format!("{credentials:?}");
        assert!(!printed.contains("dckr_pat_secret"), "{printed}");
        assert!(printed.contains("<redacted>"));
        assert_eq!(
            config.docker_hub_fallback.map(|u| u.to_string()),
            Some("https://mirror.gcr.io/".into())
        );
        assert_eq!(
            from_vars(&[("MQUERY_DOCKER_HUB_USERNAME", "someone")]).err(),
            Some(ConfigError::HalfCredentials)
        );
    }

    #[test]
    fn base_urls() {
        assert_eq!(
            parse_base_url("X", "https://mirror.gcr.io").map(|u| u.to_string()),
            Ok("https://mirror.gcr.io/".into())
        );
        assert!(parse_base_url("X", "mirror.gcr.io").is_err());
        assert!(parse_base_url("X", "ftp://mirror").is_err());
    }
}
