//! Helpers for scripts/bench.sh, on loopback only:
//!
//! - `mquery-bench-tools push-fixtures BASE_URL REPO TAG`: pushes the five-platform OCI index.
//! - `mquery-bench-tools fake-registry PORT LATENCY_MS`: a registry that answers any manifest
//!   request with a two-platform index after LATENCY_MS, counting requests and the most in
//!   flight at once (`GET /stats`).
//! - `mquery-bench-tools latency-proxy PORT UPSTREAM_PORT DELAY_MS`: a TCP proxy to
//!   127.0.0.1:UPSTREAM_PORT adding DELAY_MS to every chunk in each direction.
//!
//! - `mquery-bench-tools startup BINARY RUNS`: starts BINARY (`mquery-lambda`) RUNS times on a
//!   free port and prints the milliseconds from spawn to the first answered `/healthz`
//!   (min, median, max): the Lambda cold-start proxy.
//!
//! - `mquery-bench-tools lambda-cold RUNS -- PATH BINARY [NAME=VALUE...] [-- PATH BINARY ...]`:
//!   under cargo-lambda's Runtime API emulator (`mquery_tests::lambda_runtime`), starts each
//!   BINARY RUNS times, in turns, with the Lambda environment plus NAME=VALUE. Per start it
//!   measures init (spawn to the first `GET .../runtime/invocation/next`, seen by a proxy in
//!   front of the emulator, which reports no init duration) and the first invocation (an HTTP
//!   API v2 event for PATH, posted once the function waits for it, to its answer). Prints one
//!   line per BINARY: init min, median, max, then first invocation min, median, max (ms).
//! - `mquery-bench-tools lambda-rss BINARY [NAME=VALUE...] PATH...`: one function under the
//!   emulator answers an HTTP API v2 event for each PATH in turn; prints the statuses (comma
//!   separated) and its peak RSS (VmHWM, KiB).
//! - `mquery-bench-tools big-index-registry PORT`: a registry serving the largest indexes the
//!   client's limits allow: `big/annotated` (1024 entries with annotations, just under 4 MiB)
//!   and `big/empty` (4 MiB of `{}` entries, about 1.4 million); `GET /stats` gives sizes.
//!
//! Every server stops by itself after an hour at most.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::{Method, Uri};
use axum::response::IntoResponse;
use axum::routing::get;
use mquery_tests::fake::manifest;
use registry::Digest;
use registry::manifest::media_type;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const LIFETIME: Duration = Duration::from_secs(3600);

fn usage() -> ExitCode {
    eprintln!(
        "usage: mquery-bench-tools push-fixtures BASE_URL REPO TAG\n       \
         mquery-bench-tools fake-registry PORT LATENCY_MS\n       \
         mquery-bench-tools latency-proxy PORT UPSTREAM_PORT DELAY_MS\n       \
         mquery-bench-tools startup BINARY RUNS\n       \
         mquery-bench-tools lambda-cold RUNS -- PATH BINARY [NAME=VALUE...] [-- PATH BINARY ...]\n       \
         mquery-bench-tools lambda-rss BINARY [NAME=VALUE...] PATH...\n       \
         mquery-bench-tools big-index-registry PORT"
    );
    ExitCode::from(2)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |s: &str| s.parse::<u64>().ok();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["push-fixtures", base, repo, tag] => {
            let pusher = mquery_tests::fixtures::Pusher::new(base, None);
            let (index, _) = mquery_tests::fixtures::five_platform_index(&pusher, repo, tag).await;
            println!("{}", index.digest);
            ExitCode::SUCCESS
        }
        ["fake-registry", port, latency] => match (number(port), number(latency)) {
            (Some(port), Some(latency)) => {
                bounded(fake_registry(port as u16, Duration::from_millis(latency))).await
            }
            _ => usage(),
        },
        ["latency-proxy", port, upstream, delay] => {
            match (number(port), number(upstream), number(delay)) {
                (Some(port), Some(upstream), Some(delay)) => {
                    bounded(latency_proxy(
                        port as u16,
                        upstream as u16,
                        Duration::from_millis(delay),
                    ))
                    .await
                }
                _ => usage(),
            }
        }
        ["startup", binary, runs] => match number(runs) {
            Some(runs) => startup(binary, runs as usize).await,
            None => usage(),
        },
        ["lambda-cold", runs, "--", rest @ ..] => match (number(runs), lambda_configs(rest)) {
            (Some(runs), Some(configs)) if runs > 0 => lambda_cold(runs as usize, &configs).await,
            _ => usage(),
        },
        ["lambda-rss", binary, rest @ ..] => {
            let (paths, envs): (Vec<&str>, Vec<&str>) =
                rest.iter().partition(|arg| arg.starts_with('/'));
            match env_pairs(&envs) {
                Some(envs) if !paths.is_empty() => lambda_rss(binary, &envs, &paths).await,
                _ => usage(),
            }
        }
        ["big-index-registry", port] => match number(port) {
            Some(port) => bounded(big_index_registry(port as u16)).await,
            None => usage(),
        },
        _ => usage(),
    }
}

