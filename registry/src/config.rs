//! The registry client's settings. Binaries read the environment (each in its own `config`
//! module) and use the parsers here, so a bad value is an error at start-up, never a silent
//! fallback.

use std::time::Duration;

use reqwest::Url;

use crate::reference::Reference;

/// Why a configuration value is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{name}: {value:?} is not a registry host[:port]")]
    InvalidRegistry { name: &'static str, value: String },
    #[error("{name}: {value:?} is not an http(s) URL")]
    InvalidUrl { name: &'static str, value: String },
}

/// Settings of a [`crate::Client`]. `Default` is what production uses.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `host[:port]` entries reached over plain HTTP (local registries).
    pub insecure_registries: Vec<String>,
    /// Used instead of `https://registry-1.docker.io` for `docker.io` references.
    pub docker_hub_mirror: Option<Url>,
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
    /// How many (registry, repository) tokens are kept.
    pub token_cache_capacity: usize,
    pub user_agent: String,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            insecure_registries: Vec::new(),
            docker_hub_mirror: None,
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
            token_cache_capacity: 4096,
            user_agent: concat!("mquery/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// Parses `MQUERY_INSECURE_REGISTRIES`: a comma list of `host[:port]`.
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
                Ok(r) if r.domain() == entry => Ok(entry.to_owned()),
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
    fn base_urls() {
        assert_eq!(
            parse_base_url("X", "https://mirror.gcr.io").map(|u| u.to_string()),
            Ok("https://mirror.gcr.io/".into())
        );
        assert!(parse_base_url("X", "mirror.gcr.io").is_err());
        assert!(parse_base_url("X", "ftp://mirror").is_err());
    }
}
