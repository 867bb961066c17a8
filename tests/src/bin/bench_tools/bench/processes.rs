//! The processes a benchmark starts: servers in the background (stopped when the run ends,
//! however it ends), commands run to their end within a deadline and timed, and what /proc
//! tells of a process.

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a stopped background process may take to exit before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Servers started in the background. When dropped, each gets SIGTERM (nginx's master stops
/// its workers on it; a SIGKILL would leave them behind) and is killed if it has not exited
/// within [`STOP_GRACE`].
#[derive(Debug, Default)]
pub struct Background(Vec<Child>);

impl Background {
    /// Starts `command` (`what`, for the error); its pid.
    pub fn spawn(&mut self, command: &mut Command, what: &str) -> Result<u32, String> {
        let child = command
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {what}: {e}"))?;
        let pid = child.id();
        self.0.push(child);
        Ok(pid)
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        for child in &self.0 {
            signal("-TERM", child.id());
        }
        let deadline = Instant::now() + STOP_GRACE;
        for child in &mut self.0 {
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn signal(which: &str, pid: u32) {
    let _ = Command::new("kill")
        .args([which, &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

/// Waits (at most 10 s, polling every 20 ms) until 127.0.0.1:`port` accepts connections.
pub fn wait_port(port: u16) -> Result<(), String> {
    for _ in 0..500 {
        if mquery_tests::listening(port) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!("port {port} never opened"))
}

/// Runs `command` (`what`, for the errors) to its end, killing it after `within`; how long it
/// took from just before its start to its exit, when it succeeded. The timer holds nothing but
/// the spawn and the wait: the deadline is kept by a thread started before it.
pub fn run_timed(command: &mut Command, within: Duration, what: &str) -> Result<Duration, String> {
    let watchdog = Watchdog::new(within);
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {what}: {e}"))?;
    watchdog.watch(child.id());
    let status = child.wait();
    let took = started.elapsed();
    if watchdog.finish() {
        return Err(format!("{what} did not finish within {within:?}"));
    }
    succeeded(status, what)?;
    Ok(took)
}

/// Runs `command` to its end within `within`: its standard output, when it succeeded.
pub fn output(command: &mut Command, within: Duration, what: &str) -> Result<Vec<u8>, String> {
    let watchdog = Watchdog::new(within);
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {what}: {e}"))?;
    watchdog.watch(child.id());
    let output = child.wait_with_output();
    if watchdog.finish() {
        return Err(format!("{what} did not finish within {within:?}"));
    }
    let output = output.map_err(|e| format!("{what}: {e}"))?;
    succeeded(Ok(output.status), what)?;
    Ok(output.stdout)
}

fn succeeded(status: std::io::Result<ExitStatus>, what: &str) -> Result<(), String> {
    match status {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!("{what} failed ({status})")),
        Err(e) => Err(format!("{what}: {e}")),
    }
}

/// A thread that kills the process it is told to watch once a deadline passes.
struct Watchdog {
    tell: mpsc::Sender<u32>,
    thread: std::thread::JoinHandle<bool>,
}

impl Watchdog {
    fn new(within: Duration) -> Watchdog {
        let (tell, told) = mpsc::channel::<u32>();
        let thread = std::thread::spawn(move || {
            let Ok(pid) = told.recv() else {
                return false;
            };
            // the sender is dropped when the process has exited: no message ever comes
            let expired = matches!(
                told.recv_timeout(within),
                Err(mpsc::RecvTimeoutError::Timeout)
            );
            if expired {
                signal("-KILL", pid);
            }
            expired
        });
        Watchdog { tell, thread }
    }

    fn watch(&self, pid: u32) {
        let _ = self.tell.send(pid);
    }

    /// Stops watching; whether the deadline had passed (and the process was killed).
    fn finish(self) -> bool {
        drop(self.tell);
        self.thread.join().unwrap_or(false)
    }
}

/// A `kB` line of /proc/PID/status (`VmRSS`, `VmHWM`), in KiB.
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The CPU time (user and system) process `pid` has used, in ms, from /proc/PID/stat, whose
/// times are in clock ticks of `1/hz` s.
pub fn cpu_ms(pid: u32, hz: u64) -> Result<u64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
    // the fields after the command name, which is in parentheses: state is the third field,
    // utime the 14th and stime the 15th
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let tick = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok());
    match (tick(11), tick(12)) {
        (Some(user), Some(system)) => Ok((user + system) * 1000 / hz),
        _ => Err(format!("no CPU times in /proc/{pid}/stat: {stat}")),
    }
}

/// The clock ticks per second of /proc's times (`getconf CLK_TCK`).
pub fn clock_ticks() -> Result<u64, String> {
    let out = output(
        Command::new("getconf").arg("CLK_TCK"),
        Duration::from_secs(10),
        "getconf CLK_TCK",
    )?;
    String::from_utf8_lossy(&out)
        .trim()
        .parse()
        .map_err(|e| format!("getconf CLK_TCK: {e}"))
}

/// Whether `name` is a file in one of PATH's directories.
pub fn on_path(name: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| dir.join(name).is_file())
}

/// Writes `body` to `path`, with the error naming the file.
pub fn write(path: &Path, body: impl AsRef<[u8]>) -> Result<(), String> {
    std::fs::write(path, body).map_err(|e| format!("{}: {e}", path.display()))
}
