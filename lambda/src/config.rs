//! Every environment variable `mquery-lambda` reads, read once at start-up into a typed
//! struct. A bad value is a start-up error, never a silent fallback.

use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::time::Duration;

use registry::ClientConfig;
use registry::config::{client_config_from, parse_base_url};

use crate::freshness::DEFAULT_TAG_FRESH;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_CACHE_MEMORY: u64 = 32 << 20;
/// The registry deadline must end before the Lambda timeout (template.yaml: at least 25 s),
/// so a slow registry is a 504 from us, not a killed invocation.
pub const MAX_REGISTRY_TIMEOUT_MS: u64 = 22_000;
/// Local server: connections open at once (`MQUERY_MAX_CONNECTIONS`).
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// Local server: time for a request's headers, and an idle keep-alive connection's life
/// (`MQUERY_HEADER_TIMEOUT_MS`).
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Local server: how long a response may make no write progress (the client reads nothing)
/// before its connection is closed (`MQUERY_WRITE_TIMEOUT_MS`).
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Limits of the local server's connections (`MQUERY_MAX_CONNECTIONS`,
/// `MQUERY_HEADER_TIMEOUT_MS`, `MQUERY_WRITE_TIMEOUT_MS`).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Connections open at once. At the cap a new connection takes the place of the one that
    /// has waited longest for a request's headers; when every open connection is busy with a
    /// request, it waits until one closes (and the next clients in the kernel's backlog).
    pub max_connections: usize,
    /// A request's headers must arrive within this time, and an idle keep-alive connection
    /// is closed after it: silent and slow clients cannot hold connections. Under pressure
    /// (more than 3/4 of `max_connections` open) it shrinks to
    /// [`PRESSED_HEADER_TIMEOUT`](crate::server::PRESSED_HEADER_TIMEOUT).
    pub header_timeout: Duration,
    /// A response that makes no write progress for this long (its client reads nothing) is
    /// dropped with its connection, and the memory it held freed.
    pub write_timeout: Duration,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error(transparent)]
    Registry(#[from] registry::config::ConfigError),
    #[error("MQUERY_LISTEN: {0:?} is not an address such as 127.0.0.1:8080")]
    Listen(String),
    #[error("MQUERY_CACHE_TTL: {0:?} is not a number of seconds from 1 to 86400")]
    CacheTtl(String),
    #[error("MQUERY_TABLE: {0:?} is not a DynamoDB table name (3-255 of A-Z a-z 0-9 _ - .)")]
    Table(String),
    #[error(
        "MQUERY_REGISTRY_TIMEOUT_MS: {0:?} is not a number of milliseconds from 100 to {MAX_REGISTRY_TIMEOUT_MS}"
    )]
    RegistryTimeout(String),
    #[error("MQUERY_CACHE_MEMORY_MB: {0:?} is not a number of megabytes from 1 to 4096")]
    CacheMemory(String),
    #[error(
        "MQUERY_DOCKER_HUB_SECRET_ARN and MQUERY_DOCKER_HUB_USERNAME/_TOKEN: set one or the other"
    )]
    TwoDockerHubAccounts,
    #[error("MQUERY_MAX_CONNECTIONS: {0:?} is not a number from 1 to 65536")]
    MaxConnections(String),
    #[error("MQUERY_HEADER_TIMEOUT_MS: {0:?} is not a number of milliseconds from 100 to 60000")]
    HeaderTimeout(String),
    #[error("MQUERY_WRITE_TIMEOUT_MS: {0:?} is not a number of milliseconds from 100 to 60000")]
    WriteTimeout(String),
}

