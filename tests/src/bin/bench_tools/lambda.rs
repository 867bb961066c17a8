//! Measurements of the service binary's start: as a local server (`startup`), and in Lambda
//! mode under cargo-lambda's Runtime API emulator (`lambda-cold`, `lambda-rss`). Each returns
//! what it measured, or why it could not; an error is a sentence for `mquery-bench-tools: `.

use std::fmt;
use std::path::Path;
use std::time::{Duration, Instant};

use mquery_tests::lambda_runtime::{Emulator, Function};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The min, median and max of some durations in milliseconds, each as printed: one decimal.
#[derive(Debug, Clone)]
pub struct Spread {
    pub min: String,
    pub median: String,
    pub max: String,
}

impl Spread {
    fn of(mut values: Vec<f64>) -> Spread {
        values.sort_by(f64::total_cmp);
        let one = |v: f64| format!("{v:.1}");
        Spread {
            min: one(values[0]),
            median: one(values[values.len() / 2]),
            max: one(values[values.len() - 1]),
        }
    }
}

/// `min median max`, the helper's output.
impl fmt::Display for Spread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.min, self.median, self.max)
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Starts `binary` (`mquery-lambda`) `runs` times on a free port: the milliseconds from
/// spawn to the first answered `/healthz`.
pub async fn startup(binary: &str, runs: usize) -> Result<Spread, String> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let port = mquery_tests::free_port();
        let started = Instant::now();
        let mut child = std::process::Command::new(binary)
            .env_clear()
            .env("MQUERY_LISTEN", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {binary}: {e}"))?;
        let request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
        let answered = loop {
            if started.elapsed() > Duration::from_secs(10) {
                break None;
            }
            if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)).await
                && stream.write_all(request).await.is_ok()
            {
                let mut response = [0u8; 12];
                if stream.read_exact(&mut response).await.is_ok() && response.ends_with(b"200") {
                    break Some(started.elapsed());
                }
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        };
        let _ = child.kill();
        let _ = child.wait();
        let took = answered.ok_or_else(|| format!("{binary} did not answer within 10 s"))?;
        times.push(ms(took));
    }
    Ok(Spread::of(times))
}

/// One function to start in `lambda-cold`: the event path, the binary, its extra environment.
#[derive(Debug, Clone)]
pub struct LambdaConfig {
    pub path: String,
    pub binary: String,
    pub envs: Vec<(String, String)>,
}

/// `PATH BINARY [NAME=VALUE...] [-- PATH BINARY [NAME=VALUE...]]...`
pub fn lambda_configs(args: &[&str]) -> Option<Vec<LambdaConfig>> {
    args.split(|arg| *arg == "--")
        .map(|group| match group {
            [path, binary, envs @ ..] if path.starts_with('/') => Some(LambdaConfig {
                path: (*path).to_owned(),
                binary: (*binary).to_owned(),
                envs: env_pairs(envs)?,
            }),
            _ => None,
        })
        .collect()
}

pub fn env_pairs(args: &[&str]) -> Option<Vec<(String, String)>> {
    args.iter()
        .map(|arg| {
            arg.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        })
        .collect()
}

fn event_for(path_and_query: &str) -> String {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    mquery_tests::lambda_runtime::http_api_event(path, query)
}

fn borrowed(envs: &[(String, String)]) -> Vec<(&str, String)> {
    envs.iter().map(|(k, v)| (k.as_str(), v.clone())).collect()
}

/// Under cargo-lambda's Runtime API emulator, starts each function `runs` times, in turns:
/// per function, the spread of its init (spawn to the first `GET .../runtime/invocation/next`,
/// seen by a proxy in front of the emulator) and of its first invocation (an HTTP API v2 event
/// for its path, posted once it waits for it, to its answer).
pub async fn lambda_cold(
    runs: usize,
    configs: &[LambdaConfig],
) -> Result<Vec<(Spread, Spread)>, String> {
    let emulator = Emulator::start(Duration::from_secs(30));
    let mut inits = vec![Vec::with_capacity(runs); configs.len()];
    let mut firsts = vec![Vec::with_capacity(runs); configs.len()];
    for _ in 0..runs {
        // in turns, so no binary always runs on a quieter machine
        for (i, config) in configs.iter().enumerate() {
            let envs = borrowed(&config.envs);
            let mut function = Function::start(Path::new(&config.binary), &emulator, &envs).await;
            let init = function.wait_ready(Duration::from_secs(10)).await;
            let invocation = emulator.invoke(&event_for(&config.path)).await;
            let status = invocation.http().status;
            if status != 200 {
                return Err(format!(
                    "{} answered {status} for {}: {}",
                    config.binary, config.path, invocation.payload
                ));
            }
            function.stop();
            inits[i].push(ms(init));
            firsts[i].push(ms(invocation.elapsed));
        }
    }
    Ok(inits
        .into_iter()
        .zip(firsts)
        .map(|(init, first)| (Spread::of(init), Spread::of(first)))
        .collect())
}

/// One function under the emulator answers an HTTP API v2 event for each of `paths` in turn:
/// the statuses (comma separated) and its peak RSS (VmHWM, KiB).
pub async fn lambda_rss(
    binary: &str,
    envs: &[(String, String)],
    paths: &[&str],
) -> Result<(String, u64), String> {
    let emulator = Emulator::start(Duration::from_secs(30));
    let envs = borrowed(envs);
    let mut function = Function::start(Path::new(binary), &emulator, &envs).await;
    function.wait_ready(Duration::from_secs(10)).await;
    let mut statuses = Vec::new();
    for path in paths {
        let invocation = emulator.invoke(&event_for(path)).await;
        if invocation.status != 200 {
            return Err(format!(
                "the invoke API answered {} for {path}: {}",
                invocation.status, invocation.payload
            ));
        }
        statuses.push(invocation.http().status.to_string());
    }
    let peak = function.peak_rss_kib();
    function.stop();
    Ok((statuses.join(","), peak))
}
