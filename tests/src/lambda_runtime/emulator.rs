//! cargo-lambda's Runtime API emulator and its invoke API.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use super::capture::{Captured, spawn_captured};
use super::response::Invocation;
use super::{FUNCTION_NAME, cargo_lambda, root};
use crate::{NotReady, free_port, listening, wait_for};

/// cargo-lambda's Runtime API emulator (`cargo lambda watch --only-lambda-apis`) on a free
/// loopback port. Killed on drop.
#[derive(Debug)]
pub struct Emulator {
    child: Child,
    port: u16,
    timeout: Duration,
    output: Captured,
    http: reqwest::Client,
}

impl Emulator {
    /// Starts the emulator with `function_timeout` (`--timeout`: how long an invocation waits
    /// for the function before the emulator answers 408) and waits until it listens.
    pub fn start(function_timeout: Duration) -> Emulator {
        let binary = cargo_lambda();
        let mut last_output = Vec::new();
        // a port taken between probing and binding: try another
        for _ in 0..3 {
            let port = free_port();
            // run in the workspace: it reads `cargo metadata` even when it builds nothing
            let mut command = Command::new(&binary);
            command
                .current_dir(root())
                .args(["lambda", "watch", "--only-lambda-apis", "--disable-cors"])
                .args(["--invoke-address", "127.0.0.1"])
                .args(["--invoke-port", &port.to_string()])
                .args(["--timeout", &function_timeout.as_secs().max(1).to_string()]);
            // its stdout says nothing we need; it is drained so the pipe never fills
            let (mut child, _stdout, output) = spawn_captured(&mut command, "cargo lambda watch");
            let every = Duration::from_millis(20);
            let ready = wait_for(&mut child, Duration::from_secs(30), every, || {
                listening(port).then_some(())
            });
            if ready.is_ok() {
                return Emulator {
                    child,
                    port,
                    timeout: function_timeout,
                    output,
                    http: reqwest::Client::builder()
                        .timeout(function_timeout + Duration::from_secs(10))
                        .build()
                        .expect("an HTTP client"),
                };
            }
            let _ = child.kill();
            let _ = child.wait();
            last_output = output.lines();
            assert!(
                matches!(ready, Err(NotReady::Exited(_))),
                "cargo lambda watch did not listen on {port} within 30s:\n{}",
                last_output.join("\n")
            );
        }
        panic!(
            "cargo lambda watch exited at start-up three times:\n{}",
            last_output.join("\n")
        );
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The function timeout the emulator enforces (`--timeout`).
    pub fn function_timeout(&self) -> Duration {
        self.timeout
    }

    /// The value a function on this emulator needs in `AWS_LAMBDA_RUNTIME_API`, as cargo-lambda
    /// prints it: a scheme and the `/.rt` prefix (lambda_runtime joins the API version to it).
    pub fn runtime_api(&self) -> String {
        format!("http://127.0.0.1:{}/.rt", self.port)
    }

    /// Where events are posted: the route `cargo lambda invoke` posts to.
    pub fn invoke_url(&self) -> String {
        format!(
            "http://127.0.0.1:{}/2015-03-31/functions/{FUNCTION_NAME}/invocations",
            self.port
        )
    }

    /// What the emulator printed on stderr so far (its log).
    pub fn output(&self) -> Vec<String> {
        self.output.lines()
    }

    /// Posts `event` to the invoke API and waits (bounded by the function timeout plus 10 s)
    /// for the function's answer.
    pub async fn invoke(&self, event: &str) -> Invocation {
        let started = Instant::now();
        let response = self
            .http
            .post(self.invoke_url())
            .header("content-type", "application/json")
            .body(event.to_owned())
            .send()
            .await
            .expect("the emulator answers the invocation");
        let status = response.status().as_u16();
        let payload = response.bytes().await.expect("the invocation's payload");
        Invocation {
            status,
            payload: String::from_utf8_lossy(&payload).into_owned(),
            elapsed: started.elapsed(),
        }
    }

    /// The same invocation through `cargo lambda invoke --data-file` (a new process), bounded
    /// by the function timeout plus 10 s.
    pub fn invoke_with_cli(&self, event: &str) -> Invocation {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let event_file = dir.path().join("event.json");
        std::fs::write(&event_file, event).expect("write the event file");
        let started = Instant::now();
        let mut command = Command::new(cargo_lambda());
        command
            .current_dir(root())
            .args(["lambda", "invoke", "--invoke-address", "127.0.0.1"])
            .args(["--invoke-port", &self.port.to_string()])
            .arg("--data-file")
            .arg(&event_file)
            .args(["--output-format", "json", FUNCTION_NAME]);
        let (mut child, stdout, stderr) = spawn_captured(&mut command, "cargo lambda invoke");
        let deadline = started + self.timeout + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for cargo lambda invoke") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "cargo lambda invoke did not finish within {:?}:\n{}",
                    deadline - started,
                    stderr.lines().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        // the reader threads end with the pipes; give them a moment to deliver the last lines
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            status.success(),
            "cargo lambda invoke failed with {status}:\n{}",
            stderr.lines().join("\n")
        );
        Invocation {
            status: 200,
            payload: stdout.lines().join("\n"),
            elapsed: started.elapsed(),
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
