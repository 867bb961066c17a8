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
//! Every server stops by itself after an hour at most.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
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
         mquery-bench-tools startup BINARY RUNS"
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
            Some(t) => times.push(t.as_secs_f64() * 1000.0),
            None => {
                eprintln!("mquery-bench-tools: {binary} did not answer within 10 s");
                return ExitCode::FAILURE;
            }
        }
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{:.1} {:.1} {:.1}",
        times[0],
        times[times.len() / 2],
        times[times.len() - 1]
    );
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
                let body = if method == Method::HEAD {
                    Vec::new()
                } else {
                    index.to_vec()
                };
                Response::builder()
                    .header("content-type", media_type::OCI_INDEX)
                    .header("docker-content-digest", Digest::sha256(&index).to_string())
                    .body(Body::from(body))
                    .unwrap_or_default()
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
