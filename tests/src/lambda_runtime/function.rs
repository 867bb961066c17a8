//! A function binary started as Lambda starts a `provided.al2023` bootstrap.

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use super::capture::{Captured, spawn_captured};
use super::{Emulator, FUNCTION_NAME, MEMORY_SIZE_MB, RuntimeApiProxy};

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
