//! The benchmarks (README "Benchmarks", BENCHMARKS.md) and the helpers they use, on loopback
//! only:
//!
//! - `mquery-bench-tools bench [--smoke] [--only cold|stack|tls]`: every benchmark (or one part), writing the Markdown report to
//!   `target/bench/report.md` (the [`bench`] module; `scripts/bench.sh` installs what they
//!   need, then runs this);
//!
//! and the helpers it starts or calls, each usable on its own:
//!
//! - `mquery-bench-tools push-fixtures BASE_URL REPO TAG`: pushes the five-platform OCI index.
//! - `mquery-bench-tools fake-registry PORT LATENCY_MS`: a registry that answers any manifest
//!   request with a two-platform index after LATENCY_MS, counting requests and the most in
//!   flight at once (`GET /stats`).
//! - `mquery-bench-tools latency-proxy PORT UPSTREAM_PORT DELAY_MS`: a TCP proxy to
//!   127.0.0.1:UPSTREAM_PORT adding DELAY_MS to every chunk in each direction.
//!
//! - `mquery-bench-tools startup BINARY RUNS`: starts BINARY (`mquery-lambda`) RUNS times on a
//!   free port and prints the milliseconds from spawn to the first answered `/healthz`
//!   (min, median, max): the Lambda cold-start proxy.
//!
//! - `mquery-bench-tools lambda-cold RUNS -- PATH BINARY [NAME=VALUE...] [-- PATH BINARY ...]`:
//!   under cargo-lambda's Runtime API emulator (`mquery_tests::lambda_runtime`), starts each
//!   BINARY RUNS times, in turns, with the Lambda environment plus NAME=VALUE. Per start it
//!   measures init (spawn to the first `GET .../runtime/invocation/next`, seen by a proxy in
//!   front of the emulator, which reports no init duration) and the first invocation (an HTTP
//!   API v2 event for PATH, posted once the function waits for it, to its answer). Prints one
//!   line per BINARY: init min, median, max, then first invocation min, median, max (ms).
//! - `mquery-bench-tools lambda-rss BINARY [NAME=VALUE...] PATH...`: one function under the
//!   emulator answers an HTTP API v2 event for each PATH in turn; prints the statuses (comma
//!   separated) and its peak RSS (VmHWM, KiB).
//! - `mquery-bench-tools big-index-registry PORT`: a registry serving the largest indexes the
//!   client's limits allow: `big/annotated` (1024 entries with annotations, just under 4 MiB)
//!   and `big/empty` (4 MiB of `{}` entries, about 1.4 million); `GET /stats` gives sizes.
//!
//! Every server stops by itself after an hour at most.

mod bench;
mod lambda;
mod servers;

use std::process::ExitCode;
use std::time::Duration;

fn usage() -> ExitCode {
    eprintln!(
        "usage: mquery-bench-tools bench [--smoke] [--only cold|stack|tls]\n       \
         mquery-bench-tools push-fixtures BASE_URL REPO TAG\n       \
         mquery-bench-tools fake-registry PORT LATENCY_MS\n       \
         mquery-bench-tools latency-proxy PORT UPSTREAM_PORT DELAY_MS\n       \
         mquery-bench-tools startup BINARY RUNS\n       \
         mquery-bench-tools lambda-cold RUNS -- PATH BINARY [NAME=VALUE...] [-- PATH BINARY ...]\n       \
         mquery-bench-tools lambda-rss BINARY [NAME=VALUE...] PATH...\n       \
         mquery-bench-tools big-index-registry PORT"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        // it runs the helpers' async parts on a runtime of its own
        ["bench"] => bench::run(false, None),
        ["bench", "--smoke"] => bench::run(true, None),
        ["bench", "--only", part] => bench::run(false, Some((*part).to_owned())),
        ["bench", "--smoke", "--only", part] => bench::run(true, Some((*part).to_owned())),
        ["bench", ..] => usage(),
        helper => match tokio::runtime::Runtime::new() {
            Ok(runtime) => runtime.block_on(self::helper(helper)),
            Err(e) => {
                eprintln!("mquery-bench-tools: no tokio runtime: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

/// A measurement's outcome as the helper's output: the value on stdout, or the error.
fn printed<T: std::fmt::Display>(outcome: Result<T, String>) -> ExitCode {
    match outcome {
        Ok(value) => {
            println!("{value}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mquery-bench-tools: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn helper(args: &[&str]) -> ExitCode {
    let number = |s: &str| s.parse::<u64>().ok();
    match args {
        ["push-fixtures", base, repo, tag] => {
            let pusher = mquery_tests::fixtures::Pusher::new(base, None);
            let (index, _) = mquery_tests::fixtures::five_platform_index(&pusher, repo, tag).await;
            println!("{}", index.digest);
            ExitCode::SUCCESS
        }
        ["fake-registry", port, latency] => match (number(port), number(latency)) {
            (Some(port), Some(latency)) => {
                let latency = Duration::from_millis(latency);
                servers::bounded(servers::fake_registry(port as u16, latency)).await
            }
            _ => usage(),
        },
        ["latency-proxy", port, upstream, delay] => {
            match (number(port), number(upstream), number(delay)) {
                (Some(port), Some(upstream), Some(delay)) => {
                    servers::bounded(servers::latency_proxy(
                        port as u16,
                        upstream as u16,
                        Duration::from_millis(delay),
                    ))
                    .await
                }
                _ => usage(),
            }
        }
        ["startup", binary, runs] => match number(runs) {
            Some(runs) if runs > 0 => printed(lambda::startup(binary, runs as usize).await),
            _ => usage(),
        },
        ["lambda-cold", runs, "--", rest @ ..] => {
            match (number(runs), lambda::lambda_configs(rest)) {
                (Some(runs), Some(configs)) if runs > 0 => {
                    let lines = lambda::lambda_cold(runs as usize, &configs)
                        .await
                        .map(|cold| {
                            let lines: Vec<String> = cold
                                .iter()
                                .map(|(init, first)| format!("{init} {first}"))
                                .collect();
                            lines.join("\n")
                        });
                    printed(lines)
                }
                _ => usage(),
            }
        }
        ["lambda-rss", binary, rest @ ..] => {
            let (paths, envs): (Vec<&str>, Vec<&str>) =
                rest.iter().partition(|arg| arg.starts_with('/'));
            match lambda::env_pairs(&envs) {
                Some(envs) if !paths.is_empty() => printed(
                    lambda::lambda_rss(binary, &envs, &paths)
                        .await
                        .map(|(statuses, peak)| format!("{statuses} {peak}")),
                ),
                _ => usage(),
            }
        }
        ["big-index-registry", port] => match number(port) {
            Some(port) => servers::bounded(servers::big_index_registry(port as u16)).await,
            None => usage(),
        },
        _ => usage(),
    }
}
