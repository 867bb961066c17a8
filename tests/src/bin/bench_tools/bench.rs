//! `mquery-bench-tools bench [--smoke]`: the benchmarks, side by side on this machine,
//! everything on 127.0.0.1 (README "Benchmarks"; BENCHMARKS.md holds the latest results and
//! the method). `scripts/bench.sh` installs wrk, skopeo, nginx, docker-registry and
//! cargo-lambda when missing, then runs this: the full run (about 7 minutes) with the release
//! profile, `--smoke` (a short run that keeps the benchmarks working in CI; its numbers mean
//! nothing) with the dev profile the test command has already built.
//!
//! 1. [`cold`] CLI lookups of a 5-platform index through a TCP proxy adding 10 ms each way in
//!    front of the real registry: mquery vs skopeo inspect --raw vs docker manifest inspect,
//!    median of alternating runs, and the registry requests each made;
//!
//! 1b. a [`stack`]: `mquery check` of a Compose file naming 50 distinct images on the same
//!    proxy, beside the slowest single cold lookup of those images and a loop of skopeo;
//! 1c. [`tls`]: HTTPS with token auth behind two latency proxies (25 ms each way): cold lookups
//!    by mquery, skopeo and the docker client, the service's new instance with and without the
//!    challenge book, and a stack, in milliseconds, round trips, connections and token requests;
//! 2. [`cached`] HTTP throughput and p50/p99 of /v1/inspect and /v1/badge with wrk, beside
//!    nginx serving the same bytes as a static file;
//! 3. process [`startup`] to first answered request, stripped binary sizes, peak RSS under load;
//! 4. [`soak`]: cached lookups for minutes with zero errors and flat memory;
//! 5. [`burst`]: distinct uncached images against a fake registry, within the concurrency cap,
//!    without memory growth;
//! 6. [`lambda_mode`], under cargo-lambda's Runtime API emulator: init (spawn to the first
//!    Runtime API `next` request) and first-invocation latency beside a hello-world lambda_http
//!    function of the same profile, and peak RSS for a cached answer and for the largest
//!    indexes the client's limits let through, against template.yaml's MemorySize.
//!
//! Fails if wrk saw any error, the concurrency cap was exceeded, memory kept growing, or a
//! Lambda invocation gave an unexpected status. Speed is reported, never asserted. Every
//! server it starts is stopped when it ends, however it ends; every command it runs has a
//! deadline.

mod burst;
mod cached;
mod cold;
mod lambda_mode;
mod processes;
mod report;
mod soak;
mod stack;
mod startup;
mod tls;
mod wrk;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use processes::{Background, wait_port};
use report::Report;

/// Where the report goes, from the workspace root.
const REPORT: &str = "target/bench/report.md";

/// How long one lookup, one check or one request of the run may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// How many times, or for how long, each part runs.
#[derive(Debug, Clone, Copy)]
struct Runs {
    cold: usize,
    wrk_secs: u64,
    soak_secs: u64,
    burst_secs: u64,
    startup: usize,
    lambda: usize,
}

impl Runs {
    const FULL: Runs = Runs {
        cold: 9,
        wrk_secs: 20,
        soak_secs: 180,
        burst_secs: 30,
        startup: 20,
        lambda: 20,
    };
    const SMOKE: Runs = Runs {
        cold: 3,
        wrk_secs: 3,
        soak_secs: 6,
        burst_secs: 3,
        startup: 3,
        lambda: 3,
    };
}