/// The service's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the local server listens (`MQUERY_LISTEN`).
    pub listen: SocketAddr,
    /// DynamoDB table of the second cache tier (`MQUERY_TABLE`); `None`: memory only.
    pub table: Option<String>,
    /// DynamoDB endpoint instead of AWS's (`AWS_ENDPOINT_URL_DYNAMODB`, e.g. DynamoDB Local).
    pub dynamodb_endpoint: Option<String>,
    /// Secrets Manager secret holding the operator's Docker Hub account
    /// (`MQUERY_DOCKER_HUB_SECRET_ARN`), read at start-up.
    pub docker_hub_secret_arn: Option<String>,
    /// Secrets Manager endpoint instead of AWS's (`AWS_ENDPOINT_URL_SECRETS_MANAGER`).
    pub secrets_endpoint: Option<String>,
    /// How long a tag's answer stays fresh (`MQUERY_CACHE_TTL`, seconds; default
    /// [`DEFAULT_TAG_FRESH`]).
    pub cache_ttl: Duration,
    /// Memory the in-process cache may use, in bytes (`MQUERY_CACHE_MEMORY_MB`, default 32).
    pub cache_memory: u64,
    /// Registry client settings: the variables of [`client_config_from`], and
    /// `MQUERY_REGISTRY_TIMEOUT_MS`.
    pub client: ClientConfig,
    /// The local server's connection cap, header/idle timeout and write timeout.
    pub connections: ConnectionLimits,
    /// Running inside AWS Lambda (`AWS_LAMBDA_RUNTIME_API` is set).
    pub lambda: bool,
    /// `RUST_LOG` filter (default `info`).
    pub log_filter: String,
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let listen = match get("MQUERY_LISTEN") {
            Some(v) => v.trim().parse().map_err(|_| ConfigError::Listen(v))?,
            None => DEFAULT_LISTEN
                .parse()
                .map_err(|_| ConfigError::Listen(DEFAULT_LISTEN.into()))?,
        };
        let cache_ttl = number_in(get("MQUERY_CACHE_TTL"), 1..=86_400, ConfigError::CacheTtl)?
            .map_or(DEFAULT_TAG_FRESH, Duration::from_secs);
        let table = match get("MQUERY_TABLE") {
            Some(v) if is_table_name(v.trim()) => Some(v.trim().to_owned()),
            Some(v) => return Err(ConfigError::Table(v)),
            None => None,
        };
        let cache_memory = number_in(
            get("MQUERY_CACHE_MEMORY_MB"),
            1..=4096,
            ConfigError::CacheMemory,
        )?
        .map_or(DEFAULT_CACHE_MEMORY, |mb: u64| mb << 20);
        let max_connections = number_in(
            get("MQUERY_MAX_CONNECTIONS"),
            1..=65_536,
            ConfigError::MaxConnections,
        )?
        .unwrap_or(DEFAULT_MAX_CONNECTIONS);
        let header_timeout = number_in(
            get("MQUERY_HEADER_TIMEOUT_MS"),
            100..=60_000,
            ConfigError::HeaderTimeout,
        )?
        .map_or(DEFAULT_HEADER_TIMEOUT, Duration::from_millis);
        let write_timeout = number_in(
            get("MQUERY_WRITE_TIMEOUT_MS"),
            100..=60_000,
            ConfigError::WriteTimeout,
        )?
        .map_or(DEFAULT_WRITE_TIMEOUT, Duration::from_millis);
        let mut client: ClientConfig = client_config_from(&lookup)?;
        if let Some(ms) = number_in(
            get("MQUERY_REGISTRY_TIMEOUT_MS"),
            100..=MAX_REGISTRY_TIMEOUT_MS,
            ConfigError::RegistryTimeout,
        )? {
            client.lookup_timeout = Duration::from_millis(ms);
            client.request_timeout = client.request_timeout.min(client.lookup_timeout);
            client.connect_timeout = client.connect_timeout.min(client.lookup_timeout);
        }
        let dynamodb_endpoint = match get("AWS_ENDPOINT_URL_DYNAMODB") {
            Some(v) => Some(
                parse_base_url("AWS_ENDPOINT_URL_DYNAMODB", &v)?
                    .as_str()
                    .trim_end_matches('/')
                    .to_owned(),
            ),
            None => None,
        };
        let docker_hub_secret_arn =
            get("MQUERY_DOCKER_HUB_SECRET_ARN").map(|v| v.trim().to_owned());
        if docker_hub_secret_arn.is_some() && client.docker_hub_credentials.is_some() {
            return Err(ConfigError::TwoDockerHubAccounts);
        }
        let secrets_endpoint = match get("AWS_ENDPOINT_URL_SECRETS_MANAGER") {
            Some(v) => Some(
                parse_base_url("AWS_ENDPOINT_URL_SECRETS_MANAGER", &v)?
                    .as_str()
                    .trim_end_matches('/')
                    .to_owned(),
            ),
            None => None,
        };
        Ok(Config {
            docker_hub_secret_arn,
            secrets_endpoint,
            listen,
            table,
            dynamodb_endpoint,
            cache_memory,
            cache_ttl,
            client,
            connections: ConnectionLimits {
                max_connections,
                header_timeout,
                write_timeout,
            },
            lambda: get("AWS_LAMBDA_RUNTIME_API").is_some(),
            log_filter: get("RUST_LOG").unwrap_or_else(|| "info".to_owned()),
        })
    }
}

