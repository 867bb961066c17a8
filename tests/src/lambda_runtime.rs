//! A Lambda function under cargo-lambda's own Runtime API emulator, on loopback only.
//!
//! - [`Emulator`]: `cargo lambda watch --only-lambda-apis` on a free port (the Runtime API the
//!   function polls, and the invoke API events are posted to), with a function timeout.
//! - [`Function`]: a function binary (`mquery-lambda`, or the hello-world example) started
//!   as Lambda starts a `provided.al2023` bootstrap: a clean environment with
//!   `AWS_LAMBDA_RUNTIME_API` and the `AWS_LAMBDA_FUNCTION_*` variables lambda_runtime reads.
//!   Its stdout and stderr are captured line by line, and it is killed on drop.
//! - [`RuntimeApiProxy`]: a TCP proxy between the function and the emulator that timestamps
//!   the function's first `GET .../runtime/invocation/next`, the end of its init phase (the
//!   emulator does not report an init duration). Every [`Function`] runs behind one, so
//!   "ready" means "asked for its first event", and the init duration is measured for free.
//!
//! Events go to the emulator's invoke route, `POST /2015-03-31/functions/_/invocations`, the
//! route `cargo lambda invoke` itself posts to ([`Emulator::invoke_with_cli`] runs that
//! command for comparison). Posting from reqwest saves a process start per event (20-60 ms
//! here) and times the invocation alone.
//!
//! cargo-lambda is installed by scripts/setup-test-env.sh into `.cache/venv` (pinned in
//! scripts/requirements-ci.txt); without it everything here fails, loudly, saying so.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{NotReady, bind_loopback, free_port, listening, wait_for};

/// The function name the emulator knows without a Cargo project to build: `_`, its default
/// function. Another name leaves `cargo lambda invoke` waiting for a function that never
/// polls.
pub const FUNCTION_NAME: &str = "_";

/// The memory size the function is told it has: template.yaml's default `MemorySize`.
pub const MEMORY_SIZE_MB: u32 = 256;

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The pinned `cargo-lambda` binary. Panics, telling what to run, when it is not installed.
pub fn cargo_lambda() -> PathBuf {
    let path = root().join(".cache/venv/bin/cargo-lambda");
    assert!(
        path.exists(),
        "{} is missing: run scripts/setup-test-env.sh (it installs cargo-lambda, pinned in \
         scripts/requirements-ci.txt, into .cache/venv)",
        path.display()
    );
    path
}

/// Lines a child process wrote on one stream, collected by a thread.
#[derive(Debug, Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<String>>>);

impl Captured {
    fn collect(stream: impl Read + Send + 'static) -> Captured {
        let captured = Captured::default();
        let lines = Arc::clone(&captured.0);
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines() {
                match line {
                    Ok(line) => lines.lock().expect("captured lines lock").push(line),
                    Err(_) => break,
                }
            }
        });
        captured
    }

    pub fn lines(&self) -> Vec<String> {
        self.0.lock().expect("captured lines lock").clone()
    }
}

/// Spawns `command` (`what`, for the panic) with no stdin and its stdout and stderr captured:
/// the child, its stdout, its stderr.
fn spawn_captured(command: &mut Command, what: &str) -> (Child, Captured, Captured) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {what}: {e}"));
    let stdout = Captured::collect(child.stdout.take().expect("piped stdout"));
    let stderr = Captured::collect(child.stderr.take().expect("piped stderr"));
    (child, stdout, stderr)
}

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

/// One invocation's outcome, as the invoke API answered it.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The invoke API's own status: 200 when the function answered, 408 on its timeout.
    pub status: u16,
    /// What the function returned (for an HTTP event: lambda_http's response document).
    pub payload: String,
    /// From sending the event to the whole answer.
    pub elapsed: Duration,
}

impl Invocation {
    /// The HTTP response the function returned for an API Gateway or function-URL event.
    /// Panics, with the payload, on anything else.
    pub fn http(&self) -> HttpResponse {
        assert_eq!(
            self.status, 200,
            "the invoke API answered {}: {}",
            self.status, self.payload
        );
        HttpResponse::parse(&self.payload)
    }
}