/// Runs every part; the exit code is a failure when a part could not run or a check failed.
pub fn run(smoke: bool, only: Option<String>) -> ExitCode {
    let outcome = Bench::start(smoke).and_then(|mut bench| {
        bench.only = only;
        let passed = bench.parts()?;
        println!("bench: report in {REPORT}");
        bench.report.finish()?;
        Ok(passed)
    });
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What every part uses. The background servers are stopped before the temporary directory
/// is removed (fields drop in order).
struct Bench {
    background: Background,
    /// `--only PART`: that part alone.
    only: Option<String>,
    runs: Runs,
    root: PathBuf,
    /// The directory of the binaries measured (`target/debug` or `target/release`).
    bin: PathBuf,
    report: Report,
    runtime: tokio::runtime::Runtime,
    tmp: tempfile::TempDir,
}

impl Bench {
    /// Builds the binaries of the run's profile and creates the report.
    fn start(smoke: bool) -> Result<Bench, String> {
        // the smoke run reuses the test command's debug build: it asserts no speed, so an
        // optimized build of its own would only cost CI minutes
        let (runs, profile, dir) = match smoke {
            true => (Runs::SMOKE, "dev", "debug"),
            false => (Runs::FULL, "release", "release"),
        };
        let root = mquery_tests::podman::workspace_root();
        println!("bench: building {profile} binaries");
        for targets in [
            &["--bin", "mquery", "--bin", "mquery-lambda"][..],
            &["-p", "mquery-tests", "--bin", "mquery-bench-tools"],
            &["-p", "mquery-lambda", "--example", "hello"],
        ] {
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let status = Command::new(cargo)
                .current_dir(&root)
                .args(["build", "--profile", profile, "--locked", "-q"])
                .args(targets)
                .status()
                .map_err(|e| format!("cannot run cargo: {e}"))?;
            if !status.success() {
                return Err(format!("cargo build {} failed", targets.join(" ")));
            }
        }
        // this binary is in the target directory the build used, in its own profile's folder
        let exe = std::env::current_exe().map_err(|e| format!("where am I: {e}"))?;
        let target = exe
            .parent()
            .and_then(Path::parent)
            .ok_or_else(|| format!("{} is not in a target directory", exe.display()))?;
        let bin = target.join(dir);
        let runtime = tokio::runtime::Runtime::new().map_err(|e| format!("tokio: {e}"))?;
        let tmp = tempfile::tempdir().map_err(|e| format!("a temporary directory: {e}"))?;
        let report = Report::create(&root.join(REPORT))?;
        Ok(Bench {
            background: Background::default(),
            only: None,
            runs,
            root,
            bin,
            report,
            runtime,
            tmp,
        })
    }

    /// The parts in order, then the checks: whether they all passed.
    fn parts(&mut self) -> Result<bool, String> {
        if let Some(only) = self.only.clone() {
            return self.part(&only).map(|()| true);
        }
        let registry = Registry::start(self)?;
        self.push_fixtures(registry.port, "acme/app", "v1")?;
        let proxy_port = self.latency_proxy(registry.port)?;
        cold::run(self, &registry, proxy_port)?;
        stack::run(self, &registry, proxy_port)?;
        tls::run(self)?;
        let cached = cached::run(self, &registry)?;
        startup::run(self, cached.pid)?;
        let soak = soak::run(self, &cached)?;
        let burst = burst::run(self)?;
        let lambda = lambda_mode::run(self, &registry, &cached.direct)?;

        let mut passed = lambda.passed();
        let errors = [cached.errors.as_slice(), &[soak.errors], &burst.errors].concat();
        for errors in errors {
            if errors != 0 {
                eprintln!("bench: wrk saw errors");
                passed = false;
            }
        }
        passed &= burst.within_cap();
        passed &= soak.flat();
        passed &= burst.flat();
        Ok(passed)
    }

    /// One of the lookup parts alone (`--only cold|stack|tls`), to measure a change to the
    /// registry client without the whole run.
    fn part(&mut self, name: &str) -> Result<(), String> {
        if name == "tls" {
            return tls::run(self);
        }
        let registry = Registry::start(self)?;
        self.push_fixtures(registry.port, "acme/app", "v1")?;
        let proxy_port = self.latency_proxy(registry.port)?;
        match name {
            "cold" => cold::run(self, &registry, proxy_port),
            "stack" => stack::run(self, &registry, proxy_port),
            other => Err(format!("no part {other:?}: cold, stack or tls")),
        }
    }

    fn tmp(&self) -> &Path {
        self.tmp.path()
    }

    /// A binary of the run's profile.
    fn binary(&self, name: &str) -> PathBuf {
        self.bin.join(name)
    }

    /// A command for `program`. The docker client keeps its settings in the run's temporary
    /// directory (so do the others, which read none).
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        command.env("DOCKER_CONFIG", self.tmp().join("docker"));
        command
    }

    /// Starts one of this binary's own servers (`fake-registry PORT MS`, ...) in the
    /// background on a free port, and waits until it listens: its port.
    fn helper(&mut self, server: &str, args: &[String]) -> Result<u16, String> {
        let port = mquery_tests::free_port();
        let mut command = self.command(self.binary("mquery-bench-tools"));
        command.arg(server).arg(port.to_string()).args(args);
        self.background.spawn(&mut command, server)?;
        wait_port(port)?;
        Ok(port)
    }

    /// `mquery-lambda` as a local server on a free port (`RUST_LOG=error`), its registry
    /// 127.0.0.1:`registry_port` over plain HTTP, with `envs` besides: its pid and port, once
    /// it listens.
    fn service(&mut self, registry_port: u16, envs: &[(&str, &str)]) -> Result<(u32, u16), String> {
        let port = mquery_tests::free_port();
        let mut command = self.command(self.binary("mquery-lambda"));
        command
            .env("MQUERY_LISTEN", format!("127.0.0.1:{port}"))
            .env(
                "MQUERY_INSECURE_REGISTRIES",
                format!("127.0.0.1:{registry_port}"),
            )
            .env("RUST_LOG", "error")
            .envs(envs.iter().copied());
        let pid = self.background.spawn(&mut command, "mquery-lambda")?;
        wait_port(port)?;
        Ok((pid, port))
    }

    /// A latency proxy adding 10 ms each way in front of 127.0.0.1:`upstream`: its port.
    fn latency_proxy(&mut self, upstream: u16) -> Result<u16, String> {
        self.helper("latency-proxy", &[upstream.to_string(), "10".into()])
    }

    /// Pushes the five-platform index to the registry on `port` as `repo:tag`.
    fn push_fixtures(&self, port: u16, repo: &str, tag: &str) -> Result<(), String> {
        let pusher = mquery_tests::fixtures::Pusher::new(&format!("http://127.0.0.1:{port}"), None);
        self.runtime
            .block_on(mquery_tests::fixtures::five_platform_index(
                &pusher, repo, tag,
            ));
        Ok(())
    }

    /// `GET url`: the body of a successful answer.
    fn get(&self, url: &str) -> Result<Vec<u8>, String> {
        self.runtime.block_on(async {
            let response = reqwest::Client::builder()
                .timeout(COMMAND_TIMEOUT)
                .build()
                .map_err(|e| format!("an HTTP client: {e}"))?
                .get(url)
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .map_err(|e| format!("GET {url}: {e}"))?;
            let body = response.bytes().await;
            body.map(|b| b.to_vec())
                .map_err(|e| format!("GET {url}: {e}"))
        })
    }

    /// `GET url` of a JSON document (a helper's `/stats`).
    fn get_json(&self, url: &str) -> Result<serde_json::Value, String> {
        let body = self.get(url)?;
        serde_json::from_slice(&body).map_err(|e| format!("GET {url}: {e}"))
    }
}

