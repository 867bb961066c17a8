//! The real `mquery-lambda` binary as a local server on a free port, against the real
//! registry: start-up, answers over a socket, configuration errors, graceful shutdown.

use std::path::Path;
use std::process::Command;

use mquery_tests::fixtures::{APP, open_with_app};
use mquery_tests::process::ServiceProcess;

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_mquery-lambda"))
}

#[tokio::test(flavor = "multi_thread")]
async fn serves_then_shuts_down_gracefully() {
    let (registry, index) = open_with_app().await;
    let server = ServiceProcess::start(binary(), &[registry.insecure_env()]);
    let http = reqwest::Client::new();

    let health = http
        .get(format!("{}/healthz", server.base_url()))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);

    let response = server.inspect_with(&http, &registry.image(APP)).await;
    assert_eq!(response.status(), 200);
    let allowed = mquery_tests::header(response.headers(), "access-control-allow-origin");
    assert_eq!(allowed, Some("*"));
    let doc: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(doc["digest"], index.digest.as_str());
    assert_eq!(doc["platforms"].as_array().map(Vec::len), Some(5));

    let status = server.terminate();
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
}

#[test]
fn bad_configuration_is_a_start_up_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_mquery-lambda"))
        .env_clear()
        .env("MQUERY_CACHE_TTL", "soon")
        .output()
        .expect("run mquery-lambda");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("MQUERY_CACHE_TTL"), "{stderr}");
}

mod connections {
    //! Silent, slow and idle clients cannot hold the local server's connections, and the
    //! number of connections is capped (issue 11, failure 2).

    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::{Duration, Instant};

    use mquery_tests::process::ServiceProcess;

    const TIMEOUT_MS: u64 = 600;

    fn server(max_connections: usize) -> ServiceProcess {
        ServiceProcess::start(
            super::binary(),
            &[
                ("MQUERY_HEADER_TIMEOUT_MS", TIMEOUT_MS.to_string()),
                ("MQUERY_MAX_CONNECTIONS", max_connections.to_string()),
            ],
        )
    }

    fn connect(server: &ServiceProcess) -> TcpStream {
        let addr = server.base_url().trim_start_matches("http://").to_owned();
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("read timeout");
        stream
    }

    /// Reads until the server closes the connection; returns what it sent and when it closed.
    fn read_until_closed(stream: &mut TcpStream, since: Instant) -> (String, Duration) {
        let mut received = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
                Err(e) => panic!("the server did not close the connection: {e}"),
            }
        }
        (
            String::from_utf8_lossy(&received).into_owned(),
            since.elapsed(),
        )
    }

    fn assert_closed_at_the_timeout(elapsed: Duration) {
        let timeout = Duration::from_millis(TIMEOUT_MS);
        assert!(
            elapsed >= timeout - Duration::from_millis(50) && elapsed < timeout * 3,
            "closed after {elapsed:?}, the timeout is {timeout:?}"
        );
    }

    #[test]
    fn a_silent_connection_is_closed_at_the_header_timeout() {
        let server = server(64);
        let started = Instant::now();
        let mut stream = connect(&server);
        let (received, elapsed) = read_until_closed(&mut stream, started);
        assert_closed_at_the_timeout(elapsed);
        // hyper answers a header timeout with 408 or just closes; either way nothing else
        assert!(
            received.is_empty() || received.starts_with("HTTP/1.1 408"),
            "{received:?}"
        );
    }

    #[test]
    fn headers_sent_a_byte_at_a_time_are_cut_off() {
        let server = server(64);
        let mut stream = connect(&server);
        let started = Instant::now();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .expect("write");
        let mut closed = false;
        for _ in 0..40 {
            std::thread::sleep(Duration::from_millis(50));
            if stream.write_all(b"X").is_err() {
                closed = true;
                break;
            }
        }
        let (received, elapsed) = read_until_closed(&mut stream, started);
        assert!(closed || !received.contains("200 OK"), "{received:?}");
        assert_closed_at_the_timeout(elapsed);
    }

    #[test]
    fn an_idle_keep_alive_connection_is_closed() {
        let server = server(64);
        let mut stream = connect(&server);
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("write");
        let mut buf = [0u8; 4096];
        let n = stream.read(&mut buf).expect("response");
        assert!(buf[..n].starts_with(b"HTTP/1.1 200 OK"));
        let answered = Instant::now();
        let (_, elapsed) = read_until_closed(&mut stream, answered);
        assert_closed_at_the_timeout(elapsed);
    }

    /// At the cap a new client is not left in the backlog: the connection that has waited
    /// longest for its headers is closed to make room (lambda/tests/overload.rs holds the cap
    /// against busy connections and slow-header attacks).
    #[test]
    fn at_the_cap_the_longest_waiting_connection_makes_room() {
        let server = server(4);
        let started = Instant::now();
        let mut silent: Vec<TcpStream> = Vec::new();
        for _ in 0..4 {
            silent.push(connect(&server));
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut fifth = connect(&server);
        fifth
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .expect("write");
        let (received, _) = read_until_closed(&mut fifth, started);
        let answered = started.elapsed();
        assert!(received.starts_with("HTTP/1.1 200 OK"), "{received:?}");
        // long before the header timeout would have freed a slot
        assert!(
            answered < Duration::from_millis(TIMEOUT_MS / 2),
            "answered after {answered:?}"
        );
        // the oldest silent connection was closed, the next one is still open
        read_until_closed(&mut silent[0], started);
        assert!(started.elapsed() < Duration::from_millis(TIMEOUT_MS / 2));
        silent[1]
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("read timeout");
        let mut buf = [0u8; 16];
        let still_open = matches!(
            silent[1].read(&mut buf),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut)
        );
        assert!(still_open, "the second-oldest connection was closed too");
        assert!(started.elapsed() < Duration::from_millis(TIMEOUT_MS - 100));
    }
}
