//! The servers the benchmarks start, each in a process of its own: a fake registry, a latency
//! proxy and a registry of the largest indexes the client's limits allow. Each stops by itself
//! after an hour at most.

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
use tokio::net::TcpListener;

const LIFETIME: Duration = Duration::from_secs(3600);

pub async fn bounded(server: impl std::future::Future<Output = std::io::Result<()>>) -> ExitCode {
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

pub async fn fake_registry(port: u16, latency: Duration) -> std::io::Result<()> {
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

/// A latency proxy on `port` ([`mquery_tests::proxy`]: each byte delayed `delay` each way, the
/// TCP handshake's round trip included), serving until the process is ended.
pub async fn latency_proxy(port: u16, upstream: u16, delay: Duration) -> std::io::Result<()> {
    let _proxy = mquery_tests::proxy::Proxy::start_on(port, upstream, delay).await?;
    std::future::pending().await
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

pub async fn big_index_registry(port: u16) -> std::io::Result<()> {
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