/// An API Gateway (v1 or v2) or function-URL response document, decoded.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names in lower case; `headers` and `multiValueHeaders` merged.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    pub fn parse(payload: &str) -> HttpResponse {
        let doc: Value = serde_json::from_str(payload)
            .unwrap_or_else(|e| panic!("the function's answer is not JSON ({e}): {payload}"));
        let status = doc["statusCode"]
            .as_u64()
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or_else(|| panic!("no statusCode in {payload}"));
        let mut headers = Vec::new();
        if let Some(single) = doc["headers"].as_object() {
            for (name, value) in single {
                if let Some(value) = value.as_str() {
                    headers.push((name.to_ascii_lowercase(), value.to_owned()));
                }
            }
        }
        if let Some(multi) = doc["multiValueHeaders"].as_object() {
            for (name, values) in multi {
                let name = name.to_ascii_lowercase();
                for value in values.as_array().into_iter().flatten() {
                    if let Some(value) = value.as_str()
                        && !headers.iter().any(|(n, v)| *n == name && v == value)
                    {
                        headers.push((name.clone(), value.to_owned()));
                    }
                }
            }
        }
        let body = doc["body"].as_str().unwrap_or("");
        let body = if doc["isBase64Encoded"] == true {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(body)
                .unwrap_or_else(|e| panic!("a base64 body that is not base64 ({e}): {payload}"));
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            body.to_owned()
        };
        HttpResponse {
            status,
            headers,
            body,
        }
    }

    /// The first value of header `name` (any case), or "".
    pub fn header(&self, name: &str) -> &str {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("the body is not JSON ({e}): {}", self.body))
    }
}

/// A loopback TCP proxy in front of the emulator's Runtime API that records when the first
/// `GET .../runtime/invocation/next` passed through. Stops when dropped.
#[derive(Debug)]
pub struct RuntimeApiProxy {
    addr: SocketAddr,
    first_next: Arc<Mutex<Option<Instant>>>,
    task: tokio::task::JoinHandle<()>,
}

const NEXT_REQUEST: &[u8] = b"/2018-06-01/runtime/invocation/next";

impl RuntimeApiProxy {
    /// Proxies 127.0.0.1:(a free port) to 127.0.0.1:`upstream`. Needs a tokio runtime.
    pub async fn start(upstream: u16) -> RuntimeApiProxy {
        let (listener, addr) = bind_loopback().await;
        let first_next = Arc::new(Mutex::new(None));
        let seen = Arc::clone(&first_next);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let seen = Arc::clone(&seen);
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                    else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    tokio::join!(
                        pipe(client_read, server_write, Some(seen)),
                        pipe(server_read, client_write, None)
                    );
                });
            }
        });
        RuntimeApiProxy {
            addr,
            first_next,
            task,
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// When the first `next` request arrived, if one did.
    pub fn first_next(&self) -> Option<Instant> {
        *self.first_next.lock().expect("first next lock")
    }
}

impl Drop for RuntimeApiProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Copies `from` to `to`; with `seen`, records the arrival of the first chunk that starts a
/// `GET` of the Runtime API's `next` route.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    seen: Option<Arc<Mutex<Option<Instant>>>>,
) {
    let mut buf = vec![0u8; 64 << 10];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if let Some(seen) = &seen {
                    let chunk = &buf[..n];
                    if chunk.starts_with(b"GET ")
                        && chunk.split(|b| *b == b'\n').next().is_some_and(|line| {
                            line.windows(NEXT_REQUEST.len()).any(|w| w == NEXT_REQUEST)
                        })
                    {
                        let now = Instant::now();
                        seen.lock().expect("first next lock").get_or_insert(now);
                    }
                }
                if to.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown().await;
}

/// A function process on an [`Emulator`], behind its own [`RuntimeApiProxy`]. Killed on drop.
#[derive(Debug)]
pub struct Function {
    child: Child,
    started: Instant,
    proxy: RuntimeApiProxy,
    stdout: Captured,
    stderr: Captured,
}

impl Function {
    /// Starts `binary` as Lambda would: a clean environment holding only the Runtime API
    /// address and the `AWS_LAMBDA_FUNCTION_*` variables (name `_`, memory 256 MB as in
    /// template.yaml, version `$LATEST`), plus `envs`. Returns at once; see
    /// [`Function::wait_ready`].
    pub async fn start(binary: &Path, emulator: &Emulator, envs: &[(&str, String)]) -> Function {
        Function::start_under(&[], binary, emulator, envs).await
    }