async fn startup(binary: &str, runs: usize) -> ExitCode {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let port = mquery_tests::free_port();
        let started = std::time::Instant::now();
        let mut child = match std::process::Command::new(binary)
            .env_clear()
            .env("MQUERY_LISTEN", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(e) => {
                eprintln!("mquery-bench-tools: cannot start {binary}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
        let answered = loop {
            if started.elapsed() > Duration::from_secs(10) {
                break None;
            }
            if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)).await
                && stream.write_all(request).await.is_ok()
            {
                let mut response = [0u8; 12];
                if stream.read_exact(&mut response).await.is_ok() && response.ends_with(b"200") {
                    break Some(started.elapsed());
                }
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        };
        let _ = child.kill();
        let _ = child.wait();
        match answered {
            Some(t) => times.push(ms(t)),
            None => {
                eprintln!("mquery-bench-tools: {binary} did not answer within 10 s");
                return ExitCode::FAILURE;
            }
        }
    }
    println!("{}", spread(times));
    ExitCode::SUCCESS
}

async fn bounded(server: impl std::future::Future<Output = std::io::Result<()>>) -> ExitCode {
    match tokio::time::timeout(LIFETIME, server).await {
        Ok(Err(e)) => {
            eprintln!("mquery-bench-tools: {e}");
            ExitCode::FAILURE
        }
        _ => ExitCode::SUCCESS,
    }
}

#[derive(Default)]
struct Counters {
    requests: AtomicUsize,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

struct InFlight(Arc<Counters>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn fake_registry(port: u16, latency: Duration) -> std::io::Result<()> {
    let counters = Arc::new(Counters::default());
    let index = Arc::new(mquery_tests::fixtures::two_platform_index_body());
    let stats = Arc::clone(&counters);
    let app = Router::new()
        .route(
            "/stats",
            get(move || {
                let stats = Arc::clone(&stats);
                async move {
                    axum::Json(serde_json::json!({
                        "requests": stats.requests.load(Ordering::SeqCst),
                        "in_flight": stats.in_flight.load(Ordering::SeqCst),
                        "max_in_flight": stats.peak.load(Ordering::SeqCst),
                    }))
                }
            }),
        )
        .fallback(move |method: Method, uri: Uri| {
            let counters = Arc::clone(&counters);
            let index = Arc::clone(&index);
            async move {
                if !uri.path().contains("/manifests/") {
                    return axum::http::StatusCode::NOT_FOUND.into_response();
                }
                counters.requests.fetch_add(1, Ordering::SeqCst);
                let now = counters.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                counters.peak.fetch_max(now, Ordering::SeqCst);
                // counted out even when the client goes away mid-request and this is dropped
                let _in_flight = InFlight(Arc::clone(&counters));
                tokio::time::sleep(latency).await;
                manifest(&method, media_type::OCI_INDEX, &index)
            }
        });
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app).await
}

async fn latency_proxy(port: u16, upstream: u16, delay: Duration) -> std::io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    loop {
        let (client, _) = listener.accept().await?;
        tokio::spawn(async move {
            if let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)).await {
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::join!(
                    pipe(client_read, server_write, delay),
                    pipe(server_read, client_write, delay)
                );
            }
        });
    }
}

/// Copies `from` to `to`, holding each chunk back by `delay`.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
) {
    let mut buf = vec![0u8; 64 << 10];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                tokio::time::sleep(delay).await;
                if to.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown().await;
}

/// One function to start in `lambda-cold`: the event path, the binary, its extra environment.
struct LambdaConfig {
    path: String,
    binary: String,
    envs: Vec<(String, String)>,
}

/// `PATH BINARY [NAME=VALUE...] [-- PATH BINARY [NAME=VALUE...]]...`
fn lambda_configs(args: &[&str]) -> Option<Vec<LambdaConfig>> {
    args.split(|arg| *arg == "--")
        .map(|group| match group {
            [path, binary, envs @ ..] if path.starts_with('/') => Some(LambdaConfig {
                path: (*path).to_owned(),
                binary: (*binary).to_owned(),
                envs: env_pairs(envs)?,
            }),
            _ => None,
        })
        .collect()
}

fn env_pairs(args: &[&str]) -> Option<Vec<(String, String)>> {
    args.iter()
        .map(|arg| {
            arg.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        })
        .collect()
}

