//! A service binary (`mquery-lambda`) started as a child process on a free loopback port, and
//! what a test needs to hold any child process to a memory bound: an address-space limit
//! (`prlimit --as`) and its peak resident set (`VmHWM`).

use std::io::{BufRead, BufReader, Read};
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
        ServiceProcess::spawn(Command::new(binary), envs)
    }

    /// [`ServiceProcess::start`] with the process's address space limited to `bytes`: an
    /// allocation past it fails (and aborts the process), so a request that runs away with
    /// memory fails its test instead of taking the machine's memory.
    pub fn start_with_address_space(
        binary: &Path,
        envs: &[(&str, String)],
        bytes: u64,
    ) -> ServiceProcess {
        ServiceProcess::spawn(address_space_limited(binary, bytes), envs)
    }

    fn spawn(mut command: Command, envs: &[(&str, String)]) -> ServiceProcess {
        let port = free_port();
        let mut child = command
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

    /// How it ended, if it has (never waits).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("wait for the service")
    }

    /// Its peak resident set so far, in KiB; `None` once it has exited.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        peak_rss_kib(self.child.id())
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

/// util-linux's `prlimit`, which sets a limit and then runs the program in its own process
/// (the child's pid is the program's).
fn prlimit() -> &'static Path {
    ["/usr/bin/prlimit", "/bin/prlimit"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists())
        .expect("prlimit (util-linux) is installed")
}

/// A command that runs `binary` with its address space (`RLIMIT_AS`) limited to `bytes`.
pub fn address_space_limited(binary: &Path, bytes: u64) -> Command {
    let mut command = Command::new(prlimit());
    command.arg(format!("--as={bytes}")).arg("--").arg(binary);
    command
}

/// The peak resident set (`VmHWM` of /proc/PID/status) of a running process, in KiB; `None`
/// when there is no such process or it has exited (a zombie has no memory lines).
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// What a child run by [`run_measured`] did.
#[derive(Debug)]
pub struct Measured {
    /// `None` when it was killed at the deadline.
    pub status: Option<ExitStatus>,
    /// The first [`Measured::KEPT`] bytes of its standard output.
    pub stdout: Vec<u8>,
    /// All the bytes it wrote to standard output.
    pub stdout_len: usize,
    /// The first [`Measured::KEPT`] bytes of its standard error.
    pub stderr: Vec<u8>,
    /// The highest `VmHWM` seen while it ran, in KiB (polled every 2 ms, so a peak in its last
    /// 2 ms can be missed; an address-space limit bounds what it could not show).
    pub peak_rss_kib: u64,
    pub elapsed: Duration,
}

impl Measured {
    /// How much of each output stream is kept: enough for any bounded answer, without holding
    /// a runaway one in the test's memory.
    pub const KEPT: usize = 8 << 20;
}

/// Keeps the first [`Measured::KEPT`] bytes of `stream` and counts all of them.
fn drain(mut stream: impl Read + Send + 'static) -> std::thread::JoinHandle<(Vec<u8>, usize)> {
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut total = 0;
        let mut buf = vec![0u8; 64 << 10];
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    total += n;
                    let room = Measured::KEPT.saturating_sub(kept.len()).min(n);
                    kept.extend_from_slice(&buf[..room]);
                }
            }
        }
        (kept, total)
    })
}

/// Runs `command` (standard input empty) to its end or to `deadline` (then kills it), reading
/// its outputs and polling its peak resident set meanwhile.
pub fn run_measured(mut command: Command, deadline: Duration) -> Measured {
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the command");
    let pid = child.id();
    let stdout = drain(child.stdout.take().expect("piped stdout"));
    let stderr = drain(child.stderr.take().expect("piped stderr"));
    let mut peak = 0;
    let status = loop {
        if let Some(kib) = peak_rss_kib(pid) {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().expect("wait for the command") {
            break Some(status);
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let elapsed = started.elapsed();
    let (stdout, stdout_len) = stdout.join().expect("stdout reader");
    let (stderr, _) = stderr.join().expect("stderr reader");
    Measured {
        status,
        stdout,
        stdout_len,
        stderr,
        peak_rss_kib: peak,
        elapsed,
    }
}