    /// [`Function::start`] with at most `bytes` of address space (`prlimit --as`), as a
    /// memory-limited Lambda instance: an allocation past it fails, and the process aborts.
    pub async fn start_limited(
        bytes: u64,
        binary: &Path,
        emulator: &Emulator,
        envs: &[(&str, String)],
    ) -> Function {
        let limit = format!("--as={bytes}");
        Function::start_under(&["prlimit", &limit, "--"], binary, emulator, envs).await
    }

    /// Starts `binary` through `wrapper` (a command that execs its arguments, so the pid stays
    /// the function's), or directly when `wrapper` is empty.
    async fn start_under(
        wrapper: &[&str],
        binary: &Path,
        emulator: &Emulator,
        envs: &[(&str, String)],
    ) -> Function {
        assert!(
            binary.exists(),
            "{} does not exist: build it first",
            binary.display()
        );
        let proxy = RuntimeApiProxy::start(emulator.port()).await;
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(binary);
                command
            }
            None => Command::new(binary),
        };
        command
            .env_clear()
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://127.0.0.1:{}/.rt", proxy.port()),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", FUNCTION_NAME)
            .env(
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                MEMORY_SIZE_MB.to_string(),
            )
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .envs(envs.iter().map(|(k, v)| (k, v)));
        let started = Instant::now();
        let (child, stdout, stderr) = spawn_captured(&mut command, &binary.display().to_string());
        Function {
            child,
            started,
            proxy,
            stdout,
            stderr,
        }
    }

    /// Waits (at most `within`) until the function asks the Runtime API for its first event,
    /// and returns the time from spawning it to that request: its init duration. Panics, with
    /// its output, if it exits or does not ask in time.
    pub async fn wait_ready(&mut self, within: Duration) -> Duration {
        let deadline = self.started + within;
        loop {
            if let Some(at) = self.proxy.first_next() {
                return at - self.started;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "the function exited during init with {status}:\n{}",
                    self.output().join("\n")
                );
            }
            assert!(
                Instant::now() < deadline,
                "the function did not ask for an event within {within:?}:\n{}",
                self.output().join("\n")
            );
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its peak resident set so far (`VmHWM` of /proc/PID/status), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("the function's /proc status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("a VmHWM line")
    }

    /// Lines written on stdout so far.
    pub fn stdout(&self) -> Vec<String> {
        self.stdout.lines()
    }

    /// Lines written on stderr so far.
    pub fn stderr(&self) -> Vec<String> {
        self.stderr.lines()
    }

    /// Everything written so far, stdout then stderr.
    pub fn output(&self) -> Vec<String> {
        let mut lines = self.stdout();
        lines.extend(self.stderr());
        lines
    }

    /// Kills the function and returns everything it wrote (the pipes drained to the end).
    pub fn stop(mut self) -> Vec<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // the reader threads see end-of-file once the process is gone
        std::thread::sleep(Duration::from_millis(50));
        self.output()
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fixture event (lambda/tests/fixtures) with its placeholders filled in: `{{IMAGE}}`,
/// `{{IMAGE_ENCODED}}` (as a browser encodes a query value) and `{{ETAG}}` (JSON-escaped).
pub fn fill_event(template: &str, image: &str, etag: &str) -> String {
    template
        .replace("{{IMAGE_ENCODED}}", &crate::encode_query(image))
        .replace("{{IMAGE}}", image)
        .replace("{{ETAG}}", &etag.replace('"', "\\\""))
}

/// A minimal API Gateway HTTP API (v2) `GET` event for `path` and `query` (already encoded),
/// for benchmarks.
pub fn http_api_event(path: &str, query: &str) -> String {
    let params: serde_json::Map<String, Value> = form_pairs(query)
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"accept": "application/json", "host": "bench.execute-api.local"},
        "queryStringParameters": params,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "domainName": "bench.execute-api.local",
            "domainPrefix": "bench",
            "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": "mquery-bench"},
            "requestId": "bench",
            "routeKey": "$default",
            "stage": "$default",
            "time": "22/Nov/2026:19:00:00 +0000",
            "timeEpoch": 1795374000000u64
        },
        "isBase64Encoded": false
    })
    .to_string()
}

/// `a=b&c=d` -> pairs, percent-decoded.
fn form_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok());
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