/// A setting that is a number in `range`: `None` when unset, the number when it parses and
/// lies in the range, else the error `invalid` makes of the value as it was written.
fn number_in<T: FromStr + PartialOrd>(
    value: Option<String>,
    range: RangeInclusive<T>,
    invalid: fn(String) -> ConfigError,
) -> Result<Option<T>, ConfigError> {
    let Some(value) = value else {
        return Ok(None);
    };
    match value.trim().parse::<T>() {
        Ok(n) if range.contains(&n) => Ok(Some(n)),
        _ => Err(invalid(value)),
    }
}

fn is_table_name(s: &str) -> bool {
    (3..=255).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(move |name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults_are_local_and_memory_only() {
        let c = config(&[]).expect("defaults");
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.table, None);
        assert_eq!(c.cache_ttl, DEFAULT_TAG_FRESH);
        assert_eq!(c.connections.max_connections, DEFAULT_MAX_CONNECTIONS);
        assert_eq!(c.connections.header_timeout, DEFAULT_HEADER_TIMEOUT);
        assert_eq!(c.connections.write_timeout, DEFAULT_WRITE_TIMEOUT);
        assert!(!c.lambda);
    }

    #[test]
    fn values_are_read() {
        let c = config(&[
            ("MQUERY_LISTEN", "127.0.0.1:9999"),
            ("MQUERY_TABLE", "mquery-cache"),
            ("MQUERY_CACHE_TTL", "60"),
            ("MQUERY_INSECURE_REGISTRIES", "127.0.0.1:5000"),
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
        ])
        .expect("valid");
        assert_eq!(c.listen.port(), 9999);
        assert_eq!(c.table.as_deref(), Some("mquery-cache"));
        assert_eq!(c.cache_ttl, Duration::from_secs(60));
        assert_eq!(c.client.insecure_registries, ["127.0.0.1:5000"]);
        assert!(c.lambda);
    }

    #[test]
    fn registry_deadline_ends_before_the_lambda_timeout() {
        let c = config(&[]).expect("defaults");
        assert!(c.client.request_timeout <= c.client.lookup_timeout);
        let template = include_str!("../../template.yaml");
        let timeout = template
            .split("\n  Timeout:\n")
            .nth(1)
            .expect("a Timeout parameter");
        let min: u64 = timeout
            .lines()
            .find_map(|l| l.trim().strip_prefix("MinValue:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("Timeout has a MinValue");
        // leave the service a second to answer after the registry deadline
        assert!(MAX_REGISTRY_TIMEOUT_MS + 1000 < min * 1000);
        assert!(c.client.lookup_timeout.as_millis() as u64 <= MAX_REGISTRY_TIMEOUT_MS);

        let c = config(&[("MQUERY_REGISTRY_TIMEOUT_MS", "500")]).expect("valid");
        assert_eq!(c.client.lookup_timeout, Duration::from_millis(500));
        assert_eq!(c.client.request_timeout, Duration::from_millis(500));
        assert_eq!(
            config(&[("MQUERY_REGISTRY_TIMEOUT_MS", "30000")]).err(),
            Some(ConfigError::RegistryTimeout("30000".into()))
        );
    }

    #[test]
    fn a_number_setting_is_trimmed_bounded_inclusively_and_quoted_as_written() {
        let memory = |v: Option<&str>| {
            number_in(v.map(str::to_owned), 1..=4096_u64, ConfigError::CacheMemory)
        };
        assert_eq!(memory(None), Ok(None));
        assert_eq!(memory(Some(" 4096 ")), Ok(Some(4096)));
        assert_eq!(memory(Some("1")), Ok(Some(1)));
        assert_eq!(
            memory(Some(" 4097")),
            Err(ConfigError::CacheMemory(" 4097".into()))
        );
        assert_eq!(
            memory(Some("-1")),
            Err(ConfigError::CacheMemory("-1".into()))
        );
        let c = config(&[("MQUERY_CACHE_MEMORY_MB", " 64 ")]).expect("valid");
        assert_eq!(c.cache_memory, 64 << 20);
    }

    #[test]
    fn bad_values_are_errors() {
        assert_eq!(
            config(&[("MQUERY_LISTEN", "localhost")]).err(),
            Some(ConfigError::Listen("localhost".into()))
        );
        assert_eq!(
            config(&[("MQUERY_CACHE_TTL", "0")]).err(),
            Some(ConfigError::CacheTtl("0".into()))
        );
        assert_eq!(
            config(&[("MQUERY_CACHE_TTL", "5m")]).err(),
            Some(ConfigError::CacheTtl("5m".into()))
        );
        assert_eq!(
            config(&[("MQUERY_CACHE_MEMORY_MB", "0")]).err(),
            Some(ConfigError::CacheMemory("0".into()))
        );
        assert_eq!(
            config(&[("MQUERY_TABLE", "a b")]).err(),
            Some(ConfigError::Table("a b".into()))
        );
        assert_eq!(
            config(&[
                ("MQUERY_DOCKER_HUB_SECRET_ARN", "arn:aws:secretsmanager:x"),
                ("MQUERY_DOCKER_HUB_USERNAME", "u"),
                ("MQUERY_DOCKER_HUB_TOKEN", "t"),
            ])
            .err(),
            Some(ConfigError::TwoDockerHubAccounts)
        );
        assert_eq!(
            config(&[("MQUERY_MAX_CONNECTIONS", "0")]).err(),
            Some(ConfigError::MaxConnections("0".into()))
        );
        assert_eq!(
            config(&[("MQUERY_HEADER_TIMEOUT_MS", "10")]).err(),
            Some(ConfigError::HeaderTimeout("10".into()))
        );
        assert_eq!(
            config(&[("MQUERY_WRITE_TIMEOUT_MS", "61000")]).err(),
            Some(ConfigError::WriteTimeout("61000".into()))
        );
        let c = config(&[
            ("MQUERY_MAX_CONNECTIONS", "8"),
            ("MQUERY_HEADER_TIMEOUT_MS", "500"),
            ("MQUERY_WRITE_TIMEOUT_MS", "1500"),
        ])
        .expect("valid");
        assert_eq!(c.connections.max_connections, 8);
        assert_eq!(c.connections.header_timeout, Duration::from_millis(500));
        assert_eq!(c.connections.write_timeout, Duration::from_millis(1500));
        assert!(matches!(
            config(&[("MQUERY_DOCKER_HUB_MIRROR", "nope")]),
            Err(ConfigError::Registry(_))
        ));
    }
}
