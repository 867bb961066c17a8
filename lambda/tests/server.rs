//! The real `mquery-lambda` binary as a local server on a free port, against the real
//! registry: start-up, answers over a socket, configuration errors, graceful shutdown.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mquery_tests::distribution::Distribution;
use mquery_tests::fixtures::{Pusher, five_platform_index};
use mquery_tests::free_port;

struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(envs: &[(&str, String)]) -> Server {
        let port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_mquery-lambda"));
        command
            .env_clear()
            .env("MQUERY_LISTEN", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in envs {
            command.env(k, v);
        }
        let child = command.spawn().expect("start mquery-lambda");
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("mquery-lambda did not listen on {port}");
    }

    fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "no exit within 10s of SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn serves_then_shuts_down_gracefully() {
    let registry = Distribution::start_open();
    let pusher = Pusher::new(&registry.base_url(), None);
    let (index, _) = five_platform_index(&pusher, "acme/app", "v1").await;
    let server = Server::start(&[("MQUERY_INSECURE_REGISTRIES", registry.host())]);
    let http = reqwest::Client::new();

    let health = http
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);

    let image = format!("{}/acme/app:v1", registry.host());
    let response = http
        .get(format!("{}/v1/inspect", server.base))
        .query(&[("image", &image)])
        .send()
        .await
        .expect("inspect");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("*")
    );
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