/// The real registry (Debian's docker-registry), its access log counting requests.
struct Registry {
    port: u16,
    pid: u32,
    access_log: PathBuf,
}

impl Registry {
    fn start(bench: &mut Bench) -> Result<Registry, String> {
        let port = mquery_tests::free_port();
        let tmp = bench.tmp();
        let config = tmp.join("registry.yml");
        processes::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: false\n\
                 storage:\n  filesystem:\n    rootdirectory: {}\n\
                 http:\n  addr: 127.0.0.1:{port}\n  secret: bench\n",
                tmp.join("registry").display()
            ),
        )?;
        let access_log = tmp.join("access.log");
        let log = std::fs::File::create(&access_log).map_err(|e| format!("access log: {e}"))?;
        let mut command = bench.command("/usr/bin/docker-registry");
        command
            .arg("serve")
            .arg(&config)
            .stdout(log)
            .stderr(Stdio::null());
        let pid = bench.background.spawn(&mut command, "docker-registry")?;
        wait_port(port)?;
        Ok(Registry {
            port,
            pid,
            access_log,
        })
    }

    /// The `GET` and `HEAD` requests of the registry API it has served so far.
    fn requests(&self) -> Result<u64, String> {
        let log = std::fs::read_to_string(&self.access_log)
            .map_err(|e| format!("{}: {e}", self.access_log.display()))?;
        let served = log
            .lines()
            .filter(|line| line.contains("\"GET /v2/") || line.contains("\"HEAD /v2/"))
            .count();
        Ok(served as u64)
    }
}
