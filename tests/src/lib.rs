//! The test harness: real components on free loopback ports, and a fake registry for the
//! misbehaviour a real one will not produce.
//!
//! # Layout
//!
//! - [`distribution`]: starts the CNCF distribution registry (Debian `docker-registry`) open
//!   or with `auth: token`, and counts the requests it serves from its access log.
//! - [`dynamodb`]: DynamoDB Local with the cache table of template.yaml.
//! - [`token`]: a token server of our own, issuing the ES256 JWTs distribution 2.8 verifies,
//!   over plain HTTP or TLS.
//! - [`tls`]: test CAs and serving a router over TLS with HTTP/2 by ALPN.
//! - [`proxy`]: a TCP proxy on loopback adding a one-way latency and counting connections.
//! - [`fixtures`]: pushes images and indexes over the registry HTTP API.
//! - [`process`]: the `mquery-lambda` binary as a local server on a free port; any child under
//!   an address-space limit, with its peak resident set.
//! - [`podman`]: podman and the `docker` client (through podman's API) with the settings
//!   `scripts/build-image.sh` writes, for the CLI's container image.
//! - [`lambda_runtime`]: a function binary under cargo-lambda's Runtime API emulator, its
//!   init duration, invocations, captured output and peak RSS.
//! - [`browser`]: headless Chromium driven over WebDriver, for what a person sees.
//! - [`moto`]: moto's AWS emulator (Secrets Manager) on a free port.
//! - [`fake`]: an in-process registry that misbehaves on purpose, and a server that never
//!   answers.
//! - [`attacks`]: the scanner's hostile files, and the memory and size bounds they are held to.
//! - [`helm`]: a rendered Helm chart, as the stack checks of the CLI and the service read it.
//!
//! The binary `mquery-bench-tools` (src/bin/bench_tools/) runs the benchmarks of
//! scripts/bench.sh with these pieces. The tests that use the harness live with the crates
//! they test (registry/tests, lambda/tests, cli/tests).
//!
//! Nothing here reaches beyond 127.0.0.1.

pub mod attacks;
pub mod browser;
pub mod distribution;
pub mod dynamodb;
pub mod fake;
pub mod fixtures;
pub mod helm;
pub mod lambda_runtime;
pub mod moto;
pub mod podman;
pub mod process;
pub mod proxy;
pub mod tls;
pub mod token;

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

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

/// [`client_for`] with its settings changed by `change` first.
pub fn client_with(
    insecure: &[&str],
    change: impl FnOnce(&mut registry::ClientConfig),
) -> registry::Client {
    let mut config = client_config(insecure);
    change(&mut config);
    registry::Client::new(config).expect("client builds")
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

/// Percent-encodes a query value: everything but RFC 3986's unreserved characters.
pub fn encode_query(value: &str) -> String {
    const RESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(value, RESERVED).to_string()
}

/// Asserts that a lookup failed with `code` and a message containing `text`.
pub fn assert_error(err: &registry::Error, code: &str, text: &str) {
    assert_eq!(err.code(), code, "{err}");
    assert!(err.to_string().contains(text), "{err}");
}

/// The value of header `name`, when it is there and text.
pub fn header<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Asserts what every answer about the five-platform index `image` (with `digest`) says,
/// in the service's and the CLI's JSON document.
pub fn assert_index_document(doc: &serde_json::Value, image: &str, digest: &str) {
    assert_eq!(doc["image"], image, "{doc}");
    assert_eq!(doc["reference"], image, "{doc}");
    assert_eq!(doc["digest"], digest, "{doc}");
    assert_eq!(doc["isList"], true, "{doc}");
    assert_eq!(doc["platforms"].as_array().map(Vec::len), Some(5), "{doc}");
}

/// Asserts that the CLI's text answer (`out`, for `what`) is about the five-platform index
/// `image` with `digest`: exit 0, and the first lines.
pub fn assert_index_answer(out: &std::process::Output, image: &str, digest: &str, what: &str) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{what}: {stderr}");
    let head = format!("Image: {image} (digest: {digest})\n * Manifest List: Yes");
    assert!(stdout.starts_with(&head), "{what}: {stdout}");
}

/// Why a child process was not ready: it exited, or time ran out.
#[derive(Debug)]
pub enum NotReady {
    Exited(ExitStatus),
    TimedOut(Duration),
}

impl std::fmt::Display for NotReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotReady::Exited(status) => write!(f, "exited at start-up with {status}"),
            NotReady::TimedOut(within) => write!(f, "did not start within {within:?}"),
        }
    }
}

/// Polls `ready` every `every` until it answers, for at most `within`, unless `child` exits
/// first.
pub fn wait_for<T>(
    child: &mut Child,
    within: Duration,
    every: Duration,
    mut ready: impl FnMut() -> Option<T>,
) -> Result<T, NotReady> {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(NotReady::Exited(status));
        }
        if let Some(value) = ready() {
            return Ok(value);
        }
        if Instant::now() >= deadline {
            return Err(NotReady::TimedOut(within));
        }
        std::thread::sleep(every);
    }
}

/// Waits (at most `within`) until `child` accepts connections on 127.0.0.1:`port`; panics,
/// naming it `what`, when it exits first or time runs out.
pub fn expect_listening(child: &mut Child, port: u16, within: Duration, what: &str) {
    let every = Duration::from_millis(10);
    wait_for(child, within, every, || listening(port).then_some(()))
        .unwrap_or_else(|e| panic!("{what} on port {port} {e}"));
}

/// Whether something accepts connections on 127.0.0.1:`port`.
pub fn listening(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}