fn event_for(path_and_query: &str) -> String {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    mquery_tests::lambda_runtime::http_api_event(path, query)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// min, median, max
fn spread(mut values: Vec<f64>) -> String {
    values.sort_by(f64::total_cmp);
    format!(
        "{:.1} {:.1} {:.1}",
        values[0],
        values[values.len() / 2],
        values[values.len() - 1]
    )
}

async fn lambda_cold(runs: usize, configs: &[LambdaConfig]) -> ExitCode {
    use mquery_tests::lambda_runtime::{Emulator, Function};
    let emulator = Emulator::start(Duration::from_secs(30));
    let mut inits = vec![Vec::with_capacity(runs); configs.len()];
    let mut firsts = vec![Vec::with_capacity(runs); configs.len()];
    for _ in 0..runs {
        // in turns, so no binary always runs on a quieter machine
        for (i, config) in configs.iter().enumerate() {
            let envs: Vec<(&str, String)> = config
                .envs
                .iter()
                .map(|(k, v)| (k.as_str(), v.clone()))
                .collect();
            let mut function =
                Function::start(std::path::Path::new(&config.binary), &emulator, &envs).await;
            let init = function.wait_ready(Duration::from_secs(10)).await;
            let invocation = emulator.invoke(&event_for(&config.path)).await;
            let status = invocation.http().status;
            if status != 200 {
                eprintln!(
                    "mquery-bench-tools: {} answered {status} for {}: {}",
                    config.binary, config.path, invocation.payload
                );
                return ExitCode::FAILURE;
            }
            function.stop();
            inits[i].push(ms(init));
            firsts[i].push(ms(invocation.elapsed));
        }
    }
    for (init, first) in inits.into_iter().zip(firsts) {
        println!("{} {}", spread(init), spread(first));
    }
    ExitCode::SUCCESS
}

async fn lambda_rss(binary: &str, envs: &[(String, String)], paths: &[&str]) -> ExitCode {
    use mquery_tests::lambda_runtime::{Emulator, Function};
    let emulator = Emulator::start(Duration::from_secs(30));
    let envs: Vec<(&str, String)> = envs.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let mut function = Function::start(std::path::Path::new(binary), &emulator, &envs).await;
    function.wait_ready(Duration::from_secs(10)).await;
    let mut statuses = Vec::new();
    for path in paths {
        let invocation = emulator.invoke(&event_for(path)).await;
        if invocation.status != 200 {
            eprintln!(
                "mquery-bench-tools: the invoke API answered {} for {path}: {}",
                invocation.status, invocation.payload
            );
            return ExitCode::FAILURE;
        }
        statuses.push(invocation.http().status.to_string());
    }
    let peak = function.peak_rss_kib();
    function.stop();
    println!("{} {peak}", statuses.join(","));
    ExitCode::SUCCESS
}

const MAX_MANIFEST_BYTES: usize = 4 << 20;

/// 1024 index entries (the client's cap) with annotations long enough that the body is just
/// under 4 MiB (the client's manifest cap).
fn annotated_index() -> Vec<u8> {
    const ENTRIES: usize = 1024;
    let arches = [
        "amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64", "mips64le",
    ];
    let build = |filler: usize, extra: usize| {
        let manifests: Vec<serde_json::Value> = (0..ENTRIES)
            .map(|i| {
                let pad = filler + if i == 0 { extra } else { 0 };
                serde_json::json!({
                    "mediaType": media_type::OCI_MANIFEST,
                    "digest": Digest::sha256(format!("entry {i}").as_bytes()).as_str(),
                    "size": 1000 + i,
                    "platform": {"os": "linux", "architecture": arches[i % arches.len()],
                                 "variant": format!("v{i}")},
                    "annotations": {"org.opencontainers.image.description": "x".repeat(pad)}
                })
            })
            .collect();
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": media_type::OCI_INDEX,
            "manifests": manifests,
        }))
        .unwrap_or_default()
    };
    let bare = build(0, 0).len();
    // 64 bytes under the cap
    let room = MAX_MANIFEST_BYTES - 64 - bare;
    build(room / ENTRIES, room % ENTRIES)
}

/// An index of about 1.4 million `{}` entries filling 4 MiB: far over the entry cap, but the
/// body is within the byte cap, so the client reads and parses all of it.
fn empty_entries_index() -> Vec<u8> {
    let head = format!(
        "{{\"schemaVersion\":2,\"mediaType\":\"{}\",\"manifests\":[",
        media_type::OCI_INDEX
    );
    let entries = (MAX_MANIFEST_BYTES - head.len() - 2).div_ceil(3);
    let mut body = Vec::with_capacity(MAX_MANIFEST_BYTES);
    body.extend_from_slice(head.as_bytes());
    for i in 0..entries {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(b"{}");
    }
    body.extend_from_slice(b"]}");
    body
}

async fn big_index_registry(port: u16) -> std::io::Result<()> {
    let annotated = Arc::new(annotated_index());
    let empty = Arc::new(empty_entries_index());
    let stats = serde_json::json!({
        "annotated": {"bytes": annotated.len(), "entries": 1024},
        "empty": {"bytes": empty.len(), "entries": (empty.len() - 2) / 3},
    });
    let app = Router::new()
        .route(
            "/stats",
            get(move || {
                let stats = stats.clone();
                async move { axum::Json(stats) }
            }),
        )
        .fallback(move |method: Method, uri: Uri| {
            let body = if uri.path().starts_with("/v2/big/annotated/manifests/") {
                Some(Arc::clone(&annotated))
            } else if uri.path().starts_with("/v2/big/empty/manifests/") {
                Some(Arc::clone(&empty))
            } else {
                None
            };
            async move {
                match body {
                    Some(body) => manifest(&method, media_type::OCI_INDEX, &body),
                    None => axum::http::StatusCode::NOT_FOUND.into_response(),
                }
            }
        });
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app).await
}
