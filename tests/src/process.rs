//! A service binary (`mquery-lambda`) started as a child process on a free loopback port.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{expect_listening, free_port};

/// A running `mquery-lambda` local server. Killed on drop.
#[derive(Debug)]
pub struct ServiceProcess {
    child: Child,
    port: u16,
    /// Its stderr, line by line (also echoed to the test's stderr).
    logs: Arc<Mutex<Vec<String>>>,
}

impl ServiceProcess {
    /// Starts `binary` with a clean environment plus `envs`, listening on a free port, and
    /// waits until it accepts connections.
    pub fn start(binary: &Path, envs: &[(&str, String)]) -> ServiceProcess {
        let port = free_port();
        let mut child = Command::new(binary)
            .env_clear()
            .env("MQUERY_LISTEN", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .envs(envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the service binary");
        let logs = Arc::new(Mutex::new(Vec::new()));
        if let Some(stderr) = child.stderr.take() {
            let logs = Arc::clone(&logs);
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    eprintln!("{line}");
                    logs.lock().expect("logs lock").push(line);
                }
            });
        }
        let mut service = ServiceProcess { child, port, logs };
        let within = Duration::from_secs(10);
        expect_listening(&mut service.child, port, within, "the service");
        service
    }

    /// `GET /v1/inspect?image=IMAGE`, with a client of its own.
    pub async fn inspect(&self, image: &str) -> reqwest::Response {
        self.inspect_with(&reqwest::Client::new(), image).await
    }

    /// `GET /v1/inspect?image=IMAGE` with `http`.
    pub async fn inspect_with(&self, http: &reqwest::Client, image: &str) -> reqwest::Response {
        let query = crate::encode_query(image);
        http.get(format!("{}/v1/inspect?image={query}", self.base_url()))
            .send()
            .await
            .expect("the service answers")
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What the service has logged so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().expect("logs lock").clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits (at most 10 s) for the exit status.
    pub fn terminate(mut self) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the service") {
                return status;
            }
            assert!(Instant::now() < deadline, "no exit within 10s of SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
