//! A check of a stack on registries that never answer comes back within the check's deadline
//! (25 s, under API Gateway's 29 s), with every image a row, instead of after each lookup's
//! own timeouts one batch at a time (200 images once held the request 130 s).

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mquery_tests::process::ServiceProcess;

/// Accepts connections and never answers: what a real registry cannot be made to do.
fn silent_registry() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let host = listener.local_addr().expect("address").to_string();
    (listener, host)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stack_on_silent_registries_is_answered_within_the_deadline() {
    let (listener, host) = silent_registry();
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = Arc::clone(&stop);
    // hold every connection open, unanswered, until the check is answered (40 s at most)
    let held = std::thread::spawn(move || {
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let mut streams = Vec::new();
        let until = Instant::now() + Duration::from_secs(40);
        while Instant::now() < until && !stopped.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((stream, _)) => streams.push(stream),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        streams.len()
    });
    let binary = Path::new(env!("CARGO_BIN_EXE_mquery-lambda"));
    let server = ServiceProcess::start(binary, &[("MQUERY_INSECURE_REGISTRIES", host.clone())]);
    let file: String = (0..200).map(|i| format!("{host}/app{i}:1\n")).collect();
    let http = reqwest::Client::new();
    let started = Instant::now();
    let check = http
        .post(format!("{}/v1/check?name=images.txt", server.base_url()))
        .body(file)
        .timeout(Duration::from_secs(35))
        .send();
    let probes = async {
        // the service keeps answering while the check waits
        let mut worst = Duration::ZERO;
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let probe = Instant::now();
            let health = http
                .get(format!("{}/healthz", server.base_url()))
                .timeout(Duration::from_secs(5))
                .send()
                .await
                .expect("healthz answers");
            assert_eq!(health.status(), 200);
            worst = worst.max(probe.elapsed());
        }
        worst
    };
    let (response, worst_probe) = tokio::join!(check, probes);
    let response = response.expect("the check answers");
    let elapsed = started.elapsed();
    assert_eq!(response.status(), 200);
    let doc: serde_json::Value = response.json().await.expect("JSON");
    assert!(
        elapsed < Duration::from_secs(26),
        "answered after {elapsed:?}"
    );
    assert!(
        worst_probe < Duration::from_secs(1),
        "healthz took {worst_probe:?}"
    );
    assert_eq!(doc["status"], "error");
    assert_eq!(doc["counts"]["images"], 200);
    assert_eq!(doc["counts"]["failed"], 200);
    let images = doc["images"].as_array().expect("images");
    assert_eq!(images.len(), 200);
    for image in images {
        let code = image["error"]["code"].as_str().unwrap_or_default();
        assert!(
            matches!(code, "UPSTREAM_TIMEOUT" | "UPSTREAM_ERROR"),
            "{image}"
        );
    }
    drop(server);
    stop.store(true, Ordering::Relaxed);
    let connections = held.join().expect("the silent registry");
    eprintln!(
        "check answered in {elapsed:?}; worst healthz {worst_probe:?}; {connections} connections held"
    );
}
