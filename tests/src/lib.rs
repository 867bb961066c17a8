//! The test harness: real components on free loopback ports, and a fake registry for the
//! misbehaviour a real one will not produce.
//!
//! # Layout
//!
//! - [`distribution`]: starts the CNCF distribution registry (Debian `docker-registry`) open
//!   or with `auth: token`, and counts the requests it serves from its access log.
//! - [`dynamodb`]: DynamoDB Local with the cache table of template.yaml.
//! - [`token`]: a token server of our own, issuing the ES256 JWTs distribution 2.8 verifies.
//! - [`fixtures`]: pushes images and indexes over the registry HTTP API.
//! - [`process`]: the `mquery-lambda` binary as a local server on a free port.
//! - [`podman`]: podman and the `docker` client (through podman's API) with the settings
//!   `scripts/build-image.sh` writes, for the CLI's container image.
//! - [`lambda_runtime`]: a function binary under cargo-lambda's Runtime API emulator, its
//!   init duration, invocations, captured output and peak RSS.
//! - [`browser`]: headless Chromium driven over WebDriver, for what a person sees.
//! - [`moto`]: moto's AWS emulator (Secrets Manager) on a free port.
//! - [`fake`]: an in-process registry that misbehaves on purpose, and a server that never
//!   answers.
//!
//! Nothing here reaches beyond 127.0.0.1.

pub mod browser;
pub mod distribution;
pub mod dynamodb;
pub mod fake;
pub mod fixtures;
pub mod lambda_runtime;
pub mod moto;
pub mod podman;
pub mod process;
pub mod token;

use std::net::{SocketAddr, TcpListener};

/// A free port on 127.0.0.1 for a child process to bind. The small window between dropping
/// the probe socket and the child binding is acceptable in tests; starters retry on failure.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral loopback port");
    listener
        .local_addr()
        .expect("a bound socket has an address")
        .port()
}

/// Binds an in-process server's listener on 127.0.0.1.
pub async fn bind_loopback() -> (tokio::net::TcpListener, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind an ephemeral loopback port");
    let addr = listener
        .local_addr()
        .expect("a bound socket has an address");
    (listener, addr)
}

/// A registry client for tests: plain HTTP to the given loopback hosts, short deadlines.
pub fn client_for(insecure: &[&str]) -> registry::Client {
    registry::Client::new(client_config(insecure)).expect("client builds")
}

pub fn client_config(insecure: &[&str]) -> registry::ClientConfig {
    registry::ClientConfig {
        insecure_registries: insecure.iter().map(|s| (*s).to_owned()).collect(),
        request_timeout: std::time::Duration::from_secs(5),
        lookup_timeout: std::time::Duration::from_secs(10),
        retry_backoff: std::time::Duration::from_millis(20),
        ..registry::ClientConfig::default()
    }
}

/// Percent-encodes a query value the way browsers encode form fields (all but unreserved).
pub fn encode_query(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
