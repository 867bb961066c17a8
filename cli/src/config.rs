//! Every environment variable the `mquery` command reads, read once into a typed struct.

use registry::ClientConfig;
use registry::client::Url;
use registry::config::{ConfigError, client_config_from, parse_base_url};

/// Lookups one `mquery` run has in flight at once.
const CLI_LOOKUPS: usize = 128;

/// The command's settings from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub client: ClientConfig,
    /// Base URL of a deployed mquery service (`MQUERY_ENDPOINT`); `None`: ask registries
    /// directly.
    pub endpoint: Option<Url>,
    /// `RUST_LOG`-style filter for diagnostics on stderr (default `warn`).
    pub log_filter: String,
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut client: ClientConfig = client_config_from(&lookup)?;
        // One person's run, not a shared service: `mquery check` of a stack whose images all
        // live on one registry (Docker Hub, usually) sends every lookup at once instead of in
        // waves of the service's bulkhead (16), without the slow start a registry not yet
        // heard from gets in the service, and a hanging registry still holds at most half of
        // the process's lookups.
        client.max_concurrent_lookups = CLI_LOOKUPS;
        client.max_lookups_per_registry = CLI_LOOKUPS / 2;
        client.slow_start = false;
        let endpoint = match lookup("MQUERY_ENDPOINT").filter(|v| !v.trim().is_empty()) {
            Some(value) => Some(parse_base_url("MQUERY_ENDPOINT", &value)?),
            None => None,
        };
        Ok(Config {
            client,
            endpoint,
            log_filter: lookup("RUST_LOG").unwrap_or_else(|| "warn".to_owned()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_values() {
        let config = Config::from_lookup(|_| None).expect("defaults");
        assert!(config.client.insecure_registries.is_empty());
        assert!(config.client.docker_hub_mirror.is_none());
        assert_eq!(config.log_filter, "warn");
        assert_eq!(config.client.max_lookups_per_registry, 64);
        assert!(!config.client.slow_start);

        let config = Config::from_lookup(|name| match name {
            "MQUERY_INSECURE_REGISTRIES" => Some("127.0.0.1:5000".into()),
            "MQUERY_DOCKER_HUB_MIRROR" => Some("http://127.0.0.1:5001".into()),
            "MQUERY_ENDPOINT" => {
                Some("https://abc.execute-api.eu-west-1.amazonaws.com/prod".into())
            }
            _ => None,
        })
        .expect("valid");
        assert_eq!(config.client.insecure_registries, vec!["127.0.0.1:5000"]);
        assert_eq!(
            config.client.docker_hub_mirror.map(|u| u.to_string()),
            Some("http://127.0.0.1:5001/".into())
        );
        assert_eq!(
            config.endpoint.map(|u| u.to_string()),
            Some("https://abc.execute-api.eu-west-1.amazonaws.com/prod".into())
        );
    }

    #[test]
    fn bad_values_are_errors() {
        for (var, value, why) in [
            ("MQUERY_DOCKER_HUB_MIRROR", "not a url", "invalid mirror"),
            (
                "MQUERY_INSECURE_REGISTRIES",
                "http://x:1",
                "invalid registry",
            ),
        ] {
            let err =
                Config::from_lookup(|name| (name == var).then(|| value.to_owned())).expect_err(why);
            assert!(err.to_string().starts_with(var), "{err}");
        }
    }
}
